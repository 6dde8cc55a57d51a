//! Systems described by a user in a small TOML file (`harness test --db-config FILE`): the
//! file's schema, its validation (every error names the file, the line and the field), the
//! command templates with their placeholders, and the resulting [`UserSystem`].
//!
//! ```toml
//! name = "my-store"                  # shown in reports
//! protocol = "raft-kv-http"          # the node HTTP protocol of the README (or "etcd-v3";
//!                                    # "pbft-chat-http": total-order, "gossip-http": broadcast;
//!                                    # "lock-http": the lock protocol, workloads lock/fencing)
//! command = ["my-store", "--id", "{id}", "--listen", "{listen}", "--data-dir", "{data_dir}"]
//! peer_args = ["--peer", "{peer_id}={peer_addr}"]   # optional, appended once per peer
//! bug_args = ["--bug", "{bug}"]      # optional, appended once per --bug NAME
//! supports_proxy = true              # the system takes per-peer addresses (default true)
//! stop_signal = "SIGTERM"            # optional (SIGTERM, SIGINT, SIGQUIT, SIGKILL, SIGUSR1, SIGUSR2, SIGHUP)
//! byzantine_modes = ["forge"]        # optional: modes of POST /admin/byzantine (--nemesis byzantine)
//! [env]                              # optional environment of every node
//! RUST_LOG = "info"
//! [ready]                            # exactly one of http_get / tcp
//! http_get = "/status"
//! require_leader = true              # the JSON answer of some node says "role":"leader"
//! ```
//!
//! Placeholders (in `command`, `peer_args`, `bug_args` and `env` values): `{id}`, `{name}`,
//! `{listen}` (host:port the node binds), `{host}`, `{port}`, `{client_addr}`, `{data_dir}`,
//! `{log_dir}`, `{peers}` (comma list `id=addr` of every other node), `{peer_names}` (comma
//! list `name=addr`); in `peer_args` also `{peer_id}`, `{peer_name}`, `{peer_addr}`,
//! `{peer_host}`, `{peer_port}`; in `bug_args` `{bug}`. `{{` and `}}` are literal braces.
//! `command` may also be one string, split on whitespace (no shell). Its program is looked up
//! relative to the TOML file when it contains a `/`, else in `$HARNESS_BIN_DIR`, next to the
//! harness binary, then on `PATH`; `--db-bin` replaces it. `--db-opt k=v` appends `--k v`.

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::ops::Range;
use std::path::{Path, PathBuf};
use std::process::Command;

use serde::Deserialize;
use toml::Spanned;

use workloads::clients::Protocol;
use workloads::WorkloadKind;

use super::{
    find_node_bin, Capabilities, KnownBugs, NodeSpec, ReadyProbe, System, SystemError, SystemSpec,
};

/// The registry name (selected by `--db-config FILE`).
pub const NAME: &str = "user";

/// The registry constructor: loads and validates `--db-config FILE`.
pub fn build(spec: &SystemSpec) -> Result<Box<dyn System>, SystemError> {
    let Some(path) = &spec.db_config else {
        return Err(SystemError::BadConfig(
            "--db user needs --db-config FILE (a TOML description of the system)".into(),
        ));
    };
    Ok(Box::new(UserSystem::load(path, spec)?))
}

/// The TOML file as written (spans kept for error messages).
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawConfig {
    name: Spanned<String>,
    protocol: Spanned<String>,
    command: Spanned<CommandField>,
    #[serde(default)]
    peer_args: Option<Spanned<Vec<String>>>,
    #[serde(default)]
    bug_args: Option<Spanned<Vec<String>>>,
    #[serde(default)]
    supports_proxy: Option<bool>,
    #[serde(default)]
    stop_signal: Option<Spanned<String>>,
    #[serde(default)]
    env: BTreeMap<String, Spanned<String>>,
    #[serde(default)]
    byzantine_modes: Vec<String>,
    ready: Spanned<RawReady>,
}

