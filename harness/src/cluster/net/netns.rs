//! The netns backend: one network namespace per node (`<prefix>-n<id>`, interface `eth0`,
//! address `A.B.C.<id>/24`), all joined by a bridge that lives in a switch namespace of its own
//! (`<prefix>-sw`, bridge `br0`), and one veth (`<prefix>-h`, address `A.B.C.254`) from the
//! host namespace into that bridge, through which the harness's clients reach the nodes.
//!
//! Keeping the bridge in its own namespace means bridged node-to-node frames never cross the
//! host's netfilter FORWARD chain (with `br_netfilter` loaded and a host FORWARD policy of DROP,
//! as Docker sets, a bridge in the host namespace would silently drop them), and nothing in the
//! host namespace changes except the one veth and its /24 route.
//!
//! Partitions are iptables rules in a chain of our own (`HXNEM`, jumped to from INPUT) inside
//! the node namespaces only: node X's chain drops packets whose source is a node X cannot hear
//! from; the host address `.254` is never dropped. Healing flushes the chain. Where iptables
//! does not work, blackhole routes inside the node namespaces are used instead (they cut the
//! node's packets *to* the grudged peers, which for TCP cuts the link both ways).
//!
//! One-way cuts need nothing more: a grudge is already directional (node X drops what comes
//! *from* the peers it cannot hear, and still sends to them).
//!
//! Link loss is a second chain of our own (`HXLINK`, jumped to from INPUT after `HXNEM`): for a
//! link `a -> b` with loss `p`, b's chain drops packets from a with iptables' `statistic` match
//! (`--mode random --probability p`), so it composes with partitions and is replaced or
//! flushed on its own. Delay is not done here: this kernel has no netem. Of the two ways
//! around it (NFQUEUE with a user-space re-injector per namespace, or routing node-to-node
//! traffic through the harness's proxies, reachable from the nodes at the host address
//! `.254`), the chosen one is the proxy route, done by the cluster
//! (`ClusterConfig::peer_proxies`, `Net::NetnsProxied`): no new dependency or kernel module,
//! one implementation of delay, jitter and loss for both backends, tasks the harness already
//! owns and cleans up. Without it, a delay on a netns link is refused here with
//! [`ClusterError::Unsupported`] (see docs/design.md, "Link faults").

use std::collections::BTreeSet;
use std::net::Ipv4Addr;
use std::os::fd::OwnedFd;
use std::process::{Command, Output, Stdio};

use std::sync::Mutex;
use tokio::io::AsyncWriteExt;

use crate::cluster::error::ClusterError;
use crate::cluster::grudge::Grudge;
use crate::cluster::links::LinkFaults;
use crate::pathio::PathError;

/// Set (to anything) to make partitions use blackhole routes even where iptables works (to
/// test that fallback, or on hosts whose iptables misbehaves inside namespaces).
pub const NO_IPTABLES_ENV: &str = "HARNESS_NETNS_NO_IPTABLES";

/// The iptables chain the harness owns inside each node namespace.
pub const CHAIN: &str = "HXNEM";

/// The iptables chain of link conditions (loss) inside each node namespace.
pub const LINK_CHAIN: &str = "HXLINK";

/// Names of everything the netns backend creates for a run prefix.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NetnsNames {
    pub switch_ns: String,
    pub host_link: String,
    pub node_ns: Vec<String>,
}

impl NetnsNames {
    pub fn new(prefix: &str, nodes: usize) -> NetnsNames {
        NetnsNames {
            switch_ns: format!("{prefix}-sw"),
            host_link: format!("{prefix}-h"),
            node_ns: (1..=nodes).map(|i| format!("{prefix}-n{i}")).collect(),
        }
    }
}

/// Whether the netns backend can be used here: effective root and `ip netns list` works.
pub fn available() -> Result<(), String> {
    if !nix::unistd::geteuid().is_root() {
        return Err("netns needs root (CAP_NET_ADMIN); use --net proxy".into());
    }
    match Command::new("ip").args(["netns", "list"]).output() {
        Ok(o) if o.status.success() => Ok(()),
        Ok(o) => Err(format!(
            "`ip netns list` failed: {}",
            String::from_utf8_lossy(&o.stderr).trim()
        )),
        Err(e) => Err(format!("cannot run `ip`: {e}")),
    }
}

fn run(args: &[&str]) -> Result<Output, ClusterError> {
    let out = Command::new(args[0])
        .args(&args[1..])
        .stdin(Stdio::null())
        .output()
        .map_err(|e| ClusterError::Net(format!("cannot run `{}`: {e}", args.join(" "))))?;
    if out.status.success() {
        Ok(out)
    } else {
        Err(ClusterError::Net(format!(
            "`{}` failed ({}): {}",
            args.join(" "),
            out.status,
            String::from_utf8_lossy(&out.stderr).trim()
        )))
    }
}

