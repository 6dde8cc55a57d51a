//! Human reports: `report.html` per run, PNG/SVG plots with fault periods shaded, the
//! operation timeline, the counterexample view, and `results/index.html`.
//!
//! Public entry points (called by `harness test`, `analyze` and `check --report`):
//! - [`render_run`]: reads `dir/history.jsonl`, `dir/results.json` and the optional
//!   `dir/test.json`, writes `dir/report.html` and the plots next to it;
//!   [`render_run_titled`] names the page after a history file when there is no test.json.
//! - [`render_index`]: writes `store_root/index.html` listing every run, newest first.
//!
//! Submodules, one concern each; imports only go down this list: `page` (report.html
//! assembly) → `why` (the summary under the verdict), `timeline` (windows and the
//! interactive timeline), `plots` (plotters PNG/SVG), `counterexample` (the drawn
//! counterexample), `agreement` (the Two Generals' agreement plot), `index` (the store
//! index) → `faults` (fault intervals named by who they hit), `phases` (phase boundaries)
//! → `load` (streaming history reader) → `notation`
//! (times, colours, markers and the notation of a call; a leaf), [`output`] (what a
//! rendering wrote and why it failed; a leaf) and [`escape`] (the one HTML escaping
//! function; a leaf).

mod agreement;
pub mod bounded;
mod convergence;
mod counterexample;
pub mod escape;
mod faults;
pub mod index;
mod load;
mod notation;
pub mod output;
mod page;
mod phases;
mod plots;
mod timeline;
mod why;

pub(crate) use output::write_atomic;
pub use output::{ArtifactFailure, ReportError, ReportSummary};
pub use page::url_segment;

use checker::Validity;
use std::path::{Path, PathBuf};

/// Counterexamples drawn in one page.
pub const COUNTEREXAMPLE_CAP: usize = 10;

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
            Some((notation::key_text(k.get("key")), cx))
        })
        .collect()
}

/// Render the report of one run directory. See the module doc for inputs and outputs.
/// Fails only when history.jsonl or results.json cannot be read, results.json (or
/// test.json, when present) is not JSON, or report.html cannot be written; a plot that
/// fails is recorded in [`ReportSummary::failures`] and in the page.
pub fn render_run(dir: &Path) -> Result<ReportSummary, ReportError> {
    render_run_titled(dir, None)
}

