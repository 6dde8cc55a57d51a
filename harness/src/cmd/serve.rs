//! `harness serve [--port 8080] [--store results]`: serves the results store read-only on
//! 127.0.0.1 only. Paths are percent-decoded and resolved segment by segment; `..`,
//! backslashes, NUL and anything that resolves (through symlinks) outside the store are
//! refused with 403. Directories get a listing (the store root serves its index.html,
//! regenerated at start), files get a content type by extension. Only regular files are
//! served (a FIFO or device in the store is refused, never opened blocking), and idle
//! connections are closed ([`super::serve_idle`]).

use super::serve_idle::{IdleListener, IDLE_TIMEOUT, MAX_CONNECTIONS};
use crate::exit::{HarnessError, Outcome};
use crate::report::bounded;
use crate::report::escape::html;
use axum::body::Body;
use axum::extract::State;
use axum::http::{header, Method, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use axum::Router;
use std::fmt::Write;
use std::path::{Path, PathBuf};
use std::sync::Arc;

/// Largest file served (a store holds logs and histories, not media).
pub const MAX_FILE_BYTES: u64 = 1 << 30;

#[derive(Debug, clap::Args)]
pub struct ServeArgs {
    /// Port to listen on (always on 127.0.0.1); 0 picks a free one.
    #[arg(long, default_value_t = 8080)]
    pub port: u16,
    /// The results store to serve.
    #[arg(long, default_value = "results")]
    pub store: PathBuf,
}

pub fn run(args: ServeArgs) -> Result<Outcome, HarnessError> {
    if !args.store.is_dir() {
        return Err(HarnessError::BadInput(format!(
            "{}: not a directory (pass the results store with --store)",
            args.store.display()
        )));
    }
    if let Err(e) = crate::report::render_index(&args.store) {
        eprintln!("harness serve: warning: could not regenerate the index: {e}");
    }
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .map_err(|e| HarnessError::Failed(format!("starting the server's runtime: {e}")))?;
    rt.block_on(async move {
        let listener = tokio::net::TcpListener::bind(("127.0.0.1", args.port))
            .await
            .map_err(|e| {
                HarnessError::Failed(format!("cannot listen on 127.0.0.1:{}: {e}", args.port))
            })?;
        let addr = listener.local_addr().map_err(|e| {
            HarnessError::Failed(format!("listening on 127.0.0.1:{}: {e}", args.port))
        })?;
        println!(
            "serving {} on http://{addr}/ (Ctrl-C to stop)",
            args.store.display()
        );
        let listener = IdleListener::new(listener, IDLE_TIMEOUT, MAX_CONNECTIONS);
        axum::serve(listener, router(&args.store)?)
            .with_graceful_shutdown(async {
                let _ = tokio::signal::ctrl_c().await;
            })
            .await
            .map_err(|e| HarnessError::Failed(format!("serving http://{addr}/: {e}")))?;
        Ok(Outcome::Done)
    })
}

/// The read-only file server of `root`.
pub fn router(root: &Path) -> Result<Router, HarnessError> {
    let root = root
        .canonicalize()
        .map_err(|e| HarnessError::BadInput(format!("{}: {e}", root.display())))?;
    Ok(Router::new().fallback(handle).with_state(Arc::new(root)))
}

/// Serve `root` on an already bound listener until the future is dropped (for tests and
/// embedding).
pub async fn serve(listener: tokio::net::TcpListener, root: &Path) -> Result<(), HarnessError> {
    serve_with_limits(listener, root, IDLE_TIMEOUT, MAX_CONNECTIONS).await
}

/// [`serve`] with a given idle timeout and number of connections served at once.
pub async fn serve_with_limits(
    listener: tokio::net::TcpListener,
    root: &Path,
    idle: std::time::Duration,
    max_connections: usize,
) -> Result<(), HarnessError> {
    let listener = IdleListener::new(listener, idle, max_connections);
    axum::serve(listener, router(root)?)
        .await
        .map_err(|e| HarnessError::Failed(format!("serving {}: {e}", root.display())))?;
    Ok(())
}

fn status(code: StatusCode, msg: &str) -> Response {
    (
        code,
        [(header::CONTENT_TYPE, "text/plain; charset=utf-8")],
        format!("{msg}\n"),
    )
        .into_response()
}

/// Percent-decode a URI path; `None` on a malformed escape or non-UTF-8 result.
pub fn percent_decode(s: &str) -> Option<String> {
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        if b[i] == b'%' {
            let hex = std::str::from_utf8(b.get(i + 1..i + 3)?).ok()?;
            out.push(u8::from_str_radix(hex, 16).ok()?);
            i += 3;
        } else {
            out.push(b[i]);
            i += 1;
        }
    }
    String::from_utf8(out).ok()
}

