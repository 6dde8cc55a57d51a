//! The Two Generals' agreement plot (`agreement.png` / `.svg`): from the generals checker's
//! cells in results.json (`checkers.generals.cells`: rounds by loss rate and number of
//! acknowledgements K), the chance that both generals attacked against K, one line per
//! loss rate (solid, circles), and the chance that one attacked alone (dashed, triangles),
//! each point labelled with its number of rounds in the page's note. Drawn only when the
//! run has such cells; at the level of [`super::plots`], whose font and panic guard it uses.

use super::plots::render_png_and_svg;
use plotters::coord::Shift;
use plotters::prelude::*;
use serde_json::Value;
use std::path::Path;

/// File stem and title of the plot.
pub const STEM: &str = "agreement";
pub const TITLE: &str = "Chance of agreement by acknowledgements and loss (Two Generals)";

/// One cell of the checker: (loss, K, rounds, both attacked, one alone).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Cell {
    pub loss: f64,
    pub acks: u64,
    pub rounds: u64,
    pub both_attack: u64,
    pub one_alone: u64,
}

/// The generals checker's cells in `results`, if any.
pub fn cells(results: &Value) -> Vec<Cell> {
    let Some(list) = results
        .pointer("/checkers/generals/cells")
        .and_then(Value::as_array)
    else {
        return Vec::new();
    };
    list.iter()
        .filter_map(|c| {
            let n = |k: &str| c.get(k).and_then(Value::as_u64);
            Some(Cell {
                loss: c.get("loss").and_then(Value::as_f64)?,
                acks: n("acks")?,
                rounds: n("rounds").filter(|&r| r > 0)?,
                both_attack: n("both_attack")?,
                one_alone: n("one_alone")?,
            })
        })
        .collect()
}

/// The loss rates, ascending, each with its cells by K.
fn by_loss(cells: &[Cell]) -> Vec<(f64, Vec<Cell>)> {
    let mut out: Vec<(f64, Vec<Cell>)> = Vec::new();
    for c in cells {
        match out.iter_mut().find(|(l, _)| (*l - c.loss).abs() < 1e-9) {
            Some((_, v)) => v.push(*c),
            None => out.push((c.loss, vec![*c])),
        }
    }
    out.sort_by(|a, b| a.0.total_cmp(&b.0));
    for (_, v) in &mut out {
        v.sort_by_key(|c| c.acks);
    }
    out
}

/// Colours of the loss rates, in order (Okabe-Ito).
const COLOURS: [(u8, u8, u8); 6] = [
    (0, 114, 178),
    (230, 159, 0),
    (213, 94, 0),
    (0, 158, 115),
    (204, 121, 167),
    (86, 180, 233),
];

/// Draws the plot as PNG at `png` and returns the SVG text (errors as strings, as
/// [`super::plots::render`]).
pub fn render(cells: &[Cell], png: &Path) -> (Result<(), String>, Result<String, String>) {
    render_png_and_svg(png, |root| draw(cells, root), |root| draw(cells, root))
}

