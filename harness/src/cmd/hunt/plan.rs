//! The rotation of a hunt: which (workload, schedule) pairs the system can run (each pair
//! turned into a `harness test` command line and checked exactly as `harness test` checks
//! it, so the system's capabilities decide), and the seeded order they are run in (a fresh
//! shuffle per round, so every pair runs once per round).

use super::args::HuntArgs;
use super::schedules::{self, Schedule};
use crate::cmd::test::TestArgs;
use crate::exit::HarnessError;
use crate::run::config::TestConfig;
use clap::Parser;
use rand::seq::SliceRandom;
use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;
use workloads::WorkloadKind;

/// One (workload, schedule) pair of the rotation.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Slot {
    pub workload: &'static str,
    pub schedule: &'static Schedule,
}

/// The hunt's rotation and the flags every run shares.
#[derive(Debug)]
pub struct Plan {
    /// Flags common to every run (system, bugs, sizes, store).
    common: Vec<String>,
    slots: Vec<Slot>,
    /// Why some pairs were left out (one line each).
    refused: Vec<String>,
    seed: u64,
}

#[derive(Parser)]
#[command(name = "harness")]
struct TestLine {
    #[command(subcommand)]
    cmd: TestCmd,
}

#[derive(clap::Subcommand)]
enum TestCmd {
    Test(TestArgs),
}

impl Plan {
    /// The pairs `args` selects that the system can run; none is bad input.
    pub fn new(args: &HuntArgs, seed: u64) -> Result<Plan, HarnessError> {
        let common = common_flags(args);
        let workloads = pick(&args.workloads, "workloads", WorkloadKind::names(), |w| {
            WorkloadKind::parse(w).map(|k| k.name())
        })?;
        let all_schedules: Vec<&str> = schedules::SCHEDULES.iter().map(|s| s.name).collect();
        let chosen = pick(
            &args.schedules,
            "schedules",
            all_schedules.join(", "),
            |s| schedules::by_name(s).map(|s| s.name),
        )?;
        let mut plan = Plan {
            common,
            slots: Vec::new(),
            refused: Vec::new(),
            seed,
        };
        let workloads = match &args.workloads {
            Some(_) => workloads,
            None => plan.spoken(&workloads, &chosen)?,
        };
        for schedule in chosen.iter().filter_map(|n| schedules::by_name(n)) {
            for workload in &workloads {
                let slot = Slot { workload, schedule };
                match plan.config(&slot, seed) {
                    Ok(_) => plan.slots.push(slot),
                    Err(HarnessError::BadInput(why)) => plan.refused.push(format!(
                        "{workload} under {}: {}",
                        schedule.name,
                        why.lines().next().unwrap_or("")
                    )),
                    Err(e) => return Err(e),
                }
            }
        }
        if plan.slots.is_empty() {
            return Err(HarnessError::BadInput(format!(
                "hunt: no workload and schedule this system can run:\n  {}",
                plan.refused.join("\n  ")
            )));
        }
        Ok(plan)
    }

