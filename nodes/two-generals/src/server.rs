//! One `general serve` process: its rounds (cores) behind a mutex, a timer that sends
//! messengers again and announces decisions at deadlines, the HTTP API (rounds, status, and
//! messengers from the peer on `POST /messages`), and the messengers themselves: each is one
//! HTTP request to the peer, captured first by the built-in seeded loss if `--loss` is set,
//! and lost for real when the network drops it (then the request times out). Round clocks are
//! Unix milliseconds, so the deadline a messenger carries means the same on both sides.

use crate::config::ServeConfig;
use crate::core::{Decision, General, Messenger, Round, Send};
use crate::sim::{decision_line, send_line};
use axum::extract::{rejection::JsonRejection, Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use serde_json::{json, Value};
use std::collections::{BTreeMap, BTreeSet};
use std::io::Write;
use std::sync::{Arc, Mutex};
use std::time::Duration;

/// Why a general could not start or stopped.
#[derive(Debug, thiserror::Error)]
pub enum ServerError {
    /// The listen address could not be bound.
    #[error("cannot listen on {addr}: {source}")]
    Bind {
        /// Address.
        addr: String,
        /// What failed.
        source: std::io::Error,
    },
    /// The HTTP client could not be built.
    #[error("cannot build the HTTP client: {0}")]
    Client(#[from] reqwest::Error),
    /// Serving failed.
    #[error("HTTP server failed: {0}")]
    Serve(std::io::Error),
}

/// Counters for `/status`.
#[derive(Debug, Default, Clone, Copy)]
struct Counters {
    sent: u64,
    captured: u64,
    failed: u64,
    received: u64,
}

struct Inner {
    rounds: BTreeMap<u64, Round>,
    /// Rounds whose decision has not been announced yet (the timer looks at these only).
    open: BTreeSet<u64>,
    rng: ChaCha8Rng,
    counters: Counters,
}

struct Shared {
    cfg: ServeConfig,
    inner: Mutex<Inner>,
    client: reqwest::Client,
    url: String,
}

/// Unix time in milliseconds.
pub fn unix_ms() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| u64::try_from(d.as_millis()).unwrap_or(u64::MAX))
}

fn say(lines: &[String]) {
    if lines.is_empty() {
        return;
    }
    let mut out = std::io::stdout().lock();
    for l in lines {
        let _ = writeln!(out, "{l}");
    }
    let _ = out.flush();
}

impl Shared {
    fn lock(&self) -> std::sync::MutexGuard<'_, Inner> {
        self.inner.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Send messengers: the built-in loss captures some, the rest go over HTTP.
    fn dispatch(self: &Arc<Self>, sends: Vec<Send>) {
        for s in sends {
            let captured = {
                let mut inner = self.lock();
                inner.counters.sent += 1;
                let c = self.cfg.loss > 0.0 && inner.rng.gen_bool(self.cfg.loss);
                if c {
                    inner.counters.captured += 1;
                }
                c
            };
            if captured {
                say(&[format!(
                    "[round {}] {}",
                    s.messenger.round,
                    send_line(&s, false)
                )]);
                continue;
            }
            let me = self.clone();
            tokio::spawn(async move { me.deliver(s).await });
        }
    }

    async fn deliver(self: Arc<Self>, s: Send) {
        let r = self.client.post(&self.url).json(&s.messenger).send().await;
        let line = send_line(&s, true);
        let fate = match r {
            Ok(resp) if resp.status().is_success() => None,
            Ok(resp) => Some(format!("peer answered {}", resp.status())),
            Err(e) if e.is_timeout() => Some("timeout".to_string()),
            Err(e) if e.is_connect() => Some("no connection".to_string()),
            Err(e) => Some(e.to_string()),
        };
        let line = match fate {
            None => line,
            Some(why) => {
                self.lock().counters.failed += 1;
                line.replace("→ delivered", &format!("→ [MESSENGER LOST: {why}]"))
            }
        };
        say(&[format!("[round {}] {line}", s.messenger.round)]);
    }