/// Why a request path is refused.
#[derive(Debug, PartialEq, Eq)]
pub enum PathRefusal {
    /// Malformed percent-encoding.
    BadRequest,
    /// `..`, backslash, NUL, or a path resolving outside the root.
    Forbidden,
    NotFound,
}

/// Map a URI path to a file or directory inside `root` (canonical), or refuse it.
pub fn resolve(root: &Path, uri_path: &str) -> Result<PathBuf, PathRefusal> {
    let decoded = percent_decode(uri_path).ok_or(PathRefusal::BadRequest)?;
    let mut p = root.to_path_buf();
    for seg in decoded.split('/') {
        if seg.is_empty() || seg == "." {
            continue;
        }
        if seg == ".." || seg.contains('\\') || seg.contains('\0') {
            return Err(PathRefusal::Forbidden);
        }
        p.push(seg);
    }
    let canon = p.canonicalize().map_err(|_| PathRefusal::NotFound)?;
    if !canon.starts_with(root) {
        return Err(PathRefusal::Forbidden);
    }
    Ok(canon)
}

/// Content type by file extension.
pub fn content_type(path: &Path) -> &'static str {
    match path.extension().and_then(|e| e.to_str()).unwrap_or("") {
        "html" | "htm" => "text/html; charset=utf-8",
        "json" => "application/json",
        "png" => "image/png",
        "svg" => "image/svg+xml",
        "css" => "text/css; charset=utf-8",
        "js" => "text/javascript; charset=utf-8",
        "jsonl" | "log" | "txt" | "edn" | "out" | "err" | "toml" | "md" | "" => {
            "text/plain; charset=utf-8"
        }
        _ => "application/octet-stream",
    }
}

async fn handle(State(root): State<Arc<PathBuf>>, method: Method, uri: Uri) -> Response {
    if method != Method::GET && method != Method::HEAD {
        return status(
            StatusCode::METHOD_NOT_ALLOWED,
            "read-only: only GET and HEAD",
        );
    }
    let path = match resolve(&root, uri.path()) {
        Ok(p) => p,
        Err(PathRefusal::BadRequest) => return status(StatusCode::BAD_REQUEST, "malformed path"),
        Err(PathRefusal::Forbidden) => return status(StatusCode::FORBIDDEN, "path refused"),
        Err(PathRefusal::NotFound) => return status(StatusCode::NOT_FOUND, "not found"),
    };
    if path.is_dir() {
        if !uri.path().ends_with('/') {
            let to = format!("{}/", uri.path());
            return (StatusCode::MOVED_PERMANENTLY, [(header::LOCATION, to)]).into_response();
        }
        let index = path.join("index.html");
        if path == *root && index.is_file() {
            return file(&index).await;
        }
        return listing(&root, &path, uri.path()).await;
    }
    file(&path).await
}

