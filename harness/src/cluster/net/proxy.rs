//! The proxy backend (rootless): nodes listen on 127.0.0.1; for every directed link `i -> j`
//! the harness runs a TCP proxy on 127.0.0.1 (tokio tasks it owns), and node `i` is told that
//! proxy's address as peer `j`'s address. A partition cuts links: a cut link closes every
//! connection it carries at once and closes new ones right after accepting them, until healed.
//!
//! A TCP connection carries requests one way and answers the other, so a link cannot be cut in
//! one direction only: a grudge "a cannot hear from b" cuts both `a -> b` and `b -> a` here
//! (the netns backend keeps grudges one-directional).

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::time::Duration;

use tokio::net::{TcpListener, TcpStream};
use tokio::sync::watch;
use tokio::task::JoinHandle;

use crate::cluster::error::ClusterError;
use crate::cluster::grudge::Grudge;
use crate::cluster::links::{LinkCondition, LinkFaults};

/// State of one link.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum LinkState {
    Open,
    Cut,
    Closed,
}

#[derive(Debug)]
struct Link {
    addr: SocketAddr,
    state: watch::Sender<LinkState>,
    condition: watch::Sender<LinkCondition>,
    accept_task: JoinHandle<()>,
}

/// The proxies of one cluster.
#[derive(Debug)]
pub struct ProxyNet {
    /// (from id, to id) → link.
    links: BTreeMap<(u64, u64), Link>,
    /// Node name → id.
    ids: BTreeMap<String, u64>,
}

/// Ports node listeners are drawn from: below Linux's default ephemeral range
/// (32768–60999), so that no outgoing connection of another process (the harness's own
/// clients included) can take a port between the check here and the node's own bind.
const NODE_PORTS: std::ops::Range<u16> = 20000..32000;

/// A free TCP port on 127.0.0.1 for a node to listen on (bound and released; the node binds
/// it right after). Drawn at random from [`NODE_PORTS`]; the kernel's choice only if none
/// of 200 draws is free.
pub fn free_local_port() -> std::io::Result<u16> {
    use rand::Rng;
    let mut rng = rand::thread_rng();
    for _ in 0..200 {
        let port = rng.gen_range(NODE_PORTS);
        if std::net::TcpListener::bind(("127.0.0.1", port)).is_ok() {
            return Ok(port);
        }
    }
    let l = std::net::TcpListener::bind("127.0.0.1:0")?;
    Ok(l.local_addr()?.port())
}

impl ProxyNet {
    /// Starts one proxy per directed link between the given nodes `(id, name, listen addr)`.
    /// Must be called inside a tokio runtime.
    pub async fn setup(nodes: &[(u64, String, SocketAddr)]) -> Result<ProxyNet, ClusterError> {
        Self::setup_on(std::net::Ipv4Addr::LOCALHOST.into(), nodes).await
    }

    /// [`setup`](Self::setup) with the proxies listening on `bind` (the netns backend's
    /// bridge host address, which the node namespaces reach).
    pub async fn setup_on(
        bind: std::net::IpAddr,
        nodes: &[(u64, String, SocketAddr)],
    ) -> Result<ProxyNet, ClusterError> {
        let mut links = BTreeMap::new();
        for (from, _, _) in nodes {
            for (to, _, target) in nodes {
                if from == to {
                    continue;
                }
                let listener = TcpListener::bind((bind, 0))
                    .await
                    .map_err(|e| ClusterError::Net(format!("proxy n{from}->n{to}: bind: {e}")))?;
                let addr = listener.local_addr().map_err(|e| {
                    ClusterError::Net(format!("proxy n{from}->n{to}: local address: {e}"))
                })?;
                let (tx, rx) = watch::channel(LinkState::Open);
                let (condition, condition_rx) = watch::channel(LinkCondition::default());
                let accept_task = tokio::spawn(accept_loop(listener, *target, rx, condition_rx));
                links.insert(
                    (*from, *to),
                    Link {
                        addr,
                        state: tx,
                        condition,
                        accept_task,
                    },
                );
            }
        }
        let ids = nodes
            .iter()
            .map(|(id, name, _)| (name.clone(), *id))
            .collect();
        Ok(ProxyNet { links, ids })
    }