    /// Retries due now, and decision lines for rounds whose deadline has passed.
    fn on_timer(self: &Arc<Self>) {
        let now = unix_ms();
        let (sends, lines) = {
            let mut inner = self.lock();
            let mut sends = Vec::new();
            let mut lines = Vec::new();
            let Inner { rounds, open, .. } = &mut *inner;
            open.retain(|r| {
                let Some(round) = rounds.get_mut(r) else {
                    return false;
                };
                sends.extend(round.tick(now));
                if round.decision(now) == Decision::Pending {
                    return true;
                }
                lines.push(format!("[round {r}] {}", decision_line(round)));
                false
            });
            (sends, lines)
        };
        say(&lines);
        self.dispatch(sends);
    }
}

/// Run a general until serving fails.
pub async fn serve(cfg: ServeConfig) -> Result<(), ServerError> {
    let listener = tokio::net::TcpListener::bind(cfg.listen)
        .await
        .map_err(|source| ServerError::Bind {
            addr: cfg.listen.to_string(),
            source,
        })?;
    let addr = listener.local_addr().map_err(ServerError::Serve)?;
    let timeout = Duration::from_millis(cfg.send_timeout_ms);
    let client = reqwest::Client::builder()
        .connect_timeout(timeout)
        .timeout(timeout)
        .tcp_nodelay(true)
        .build()?;
    let seed = cfg.seed ^ if cfg.me == General::A { 0xA } else { 0xB };
    let shared = Arc::new(Shared {
        url: format!("http://{}/messages", cfg.peer),
        inner: Mutex::new(Inner {
            rounds: BTreeMap::new(),
            open: BTreeSet::new(),
            rng: ChaCha8Rng::seed_from_u64(seed),
            counters: Counters::default(),
        }),
        client,
        cfg,
    });
    say(&[format!("listening on {addr}")]);
    eprintln!("listening on {addr}");
    let timer_shared = shared.clone();
    tokio::spawn(async move {
        let mut iv = tokio::time::interval(Duration::from_millis(5));
        loop {
            iv.tick().await;
            timer_shared.on_timer();
        }
    });
    if let Some(time) = shared.cfg.start.clone() {
        let _ = start_round(
            &shared,
            1,
            StartBody {
                time: Some(time),
                ..Default::default()
            },
        );
    }
    axum::serve(listener, router(shared))
        .await
        .map_err(ServerError::Serve)
}

fn router(shared: Arc<Shared>) -> Router {
    Router::new()
        .route("/rounds/{r}/start", post(start))
        .route("/rounds/{r}", get(round_view))
        .route("/status", get(status))
        .route("/messages", post(messages))
        .fallback(|| async { error(StatusCode::NOT_FOUND, "not_found", None) })
        .with_state(shared)
}

fn error(code: StatusCode, kind: &str, message: Option<String>) -> Response {
    let mut body = json!({ "error": kind });
    if let Some(m) = message {
        body["message"] = Value::String(m);
    }
    (code, Json(body)).into_response()
}

fn bad_request(message: String) -> Response {
    error(StatusCode::BAD_REQUEST, "bad_request", Some(message))
}

fn parse_round(r: &str) -> Result<u64, String> {
    r.parse()
        .map_err(|_| format!("round {r:?} is not a non-negative integer"))
}

/// Body of `POST /rounds/{r}/start` (every field optional).
#[derive(Debug, Default, serde::Deserialize)]
#[serde(deny_unknown_fields)]
struct StartBody {
    time: Option<String>,
    acks: Option<u32>,
    deadline_ms: Option<u64>,
}

async fn start(
    State(shared): State<Arc<Shared>>,
    Path(r): Path<String>,
    body: axum::body::Bytes,
) -> Response {
    let r = match parse_round(&r) {
        Ok(r) => r,
        Err(e) => return bad_request(e),
    };
    let body: StartBody = if body.iter().all(u8::is_ascii_whitespace) {
        StartBody::default()
    } else {
        match serde_json::from_slice(&body) {
            Ok(b) => b,
            Err(e) => return bad_request(format!("expected {{\"time\":\"dawn\"}}: {e}")),
        }
    };
    start_round(&shared, r, body)
}

