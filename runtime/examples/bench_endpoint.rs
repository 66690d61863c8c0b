//! bench_endpoint: the replay server of `runtime/bench/bench.py` (docs/bench-runtime.md).
//!
//! One local HTTP server (127.0.0.1, a free port) that is both the Lambda Runtime API
//! (`GET /2018-06-01/runtime/invocation/next`, `POST .../invocation/<id>/response|error`,
//! `POST .../runtime/init/error`) and the AWS endpoint, answering every AWS call with the
//! recorded body for its `X-Amz-Target` — what bench.py's Python server does, in Rust, so that
//! the benchmark's latency measures the handlers and not the harness's own HTTP answers.
//!
//! Protocol with bench.py (one JSON document per line):
//! * stdin, first line: the [`Config`] (event bytes, recorded answers, STS XML, function ARN);
//!   then one request id per line, each handed out on the next `next` poll; EOF ends the
//!   server.
//! * stdout: `{"port":N}` once listening; `{"done":{...}}` per `response`/`error` received,
//!   with `served_ns` (event handed out) and `done_ns` (answer read) on `CLOCK_MONOTONIC`,
//!   the clock of Python's `time.perf_counter()`; `{"stats":{...}}` (AWS calls by target,
//!   time spent answering them) after stdin closes.
//!
//! `--threads N`: tokio worker threads; 1 (the default) is the single-threaded runtime.
//! Not a general emulator: no request validation, no signatures checked, one event body.
//! Tests: the routing below (`cargo test -p approvalc-runtime --example bench_endpoint`).

use std::collections::{BTreeMap, HashMap};
use std::convert::Infallible;
use std::io::Write;
use std::process::ExitCode;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, mpsc};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use bytes::Bytes;
use http::header::{CONTENT_TYPE, HeaderName, HeaderValue};
use http::{Method, Request, Response, StatusCode};
use http_body_util::{BodyExt, Full};
use hyper::body::Incoming;
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper_util::rt::TokioIo;
use serde::Deserialize;
use serde_json::json;
use tokio::net::TcpListener;
use tokio::sync::mpsc::{UnboundedReceiver, UnboundedSender, unbounded_channel};

/// How long a `next` poll waits for an event before answering 500 (as bench.py's server).
const NEXT_TIMEOUT: Duration = Duration::from_secs(300);
const RUNTIME_PREFIX: &str = "/2018-06-01/";
const AMZ_JSON: &str = "application/x-amz-json-1.0";
const JSON: &str = "application/json";

/// What bench.py sends on the first stdin line. Bodies are strings so that the bytes served
/// are exactly the ones bench.py's own server would serve (`json.dumps(...)`, fixture files).
#[derive(Deserialize)]
struct Config {
    event: String,
    recorded: BTreeMap<String, String>,
    sts: String,
    function_arn: String,
}

/// What a request is, from its method and path alone (bench.py's `do_GET`/`do_POST` order).
#[derive(Debug, PartialEq, Eq)]
enum Route<'a> {
    Next,
    Invocation { id: &'a str, kind: Answer },
    InitError,
    Aws,
    NotFound,
    NotImplemented,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Answer {
    Response,
    Error,
}

impl Answer {
    fn as_str(self) -> &'static str {
        match self {
            Answer::Response => "response",
            Answer::Error => "error",
        }
    }
}

fn route<'a>(method: &Method, path: &'a str) -> Route<'a> {
    if method == Method::GET {
        return if path.ends_with("/runtime/invocation/next") {
            Route::Next
        } else {
            Route::NotFound
        };
    }
    if method != Method::POST {
        return Route::NotImplemented;
    }
    if let Some((id, kind)) = invocation(path) {
        return Route::Invocation { id, kind };
    }
    if path.contains("/runtime/init/error") {
        return Route::InitError;
    }
    Route::Aws
}

/// `.../runtime/invocation/<id>/(response|error)` at the end of the path, `<id>` without `/`.
fn invocation(path: &str) -> Option<(&str, Answer)> {
    let (rest, kind) = path.rsplit_once('/')?;
    let kind = match kind {
        "response" => Answer::Response,
        "error" => Answer::Error,
        _ => return None,
    };
    let (prefix, id) = rest.rsplit_once('/')?;
    (!id.is_empty() && prefix.ends_with("/runtime/invocation")).then_some((id, kind))
}

