//! A tournament's files by content: which files its game, agents and judges read (checkpoints,
//! language models, the game's data files), with their SHA-256, recorded when it is planned; on
//! a shared store, copies of them for workers; and on a worker, the tournament made to read files
//! with exactly those hashes — its own where they match, else the store's copies fetched into its
//! cache.

use std::collections::BTreeSet;
use std::io::BufWriter;
use std::path::{Path, PathBuf};

use agents::checkpoint::{INFO_FILE, MODEL_FILE};
use agents::llm::finetuned::{FinetuneRecord, MERGED_FILE, is_finetuned_dir};
use agents::{AgentConfig, ModelFile};
use games::Spec;

use super::{AgentEntry, TournamentConfig};
use crate::error::{Context, Error, Result, bail};
use crate::progress::Progress;
use crate::resources::Resources;
use crate::store::{AgentRow, ContentKind, FileRole, MAX_STORED_CONTENT_BYTES, Store, TournamentFile, is_sha256};

/// The files of a stored checkpoint.
const CHECKPOINT_FILES: [&str; 2] = [INFO_FILE, MODEL_FILE];

/// Every file the tournament's game, agents and judges read, with its content hash: the models
/// the agents' specs name, and the game parameters that name a file (a quiz's tasks, a debate's
/// propositions).
pub(super) fn tournament_files(resources: &Resources, config: &TournamentConfig) -> Result<Vec<TournamentFile>> {
    let mut files = Vec::new();
    let game = Spec::parse(&config.game).with_context(|| format!("game `{}`", config.game))?;
    let mut data: Vec<&str> =
        game.args.iter().map(|(_, value)| value.as_str()).filter(|v| Path::new(v).is_file()).collect();
    data.dedup();
    for path in data {
        let hash = resources
            .content_hash(ContentKind::Data, Path::new(path))
            .with_context(|| format!("game `{}`", config.game))?;
        files.push(TournamentFile {
            role: FileRole::Game,
            index: 0,
            path: path.to_string(),
            kind: ContentKind::Data,
            hash,
        });
    }
    for (role, entries) in [(FileRole::Agent, &config.agents), (FileRole::Judge, &config.judges)] {
        for (index, entry) in entries.iter().enumerate() {
            let mut seen = BTreeSet::new();
            for model in entry.agent.model_files() {
                let path = model.path().display().to_string();
                if !seen.insert(path.clone()) {
                    continue;
                }
                let kind = match model {
                    ModelFile::Checkpoint(_) => ContentKind::Checkpoint,
                    ModelFile::Language(_) => ContentKind::Model,
                    // A context is one small file, stored and fetched as data is.
                    ModelFile::Context(_) => ContentKind::Data,
                };
                let hash = resources
                    .content_hash(kind, model.path())
                    .with_context(|| format!("{} `{}`: {}", role.as_str(), entry.name, model.path().display()))?;
                files.push(TournamentFile { role, index, path, kind, hash });
            }
        }
    }
    Ok(files)
}

/// The files of a tournament planned before they were recorded (schema 6): its checkpoint agents
/// with their weights hash.
pub(super) fn legacy_files(agents: &[AgentEntry], rows: &[AgentRow]) -> Vec<TournamentFile> {
    agents
        .iter()
        .zip(rows)
        .enumerate()
        .filter_map(|(index, (entry, row))| match (&entry.agent, &row.checkpoint_hash) {
            (AgentConfig::Checkpoint(checkpoint), Some(hash)) => Some(TournamentFile {
                role: FileRole::Agent,
                index,
                path: checkpoint.path.display().to_string(),
                kind: ContentKind::Checkpoint,
                hash: hash.clone(),
            }),
            _ => None,
        })
        .collect()
}

