//! A real run records the wall time of every phase: `results.json` has a `phases` object
//! with `<phase>_ms` for each of setup, start, main, heal, recovery, final reads, teardown,
//! check and report plus `total_ms` (the older `phases_ms` object stays), `harness.log` has
//! one `phase NAME: X ms` line per phase in run order, and `harness analyze` keeps both.
//! Presence and order only: no wall-clock bounds (the machine is shared).

mod e2e_support;

use e2e_support::{harness, harness_bin, results_of, run_dir, serial};
use harness::run::phases::PHASES;

#[test]
fn run_records_every_phase_in_results_and_log() {
    let _one_at_a_time = serial();
    harness_bin();
    let store = tempfile::tempdir().unwrap();
    let store_s = store.path().to_str().unwrap();
    let r = harness(&[
        "test",
        "--nodes",
        "3",
        "--net",
        "proxy",
        "--time-limit",
        "1",
        "--recovery-time",
        "0",
        "--store",
        store_s,
        "--seed",
        "3",
    ]);
    assert_eq!(r.code, 0, "{}\n{}", r.stdout, r.stderr);
    let dir = run_dir(&r);
    let results = results_of(&dir);
    let phases = &results["phases"];
    let mut sum = 0.0;
    for name in PHASES {
        let v = phases[format!("{name}_ms")]
            .as_f64()
            .unwrap_or_else(|| panic!("no {name}_ms in {phases}"));
        assert!(v >= 0.0, "{name}_ms = {v}");
        sum += v;
    }
    let total = phases["total_ms"].as_f64().expect("total_ms");
    assert!(
        sum <= total + 1.0,
        "the phases follow each other: their sum {sum} fits in the total {total}"
    );
    for old in [
        "setup",
        "main",
        "heal",
        "recovery",
        "final-reads",
        "teardown",
        "check",
    ] {
        assert!(
            results["phases_ms"][old].is_number(),
            "phases_ms keeps {old}: {}",
            results["phases_ms"]
        );
    }

    let log = std::fs::read_to_string(dir.join("harness.log")).unwrap();
    let at: Vec<usize> = PHASES
        .iter()
        .map(|n| {
            log.find(&format!(" phase {n}: "))
                .unwrap_or_else(|| panic!("no `phase {n}:` line in harness.log:\n{log}"))
        })
        .collect();
    assert!(
        at.windows(2).all(|w| w[0] < w[1]),
        "phase lines in run order:\n{log}"
    );

    let a = harness(&["analyze", "--no-report", dir.to_str().unwrap()]);
    assert_eq!(a.code, 0, "{}\n{}", a.stdout, a.stderr);
    assert_eq!(
        results_of(&dir)["phases"],
        *phases,
        "analyze keeps the phases"
    );
}
