//! Atomic publication of results: nothing partial is ever visible, and a failed or
//! interrupted run leaves what was there before. Three granularities, for three kinds of
//! destination:
//! - [`OutputDir`] replaces a whole result directory (a run, a merged sweep): everything is
//!   written into a hidden staging directory beside the destination and renamed into place when
//!   the whole run succeeded (the staging directory is removed on drop otherwise);
//! - [`StagedFiles`] replaces single files in a directory that holds other results (e.g.
//!   `results/`), where replacing the directory would delete them: files are staged in a hidden
//!   directory inside the destination (same file system) and each is renamed into place;
//! - [`write_atomic`] writes one file through a temporary file and a rename (a sweep shard's
//!   points, each finished point its own file, so an interrupted shard keeps its points).

use std::path::{Path, PathBuf};

use crate::ReportError;

/// A staging directory that becomes `dest` on [`OutputDir::commit`].
pub struct OutputDir {
    dest: PathBuf,
    staging: Option<tempfile::TempDir>,
}

impl OutputDir {
    /// Creates the staging directory beside `dest` (same file system, so the final rename is atomic).
    pub fn create(dest: &Path) -> Result<Self, ReportError> {
        // `commit` replaces a directory as a whole; it must never replace a user's file.
        if dest.exists() && !dest.is_dir() {
            return Err(ReportError::io(
                dest,
                std::io::Error::new(
                    std::io::ErrorKind::AlreadyExists,
                    "exists and is not a directory",
                ),
            ));
        }
        let parent = match dest.parent() {
            Some(p) if !p.as_os_str().is_empty() => p.to_path_buf(),
            _ => PathBuf::from("."),
        };
        std::fs::create_dir_all(&parent).map_err(|e| ReportError::io(&parent, e))?;
        let staging = tempfile::Builder::new()
            .prefix(".leaklab-staging-")
            .tempdir_in(&parent)
            .map_err(|e| ReportError::io(&parent, e))?;
        Ok(Self {
            dest: dest.to_path_buf(),
            staging: Some(staging),
        })
    }

    /// Where to write files now.
    pub fn path(&self) -> &Path {
        self.staging
            .as_ref()
            .map(|s| s.path())
            .unwrap_or(&self.dest)
    }

    /// Publishes the staged files: an existing `dest` is replaced as a whole.
    pub fn commit(mut self) -> Result<PathBuf, ReportError> {
        let Some(staging) = self.staging.take() else {
            return Ok(self.dest.clone());
        };
        if self.dest.is_dir() {
            let old = self.dest.with_extension("leaklab-old");
            let _ = std::fs::remove_dir_all(&old);
            // On failure `staging` is still owned and removes the staged files when dropped.
            std::fs::rename(&self.dest, &old).map_err(|e| ReportError::io(&self.dest, e))?;
            if let Err(e) = std::fs::rename(staging.path(), &self.dest) {
                // Put the previous results back: a failed run leaves `dest` as it was.
                let _ = std::fs::rename(&old, &self.dest);
                return Err(ReportError::io(&self.dest, e));
            }
            let _ = staging.keep();
            let _ = std::fs::remove_dir_all(&old);
        } else if self.dest.exists() {
            return Err(ReportError::io(
                &self.dest,
                std::io::Error::new(
                    std::io::ErrorKind::AlreadyExists,
                    "exists and is not a directory",
                ),
            ));
        } else {
            std::fs::rename(staging.path(), &self.dest)
                .map_err(|e| ReportError::io(&self.dest, e))?;
            let _ = staging.keep();
        }
        Ok(self.dest.clone())
    }
}

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

/// Writes `bytes` to `path` through a temporary file in the same directory and a rename.
pub(crate) fn write_atomic(path: &Path, bytes: &[u8]) -> Result<(), ReportError> {
    let dir = path.parent().unwrap_or(Path::new("."));
    let mut tmp = tempfile::Builder::new()
        .prefix(PARTIAL_PREFIX)
        .tempfile_in(dir)
        .map_err(|e| ReportError::io(dir, e))?;
    std::io::Write::write_all(&mut tmp, bytes).map_err(|e| ReportError::io(path, e))?;
    tmp.persist(path)
        .map_err(|e| ReportError::io(path, e.error))?;
    Ok(())
}

/// The name prefix of [`write_atomic`]'s temporary files (an interrupted write leaves one).
pub(crate) const PARTIAL_PREFIX: &str = ".leaklab-partial-";

#[cfg(test)]
mod tests {
    use super::*;

    fn names(dir: &Path) -> Vec<String> {
        let mut v: Vec<String> = std::fs::read_dir(dir)
            .map(|r| {
                r.filter_map(Result::ok)
                    .map(|e| e.file_name().to_string_lossy().into_owned())
                    .collect()
            })
            .unwrap_or_default();
        v.sort();
        v
    }

    #[test]
    fn never_replaces_a_file_and_leaves_no_staging() {
        let tmp = tempfile::tempdir().unwrap();
        let dest = tmp.path().join("results");
        std::fs::write(&dest, "a user's file").unwrap();
        assert!(OutputDir::create(&dest).is_err());
        assert_eq!(names(tmp.path()), ["results"]);
        // The file appears between staging and commit: still refused, staging removed.
        std::fs::remove_file(&dest).unwrap();
        let out = OutputDir::create(&dest).unwrap();
        std::fs::write(out.path().join("x.csv"), "1").unwrap();
        std::fs::write(&dest, "a user's file").unwrap();
        assert!(out.commit().is_err());
        assert_eq!(std::fs::read_to_string(&dest).unwrap(), "a user's file");
        assert_eq!(names(tmp.path()), ["results"]);
    }

    #[test]
    fn replaces_a_directory_as_a_whole() {
        let tmp = tempfile::tempdir().unwrap();
        let dest = tmp.path().join("results");
        std::fs::create_dir(&dest).unwrap();
        std::fs::write(dest.join("old.csv"), "old").unwrap();
        let out = OutputDir::create(&dest).unwrap();
        std::fs::write(out.path().join("new.csv"), "new").unwrap();
        out.commit().unwrap();
        assert_eq!(names(&dest), ["new.csv"]);
        assert_eq!(names(tmp.path()), ["results"]);
    }
}
