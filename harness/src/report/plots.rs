//! The three plots of a run, drawn with plotters using the bundled DejaVu Sans (no system
//! fonts, no gnuplot): `latency-raw` (a point per completed call, log-scale latency,
//! colour = outcome, shape = function), `latency-quantiles` (p50/p95/p99/max of ok calls
//! per time window) and `rate` (completions per second per window, by outcome, over the
//! main phase and the heal, so the final reads' burst does not squash the scale). Every plot
//! shades fault intervals, one colour per kind, with a legend, and marks the phase
//! boundaries and the counterexample moments with labelled vertical lines. Colours and
//! markers come from [`super::notation`], the same in every report. Each plot is written
//! as PNG and SVG; the SVG text is also returned for inlining. Point counts are capped by
//! deterministic stride decimation per series (the PNG's cap is far higher than the
//! inline SVG's), so a 1M-op history draws in bounded time.

use super::faults::{self, FaultInterval};
use super::load::{CallRec, RunData};
use super::notation::{self, marker, outcome_rgb, Marker};
use super::phases::{self, Phase};
use checker::history::OpType;
use plotters::coord::Shift;
use plotters::prelude::*;
use std::path::Path;
use std::sync::OnceLock;

/// Pixel size of every plot.
pub const SIZE: (u32, u32) = (1200, 600);
/// Most points drawn in a PNG scatter plot.
pub const PNG_POINT_CAP: usize = 250_000;
/// Most points drawn in an SVG scatter plot (inlined in the page, so kept smaller).
pub const SVG_POINT_CAP: usize = 4_000;
/// Time windows of the quantile and rate plots.
pub const WINDOWS: usize = 100;

const FONT: &str = "sans-serif";
static FONT_BYTES: &[u8] = include_bytes!("../../assets/DejaVuSans.ttf");

/// Register the bundled font with plotters once; the error is remembered.
pub fn ensure_font() -> Result<(), String> {
    static REGISTERED: OnceLock<Result<(), String>> = OnceLock::new();
    REGISTERED
        .get_or_init(|| {
            plotters::style::register_font(FONT, FontStyle::Normal, FONT_BYTES).map_err(|_| {
                "the bundled font assets/DejaVuSans.ttf could not be loaded".to_string()
            })
        })
        .clone()
}

fn rgb(c: (u8, u8, u8)) -> RGBColor {
    RGBColor(c.0, c.1, c.2)
}

/// A label safe for plotters: no control characters, bounded length.
fn label(s: &str) -> String {
    let clean: String = s
        .chars()
        .map(|c| if c.is_control() { '?' } else { c })
        .collect();
    super::load::truncate_to(&clean, 24)
}

/// One plot's identity.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PlotKind {
    LatencyRaw,
    LatencyQuantiles,
    Rate,
}

impl PlotKind {
    pub const ALL: [PlotKind; 3] = [
        PlotKind::LatencyRaw,
        PlotKind::LatencyQuantiles,
        PlotKind::Rate,
    ];

    /// File stem: `latency-raw`, `latency-quantiles`, `rate`.
    pub fn stem(self) -> &'static str {
        match self {
            PlotKind::LatencyRaw => "latency-raw",
            PlotKind::LatencyQuantiles => "latency-quantiles",
            PlotKind::Rate => "rate",
        }
    }

    pub fn title(self) -> &'static str {
        match self {
            PlotKind::LatencyRaw => "Latency of every operation",
            PlotKind::LatencyQuantiles => "Latency quantiles of ok operations",
            PlotKind::Rate => "Throughput by outcome",
        }
    }
}

/// The data shared by all plots, prepared once.
pub struct PlotData<'a> {
    pub run: &'a RunData,
    pub faults: &'a [FaultInterval],
    pub phases: &'a [Phase],
    /// Vertical marks: (label, history time in ns), e.g. a counterexample's first call.
    pub marks: &'a [(String, i64)],
    /// Where the rate plot ends: the end of the main phase and the heal (the recovery has
    /// no operations and the final reads are a burst), else the history's end.
    pub rate_end_ns: i64,
    /// x range in seconds.
    pub x_end: f64,
    /// Nanoseconds per x-axis unit, and the unit's name (s for real runs; smaller for
    /// short or untimed histories).
    pub x_div: f64,
    pub x_unit: &'static str,
    /// Window width in nanoseconds of the rate plot.
    pub window_ns: i64,
    /// Window width in nanoseconds of the quantile plot (wider: ~40 ok ops per window).
    pub qwindow_ns: i64,
}