#[derive(Debug, Deserialize)]
#[serde(untagged)]
enum CommandField {
    Argv(Vec<String>),
    Line(String),
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawReady {
    #[serde(default)]
    http_get: Option<Spanned<String>>,
    #[serde(default)]
    tcp: Option<bool>,
    #[serde(default)]
    require_leader: Option<bool>,
}

/// A user-described system, validated.
#[derive(Debug, Clone)]
pub struct UserSystem {
    /// The TOML file it came from.
    pub source: PathBuf,
    pub name: String,
    pub protocol: Protocol,
    /// The resolved program.
    pub program: PathBuf,
    /// Argument templates after the program.
    pub args: Vec<String>,
    pub peer_args: Vec<String>,
    /// `bug_args` expanded for every `--bug` (already substituted).
    pub bug_args: Vec<String>,
    /// The file has `bug_args`, so any `--bug NAME` is passed through.
    pub has_bug_args: bool,
    /// `--db-opt` pairs, appended as `--k v`.
    pub extra_args: Vec<String>,
    pub env: BTreeMap<String, String>,
    pub ready: ReadyProbe,
    pub supports_proxy: bool,
    /// The signal that asks a node to stop (the harness escalates to SIGKILL).
    pub stop_signal: nix::sys::signal::Signal,
    /// The modes its `POST /admin/byzantine` accepts (`--nemesis byzantine`); empty: none.
    pub byzantine_modes: &'static [&'static str],
}

/// Placeholders known everywhere.
const NODE_KEYS: &[&str] = &[
    "id",
    "name",
    "listen",
    "host",
    "port",
    "client_addr",
    "data_dir",
    "log_dir",
    "peers",
    "peer_names",
];
/// Extra placeholders of `peer_args`.
const PEER_KEYS: &[&str] = &[
    "peer_id",
    "peer_name",
    "peer_addr",
    "peer_host",
    "peer_port",
];

impl UserSystem {
    /// Reads and validates `path`, applying `--db-bin`, `--db-opt` and `--bug` from `spec`.
    pub fn load(path: &Path, spec: &SystemSpec) -> Result<UserSystem, SystemError> {
        let text = std::fs::read_to_string(path)
            .map_err(|e| SystemError::BadConfig(format!("{}: cannot read: {e}", path.display())))?;
        Self::parse(&text, path, spec)
    }

    /// Validates the TOML `text` of the file `path` (used for messages and to resolve a
    /// relative program).
    pub fn parse(text: &str, path: &Path, spec: &SystemSpec) -> Result<UserSystem, SystemError> {
        let src = Source {
            file: path.display().to_string(),
            text,
        };
        let raw: RawConfig = toml::from_str(text).map_err(|e| {
            let line = e
                .span()
                .map(|s| format!(":{}", line_of(text, s.start)))
                .unwrap_or_default();
            SystemError::BadConfig(format!("{}{line}: {}", src.file, e.message().trim()))
        })?;
        let name = raw.name.get_ref().trim().to_string();
        if name.is_empty() {
            return Err(src.err(raw.name.span(), "name", "must not be empty".into()));
        }
        let protocol = src.protocol(&raw.protocol, spec)?;
        let (program, args) = src.command(raw.command)?;
        let peer_args = match raw.peer_args {
            Some(p) => {
                let keys: Vec<&str> = NODE_KEYS.iter().chain(PEER_KEYS).copied().collect();
                src.templates(p, "peer_args", &keys)?
            }
            None => Vec::new(),
        };
        let has_bug_args = raw.bug_args.is_some();
        let bug_args = src.bug_args(raw.bug_args, &spec.bugs)?;
        let mut env = BTreeMap::new();
        for (k, v) in raw.env {
            let span = v.span();
            let v = v.into_inner();
            check_template(&v, NODE_KEYS).map_err(|m| src.err(span, &format!("env.{k}"), m))?;
            env.insert(k, v);
        }
        let ready = src.ready(raw.ready)?;
        let stop_signal = match raw.stop_signal {
            None => nix::sys::signal::Signal::SIGTERM,
            Some(s) => src.signal(s)?,
        };
        let program = match &spec.db_bin {
            Some(bin) if bin.is_file() => bin.clone(),
            Some(bin) => {
                return Err(SystemError::BinaryNotFound(format!(
                    "{} (given by --db-bin) does not exist",
                    bin.display()
                )))
            }
            None => resolve_program(&program, path)?,
        };
        let extra_args = extra_args(&spec.db_opts)?;
        Ok(UserSystem {
            source: path.to_path_buf(),
            name,
            protocol,
            program,
            args,
            peer_args,
            bug_args,
            has_bug_args,
            extra_args,
            env,
            ready,
            supports_proxy: raw.supports_proxy.unwrap_or(true),
            stop_signal,
            byzantine_modes: leak_modes(raw.byzantine_modes),
        })
    }

