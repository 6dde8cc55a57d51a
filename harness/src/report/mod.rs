//! Human reports: `report.html` per run, PNG/SVG plots with fault periods shaded, the
//! operation timeline, the counterexample view, and `results/index.html`.
//!
//! Public entry points (called by `harness test`, `analyze` and `check --report`):
//! - [`render_run`]: reads `dir/history.jsonl`, `dir/results.json` and the optional
//!   `dir/test.json`, writes `dir/report.html` and the plots next to it.
//! - [`render_index`]: writes `store_root/index.html` listing every run, newest first.
//!
//! Submodules, one concern each: [`escape`] (the one HTML escaping function), `load`
//! (streaming history reader into compact per-call records), `faults` (fault intervals
//! from nemesis events), `plots` (plotters PNG/SVG), `timeline` (SVG timeline per process),
//! `counterexample` (the drawn counterexample), `page` (report.html assembly), `index`
//! (the store index).

pub mod escape;

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

/// Render the report of one run directory. See the module doc for inputs and outputs.
pub fn render_run(dir: &Path) -> Result<ReportSummary, ReportError> {
    let results_path = dir.join("results.json");
    let text = std::fs::read_to_string(&results_path).map_err(|source| ReportError::Io {
        path: results_path.clone(),
        source,
    })?;
    let results: serde_json::Value =
        serde_json::from_str(&text).map_err(|e| ReportError::BadInput {
            path: results_path.clone(),
            line: Some(e.line() as u64),
            message: e.to_string(),
        })?;
    let valid = results
        .get("valid")
        .and_then(|v| serde_json::from_value::<Validity>(v.clone()).ok())
        .unwrap_or(Validity::Unknown);
    let html = dir.join("report.html");
    let page = format!(
        "<!DOCTYPE html><html><head><meta charset=\"utf-8\"><title>report</title></head><body><h1>{}</h1></body></html>\n",
        escape::html(&valid.to_string())
    );
    std::fs::write(&html, page).map_err(|source| ReportError::Io {
        path: html.clone(),
        source,
    })?;
    Ok(ReportSummary {
        dir: dir.to_path_buf(),
        html: html.clone(),
        valid,
        events: 0,
        written: vec![html],
        failures: Vec::new(),
        warnings: vec!["report rendering is not complete yet".into()],
    })
}

/// Write `store_root/index.html` listing every run under the store, newest first.
pub fn render_index(store_root: &Path) -> Result<(), ReportError> {
    let path = store_root.join("index.html");
    std::fs::write(&path, "<!DOCTYPE html><html><head><meta charset=\"utf-8\"><title>runs</title></head><body></body></html>\n")
        .map_err(|source| ReportError::Io { path, source })
}
