//! Systems under test beyond the bundled `raft-kv`: etcd ([`etcd`]) and systems a user
//! describes in a TOML file ([`user`]). [`build`] is the hook [`crate::cluster::db::build_db`]
//! calls first: it answers for `--db-config FILE` and `--db etcd`, and leaves every other
//! `--db` name to `build_db`.

pub mod etcd;
pub mod user;

use std::path::Path;

use crate::cluster::db::{Db, DbError, DbSpec};

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
    fn only_etcd_discards_its_data() {
        let etcd = DbSpec {
            db: "etcd".into(),
            ..DbSpec::default()
        };
        assert!(discards_data_after_pass(&etcd));
        assert!(!discards_data_after_pass(&DbSpec::default()));
    }
}