    /// The proxy address node `from` must use to reach node `to`.
    pub fn link_addr(&self, from: u64, to: u64) -> Option<SocketAddr> {
        self.links.get(&(from, to)).map(|l| l.addr)
    }

    fn id(&self, name: &str) -> Result<u64, ClusterError> {
        self.ids
            .get(name)
            .copied()
            .ok_or_else(|| ClusterError::UnknownNode(name.to_string()))
    }

    /// Replaces the current partition: the link `b -> a` is cut iff a cannot hear from b
    /// (one direction only; see the module doc for what that means for request/response).
    pub fn partition(&self, grudge: &Grudge) -> Result<(), ClusterError> {
        let mut cut = std::collections::BTreeSet::new();
        for (a, deaf_to) in grudge {
            let a = self.id(a)?;
            for b in deaf_to {
                let b = self.id(b)?;
                cut.insert((b, a));
            }
        }
        for (key, link) in &self.links {
            let want = if cut.contains(key) {
                LinkState::Cut
            } else {
                LinkState::Open
            };
            link.state.send_if_modified(|s| {
                if *s != want && *s != LinkState::Closed {
                    *s = want;
                    true
                } else {
                    false
                }
            });
        }
        Ok(())
    }

    /// Replaces every link's condition: the links named in `conditions` get theirs (to bytes
    /// read from now on, on existing connections too), every other link is healthy.
    pub fn set_conditions(&self, conditions: &LinkFaults) -> Result<(), ClusterError> {
        let mut by_id = BTreeMap::new();
        for ((a, b), c) in conditions {
            by_id.insert((self.id(a)?, self.id(b)?), *c);
        }
        for (key, link) in &self.links {
            let want = by_id.get(key).copied().unwrap_or_default();
            link.condition.send_if_modified(|c| {
                let changed = *c != want;
                *c = want;
                changed
            });
        }
        Ok(())
    }

    /// The condition of the directed link `from -> to` (ids).
    pub fn condition(&self, from: u64, to: u64) -> Option<LinkCondition> {
        self.links.get(&(from, to)).map(|l| *l.condition.borrow())
    }

    /// Opens every link.
    pub fn heal(&self) {
        // An empty grudge names no node, so this cannot fail.
        let _ = self.partition(&Grudge::new());
    }

    /// Which directed links are cut now (for tests and logs).
    pub fn cut_links(&self) -> Vec<(u64, u64)> {
        self.links
            .iter()
            .filter(|(_, l)| *l.state.borrow() == LinkState::Cut)
            .map(|(k, _)| *k)
            .collect()
    }

    /// Stops every proxy and closes every proxied connection.
    pub fn shutdown(&self) {
        for link in self.links.values() {
            link.state.send_replace(LinkState::Closed);
            link.accept_task.abort();
        }
    }
}

impl Drop for ProxyNet {
    fn drop(&mut self) {
        self.shutdown();
    }
}

async fn accept_loop(
    listener: TcpListener,
    target: SocketAddr,
    state: watch::Receiver<LinkState>,
    condition: watch::Receiver<LinkCondition>,
) {
    loop {
        let Ok((inbound, _)) = listener.accept().await else {
            tokio::time::sleep(Duration::from_millis(10)).await;
            continue;
        };
        match *state.borrow() {
            LinkState::Open => {}
            LinkState::Cut => {
                // Reset rather than a clean close: the peer sees the cut at once.
                reset_on_close(&inbound);
                drop(inbound);
                continue;
            }
            LinkState::Closed => return,
        }
        tokio::spawn(pipe(inbound, target, state.clone(), condition.clone()));
    }
}

