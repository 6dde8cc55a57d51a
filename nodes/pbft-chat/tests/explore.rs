use pbft_chat::faults::*;
use pbft_chat::sim::*;
#[test]
fn explore() {
    for seed in 0..5u64 {
        let mut c = SimConfig::new(seed);
        if let Ok(m) = std::env::var("MODE") { c.byzantine.insert(std::env::var("BYZ").ok().and_then(|s| s.parse().ok()).unwrap_or(1), m.parse().unwrap()); }
        if std::env::var("NOPART").is_ok() { c.partitions = false; c.loss = 0.0; }
        let t = std::time::Instant::now();
        let r = run(&c);
        println!("seed {seed}: {:?} accepted {} logs {:?} view {} viol {:?} det {:?}", t.elapsed(), r.accepted.len(), r.logs.values().map(|l| l.len()).collect::<Vec<_>>(), r.max_view, &r.violations[..r.violations.len().min(3)], r.detections.iter().map(|(a,d)| (a, d.line())).collect::<Vec<_>>());
    }
}
