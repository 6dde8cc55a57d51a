//! The convergence plot of a broadcast run (`convergence.png` / `.svg`): the share of
//! acknowledged messages that had reached every honest node within x ms (a CDF of the
//! broadcast checker's `convergence.samples_ms`), with the median and the maximum marked.
//! Drawn only when results.json holds such samples.

use super::plots::render_png_and_svg;
use plotters::coord::Shift;
use plotters::prelude::*;
use serde_json::Value;
use std::path::Path;

/// File stem and title of the plot.
pub const STEM: &str = "convergence";
pub const TITLE: &str = "Broadcast convergence: time until every honest node held a message";

/// What the plot draws: the checker's sorted (possibly thinned) samples in ms and its exact
/// count, median and maximum.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Samples {
    pub ms: Vec<u64>,
    pub count: u64,
    pub median_ms: u64,
    pub max_ms: u64,
}

/// The broadcast checker's convergence samples, if any.
pub fn samples(results: &Value) -> Option<Samples> {
    let c = results.pointer("/checkers/broadcast/convergence")?;
    let mut ms: Vec<u64> = c
        .get("samples_ms")?
        .as_array()?
        .iter()
        .filter_map(Value::as_u64)
        .collect();
    ms.sort_unstable();
    let (&first_median, &last) = (ms.get((ms.len().max(1) - 1) / 2)?, ms.last()?);
    let num = |k: &str, default: u64| c.get(k).and_then(Value::as_u64).unwrap_or(default);
    Some(Samples {
        count: num("count", ms.len() as u64),
        median_ms: num("median_ms", first_median),
        max_ms: num("max_ms", last),
        ms,
    })
}

/// Draws the CDF of `samples` as PNG to `png`; returns its SVG text.
pub fn render(samples: &Samples, png: &Path) -> (Result<(), String>, Result<String, String>) {
    render_png_and_svg(png, |root| draw(samples, root), |root| draw(samples, root))
}

fn draw<DB: DrawingBackend>(s: &Samples, root: &DrawingArea<DB, Shift>) -> Result<(), String> {
    root.fill(&WHITE).map_err(|e| e.to_string())?;
    let (median, max, samples) = (s.median_ms, s.max_ms, &s.ms);
    let n = samples.len();
    let x_end = (max as f64 * 1.05).max(1.0);
    let thinned = if n as u64 == s.count {
        String::new()
    } else {
        format!(" (curve: {n} evenly spaced of them)")
    };
    let mut chart = ChartBuilder::on(root)
        .caption(
            format!(
                "{} messages: median {median} ms, max {max} ms{thinned}",
                s.count
            ),
            ("sans-serif", 18),
        )
        .margin(12)
        .x_label_area_size(40)
        .y_label_area_size(56)
        .build_cartesian_2d(0f64..x_end, 0f64..1.0)
        .map_err(|e| e.to_string())?;
    chart
        .configure_mesh()
        .x_desc("ms from the first node storing it to the last honest node holding it")
        .y_desc("share of messages")
        .draw()
        .map_err(|e| e.to_string())?;
    let points = samples
        .iter()
        .enumerate()
        .map(|(i, &ms)| (ms as f64, (i + 1) as f64 / n as f64));
    chart
        .draw_series(LineSeries::new(points, BLUE.stroke_width(2)))
        .map_err(|e| e.to_string())?;
    for (label, ms, colour) in [("median", median, GREEN), ("max", max, RED)] {
        chart
            .draw_series(LineSeries::new(
                [(ms as f64, 0.0), (ms as f64, 1.0)],
                colour.stroke_width(1),
            ))
            .map_err(|e| e.to_string())?
            .label(format!("{label} {ms} ms"))
            .legend(move |(x, y)| PathElement::new([(x, y), (x + 16, y)], colour));
    }
    chart
        .configure_series_labels()
        .background_style(WHITE.mix(0.8))
        .border_style(BLACK)
        .position(SeriesLabelPosition::LowerRight)
        .draw()
        .map_err(|e| e.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn samples_come_from_the_broadcast_checker_and_the_plot_is_written() {
        let results =
            json!({"checkers": {"broadcast": {"convergence": {"samples_ms": [30, 5, 12]}}}});
        let s = samples(&results).unwrap();
        assert_eq!(
            (s.ms.clone(), s.count, s.median_ms, s.max_ms),
            (vec![5, 12, 30], 3, 12, 30)
        );
        assert_eq!(samples(&json!({"checkers": {}})), None);
        let dir = tempfile::tempdir().unwrap();
        let png = dir.path().join("convergence.png");
        let (p, svg) = render(&s, &png);
        p.unwrap();
        assert!(png.metadata().unwrap().len() > 1000);
        assert!(svg.unwrap().contains("median 12 ms"));
    }
}
