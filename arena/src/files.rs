//! Small file helpers: atomic writes, so a run killed mid-write never leaves a half file.

use std::path::Path;

use crate::error::{Error, Result};

/// Writes `data` to `path` through a temporary file in the same folder and a rename.
pub fn write_atomically(path: &Path, data: &[u8]) -> Result<()> {
    let folder = path.parent().filter(|p| !p.as_os_str().is_empty()).unwrap_or(Path::new("."));
    std::fs::create_dir_all(folder).map_err(|e| Error::io("cannot create", folder, e))?;
    let name = path.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
    let temporary = folder.join(format!(".{name}.partial"));
    std::fs::write(&temporary, data).map_err(|e| Error::io("cannot write", &temporary, e))?;
    std::fs::rename(&temporary, path).map_err(|e| Error::io("cannot move into place", path, e))?;
    Ok(())
}