/// The operation an AWS call asks for: its `X-Amz-Target`, or `sts` for the seed's
/// query-protocol `GetCallerIdentity`, else `?`.
fn aws_target(header: Option<&[u8]>, body: &[u8]) -> String {
    match header {
        Some(h) if !h.is_empty() => String::from_utf8_lossy(h).into_owned(),
        _ if contains(body, b"GetCallerIdentity") => "sts".to_owned(),
        _ => "?".to_owned(),
    }
}

fn contains(haystack: &[u8], needle: &[u8]) -> bool {
    haystack.windows(needle.len()).any(|w| w == needle)
}

/// `CLOCK_MONOTONIC` in nanoseconds: the clock of Python's `time.perf_counter()` on Linux, so
/// bench.py can put the first answer on its own time line (cold start = exec → first answer).
fn now_ns() -> u64 {
    let t = rustix::time::clock_gettime(rustix::time::ClockId::Monotonic);
    let secs = u64::try_from(t.tv_sec).unwrap_or(0);
    let nanos = u64::try_from(t.tv_nsec).unwrap_or(0);
    secs.saturating_mul(1_000_000_000).saturating_add(nanos)
}

/// Everything the connections share. One instance per server, per handler process.
struct Shared {
    event: Bytes,
    recorded: HashMap<String, Bytes>,
    sts: Bytes,
    function_arn: HeaderValue,
    events: tokio::sync::Mutex<UnboundedReceiver<String>>,
    served_ns: Mutex<HashMap<String, u64>>,
    aws_calls: Mutex<BTreeMap<String, u64>>,
    aws_busy_ns: AtomicU64,
    out: mpsc::Sender<Option<String>>,
}

type Reply = Response<Full<Bytes>>;

fn reply(status: StatusCode, ctype: &'static str, body: Bytes) -> Reply {
    let mut r = Response::new(Full::new(body));
    *r.status_mut() = status;
    r.headers_mut()
        .insert(CONTENT_TYPE, HeaderValue::from_static(ctype));
    r
}

async fn answer(shared: Arc<Shared>, req: Request<Incoming>) -> Result<Reply, Infallible> {
    let started = now_ns();
    let (parts, body) = req.into_parts();
    let path = parts.uri.path();
    let reply = match route(&parts.method, path) {
        Route::Next => next_event(&shared).await,
        Route::NotFound => reply(StatusCode::NOT_FOUND, AMZ_JSON, Bytes::from_static(b"{}")),
        Route::NotImplemented => reply(StatusCode::NOT_IMPLEMENTED, JSON, Bytes::new()),
        Route::Invocation { id, kind } => finished(&shared, id, kind.as_str(), read(body).await),
        Route::InitError => finished(&shared, "init", "error", read(body).await),
        Route::Aws => {
            let target = aws_target(
                parts.headers.get("x-amz-target").map(HeaderValue::as_bytes),
                &read(body).await,
            );
            let r = aws_answer(&shared, target);
            // Counted as bench.py counts it: POSTs outside the Runtime API's prefix.
            if !path.starts_with(RUNTIME_PREFIX) {
                let busy = now_ns().saturating_sub(started);
                shared.aws_busy_ns.fetch_add(busy, Ordering::Relaxed);
            }
            r
        }
    };
    Ok(reply)
}

async fn read(body: Incoming) -> Bytes {
    body.collect()
        .await
        .map(|b| b.to_bytes())
        .unwrap_or_default()
}

async fn next_event(shared: &Shared) -> Reply {
    let next = {
        let mut events = shared.events.lock().await;
        tokio::time::timeout(NEXT_TIMEOUT, events.recv()).await
    };
    let Ok(Some(id)) = next else {
        return reply(StatusCode::INTERNAL_SERVER_ERROR, AMZ_JSON, "{}".into());
    };
    let Ok(id_header) = HeaderValue::from_str(&id) else {
        return reply(StatusCode::INTERNAL_SERVER_ERROR, AMZ_JSON, "{}".into());
    };
    let deadline_ms = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_millis())
        .unwrap_or(0)
        + 60_000;
    let mut r = reply(StatusCode::OK, JSON, shared.event.clone());
    let headers = r.headers_mut();
    headers.insert(
        HeaderName::from_static("lambda-runtime-aws-request-id"),
        id_header,
    );
    headers.insert(
        HeaderName::from_static("lambda-runtime-deadline-ms"),
        HeaderValue::from(u64::try_from(deadline_ms).unwrap_or(u64::MAX)),
    );
    headers.insert(
        HeaderName::from_static("lambda-runtime-invoked-function-arn"),
        shared.function_arn.clone(),
    );
    // Taken last, just before hyper writes the event: the start of the measured latency.
    if let Ok(mut served) = shared.served_ns.lock() {
        served.insert(id, now_ns());
    }
    r
}

