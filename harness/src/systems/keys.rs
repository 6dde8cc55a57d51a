//! Per-run signing keys for systems whose nodes sign their messages (pbft-chat, gossip):
//! the node binary's own `keygen --n N --out DIR` is run once per run into `<run>/<folder>/`
//! (beside `<run>/nodes/`), so each node can be given only its own secret key file; and the
//! command line both chat nodes share.

use std::path::{Path, PathBuf};
use std::process::Command;

use super::{NodeSpec, SystemError};

/// `BIN --id I --listen ADDR --peer J=ADDR... --data-dir D --key <keys>/node<I>.key
/// --public <keys>/<public>`, with the run's keys (in `<run>/<folder>`) made first: how
/// both bundled chat nodes are started.
pub fn signed_node_command(
    bin: &Path,
    node: &NodeSpec,
    n: usize,
    folder: &str,
    public: &str,
) -> Result<Command, SystemError> {
    let keys = keys_dir(node, folder);
    ensure_keys(bin, &keys, n, public)?;
    let mut cmd = Command::new(bin);
    cmd.arg("--id")
        .arg(node.id.to_string())
        .arg("--listen")
        .arg(node.listen.to_string());
    for (id, _name, addr) in &node.peer_addrs {
        cmd.arg("--peer").arg(format!("{id}={addr}"));
    }
    cmd.arg("--data-dir")
        .arg(&node.data_dir)
        .arg("--key")
        .arg(keys.join(format!("node{}.key", node.id)))
        .arg("--public")
        .arg(keys.join(public));
    Ok(cmd)
}

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
        .output()
        .map_err(crate::pathio::PathError::at("running", bin))?;
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

/// Test fixture of the signed systems: node `id` of `n` on loopback, its client port
/// `ports.0 + id` and its peers' ports `ports.1 + peer`, with folders under `run/nodes/`.
#[cfg(test)]
pub fn test_node(id: u64, n: u64, run: &Path, ports: (u64, u64)) -> NodeSpec {
    let dir = run.join("nodes").join(format!("n{id}"));
    let addr = |port: u64| format!("127.0.0.1:{port}").parse().unwrap();
    NodeSpec {
        id,
        name: format!("n{id}"),
        listen: addr(ports.0 + id),
        client_addr: addr(ports.0 + id),
        peer_addrs: (1..=n)
            .filter(|&p| p != id)
            .map(|p| (p, format!("n{p}"), addr(ports.1 + p)))
            .collect(),
        data_dir: dir.join("data"),
        log_dir: dir,
    }
}
