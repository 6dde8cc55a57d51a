//! The results store (docs/design.md, "Results store"): the run folder
//! `<store>/<test-name>/<YYYYMMDDTHHMMSS.mmmZ>-seed<N>[-<bug>...]/`, renamed once checked to
//! end in `-VALID`, `-INVALID` or `-UNKNOWN` (older stores hold bare stamps; every reader
//! takes any folder name that starts with the stamp), atomic JSON writes (`test.json`,
//! `results.json`), the `latest` symlinks (`<store>/<name>/latest -> <stamp>` and
//! `<store>/latest -> <name>/<stamp>`, replaced atomically by rename), the git SHA, and
//! the deletion of node data after a passing run of a system that asks for it. The run's
//! `harness.log` is [`crate::logging::RunLog`].

use crate::pathio::PathError;
use checker::Validity;
use std::fs::File;
use std::io::Write;
use std::path::{Path, PathBuf};
use time::OffsetDateTime;

/// One run's folder in the store.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RunDir {
    /// The store root (`./results` by default).
    pub store: PathBuf,
    /// The test name (first path component under the store).
    pub name: String,
    /// `YYYYMMDDTHHMMSS.mmmZ`.
    pub stamp: String,
    /// The folder's name: the stamp, the label (`seed7-stale-read`) and, once checked, the
    /// verdict (`-INVALID`).
    pub folder: String,
    /// `store/name/folder`.
    pub dir: PathBuf,
}

/// The label a run folder carries after its stamp: `seed<N>` and each `--bug` name (only
/// the characters a folder name may hold; at most 80 characters).
pub fn run_label(seed: u64, bugs: &[String]) -> String {
    let mut label = format!("seed{seed}");
    for bug in bugs {
        let clean: String = bug
            .chars()
            .filter(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-' | '+'))
            .collect();
        if !clean.is_empty() {
            label.push('-');
            label.push_str(&clean);
        }
    }
    label.chars().take(80).collect()
}

/// The suffix a checked run's folder gets: `VALID`, `INVALID` or `UNKNOWN`.
pub fn verdict_suffix(v: Validity) -> &'static str {
    match v {
        Validity::Valid => "VALID",
        Validity::Invalid => "INVALID",
        Validity::Unknown => "UNKNOWN",
    }
}

/// The folder name `folder` should have after a re-check found `v`: its verdict suffix
/// replaced; `None` when it already ends in that verdict or has no verdict suffix (a bare
/// stamp of an older store, or a folder that is not a run's).
pub fn refolder_for_verdict(folder: &str, v: Validity) -> Option<String> {
    let (base, old) = folder.rsplit_once('-')?;
    let new = verdict_suffix(v);
    let is_verdict = ["VALID", "INVALID", "UNKNOWN"].contains(&old);
    (is_verdict && old != new).then(|| format!("{base}-{new}"))
}

/// Renames run folder `dir` to end in verdict `v` (see [`refolder_for_verdict`]) and moves
/// the store's `latest` links that pointed at it; returns where the run is now.
pub fn rename_for_verdict(dir: &Path, v: Validity) -> Result<PathBuf, PathError> {
    let folder = dir.file_name().map(|f| f.to_string_lossy().into_owned());
    let Some(new) = folder.as_deref().and_then(|f| refolder_for_verdict(f, v)) else {
        return Ok(dir.to_path_buf());
    };
    let to = dir.with_file_name(&new);
    std::fs::rename(dir, &to).map_err(PathError::at("renaming", dir))?;
    let (Some(name_dir), Some(old)) = (dir.parent(), folder) else {
        return Ok(to);
    };
    let name_link = name_dir.join("latest");
    if std::fs::read_link(&name_link).is_ok_and(|t| t == Path::new(&old)) {
        replace_symlink(Path::new(&new), &name_link)?;
    }
    if let (Some(root), Some(name)) = (name_dir.parent(), name_dir.file_name()) {
        let root_link = root.join("latest");
        if std::fs::read_link(&root_link).is_ok_and(|t| t == Path::new(name).join(&old)) {
            replace_symlink(&Path::new(name).join(&new), &root_link)?;
        }
    }
    Ok(to)
}

/// The store's timestamp format of `t` (UTC, milliseconds).
pub fn stamp_of(t: OffsetDateTime) -> String {
    let t = t.to_offset(time::UtcOffset::UTC);
    format!(
        "{:04}{:02}{:02}T{:02}{:02}{:02}.{:03}Z",
        t.year(),
        u8::from(t.month()),
        t.day(),
        t.hour(),
        t.minute(),
        t.second(),
        t.millisecond()
    )
}

