//! Key files: `pbft-node keygen --n 4 --out DIR` writes `node<i>.key` (one ed25519 secret
//! per node, hex, mode 0600) and `public.json` (`{"1": "<hex public key>", ...}`), so each
//! node can be given only its own secret. For the seed session, `ensure_default_keys`
//! creates a shared demo folder once, race-free (keys are written to a private temporary
//! folder that is renamed into place; a node that loses the race uses the winner's).

use crate::types::ReplicaId;
use ed25519_dalek::{SigningKey, VerifyingKey};
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

/// Why key files could not be written or read.
#[derive(Debug, thiserror::Error)]
pub enum KeyError {
    /// A file or folder could not be read or written.
    #[error("{path}: {source}")]
    Io {
        /// The path.
        path: PathBuf,
        /// What failed.
        source: std::io::Error,
    },
    /// A file's content is not what it should be.
    #[error("{path}: {reason}")]
    Bad {
        /// The path.
        path: PathBuf,
        /// What is wrong.
        reason: String,
    },
}

fn io_err(path: &Path) -> impl FnOnce(std::io::Error) -> KeyError + '_ {
    move |source| KeyError::Io {
        path: path.to_path_buf(),
        source,
    }
}

/// The secret key file of node `id` inside a keys folder.
pub fn secret_path(dir: &Path, id: ReplicaId) -> PathBuf {
    dir.join(format!("node{id}.key"))
}

/// The public key file inside a keys folder.
pub fn public_path(dir: &Path) -> PathBuf {
    dir.join("public.json")
}

/// Generate keys for nodes 1..=n into `dir` (created; existing key files are refused).
pub fn generate(n: u64, dir: &Path) -> Result<(), KeyError> {
    std::fs::create_dir_all(dir).map_err(io_err(dir))?;
    let mut public = BTreeMap::new();
    let mut rng = rand::rngs::OsRng;
    for id in 1..=n {
        let key = SigningKey::generate(&mut rng);
        let path = secret_path(dir, id);
        write_new(&path, hex::encode(key.to_bytes()).as_bytes(), 0o600)?;
        public.insert(id.to_string(), hex::encode(key.verifying_key().to_bytes()));
    }
    let json = serde_json::to_vec_pretty(&public).unwrap_or_default();
    write_new(&public_path(dir), &json, 0o644)
}

fn write_new(path: &Path, bytes: &[u8], mode: u32) -> Result<(), KeyError> {
    use std::io::Write;
    use std::os::unix::fs::OpenOptionsExt;
    let mut f = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(mode)
        .open(path)
        .map_err(io_err(path))?;
    f.write_all(bytes).map_err(io_err(path))?;
    f.sync_all().map_err(io_err(path))
}

/// Make sure the demo keys folder `dir` exists with keys for n nodes: the first node to get
/// here generates them in a temporary folder and renames it into place atomically.
pub fn ensure_default_keys(dir: &Path, n: u64) -> Result<(), KeyError> {
    if public_path(dir).exists() {
        return Ok(());
    }
    let parent = match dir.parent() {
        Some(p) if !p.as_os_str().is_empty() => p.to_path_buf(),
        _ => PathBuf::from("."),
    };
    std::fs::create_dir_all(&parent).map_err(io_err(&parent))?;
    let tmp = parent.join(format!(
        ".{}.tmp-{}-{:016x}",
        dir.file_name().and_then(|s| s.to_str()).unwrap_or("keys"),
        std::process::id(),
        rand::random::<u64>()
    ));
    if let Err(e) = generate(n, &tmp) {
        let _ = std::fs::remove_dir_all(&tmp);
        return Err(e);
    }
    match std::fs::rename(&tmp, dir) {
        Ok(()) => Ok(()),
        Err(_) if public_path(dir).exists() => {
            // Another node won the race; use its keys.
            let _ = std::fs::remove_dir_all(&tmp);
            Ok(())
        }
        Err(e) => {
            let _ = std::fs::remove_dir_all(&tmp);
            Err(KeyError::Io {
                path: dir.to_path_buf(),
                source: e,
            })
        }
    }
}

/// Read one node's secret key.
pub fn load_secret(path: &Path) -> Result<SigningKey, KeyError> {
    let text = std::fs::read_to_string(path).map_err(io_err(path))?;
    let mut bytes = [0u8; 32];
    hex::decode_to_slice(text.trim(), &mut bytes).map_err(|e| KeyError::Bad {
        path: path.to_path_buf(),
        reason: format!("not a 64-hex-digit ed25519 secret key: {e}"),
    })?;
    Ok(SigningKey::from_bytes(&bytes))
}

/// Read every node's public key.
pub fn load_public(path: &Path) -> Result<BTreeMap<ReplicaId, VerifyingKey>, KeyError> {
    let bad = |reason: String| KeyError::Bad {
        path: path.to_path_buf(),
        reason,
    };
    let text = std::fs::read_to_string(path).map_err(io_err(path))?;
    let map: BTreeMap<String, String> = serde_json::from_str(&text)
        .map_err(|e| bad(format!("expected {{\"1\": \"<hex key>\", ...}}: {e}")))?;
    let mut out = BTreeMap::new();
    for (id, key) in map {
        let id: ReplicaId = id
            .parse()
            .map_err(|_| bad(format!("{id:?} is not a node id")))?;
        let mut bytes = [0u8; 32];
        hex::decode_to_slice(key.trim(), &mut bytes)
            .map_err(|e| bad(format!("node {id}: bad hex key: {e}")))?;
        let vk = VerifyingKey::from_bytes(&bytes)
            .map_err(|e| bad(format!("node {id}: not an ed25519 public key: {e}")))?;
        out.insert(id, vk);
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn generated_keys_load_and_match() {
        let dir = tempfile::tempdir().expect("tmp");
        let keys = dir.path().join("k");
        generate(4, &keys).expect("gen");
        let public = load_public(&public_path(&keys)).expect("public");
        assert_eq!(public.len(), 4);
        let s3 = load_secret(&secret_path(&keys, 3)).expect("secret");
        assert_eq!(s3.verifying_key(), public[&3]);
        assert!(generate(4, &keys).is_err(), "never overwrites keys");
    }

    #[test]
    fn racing_nodes_end_with_one_key_set() {
        let dir = tempfile::tempdir().expect("tmp");
        let keys = dir.path().join("demo-keys");
        let handles: Vec<_> = (0..4)
            .map(|_| {
                let k = keys.clone();
                std::thread::spawn(move || ensure_default_keys(&k, 4))
            })
            .collect();
        for h in handles {
            h.join().expect("join").expect("ensure");
        }
        let public = load_public(&public_path(&keys)).expect("public");
        for id in 1..=4 {
            let s = load_secret(&secret_path(&keys, id)).expect("secret");
            assert_eq!(s.verifying_key(), public[&id]);
        }
    }

    #[test]
    fn corrupt_files_are_named_in_the_error() {
        let dir = tempfile::tempdir().expect("tmp");
        let p = dir.path().join("node1.key");
        std::fs::write(&p, "zz").expect("write");
        let e = load_secret(&p).expect_err("bad").to_string();
        assert!(e.contains("node1.key") && e.contains("secret"), "{e}");
        let q = dir.path().join("public.json");
        std::fs::write(&q, "[]").expect("write");
        assert!(load_public(&q)
            .expect_err("bad")
            .to_string()
            .contains("public.json"));
    }
}
