//! What a report rendering produced and why it failed: [`ReportSummary`],
//! [`ArtifactFailure`], [`ReportError`], and [`write_atomic`], the one way report files are
//! written. A leaf: it imports nothing else of `report`.

use checker::Validity;
use std::io;
use std::path::{Path, PathBuf};

/// One artifact (plot, page section) that could not be produced; the rest of the report
/// was still written and the failure is shown in the page.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ArtifactFailure {
    /// File name or section name, e.g. `latency-raw.png` or `timeline`.
    pub artifact: String,
    pub message: String,
}

/// What [`render_run`] wrote.
#[derive(Debug, Clone)]
pub struct ReportSummary {
    /// The run directory.
    pub dir: PathBuf,
    /// `dir/report.html`.
    pub html: PathBuf,
    /// The combined verdict read from `results.json`.
    pub valid: Validity,
    /// History events read (lines of `history.jsonl`, torn last line excluded).
    pub events: u64,
    /// Every file written, `report.html` included.
    pub written: Vec<PathBuf>,
    /// Artifacts that failed; the page records them too.
    pub failures: Vec<ArtifactFailure>,
    /// Non-fatal notes (a torn last history line, caps that were applied, ...).
    pub warnings: Vec<String>,
}

/// Why a report could not be written at all.
#[derive(Debug, thiserror::Error)]
pub enum ReportError {
    /// A required input is missing or unreadable, or an output cannot be written.
    #[error("{}: {source}", path.display())]
    Io { path: PathBuf, source: io::Error },
    /// An input is malformed; `line` is 1-based when known.
    #[error("{}{}: {message}", path.display(), line.map(|l| format!(":{l}")).unwrap_or_default())]
    BadInput {
        path: PathBuf,
        line: Option<u64>,
        message: String,
    },
}

/// Write `bytes` to `path` via a temporary file and a rename, so readers never see a
/// half-written file.
pub(crate) fn write_atomic(path: &Path, bytes: &[u8]) -> Result<(), ReportError> {
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let tmp = path.with_file_name(format!(".{name}.tmp"));
    std::fs::write(&tmp, bytes)
        .and_then(|()| std::fs::rename(&tmp, path))
        .map_err(|source| {
            let _ = std::fs::remove_file(&tmp);
            ReportError::Io {
                path: path.to_path_buf(),
                source,
            }
        })
}