/// What a content's stored copy is made of: its files' names and paths here; `Err` says why it
/// cannot be stored (workers then need it at the same path).
fn stored_form(file: &TournamentFile) -> std::result::Result<Vec<(String, PathBuf)>, String> {
    let path = Path::new(&file.path);
    Ok(match file.kind {
        ContentKind::Checkpoint => CHECKPOINT_FILES.iter().map(|name| (name.to_string(), path.join(name))).collect(),
        ContentKind::Model if is_finetuned_dir(path) => {
            let record = FinetuneRecord::read(path).map_err(|e| e.to_string())?;
            match record.weights_file(path) {
                Some(weights) => vec![(MERGED_FILE.to_string(), weights)],
                None => return Err("an adapter without a merged model (merge it to share it)".to_string()),
            }
        }
        ContentKind::Model => vec![(MERGED_FILE.to_string(), path.to_path_buf())],
        ContentKind::Data => {
            let name = path.file_name().map(|n| n.to_string_lossy().into_owned()).filter(|n| is_plain_name(n));
            vec![(name.unwrap_or_else(|| "data".to_string()), path.to_path_buf())]
        }
    })
}

/// A file name a fetched copy may have: no folders, not hidden, not empty.
fn is_plain_name(name: &str) -> bool {
    !name.is_empty() && !name.starts_with('.') && !name.contains(['/', '\\'])
}

/// Puts a copy of every file of the tournament (up to the store's size limit) into a shared store,
/// so that workers without them can fetch them by their hash.
pub(super) fn share_files(store: &Store, files: &[TournamentFile], progress: &dyn Progress) -> Result<()> {
    let mut done = BTreeSet::new();
    for file in files {
        if !done.insert(file.hash.clone()) || store.has_content(&file.hash)? {
            continue;
        }
        let parts = match stored_form(file) {
            Ok(parts) => parts,
            Err(reason) => {
                progress.log(&format!("{} is {reason}: workers need it at the same path", file.path));
                continue;
            }
        };
        let mut size = 0;
        for (_, path) in &parts {
            size += std::fs::metadata(path).map_err(|e| Error::io("cannot read", path, e))?.len();
        }
        if size > MAX_STORED_CONTENT_BYTES {
            progress.log(&format!(
                "{} ({} MiB) is over the store's {} MiB for a copy: workers need it at the same path",
                file.path,
                size >> 20,
                MAX_STORED_CONTENT_BYTES >> 20
            ));
            continue;
        }
        let named: Vec<(String, &Path)> = parts.iter().map(|(name, path)| (name.clone(), path.as_path())).collect();
        store.put_content(&file.hash, &named).with_context(|| format!("storing a copy of {}", file.path))?;
    }
    Ok(())
}

/// Makes a stored tournament read, for each of its `files`, a file with the recorded hash: the
/// one at the recorded path when it has that hash, else the store's copy (fetched into `cache`
/// once, checked). Fails, naming the file, when neither is there.
pub(super) fn localize(
    resources: &Resources,
    store: &Store,
    cache: &Path,
    id: i64,
    config: &mut TournamentConfig,
    files: &[TournamentFile],
) -> Result<()> {
    for file in files {
        let recorded = Path::new(&file.path);
        let found = match resources.content_hash(file.kind, recorded) {
            Ok(hash) if hash == file.hash => continue,
            Ok(hash) => format!("{} here has SHA-256 {hash}", file.path),
            Err(error) => format!("{error:#}"),
        };
        let owner = match file.role {
            FileRole::Game => format!("the game `{}`", config.game),
            FileRole::Agent => format!("agent `{}`", config.agents.get(file.index).map_or("?", |a| a.name.as_str())),
            FileRole::Judge => format!("judge `{}`", config.judges.get(file.index).map_or("?", |a| a.name.as_str())),
        };
        let Some(copy) = fetch(store, file, cache)? else {
            bail!(
                "tournament {id}: {owner} was planned with {} of SHA-256 {}, but {found}, and the store has no copy (it \
                 keeps copies up to {} MiB): give this worker the same files",
                file.path,
                file.hash,
                MAX_STORED_CONTENT_BYTES >> 20
            );
        };
        let fetched = resources
            .content_hash(file.kind, &copy)
            .with_context(|| format!("tournament {id}: {owner}: the store's copy {}", copy.display()))?;
        if fetched != file.hash {
            bail!(
                "tournament {id}: {owner}: the copy {} has SHA-256 {fetched}, not {} (delete it to fetch it again)",
                copy.display(),
                file.hash
            );
        }
        point_at(config, file, &copy)?;
    }
    Ok(())
}

