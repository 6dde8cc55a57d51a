//! End-to-end tests of user-described systems (`harness test --db-config FILE`): the worked
//! example `examples/systems/raft-kv.toml` (which starts `raft-node` as a user's own server
//! would be started) passes a short partition test; a described node whose command exits at
//! once is a harness failure (255) pointing at that node's log; a mistake in the TOML is bad
//! input (254) naming the file, the line and the field. Cases run one at a time.

mod e2e_support;

use e2e_support::{assert_history_has, passed, require_raft_node, serial, Ran};
use std::path::{Path, PathBuf};

fn test_in(store: &Path, args: &[&str]) -> Ran {
    require_raft_node();
    e2e_support::test_in(store, args)
}

fn example() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("..")
        .join("examples/systems/raft-kv.toml")
}

/// No process whose command line names `store` is left.
fn assert_no_leftovers(store: &Path) {
    let left = e2e_support::processes_naming(store, |cmd| !cmd.contains("harness"));
    assert!(left.is_empty(), "leftover node processes: {left:?}");
}

#[test]
fn the_worked_example_passes_a_partition_test() {
    example_passes_a_partition_test("netns");
}

/// `peer_args` give each node one address per peer, so the user-space proxy backend can cut
/// links too.
#[test]
fn the_worked_example_passes_a_partition_test_behind_proxies() {
    example_passes_a_partition_test("proxy");
}

fn example_passes_a_partition_test(net: &str) {
    let _g = serial();
    let store = tempfile::tempdir().expect("temp store");
    let cfg = example();
    let cfg = cfg.to_string_lossy();
    let r = test_in(
        store.path(),
        &[
            "--db-config",
            &cfg,
            "--workload",
            "register",
            "--nemesis",
            "partition",
            "--time-limit",
            "10",
            "--nemesis-interval",
            "2",
            "--nodes",
            "3",
            "--net",
            net,
            "--seed",
            "11",
        ],
    );
    assert_no_leftovers(store.path());
    let (dir, _) = passed(&r, 1000);
    assert_history_has(&dir, &["start-partition"]);
    // The nodes were started from the file's command template.
    let test_json = std::fs::read_to_string(dir.join("test.json")).expect("test.json");
    assert!(test_json.contains("raft-kv.toml"), "{test_json}");
    let log = std::fs::read_to_string(dir.join("nodes/n1/stderr.log")).unwrap_or_default();
    assert!(log.contains("listening on"), "n1's log: {log}");
}

#[test]
fn a_node_whose_command_exits_points_at_its_log() {
    let _g = serial();
    let store = tempfile::tempdir().expect("temp store");
    let s = store.path().to_string_lossy().into_owned();
    let cfg = store.path().join("broken.toml");
    std::fs::write(
        &cfg,
        r#"name = "broken"
protocol = "raft-kv-http"
command = ["/bin/sh", "-c", "echo 'node {id}: cannot open {data_dir}/db: disk on fire' >&2; exit 3"]
[ready]
tcp = true
"#,
    )
    .expect("write toml");
    let r = test_in(
        store.path(),
        &[
            "--db-config",
            &cfg.to_string_lossy(),
            "--time-limit",
            "5",
            "--nodes",
            "3",
        ],
    );
    assert_no_leftovers(store.path());
    assert_eq!(r.code, 255, "{}\n{}", r.stdout, r.stderr);
    assert!(
        r.stderr.contains("stderr.log") && r.stderr.contains(&s),
        "the message should point at the node's log: {}",
        r.stderr
    );
    assert!(
        r.stderr.contains("disk on fire"),
        "the message should quote the node's last words: {}",
        r.stderr
    );
}

#[test]
fn a_mistake_in_the_toml_names_file_line_and_field() {
    let _g = serial();
    let store = tempfile::tempdir().expect("temp store");
    let cfg = store.path().join("typo.toml");
    std::fs::write(
        &cfg,
        "name = \"typo\"\nprotocol = \"raft-kv-http\"\ncommand = [\"/bin/sh\", \"--dir\", \"{datadir}\"]\n[ready]\ntcp = true\n",
    )
    .expect("write toml");
    let r = test_in(
        store.path(),
        &["--db-config", &cfg.to_string_lossy(), "--time-limit", "5"],
    );
    assert_eq!(r.code, 254, "{}\n{}", r.stdout, r.stderr);
    let want = format!("{}:3:", cfg.display());
    assert!(
        r.stderr.contains(&want)
            && r.stderr.contains("command[2]")
            && r.stderr.contains("{datadir}"),
        "expected `{want}` and the field: {}",
        r.stderr
    );
}
