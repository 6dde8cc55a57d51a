//! I/O errors that name their path: [`PathError`] (what was being done, the path, the OS
//! error), made with `.map_err(PathError::at("reading", &path))`. The harness has no
//! conversion from a bare `std::io::Error` to its own errors, so every I/O failure a user
//! sees says which file or folder it was about.

use std::path::{Path, PathBuf};

/// An I/O error with what was being done and the path it was done to
/// (`creating results/x: Permission denied (os error 13)`).
#[derive(Debug, thiserror::Error)]
#[error("{doing} {}: {source}", .path.display())]
pub struct PathError {
    /// What was being done (`creating`, `writing`, `renaming`).
    pub doing: &'static str,
    pub path: PathBuf,
    #[source]
    pub source: std::io::Error,
}

impl PathError {
    pub fn new(doing: &'static str, path: &Path, source: std::io::Error) -> PathError {
        PathError {
            doing,
            path: path.to_path_buf(),
            source,
        }
    }

    /// A `map_err` adapter: `.map_err(PathError::at("writing", &path))`.
    pub fn at<'a>(
        doing: &'static str,
        path: &'a Path,
    ) -> impl FnOnce(std::io::Error) -> PathError + 'a {
        move |source| PathError::new(doing, path, source)
    }
}