/// A handler's answer (or init error): timestamp it, hand it to bench.py, acknowledge.
fn finished(shared: &Shared, id: &str, kind: &str, body: Bytes) -> Reply {
    let done_ns = now_ns();
    let served_ns = shared
        .served_ns
        .lock()
        .ok()
        .and_then(|s| s.get(id).copied());
    let line = json!({"done": {
        "id": id, "kind": kind, "served_ns": served_ns, "done_ns": done_ns,
        "body": String::from_utf8_lossy(&body),
    }});
    // The writer thread does the pipe write, so the 202 is not held up by it.
    let _ = shared.out.send(Some(line.to_string()));
    reply(StatusCode::ACCEPTED, JSON, Bytes::from_static(b"{}"))
}

fn aws_answer(shared: &Shared, target: String) -> Reply {
    let answer = if let Some(body) = shared.recorded.get(&target) {
        reply(StatusCode::OK, AMZ_JSON, body.clone())
    } else if target == "sts" {
        reply(StatusCode::OK, "text/xml", shared.sts.clone())
    } else {
        // bench.py's `json.dumps` spacing, so both servers send the same bytes.
        let body = format!(
            r#"{{"__type": "UnknownOperationException", "message": {}}}"#,
            serde_json::Value::String(target.clone())
        );
        reply(StatusCode::BAD_REQUEST, AMZ_JSON, body.into())
    };
    if let Ok(mut calls) = shared.aws_calls.lock() {
        *calls.entry(target).or_default() += 1;
    }
    answer
}

/// Stdin after the config line: request ids into the event queue; EOF fires `stop`.
fn feed_events(
    lines: impl Iterator<Item = std::io::Result<String>>,
    events: UnboundedSender<String>,
    stop: tokio::sync::oneshot::Sender<()>,
) {
    for line in lines {
        let Ok(line) = line else { break };
        let id = line.trim();
        if !id.is_empty() && events.send(id.to_owned()).is_err() {
            break;
        }
    }
    let _ = stop.send(());
}

/// Stdout: one line per message, flushed at once (bench.py waits on each `done`).
fn write_lines(lines: mpsc::Receiver<Option<String>>) {
    let mut stdout = std::io::stdout().lock();
    while let Ok(Some(line)) = lines.recv() {
        if writeln!(stdout, "{line}")
            .and_then(|()| stdout.flush())
            .is_err()
        {
            break;
        }
    }
}

async fn serve(
    shared: Arc<Shared>,
    listener: TcpListener,
    mut stop: tokio::sync::oneshot::Receiver<()>,
) -> std::io::Result<()> {
    loop {
        let (stream, _) = tokio::select! {
            _ = &mut stop => return Ok(()),
            accepted = listener.accept() => accepted?,
        };
        // The replies are small and written once; no waiting on the client's delayed ACK.
        stream.set_nodelay(true)?;
        let shared = shared.clone();
        tokio::spawn(async move {
            let service = service_fn(move |req| answer(shared.clone(), req));
            // Clients drop keep-alive connections at exit; nothing to report.
            let _ = http1::Builder::new()
                .serve_connection(TokioIo::new(stream), service)
                .await;
        });
    }
}

fn threads_arg() -> Result<usize, String> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    match args.as_slice() {
        [] => Ok(1),
        [flag, n] if flag == "--threads" => match n.parse() {
            Ok(n) if n >= 1 => Ok(n),
            _ => Err(format!("--threads wants a number ≥ 1, got {n:?}")),
        },
        _ => Err("usage: bench_endpoint [--threads N] < config-and-request-ids".to_owned()),
    }
}

fn runtime(threads: usize) -> std::io::Result<tokio::runtime::Runtime> {
    if threads == 1 {
        tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
    } else {
        tokio::runtime::Builder::new_multi_thread()
            .worker_threads(threads)
            .enable_all()
            .build()
    }
}

