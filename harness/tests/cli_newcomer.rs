//! The CLI as a newcomer meets it (issue 17 item 8), through the binary: an unknown `--bug`
//! is refused before anything starts (exit 254, the system's bugs listed, the error printed
//! once, no run folder left), a negative duration gets a message about the value, `test
//! --help` is grouped into sections with examples and exit codes, and the top-level help
//! says what the tool is for.

use assert_cmd::Command;
use std::time::Duration;

fn harness(args: &[&str]) -> (i32, String, String) {
    let out = Command::cargo_bin("harness")
        .unwrap()
        .args(args)
        .timeout(Duration::from_secs(30))
        .output()
        .unwrap();
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

#[test]
fn an_unknown_bug_is_refused_before_anything_starts() {
    let store = tempfile::tempdir().unwrap();
    let root = store.path().join("results");
    let (code, stdout, stderr) = harness(&[
        "test",
        "--bug",
        "lossy",
        "--time-limit",
        "5",
        "--store",
        root.to_str().unwrap(),
    ]);
    assert_eq!(code, 254, "stdout {stdout}\nstderr {stderr}");
    assert_eq!(stderr.matches("lossy").count(), 1, "printed once: {stderr}");
    assert!(stderr.contains("stale-read"), "lists the bugs: {stderr}");
    assert!(!root.exists(), "no run folder left");
}

#[test]
fn a_negative_duration_gets_a_message_about_the_value() {
    for flag in [
        "--time-limit",
        "--recovery-time",
        "--nemesis-interval",
        "--check-timeout",
    ] {
        let (code, _, stderr) = harness(&["test", flag, "-5", "--store", "/nonexistent/x"]);
        assert_eq!(code, 254, "{flag}: {stderr}");
        assert!(stderr.contains(&format!("{flag} -5")), "{flag}: {stderr}");
        assert!(!stderr.contains("unexpected argument"), "{flag}: {stderr}");
        assert_eq!(stderr.matches("error").count(), 1, "{flag}: {stderr}");
    }
}

#[test]
fn test_help_is_grouped_with_examples_and_exit_codes() {
    let (code, help, _) = harness(&["test", "--help"]);
    assert_eq!(code, 0);
    for section in [
        "Workload:",
        "Faults:",
        "Cluster:",
        "Run:",
        "Output:",
        "Examples:",
        "Exit codes:",
    ] {
        assert!(
            help.lines().any(|l| l.trim() == section),
            "{section} missing:\n{help}"
        );
    }
    for code in ["0 ", "1 ", "2 ", "254", "255"] {
        assert!(
            help.contains(&format!("\n  {code}")),
            "exit code {code}:\n{help}"
        );
    }
    // Each flag sits under its own section.
    let section_of = |flag: &str| {
        let at = help.find(flag).unwrap_or_else(|| panic!("{flag} missing"));
        help[..at]
            .lines()
            .rev()
            .find(|l| !l.starts_with(' ') && l.ends_with(':'))
            .unwrap_or("")
            .to_string()
    };
    assert_eq!(section_of("--nemesis <NEMESIS>"), "Faults:");
    assert_eq!(section_of("--bug <NAME>"), "Cluster:");
    assert_eq!(section_of("--workload <WORKLOAD>"), "Workload:");
    assert_eq!(section_of("--seed <SEED>"), "Run:");
    assert_eq!(section_of("--store <STORE>"), "Output:");
}

#[test]
fn the_top_level_help_is_written_for_users() {
    let (code, help, _) = harness(&["--help"]);
    assert_eq!(code, 0);
    assert!(
        help.starts_with("Test a distributed key-value store"),
        "{help}"
    );
    assert!(!help.contains("The controller:"), "{help}");
    assert!(help.contains("harness test --time-limit 20"), "{help}");
}