impl<'a> PlotData<'a> {
    pub fn new(
        run: &'a RunData,
        faults: &'a [FaultInterval],
        phases: &'a [Phase],
        marks: &'a [(String, i64)],
    ) -> PlotData<'a> {
        let end_ns = run.last_ns.max(0);
        let rate_end_ns = phases::recovery_start(phases)
            .or_else(|| phases::final_reads_start(phases))
            .filter(|&t| t > 0 && t < end_ns)
            .unwrap_or(end_ns);
        let (x_div, x_unit) = match end_ns {
            n if n >= 1_000_000_000 => (1e9, "s"),
            n if n >= 1_000_000 => (1e6, "ms"),
            n if n >= 1_000 => (1e3, "µs"),
            _ => (1.0, "ns"),
        };
        let x_end = (end_ns as f64 / x_div).max(1.0 / x_div).max(1e-9);
        let calls = run.calls.len();
        let ok = run.counts.iter().map(|c| c.ok as usize).sum::<usize>();
        let window = |n: usize| (end_ns / n.clamp(10, WINDOWS) as i64).max(1);
        PlotData {
            run,
            faults,
            phases,
            marks,
            rate_end_ns,
            x_end,
            x_div,
            x_unit,
            window_ns: (rate_end_ns / (calls / 20).clamp(10, WINDOWS) as i64).max(1),
            qwindow_ns: window(ok / 40),
        }
    }
}

/// Draw one plot as PNG to `png` and return its SVG text.
pub fn render(
    kind: PlotKind,
    data: &PlotData<'_>,
    png: &Path,
) -> (Result<(), String>, Result<String, String>) {
    render_png_and_svg(
        png,
        |root| draw(kind, data, root, PNG_POINT_CAP),
        |root| draw(kind, data, root, SVG_POINT_CAP),
    )
}

