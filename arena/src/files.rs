//! Small file helpers: atomic writes, so a run killed mid-write never leaves a half file.

use std::path::Path;

use anyhow::{Context, Result};

/// Writes `data` to `path` through a temporary file in the same folder and a rename.
pub fn write_atomically(path: &Path, data: &[u8]) -> Result<()> {
    let folder = path.parent().filter(|p| !p.as_os_str().is_empty()).unwrap_or(Path::new("."));
    std::fs::create_dir_all(folder).with_context(|| format!("cannot create {}", folder.display()))?;
    let name = path.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
    let temporary = folder.join(format!(".{name}.partial"));
    std::fs::write(&temporary, data).with_context(|| format!("cannot write {}", temporary.display()))?;
    std::fs::rename(&temporary, path).with_context(|| format!("cannot move {} into place", path.display()))?;
    Ok(())
}