    /// The value of a node-level placeholder.
    fn node_value(key: &str, node: &NodeSpec) -> Option<String> {
        let join = |f: &dyn Fn(&(u64, String, SocketAddr)) -> String| {
            node.peer_addrs.iter().map(f).collect::<Vec<_>>().join(",")
        };
        Some(match key {
            "id" => node.id.to_string(),
            "name" => node.name.clone(),
            "listen" => node.listen.to_string(),
            "host" => node.listen.ip().to_string(),
            "port" => node.listen.port().to_string(),
            "client_addr" => node.client_addr.to_string(),
            "data_dir" => node.data_dir.display().to_string(),
            "log_dir" => node.log_dir.display().to_string(),
            "peers" => join(&|(id, _, a)| format!("{id}={a}")),
            "peer_names" => join(&|(_, n, a)| format!("{n}={a}")),
            _ => return None,
        })
    }
}

impl System for UserSystem {
    fn name(&self) -> &str {
        &self.name
    }

    fn command(&self, node: &NodeSpec, _cluster: &[NodeSpec]) -> Result<Command, SystemError> {
        let mut cmd = Command::new(&self.program);
        let node_lookup = |k: &str| Self::node_value(k, node);
        for a in &self.args {
            cmd.arg(render(a, &node_lookup));
        }
        for (pid, pname, paddr) in &node.peer_addrs {
            let lookup = |k: &str| match k {
                "peer_id" => Some(pid.to_string()),
                "peer_name" => Some(pname.clone()),
                "peer_addr" => Some(paddr.to_string()),
                "peer_host" => Some(paddr.ip().to_string()),
                "peer_port" => Some(paddr.port().to_string()),
                other => Self::node_value(other, node),
            };
            for a in &self.peer_args {
                cmd.arg(render(a, &lookup));
            }
        }
        cmd.args(&self.bug_args);
        cmd.args(&self.extra_args);
        for (k, v) in &self.env {
            cmd.env(k, render(v, &node_lookup));
        }
        Ok(cmd)
    }

    fn capabilities(&self) -> Capabilities {
        Capabilities {
            proxy: self.supports_proxy,
            leader_in_status: matches!(
                self.ready,
                ReadyProbe::HttpGet {
                    require_leader: true,
                    ..
                }
            ),
            workloads: workloads_of(self.protocol),
            protocol: self.protocol,
            discards_data_on_pass: false,
        }
    }

    fn known_bugs(&self) -> KnownBugs {
        if self.has_bug_args {
            KnownBugs::PassedThrough
        } else {
            KnownBugs::Listed(Vec::new())
        }
    }

    fn ready_probe(&self, _node: &NodeSpec) -> ReadyProbe {
        self.ready.clone()
    }

    fn stop_signal(&self) -> nix::sys::signal::Signal {
        self.stop_signal
    }

    fn byzantine_modes(&self) -> &'static [&'static str] {
        self.byzantine_modes
    }
}

/// The workloads a protocol's client can run: the chat protocols have one each, the
/// key-value ones the rest.
fn workloads_of(protocol: Protocol) -> Vec<WorkloadKind> {
    match protocol {
        Protocol::Pbft => vec![WorkloadKind::TotalOrder],
        Protocol::Gossip => vec![WorkloadKind::Broadcast],
        Protocol::LockService => vec![WorkloadKind::Lock, WorkloadKind::Fencing],
        _ => vec![
            WorkloadKind::Register,
            WorkloadKind::Set,
            WorkloadKind::Election,
            WorkloadKind::Append,
        ],
    }
}

/// The file's `byzantine_modes` as the `'static` list the `System` trait returns (one small
/// allocation per loaded file, kept for the process's life).
fn leak_modes(modes: Vec<String>) -> &'static [&'static str] {
    if modes.is_empty() {
        return &[];
    }
    let v: Vec<&'static str> = modes
        .into_iter()
        .map(|m| &*Box::leak(m.into_boxed_str()))
        .collect();
    Box::leak(v.into_boxed_slice())
}