async fn file(path: &Path) -> Response {
    match tokio::fs::metadata(path).await {
        Ok(m) if !m.is_file() => {
            return status(StatusCode::FORBIDDEN, "not a regular file");
        }
        Ok(m) if m.len() > MAX_FILE_BYTES => {
            return status(StatusCode::PAYLOAD_TOO_LARGE, "file too large to serve");
        }
        Ok(_) => {}
        Err(_) => return status(StatusCode::NOT_FOUND, "not found"),
    }
    // The type is checked again on the open file (non-blocking), in case it was swapped.
    let owned = path.to_path_buf();
    let read = tokio::task::spawn_blocking(move || bounded::read_regular(&owned, MAX_FILE_BYTES));
    match read.await {
        Ok(Ok(bytes)) => (
            StatusCode::OK,
            [
                (header::CONTENT_TYPE, content_type(path)),
                (header::X_CONTENT_TYPE_OPTIONS, "nosniff"),
            ],
            Body::from(bytes),
        )
            .into_response(),
        _ => status(StatusCode::NOT_FOUND, "cannot read"),
    }
}

async fn listing(root: &Path, dir: &Path, uri_path: &str) -> Response {
    let mut entries: Vec<(String, bool)> = Vec::new();
    if let Ok(mut rd) = tokio::fs::read_dir(dir).await {
        while let Ok(Some(e)) = rd.next_entry().await {
            let is_dir = tokio::fs::metadata(e.path())
                .await
                .map(|m| m.is_dir())
                .unwrap_or(false);
            entries.push((e.file_name().to_string_lossy().into_owned(), is_dir));
        }
    }
    entries.sort_by(|a, b| b.1.cmp(&a.1).then_with(|| a.0.cmp(&b.0)));
    let shown = percent_decode(uri_path).unwrap_or_default();
    let mut h = String::new();
    let _ = write!(
        h,
        "<!DOCTYPE html>\n<html><head><meta charset=\"utf-8\"><title>{0}</title><style>body{{font-family:sans-serif;margin:20px}}li{{margin:2px 0}}</style></head><body><h1>{0}</h1><ul>",
        html(&shown)
    );
    if dir != root {
        h.push_str("<li><a href=\"../\">../</a></li>");
    }
    for (name, is_dir) in entries {
        let slash = if is_dir { "/" } else { "" };
        let _ = write!(
            h,
            "<li><a href=\"{}{slash}\">{}{slash}</a></li>",
            html(&crate::report::url_segment(&name)),
            html(&name)
        );
    }
    h.push_str("</ul></body></html>\n");
    ([(header::CONTENT_TYPE, "text/html; charset=utf-8")], h).into_response()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn decoding_and_resolution_refuse_escapes() {
        assert_eq!(percent_decode("/a%20b").as_deref(), Some("/a b"));
        assert_eq!(percent_decode("/%zz"), None);
        assert_eq!(percent_decode("/%2"), None);
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path().canonicalize().unwrap();
        std::fs::create_dir(root.join("run")).unwrap();
        std::fs::write(root.join("run/a.txt"), "x").unwrap();
        assert_eq!(resolve(&root, "/run/a.txt"), Ok(root.join("run/a.txt")));
        assert_eq!(
            resolve(&root, "/run/../run/a.txt"),
            Err(PathRefusal::Forbidden)
        );
        assert_eq!(
            resolve(&root, "/%2e%2e/etc/passwd"),
            Err(PathRefusal::Forbidden)
        );
        assert_eq!(
            resolve(&root, "/run%2f..%2f..%2fetc"),
            Err(PathRefusal::Forbidden)
        );
        assert_eq!(resolve(&root, "/run/b.txt"), Err(PathRefusal::NotFound));
        std::os::unix::fs::symlink("/etc", root.join("out")).unwrap();
        assert_eq!(resolve(&root, "/out/passwd"), Err(PathRefusal::Forbidden));
        assert_eq!(
            content_type(Path::new("x/report.html")),
            "text/html; charset=utf-8"
        );
        assert_eq!(
            content_type(Path::new("nodes/n1/stderr")),
            "text/plain; charset=utf-8"
        );
    }
}
