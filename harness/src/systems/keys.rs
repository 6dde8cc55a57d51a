//! Per-run signing keys for systems whose nodes sign their messages (pbft-chat, gossip):
//! the node binary's own `keygen --n N --out DIR` is run once per run into `<run>/<folder>/`
//! (beside `<run>/nodes/`), so each node can be given only its own secret key file.

use std::path::{Path, PathBuf};
use std::process::Command;

use super::{NodeSpec, SystemError};

/// The run's keys folder `<run>/<folder>`, found from the node's log dir
/// (`<run>/nodes/<name>`).
pub fn keys_dir(node: &NodeSpec, folder: &str) -> PathBuf {
    let nodes_dir = node.log_dir.parent().unwrap_or(Path::new("."));
    nodes_dir.parent().unwrap_or(Path::new(".")).join(folder)
}

/// Runs `BIN keygen --n N --out DIR` unless `DIR/public` already exists (once per run).
pub fn ensure_keys(bin: &Path, dir: &Path, n: usize, public: &str) -> Result<(), SystemError> {
    if dir.join(public).is_file() {
        return Ok(());
    }
    let out = Command::new(bin)
        .arg("keygen")
        .arg("--n")
        .arg(n.to_string())
        .arg("--out")
        .arg(dir)
        .output()?;
    if !out.status.success() {
        return Err(SystemError::BadConfig(format!(
            "`{} keygen --n {n} --out {}` failed: {}",
            bin.display(),
            dir.display(),
            String::from_utf8_lossy(&out.stderr).trim()
        )));
    }
    Ok(())
}
