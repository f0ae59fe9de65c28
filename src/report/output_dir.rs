//! Atomic result directories: everything is written into a hidden staging directory next to the
//! destination and renamed into place only when the whole run succeeded. A failed or interrupted
//! run leaves no partial files in `results/` (the staging directory is removed on drop).

use std::path::{Path, PathBuf};

use super::ReportError;

/// A staging directory that becomes `dest` on [`OutputDir::commit`].
pub struct OutputDir {
    dest: PathBuf,
    staging: Option<tempfile::TempDir>,
}

impl OutputDir {
    /// Creates the staging directory beside `dest` (same file system, so the final rename is atomic).
    pub fn create(dest: &Path) -> Result<Self, ReportError> {
        let parent = match dest.parent() {
            Some(p) if !p.as_os_str().is_empty() => p.to_path_buf(),
            _ => PathBuf::from("."),
        };
        std::fs::create_dir_all(&parent).map_err(|e| ReportError::io(&parent, e))?;
        let staging = tempfile::Builder::new()
            .prefix(".leaklab-staging-")
            .tempdir_in(&parent)
            .map_err(|e| ReportError::io(&parent, e))?;
        Ok(Self { dest: dest.to_path_buf(), staging: Some(staging) })
    }

    /// Where to write files now.
    pub fn path(&self) -> &Path {
        self.staging.as_ref().map(|s| s.path()).unwrap_or(&self.dest)
    }

    /// The final location.
    pub fn dest(&self) -> &Path {
        &self.dest
    }

    /// Publishes the staged files: an existing `dest` is replaced as a whole.
    pub fn commit(mut self) -> Result<PathBuf, ReportError> {
        let Some(staging) = self.staging.take() else { return Ok(self.dest.clone()) };
        let staged = staging.keep();
        if self.dest.exists() {
            let old = self.dest.with_extension("leaklab-old");
            let _ = std::fs::remove_dir_all(&old);
            std::fs::rename(&self.dest, &old).map_err(|e| ReportError::io(&self.dest, e))?;
            std::fs::rename(&staged, &self.dest).map_err(|e| ReportError::io(&self.dest, e))?;
            let _ = std::fs::remove_dir_all(&old);
        } else {
            std::fs::rename(&staged, &self.dest).map_err(|e| ReportError::io(&self.dest, e))?;
        }
        Ok(self.dest.clone())
    }
}