/// Parses `a.b.c.d/len` (or a bare address, /32) from `ip route`/`ip addr` output.
fn parse_cidr(s: &str) -> Option<(u32, u32)> {
    let (addr, len) = match s.split_once('/') {
        Some((a, l)) => (a, l.parse::<u32>().ok()?),
        None => (s, 32),
    };
    let a: Ipv4Addr = addr.parse().ok()?;
    if len > 32 {
        return None;
    }
    Some((u32::from(a), len))
}

fn overlaps(a: (u32, u32), b: (u32, u32)) -> bool {
    let len = a.1.min(b.1);
    let mask = if len == 0 { 0 } else { u32::MAX << (32 - len) };
    (a.0 & mask) == (b.0 & mask)
}

/// Every IPv4 prefix in use on this host (routes in all tables, addresses).
fn used_prefixes() -> Vec<(u32, u32)> {
    let mut used = Vec::new();
    for args in [
        &["ip", "-4", "route", "show", "table", "all"][..],
        &["ip", "-4", "-o", "addr", "show"][..],
    ] {
        if let Ok(out) = run(args) {
            for word in String::from_utf8_lossy(&out.stdout).split_whitespace() {
                if word.contains('.') {
                    if let Some(c) = parse_cidr(word) {
                        used.push(c);
                    }
                }
            }
        }
    }
    used
}

/// Whether an interface other than `ours` has an IPv4 address inside `net`.
fn other_interface_in(net: (u32, u32), ours: &str) -> bool {
    let Ok(out) = run(&["ip", "-4", "-o", "addr", "show"]) else {
        return false;
    };
    String::from_utf8_lossy(&out.stdout).lines().any(|line| {
        let words: Vec<&str> = line.split_whitespace().collect();
        let ifname = words.get(1).copied().unwrap_or("");
        let cidr = words
            .iter()
            .position(|w| *w == "inet")
            .and_then(|i| words.get(i + 1))
            .and_then(|c| parse_cidr(c));
        ifname != ours && cidr.is_some_and(|c| overlaps((c.0, 32), net))
    })
}

/// Picks a free `10.x.y.0/24` (its first three octets), starting from a point derived from the
/// run prefix so that concurrent runs tend to pick different subnets.
pub fn choose_subnet(prefix: &str, used: &[(u32, u32)]) -> Option<[u8; 3]> {
    let h = prefix
        .bytes()
        .fold(0u32, |h, b| h.wrapping_mul(31).wrapping_add(u32::from(b)));
    // 10.100.0.0 .. 10.227.255.0: 128 * 256 candidates.
    for k in 0..(128u32 * 256) {
        let idx = (h.wrapping_add(k.wrapping_mul(7919))) % (128 * 256);
        let b = 100 + (idx / 256) as u8;
        let c = (idx % 256) as u8;
        let net = (u32::from(Ipv4Addr::new(10, b, c, 0)), 24);
        if !used.iter().any(|u| overlaps(*u, net)) {
            return Some([10, b, c]);
        }
    }
    None
}

/// A running netns network.
#[derive(Debug)]
pub struct NetnsNet {
    names: NetnsNames,
    subnet: [u8; 3],
    use_iptables: bool,
    /// Blackhole routes currently installed (namespace, peer address), in fallback mode.
    blackholes: Mutex<Vec<(String, Ipv4Addr)>>,
}

impl NetnsNet {
    /// Creates the namespaces, the bridge and the links. On error, removes what it created.
    pub fn setup(prefix: &str, nodes: usize) -> Result<NetnsNet, ClusterError> {
        // Two runs setting up at the same instant could pick the same subnet: after creating,
        // check that no other interface holds an address in ours, and move on if one does.
        let mut avoid: Vec<(u32, u32)> = Vec::new();
        for _attempt in 0..5 {
            let mut used = used_prefixes();
            used.extend(avoid.iter().copied());
            let subnet = choose_subnet(prefix, &used)
                .ok_or_else(|| ClusterError::Net("no free 10.x.y.0/24 subnet".into()))?;
            let mut net = NetnsNet {
                names: NetnsNames::new(prefix, nodes),
                subnet,
                use_iptables: true,
                blackholes: Mutex::new(Vec::new()),
            };
            if let Err(e) = net.create() {
                let _ = net.teardown();
                return Err(e);
            }
            let ours = (
                u32::from(Ipv4Addr::new(subnet[0], subnet[1], subnet[2], 0)),
                24,
            );
            if !other_interface_in(ours, &net.names.host_link) {
                return Ok(net);
            }
            tracing::warn!("subnet {ours:?} also claimed by another interface; choosing again");
            let _ = net.teardown();
            avoid.push(ours);
        }
        Err(ClusterError::Net(
            "could not find an uncontested 10.x.y.0/24 subnet in 5 attempts".into(),
        ))
    }

