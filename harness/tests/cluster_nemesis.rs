//! The nemesis executor against a real 3-node cluster: faults rotate, every start has its stop,
//! events are reported in order as they are applied, and when told to stop the nemesis leaves
//! the cluster whole (no partition, no paused or killed node).

mod cluster_support;

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use cluster_support::*;
use harness::cluster::nemesis::{self, FaultKind, NemesisConfig, NemesisEvent, PartitionShape};
use harness::cluster::Cluster;
use harness::netmode::NetMode;

async fn run_nemesis(mode: NetMode) {
    let (cfg, _dir) = config(3, mode);
    let _guard = LeftoverGuard(cfg.run_prefix.clone());
    let cluster = Cluster::start(cfg, test_db()).await.expect("start");
    let events: Arc<Mutex<Vec<NemesisEvent>>> = Arc::default();
    let sink = Arc::clone(&events);
    let (stop_tx, stop_rx) = tokio::sync::watch::channel(false);
    let ncfg = nemesis_config(
        vec![FaultKind::Partition, FaultKind::Pause, FaultKind::Kill],
        PartitionShape::Random,
        Duration::from_millis(250),
        42,
    );
    // The staggered waits this seed draws: stop 1.5 s after the sixth change is due, so at
    // least three faults go on and off whatever the machine's speed.
    let mut stagger = nemesis::executor::Stagger::new(ncfg.seed, ncfg.interval);
    let waits: Vec<Duration> = (0..6).map(|_| stagger.next_wait()).collect();
    let run_for = waits.iter().sum::<Duration>() + Duration::from_millis(1500);
    let t0 = Instant::now();
    let stopper = tokio::spawn(async move {
        tokio::time::sleep(run_for).await;
        let _ = stop_tx.send(true);
    });
    let summary = nemesis::run(
        &cluster,
        ncfg,
        move |e| sink.lock().unwrap().push(e),
        stop_rx,
    )
    .await
    .expect("nemesis runs");
    stopper.await.unwrap();
    let events = events.lock().unwrap().clone();
    let fs: Vec<&str> = events.iter().map(|e| e.f.as_str()).collect();
    assert!(fs.len() >= 6, "at least three faults on and off: {fs:?}");
    assert_eq!(summary.events, fs.len());
    assert_eq!(fs.len() % 2, 0, "every fault undone: {fs:?}");
    let expected = [
        "start-partition",
        "stop-partition",
        "pause",
        "resume",
        "kill",
        "restart",
    ];
    for (i, f) in fs.iter().enumerate() {
        assert_eq!(*f, expected[i % 6], "rotation: {fs:?}");
    }
    for w in events.windows(2) {
        assert!(w[0].at <= w[1].at);
    }
    assert!(events[0].at >= t0 + waits[0], "the first wait is quiet");
    for e in &events {
        match e.f.as_str() {
            "start-partition" => {
                assert!(e.value.is_object() && !e.value.as_object().unwrap().is_empty())
            }
            "stop-partition" => assert!(e.value.is_null()),
            _ => assert!(!e.value.as_array().unwrap().is_empty()),
        }
    }
    // Whole again: everyone running and unpaused, every peer link open.
    for n in cluster.nodes() {
        assert!(cluster.is_running(&n.name).unwrap(), "{} running", n.name);
        let pid = cluster.pid(&n.name).unwrap().unwrap();
        assert_ne!(proc_state(pid), Some('T'), "{} not paused", n.name);
        let peers = get_json(n.client_addr, "/peers").await.unwrap();
        assert!(
            peers.as_object().unwrap().values().all(|v| v == true),
            "{}: {peers}",
            n.name
        );
    }
    cluster.shutdown().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn nemesis_rotates_faults_and_heals_on_stop_proxy() {
    tokio::time::timeout(Duration::from_secs(60), run_nemesis(NetMode::Proxy))
        .await
        .expect("bounded");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn nemesis_rotates_faults_and_heals_on_stop_netns() {
    if !is_root() {
        eprintln!("skipped: netns needs root");
        return;
    }
    tokio::time::timeout(Duration::from_secs(60), run_nemesis(NetMode::Netns))
        .await
        .expect("bounded");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn no_faults_means_no_events() {
    let (cfg, _dir) = config(1, NetMode::Proxy);
    let _guard = LeftoverGuard(cfg.run_prefix.clone());
    let cluster = Cluster::start(cfg, test_db()).await.expect("start");
    let (stop_tx, stop_rx) = tokio::sync::watch::channel(false);
    let ncfg = nemesis_config(vec![], PartitionShape::Halves, Duration::from_millis(50), 1);
    tokio::spawn(async move {
        tokio::time::sleep(Duration::from_millis(300)).await;
        let _ = stop_tx.send(true);
    });
    let mut count = 0;
    let s = nemesis::run(&cluster, ncfg, |_| count += 1, stop_rx)
        .await
        .unwrap();
    assert_eq!(count, 0);
    assert_eq!(s.events, 0);
    cluster.shutdown().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn leader_partitions_isolate_the_node_that_claims_leadership() {
    let (cfg, _dir) = config(3, NetMode::Proxy);
    let _guard = LeftoverGuard(cfg.run_prefix.clone());
    let cluster = Cluster::start(cfg, test_db()).await.expect("start");
    // The stand-in node n1 always claims to lead.
    assert_eq!(cluster.leader().await.as_deref(), Some("n1"));
    let (stop_tx, stop_rx) = tokio::sync::watch::channel(false);
    tokio::spawn(async move {
        tokio::time::sleep(Duration::from_millis(1000)).await;
        let _ = stop_tx.send(true);
    });
    let mut starts = Vec::new();
    let ncfg = nemesis_config(
        vec![FaultKind::Partition],
        PartitionShape::Leader,
        Duration::from_millis(120),
        9,
    );
    nemesis::run(
        &cluster,
        ncfg,
        |e| {
            if e.f == "start-partition" {
                starts.push(e.value)
            }
        },
        stop_rx,
    )
    .await
    .unwrap();
    assert!(starts.len() >= 2, "{starts:?}");
    let want = serde_json::json!({"n1": ["n2", "n3"], "n2": ["n1"], "n3": ["n1"]});
    for s in &starts {
        assert_eq!(s, &want);
    }
    // Paused leaders are not asked; with n1 paused nobody claims to lead.
    cluster.pause("n1").unwrap();
    assert_eq!(cluster.leader().await, None);
    cluster.resume("n1").unwrap();
    cluster.shutdown().await.unwrap();
}

/// With the leader-change trigger a fault waits for a new leader; the stand-in's leader never
/// changes (n1, no term), so each fault comes only after four intervals, and a `leader` target
/// hits n1 every time.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn leader_change_trigger_waits_for_a_new_leader_or_four_intervals() {
    let (cfg, _dir) = config(3, NetMode::Proxy);
    let _guard = LeftoverGuard(cfg.run_prefix.clone());
    let cluster = Cluster::start(cfg, test_db()).await.expect("start");
    let interval = Duration::from_millis(100);
    let ncfg = NemesisConfig {
        targets: vec![nemesis::Target::Leader],
        trigger: nemesis::Trigger::LeaderChange,
        ..nemesis_config(vec![FaultKind::Kill], PartitionShape::Random, interval, 3)
    };
    let t0 = Instant::now();
    let (events, _) = run_for(&cluster, ncfg, 2000).await;
    let kills: Vec<&NemesisEvent> = events.iter().filter(|e| e.f == "kill").collect();
    assert!(!kills.is_empty(), "{events:?}");
    assert!(
        kills[0].at >= t0 + interval * 4,
        "the first kill waited for a leader change or four intervals"
    );
    for k in &kills {
        assert_eq!(k.value, serde_json::json!(["n1"]), "{events:?}");
    }
    assert_eq!(
        events.iter().filter(|e| e.f == "restart").count(),
        kills.len()
    );
    assert!(cluster.is_running("n1").unwrap());
    cluster.shutdown().await.unwrap();
}

/// With `overlap`, each fault kind keeps its own schedule: partitions and kills each start and
/// stop in turn, and at some moment both are on.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn overlapping_schedules_pair_their_own_events_and_overlap() {
    let (cfg, _dir) = config(3, NetMode::Proxy);
    let _guard = LeftoverGuard(cfg.run_prefix.clone());
    let cluster = Cluster::start(cfg, test_db()).await.expect("start");
    let ncfg = NemesisConfig {
        overlap: true,
        ..nemesis_config(
            vec![FaultKind::Partition, FaultKind::Kill],
            PartitionShape::Isolated,
            Duration::from_millis(150),
            11,
        )
    };
    let (events, summary) = run_for(&cluster, ncfg, 3000).await;
    assert_eq!(summary.events, events.len());
    let (mut partitioned, mut killed, mut both_on) = (false, false, false);
    for e in &events {
        match e.f.as_str() {
            "start-partition" => {
                assert!(!partitioned, "{events:?}");
                partitioned = true
            }
            "stop-partition" => {
                assert!(partitioned, "{events:?}");
                partitioned = false
            }
            "kill" => {
                assert!(!killed, "{events:?}");
                killed = true
            }
            "restart" => {
                assert!(killed, "{events:?}");
                killed = false
            }
            other => panic!("unexpected {other}"),
        }
        both_on |= partitioned && killed;
    }
    assert!(!partitioned && !killed, "everything undone: {events:?}");
    assert!(both_on, "a kill during a partition: {events:?}");
    assert!(summary.faults["partition"] >= 2 && summary.faults["kill"] >= 2);
    for n in cluster.nodes() {
        assert!(cluster.is_running(&n.name).unwrap(), "{} running", n.name);
    }
    cluster.shutdown().await.unwrap();
}

/// `together`: a compound fault — pause the leader (the stand-in's n1) and kill the others at
/// once, then restart the others first and wake the leader last, each after its own wait.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn together_applies_every_kind_at_once_and_undoes_in_reverse() {
    let (cfg, _dir) = config(3, NetMode::Proxy);
    let _guard = LeftoverGuard(cfg.run_prefix.clone());
    let cluster = Cluster::start(cfg, test_db()).await.expect("start");
    let ncfg = NemesisConfig {
        pause_targets: vec![nemesis::Target::Leader],
        kill_targets: vec![nemesis::Target::Followers],
        together: true,
        ..nemesis_config(
            vec![FaultKind::Pause, FaultKind::Kill],
            PartitionShape::Random,
            Duration::from_millis(100),
            4,
        )
    };
    let (events, _) = run_for(&cluster, ncfg, 2500).await;
    let steps: Vec<(String, serde_json::Value)> = events
        .iter()
        .map(|e| (e.f.clone(), e.value.clone()))
        .collect();
    assert!(steps.len() >= 4, "{steps:?}");
    assert_eq!(steps.len() % 4, 0, "every step undone: {steps:?}");
    let leader = serde_json::json!(["n1"]);
    let others = serde_json::json!(["n2", "n3"]);
    for step in steps.chunks(4) {
        assert_eq!(step[0], ("pause".to_string(), leader.clone()), "{steps:?}");
        assert_eq!(step[1], ("kill".to_string(), others.clone()), "{steps:?}");
        assert_eq!(
            step[2],
            ("restart".to_string(), others.clone()),
            "{steps:?}"
        );
        assert_eq!(step[3], ("resume".to_string(), leader.clone()), "{steps:?}");
    }
    for n in cluster.nodes() {
        assert!(cluster.is_running(&n.name).unwrap(), "{} running", n.name);
        let pid = cluster.pid(&n.name).unwrap().unwrap();
        assert_ne!(proc_state(pid), Some('T'), "{} not paused", n.name);
    }
    cluster.shutdown().await.unwrap();
}

/// Runs the nemesis on `cluster` for `ms` milliseconds (bounded by 30 s) and returns what it
/// reported.
async fn run_for(
    cluster: &Cluster,
    ncfg: NemesisConfig,
    ms: u64,
) -> (Vec<NemesisEvent>, nemesis::NemesisSummary) {
    let (stop_tx, stop_rx) = tokio::sync::watch::channel(false);
    tokio::spawn(async move {
        tokio::time::sleep(Duration::from_millis(ms)).await;
        let _ = stop_tx.send(true);
    });
    let mut events = Vec::new();
    let summary = tokio::time::timeout(
        Duration::from_secs(30),
        nemesis::run(cluster, ncfg, |e| events.push(e), stop_rx),
    )
    .await
    .expect("bounded")
    .expect("nemesis runs");
    (events, summary)
}

/// A nemesis config with these faults, shape, interval and seed, and the defaults for the
/// rest (default targets, timer trigger, one fault at a time).
fn nemesis_config(
    faults: Vec<FaultKind>,
    shape: PartitionShape,
    interval: Duration,
    seed: u64,
) -> NemesisConfig {
    NemesisConfig {
        faults,
        shape,
        targets: vec![],
        pause_targets: vec![],
        kill_targets: vec![],
        interval,
        trigger: Default::default(),
        overlap: false,
        together: false,
        links: Default::default(),
        clock: Default::default(),
        seed,
        byzantine: Default::default(),
        script: None,
    }
}

/// A nemesis script against the stand-in (whose leader is always n1): steps run in order on
/// the nodes their roles name, each recorded as the random nemesis records it, and what is
/// still on when the run stops is undone.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_script_applies_its_steps_in_order_to_the_roles_it_names() {
    let (cfg, _dir) = config(3, NetMode::Proxy);
    let _guard = LeftoverGuard(cfg.run_prefix.clone());
    let cluster = Cluster::start(cfg, test_db()).await.expect("start");
    let script = nemesis::script::Script::parse(
        "t.toml",
        r#"[[step]]
        wait-leader = "old"
        [[step]]
        isolate = "old"
        [[step]]
        pause = "others"
        [[step]]
        resume = "others"
        [[step]]
        kill = "n2"
        [[step]]
        delay = { links = "old>others", ms = 5 }"#,
    )
    .unwrap();
    let ncfg = NemesisConfig {
        script: Some(script),
        ..nemesis_config(vec![], PartitionShape::Random, Duration::from_secs(1), 1)
    };
    let (events, summary) = run_for(&cluster, ncfg, 1500).await;
    let fs: Vec<&str> = events.iter().map(|e| e.f.as_str()).collect();
    assert_eq!(
        fs,
        [
            "start-partition",
            "pause",
            "resume",
            "kill",
            "start-delay",
            "restart",
            "stop-partition",
            "stop-delay"
        ],
        "{events:?}"
    );
    assert_eq!(events[0].value["n1"], serde_json::json!(["n2", "n3"]));
    assert_eq!(events[1].value, serde_json::json!(["n2", "n3"]));
    assert_eq!(events[3].value, serde_json::json!(["n2"]));
    assert_eq!(
        events[4].value["links"],
        serde_json::json!(["n1→n2", "n1→n3"])
    );
    assert_eq!(summary.events, fs.len());
    assert!(cluster.is_running("n2").unwrap(), "the killed node is back");
    assert!(cluster.link_conditions().await.is_empty(), "links healed");
    cluster.shutdown().await.expect("shutdown");
}