/// Whether `name` is usable as a test-name folder: non-empty, `[A-Za-z0-9._+-]`, not `.`/`..`/`latest`.
pub fn valid_test_name(name: &str) -> bool {
    !name.is_empty()
        && name != "."
        && name != ".."
        && name != "latest"
        && name.len() <= 100
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b'-' | b'+'))
}

impl RunDir {
    /// Create a fresh run folder `<stamp>-<label>` (and `nodes/`) for test `name` under
    /// `store`, stamped now; if a run of the same millisecond exists, the next free
    /// millisecond is used.
    pub fn create(store: &Path, name: &str, label: &str) -> Result<RunDir, PathError> {
        let parent = store.join(name);
        std::fs::create_dir_all(&parent).map_err(PathError::at("creating", &parent))?;
        let mut t = OffsetDateTime::now_utc();
        for _ in 0..1000 {
            let stamp = stamp_of(t);
            let folder = if label.is_empty() {
                stamp.clone()
            } else {
                format!("{stamp}-{label}")
            };
            let dir = parent.join(&folder);
            match std::fs::create_dir(&dir) {
                Ok(()) => {
                    let nodes = dir.join("nodes");
                    std::fs::create_dir_all(&nodes).map_err(PathError::at("creating", &nodes))?;
                    return Ok(RunDir {
                        store: store.to_path_buf(),
                        name: name.to_string(),
                        stamp,
                        folder,
                        dir,
                    });
                }
                Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {
                    t += time::Duration::milliseconds(1)
                }
                Err(e) => return Err(PathError::new("creating", &dir, e)),
            }
        }
        Err(PathError::new(
            "creating a run folder under",
            &parent,
            std::io::Error::other("no free millisecond in 1000 tries"),
        ))
    }

    /// Renames the folder to end in the verdict (`...-seed7-INVALID`), so a listing of the
    /// store shows it; `dir` and `folder` follow. Call once the nodes are stopped.
    pub fn mark_verdict(&mut self, valid: Validity) -> Result<(), PathError> {
        let folder = format!("{}-{}", self.folder, verdict_suffix(valid));
        let dir = self.dir.with_file_name(&folder);
        std::fs::rename(&self.dir, &dir).map_err(PathError::at("renaming", &self.dir))?;
        self.folder = folder;
        self.dir = dir;
        Ok(())
    }

    /// Point `store/name/latest` and `store/latest` at this run (atomic rename of a fresh link).
    pub fn update_latest(&self) -> Result<(), PathError> {
        replace_symlink(
            Path::new(&self.folder),
            &self.store.join(&self.name).join("latest"),
        )?;
        replace_symlink(
            &Path::new(&self.name).join(&self.folder),
            &self.store.join("latest"),
        )
    }
}

fn replace_symlink(target: &Path, link: &Path) -> Result<(), PathError> {
    let tmp = link.with_file_name(format!(".latest.tmp.{}", std::process::id()));
    let _ = std::fs::remove_file(&tmp);
    std::os::unix::fs::symlink(target, &tmp).map_err(PathError::at("creating", &tmp))?;
    std::fs::rename(&tmp, link).map_err(PathError::at("replacing", link))
}

/// Write `value` as pretty JSON to `path` atomically (temp file + rename).
pub fn write_json(path: &Path, value: &serde_json::Value) -> Result<(), PathError> {
    let tmp = path.with_extension("json.tmp");
    let write = || -> std::io::Result<()> {
        let mut f = File::create(&tmp)?;
        serde_json::to_writer_pretty(&mut f, value).map_err(std::io::Error::other)?;
        f.write_all(b"\n")?;
        f.sync_all()
    };
    write().map_err(PathError::at("writing", &tmp))?;
    std::fs::rename(&tmp, path).map_err(PathError::at("writing", path))
}

/// `git rev-parse HEAD` in the current directory, if that works.
pub fn git_sha() -> Option<String> {
    let out = std::process::Command::new("git")
        .args(["rev-parse", "HEAD"])
        .stderr(std::process::Stdio::null())
        .output()
        .ok()?;
    if !out.status.success() {
        return None;
    }
    let s = String::from_utf8(out.stdout).ok()?.trim().to_string();
    (s.len() >= 7 && s.bytes().all(|b| b.is_ascii_hexdigit())).then_some(s)
}

