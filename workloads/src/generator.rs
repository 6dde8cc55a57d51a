//! The seeded randomness of workloads: one ChaCha stream per worker, derived from the test
//! seed and the worker index only, so the same seed gives every worker the same op sequence
//! however the run's timing goes.

use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;

/// The random stream of worker `worker` for a test seeded with `seed`.
pub fn worker_rng(seed: u64, worker: usize) -> ChaCha8Rng {
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    rng.set_stream(worker as u64 + 1);
    rng
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::Rng;

    #[test]
    fn same_seed_same_stream_and_workers_differ() {
        let a: Vec<u32> = (0..8)
            .map({
                let mut r = worker_rng(7, 3);
                move |_| r.gen()
            })
            .collect();
        let b: Vec<u32> = (0..8)
            .map({
                let mut r = worker_rng(7, 3);
                move |_| r.gen()
            })
            .collect();
        let c: Vec<u32> = (0..8)
            .map({
                let mut r = worker_rng(7, 4);
                move |_| r.gen()
            })
            .collect();
        let d: Vec<u32> = (0..8)
            .map({
                let mut r = worker_rng(8, 3);
                move |_| r.gen()
            })
            .collect();
        assert_eq!(a, b);
        assert_ne!(a, c);
        assert_ne!(a, d);
    }
}
