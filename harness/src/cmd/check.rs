//! `harness check FILE...`: read history files in any supported format (our JSONL, Jepsen
//! EDN, Porcupine's etcd and kv logs), check each for linearizability against a model (plus
//! the `stats` checker), print one line per file and, last on stdout, one JSON verdict line
//! (docs/design.md, "CLI and exit codes"). `--to jsonl` converts instead of checking; `--report DIR` writes a
//! run-like directory (history.jsonl, results.json, report.html) for one file.
//!
//! Exit codes: the worst verdict over all files (false beats unknown beats true: 1, 2, 0),
//! 254 when a file or argument is bad (the message names file, line and what was expected;
//! the other files are still checked and the JSON line is still printed), 255 when the
//! harness itself fails (an output cannot be written).

use crate::exit::{HarnessError, Outcome};
use crate::run::results::{self, CheckError, CheckOptions, Results};
use checker::checkers::NothingOk;
use checker::format::{self, Format, ReadOutcome};
use checker::linear::{self, LinearOptions};
use checker::model::{self, FailedOps, ModelKind};
use checker::{History, Validity};
use serde_json::{json, Value};
use std::collections::BTreeSet;
use std::fs::File;
use std::io::{self, BufWriter, Write};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};
use workloads::CheckerKind;

#[derive(Debug, clap::Args)]
pub struct CheckArgs {
    /// History files (JSONL, Jepsen EDN, Porcupine etcd log or kv log; detected by content);
    /// `-` reads standard input.
    #[arg(required = true, value_name = "FILE")]
    pub files: Vec<PathBuf>,
    /// Model: register, cas-register, kv, mutex, fifo-queue, unordered-queue, set,
    /// multi-register. Default: cas-register for etcd logs and read/write/cas histories, kv
    /// for kv logs and get/put/append histories, multi-register for txn histories.
    #[arg(long, value_parser = clap::value_parser!(ModelKind))]
    pub model: Option<ModelKind>,
    /// How a failed operation is read: `ignore` (it did not happen; a failed cas observes
    /// "the value differed" only when its error says cas-mismatch) or `observe` (every
    /// failed cas observed a different value: Porcupine's reading). Default: ignore for
    /// JSONL and EDN, observe for Porcupine's logs.
    #[arg(long, value_name = "READING", value_parser = clap::value_parser!(FailedOps))]
    pub failed_ops: Option<FailedOps>,
    /// Input format (jsonl, edn, porcupine-etcd, porcupine-kv) instead of detection.
    #[arg(long, value_parser = clap::value_parser!(Format))]
    pub format: Option<Format>,
    /// Convert to this format instead of checking (only `jsonl`).
    #[arg(long, value_name = "FORMAT", value_parser = ["jsonl"])]
    pub to: Option<String>,
    /// With --to: where to write: a file, `-` for stdout (the default for one file), or a
    /// directory (required for several files; each becomes `<name>.jsonl` in it).
    #[arg(long, value_name = "PATH|-", requires = "to")]
    pub out: Option<String>,
    /// Also write every file's full results (per key, counterexamples) as JSON here.
    #[arg(long, value_name = "PATH")]
    pub json_out: Option<PathBuf>,
    /// Time budget of the search per file, in seconds (default 60; 0 = no limit); when it
    /// runs out the verdict is unknown.
    #[arg(long, value_name = "SECS")]
    pub timeout: Option<f64>,
    /// Memory budget of the search per file, e.g. 512M, 2G (default: min(4G, RAM/4)).
    #[arg(long, value_name = "SIZE")]
    pub memory_limit: Option<String>,
    /// Decide every key, even after one is found not linearizable.
    #[arg(long)]
    pub all_keys: bool,
    /// Worker threads for the per-key search (default: all cores).
    #[arg(long, value_name = "N")]
    pub threads: Option<usize>,
    /// Write DIR/history.jsonl, DIR/results.json and the HTML report (one file only).
    #[arg(long, value_name = "DIR")]
    pub report: Option<PathBuf>,
}

