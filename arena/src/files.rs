//! Small file helpers: atomic writes, so a run killed mid-write never leaves a half file, and the
//! checks that keep an output from destroying an input or something that is not a plain file.

use std::os::unix::fs::{FileTypeExt, MetadataExt};
use std::path::Path;

use crate::error::{Error, Result, bail};

/// Writes `data` to `path` through a temporary file in the same folder and a rename; the
/// temporary file is removed if anything fails.
pub fn write_atomically(path: &Path, data: &[u8]) -> Result<()> {
    let folder = path.parent().filter(|p| !p.as_os_str().is_empty()).unwrap_or(Path::new("."));
    std::fs::create_dir_all(folder).map_err(|e| Error::io("cannot create", folder, e))?;
    let name = path.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
    let temporary = folder.join(format!(".{name}.partial"));
    let written = std::fs::write(&temporary, data)
        .map_err(|e| Error::io("cannot write", &temporary, e))
        .and_then(|()| std::fs::rename(&temporary, path).map_err(|e| Error::io("cannot move into place", path, e)));
    if written.is_err() {
        let _ = std::fs::remove_file(&temporary);
    }
    written
}

/// Where a command's data goes: standard output (`-`), or a file checked before any work and
/// written atomically at the end.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Output {
    Stdout,
    File(std::path::PathBuf),
}

impl Output {
    /// `-` is standard output; any other path must pass [`check_output_file`] against `inputs`.
    pub fn checked(path: &Path, inputs: &[&Path]) -> Result<Output> {
        if path.as_os_str() == "-" {
            return Ok(Output::Stdout);
        }
        check_output_file(path, inputs)?;
        Ok(Output::File(path.to_path_buf()))
    }

    pub fn is_stdout(&self) -> bool {
        *self == Output::Stdout
    }

    /// Writes `data` to `stdout` or, atomically, to the file.
    pub fn write(&self, data: &[u8], stdout: &mut dyn std::io::Write) -> Result<()> {
        match self {
            Output::Stdout => {
                stdout.write_all(data).map_err(|e| Error::io("cannot write", Path::new("standard output"), e))
            }
            Output::File(path) => write_atomically(path, data),
        }
    }
}

/// Items as JSON lines: one object per line, each line ending in a newline.
pub fn json_lines<T: serde::Serialize>(items: &[T]) -> Result<String> {
    let mut text = String::new();
    for item in items {
        text.push_str(&serde_json::to_string(item)?);
        text.push('\n');
    }
    Ok(text)
}

/// Refuses an output file that would destroy something: one of `inputs` (the same file by
/// identity — device and inode — so another spelling or a hard link is caught too; a SQLite
/// input's `-wal` and `-shm` files count as the input), or anything that is not a regular file (a
/// directory, a FIFO, a device, or a symbolic link, whose target the write would replace).
/// A path that does not exist yet is fine.
pub fn check_output_file(output: &Path, inputs: &[&Path]) -> Result<()> {
    let metadata = match std::fs::symlink_metadata(output) {
        Ok(metadata) => metadata,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(()),
        Err(e) => return Err(Error::io("cannot inspect output", output, e)),
    };
    let kind = metadata.file_type();
    let not_plain = if kind.is_symlink() {
        Some("a symbolic link (the write would replace its target); name the file itself")
    } else if kind.is_dir() {
        Some("a directory")
    } else if kind.is_fifo() {
        Some("a FIFO")
    } else if kind.is_block_device() || kind.is_char_device() {
        Some("a device")
    } else if kind.is_socket() {
        Some("a socket")
    } else {
        None
    };
    if let Some(what) = not_plain {
        bail!("output {} is {what}, not a regular file: refusing to write over it", output.display());
    }
    for input in inputs {
        let name = input.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
        let companions = [
            input.to_path_buf(),
            input.with_file_name(format!("{name}-wal")),
            input.with_file_name(format!("{name}-shm")),
        ];
        for candidate in companions {
            let Ok(other) = std::fs::metadata(&candidate) else { continue };
            if other.dev() == metadata.dev() && other.ino() == metadata.ino() {
                bail!(
                    "output {} is the input {}: writing it would destroy what is being read; choose another output",
                    output.display(),
                    candidate.display()
                );
            }
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn error(result: Result<()>) -> String {
        match result {
            Ok(()) => panic!("accepted"),
            Err(e) => e.to_string(),
        }
    }

    #[test]
    fn outputs_that_are_inputs_or_not_plain_files_are_refused() {
        let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
        let db = dir.path().join("t.db");
        std::fs::write(&db, "store").unwrap_or_else(|e| panic!("{e}"));
        std::fs::write(dir.path().join("t.db-wal"), "wal").unwrap_or_else(|e| panic!("{e}"));
        // The same file, by name, by another spelling, by a hard link; the store's WAL.
        assert!(error(check_output_file(&db, &[&db])).contains("is the input"));
        let spelled = dir.path().join(".").join("t.db");
        assert!(error(check_output_file(&spelled, &[&db])).contains("is the input"));
        let linked = dir.path().join("hard");
        std::fs::hard_link(&db, &linked).unwrap_or_else(|e| panic!("{e}"));
        assert!(error(check_output_file(&linked, &[&db])).contains("is the input"));
        assert!(error(check_output_file(&dir.path().join("t.db-wal"), &[&db])).contains("is the input"));
        // A symbolic link (to anything), a directory, a FIFO.
        let symlink = dir.path().join("link");
        std::os::unix::fs::symlink(dir.path().join("elsewhere"), &symlink).unwrap_or_else(|e| panic!("{e}"));
        assert!(error(check_output_file(&symlink, &[&db])).contains("symbolic link"));
        assert!(error(check_output_file(dir.path(), &[&db])).contains("directory"));
        let fifo = dir.path().join("fifo");
        let made = std::process::Command::new("mkfifo").arg(&fifo).status().is_ok_and(|s| s.success());
        if made {
            assert!(error(check_output_file(&fifo, &[&db])).contains("FIFO"));
        }
        assert!(error(check_output_file(Path::new("/dev/null"), &[&db])).contains("device"));
        // A new file, or another regular file, is fine.
        assert!(check_output_file(&dir.path().join("new.jsonl"), &[&db]).is_ok());
        let other = dir.path().join("old.jsonl");
        std::fs::write(&other, "x").unwrap_or_else(|e| panic!("{e}"));
        assert!(check_output_file(&other, &[&db]).is_ok());
    }

    #[test]
    fn a_failed_atomic_write_leaves_no_partial_file() {
        let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
        // The rename fails: the target is a non-empty directory.
        let target = dir.path().join("out");
        std::fs::create_dir(&target).unwrap_or_else(|e| panic!("{e}"));
        std::fs::write(target.join("inside"), "x").unwrap_or_else(|e| panic!("{e}"));
        assert!(write_atomically(&target, b"data").is_err());
        assert!(!dir.path().join(".out.partial").exists());
        write_atomically(&dir.path().join("fine"), b"data").unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(std::fs::read(dir.path().join("fine")).unwrap_or_default(), b"data");
    }
}
