//! Systems under test beyond the bundled `raft-kv`: etcd ([`etcd`]) and systems a user
//! describes in a TOML file ([`user`]). [`build`] is the hook [`crate::cluster::db::build_db`]
//! calls first: it answers for `--db-config FILE` and `--db etcd`, and leaves every other
//! `--db` name to `build_db`.

pub mod etcd;
pub mod user;

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
