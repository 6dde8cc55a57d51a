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

mod counterexample;
pub mod escape;
mod faults;
pub mod index;
mod load;
mod page;
mod plots;
mod timeline;

pub use page::url_segment;

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

/// Calls drawn in the timeline.
pub const TIMELINE_CAP: usize = 2000;
/// Counterexamples drawn in one page.
pub const COUNTEREXAMPLE_CAP: usize = 10;

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

/// The invalid keys' counterexamples in results.json: (key text, counterexample).
fn counterexamples(results: &serde_json::Value) -> Vec<(String, &serde_json::Value)> {
    let Some(keys) = results
        .pointer("/checkers/linearizable/keys")
        .and_then(|k| k.as_array())
    else {
        return Vec::new();
    };
    keys.iter()
        .filter_map(|k| {
            let cx = k.get("counterexample")?;
            let key = match k.get("key") {
                None | Some(serde_json::Value::Null) => "(whole history)".to_string(),
                Some(v) => load::text_of(v),
            };
            Some((key, cx))
        })
        .collect()
}

/// Render the report of one run directory. See the module doc for inputs and outputs.
/// Fails only when history.jsonl or results.json cannot be read, results.json (or
/// test.json, when present) is not JSON, or report.html cannot be written; a plot that
/// fails is recorded in [`ReportSummary::failures`] and in the page.
pub fn render_run(dir: &Path) -> Result<ReportSummary, ReportError> {
    let results = load::read_json(&dir.join("results.json"), true)?.unwrap_or_default();
    let test = load::read_json(&dir.join("test.json"), false)?;
    let valid = results
        .get("valid")
        .and_then(|v| serde_json::from_value::<Validity>(v.clone()).ok())
        .unwrap_or(Validity::Unknown);
    let cxs = counterexamples(&results);
    let centre = cxs
        .first()
        .and_then(|(_, cx)| counterexample::invoke_indices(cx).into_iter().min());
    let run = load::read_history(
        &dir.join("history.jsonl"),
        load::WindowSpec {
            cap: TIMELINE_CAP,
            centre_index: centre,
        },
    )?;
    let fault_iv = faults::intervals(&run.nemesis, run.last_ns);
    let mut failures = Vec::new();
    let mut written = Vec::new();
    let mut warnings = run.warnings.clone();
    if run.untimed {
        warnings.push(
            "this history has no timestamps (every event's time is its position): times and rates \
             below count 1 ns per event"
                .into(),
        );
    }

    // Plots: each PNG and SVG independently.
    let data = plots::PlotData::new(&run, &fault_iv);
    let mut plot_parts = Vec::new();
    for kind in plots::PlotKind::ALL {
        let png = dir.join(format!("{}.png", kind.stem()));
        let (png_res, svg_res) = plots::render(kind, &data, &png);
        let png_err = match png_res {
            Ok(()) => {
                written.push(png);
                None
            }
            Err(e) => {
                failures.push(ArtifactFailure {
                    artifact: format!("{}.png", kind.stem()),
                    message: e.clone(),
                });
                Some(e)
            }
        };
        let svg_res = svg_res.and_then(|s| {
            let path = dir.join(format!("{}.svg", kind.stem()));
            write_atomic(&path, s.as_bytes()).map_err(|e| e.to_string())?;
            written.push(path);
            Ok(s)
        });
        if let Err(e) = &svg_res {
            failures.push(ArtifactFailure {
                artifact: format!("{}.svg", kind.stem()),
                message: e.clone(),
            });
        }
        plot_parts.push(page::PlotPart {
            stem: kind.stem(),
            title: kind.title(),
            svg: svg_res,
            png_error: png_err,
        });
    }

    // Timeline and counterexamples.
    let mut highlight = std::collections::HashSet::new();
    if let Some((_, cx)) = cxs.first() {
        highlight.extend(counterexample::invoke_indices(cx));
    }
    let tl = timeline::render("tl", &run, &fault_iv, &highlight);
    if tl.shown < tl.total {
        warnings.push(format!(
            "the timeline shows {} of {} operations",
            tl.shown, tl.total
        ));
    }
    let mut cx_html: Vec<String> = cxs
        .iter()
        .take(COUNTEREXAMPLE_CAP)
        .enumerate()
        .map(|(i, (key, cx))| counterexample::render(i, key, cx))
        .collect();
    if cxs.len() > COUNTEREXAMPLE_CAP {
        cx_html.push(format!(
            "<p class=\"note\">{} more invalid keys have counterexamples in results.json.</p>",
            cxs.len() - COUNTEREXAMPLE_CAP
        ));
    }
    if valid == Validity::Invalid && cxs.is_empty() {
        warnings.push("the verdict is invalid but results.json carries no linearizability counterexample (another checker failed)".into());
    }

    let html_path = dir.join("report.html");
    let page = page::render(&page::PageInput {
        dir,
        valid,
        results: &results,
        test: test.as_ref(),
        run: &run,
        faults: &fault_iv,
        plots: plot_parts,
        timeline: &tl,
        counterexamples: cx_html,
        failures: &failures,
        warnings: &warnings,
    });
    write_atomic(&html_path, page.as_bytes())?;
    written.push(html_path.clone());
    Ok(ReportSummary {
        dir: dir.to_path_buf(),
        html: html_path,
        valid,
        events: run.events,
        written,
        failures,
        warnings,
    })
}

/// Write `store_root/index.html` listing every run under the store, newest first.
pub fn render_index(store_root: &Path) -> Result<(), ReportError> {
    index::write(store_root)
}
