//! Guaranteed cleanup. (Being built.)

use super::ClusterError;

/// What `harness clean` removed (or would remove, in a dry run).
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize)]
pub struct CleanReport {
    pub processes: Vec<String>,
    pub namespaces: Vec<String>,
    pub links: Vec<String>,
    pub manifests: Vec<String>,
    /// Runs whose harness is still alive, left alone.
    pub skipped_live: Vec<String>,
}

/// A fresh run prefix: `hx` + 6 lowercase alphanumerics.
pub fn new_run_prefix() -> String {
    use rand::Rng;
    const CHARS: &[u8] = b"abcdefghijklmnopqrstuvwxyz0123456789";
    let mut rng = rand::thread_rng();
    let tail: String = (0..6)
        .map(|_| CHARS[rng.gen_range(0..CHARS.len())] as char)
        .collect();
    format!("hx{tail}")
}

/// Installs the Ctrl-C / SIGTERM handler that tears down live clusters, then exits 130 / 143.
/// Call once from inside the tokio runtime.
pub fn install_signal_cleanup() -> Result<(), ClusterError> {
    Ok(())
}

/// Removes leftovers (processes, namespaces, links) of dead runs whose prefix starts with
/// `prefix`. With `dry_run`, only reports.
pub fn clean_leftovers(prefix: &str, dry_run: bool) -> Result<CleanReport, ClusterError> {
    let _ = (prefix, dry_run);
    Ok(CleanReport::default())
}
