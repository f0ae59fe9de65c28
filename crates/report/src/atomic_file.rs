//! Atomic publication of single files into an existing directory that holds other results
//! (e.g. `results/`), where [`super::output_dir::OutputDir`] would replace the whole directory.
//! Files are written into a hidden staging directory inside the destination (same file system)
//! and each is renamed into place on [`StagedFiles::commit`]; nothing partial is ever visible.

use std::path::{Path, PathBuf};

use super::ReportError;

/// A staging directory whose files replace same-named files in `dest` on commit.
pub struct StagedFiles {
    dest: PathBuf,
    staging: tempfile::TempDir,
}

impl StagedFiles {
    /// Creates `dest` if needed and a staging directory inside it.
    pub fn create(dest: &Path) -> Result<Self, ReportError> {
        std::fs::create_dir_all(dest).map_err(|e| ReportError::io(dest, e))?;
        let staging = tempfile::Builder::new()
            .prefix(".leaklab-staging-")
            .tempdir_in(dest)
            .map_err(|e| ReportError::io(dest, e))?;
        Ok(Self {
            dest: dest.to_path_buf(),
            staging,
        })
    }

    /// Where to write the files now.
    pub fn path(&self) -> &Path {
        self.staging.path()
    }

    /// Renames every staged file into `dest` (each rename is atomic) and removes the staging
    /// directory. Returns the published paths.
    pub fn commit(self) -> Result<Vec<PathBuf>, ReportError> {
        let staged = self.staging.path();
        let entries = std::fs::read_dir(staged).map_err(|e| ReportError::io(staged, e))?;
        let mut published = Vec::new();
        for entry in entries {
            let entry = entry.map_err(|e| ReportError::io(staged, e))?;
            let target = self.dest.join(entry.file_name());
            std::fs::rename(entry.path(), &target).map_err(|e| ReportError::io(&target, e))?;
            published.push(target);
        }
        published.sort();
        Ok(published)
    }
}