fn draw<DB: DrawingBackend>(cells: &[Cell], root: &DrawingArea<DB, Shift>) -> Result<(), String> {
    root.fill(&WHITE).map_err(|e| e.to_string())?;
    let max_k = cells.iter().map(|c| c.acks).max().unwrap_or(0);
    let x_end = (max_k as f64 + 0.5).max(1.5);
    let mut chart = ChartBuilder::on(root)
        .caption(TITLE, ("sans-serif", 22))
        .margin(12)
        .x_label_area_size(45)
        .y_label_area_size(60)
        .build_cartesian_2d(-0.5f64..x_end, 0f64..100f64)
        .map_err(|e| e.to_string())?;
    chart
        .configure_mesh()
        .x_desc("acknowledgements after the order (K)")
        .y_desc("rounds (%)")
        .label_style(("sans-serif", 13))
        .axis_desc_style(("sans-serif", 15))
        .x_labels((max_k as usize + 2).min(20))
        .x_label_formatter(&|x| {
            if (x - x.round()).abs() < 1e-6 && *x >= 0.0 {
                format!("{}", x.round() as i64)
            } else {
                String::new()
            }
        })
        .y_label_formatter(&|y| format!("{y:.0}%"))
        .light_line_style(RGBColor(238, 238, 238))
        .draw()
        .map_err(|e| e.to_string())?;
    for (i, (loss, row)) in by_loss(cells).iter().enumerate() {
        let (r, g, b) = COLOURS[i % COLOURS.len()];
        let colour = RGBColor(r, g, b);
        let pct = |n: u64, c: &Cell| 100.0 * n as f64 / c.rounds as f64;
        let both: Vec<(f64, f64)> = row
            .iter()
            .map(|c| (c.acks as f64, pct(c.both_attack, c)))
            .collect();
        let alone: Vec<(f64, f64)> = row
            .iter()
            .map(|c| (c.acks as f64, pct(c.one_alone, c)))
            .collect();
        let loss_pct = (loss * 1000.0).round() / 10.0;
        chart
            .draw_series(LineSeries::new(both.clone(), colour.stroke_width(3)))
            .map_err(|e| e.to_string())?
            .label(format!("{loss_pct}% loss: both attack"))
            .legend(move |(x, y)| {
                PathElement::new(vec![(x, y), (x + 18, y)], colour.stroke_width(3))
            });
        chart
            .draw_series(both.iter().map(|&p| Circle::new(p, 5, colour.filled())))
            .map_err(|e| e.to_string())?;
        chart
            .draw_series(DashedLineSeries::new(
                alone.clone(),
                8,
                5,
                colour.stroke_width(2),
            ))
            .map_err(|e| e.to_string())?
            .label(format!("{loss_pct}% loss: one alone"))
            .legend(move |(x, y)| {
                PathElement::new(vec![(x, y), (x + 6, y)], colour.stroke_width(2))
            });
        chart
            .draw_series(
                alone
                    .iter()
                    .map(|&p| TriangleMarker::new(p, 5, colour.filled())),
            )
            .map_err(|e| e.to_string())?;
    }
    chart
        .configure_series_labels()
        .position(SeriesLabelPosition::LowerLeft)
        .label_font(("sans-serif", 13))
        .background_style(WHITE.mix(0.85))
        .border_style(RGBColor(200, 200, 200))
        .draw()
        .map_err(|e| e.to_string())
}

/// The page's note under the plot: the rounds behind each point.
pub fn note(cells: &[Cell]) -> String {
    let rows: Vec<String> = by_loss(cells)
        .iter()
        .map(|(loss, row)| {
            let ks: Vec<String> = row
                .iter()
                .map(|c| {
                    format!(
                        "K={}: {}/{} both attacked, {} alone",
                        c.acks, c.both_attack, c.rounds, c.one_alone
                    )
                })
                .collect();
            format!(
                "{}% loss: {}",
                (loss * 1000.0).round() / 10.0,
                ks.join(", ")
            )
        })
        .collect();
    format!(
        "Solid lines: rounds in which both generals attacked (agreement); dashed: rounds in \
         which one attacked alone (the rest: both held). Each round is put at the link loss in \
         force while it ran (rounds during which it changed are left out). {}.",
        rows.join("; ")
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn cells_are_read_from_results_and_drawn() {
        let results = json!({"checkers": {"generals": {"cells": [
            {"loss": 0.3, "acks": 1, "rounds": 10, "both_attack": 7, "one_alone": 2},
            {"loss": 0.0, "acks": 0, "rounds": 4, "both_attack": 4, "one_alone": 0},
            {"loss": 0.3, "acks": 0, "rounds": 10, "both_attack": 9, "one_alone": 1},
            {"loss": 0.3, "acks": 2, "rounds": 0, "both_attack": 0, "one_alone": 0}
        ]}}});
        let cs = cells(&results);
        assert_eq!(cs.len(), 3, "a cell without rounds is left out");
        let grouped = by_loss(&cs);
        assert_eq!(grouped.len(), 2);
        assert_eq!(
            grouped[1].1.iter().map(|c| c.acks).collect::<Vec<_>>(),
            [0, 1]
        );
        let n = note(&cs);
        assert!(
            n.contains("30% loss: K=0: 9/10 both attacked, 1 alone, K=1: 7/10"),
            "{n}"
        );
        let dir = std::env::temp_dir().join(format!("agreement-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let png = dir.join("agreement.png");
        let (p, s) = render(&cs, &png);
        p.unwrap();
        let svg = s.unwrap();
        assert!(svg.contains("<svg") && svg.contains("30% loss: both attack"));
        assert!(std::fs::metadata(&png).unwrap().len() > 1000);
        std::fs::remove_dir_all(&dir).unwrap();
        assert!(cells(&json!({"checkers": {}})).is_empty());
    }
}