    fn create(&mut self) -> Result<(), ClusterError> {
        let sw = self.names.switch_ns.clone();
        let host = self.names.host_link.clone();
        run(&["ip", "netns", "add", &sw])?;
        run(&["ip", "-n", &sw, "link", "set", "lo", "up"])?;
        run(&["ip", "-n", &sw, "link", "add", "br0", "type", "bridge"])?;
        run(&["ip", "-n", &sw, "link", "set", "br0", "up"])?;
        run(&[
            "ip", "link", "add", &host, "type", "veth", "peer", "name", "h0", "netns", &sw,
        ])?;
        run(&["ip", "-n", &sw, "link", "set", "h0", "master", "br0", "up"])?;
        let host_addr = format!("{}/24", self.host_addr());
        run(&["ip", "addr", "add", &host_addr, "dev", &host])?;
        run(&["ip", "link", "set", &host, "up"])?;
        let mut iptables_ok = std::env::var_os(NO_IPTABLES_ENV).is_none();
        for (i, ns) in self.names.node_ns.clone().iter().enumerate() {
            let id = (i + 1) as u64;
            let v = format!("v{id}");
            let addr = format!("{}/24", self.node_addr(id));
            run(&["ip", "netns", "add", ns])?;
            run(&[
                "ip", "-n", &sw, "link", "add", &v, "type", "veth", "peer", "name", "eth0",
                "netns", ns,
            ])?;
            run(&["ip", "-n", &sw, "link", "set", &v, "master", "br0", "up"])?;
            run(&["ip", "-n", ns, "addr", "add", &addr, "dev", "eth0"])?;
            run(&["ip", "-n", ns, "link", "set", "eth0", "up"])?;
            run(&["ip", "-n", ns, "link", "set", "lo", "up"])?;
            if iptables_ok {
                let chain = [CHAIN, LINK_CHAIN].iter().try_for_each(|c| {
                    run(&["ip", "netns", "exec", ns, "iptables", "-w", "-N", c])?;
                    run(&[
                        "ip", "netns", "exec", ns, "iptables", "-w", "-A", "INPUT", "-j", c,
                    ])
                    .map(|_| ())
                });
                if let Err(e) = chain {
                    tracing::warn!(
                        "iptables unusable in {ns} ({e}); partitions use blackhole routes"
                    );
                    iptables_ok = false;
                }
            }
        }
        self.use_iptables = iptables_ok;
        Ok(())
    }

    pub fn names(&self) -> &NetnsNames {
        &self.names
    }

    /// Node `id`'s address (inside its namespace).
    pub fn node_addr(&self, id: u64) -> Ipv4Addr {
        let [a, b, c] = self.subnet;
        Ipv4Addr::new(a, b, c, id.min(253) as u8)
    }

    /// The host end's address on the bridge (what node logs show as the clients' address).
    pub fn host_addr(&self) -> Ipv4Addr {
        let [a, b, c] = self.subnet;
        Ipv4Addr::new(a, b, c, 254)
    }

    /// An open handle on node `id`'s namespace, for `setns` in the child.
    pub fn open_ns(&self, id: u64) -> Result<OwnedFd, PathError> {
        let ns = &self.names.node_ns[(id as usize).saturating_sub(1)];
        let path = std::path::PathBuf::from(format!("/var/run/netns/{ns}"));
        let file = std::fs::File::open(&path).map_err(PathError::at("opening", &path))?;
        Ok(file.into())
    }

    fn ns_of(&self, name: &str) -> Option<(&String, u64)> {
        let id: u64 = name.strip_prefix('n')?.parse().ok()?;
        self.names
            .node_ns
            .get((id as usize).checked_sub(1)?)
            .map(|ns| (ns, id))
    }