fn run() -> Result<(), Box<dyn std::error::Error>> {
    let threads = threads_arg()?;
    let mut first = String::new();
    std::io::stdin().read_line(&mut first)?;
    let config: Config = serde_json::from_str(&first)?;
    let (events_tx, events_rx) = unbounded_channel();
    let (stop_tx, stop_rx) = tokio::sync::oneshot::channel();
    let (out_tx, out_rx) = mpsc::channel();
    let shared = Arc::new(Shared {
        event: config.event.into(),
        recorded: config
            .recorded
            .into_iter()
            .map(|(k, v)| (k, Bytes::from(v)))
            .collect(),
        sts: config.sts.into(),
        function_arn: HeaderValue::from_str(&config.function_arn)?,
        events: tokio::sync::Mutex::new(events_rx),
        served_ns: Mutex::new(HashMap::new()),
        aws_calls: Mutex::new(BTreeMap::new()),
        aws_busy_ns: AtomicU64::new(0),
        out: out_tx.clone(),
    });
    let writer = std::thread::spawn(move || write_lines(out_rx));
    std::thread::spawn(move || feed_events(std::io::stdin().lines(), events_tx, stop_tx));

    let rt = runtime(threads)?;
    let served = rt.block_on(async {
        let listener = TcpListener::bind(("127.0.0.1", 0)).await?;
        let port = listener.local_addr()?.port();
        let _ = out_tx.send(Some(json!({ "port": port }).to_string()));
        serve(shared.clone(), listener, stop_rx).await
    });
    let calls = shared
        .aws_calls
        .lock()
        .map(|c| c.clone())
        .unwrap_or_default();
    let stats = json!({"stats": {
        "aws_calls": calls,
        "aws_busy_ns": shared.aws_busy_ns.load(Ordering::Relaxed),
        "threads": threads,
    }});
    let _ = out_tx.send(Some(stats.to_string()));
    let _ = out_tx.send(None);
    let _ = writer.join();
    // A `next` poll may still be pending (the handler was killed): drop it, don't wait.
    rt.shutdown_background();
    Ok(served?)
}

fn main() -> ExitCode {
    match run() {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("bench_endpoint: {e}");
            ExitCode::FAILURE
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn routes_follow_bench_py() {
        let get = Method::GET;
        let post = Method::POST;
        assert_eq!(
            route(&get, "/2018-06-01/runtime/invocation/next"),
            Route::Next
        );
        assert_eq!(route(&get, "/2018-06-01/runtime/other"), Route::NotFound);
        assert_eq!(
            route(&post, "/2018-06-01/runtime/invocation/req-7/response"),
            Route::Invocation {
                id: "req-7",
                kind: Answer::Response
            }
        );
        assert_eq!(
            route(&post, "/2018-06-01/runtime/invocation/req-7/error"),
            Route::Invocation {
                id: "req-7",
                kind: Answer::Error
            }
        );
        assert_eq!(
            route(&post, "/2018-06-01/runtime/init/error"),
            Route::InitError
        );
        assert_eq!(route(&post, "/"), Route::Aws);
        assert_eq!(
            route(&post, "/2018-06-01/runtime/invocation//response"),
            Route::Aws
        );
        assert_eq!(
            route(&post, "/2018-06-01/runtime/invocation/a/b/other"),
            Route::Aws
        );
        assert_eq!(route(&Method::PUT, "/"), Route::NotImplemented);
    }

    #[test]
    fn target_is_the_header_then_sts_then_unknown() {
        assert_eq!(
            aws_target(Some(b"AmazonSSM.GetAutomationExecution"), b"{}"),
            "AmazonSSM.GetAutomationExecution"
        );
        assert_eq!(
            aws_target(Some(b""), b"Action=GetCallerIdentity&Version=2011-06-15"),
            "sts"
        );
        assert_eq!(
            aws_target(None, b"Action=GetCallerIdentity&Version=2011-06-15"),
            "sts"
        );
        assert_eq!(aws_target(None, b"{}"), "?");
    }

    #[test]
    fn clock_is_monotonic_nanoseconds() {
        let a = now_ns();
        let b = now_ns();
        assert!(a > 0 && b >= a);
    }
}