/// A round whose `wait-leader` sees no new leader in time is given up and undone, and with
/// `repeat` the script starts over: the stand-in's leader never changes, so every round
/// isolates n1 and gives up.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_script_round_without_a_new_leader_is_given_up_and_repeated() {
    let (cfg, _dir) = config(3, NetMode::Proxy);
    let _guard = LeftoverGuard(cfg.run_prefix.clone());
    let cluster = Cluster::start(cfg, test_db()).await.expect("start");
    let script = nemesis::script::Script::parse(
        "t.toml",
        r#"repeat = true
        [[step]]
        wait-leader = "old"
        [[step]]
        isolate = "old"
        [[step]]
        wait-leader = "new"
        timeout = 0.3
        [[step]]
        kill = "others""#,
    )
    .unwrap();
    let ncfg = NemesisConfig {
        script: Some(script),
        ..nemesis_config(vec![], PartitionShape::Random, Duration::from_secs(1), 1)
    };
    let (events, _) = run_for(&cluster, ncfg, 1500).await;
    let fs: Vec<&str> = events.iter().map(|e| e.f.as_str()).collect();
    assert!(fs.len() >= 4, "at least two rounds: {fs:?}");
    for pair in fs.chunks(2) {
        assert_eq!(pair, ["start-partition", "stop-partition"], "{fs:?}");
    }
    assert!(!fs.contains(&"kill"), "no round got past its wait: {fs:?}");
    cluster.shutdown().await.expect("shutdown");
}