/// Parse a size such as `2G`, `512M`, `100k`, `1.5GiB` or a plain byte count.
pub fn parse_size(s: &str) -> Result<usize, String> {
    let t = s.trim();
    let lower = t.to_ascii_lowercase();
    let body = lower.trim_end_matches("ib").trim_end_matches('b');
    let (num, mult) = match body.chars().last() {
        Some('k') => (&body[..body.len() - 1], 1u64 << 10),
        Some('m') => (&body[..body.len() - 1], 1 << 20),
        Some('g') => (&body[..body.len() - 1], 1 << 30),
        Some('t') => (&body[..body.len() - 1], 1 << 40),
        _ => (body, 1),
    };
    let n: f64 = num
        .trim()
        .parse()
        .map_err(|_| format!("bad size `{s}`: expected e.g. 512M, 2G or a byte count"))?;
    if !n.is_finite() || n <= 0.0 {
        return Err(format!("bad size `{s}`: must be positive"));
    }
    let bytes = n * mult as f64;
    if bytes > usize::MAX as f64 {
        return Err(format!("bad size `{s}`: too large"));
    }
    Ok(bytes as usize)
}

/// What checking one file produced.
struct FileResult {
    file: String,
    format: Format,
    valid: Validity,
    ops: usize,
    keys: usize,
    elapsed_ms: f64,
    /// Of which reading and parsing the file.
    read_ms: f64,
    results: Results,
    warnings: Vec<String>,
    /// The reading of failed ops used, and whether the flag chose it.
    failed_ops: FailedOps,
    /// The verdict under the other reading when it differs, with the number of failed ops
    /// read differently.
    other_reading: Option<(FailedOps, Validity, usize)>,
}

/// Read a history file, or standard input for `-`.
fn read_input(path: &Path, fmt: Option<Format>) -> Result<ReadOutcome, format::FormatError> {
    if path != Path::new("-") {
        return format::read_file(path, fmt);
    }
    let mut bytes = Vec::new();
    let read = io::Read::read_to_end(&mut io::stdin(), &mut bytes);
    let result = match read {
        Ok(_) => format::read_bytes(&bytes, fmt),
        Err(e) => Err(format::FormatError {
            kind: format::FormatErrorKind::Io,
            file: None,
            line: None,
            column: None,
            format: fmt,
            message: format!("cannot read standard input: {e}"),
        }),
    };
    result.map_err(|mut e| {
        e.file = Some("<stdin>".to_string());
        e
    })
}

/// Milliseconds rounded to microseconds, for readable JSON.
fn ms(x: f64) -> f64 {
    (x * 1000.0).round() / 1000.0
}

fn bad(msg: impl Into<String>) -> HarnessError {
    HarnessError::BadInput(msg.into())
}

fn linear_options(args: &CheckArgs) -> Result<LinearOptions, HarnessError> {
    let mut opts = LinearOptions {
        all_keys: args.all_keys,
        ..LinearOptions::default()
    };
    if let Some(t) = args.timeout {
        if !(t.is_finite() && t >= 0.0) {
            return Err(bad(format!(
                "--timeout {t}: expected a number of seconds, 0 or more (0 = no limit)"
            )));
        }
        opts.timeout = (t > 0.0).then(|| Duration::from_secs_f64(t.min(1e9)));
    }
    if let Some(m) = &args.memory_limit {
        opts.memory_limit_bytes = parse_size(m).map_err(|e| bad(format!("--memory-limit: {e}")))?;
    }
    if let Some(n) = args.threads {
        opts.threads = n;
    }
    Ok(opts)
}

