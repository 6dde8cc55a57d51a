//! The resolved configuration of a test run: `harness test` flags checked and turned into
//! typed values (bad values are [`HarnessError::BadInput`], exit 254), plus the `test.json`
//! view of it (DESIGN contract shape).

use crate::cluster::nemesis::{
    parse_faults, parse_targets, FaultKind, PartitionShape, Target, Trigger,
};
use crate::cluster::{DbSpec, NetMode};
use crate::cmd::test::TestArgs;
use crate::exit::HarnessError;
use serde_json::{json, Value};
use std::path::PathBuf;
use std::time::Duration;
use workloads::WorkloadKind;

/// Everything one `harness test` invocation needs.
#[derive(Debug, Clone)]
pub struct TestConfig {
    pub name: String,
    pub seed: u64,
    pub workload: WorkloadKind,
    pub faults: Vec<FaultKind>,
    pub shape: PartitionShape,
    pub targets: Vec<Target>,
    pub pause_targets: Vec<Target>,
    pub kill_targets: Vec<Target>,
    pub trigger: Trigger,
    pub overlap: bool,
    pub together: bool,
    pub nemesis_interval: Duration,
    pub time_limit: Duration,
    pub nodes: usize,
    pub concurrency: usize,
    pub rate: Option<f64>,
    pub op_timeout: Duration,
    pub keys: usize,
    pub ops_per_key: usize,
    pub net: NetMode,
    /// One-way delay on every node-to-node link (zero: none; proxy backend only).
    pub link_delay: Duration,
    pub db: DbSpec,
    pub store: PathBuf,
    pub test_count: u32,
    pub junit: Option<PathBuf>,
    pub recovery: Duration,
    pub check_timeout: Duration,
    pub no_report: bool,
    pub argv: Vec<String>,
}

fn bad(msg: impl Into<String>) -> HarnessError {
    HarnessError::BadInput(msg.into())
}

fn secs(flag: &str, v: f64, min: f64) -> Result<Duration, HarnessError> {
    if !v.is_finite() || v < min || v > 86_400.0 {
        return Err(bad(format!(
            "--{flag} {v}: expected seconds between {min} and 86400"
        )));
    }
    Ok(Duration::from_secs_f64(v))
}

/// `10` or `3n` (3 per node).
pub fn parse_concurrency(s: &str, nodes: usize) -> Result<usize, HarnessError> {
    let s = s.trim();
    let n = if let Some(k) = s.strip_suffix('n') {
        k.parse::<usize>().map(|k| k * nodes)
    } else {
        s.parse::<usize>()
    }
    .map_err(|_| {
        bad(format!(
            "--concurrency {s}: expected a number or `Kn` (K per node)"
        ))
    })?;
    if n == 0 || n > 1000 {
        return Err(bad(format!(
            "--concurrency {s}: expected 1 to 1000 workers, got {n}"
        )));
    }
    Ok(n)
}