/// `--db-opt k=v` → `--k v` (`k` a bare name; an empty `v` adds the flag alone).
pub(super) fn extra_args(db_opts: &[(String, String)]) -> Result<Vec<String>, SystemError> {
    let mut extra_args = Vec::new();
    for (k, v) in db_opts {
        if k.is_empty() || k.starts_with('-') {
            return Err(SystemError::BadConfig(format!(
                "--db-opt `{k}` must be a bare name (it becomes --{k})"
            )));
        }
        extra_args.push(format!("--{k}"));
        if !v.is_empty() {
            extra_args.push(v.clone());
        }
    }
    Ok(extra_args)
}

/// The file being validated: every error names it, the line and the field.
struct Source<'a> {
    file: String,
    text: &'a str,
}

impl Source<'_> {
    fn err(&self, span: Range<usize>, field: &str, msg: String) -> SystemError {
        SystemError::BadConfig(format!(
            "{}:{}: field `{field}`: {msg}",
            self.file,
            line_of(self.text, span.start)
        ))
    }

    fn protocol(&self, p: &Spanned<String>, spec: &SystemSpec) -> Result<Protocol, SystemError> {
        match p.get_ref().as_str() {
            "raft-kv-http" => Ok(Protocol::RaftKv),
            "lock-http" => Ok(Protocol::LockService),
            "etcd-v3" => Ok(Protocol::Etcd {
                serializable_reads: super::etcd::serializable_reads(&spec.db_opts)?,
            }),
            "pbft-chat-http" => Ok(Protocol::Pbft),
            "gossip-http" => Ok(Protocol::Gossip),
            other => Err(self.err(
                p.span(),
                "protocol",
                format!(
                    "unknown protocol `{other}` (known: raft-kv-http, etcd-v3, \
                     pbft-chat-http, gossip-http, lock-http)"
                ),
            )),
        }
    }

    /// The program and its argument templates.
    fn command(&self, c: Spanned<CommandField>) -> Result<(String, Vec<String>), SystemError> {
        let span = c.span();
        let argv: Vec<String> = match c.into_inner() {
            CommandField::Argv(v) => v,
            CommandField::Line(s) => s.split_whitespace().map(str::to_string).collect(),
        };
        let Some((program, args)) = argv.split_first() else {
            return Err(self.err(span, "command", "must name a program".into()));
        };
        for (i, a) in args.iter().enumerate() {
            check_template(a, NODE_KEYS)
                .map_err(|m| self.err(span.clone(), &format!("command[{}]", i + 1), m))?;
        }
        if program.contains('{') {
            return Err(self.err(
                span,
                "command[0]",
                "the program may not contain placeholders".into(),
            ));
        }
        Ok((program.clone(), args.to_vec()))
    }

    /// A list of templates, each checked against `keys`.
    fn templates(
        &self,
        list: Spanned<Vec<String>>,
        field: &str,
        keys: &[&str],
    ) -> Result<Vec<String>, SystemError> {
        let span = list.span();
        let v = list.into_inner();
        for (i, a) in v.iter().enumerate() {
            check_template(a, keys)
                .map_err(|m| self.err(span.clone(), &format!("{field}[{i}]"), m))?;
        }
        Ok(v)
    }

    /// `bug_args` rendered once per `--bug`; a `--bug` without `bug_args` is refused.
    fn bug_args(
        &self,
        templates: Option<Spanned<Vec<String>>>,
        bugs: &[String],
    ) -> Result<Vec<String>, SystemError> {
        let Some(templates) = templates else {
            if bugs.is_empty() {
                return Ok(Vec::new());
            }
            return Err(SystemError::BadConfig(format!(
                "{}: --bug given but the file has no `bug_args` to pass it with",
                self.file
            )));
        };
        let templates = self.templates(templates, "bug_args", &["bug"])?;
        let mut out = Vec::new();
        for bug in bugs {
            for t in &templates {
                out.push(render(t, &|k| (k == "bug").then(|| bug.clone())));
            }
        }
        Ok(out)
    }

    /// `[ready]`: exactly one of `http_get` (with `require_leader`) or `tcp`.
    fn ready(&self, r: Spanned<RawReady>) -> Result<ReadyProbe, SystemError> {
        let span = r.span();
        let r = r.into_inner();
        match (r.http_get, r.tcp.unwrap_or(false)) {
            (Some(path), false) => {
                let path_span = path.span();
                let p = path.into_inner();
                if !p.starts_with('/') {
                    let msg = format!("`{p}` must start with /");
                    return Err(self.err(path_span, "ready.http_get", msg));
                }
                Ok(ReadyProbe::HttpGet {
                    path: p,
                    require_leader: r.require_leader.unwrap_or(false),
                })
            }
            (None, true) if r.require_leader == Some(true) => Err(self.err(
                span,
                "ready.require_leader",
                "needs http_get (the leader is read from its JSON answer)".into(),
            )),
            (None, true) => Ok(ReadyProbe::Tcp),
            _ => Err(self.err(
                span,
                "ready",
                "give exactly one of `http_get = \"/path\"` or `tcp = true`".into(),
            )),
        }
    }

    fn signal(&self, s: Spanned<String>) -> Result<nix::sys::signal::Signal, SystemError> {
        let span = s.span();
        let text = s.into_inner();
        parse_signal(&text).ok_or_else(|| {
            self.err(
                span,
                "stop_signal",
                format!("unknown signal `{text}` (SIGTERM, SIGINT, SIGQUIT, SIGKILL, SIGHUP, SIGUSR1, SIGUSR2)"),
            )
        })
    }
}