async fn pipe(
    mut inbound: TcpStream,
    target: SocketAddr,
    mut state: watch::Receiver<LinkState>,
    condition: watch::Receiver<LinkCondition>,
) {
    let connect = tokio::time::timeout(Duration::from_secs(2), TcpStream::connect(target)).await;
    let Ok(Ok(mut outbound)) = connect else {
        reset_on_close(&inbound);
        return;
    };
    let _ = inbound.set_nodelay(true);
    let _ = outbound.set_nodelay(true);
    let was_cut = {
        let (mut ir, mut iw) = inbound.split();
        let (mut or, mut ow) = outbound.split();
        let forward = relay(&mut ir, &mut ow, condition.clone(), true);
        let backward = relay(&mut or, &mut iw, condition.clone(), false);
        tokio::pin!(forward, backward);
        let (mut forward_done, mut backward_done) = (false, false);
        loop {
            tokio::select! {
                r = &mut forward, if !forward_done => {
                    if r == Relayed::Lost {
                        break true;
                    }
                    forward_done = true;
                }
                _ = &mut backward, if !backward_done => backward_done = true,
                _ = state.wait_for(|s| *s != LinkState::Open) => break true,
            }
            if forward_done && backward_done {
                break false;
            }
        }
    };
    if was_cut {
        reset_on_close(&inbound);
        reset_on_close(&outbound);
    }
}

/// How a relay ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Relayed {
    /// EOF or an error on either side.
    Ended,
    /// A chunk was lost (the link's loss): the connection must be reset.
    Lost,
}

/// Copies `r` to `w` until EOF, each chunk held back by a delay drawn from the link's
/// condition when it was read (never released before the chunk before it); then half-closes
/// `w`. With `lossy` (the connecting node's direction), each chunk is lost with the link's
/// loss probability, which ends the relay with [`Relayed::Lost`], and otherwise gets one
/// byte corrupted (`corrupt`) or is written twice (`duplicate`) with the link's wire-fault
/// probabilities.
async fn relay<R, W>(
    r: &mut R,
    w: &mut W,
    condition: watch::Receiver<LinkCondition>,
    lossy: bool,
) -> Relayed
where
    R: tokio::io::AsyncRead + Unpin,
    W: tokio::io::AsyncWrite + Unpin,
{
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel::<(tokio::time::Instant, Vec<u8>)>();
    let reader = async move {
        let mut buf = vec![0u8; 16 * 1024];
        let mut last_due = tokio::time::Instant::now();
        loop {
            match r.read(&mut buf).await {
                Ok(0) | Err(_) => return Relayed::Ended,
                Ok(n) => {
                    let c = *condition.borrow();
                    if lossy && c.loss > 0.0 && rand::random::<f64>() < c.loss {
                        return Relayed::Lost;
                    }
                    let drawn = tokio::time::Instant::now() + c.draw_delay(rand::random::<f64>());
                    last_due = last_due.max(drawn);
                    let mut chunk = buf[..n].to_vec();
                    if lossy && c.corrupt > 0.0 && rand::random::<f64>() < c.corrupt {
                        corrupt_one_byte(&mut chunk, rand::random::<u64>());
                    }
                    let copies =
                        if lossy && c.duplicate > 0.0 && rand::random::<f64>() < c.duplicate {
                            2
                        } else {
                            1
                        };
                    for _ in 0..copies {
                        if tx.send((last_due, chunk.clone())).is_err() {
                            return Relayed::Ended;
                        }
                    }
                }
            }
        }
    };
    let writer = async {
        while let Some((due, data)) = rx.recv().await {
            tokio::time::sleep_until(due).await;
            if w.write_all(&data).await.is_err() {
                return;
            }
        }
        let _ = w.shutdown().await;
    };
    tokio::join!(reader, writer).0
}

/// Shortest run of hex digits taken for a signature, digest or key.
const HEX_RUN: usize = 16;

/// Corrupts one byte of `chunk`, chosen by `r`: preferably a digit inside a run of at least
/// [`HEX_RUN`] lowercase hex digits after the end of the HTTP header (a signature, digest or
/// key in a JSON body), replaced by another hex digit, so the message still parses and only
/// its authenticity is broken; else any byte, flipped.
pub(crate) fn corrupt_one_byte(chunk: &mut [u8], r: u64) {
    if chunk.is_empty() {
        return;
    }
    let body = chunk
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .map_or(0, |i| i + 4);
    let is_hex = |b: u8| b.is_ascii_digit() || (b'a'..=b'f').contains(&b);
    let mut hex = Vec::new();
    let mut run_start = body;
    for i in body..=chunk.len() {
        if i < chunk.len() && is_hex(chunk[i]) {
            continue;
        }
        if i - run_start >= HEX_RUN {
            hex.extend(run_start..i);
        }
        run_start = i + 1;
    }
    if hex.is_empty() {
        let i = (r as usize) % chunk.len();
        chunk[i] ^= 0x20;
        return;
    }
    let i = hex[(r as usize) % hex.len()];
    const DIGITS: &[u8] = b"0123456789abcdef";
    let now = DIGITS.iter().position(|&d| d == chunk[i]).unwrap_or(0);
    chunk[i] = DIGITS[(now + 1 + (r >> 32) as usize % 15) % 16];
}

