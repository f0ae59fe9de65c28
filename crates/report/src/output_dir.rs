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

    /// The final location.
    pub fn dest(&self) -> &Path {
        &self.dest
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
