//! Systems under test beyond the bundled `raft-kv`: etcd ([`etcd`]) and systems a user
//! describes in a TOML file ([`user`]). [`build`] is the hook [`crate::cluster::db::build_db`]
//! calls first: it answers for `--db-config FILE` and `--db etcd`, and leaves every other
//! `--db` name to `build_db`.

pub mod etcd;
pub mod user;

use std::path::Path;

use crate::cluster::db::{Db, DbError, DbSpec};
use crate::cluster::nemesis::FaultKind;
use crate::cluster::NetMode;

/// The [`Db`] for `spec` if it names a system of this module (`--db-config` wins over `--db`),
/// else `None`.
pub fn build(spec: &DbSpec) -> Option<Result<Box<dyn Db>, DbError>> {
    if let Some(path) = &spec.db_config {
        if !matches!(spec.db.as_str(), "" | "raft-kv" | "user") {
            return Some(Err(DbError::BadConfig(format!(
                "--db {} and --db-config {} both name the system: give one",
                spec.db,
                path.display()
            ))));
        }
        return Some(user::UserDb::load(path, spec).map(|db| Box::new(db) as Box<dyn Db>));
    }
    match spec.db.as_str() {
        "etcd" => Some(etcd::EtcdDb::from_spec(spec).map(|db| Box::new(db) as Box<dyn Db>)),
        _ => None,
    }
}

/// The names [`build`] answers for, for `--db` help and error messages.
pub const NAMES: &[&str] = &["etcd"];

/// Why a test of `db` with `faults` on the `net` backend cannot run, if it cannot: a system
/// that cannot be given one address per peer (etcd) runs on loopback with direct peer links
/// when network namespaces are unavailable, and there nothing can cut a link. `netns_ok` is
/// whether the netns backend is usable here (root / CAP_NET_ADMIN).
pub fn partition_refusal(
    db: &dyn Db,
    net: NetMode,
    faults: &[FaultKind],
    netns_ok: &Result<(), String>,
) -> Option<String> {
    if !faults.contains(&FaultKind::Partition) {
        return None;
    }
    let why = loopback_reason(db, net, netns_ok)?;
    Some(format!(
        "--nemesis partition cannot run on {}: {why}, and {} cannot be given a proxy per peer \
         link (its nodes would run on 127.0.0.1 talking directly). Run as root for --net netns, \
         or use --nemesis pause,kill, which work on loopback",
        db.name(),
        db.name()
    ))
}

/// Why `db`'s nodes will run on loopback with direct peer links (no per-link proxy, no
/// network namespaces), if they will: the line the harness logs so the user knows.
pub fn loopback_reason(db: &dyn Db, net: NetMode, netns_ok: &Result<(), String>) -> Option<String> {
    if db.supports_proxy() {
        return None;
    }
    match (net, netns_ok) {
        (NetMode::Netns, _) | (NetMode::Auto, Ok(())) => None,
        (NetMode::Proxy, _) => Some("--net proxy was asked for".to_string()),
        (NetMode::Auto, Err(e)) => Some(format!("network namespaces are unavailable ({e})")),
    }
}

/// The note the harness logs when `db`'s nodes run on loopback with direct peer links.
pub fn loopback_note(db: &dyn Db, net: NetMode, netns_ok: &Result<(), String>) -> Option<String> {
    loopback_reason(db, net, netns_ok).map(|why| {
        format!(
            "{why}: {} cannot be given a proxy per peer link, so its nodes run on 127.0.0.1 \
             talking directly; pause and kill faults work, partitions need --net netns (root)",
            db.name()
        )
    })
}

/// Whether a passing run of `spec`'s system should lose its nodes' data directories: etcd
/// preallocates about 60-120 MB per member, which a store of many runs cannot keep.
pub fn discards_data_after_pass(spec: &DbSpec) -> bool {
    spec.db_config.is_none() && spec.db == "etcd"
}

/// Deletes `run_dir/nodes/*/data` (logs stay); returns the bytes freed.
pub fn delete_node_data(run_dir: &Path) -> std::io::Result<u64> {
    let mut freed = 0;
    let nodes = run_dir.join("nodes");
    if !nodes.is_dir() {
        return Ok(0);
    }
    for entry in std::fs::read_dir(&nodes)? {
        let data = entry?.path().join("data");
        if data.is_dir() {
            freed += dir_size(&data);
            std::fs::remove_dir_all(&data)?;
        }
    }
    Ok(freed)
}

fn dir_size(dir: &Path) -> u64 {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return 0;
    };
    entries
        .flatten()
        .map(|e| match e.file_type() {
            Ok(t) if t.is_dir() => dir_size(&e.path()),
            Ok(_) => e.metadata().map(|m| m.len()).unwrap_or(0),
            Err(_) => 0,
        })
        .sum()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn node_data_goes_and_logs_stay() {
        let run = tempfile::tempdir().expect("temp dir");
        for n in ["n1", "n2"] {
            let node = run.path().join("nodes").join(n);
            std::fs::create_dir_all(node.join("data/member/wal")).expect("mkdir");
            std::fs::write(node.join("data/member/wal/0.wal"), vec![0u8; 1000]).expect("write");
            std::fs::write(node.join("stderr.log"), "log").expect("write");
        }
        assert_eq!(delete_node_data(run.path()).expect("delete"), 2000);
        for n in ["n1", "n2"] {
            let node = run.path().join("nodes").join(n);
            assert!(!node.join("data").exists());
            assert!(node.join("stderr.log").is_file());
        }
        assert_eq!(delete_node_data(run.path()).expect("again"), 0);
    }

    #[test]
    fn partitions_of_a_proxyless_system_need_netns() {
        let etcd = etcd::EtcdDb::from_spec(&DbSpec {
            db: "etcd".into(),
            db_bin: Some("/bin/sh".into()),
            ..DbSpec::default()
        })
        .expect("db");
        let part = [FaultKind::Partition, FaultKind::Kill];
        let why = partition_refusal(&etcd, NetMode::Proxy, &part, &Ok(())).expect("refused");
        assert!(why.contains("--net proxy") && why.contains("etcd"), "{why}");
        let why = partition_refusal(&etcd, NetMode::Auto, &part, &Err("not root".into()))
            .expect("refused");
        assert!(why.contains("not root"), "{why}");
        assert!(partition_refusal(&etcd, NetMode::Auto, &part, &Ok(())).is_none());
        assert!(partition_refusal(&etcd, NetMode::Netns, &part, &Err("x".into())).is_none());
        let kill = [FaultKind::Pause, FaultKind::Kill];
        assert!(partition_refusal(&etcd, NetMode::Proxy, &kill, &Ok(())).is_none());
        let note = loopback_note(&etcd, NetMode::Proxy, &Ok(())).expect("note");
        assert!(
            note.contains("127.0.0.1") && note.contains("pause and kill"),
            "{note}"
        );
        assert!(loopback_note(&etcd, NetMode::Netns, &Ok(())).is_none());
    }

    #[test]
    fn only_etcd_discards_its_data() {
        let etcd = DbSpec {
            db: "etcd".into(),
            ..DbSpec::default()
        };
        assert!(discards_data_after_pass(&etcd));
        assert!(!discards_data_after_pass(&DbSpec::default()));
    }
}