fn check_one(
    path: &Path,
    args: &CheckArgs,
    opts: &LinearOptions,
) -> Result<(FileResult, History), HarnessError> {
    let start = Instant::now();
    let name = path.display().to_string();
    let read = read_input(path, args.format).map_err(|e| bad(e.to_string()))?;
    let failed_ops = args.failed_ops.unwrap_or(read.default_failed_ops());
    let ReadOutcome {
        history,
        format,
        warnings,
        ..
    } = read;
    let opts = &LinearOptions {
        failed_ops,
        ..opts.clone()
    };
    let read_ms = ms(start.elapsed().as_secs_f64() * 1e3);
    let model =
        match args.model.or_else(|| model::infer_model(&history, format)) {
            Some(m) => m,
            None => {
                let fs: BTreeSet<&str> = history
                    .ops
                    .iter()
                    .filter(|o| !o.process.is_nemesis())
                    .map(|o| o.f.as_str())
                    .collect();
                return Err(bad(format!(
                "{name}: cannot tell which model fits functions {{{}}}: give --model (one of: {})",
                fs.into_iter().collect::<Vec<_>>().join(", "),
                ModelKind::ALL.iter().map(|m| m.name()).collect::<Vec<_>>().join(", ")
            )));
            }
        };
    let mut checkers = vec![
        CheckerKind::Linearizable { model },
        CheckerKind::Stats,
        CheckerKind::Exceptions,
    ];
    if model == ModelKind::Set {
        checkers.push(CheckerKind::SetFull {
            linearizable: false,
        });
    }
    let check_opts = CheckOptions {
        linear: opts.clone(),
        ops_from_linear: true,
        nothing_ok: NothingOk::Warn,
        link_loss: 0.0,
    };
    let mut results = results::check(&history, &checkers, &check_opts).map_err(|e| match e {
        CheckError::Linear(e) => bad(match e.line {
            Some(line) => format!(
                "{name}:{line}: {format} history does not fit the {model} model: {}",
                e.message
            ),
            None => format!(
                "{name}: {format} history does not fit the {model} model: {}",
                e.message
            ),
        }),
        CheckError::SetFull(e) => bad(format!("{name}: set-full: {e}")),
        CheckError::Election(e) => bad(format!("{name}: election: {e}")),
        CheckError::Generals(e) => bad(format!("{name}: generals: {e}")),
        CheckError::TotalOrder(e) => bad(format!("{name}: total-order: {e}")),
        CheckError::Broadcast(e) => bad(format!("{name}: broadcast: {e}")),
        CheckError::LockOverlap(e) => bad(format!("{name}: lock-overlap: {e}")),
        CheckError::Fencing(e) => bad(format!("{name}: fencing: {e}")),
    })?;
    let other_reading = other_reading(&history, model, opts, &results);
    results.failed_ops = Some(json!(failed_ops.name()));
    results.failed_ops_source = Some(json!(if args.failed_ops.is_some() {
        "flag"
    } else {
        "format"
    }));
    results.other_reading = other_reading.map(
        |(r, v, n)| json!({"failed_ops": r.name(), "valid": v, "failed_ops_read_differently": n}),
    );
    let elapsed_ms = ms(start.elapsed().as_secs_f64() * 1e3);
    results.elapsed_ms = elapsed_ms;
    let keys = results
        .checkers
        .get("linearizable")
        .and_then(|l| l.get("keys"))
        .and_then(Value::as_array)
        .map_or(0, Vec::len);
    let result = FileResult {
        file: name,
        format,
        valid: results.valid,
        ops: results.ops,
        keys,
        elapsed_ms,
        read_ms,
        results,
        warnings,
        failed_ops,
        other_reading,
    };
    Ok((result, history))
}

/// The linearizability verdict under the other reading of failed ops, when it differs from
/// this one (never silent: `describe` prints it as a note). A second check that fails or
/// runs out of budget says nothing, so it gives no note.
fn other_reading(
    history: &History,
    model: ModelKind,
    opts: &LinearOptions,
    results: &Results,
) -> Option<(FailedOps, Validity, usize)> {
    let lin = results.checkers.get("linearizable")?;
    let verdict: Validity = serde_json::from_value(lin.get("valid")?.clone()).ok()?;
    let (reading, valid) = model::verdict_under_other_reading(history, model, opts, verdict)
        .ok()
        .flatten()?;
    (valid != Validity::Unknown && verdict != Validity::Unknown)
        .then(|| (reading, valid, model::reading_matters(history, model)))
}

fn verdict_word(v: Validity) -> &'static str {
    match v {
        Validity::Valid => "valid",
        Validity::Invalid => "INVALID",
        Validity::Unknown => "UNKNOWN",
    }
}