    /// Replaces the current partition with `grudge` (node names `n<id>`).
    pub async fn partition(&self, grudge: &Grudge) -> Result<(), ClusterError> {
        for (node, cut) in grudge {
            if self.ns_of(node).is_none() {
                return Err(ClusterError::UnknownNode(node.clone()));
            }
            for p in cut {
                if self.ns_of(p).is_none() {
                    return Err(ClusterError::UnknownNode(p.clone()));
                }
            }
        }
        if !self.use_iptables {
            return self.partition_blackhole(grudge);
        }
        let mut tasks = Vec::new();
        for (i, ns) in self.names.node_ns.iter().enumerate() {
            let name = format!("n{}", i + 1);
            let empty = BTreeSet::new();
            let cut = grudge.get(&name).unwrap_or(&empty);
            let mut script = format!("*filter\n-F {CHAIN}\n");
            for p in cut {
                if let Some((_, pid)) = self.ns_of(p) {
                    script.push_str(&format!(
                        "-A {CHAIN} -s {}/32 -j DROP\n",
                        self.node_addr(pid)
                    ));
                }
            }
            script.push_str("COMMIT\n");
            tasks.push(iptables_restore(ns.clone(), script));
        }
        for t in tasks {
            t.await?;
        }
        Ok(())
    }

    fn partition_blackhole(&self, grudge: &Grudge) -> Result<(), ClusterError> {
        self.heal_blackhole()?;
        let mut installed = lock(&self.blackholes);
        for (node, cut) in grudge {
            let Some((ns, _)) = self.ns_of(node) else {
                continue;
            };
            for p in cut {
                let Some((_, pid)) = self.ns_of(p) else {
                    continue;
                };
                let addr = self.node_addr(pid);
                run(&[
                    "ip",
                    "-n",
                    ns,
                    "route",
                    "add",
                    "blackhole",
                    &format!("{addr}/32"),
                ])?;
                installed.push((ns.clone(), addr));
            }
        }
        Ok(())
    }

    fn heal_blackhole(&self) -> Result<(), ClusterError> {
        let mut installed = lock(&self.blackholes);
        for (ns, addr) in installed.drain(..) {
            let dest = format!("{addr}/32");
            run(&[
                "ip",
                "-n",
                ns.as_str(),
                "route",
                "del",
                "blackhole",
                dest.as_str(),
            ])?;
        }
        Ok(())
    }

    /// Replaces every link condition: `conditions` (node names `n<id>`) become loss rules in
    /// the receivers' `HXLINK` chains; every other link is healthy. A delay or jitter is
    /// refused (no netem here, no re-injector yet), before anything changes.
    pub async fn set_link_conditions(&self, conditions: &LinkFaults) -> Result<(), ClusterError> {
        for ((a, b), c) in conditions {
            for n in [a, b] {
                if self.ns_of(n).is_none() {
                    return Err(ClusterError::UnknownNode(n.clone()));
                }
            }
            if c.corrupt > 0.0 || c.duplicate > 0.0 {
                return Err(ClusterError::Unsupported(format!(
                    "wire fault {a}→{b}: only the proxy backend corrupts or duplicates \
                     messages; use --net proxy"
                )));
            }
            if !c.delay.is_zero() || !c.jitter.is_zero() {
                return Err(ClusterError::Unsupported(format!(
                    "link delay {a}→{b}: this kernel has no netem, so the netns backend delays \
                     messages only through its proxies (start the cluster with peer_proxies)"
                )));
            }
        }
        if !self.use_iptables && conditions.values().any(|c| c.loss > 0.0) {
            return Err(ClusterError::Unsupported(
                "link loss needs iptables inside the namespaces (unusable here)".into(),
            ));
        }
        let mut tasks = Vec::new();
        for (i, ns) in self.names.node_ns.iter().enumerate() {
            let me = format!("n{}", i + 1);
            let mut script = format!("*filter\n-F {LINK_CHAIN}\n");
            for ((from, to), c) in conditions {
                if *to != me || c.loss <= 0.0 {
                    continue;
                }
                if let Some((_, pid)) = self.ns_of(from) {
                    script.push_str(&loss_rule(self.node_addr(pid), c.loss));
                }
            }
            script.push_str("COMMIT\n");
            tasks.push(iptables_restore(ns.clone(), script));
        }
        for t in tasks {
            t.await?;
        }
        Ok(())
    }

    /// The loss rules now in node `id`'s `HXLINK` chain (`iptables -S`), for tests.
    pub fn link_rules(&self, id: u64) -> Result<Vec<String>, ClusterError> {
        let ns = &self.names.node_ns[(id as usize).saturating_sub(1)];
        let out = run(&[
            "ip", "netns", "exec", ns, "iptables", "-w", "-S", LINK_CHAIN,
        ])?;
        Ok(String::from_utf8_lossy(&out.stdout)
            .lines()
            .filter(|l| l.starts_with("-A"))
            .map(str::to_string)
            .collect())
    }