/// Deletes `run_dir/nodes/*/data` (logs stay); returns the bytes freed.
pub fn delete_node_data(run_dir: &Path) -> Result<u64, PathError> {
    let mut freed = 0;
    let nodes = run_dir.join("nodes");
    if !nodes.is_dir() {
        return Ok(0);
    }
    let entries = std::fs::read_dir(&nodes).map_err(PathError::at("reading", &nodes))?;
    for entry in entries {
        let data = entry
            .map_err(PathError::at("reading", &nodes))?
            .path()
            .join("data");
        if data.is_dir() {
            freed += dir_size(&data);
            std::fs::remove_dir_all(&data).map_err(PathError::at("deleting", &data))?;
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
    fn stamps_have_the_design_shape() {
        let t = OffsetDateTime::from_unix_timestamp_nanos(1_795_000_000_123_000_000).unwrap();
        let s = stamp_of(t);
        assert_eq!(s.len(), "YYYYMMDDTHHMMSS.mmmZ".len());
        assert!(s.ends_with(".123Z"), "{s}");
        assert_eq!(&s[8..9], "T");
    }

    #[test]
    fn run_dirs_are_unique_and_latest_links_resolve() {
        let store = tempfile::tempdir().unwrap();
        let a = RunDir::create(store.path(), "t1", "").unwrap();
        let mut b = RunDir::create(store.path(), "t1", "seed7").unwrap();
        assert_ne!(a.dir, b.dir);
        assert_eq!(
            a.folder, a.stamp,
            "no label: the bare stamp, as older stores"
        );
        assert_eq!(b.folder, format!("{}-seed7", b.stamp));
        b.mark_verdict(Validity::Invalid).unwrap();
        assert!(
            b.dir.ends_with(format!("{}-seed7-INVALID", b.stamp)),
            "{:?}",
            b.dir
        );
        assert!(b.dir.join("nodes").is_dir(), "the folder moved whole");
        assert!(a.dir.join("nodes").is_dir());
        a.update_latest().unwrap();
        b.update_latest().unwrap();
        assert_eq!(
            std::fs::canonicalize(store.path().join("t1/latest")).unwrap(),
            std::fs::canonicalize(&b.dir).unwrap()
        );
        assert_eq!(
            std::fs::canonicalize(store.path().join("latest")).unwrap(),
            std::fs::canonicalize(&b.dir).unwrap()
        );
        write_json(&b.dir.join("x.json"), &serde_json::json!({"a": 1})).unwrap();
        let back: serde_json::Value =
            serde_json::from_str(&std::fs::read_to_string(b.dir.join("x.json")).unwrap()).unwrap();
        assert_eq!(back["a"], 1);
    }

    #[test]
    fn a_recheck_that_changes_the_verdict_renames_the_folder_and_its_latest_links() {
        assert_eq!(
            refolder_for_verdict("T-seed7-UNKNOWN", Validity::Valid).as_deref(),
            Some("T-seed7-VALID")
        );
        assert_eq!(refolder_for_verdict("T-seed7-VALID", Validity::Valid), None);
        assert_eq!(
            refolder_for_verdict("20261203T080302.533Z", Validity::Valid),
            None
        );
        let store = tempfile::tempdir().unwrap();
        let mut run = RunDir::create(store.path(), "t1", "seed7").unwrap();
        run.mark_verdict(Validity::Unknown).unwrap();
        run.update_latest().unwrap();
        let moved = rename_for_verdict(&run.dir, Validity::Invalid).unwrap();
        assert!(
            moved.ends_with(format!("{}-seed7-INVALID", run.stamp)),
            "{moved:?}"
        );
        assert!(!run.dir.exists() && moved.join("nodes").is_dir());
        for link in ["t1/latest", "latest"] {
            let to = std::fs::canonicalize(store.path().join(link)).unwrap();
            assert_eq!(to, std::fs::canonicalize(&moved).unwrap(), "{link}");
        }
        assert_eq!(
            rename_for_verdict(&moved, Validity::Invalid).unwrap(),
            moved
        );
    }

    #[test]
    fn labels_name_the_seed_and_the_bugs() {
        assert_eq!(run_label(7, &[]), "seed7");
        let bugs = ["stale-read".to_string(), "a/b c".to_string()];
        assert_eq!(run_label(7, &bugs), "seed7-stale-read-abc");
        assert!(valid_test_name(&run_label(u64::MAX, &["x".repeat(200)])));
        assert_eq!(verdict_suffix(Validity::Unknown), "UNKNOWN");
    }

    #[test]
    fn errors_name_the_path() {
        let store = tempfile::tempdir().unwrap();
        let file = store.path().join("a-file");
        std::fs::write(&file, "not a folder").unwrap();
        let e = RunDir::create(&file, "t1", "seed1").unwrap_err();
        assert!(e.to_string().contains(&*file.to_string_lossy()), "{e}");
        let e = write_json(&file.join("x.json"), &serde_json::json!({})).unwrap_err();
        assert!(e.to_string().contains("a-file/x.json"), "{e}");
    }

    #[test]
    fn test_names_are_checked() {
        assert!(valid_test_name("register-partition"));
        assert!(!valid_test_name("../x"));
        assert!(!valid_test_name("latest"));
        assert!(!valid_test_name(""));
    }
}