/// Makes closing `s` send a RST (SO_LINGER with a zero timeout), so the other side sees the
/// cut at once. A zero linger never blocks the thread, which is what the deprecation is about.
#[allow(deprecated)]
fn reset_on_close(s: &TcpStream) {
    let _ = s.set_linger(Some(Duration::ZERO));
}

#[cfg(test)]
mod tests {
    use super::*;
    use tokio::io::{AsyncReadExt, AsyncWriteExt};

    /// An echo server; returns its address.
    async fn echo() -> SocketAddr {
        let l = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = l.local_addr().unwrap();
        tokio::spawn(async move {
            while let Ok((mut s, _)) = l.accept().await {
                tokio::spawn(async move {
                    let (mut r, mut w) = s.split();
                    let _ = tokio::io::copy(&mut r, &mut w).await;
                });
            }
        });
        addr
    }

    async fn roundtrip(s: &mut TcpStream) -> bool {
        if s.write_all(b"ping").await.is_err() {
            return false;
        }
        let mut buf = [0u8; 4];
        matches!(
            tokio::time::timeout(Duration::from_secs(1), s.read_exact(&mut buf)).await,
            Ok(Ok(_))
        ) && &buf == b"ping"
    }

    #[tokio::test]
    async fn cut_link_tears_down_existing_and_refuses_new_connections_until_healed() {
        let a = echo().await;
        let b = echo().await;
        let px = ProxyNet::setup(&[(1, "n1".into(), a), (2, "n2".into(), b)])
            .await
            .unwrap();
        let l12 = px.link_addr(1, 2).unwrap();
        let mut s = TcpStream::connect(l12).await.unwrap();
        assert!(roundtrip(&mut s).await, "open link carries bytes");

        let grudge: Grudge = [("n2".to_string(), ["n1".to_string()].into_iter().collect())]
            .into_iter()
            .collect();
        px.partition(&grudge).unwrap();
        // n2 cannot hear n1: only the link n1 -> n2 is cut.
        assert_eq!(px.cut_links(), vec![(1, 2)]);
        assert!(!roundtrip(&mut s).await, "existing connection torn down");
        let mut s2 = TcpStream::connect(l12).await.unwrap();
        assert!(!roundtrip(&mut s2).await, "new connection closed at once");

        px.heal();
        assert!(px.cut_links().is_empty());
        let mut s3 = TcpStream::connect(l12).await.unwrap();
        assert!(roundtrip(&mut s3).await, "healed link carries bytes again");

        // Delay: both directions of an existing connection slow down, and recover.
        let t = std::time::Instant::now();
        assert!(roundtrip(&mut s3).await);
        let fast = t.elapsed();
        let slow_link = LinkCondition {
            delay: Duration::from_millis(150),
            ..Default::default()
        };
        px.set_conditions(&[(("n1".to_string(), "n2".to_string()), slow_link)].into())
            .unwrap();
        let t = std::time::Instant::now();
        // 150 ms each way through the proxy (the echo reply comes back through it too).
        let mut buf = [0u8; 4];
        s3.write_all(b"ping").await.unwrap();
        tokio::time::timeout(Duration::from_secs(3), s3.read_exact(&mut buf))
            .await
            .unwrap()
            .unwrap();
        let slow = t.elapsed();
        assert!(slow >= Duration::from_millis(300), "delayed: {slow:?}");
        assert!(fast < Duration::from_millis(100), "undelayed: {fast:?}");
        px.set_conditions(&LinkFaults::new()).unwrap();
        let t = std::time::Instant::now();
        assert!(roundtrip(&mut s3).await);
        assert!(t.elapsed() < Duration::from_millis(100), "delay removed");

        let unknown: Grudge = [("n7".to_string(), Default::default())]
            .into_iter()
            .collect();
        assert!(matches!(
            px.partition(&unknown),
            Err(ClusterError::UnknownNode(_))
        ));
        px.shutdown();
        assert!(TcpStream::connect(l12).await.is_err() || !roundtrip(&mut s3).await);
    }