/// [`render_run`], naming the page `title` when the directory has no test.json (the
/// history file a `check --report` directory was made from).
pub fn render_run_titled(dir: &Path, title: Option<&str>) -> Result<ReportSummary, ReportError> {
    let results = load::read_json(&dir.join("results.json"), true)?.unwrap_or_default();
    let test = load::read_json(&dir.join("test.json"), false)?;
    let valid = verdict_of(&results);
    let cxs = counterexamples(&results);
    let history_path = dir.join("history.jsonl");
    let run = load::read_history(&history_path)?;
    let fault_iv = faults::intervals(&run.nemesis, run.last_ns);
    let phases = run_phases(&run, &results);
    let cx_marks = counterexample_marks(&run, &cxs);
    let sel = timeline::select(&run, &fault_iv, &cx_marks);
    let details = load::read_details(&history_path, &run, &sel.positions)?;
    let mut failures = Vec::new();
    let mut written = Vec::new();
    let mut warnings = run.warnings.clone();

    let plot_parts = if run.untimed {
        Vec::new()
    } else {
        let marks = plot_marks(&run, &cx_marks);
        let data = plots::PlotData::new(&run, &fault_iv, &phases, &marks);
        let mut parts = render_plots(dir, &data, &mut written, &mut failures);
        parts.extend(render_agreement(dir, &results, &mut written, &mut failures));
        if let Some(samples) = convergence::samples(&results) {
            parts.push(render_convergence(
                dir,
                &samples,
                &mut written,
                &mut failures,
            ));
        }
        parts
    };

    let tl_id = "tl";
    let tl = timeline::render(
        tl_id,
        &timeline::RenderInput {
            run: &run,
            sel: &sel,
            details: &details,
            faults: &fault_iv,
            phases: &phases,
            cxs: &cx_marks,
        },
    );
    let cx_windows = counterexample_windows(&sel, &cx_marks);
    let cx_html = counterexample_fragments(&cxs, run.untimed);
    if valid == Validity::Invalid && cxs.is_empty() && !why::another_checker_invalid(&results) {
        warnings.push("the verdict is invalid but results.json carries no linearizability counterexample (another checker failed)".into());
    }
    let history_hint = title.map_or_else(|| history_path.display().to_string(), str::to_string);
    let why = why::render(&why::WhyInput {
        valid,
        results: &results,
        run: &run,
        faults: &fault_iv,
        phases: &phases,
        cxs: &cxs,
        details: &details,
        timeline_id: tl_id,
        cx_windows: &cx_windows,
        history_hint: &history_hint,
    });

    let html_path = dir.join("report.html");
    let page = page::render(&page::PageInput {
        dir,
        title,
        valid,
        results: &results,
        test: test.as_ref(),
        run: &run,
        faults: &fault_iv,
        phases: &phases,
        plots: plot_parts,
        timeline: &tl,
        why,
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

/// The verdict in results.json (unknown if missing or not a verdict).
fn verdict_of(results: &serde_json::Value) -> Validity {
    results
        .get("valid")
        .and_then(|v| serde_json::from_value::<Validity>(v.clone()).ok())
        .unwrap_or(Validity::Unknown)
}

/// The run's phases (none for an untimed history).
fn run_phases(run: &load::RunData, results: &serde_json::Value) -> Vec<phases::Phase> {
    if run.untimed {
        return Vec::new();
    }
    let first_invoke = run.calls.first().map(|c| c.invoke_ns);
    phases::phases(results, first_invoke)
}

/// The drawn counterexamples' ops, as positions in the run's calls, per key.
fn counterexample_marks(
    run: &load::RunData,
    cxs: &[(String, &serde_json::Value)],
) -> Vec<timeline::CxMark> {
    cxs.iter()
        .take(COUNTEREXAMPLE_CAP)
        .map(|(key, cx)| timeline::CxMark {
            key: key.clone(),
            positions: counterexample::invoke_indices(cx)
                .into_iter()
                .filter_map(|i| run.position_of(i))
                .collect(),
        })
        .collect()
}

/// The plots' vertical marks: "✗ key" at each counterexample's first invoke.
fn plot_marks(run: &load::RunData, cx_marks: &[timeline::CxMark]) -> Vec<(String, i64)> {
    cx_marks
        .iter()
        .filter_map(|m| {
            let t = m.positions.iter().map(|&p| run.calls[p].invoke_ns).min()?;
            Some((format!("✗ {}", m.key), t))
        })
        .collect()
}

/// For each counterexample, the index of its timeline window, if it has one.
fn counterexample_windows(
    sel: &timeline::Selection,
    cx_marks: &[timeline::CxMark],
) -> Vec<Option<usize>> {
    cx_marks
        .iter()
        .map(|m| {
            let name = format!("counterexample: key {}", m.key);
            sel.windows.iter().position(|w| w.name == name)
        })
        .collect()
}

/// The HTML of the drawn counterexamples, and a note on how many more there are.
fn counterexample_fragments(cxs: &[(String, &serde_json::Value)], untimed: bool) -> Vec<String> {
    let mut cx_html: Vec<String> = cxs
        .iter()
        .take(COUNTEREXAMPLE_CAP)
        .enumerate()
        .map(|(i, (key, cx))| counterexample::render(i, key, cx, untimed))
        .collect();
    if cxs.len() > COUNTEREXAMPLE_CAP {
        cx_html.push(format!(
            "<p class=\"note\">{} more invalid keys have counterexamples in results.json.</p>",
            cxs.len() - COUNTEREXAMPLE_CAP
        ));
    }
    cx_html
}

/// Draw every plot as PNG and SVG; a failure of one file is recorded, the rest go on.
fn render_plots(
    dir: &Path,
    data: &plots::PlotData<'_>,
    written: &mut Vec<PathBuf>,
    failures: &mut Vec<ArtifactFailure>,
) -> Vec<page::PlotPart> {
    plots::PlotKind::ALL
        .into_iter()
        .map(|kind| {
            let png = dir.join(format!("{}.png", kind.stem()));
            let drawn = plots::render(kind, data, &png);
            plot_part(dir, (kind.stem(), kind.title()), drawn, written, failures)
        })
        .collect()
}

/// The Two Generals' agreement plot, when results.json has the generals checker's cells.
fn render_agreement(
    dir: &Path,
    results: &serde_json::Value,
    written: &mut Vec<PathBuf>,
    failures: &mut Vec<ArtifactFailure>,
) -> Option<page::PlotPart> {
    let cells = agreement::cells(results);
    if cells.is_empty() {
        return None;
    }
    let png = dir.join(format!("{}.png", agreement::STEM));
    let drawn = agreement::render(&cells, &png);
    let names = (agreement::STEM, agreement::TITLE);
    Some(plot_part(dir, names, drawn, written, failures))
}

/// One drawn plot (`stem.png` already written or failed, the SVG text or its error): writes
/// `stem.svg`, records what was written and what failed, and gives the page's part.
fn plot_part(
    dir: &Path,
    (stem, title): (&'static str, &'static str),
    (png_res, svg_res): (Result<(), String>, Result<String, String>),
    written: &mut Vec<PathBuf>,
    failures: &mut Vec<ArtifactFailure>,
) -> page::PlotPart {
    let png_error = match png_res {
        Ok(()) => {
            written.push(dir.join(format!("{stem}.png")));
            None
        }
        Err(e) => {
            failures.push(ArtifactFailure {
                artifact: format!("{stem}.png"),
                message: e.clone(),
            });
            Some(e)
        }
    };
    let svg = svg_res.and_then(|s| {
        let path = dir.join(format!("{stem}.svg"));
        write_atomic(&path, s.as_bytes()).map_err(|e| e.to_string())?;
        written.push(path);
        Ok(s)
    });
    if let Err(e) = &svg {
        failures.push(ArtifactFailure {
            artifact: format!("{stem}.svg"),
            message: e.clone(),
        });
    }
    page::PlotPart {
        stem,
        title,
        svg,
        png_error,
    }
}

/// The broadcast convergence plot (`convergence.png` / `.svg`).
fn render_convergence(
    dir: &Path,
    samples: &convergence::Samples,
    written: &mut Vec<PathBuf>,
    failures: &mut Vec<ArtifactFailure>,
) -> page::PlotPart {
    let png = dir.join(format!("{}.png", convergence::STEM));
    let drawn = convergence::render(samples, &png);
    let names = (convergence::STEM, convergence::TITLE);
    plot_part(dir, names, drawn, written, failures)
}

/// Write `store_root/index.html` listing every run under the store, newest first.
pub fn render_index(store_root: &Path) -> Result<(), ReportError> {
    index::write(store_root)
}
