//! Human reports: `report.html` per run, PNG/SVG plots with fault periods shaded, the
//! operation timeline, the counterexample view, and `results/index.html`.
//! (Skeleton: filled in by issue 5.)