/// The tournament reading `file` from `copy` instead of its recorded path.
fn point_at(config: &mut TournamentConfig, file: &TournamentFile, copy: &Path) -> Result<()> {
    let recorded = Path::new(&file.path);
    let entry = match file.role {
        FileRole::Game => {
            let mut spec = Spec::parse(&config.game)?;
            for (_, value) in &mut spec.args {
                if *value == file.path {
                    *value = copy.display().to_string();
                }
            }
            config.game = spec.to_string();
            return Ok(());
        }
        FileRole::Agent => config.agents.get_mut(file.index),
        FileRole::Judge => config.judges.get_mut(file.index),
    };
    let Some(entry) = entry else {
        bail!("the store lists a file of {} {}, which the tournament does not have", file.role.as_str(), file.index);
    };
    entry.agent = entry.agent.with_model_file(recorded, copy);
    Ok(())
}

/// The path of the store's copy of `file` under `cache` (one folder per hash), written from the
/// store if it is not there yet; `None` when the store has no copy. The caller checks the hash.
fn fetch(store: &Store, file: &TournamentFile, cache: &Path) -> Result<Option<PathBuf>> {
    let hash = &file.hash;
    if !is_sha256(hash) {
        bail!("the store names a file's content by `{hash}`, which is not a SHA-256");
    }
    let dir = cache.join(hash);
    let path_in = |dir: &Path, names: &[String]| -> Option<PathBuf> {
        match file.kind {
            ContentKind::Checkpoint => Some(dir.to_path_buf()),
            ContentKind::Model => Some(dir.join(MERGED_FILE)),
            ContentKind::Data => names.first().map(|name| dir.join(name)),
        }
    };
    if dir.is_dir() {
        let names = listed_names(&dir)?;
        return Ok(path_in(&dir, &names));
    }
    let stored = store.content_files(hash)?;
    if stored.is_empty() {
        return Ok(None);
    }
    let names: Vec<String> = stored.iter().map(|(name, _)| name.clone()).collect();
    let expected_ok = match file.kind {
        ContentKind::Checkpoint => names.iter().all(|n| CHECKPOINT_FILES.contains(&n.as_str())),
        ContentKind::Model => names == [MERGED_FILE],
        ContentKind::Data => names.len() == 1 && is_plain_name(&names[0]),
    };
    if !expected_ok {
        bail!("the store's copy of {hash} ({}) holds unexpected files: {}", file.kind.as_str(), names.join(", "));
    }
    // Written whole into a folder of this process's own, then renamed into place.
    let partial = cache.join(format!(".{hash}.{}", std::process::id()));
    std::fs::create_dir_all(&partial).map_err(|e| Error::io("cannot create", &partial, e))?;
    for (name, parts) in &stored {
        let path = partial.join(name);
        let out = std::fs::File::create(&path).map_err(|e| Error::io("cannot write", &path, e))?;
        let mut out = BufWriter::new(out);
        store.read_content_file(hash, name, *parts, &mut out)?;
        out.into_inner()
            .map_err(|e| Error::io("cannot write", &path, e.into_error()))?
            .sync_all()
            .map_err(|e| Error::io("cannot write", &path, e))?;
    }
    if std::fs::rename(&partial, &dir).is_err() {
        // Another worker on this machine got there first.
        let _ = std::fs::remove_dir_all(&partial);
        if !dir.is_dir() {
            bail!("cannot put the copy fetched from the store into {}", dir.display());
        }
    }
    Ok(path_in(&dir, &listed_names(&dir)?))
}

/// The names of the files in a fetched copy's folder, sorted.
fn listed_names(dir: &Path) -> Result<Vec<String>> {
    let mut names = Vec::new();
    for entry in std::fs::read_dir(dir).map_err(|e| Error::io("cannot read", dir, e))? {
        let entry = entry.map_err(|e| Error::io("cannot read", dir, e))?;
        names.push(entry.file_name().to_string_lossy().into_owned());
    }
    names.sort();
    Ok(names)
}