/// 1-based line of byte offset `at` in `text`.
fn line_of(text: &str, at: usize) -> usize {
    text.get(..at.min(text.len()))
        .map(|prefix| prefix.matches('\n').count() + 1)
        .unwrap_or(1)
}

/// Splits a template into literal text and `{key}` placeholders; `{{`/`}}` are braces.
fn parse_template(t: &str) -> Result<Vec<Piece<'_>>, String> {
    let mut pieces = Vec::new();
    let mut rest = t;
    let mut literal = String::new();
    while let Some(i) = rest.find(['{', '}']) {
        literal.push_str(&rest[..i]);
        let tail = &rest[i..];
        if tail.starts_with("{{") || tail.starts_with("}}") {
            literal.push(if tail.starts_with('{') { '{' } else { '}' });
            rest = &tail[2..];
        } else if tail.starts_with('}') {
            return Err(format!("`{t}`: unmatched `}}` (write `}}}}` for a brace)"));
        } else {
            let Some(end) = tail.find('}') else {
                return Err(format!("`{t}`: unclosed `{{`"));
            };
            if !literal.is_empty() {
                pieces.push(Piece::Text(std::mem::take(&mut literal)));
            }
            pieces.push(Piece::Key(&tail[1..end]));
            rest = &tail[end + 1..];
        }
    }
    literal.push_str(rest);
    if !literal.is_empty() {
        pieces.push(Piece::Text(literal));
    }
    Ok(pieces)
}

enum Piece<'a> {
    Text(String),
    Key(&'a str),
}

fn check_template(t: &str, known: &[&str]) -> Result<(), String> {
    for p in parse_template(t)? {
        if let Piece::Key(k) = p {
            if !known.contains(&k) {
                return Err(format!(
                    "unknown placeholder `{{{k}}}` in `{t}` (known here: {})",
                    known
                        .iter()
                        .map(|k| format!("{{{k}}}"))
                        .collect::<Vec<_>>()
                        .join(", ")
                ));
            }
        }
    }
    Ok(())
}

/// Substitutes a template that [`check_template`] accepted.
fn render(t: &str, lookup: &dyn Fn(&str) -> Option<String>) -> String {
    match parse_template(t) {
        Ok(pieces) => pieces
            .into_iter()
            .map(|p| match p {
                Piece::Text(s) => s,
                Piece::Key(k) => lookup(k).unwrap_or_default(),
            })
            .collect(),
        // Unreachable for validated templates; keep the text as written.
        Err(_) => t.to_string(),
    }
}