/// The human line (and counterexamples) for one checked file.
fn describe(r: &FileResult) -> String {
    let verdict = verdict_word(r.valid);
    let lin = r
        .results
        .checkers
        .get("linearizable")
        .unwrap_or(&Value::Null);
    let model = lin.get("model").and_then(Value::as_str).unwrap_or("?");
    let mut out = format!(
        "{}: {verdict} ({}, {model}, failed ops: {}, {} ops, {} keys, {:.1} ms, of which reading {:.1} ms)\n",
        r.file, r.format, r.failed_ops, r.ops, r.keys, r.elapsed_ms, r.read_ms
    );
    if let Some((reading, valid, n)) = r.other_reading {
        out.push_str(&format!(
            "  note: under --failed-ops {reading} the verdict would be {} ({n} failed cas ops read differently); rerun with --failed-ops {reading}\n",
            verdict_word(valid)
        ));
    }
    let mut cancelled = 0;
    for key in lin
        .get("keys")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
    {
        let k = match key.get("key") {
            Some(k) if !k.is_null() => format!("key {k}"),
            _ => "history".to_string(),
        };
        match key.get("valid") {
            Some(Value::Bool(false)) => {
                out.push_str(&format!("  {k}: not linearizable\n"));
                if let Some(cx) = key.get("counterexample") {
                    for line in linear::render_counterexample_text(cx).lines() {
                        out.push_str(&format!("    {line}\n"));
                    }
                }
            }
            Some(Value::String(_)) => {
                let why = key
                    .get("unknown_reason")
                    .and_then(Value::as_str)
                    .unwrap_or("undecided");
                if why.starts_with("cancelled") {
                    cancelled += 1;
                } else {
                    out.push_str(&format!("  {k}: unknown: {why}\n"));
                }
            }
            _ => {}
        }
    }
    if cancelled > 0 {
        out.push_str(&format!(
            "  {cancelled} other keys not decided: stopped at the first invalid key (--all-keys decides every key)\n"
        ));
    }
    if let Some(stats) = r.results.checkers.get("stats") {
        if let Some(w) = stats.get("warning").and_then(Value::as_str) {
            out.push_str(&format!("  warning: {w}\n"));
        }
    }
    if let Some(sf) = r.results.checkers.get("set-full") {
        out.push_str(&format!(
            "  set-full: valid={} lost={} stale={} unexpected={} never-read={}\n",
            sf["valid"],
            sf["lost_count"],
            sf["stale_count"],
            sf["unexpected_count"],
            sf["never_read_count"]
        ));
    }
    out
}

fn write_report_dir(
    dir: &Path,
    history: &History,
    results: &Results,
    file: &str,
) -> Result<PathBuf, HarnessError> {
    let fail = |what: &str, e: io::Error| {
        HarnessError::Failed(format!("{}: cannot write {what}: {e}", dir.display()))
    };
    std::fs::create_dir_all(dir).map_err(|e| fail("the report directory", e))?;
    let hist_path = dir.join("history.jsonl");
    let f = File::create(&hist_path).map_err(|e| fail("history.jsonl", e))?;
    format::write_jsonl(history, BufWriter::new(f)).map_err(|e| fail("history.jsonl", e))?;
    let name = Path::new(file)
        .file_name()
        .map_or(file.into(), |n| n.to_string_lossy());
    let published = results::publish(dir, results, None, Some(&name))?;
    if published.html.is_none() {
        let why = published.problems.join("; ");
        return Err(HarnessError::Failed(why));
    }
    for p in &published.problems {
        eprintln!("{}: {p}", dir.display());
    }
    Ok(dir.to_path_buf())
}

fn convert(args: &CheckArgs) -> Result<Outcome, HarnessError> {
    let out = args.out.as_deref().unwrap_or("-");
    let several = args.files.len() > 1;
    if several && out == "-" {
        return Err(bad(
            "--to jsonl with several files needs --out DIR (one .jsonl per input)",
        ));
    }
    let mut converted = Vec::new();
    let mut first_error: Option<HarnessError> = None;
    for path in &args.files {
        let outcome = match read_input(path, args.format) {
            Ok(o) => o,
            Err(e) => {
                eprintln!("harness: error: {e}");
                first_error.get_or_insert(bad(e.to_string()));
                continue;
            }
        };
        for w in &outcome.warnings {
            eprintln!("{}: warning: {w}", path.display());
        }
        let target = if out == "-" {
            None
        } else if several || Path::new(out).is_dir() {
            std::fs::create_dir_all(out)
                .map_err(|e| HarnessError::Failed(format!("{out}: {e}")))?;
            let stem = path
                .file_stem()
                .map_or_else(|| "history".into(), |s| s.to_string_lossy().into_owned());
            Some(Path::new(out).join(format!("{stem}.jsonl")))
        } else {
            Some(PathBuf::from(out))
        };
        match &target {
            None => {
                let stdout = io::stdout();
                format::write_jsonl(&outcome.history, BufWriter::new(stdout.lock()))
                    .map_err(|e| HarnessError::Failed(format!("writing to stdout: {e}")))?;
            }
            Some(t) => {
                let f = File::create(t)
                    .map_err(|e| HarnessError::Failed(format!("{}: {e}", t.display())))?;
                format::write_jsonl(&outcome.history, BufWriter::new(f))
                    .map_err(|e| HarnessError::Failed(format!("{}: {e}", t.display())))?;
            }
        }
        converted.push(json!({
            "file": path.display().to_string(),
            "format": outcome.format.name(),
            "ops": outcome.history.len(),
            "out": target.as_ref().map(|t| t.display().to_string()),
        }));
    }
    // With the history on stdout, stdout is the data: no summary line there.
    if out != "-" {
        // `valid` first, as for checks; a conversion has no verdict.
        println!(
            "{{\"valid\":null,\"results\":null,\"converted\":{}}}",
            Value::Array(converted)
        );
    }
    match first_error {
        Some(e) => Err(e),
        None => Ok(Outcome::Done),
    }
}