impl TestConfig {
    pub fn from_args(a: &TestArgs, argv: Vec<String>) -> Result<TestConfig, HarnessError> {
        let workload = WorkloadKind::parse(&a.workload).ok_or_else(|| {
            bad(format!(
                "--workload {}: expected register or set",
                a.workload
            ))
        })?;
        let faults = parse_faults(&a.nemesis).map_err(|e| bad(format!("--nemesis: {e}")))?;
        let shape: PartitionShape = a
            .partition
            .parse()
            .map_err(|e| bad(format!("--partition: {e}")))?;
        let targets = parse_targets(&a.targets).map_err(|e| bad(format!("--targets: {e}")))?;
        let own_targets = |flag: &str, v: &Option<String>| match v {
            Some(s) => parse_targets(s).map_err(|e| bad(format!("--{flag}: {e}"))),
            None => Ok(Vec::new()),
        };
        let pause_targets = own_targets("pause-targets", &a.pause_targets)?;
        let kill_targets = own_targets("kill-targets", &a.kill_targets)?;
        let trigger: Trigger = a
            .nemesis_trigger
            .parse()
            .map_err(|e| bad(format!("--nemesis-trigger: {e}")))?;
        if trigger == Trigger::LeaderChange && a.db == "etcd" {
            return Err(bad(
                "--nemesis-trigger leader-change: etcd's health answer does not say which member \
                 leads; use the timer trigger",
            ));
        }
        let net: NetMode = a.net.parse().map_err(|e| bad(format!("--net: {e}")))?;
        if a.link_delay > 10_000 {
            return Err(bad(format!(
                "--link-delay {}: expected 0 to 10000 ms",
                a.link_delay
            )));
        }
        if a.link_delay > 0 && (net != NetMode::Proxy || a.db == "etcd") {
            return Err(bad(format!(
                "--link-delay {}: needs --net proxy and a system whose peer links go through \
                 the harness's proxies (raft-kv or a --db-config system): the netns backend \
                 cannot delay packets on this kernel (no netem)",
                a.link_delay
            )));
        }
        if a.nodes == 0 || a.nodes > 32 {
            return Err(bad(format!("--nodes {}: expected 1 to 32", a.nodes)));
        }
        let concurrency = parse_concurrency(&a.concurrency, a.nodes)?;
        if let Some(r) = a.rate {
            if !r.is_finite() || r <= 0.0 {
                return Err(bad(format!(
                    "--rate {r}: expected a positive number of ops per second"
                )));
            }
        }
        if a.op_timeout == 0 || a.op_timeout > 600_000 {
            return Err(bad(format!(
                "--op-timeout {}: expected 1 to 600000 ms",
                a.op_timeout
            )));
        }
        let keys = match (a.keys, workload) {
            (Some(0), _) => return Err(bad("--keys 0: expected at least 1")),
            (Some(k), _) => k,
            (None, WorkloadKind::Register) => (concurrency / a.nodes).max(1),
            (None, WorkloadKind::Set) => concurrency,
        };
        if a.ops_per_key == 0 {
            return Err(bad("--ops-per-key 0: expected at least 1"));
        }
        if a.test_count == 0 {
            return Err(bad("--test-count 0: expected at least 1"));
        }
        let mut db_opts = Vec::new();
        for o in &a.db_opt {
            let (k, v) = o.split_once('=').unwrap_or((o.as_str(), ""));
            if k.is_empty() {
                return Err(bad(format!("--db-opt {o}: expected K=V")));
            }
            db_opts.push((k.to_string(), v.to_string()));
        }
        let nemesis_name = if faults.is_empty() {
            "none".to_string()
        } else {
            faults
                .iter()
                .map(|f| f.as_str())
                .collect::<Vec<_>>()
                .join("+")
        };
        let name = a
            .name
            .clone()
            .unwrap_or_else(|| format!("{}-{}", workload.name(), nemesis_name));
        if !super::store::valid_test_name(&name) {
            return Err(bad(format!(
                "--name {name:?}: expected letters, digits, `.`, `_`, `+`, `-` (not `latest`)"
            )));
        }
        let seed = a.seed.unwrap_or_else(rand::random::<u64>);
        Ok(TestConfig {
            name,
            seed,
            workload,
            faults,
            shape,
            targets,
            pause_targets,
            kill_targets,
            trigger,
            overlap: a.nemesis_overlap,
            together: a.nemesis_together,
            nemesis_interval: secs("nemesis-interval", a.nemesis_interval, 0.05)?,
            time_limit: secs("time-limit", a.time_limit, 0.0)?,
            nodes: a.nodes,
            concurrency,
            rate: a.rate,
            op_timeout: Duration::from_millis(a.op_timeout),
            keys,
            ops_per_key: a.ops_per_key,
            net,
            link_delay: Duration::from_millis(a.link_delay),
            db: DbSpec {
                db: a.db.clone(),
                db_bin: a.db_bin.clone(),
                node_bin: a.node_bin.clone(),
                db_opts,
                db_config: a.db_config.clone(),
                bugs: a.bug.clone(),
            },
            store: a.store.clone(),
            test_count: a.test_count,
            junit: a.junit.clone(),
            recovery: secs("recovery-time", a.recovery_time, 0.0)?,
            check_timeout: secs("check-timeout", a.check_timeout, 0.1)?,
            no_report: a.no_report,
            argv,
        })
    }

    /// The config of the `i`-th run of `--test-count` (seed + i).
    pub fn for_run(&self, i: u32) -> TestConfig {
        let mut c = self.clone();
        c.seed = self.seed.wrapping_add(u64::from(i));
        c
    }