fn parse_signal(s: &str) -> Option<nix::sys::signal::Signal> {
    use nix::sys::signal::Signal::*;
    let upper = s.trim().to_ascii_uppercase();
    let bare = upper.strip_prefix("SIG").unwrap_or(&upper);
    Some(match bare {
        "TERM" => SIGTERM,
        "INT" => SIGINT,
        "QUIT" => SIGQUIT,
        "KILL" => SIGKILL,
        "HUP" => SIGHUP,
        "USR1" => SIGUSR1,
        "USR2" => SIGUSR2,
        _ => return None,
    })
}

/// Finds the program named in a TOML file.
fn resolve_program(program: &str, toml_path: &Path) -> Result<PathBuf, SystemError> {
    if program.contains('/') {
        let p = Path::new(program);
        let p = if p.is_absolute() {
            p.to_path_buf()
        } else {
            toml_path.parent().unwrap_or_else(|| Path::new(".")).join(p)
        };
        return if p.is_file() {
            Ok(p)
        } else {
            Err(SystemError::BinaryNotFound(format!(
                "{}: program {} does not exist",
                toml_path.display(),
                p.display()
            )))
        };
    }
    if let Ok(p) = find_node_bin(program, None) {
        return Ok(p);
    }
    let path = std::env::var_os("PATH").unwrap_or_default();
    for dir in std::env::split_paths(&path) {
        let candidate = dir.join(program);
        if candidate.is_file() {
            return Ok(candidate);
        }
    }
    Err(SystemError::BinaryNotFound(format!(
        "{}: program `{program}` not found in $HARNESS_BIN_DIR, next to the harness binary, or on PATH",
        toml_path.display()
    )))
}

#[cfg(test)]
mod tests {
    use super::*;

    const GOOD: &str = r#"
name = "demo"
protocol = "raft-kv-http"
command = ["/bin/sh", "--id", "{id}", "--listen", "{listen}", "--data-dir", "{data_dir}", "--all={peers}", "x{{y}}"]
peer_args = ["--peer", "{peer_id}={peer_addr}"]
bug_args = ["--bug", "{bug}"]
stop_signal = "SIGINT"
[env]
NODE_NAME = "{name}"
[ready]
http_get = "/status"
require_leader = true
"#;

    fn node() -> NodeSpec {
        NodeSpec {
            id: 2,
            name: "n2".into(),
            listen: "127.0.0.1:8002".parse().expect("addr"),
            client_addr: "127.0.0.1:8002".parse().expect("addr"),
            peer_addrs: vec![
                (1, "n1".into(), "127.0.0.1:9001".parse().expect("addr")),
                (3, "n3".into(), "127.0.0.1:9003".parse().expect("addr")),
            ],
            data_dir: PathBuf::from("/r/nodes/n2/data"),
            log_dir: PathBuf::from("/r/nodes/n2"),
        }
    }

    fn parse(text: &str, spec: &SystemSpec) -> Result<UserSystem, SystemError> {
        UserSystem::parse(text, Path::new("/cfg/sys.toml"), spec)
    }

    #[test]
    fn a_good_file_renders_every_placeholder() {
        let spec = SystemSpec {
            bugs: vec!["stale-read".into()],
            db_opts: vec![("no-fsync".into(), String::new())],
            ..SystemSpec::default()
        };
        let db = parse(GOOD, &spec).expect("valid");
        assert_eq!(db.name(), "demo");
        assert_eq!(db.capabilities().protocol, Protocol::RaftKv);
        assert!(db.capabilities().leader_in_status);
        assert_eq!(System::stop_signal(&db), nix::sys::signal::Signal::SIGINT);
        assert_eq!(
            db.ready_probe(&node()),
            ReadyProbe::HttpGet {
                path: "/status".into(),
                require_leader: true
            }
        );
        let n = node();
        let cmd = db.command(&n, std::slice::from_ref(&n)).expect("command");
        assert_eq!(cmd.get_program(), "/bin/sh");
        let args: Vec<String> = cmd
            .get_args()
            .map(|a| a.to_string_lossy().into_owned())
            .collect();
        assert_eq!(
            args,
            [
                "--id",
                "2",
                "--listen",
                "127.0.0.1:8002",
                "--data-dir",
                "/r/nodes/n2/data",
                "--all=1=127.0.0.1:9001,3=127.0.0.1:9003",
                "x{y}",
                "--peer",
                "1=127.0.0.1:9001",
                "--peer",
                "3=127.0.0.1:9003",
                "--bug",
                "stale-read",
                "--no-fsync",
            ]
        );
        let env: Vec<(String, String)> = cmd
            .get_envs()
            .map(|(k, v)| {
                (
                    k.to_string_lossy().into_owned(),
                    v.map(|v| v.to_string_lossy().into_owned())
                        .unwrap_or_default(),
                )
            })
            .collect();
        assert_eq!(env, [("NODE_NAME".to_string(), "n2".to_string())]);
    }