    /// Removes every partition rule.
    pub async fn heal(&self) -> Result<(), ClusterError> {
        if !self.use_iptables {
            return self.heal_blackhole();
        }
        let mut tasks = Vec::new();
        for ns in &self.names.node_ns {
            tasks.push(iptables_restore(
                ns.clone(),
                format!("*filter\n-F {CHAIN}\nCOMMIT\n"),
            ));
        }
        for t in tasks {
            t.await?;
        }
        Ok(())
    }

    /// Deletes the namespaces (which deletes the bridge and every veth) and the host link.
    /// Keeps going on errors; returns the first.
    pub fn teardown(&self) -> Result<(), ClusterError> {
        teardown_names(&self.names)
    }
}

/// Deletes the namespaces and the host link of `names` if they exist (idempotent).
pub fn teardown_names(names: &NetnsNames) -> Result<(), ClusterError> {
    let existing = list_namespaces();
    let mut first_err = None;
    for ns in names
        .node_ns
        .iter()
        .chain(std::iter::once(&names.switch_ns))
    {
        if existing.contains(ns) {
            if let Err(e) = run(&["ip", "netns", "del", ns]) {
                first_err.get_or_insert(e);
            }
        }
    }
    if list_links().contains(&names.host_link) {
        // Deleting the switch namespace deletes the veth's peer and, a moment later, the host
        // end too: a failure is an error only if the link is still there.
        if let Err(e) = run(&["ip", "link", "del", &names.host_link]) {
            if list_links().contains(&names.host_link) {
                first_err.get_or_insert(e);
            }
        }
    }
    first_err.map_or(Ok(()), Err)
}

/// Names of the network namespaces in `/var/run/netns`.
pub fn list_namespaces() -> Vec<String> {
    let mut out = Vec::new();
    if let Ok(rd) = std::fs::read_dir("/var/run/netns") {
        for e in rd.flatten() {
            out.push(e.file_name().to_string_lossy().into_owned());
        }
    }
    out.sort();
    out
}

/// Names of the links in the host namespace.
pub fn list_links() -> Vec<String> {
    let mut out = Vec::new();
    if let Ok(rd) = std::fs::read_dir("/sys/class/net") {
        for e in rd.flatten() {
            out.push(e.file_name().to_string_lossy().into_owned());
        }
    }
    out.sort();
    out
}

/// The `HXLINK` rule that drops packets from `from` with probability `p`.
fn loss_rule(from: Ipv4Addr, p: f64) -> String {
    format!(
        "-A {LINK_CHAIN} -s {from}/32 -m statistic --mode random --probability {:.5} -j DROP\n",
        p.clamp(0.0, 1.0)
    )
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

/// Runs `iptables-restore --noflush` with `script` inside namespace `ns`.
async fn iptables_restore(ns: String, script: String) -> Result<(), ClusterError> {
    let mut child = tokio::process::Command::new("ip")
        .args(["netns", "exec", &ns, "iptables-restore", "-w", "--noflush"])
        .stdin(Stdio::piped())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .map_err(|e| ClusterError::Net(format!("cannot run iptables-restore in {ns}: {e}")))?;
    let failed = |e: std::io::Error| ClusterError::Net(format!("iptables-restore in {ns}: {e}"));
    if let Some(mut stdin) = child.stdin.take() {
        stdin.write_all(script.as_bytes()).await.map_err(failed)?;
    }
    let out = child.wait_with_output().await.map_err(failed)?;
    if out.status.success() {
        Ok(())
    } else {
        Err(ClusterError::Net(format!(
            "iptables-restore in {ns} failed ({}): {}",
            out.status,
            String::from_utf8_lossy(&out.stderr).trim()
        )))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn subnet_choice_avoids_used_prefixes() {
        let used = vec![parse_cidr("10.0.0.0/8").unwrap()];
        assert_eq!(choose_subnet("hxabc123", &used), None);
        let used = vec![parse_cidr("192.0.2.0/24").unwrap()];
        let s = choose_subnet("hxabc123", &used).unwrap();
        assert_eq!(s[0], 10);
        assert!(s[1] >= 100);
        // A route covering the first choice moves the choice elsewhere.
        let first = (u32::from(Ipv4Addr::new(s[0], s[1], s[2], 0)), 24);
        let s2 = choose_subnet("hxabc123", &[first]).unwrap();
        assert_ne!(s, s2);
    }

    #[test]
    fn names_fit_linux_interface_limits() {
        let n = NetnsNames::new("hxabc123", 9);
        assert!(n.host_link.len() <= 15);
        assert_eq!(n.node_ns[8], "hxabc123-n9");
    }
}