    /// Sends `n` requests through `link`, each on a connection kept until it fails; returns
    /// how many were answered.
    async fn answered_of(link: SocketAddr, n: usize) -> usize {
        let mut ok = 0;
        let mut conn: Option<TcpStream> = None;
        for _ in 0..n {
            let s = match conn.take() {
                Some(s) => s,
                None => TcpStream::connect(link).await.unwrap(),
            };
            let mut s = s;
            if roundtrip(&mut s).await {
                ok += 1;
                conn = Some(s);
            }
        }
        ok
    }

    #[test]
    fn corruption_changes_one_hex_digit_of_the_body_and_keeps_it_parseable() {
        let msg = b"POST /pbft/messages HTTP/1.1\r\nContent-Length: 42\r\n\r\n[{\"digest\":\"00ff00ff00ff00ff00ff\"}]";
        for r in [0u64, 1, 7, 1 << 40, u64::MAX] {
            let mut c = msg.to_vec();
            corrupt_one_byte(&mut c, r);
            let diff: Vec<usize> = (0..c.len()).filter(|&i| c[i] != msg[i]).collect();
            assert_eq!(diff.len(), 1, "one byte changed");
            let i = diff[0];
            let ok = i >= msg.len() - 23 && i < msg.len() - 3 && c[i].is_ascii_hexdigit();
            assert!(ok, "{}", String::from_utf8_lossy(&c));
        }
        let mut plain = b"abc".to_vec();
        corrupt_one_byte(&mut plain, 1);
        assert_ne!(plain, b"abc".to_vec());
        corrupt_one_byte(&mut [], 3);
    }

    #[tokio::test]
    async fn loss_drops_about_that_fraction_of_requests_and_jitter_spreads_delays() {
        let a = echo().await;
        let b = echo().await;
        let px = ProxyNet::setup(&[(1, "n1".into(), a), (2, "n2".into(), b)])
            .await
            .unwrap();
        let lossy = LinkCondition {
            loss: 0.3,
            ..Default::default()
        };
        px.set_conditions(&[(("n1".to_string(), "n2".to_string()), lossy)].into())
            .unwrap();
        let l12 = px.link_addr(1, 2).unwrap();
        let n = 400;
        let ok = answered_of(l12, n).await;
        let lost = (n - ok) as f64 / n as f64;
        assert!((0.2..=0.4).contains(&lost), "lost {lost}");
        // The other direction is healthy.
        assert_eq!(answered_of(px.link_addr(2, 1).unwrap(), 50).await, 50);
        assert_eq!(px.condition(1, 2), Some(lossy));
        assert!(px
            .set_conditions(&[(("n1".to_string(), "n9".to_string()), lossy)].into())
            .is_err());

        let jittery = LinkCondition {
            loss: 0.0,
            delay: Duration::from_millis(60),
            jitter: Duration::from_millis(40),
            ..Default::default()
        };
        px.set_conditions(&[(("n1".to_string(), "n2".to_string()), jittery)].into())
            .unwrap();
        let mut s = TcpStream::connect(l12).await.unwrap();
        let mut rtts = Vec::new();
        for _ in 0..30 {
            let t = std::time::Instant::now();
            assert!(roundtrip(&mut s).await);
            rtts.push(t.elapsed());
        }
        // Two hops of 20..100 ms each.
        let min = *rtts.iter().min().unwrap();
        let max = *rtts.iter().max().unwrap();
        assert!(min >= Duration::from_millis(40), "{rtts:?}");
        assert!(max <= Duration::from_millis(400), "{rtts:?}");
        assert!(
            max - min >= Duration::from_millis(20),
            "no spread: {rtts:?}"
        );
    }
}
