//! Keys and signatures: ed25519 key pairs per node, hex encoding, the exact bytes an origin
//! signs for a chat message, and the key files written by `gossip-node keygen` (one secret
//! file per node, one public file listing every node's public key).

use ed25519_dalek::{Signature, Signer, SigningKey, Verifier, VerifyingKey};
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

/// Domain separation prefix of every signed message.
const SIGN_DOMAIN: &[u8] = b"gossip-chat-v1\0";

/// Why a key file could not be read or written.
#[derive(Debug, thiserror::Error)]
pub enum KeyError {
    /// Reading or writing a file failed.
    #[error("{path}: {source}")]
    Io {
        /// The file.
        path: PathBuf,
        /// What failed.
        source: std::io::Error,
    },
    /// A file's content is not what it should be.
    #[error("{path}:{line}: {message}")]
    Format {
        /// The file.
        path: PathBuf,
        /// 1-based line number.
        line: usize,
        /// What is wrong.
        message: String,
    },
}

/// Lowercase hex of some bytes.
pub fn to_hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// Bytes from hex; `None` if the text is not hex of even length.
pub fn from_hex(text: &str) -> Option<Vec<u8>> {
    if !text.len().is_multiple_of(2) || !text.is_ascii() {
        return None;
    }
    (0..text.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&text[i..i + 2], 16).ok())
        .collect()
}

/// The bytes an origin signs for message (origin, seq, body).
pub fn signed_bytes(origin: u64, seq: u64, body: &str) -> Vec<u8> {
    let mut v = Vec::with_capacity(SIGN_DOMAIN.len() + 16 + body.len());
    v.extend_from_slice(SIGN_DOMAIN);
    v.extend_from_slice(&origin.to_be_bytes());
    v.extend_from_slice(&seq.to_be_bytes());
    v.extend_from_slice(body.as_bytes());
    v
}

/// Hex signature of (origin, seq, body) under `key`.
pub fn sign(key: &SigningKey, origin: u64, seq: u64, body: &str) -> String {
    to_hex(&key.sign(&signed_bytes(origin, seq, body)).to_bytes())
}

/// Whether `sig_hex` is a valid signature of (origin, seq, body) under `public`.
pub fn verify(public: &VerifyingKey, origin: u64, seq: u64, body: &str, sig_hex: &str) -> bool {
    let Some(bytes) = from_hex(sig_hex) else {
        return false;
    };
    let Ok(sig) = Signature::from_slice(&bytes) else {
        return false;
    };
    public
        .verify(&signed_bytes(origin, seq, body), &sig)
        .is_ok()
}

/// A signing key from 32 seed bytes (tests and the simulator derive them from a seed).
pub fn key_from_seed(seed: [u8; 32]) -> SigningKey {
    SigningKey::from_bytes(&seed)
}

/// The secret key file of node `id` inside a key directory.
pub fn secret_path(dir: &Path, id: u64) -> PathBuf {
    dir.join(format!("node{id}.key"))
}

/// The public key file inside a key directory.
pub fn public_path(dir: &Path) -> PathBuf {
    dir.join("public.txt")
}

fn io_err(path: &Path) -> impl FnOnce(std::io::Error) -> KeyError + '_ {
    move |source| KeyError::Io {
        path: path.to_path_buf(),
        source,
    }
}

/// Write `text` to `path` atomically (temporary file, then rename).
fn write_atomic(path: &Path, text: &str) -> Result<(), KeyError> {
    let tmp = path.with_extension("tmp");
    std::fs::write(&tmp, text).map_err(io_err(&tmp))?;
    std::fs::rename(&tmp, path).map_err(io_err(path))
}

/// Generate keys for nodes 1..=n into `dir` (created if missing): `node<i>.key` (the
/// secret key, 64 hex digits) and `public.txt` (`<id> <public key hex>` per line, `#`
/// comments allowed). Returns the files written.
pub fn keygen<R>(dir: &Path, n: u64, rng: &mut R) -> Result<Vec<PathBuf>, KeyError>
where
    R: rand::RngCore + rand::CryptoRng,
{
    std::fs::create_dir_all(dir).map_err(io_err(dir))?;
    let mut public =
        String::from("# gossip-node public keys: <node id> <ed25519 public key, hex>\n");
    let mut written = Vec::new();
    for id in 1..=n {
        let key = SigningKey::generate(rng);
        let path = secret_path(dir, id);
        write_atomic(&path, &format!("{}\n", to_hex(&key.to_bytes())))?;
        written.push(path);
        public.push_str(&format!(
            "{id} {}\n",
            to_hex(key.verifying_key().as_bytes())
        ));
    }
    let path = public_path(dir);
    write_atomic(&path, &public)?;
    written.push(path);
    Ok(written)
}