    /// `test.json` (DESIGN contract fields first, then the rest of the knobs).
    pub fn test_json(
        &self,
        net_resolved: NetMode,
        start_time: &str,
        git_sha: Option<&str>,
    ) -> Value {
        json!({
            "name": self.name,
            "seed": self.seed,
            "argv": self.argv,
            "harness_version": env!("CARGO_PKG_VERSION"),
            "git_sha": git_sha,
            "workload": self.workload.name(),
            "nemesis": self.faults.iter().map(|f| f.as_str()).collect::<Vec<_>>(),
            "net": net_resolved.to_string(),
            "nodes": self.nodes,
            "concurrency": self.concurrency,
            "time_limit_s": self.time_limit.as_secs_f64(),
            "db": match (&self.db.db_config, self.db.db.as_str()) {
                (Some(_), _) => "user-config",
                (None, "") => "raft-kv",
                (None, db) => db,
            },
            "db_config": self.db.db_config,
            "bugs": self.db.bugs,
            "start_time": start_time,
            "partition": self.shape.to_string(),
            "targets": self.targets.iter().map(|t| t.as_str()).collect::<Vec<_>>(),
            "pause_targets": self.pause_targets.iter().map(|t| t.as_str()).collect::<Vec<_>>(),
            "kill_targets": self.kill_targets.iter().map(|t| t.as_str()).collect::<Vec<_>>(),
            "nemesis_trigger": self.trigger.as_str(),
            "nemesis_overlap": self.overlap,
            "nemesis_together": self.together,
            "nemesis_interval_s": self.nemesis_interval.as_secs_f64(),
            "link_delay_ms": self.link_delay.as_millis() as u64,
            "rate": self.rate,
            "op_timeout_ms": self.op_timeout.as_millis() as u64,
            "keys": self.keys,
            "ops_per_key": self.ops_per_key,
            "recovery_time_s": self.recovery.as_secs_f64(),
            "check_timeout_s": self.check_timeout.as_secs_f64(),
            "db_opts": self.db.db_opts.iter().map(|(k, v)| format!("{k}={v}")).collect::<Vec<_>>(),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::Parser;

    #[derive(Parser)]
    struct Wrap {
        #[command(flatten)]
        a: TestArgs,
    }

    fn cfg(args: &[&str]) -> Result<TestConfig, HarnessError> {
        let mut v = vec!["test"];
        v.extend_from_slice(args);
        TestConfig::from_args(&Wrap::try_parse_from(v).unwrap().a, vec![])
    }

    #[test]
    fn defaults_and_derived_values() {
        let c = cfg(&["--seed", "7"]).unwrap();
        assert_eq!((c.nodes, c.concurrency, c.keys, c.seed), (5, 10, 2, 7));
        assert_eq!(c.name, "register-none");
        let c = cfg(&[
            "--nemesis",
            "partition,kill",
            "--concurrency",
            "3n",
            "--nodes",
            "3",
            "--workload",
            "set",
        ])
        .unwrap();
        assert_eq!((c.concurrency, c.keys), (9, 9));
        assert_eq!(c.name, "set-partition+kill");
        assert_eq!(c.for_run(2).seed, c.seed.wrapping_add(2));
        let j = c.test_json(NetMode::Proxy, "2026-11-23T00:00:00Z", None);
        assert_eq!(j["nemesis"], json!(["partition", "kill"]));
        assert_eq!(j["net"], "proxy");
        assert_eq!(j["targets"], json!(["one", "minority"]));
        let c = cfg(&["--targets", "all,leader"]).unwrap();
        assert_eq!(c.targets, vec![Target::All, Target::Leader]);
        let c = cfg(&["--kill-targets", "majority"]).unwrap();
        assert_eq!(
            (c.kill_targets, c.pause_targets),
            (vec![Target::Majority], vec![])
        );
        assert_eq!(j["nemesis_trigger"], "timer");
        let c = cfg(&["--nemesis-trigger", "leader-change"]).unwrap();
        assert_eq!(c.trigger, Trigger::LeaderChange);
        let c = cfg(&["--link-delay", "40", "--net", "proxy"]).unwrap();
        assert_eq!(c.link_delay, Duration::from_millis(40));
    }

    #[test]
    fn bad_values_are_bad_input() {
        for args in [
            &["--workload", "bank"][..],
            &["--nemesis", "flood"],
            &["--concurrency", "0"],
            &["--concurrency", "xn"],
            &["--nodes", "0"],
            &["--partition", "triangle"],
            &["--targets", "half"],
            &["--targets", ""],
            &["--kill-targets", "most"],
            &["--link-delay", "50"],
            &["--nemesis-trigger", "election"],
            &["--nemesis-trigger", "leader-change", "--db", "etcd"],
            &["--link-delay", "50", "--net", "proxy", "--db", "etcd"],
            &["--link-delay", "20000", "--net", "proxy"],
            &["--net", "wifi"],
            &["--rate=-1"],
            &["--time-limit=-3"],
            &["--name", "../up"],
        ] {
            assert!(
                matches!(cfg(args), Err(HarnessError::BadInput(_))),
                "{args:?}"
            );
        }
    }
}