    #[test]
    fn errors_name_the_file_line_and_field() {
        let bad_placeholder = GOOD.replace("{data_dir}", "{datadir}");
        let e = parse(&bad_placeholder, &SystemSpec::default())
            .expect_err("bad placeholder")
            .to_string();
        assert!(e.contains("/cfg/sys.toml:4:"), "{e}");
        assert!(e.contains("command[6]") && e.contains("{datadir}"), "{e}");

        let bad_protocol = GOOD.replace("raft-kv-http", "grpc");
        let e = parse(&bad_protocol, &SystemSpec::default())
            .expect_err("bad protocol")
            .to_string();
        assert!(
            e.contains("/cfg/sys.toml:3:") && e.contains("protocol"),
            "{e}"
        );

        let typo = GOOD.replace("stop_signal", "stop_sig");
        let e = parse(&typo, &SystemSpec::default())
            .expect_err("typo")
            .to_string();
        assert!(
            e.contains("/cfg/sys.toml:7") && e.contains("stop_sig"),
            "{e}"
        );

        let no_ready = GOOD.replace("http_get = \"/status\"\n", "");
        let e = parse(&no_ready, &SystemSpec::default())
            .expect_err("no probe")
            .to_string();
        assert!(e.contains("ready"), "{e}");

        let bad_signal = GOOD.replace("SIGINT", "SIGFOO");
        let e = parse(&bad_signal, &SystemSpec::default())
            .expect_err("bad signal")
            .to_string();
        assert!(e.contains(":7:") && e.contains("stop_signal"), "{e}");

        let unclosed = GOOD.replace("{peer_addr}", "{peer_addr");
        let e = parse(&unclosed, &SystemSpec::default())
            .expect_err("unclosed")
            .to_string();
        assert!(e.contains(":5:") && e.contains("peer_args[1]"), "{e}");
    }

    #[test]
    fn missing_programs_and_bugs_without_bug_args_are_refused() {
        let missing = GOOD.replace("/bin/sh", "./no-such-program");
        let e = parse(&missing, &SystemSpec::default()).expect_err("missing");
        assert!(matches!(e, SystemError::BinaryNotFound(_)), "{e}");
        assert!(e.to_string().contains("/cfg/./no-such-program"), "{e}");

        let no_bug_args = GOOD.replace("bug_args = [\"--bug\", \"{bug}\"]\n", "");
        let spec = SystemSpec {
            bugs: vec!["x".into()],
            ..SystemSpec::default()
        };
        let e = parse(&no_bug_args, &spec).expect_err("bug without bug_args");
        assert!(e.to_string().contains("bug_args"), "{e}");
    }

    #[test]
    fn a_command_line_string_is_split_on_whitespace() {
        let line = GOOD.replace(
            r#"command = ["/bin/sh", "--id", "{id}", "--listen", "{listen}", "--data-dir", "{data_dir}", "--all={peers}", "x{{y}}"]"#,
            r#"command = "/bin/sh --id {id}  --listen {listen}""#,
        );
        let db = parse(&line, &SystemSpec::default()).expect("valid");
        assert_eq!(db.args, ["--id", "{id}", "--listen", "{listen}"]);
    }

    #[test]
    fn the_lock_protocol_speaks_the_lock_workloads_only() {
        let lock = GOOD.replace("raft-kv-http", "lock-http");
        let db = parse(&lock, &SystemSpec::default()).expect("valid");
        let caps = db.capabilities();
        assert_eq!(caps.protocol, Protocol::LockService);
        assert_eq!(
            caps.workloads,
            vec![WorkloadKind::Lock, WorkloadKind::Fencing]
        );
        let kv = parse(GOOD, &SystemSpec::default()).expect("valid");
        assert!(!kv.capabilities().workloads.contains(&WorkloadKind::Lock));
    }
}