/// Read a secret key file (64 hex digits, surrounding whitespace ignored).
pub fn read_secret(path: &Path) -> Result<SigningKey, KeyError> {
    let text = std::fs::read_to_string(path).map_err(io_err(path))?;
    let bytes = from_hex(text.trim())
        .and_then(|b| <[u8; 32]>::try_from(b).ok())
        .ok_or_else(|| KeyError::Format {
            path: path.to_path_buf(),
            line: 1,
            message: "expected an ed25519 secret key as 64 hex digits".into(),
        })?;
    Ok(SigningKey::from_bytes(&bytes))
}

/// Parse one `<id> <hex>` line of a public key file.
fn parse_public_line(line: &str) -> Result<(u64, VerifyingKey), String> {
    let (id, hex) = line
        .split_once(char::is_whitespace)
        .ok_or("expected `<node id> <public key hex>`")?;
    let id: u64 = id.parse().map_err(|_| format!("{id:?} is not a node id"))?;
    let bytes = from_hex(hex.trim())
        .and_then(|b| <[u8; 32]>::try_from(b).ok())
        .ok_or("expected an ed25519 public key as 64 hex digits")?;
    let key = VerifyingKey::from_bytes(&bytes).map_err(|e| format!("not a public key: {e}"))?;
    Ok((id, key))
}

/// Read a public key file: node id → public key.
pub fn read_public(path: &Path) -> Result<BTreeMap<u64, VerifyingKey>, KeyError> {
    let text = std::fs::read_to_string(path).map_err(io_err(path))?;
    let mut keys = BTreeMap::new();
    for (i, line) in text.lines().enumerate() {
        let line = line.trim();
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        let fmt = |message: String| KeyError::Format {
            path: path.to_path_buf(),
            line: i + 1,
            message,
        };
        let (id, key) = parse_public_line(line).map_err(fmt)?;
        if keys.insert(id, key).is_some() {
            return Err(fmt(format!("node {id} listed twice")));
        }
    }
    Ok(keys)
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::SeedableRng;

    #[test]
    fn hex_round_trips_and_rejects_garbage() {
        assert_eq!(
            from_hex(&to_hex(&[0, 1, 254, 255])),
            Some(vec![0, 1, 254, 255])
        );
        assert_eq!(from_hex("abc"), None);
        assert_eq!(from_hex("zz"), None);
        assert_eq!(from_hex("é1"), None);
    }

    #[test]
    fn signatures_bind_origin_seq_and_body() {
        let k = key_from_seed([7; 32]);
        let other = key_from_seed([8; 32]);
        let sig = sign(&k, 1, 2, "hi");
        let pk = k.verifying_key();
        assert!(verify(&pk, 1, 2, "hi", &sig));
        assert!(!verify(&pk, 1, 2, "hi!", &sig));
        assert!(!verify(&pk, 1, 3, "hi", &sig));
        assert!(!verify(&pk, 2, 2, "hi", &sig));
        assert!(!verify(&other.verifying_key(), 1, 2, "hi", &sig));
        assert!(!verify(&pk, 1, 2, "hi", ""));
        assert!(!verify(&pk, 1, 2, "hi", "nothex"));
    }

    #[test]
    fn keygen_writes_files_that_read_back() {
        let dir = tempfile::tempdir().expect("tmp");
        let mut rng = rand_chacha::ChaCha20Rng::seed_from_u64(1);
        let files = keygen(dir.path(), 3, &mut rng).expect("keygen");
        assert_eq!(files.len(), 4);
        let public = read_public(&public_path(dir.path())).expect("public");
        assert_eq!(public.len(), 3);
        for id in 1..=3 {
            let sk = read_secret(&secret_path(dir.path(), id)).expect("secret");
            assert_eq!(sk.verifying_key(), public[&id]);
        }
    }

    #[test]
    fn bad_key_files_name_file_and_line() {
        let dir = tempfile::tempdir().expect("tmp");
        let p = dir.path().join("public.txt");
        std::fs::write(&p, "# c\n1 00\n").expect("write");
        let e = read_public(&p).expect_err("bad").to_string();
        assert!(e.contains("public.txt:2"), "{e}");
        std::fs::write(&p, "x abc\n").expect("write");
        assert!(read_public(&p)
            .expect_err("bad")
            .to_string()
            .contains("not a node id"));
        let s = dir.path().join("node1.key");
        std::fs::write(&s, "short\n").expect("write");
        assert!(read_secret(&s)
            .expect_err("bad")
            .to_string()
            .contains("node1.key:1"));
        let missing = read_secret(&dir.path().join("none.key")).expect_err("missing");
        assert!(missing.to_string().contains("none.key"));
    }
}