pub fn run(args: CheckArgs) -> Result<Outcome, HarnessError> {
    if args.to.is_some() {
        return convert(&args);
    }
    if args.report.is_some() && args.files.len() > 1 {
        return Err(bad("--report DIR takes exactly one history file"));
    }
    let opts = linear_options(&args)?;
    let mut results = Vec::new();
    let mut first_error: Option<HarnessError> = None;
    let mut report_dir: Option<PathBuf> = None;
    for path in &args.files {
        match check_one(path, &args, &opts) {
            Ok((r, history)) => {
                for w in &r.warnings {
                    eprintln!("{}: warning: {w}", r.file);
                }
                print!("{}", describe(&r));
                let _ = io::stdout().flush();
                if let Some(dir) = &args.report {
                    report_dir = Some(write_report_dir(dir, &history, &r.results, &r.file)?);
                }
                results.push(r);
            }
            Err(e) => {
                println!("{}: ERROR: {e}", path.display());
                first_error.get_or_insert(e);
            }
        }
    }
    // A file that could not be checked makes the whole answer at best unknown.
    let mut valid = Validity::all(results.iter().map(|r| r.valid));
    if first_error.is_some() {
        valid = valid.and(Validity::Unknown);
    }
    if let Some(path) = &args.json_out {
        let full: Vec<Value> = results
            .iter()
            .map(|r| {
                json!({"file": r.file, "format": r.format.name(), "valid": r.valid, "ops": r.ops,
                       "failed_ops": r.failed_ops.name(), "keys": r.keys, "elapsed_ms": r.elapsed_ms, "warnings": r.warnings, "results": r.results.to_json()})
            })
            .collect();
        let text = serde_json::to_string_pretty(&json!({"valid": valid, "files": full}))
            .map_err(|e| HarnessError::Failed(e.to_string()))?;
        std::fs::write(path, text + "\n")
            .map_err(|e| HarnessError::Failed(format!("{}: {e}", path.display())))?;
    }
    let files: Vec<Value> = results
        .iter()
        .map(|r| json!({"file": r.file, "valid": r.valid, "ops": r.ops, "keys": r.keys, "elapsed_ms": r.elapsed_ms}))
        .collect();
    // Built by hand so that `valid` comes first, as docs/design.md shows it.
    let results_field = json!(report_dir.map(|d| d.display().to_string()));
    let mut line = format!(
        "{{\"valid\":{},\"results\":{results_field},\"files\":{}",
        json!(valid),
        Value::Array(files)
    );
    if first_error.is_some() {
        line.push_str(&format!(",\"errors\":{}", args.files.len() - results.len()));
    }
    line.push('}');
    println!("{line}");
    match first_error {
        Some(e) => Err(e),
        None => Ok(Outcome::Verdict(valid)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sizes_parse() {
        assert_eq!(parse_size("2G"), Ok(2 << 30));
        assert_eq!(parse_size("512m"), Ok(512 << 20));
        assert_eq!(parse_size("1.5GiB"), Ok(3 << 29));
        assert_eq!(parse_size("100kB"), Ok(100 << 10));
        assert_eq!(parse_size("4096"), Ok(4096));
        assert!(parse_size("lots").is_err());
        assert!(parse_size("-1G").is_err());
        assert!(parse_size("").is_err());
    }
}