fn start_round(shared: &Arc<Shared>, r: u64, body: StartBody) -> Response {
    if shared.cfg.me != General::A {
        return bad_request("only general A starts rounds".to_string());
    }
    let time = body.time.unwrap_or_else(|| "dawn".to_string());
    if time.trim().is_empty() || time.len() > 100 {
        return bad_request("time must be 1 to 100 characters".to_string());
    }
    let acks = body.acks.unwrap_or(shared.cfg.acks);
    if acks > crate::config::MAX_ACKS {
        return bad_request(format!("acks {acks}: at most {}", crate::config::MAX_ACKS));
    }
    let deadline_ms = body.deadline_ms.unwrap_or(shared.cfg.deadline_ms).max(1);
    let now = unix_ms();
    let deadline = now + deadline_ms;
    let sends = {
        let mut inner = shared.lock();
        if inner.rounds.contains_key(&r) {
            return error(
                StatusCode::CONFLICT,
                "round_exists",
                Some(format!("round {r} was already started")),
            );
        }
        let (round, sends) = Round::start(r, &time, acks, now, deadline, shared.cfg.retry_ms);
        inner.rounds.insert(r, round);
        inner.open.insert(r);
        sends
    };
    shared.dispatch(sends);
    Json(json!({"round": r, "time": time, "acks": acks, "deadline_unix_ms": deadline}))
        .into_response()
}

fn round_json(round: &Round, now: u64) -> Value {
    json!({
        "round": round.round(),
        "known": true,
        "decision": round.decision(now),
        "time": round.time(),
        "acks": round.acks(),
        "messages_sent": round.messages_sent(),
        "acks_received": round.acks_received(),
        "messengers_received": round.messengers_received(),
        "deadline_unix_ms": round.deadline(),
    })
}

async fn round_view(State(shared): State<Arc<Shared>>, Path(r): Path<String>) -> Response {
    let r = match parse_round(&r) {
        Ok(r) => r,
        Err(e) => return bad_request(e),
    };
    let now = unix_ms();
    if let Some(round) = shared.lock().rounds.get(&r) {
        return Json(round_json(round, now)).into_response();
    }
    match shared.cfg.me {
        General::A => error(
            StatusCode::NOT_FOUND,
            "unknown_round",
            Some(format!("round {r} was never started")),
        ),
        General::B => Json(json!({
            "round": r, "known": false, "decision": Decision::Hold, "time": null, "acks": null,
            "messages_sent": 0, "acks_received": 0, "messengers_received": 0,
            "deadline_unix_ms": null,
        }))
        .into_response(),
    }
}

async fn status(State(shared): State<Arc<Shared>>) -> Json<Value> {
    let now = unix_ms();
    let inner = shared.lock();
    let count = |d: Decision| {
        inner
            .rounds
            .values()
            .filter(|r| r.decision(now) == d)
            .count()
    };
    let c = inner.counters;
    Json(json!({
        "general": shared.cfg.me.letter(),
        "peer": shared.cfg.peer,
        "acks": shared.cfg.acks,
        "loss": shared.cfg.loss,
        "rounds": inner.rounds.len(),
        "attack": count(Decision::Attack),
        "hold": count(Decision::Hold),
        "pending": count(Decision::Pending),
        "messages_sent": c.sent,
        "messages_captured": c.captured,
        "messages_failed": c.failed,
        "messengers_received": c.received,
    }))
}

async fn messages(
    State(shared): State<Arc<Shared>>,
    body: Result<Json<Messenger>, JsonRejection>,
) -> Response {
    let m = match body {
        Ok(Json(m)) => m,
        Err(e) => return bad_request(format!("expected a messenger: {e}")),
    };
    let me = shared.cfg.me;
    if m.from != me.other() {
        return bad_request(format!("a messenger from {:?} delivered to {me:?}", m.from));
    }
    let now = unix_ms();
    let sends = {
        let mut inner = shared.lock();
        inner.counters.received += 1;
        if me == General::A && !inner.rounds.contains_key(&m.round) {
            return error(
                StatusCode::NOT_FOUND,
                "unknown_round",
                Some(format!("A never started round {}", m.round)),
            );
        }
        let retry_ms = shared.cfg.retry_ms;
        let Inner { rounds, open, .. } = &mut *inner;
        let round = rounds.entry(m.round).or_insert_with(|| {
            open.insert(m.round);
            Round::join(&m, retry_ms)
        });
        round.receive(now, &m)
    };
    shared.dispatch(sends);
    StatusCode::NO_CONTENT.into_response()
}