/// Draws a plot as PNG at `png` (with `draw_png`) and as SVG text (with `draw_svg`), each
/// guarded against panics in plotters; the font is checked first.
pub(super) fn render_png_and_svg(
    png: &Path,
    draw_png: impl FnOnce(&DrawingArea<BitMapBackend<'_>, Shift>) -> Result<(), String>,
    draw_svg: impl FnOnce(&DrawingArea<SVGBackend<'_>, Shift>) -> Result<(), String>,
) -> (Result<(), String>, Result<String, String>) {
    if let Err(e) = ensure_font() {
        return (Err(e.clone()), Err(e));
    }
    let png_res = guarded(|| {
        let root = BitMapBackend::new(png, SIZE).into_drawing_area();
        draw_png(&root)?;
        root.present().map_err(|e| e.to_string())
    });
    let svg_res = guarded(|| {
        let mut s = String::new();
        {
            let root = SVGBackend::with_string(&mut s, SIZE).into_drawing_area();
            draw_svg(&root)?;
            root.present().map_err(|e| e.to_string())?;
        }
        Ok(s)
    });
    (png_res, svg_res)
}

/// Run a drawing closure, turning a panic inside plotters into an error.
fn guarded<T>(f: impl FnOnce() -> Result<T, String>) -> Result<T, String> {
    match std::panic::catch_unwind(std::panic::AssertUnwindSafe(f)) {
        Ok(r) => r,
        Err(p) => Err(format!(
            "plotting panicked: {}",
            p.downcast_ref::<&str>()
                .map(|s| s.to_string())
                .or_else(|| p.downcast_ref::<String>().cloned())
                .unwrap_or_else(|| "unknown cause".into())
        )),
    }
}

fn draw<DB: DrawingBackend>(
    kind: PlotKind,
    data: &PlotData<'_>,
    root: &DrawingArea<DB, Shift>,
    cap: usize,
) -> Result<(), String> {
    root.fill(&WHITE).map_err(|e| e.to_string())?;
    match kind {
        PlotKind::LatencyRaw => latency_raw(data, root, cap),
        PlotKind::LatencyQuantiles => latency_quantiles(data, root),
        PlotKind::Rate => rate(data, root),
    }
}

impl PlotData<'_> {
    /// A time in x-axis units.
    fn x(&self, ns: i64) -> f64 {
        ns as f64 / self.x_div
    }
}

/// Shade fault intervals over the full y range `[y0, y1]`, one legend entry per kind.
fn shade<DB, Y>(
    chart: &mut ChartContext<'_, DB, Cartesian2d<plotters::coord::types::RangedCoordf64, Y>>,
    data: &PlotData<'_>,
    y0: Y::ValueType,
    y1: Y::ValueType,
    x_end: f64,
) -> Result<(), String>
where
    DB: DrawingBackend,
    Y: Ranged,
    Y::ValueType: Clone + 'static,
{
    for kind in faults::kinds(data.faults) {
        let c = rgb(faults::colour(&kind));
        let rects: Vec<_> = data
            .faults
            .iter()
            .filter(|i| i.kind == kind)
            .map(|i| {
                Rectangle::new(
                    [
                        (data.x(i.start_ns), y0.clone()),
                        (data.x(i.end_ns).max(data.x(i.start_ns)), y1.clone()),
                    ],
                    c.mix(0.18).filled(),
                )
            })
            .collect();
        chart
            .draw_series(rects)
            .map_err(|e| e.to_string())?
            .label(format!("fault: {}", label(&kind)))
            .legend(move |(x, y)| {
                Rectangle::new([(x, y - 6), (x + 14, y + 6)], c.mix(0.45).filled())
            });
    }
    // Who each fault hit, written inside its period when there is room (about 7 px per
    // character of a 1100 px wide plot area), staggered so neighbours do not collide.
    let font = (FONT, 12).into_font().color(&RGBColor(40, 40, 40));
    for (i, iv) in data.faults.iter().enumerate() {
        if data.x(iv.start_ns) >= x_end {
            continue;
        }
        let px = (data.x(iv.end_ns).min(x_end) - data.x(iv.start_ns)) / x_end * 1100.0;
        let chars = (px / 7.0) as usize;
        if chars < 6 {
            continue;
        }
        let text = super::load::truncate_to(&iv.what.join("; "), chars);
        let dy = 24 + 14 * (i as i32 % 3);
        chart
            .draw_series(std::iter::once(
                EmptyElement::at((data.x(iv.start_ns), y1.clone()))
                    + Text::new(text, (3, dy), font.clone()),
            ))
            .map_err(|e| e.to_string())?;
    }
    Ok(())
}

/// Phase boundaries (dashed, grey) and counterexample moments (solid, red) as labelled
/// vertical lines up to `y1`; `x_end` is the plot's right edge in x units.
fn mark_lines<DB, Y>(
    chart: &mut ChartContext<'_, DB, Cartesian2d<plotters::coord::types::RangedCoordf64, Y>>,
    data: &PlotData<'_>,
    y0: Y::ValueType,
    y1: Y::ValueType,
    x_end: f64,
) -> Result<(), String>
where
    DB: DrawingBackend,
    Y: Ranged,
    Y::ValueType: Clone + 'static,
{
    let grey = RGBColor(70, 70, 70);
    let red = RGBColor(198, 40, 40);
    // Phases that start within 1% of the plot's width of the previous one share a line.
    let mut lines: Vec<(String, f64, RGBColor)> = Vec::new();
    for p in data.phases.iter().filter(|p| p.name != "main") {
        let x = data.x(p.start_ns);
        match lines.last_mut() {
            Some((text, last, _)) if (x - *last).abs() < x_end / 100.0 => {
                *text = format!("{}, {} ▸", text.trim_end_matches(" ▸"), p.name);
            }
            _ => lines.push((format!("{} ▸", p.name), x, grey)),
        }
    }
    lines.extend(data.marks.iter().map(|(l, t)| (label(l), data.x(*t), red)));
    for (i, (text, x, colour)) in lines.into_iter().enumerate() {
        if x < 0.0 || x > x_end {
            continue;
        }
        let style = colour.stroke_width(if colour == red { 2 } else { 1 });
        chart
            .draw_series(std::iter::once(PathElement::new(
                vec![(x, y0.clone()), (x, y1.clone())],
                style,
            )))
            .map_err(|e| e.to_string())?;
        let font = (FONT, 13).into_font().color(&colour);
        let offset = 4 + 16 * (i as i32 % 2);
        // Near the right edge the label goes to the left of its line (≈7 px a character
        // of an ≈1100 px plot area).
        let width = 7 * text.chars().count() as i32;
        let dx = if x / x_end * 1100.0 + width as f64 > 1090.0 {
            -width - 4
        } else {
            4
        };
        chart
            .draw_series(std::iter::once(
                EmptyElement::at((x, y1.clone())) + Text::new(text, (dx, offset), font),
            ))
            .map_err(|e| e.to_string())?;
    }
    Ok(())
}

fn legend_box<'a, DB: DrawingBackend + 'a, CT: CoordTranslate>(
    chart: &mut ChartContext<'a, DB, CT>,
) -> Result<(), String> {
    chart
        .configure_series_labels()
        .position(SeriesLabelPosition::UpperRight)
        .background_style(WHITE.mix(0.85))
        .border_style(BLACK.mix(0.5))
        .label_font((FONT, 13))
        .draw()
        .map_err(|e| e.to_string())
}

/// Indices of `n` items to keep so that at most `cap` remain: every k-th, deterministic.
fn stride(n: usize, cap: usize) -> usize {
    if cap == 0 {
        return usize::MAX;
    }
    n.div_ceil(cap).max(1)
}

/// The chart of the raw latency plot: completion time against log latency (ms).
type LatencyChart<'a, DB> =
    ChartContext<'a, DB, Cartesian2d<plotters::coord::types::RangedCoordf64, LogCoord<f64>>>;

/// A completed call's latency in ms (at least 1 ns, so it fits a log scale).
fn latency_ms(c: &CallRec) -> f64 {
    (c.latency_ns().unwrap_or(0) as f64 / 1e6).max(1e-6)
}

/// The smallest and largest latency (ms) of `done`, or 0.1..10 if there is none.
fn latency_extent(done: &[&CallRec]) -> (f64, f64) {
    let (mut lo, mut hi) = (f64::MAX, 0.0f64);
    for c in done {
        let l = latency_ms(c);
        lo = lo.min(l);
        hi = hi.max(l);
    }
    if done.is_empty() {
        (lo, hi) = (0.1, 10.0);
    }
    (lo, hi)
}

/// The series of the raw latency plot: (f, outcome, calls) for every pair with calls,
/// functions and outcomes in their fixed order.
fn latency_series(run: &RunData, done: &[&CallRec]) -> Vec<(u16, OpType, usize)> {
    let mut series: Vec<(u16, OpType, usize)> = Vec::new();
    for f in notation::function_order(&run.fs) {
        let f = f as u16;
        for o in notation::OUTCOMES {
            let n = done.iter().filter(|c| c.f == f && c.outcome == o).count();
            if n > 0 {
                series.push((f, o, n));
            }
        }
    }
    series
}

fn latency_raw<DB: DrawingBackend>(
    data: &PlotData<'_>,
    root: &DrawingArea<DB, Shift>,
    cap: usize,
) -> Result<(), String> {
    let run = data.run;
    let done: Vec<&CallRec> = run.calls.iter().filter(|c| !c.is_open()).collect();
    let (lo, hi) = latency_extent(&done);
    let (y0, y1) = log_range(lo, hi);
    let mut chart = ChartBuilder::on(root)
        .caption(PlotKind::LatencyRaw.title(), (FONT, 22))
        .margin(12)
        .x_label_area_size(45)
        .y_label_area_size(70)
        .build_cartesian_2d(0f64..data.x_end, (y0..y1).log_scale())
        .map_err(|e| e.to_string())?;
    chart
        .configure_mesh()
        .x_desc(format!("completion time ({})", data.x_unit))
        .y_desc("latency (ms)")
        .label_style((FONT, 13))
        .x_label_formatter(&|x| format!("{x:.1}"))
        .y_label_formatter(&|y| num_label(*y))
        .y_labels(12)
        .light_line_style(RGBColor(238, 238, 238))
        .axis_desc_style((FONT, 15))
        .draw()
        .map_err(|e| e.to_string())?;
    shade(&mut chart, data, y0, y1, data.x_end)?;
    mark_lines(&mut chart, data, y0, y1, data.x_end)?;
    // Series: (f, outcome), drawn with the function's marker and the outcome's colour.
    let series = latency_series(run, &done);
    let per_series = cap / series.len().max(1);
    for (f, o, n) in series {
        let k = stride(n, per_series);
        let pts: Vec<(f64, f64)> = done
            .iter()
            .filter(|c| c.f == f && c.outcome == o)
            .step_by(k)
            .map(|c| (data.x(c.complete_ns), latency_ms(c)))
            .collect();
        let name = format!("{} {}", label(&run.fs[f as usize]), o);
        let shape = marker(&run.fs[f as usize]);
        draw_latency_points(&mut chart, &pts, shape, rgb(outcome_rgb(o)), name)?;
    }
    legend_box(&mut chart)
}

/// One series of the raw latency plot: `pts` drawn with `shape` in `colour`, and its
/// legend entry `name`.
fn draw_latency_points<'a, DB: DrawingBackend + 'a>(
    chart: &mut LatencyChart<'a, DB>,
    pts: &[(f64, f64)],
    shape: Marker,
    colour: RGBColor,
    name: String,
) -> Result<(), String> {
    let style = colour.mix(0.75).filled();
    let anno = match shape {
        Marker::Circle => chart.draw_series(pts.iter().map(|&p| Circle::new(p, 2, style))),
        Marker::Triangle => {
            chart.draw_series(pts.iter().map(|&p| TriangleMarker::new(p, 3, style)))
        }
        Marker::Cross => chart.draw_series(
            pts.iter()
                .map(|&p| Cross::new(p, 3, colour.stroke_width(1))),
        ),
        Marker::Square => chart.draw_series(
            pts.iter()
                .map(|&p| EmptyElement::at(p) + Rectangle::new([(-2, -2), (2, 2)], style)),
        ),
        Marker::Diamond => chart.draw_series(pts.iter().map(|&p| {
            EmptyElement::at(p) + Polygon::new(vec![(0, -3), (3, 0), (0, 3), (-3, 0)], style)
        })),
    }
    .map_err(|e| e.to_string())?;
    anno.label(name).legend(move |(x, y)| {
        let c = (x + 7, y);
        match shape {
            Marker::Circle => Circle::new(c, 4, style).into_dyn(),
            Marker::Triangle => TriangleMarker::new(c, 5, style).into_dyn(),
            Marker::Cross => Cross::new(c, 4, colour.stroke_width(2)).into_dyn(),
            Marker::Square => Rectangle::new([(x + 3, y - 4), (x + 11, y + 4)], style).into_dyn(),
            Marker::Diamond => Polygon::new(
                vec![(x + 7, y - 5), (x + 12, y), (x + 7, y + 5), (x + 2, y)],
                style,
            )
            .into_dyn(),
        }
    });
    Ok(())
}

/// Latencies (ms) of ok calls per window of completion time.
fn window_latencies(data: &PlotData<'_>) -> Vec<Vec<f32>> {
    let n = (data.run.last_ns.max(0) / data.qwindow_ns + 1).clamp(1, 10 * WINDOWS as i64) as usize;
    let mut w: Vec<Vec<f32>> = vec![Vec::new(); n];
    for c in &data.run.calls {
        if c.outcome != OpType::Ok || c.is_open() {
            continue;
        }
        let i = ((c.complete_ns.max(0) / data.qwindow_ns) as usize).min(n - 1);
        w[i].push((c.latency_ns().unwrap_or(0) as f64 / 1e6).max(1e-6) as f32);
    }
    w
}

/// Nearest-rank quantile of a sorted, non-empty slice.
fn quantile(sorted: &[f32], q: f64) -> f32 {
    let rank = ((q * sorted.len() as f64).ceil() as usize).clamp(1, sorted.len());
    sorted[rank - 1]
}

fn latency_quantiles<DB: DrawingBackend>(
    data: &PlotData<'_>,
    root: &DrawingArea<DB, Shift>,
) -> Result<(), String> {
    let mut windows = window_latencies(data);
    let qs: [(&str, f64, (u8, u8, u8)); 4] = [
        ("p50", 0.5, (0, 114, 178)),
        ("p95", 0.95, (0, 158, 115)),
        ("p99", 0.99, (213, 94, 0)),
        ("max", 1.0, (80, 80, 80)),
    ];
    let wsec = data.qwindow_ns as f64 / 1e9;
    let wx = data.qwindow_ns as f64 / data.x_div;
    // One list of segments per quantile: a window without ok ops breaks the line.
    let mut lines: Vec<Vec<Vec<(f64, f64)>>> = vec![vec![Vec::new()]; qs.len()];
    let (mut lo, mut hi) = (f64::MAX, 0.0f64);
    for (i, w) in windows.iter_mut().enumerate() {
        if w.is_empty() {
            for segs in lines.iter_mut() {
                if segs.last().is_some_and(|s| !s.is_empty()) {
                    segs.push(Vec::new());
                }
            }
            continue;
        }
        w.sort_by(|a, b| a.total_cmp(b));
        let x = (i as f64 + 0.5) * wx;
        for (j, (_, q, _)) in qs.iter().enumerate() {
            let v = quantile(w, *q) as f64;
            lo = lo.min(v);
            hi = hi.max(v);
            if let Some(seg) = lines[j].last_mut() {
                seg.push((x, v));
            }
        }
    }
    if hi == 0.0 {
        (lo, hi) = (0.1, 10.0);
    }
    let (y0, y1) = log_range(lo, hi);
    let mut chart = ChartBuilder::on(root)
        .caption(PlotKind::LatencyQuantiles.title(), (FONT, 22))
        .margin(12)
        .x_label_area_size(45)
        .y_label_area_size(70)
        .build_cartesian_2d(0f64..data.x_end, (y0..y1).log_scale())
        .map_err(|e| e.to_string())?;
    chart
        .configure_mesh()
        .x_desc(format!(
            "time ({}), windows of {}",
            data.x_unit,
            human_secs(wsec)
        ))
        .y_desc("latency (ms)")
        .label_style((FONT, 13))
        .x_label_formatter(&|x| format!("{x:.1}"))
        .y_label_formatter(&|y| num_label(*y))
        .y_labels(12)
        .light_line_style(RGBColor(238, 238, 238))
        .axis_desc_style((FONT, 15))
        .draw()
        .map_err(|e| e.to_string())?;
    shade(&mut chart, data, y0, y1, data.x_end)?;
    mark_lines(&mut chart, data, y0, y1, data.x_end)?;
    for (j, (name, _, c)) in qs.iter().enumerate() {
        let colour = rgb(*c);
        chart
            .draw_series(
                lines[j]
                    .iter()
                    .map(|seg| PathElement::new(seg.clone(), colour.stroke_width(2))),
            )
            .map_err(|e| e.to_string())?
            .label(*name)
            .legend(move |(x, y)| {
                PathElement::new(vec![(x, y), (x + 16, y)], colour.stroke_width(2))
            });
        chart
            .draw_series(
                lines[j]
                    .iter()
                    .flatten()
                    .map(|&p| Circle::new(p, 2, colour.filled())),
            )
            .map_err(|e| e.to_string())?;
    }
    legend_box(&mut chart)
}

/// A log-scale range around [lo, hi]: whole decades (so that decade labels show),
/// spanning at least 1.5 decades.
fn log_range(lo: f64, hi: f64) -> (f64, f64) {
    let y1 = 10f64.powf((hi * 1.05).log10().ceil());
    let y0 = 10f64.powf(lo.min(hi / 30.0).log10().floor());
    (y0, y1)
}

/// An axis number without needless decimals.
fn num_label(v: f64) -> String {
    if v >= 1e9 {
        format!("{:.1}G", v / 1e9)
    } else if v >= 1e6 {
        format!("{:.1}M", v / 1e6)
    } else if v >= 1e5 {
        format!("{:.0}k", v / 1e3)
    } else if v >= 10.0 || v == v.round() {
        format!("{v:.0}")
    } else if v >= 1.0 {
        format!("{v:.1}")
    } else if v < 0.01 && v > 0.0 {
        format!("{v:.0e}")
    } else {
        format!("{v:.2}")
    }
}

fn human_secs(s: f64) -> String {
    super::notation::fmt_ns((s * 1e9).round() as i64)
}

fn rate<DB: DrawingBackend>(
    data: &PlotData<'_>,
    root: &DrawingArea<DB, Shift>,
) -> Result<(), String> {
    let n = (data.rate_end_ns.max(0) / data.window_ns).clamp(1, 10 * WINDOWS as i64) as usize;
    let outcomes = notation::OUTCOMES;
    let mut counts = vec![[0u64; 3]; n];
    for c in &data.run.calls {
        if c.is_open() || c.complete_ns >= data.rate_end_ns {
            continue;
        }
        let i = ((c.complete_ns.max(0) / data.window_ns) as usize).min(n - 1);
        let j = match c.outcome {
            OpType::Ok => 0,
            OpType::Fail => 1,
            _ => 2,
        };
        counts[i][j] += 1;
    }
    let wsec = data.window_ns as f64 / 1e9;
    let wx = data.window_ns as f64 / data.x_div;
    let max = counts
        .iter()
        .flat_map(|c| c.iter())
        .copied()
        .max()
        .unwrap_or(0) as f64
        / wsec;
    let y1 = (max * 1.15).max(1.0);
    let x_end = data.x(data.rate_end_ns).max(1e-9);
    let mut chart = ChartBuilder::on(root)
        .caption(PlotKind::Rate.title(), (FONT, 22))
        .margin(12)
        .x_label_area_size(45)
        .y_label_area_size(70)
        .build_cartesian_2d(0f64..x_end, 0f64..y1)
        .map_err(|e| e.to_string())?;
    chart
        .configure_mesh()
        .x_desc(format!(
            "completion time ({}), windows of {}",
            data.x_unit,
            human_secs(wsec)
        ))
        .y_desc("operations / s")
        .label_style((FONT, 13))
        .x_label_formatter(&|x| format!("{x:.1}"))
        .y_label_formatter(&|y| num_label(*y))
        .y_labels(12)
        .light_line_style(RGBColor(238, 238, 238))
        .axis_desc_style((FONT, 15))
        .draw()
        .map_err(|e| e.to_string())?;
    shade(&mut chart, data, 0.0, y1, x_end)?;
    mark_lines(&mut chart, data, 0.0, y1, x_end)?;
    for (j, o) in outcomes.iter().enumerate() {
        if counts.iter().all(|c| c[j] == 0) {
            continue;
        }
        let colour = rgb(outcome_rgb(*o));
        let pts: Vec<(f64, f64)> = counts
            .iter()
            .enumerate()
            .map(|(i, c)| ((i as f64 + 0.5) * wx, c[j] as f64 / wsec))
            .collect();
        chart
            .draw_series(LineSeries::new(pts, colour.stroke_width(2)))
            .map_err(|e| e.to_string())?
            .label(o.as_str())
            .legend(move |(x, y)| {
                PathElement::new(vec![(x, y), (x + 16, y)], colour.stroke_width(2))
            });
    }
    legend_box(&mut chart)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quantiles_are_nearest_rank() {
        let v: Vec<f32> = (1..=100).map(|i| i as f32).collect();
        assert_eq!(quantile(&v, 0.5), 50.0);
        assert_eq!(quantile(&v, 0.99), 99.0);
        assert_eq!(quantile(&v, 1.0), 100.0);
        assert_eq!(quantile(&[7.0], 0.5), 7.0);
    }

    #[test]
    fn axis_numbers_are_compact() {
        assert_eq!(num_label(500_000_000.0), "500.0M");
        assert_eq!(num_label(250_000.0), "250k");
        assert_eq!(num_label(120.0), "120");
        assert_eq!(num_label(2.5), "2.5");
        assert_eq!(num_label(0.25), "0.25");
        assert_eq!(num_label(0.001), "1e-3");
    }

    #[test]
    fn stride_caps_points() {
        assert_eq!(stride(10, 100), 1);
        assert_eq!(stride(1000, 100), 10);
        assert_eq!(stride(1001, 100), 11);
        assert!(1001usize.div_ceil(stride(1001, 100)) <= 100);
    }

    #[test]
    fn font_registers() {
        assert_eq!(ensure_font(), Ok(()));
    }
}
