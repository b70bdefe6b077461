//! The run directory and its conventions: `run.json` (the config and thread count it was started
//! with), `arena.db` (the store), `checkpoints/NAME/`, `datasets/gen-N.safetensors`,
//! `generations/gen-N.json`, `lineage.json` and `lineage.dot`. Every artifact is written
//! atomically; a resumed run skips the steps whose artifacts exist.

use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use super::config::EvolveConfig;
use super::summary::GenerationSummary;
use crate::error::{Context, Error, Result, bail, read_text};
use crate::files::write_atomically;

/// The file that marks a run directory and records how the run was started.
pub const RECORD_FILE: &str = "run.json";

/// The run's state file: the config and the thread count it was started with.
#[derive(Serialize, Deserialize)]
struct RunRecord {
    config: EvolveConfig,
    threads: usize,
}

/// A run directory.
#[derive(Clone, Debug)]
pub struct RunDir {
    dir: PathBuf,
}

impl RunDir {
    /// The directory of the run called `name` under `root` (`runs/NAME`). A name is a plain
    /// name: not empty, no path separator, not `.` or `..`, no control character — so a run can
    /// neither write into `root` itself nor outside it.
    pub fn named(root: &Path, name: &str) -> Result<PathBuf> {
        let problem = if name.trim().is_empty() {
            Some("it is empty")
        } else if name == "." || name == ".." {
            Some("it names a directory, not a run")
        } else if name.contains(['/', '\\']) {
            Some("it holds a path separator")
        } else if name.chars().any(char::is_control) {
            Some("it holds a control character")
        } else {
            None
        };
        match problem {
            Some(problem) => bail!(
                "run name {name:?}: {problem}; a run name is a plain name such as `c4-big` \
                 (give a path with --run DIR instead)"
            ),
            None => Ok(root.join(name)),
        }
    }

    /// The run directory at `dir`, without checking it.
    pub fn at(dir: &Path) -> Self {
        RunDir { dir: dir.to_path_buf() }
    }

    /// Starts a run in `dir`, or with `resume` continues the one there (same config required).
    pub fn open(dir: &Path, config: &EvolveConfig, threads: usize, resume: bool) -> Result<RunDir> {
        let record_path = dir.join(RECORD_FILE);
        if record_path.exists() {
            if !resume {
                bail!(
                    "run directory {} holds a run already: continue it with --resume, or choose another --name",
                    dir.display()
                );
            }
            let text = read_text(&record_path)?;
            let record: RunRecord =
                serde_json::from_str(&text).with_context(|| format!("run record {}", record_path.display()))?;
            if &record.config != config {
                bail!(
                    "--resume: {} was started with another config; resume it with the same settings\nstored: {}\nasked:  {}",
                    record_path.display(),
                    serde_json::to_string(&record.config)?,
                    serde_json::to_string(config)?
                );
            }
        } else if resume {
            bail!(
                "--resume: no run to resume in {} (it has no {RECORD_FILE}); start the run without --resume",
                dir.display()
            );
        } else {
            std::fs::create_dir_all(dir).map_err(|e| Error::io("cannot create run directory", dir, e))?;
            let record = RunRecord { config: config.clone(), threads };
            write_atomically(&record_path, serde_json::to_string_pretty(&record)?.as_bytes())?;
        }
        Ok(RunDir::at(dir))
    }

    pub fn path(&self) -> &Path {
        &self.dir
    }

    /// A checkpoint's directory, relative to the run directory (as the lineage records it).
    pub fn checkpoint_relative(name: &str) -> String {
        format!("checkpoints/{name}")
    }

    pub fn checkpoint_dir(&self, name: &str) -> PathBuf {
        self.dir.join(Self::checkpoint_relative(name))
    }

    /// A generation's dataset, relative to the run directory.
    pub fn dataset_relative(generation: u32) -> String {
        format!("datasets/gen-{generation}.safetensors")
    }

    pub fn dataset_path(&self, generation: u32) -> PathBuf {
        self.dir.join(Self::dataset_relative(generation))
    }

    /// The run's store.
    pub fn db(&self) -> PathBuf {
        self.dir.join("arena.db")
    }

    fn summary_path(&self, generation: u32) -> PathBuf {
        self.dir.join("generations").join(format!("gen-{generation}.json"))
    }

    /// A generation's summary, if that generation is done.
    pub fn summary(&self, generation: u32) -> Result<Option<GenerationSummary>> {
        let path = self.summary_path(generation);
        if !path.exists() {
            return Ok(None);
        }
        let text = read_text(&path)?;
        Ok(Some(serde_json::from_str(&text).with_context(|| format!("generation summary {}", path.display()))?))
    }

    pub fn save_summary(&self, summary: &GenerationSummary) -> Result<()> {
        write_atomically(&self.summary_path(summary.generation), serde_json::to_string_pretty(summary)?.as_bytes())
    }
}