    /// Of `workloads`, those the system speaks (the default rotation: a workload the system
    /// does not speak is left out silently, not listed as skipped).
    fn spoken(
        &self,
        workloads: &[&'static str],
        schedules: &[&'static str],
    ) -> Result<Vec<&'static str>, HarnessError> {
        let (Some(&workload), Some(schedule)) = (
            workloads.first(),
            schedules.first().and_then(|n| schedules::by_name(n)),
        ) else {
            return Ok(workloads.to_vec());
        };
        let argv = self.argv(&Slot { workload, schedule }, self.seed);
        let TestCmd::Test(args) = TestLine::try_parse_from(&argv)
            .map_err(|e| HarnessError::BadInput(format!("hunt: {e}")))?
            .cmd;
        let cfg = args.to_config(argv)?;
        let system = crate::systems::build(&cfg.system)
            .map_err(|e| HarnessError::BadInput(e.to_string()))?;
        let speaks = system.capabilities().workloads;
        Ok(workloads
            .iter()
            .copied()
            .filter(|w| speaks.iter().any(|k| k.name() == *w))
            .collect())
    }

    /// The pair of run `k` (0-based): round `k / n` is a seeded shuffle of the `n` pairs.
    pub fn slot(&self, k: usize) -> Slot {
        let n = self.slots.len();
        let round = (k / n) as u64;
        let mut rng = ChaCha8Rng::seed_from_u64(self.seed ^ round.wrapping_mul(0x9E37_79B9));
        let mut order: Vec<usize> = (0..n).collect();
        order.shuffle(&mut rng);
        self.slots[order[k % n]]
    }

    /// The `harness test` command line that makes the run of `slot` with `seed`.
    pub fn argv(&self, slot: &Slot, seed: u64) -> Vec<String> {
        let mut v: Vec<String> = vec!["harness".into(), "test".into()];
        // A schedule that names its own network backend (link delays need the proxy)
        // overrides the hunt's `--net`.
        let own_net = slot.schedule.flags.contains(&"--net");
        let mut common = self.common.iter();
        while let Some(flag) = common.next() {
            if own_net && flag == "--net" {
                common.next();
                continue;
            }
            v.push(flag.clone());
        }
        v.extend(["--workload".into(), slot.workload.to_string()]);
        v.extend(slot.schedule.flags.iter().map(|f| f.to_string()));
        v.extend(["--seed".into(), seed.to_string()]);
        v.extend([
            "--name".into(),
            format!("hunt-{}-{}", slot.workload, slot.schedule.name),
        ]);
        v
    }

    /// The run's config, parsed from [`Plan::argv`] and checked against the system exactly
    /// as `harness test` does.
    pub fn config(&self, slot: &Slot, seed: u64) -> Result<TestConfig, HarnessError> {
        let argv = self.argv(slot, seed);
        let TestCmd::Test(args) = TestLine::try_parse_from(&argv)
            .map_err(|e| HarnessError::BadInput(format!("hunt: {e}")))?
            .cmd;
        let cfg = args.to_config(argv)?;
        cfg.check_system()?;
        Ok(cfg)
    }

    /// Lines printed before the first run: the seed, the rotation, what was left out.
    pub fn describe(&self) -> Vec<String> {
        let mut out = vec![format!(
            "hunt: seed {}, {} workload × schedule pairs in rotation",
            self.seed,
            self.slots.len()
        )];
        out.extend(self.refused.iter().map(|r| format!("hunt: skipped {r}")));
        out
    }
}

/// The flags every run shares, from the hunt's own flags.
fn common_flags(a: &HuntArgs) -> Vec<String> {
    let mut v = vec!["--db".to_string(), a.db.clone()];
    let mut path = |flag: &str, p: &Option<std::path::PathBuf>| {
        if let Some(p) = p {
            v.extend([flag.to_string(), p.display().to_string()]);
        }
    };
    path("--db-bin", &a.db_bin);
    path("--node-bin", &a.node_bin);
    path("--db-config", &a.db_config);
    for o in &a.db_opt {
        v.extend(["--db-opt".into(), o.clone()]);
    }
    for b in &a.bug {
        v.extend(["--bug".into(), b.clone()]);
    }
    v.extend([
        "--time-limit".into(),
        a.time_limit.to_string(),
        "--nodes".into(),
        a.nodes.to_string(),
        "--net".into(),
        a.net.clone(),
        "--recovery-time".into(),
        "3".into(),
        "--store".into(),
        a.store.display().to_string(),
    ]);
    v
}

/// The names of a comma list, each checked by `find`; `None` gives every known name.
fn pick(
    list: &Option<String>,
    flag: &str,
    known: String,
    find: impl Fn(&str) -> Option<&'static str>,
) -> Result<Vec<&'static str>, HarnessError> {
    let Some(list) = list else {
        return Ok(known
            .split(", ")
            .filter_map(&find)
            .collect::<Vec<&'static str>>());
    };
    let mut out = Vec::new();
    for name in list.split(',').map(str::trim).filter(|s| !s.is_empty()) {
        match find(name) {
            Some(n) if !out.contains(&n) => out.push(n),
            Some(_) => {}
            None => {
                return Err(HarnessError::BadInput(format!(
                    "--{flag} {list}: unknown `{name}` (known: {known})"
                )))
            }
        }
    }
    if out.is_empty() {
        return Err(HarnessError::BadInput(format!(
            "--{flag} {list}: expected at least one of {known}"
        )));
    }
    Ok(out)
}

/// A command line as one shell line (arguments quoted where the shell needs it).
pub fn shell_line(argv: &[String]) -> String {
    argv.iter()
        .map(|a| {
            let safe = !a.is_empty()
                && a.chars()
                    .all(|c| c.is_ascii_alphanumeric() || "-_./=:,+@%".contains(c));
            if safe {
                a.clone()
            } else {
                format!("'{}'", a.replace('\'', r"'\''"))
            }
        })
        .collect::<Vec<_>>()
        .join(" ")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn hunt_args(extra: &[&str]) -> HuntArgs {
        #[derive(Parser)]
        struct Wrap {
            #[command(flatten)]
            a: HuntArgs,
        }
        let mut v = vec!["hunt"];
        v.extend_from_slice(extra);
        Wrap::try_parse_from(v).unwrap().a
    }

    #[test]
    fn every_pair_of_raft_kv_runs_and_the_argv_reproduces_the_config() {
        let plan = Plan::new(&hunt_args(&["--bug", "no-truncate", "--net", "proxy"]), 9).unwrap();
        // Every workload raft-kv speaks (all but the Two Generals' rounds, the two chats and
        // the lock service's lock and fencing).
        let spoken = crate::systems::build(&Default::default())
            .unwrap()
            .capabilities()
            .workloads
            .len();
        assert_eq!(spoken, WorkloadKind::ALL.len() - 5);
        assert_eq!(plan.slots.len(), schedules::SCHEDULES.len() * spoken);
        let slot = plan.slot(3);
        let cfg = plan.config(&slot, 44).unwrap();
        assert_eq!(cfg.seed, 44);
        assert_eq!(cfg.system.bugs, vec!["no-truncate".to_string()]);
        assert_eq!(cfg.workload.kind.name(), slot.workload);
        assert_eq!(cfg.argv, plan.argv(&slot, 44));
        let frozen = schedules::by_name("freeze-new-leader-in-election").unwrap();
        let slot = Slot {
            workload: "register",
            schedule: frozen,
        };
        let argv = plan.argv(&slot, 1);
        assert_eq!(argv.iter().filter(|a| *a == "--net").count(), 1, "{argv:?}");
        assert_eq!(
            plan.config(&slot, 1).unwrap().net,
            crate::netmode::NetMode::Proxy
        );
        let line = shell_line(&cfg.argv);
        assert!(line.starts_with("harness test --db raft-kv"), "{line}");
        assert!(
            line.contains("--seed 44") && line.contains("--bug no-truncate"),
            "{line}"
        );
    }

    #[test]
    fn each_round_runs_every_pair_once_in_a_seeded_order() {
        let plan = Plan::new(&hunt_args(&["--net", "proxy"]), 5).unwrap();
        let n = plan.slots.len();
        for round in 0..3 {
            let mut seen: Vec<Slot> = (0..n).map(|i| plan.slot(round * n + i)).collect();
            seen.sort_by_key(|s| (s.workload, s.schedule.name));
            seen.dedup();
            assert_eq!(seen.len(), n, "round {round}");
        }
        let again = Plan::new(&hunt_args(&["--net", "proxy"]), 5).unwrap();
        assert!((0..2 * n).all(|k| plan.slot(k) == again.slot(k)));
        assert!((0..n).any(|k| plan.slot(k) != plan.slot(n + k)));
    }

    #[test]
    fn the_system_decides_which_pairs_run() {
        // etcd's status does not name a leader: the leader-change schedule is left out, and
        // partitions on --net proxy are refused for a system without per-link proxies.
        let plan = Plan::new(&hunt_args(&["--db", "etcd", "--net", "proxy"]), 1).unwrap();
        assert!(plan
            .slots
            .iter()
            .all(|s| s.schedule.name != "kill-in-election"));
        assert!(plan
            .slots
            .iter()
            .all(|s| !s.schedule.flags.contains(&"partition")
                && !s.schedule.flags.contains(&"partition,pause")));
        assert!(plan.describe().iter().any(|l| l.contains("skipped")));
        // Workloads etcd does not speak are not in the default rotation, nor listed as skipped.
        assert!(plan.slots.iter().all(|s| s.workload != "election"));
        let noise: Vec<String> = plan
            .describe()
            .into_iter()
            .filter(|l| l.contains("speaks"))
            .collect();
        assert!(noise.is_empty(), "{noise:?}");
        for bad in [
            &["--workloads", "bank"][..],
            &["--schedules", "tornado"],
            &["--bug", "lossy"],
            &[
                "--db",
                "etcd",
                "--net",
                "proxy",
                "--schedules",
                "leader-cut-off",
            ],
        ] {
            assert!(
                matches!(
                    Plan::new(&hunt_args(bad), 1),
                    Err(HarnessError::BadInput(_))
                ),
                "{bad:?}"
            );
        }
    }

    #[test]
    fn shell_lines_quote_what_needs_it() {
        let argv: Vec<String> = ["harness", "test", "--db-config", "my sys.toml", "it's"]
            .iter()
            .map(|s| s.to_string())
            .collect();
        assert_eq!(
            shell_line(&argv),
            r#"harness test --db-config 'my sys.toml' 'it'\''s'"#
        );
    }
}
