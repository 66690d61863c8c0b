//! Test support: a [moto](https://github.com/getmoto/moto) AWS emulator on `127.0.0.1`,
//! started for a test and stopped afterwards.
//!
//! ```no_run
//! let moto = approvalc_moto_server::MotoServer::start()?;
//! // point an AWS SDK client at moto.endpoint_url() with any static credentials
//! moto.reset()?; // only between tests that own the server exclusively
//! # Ok::<(), approvalc_moto_server::Error>(())
//! ```
//!
//! * [`MotoServer::start`] / [`MotoServer::start_with`] pick a free port, start
//!   `moto_server -H 127.0.0.1 -p PORT` with `MOTO_PORT=PORT` (without it Step Functions'
//!   own service calls go to port 5000), wait until `GET /moto-api/` answers 200, then turn
//!   on real ASL execution (`{"stepfunctions": {"execute_state_machine": true}}`) and, with
//!   [`LambdaInvoke::Echo`], Lambda invocations that echo their input instead of needing
//!   Docker.
//! * [`MotoServer::shared`] is one server per test binary, for tests that isolate themselves
//!   by unique names (they run in parallel, so they must not call `reset`).
//! * Dropping a [`MotoServer`] stops the emulator. It also stops when the test process dies
//!   in any way (even SIGKILL): see `process.rs` for the pipe watchdog.
//! * Where moto comes from: `$APPROVALC_MOTO_SERVER`, else
//!   `<workspace>/.tools/venv/bin/moto_server` as installed by `scripts/install-tools.sh`.
//!   When it is missing, starting fails with [`Error::NotInstalled`] telling how to install
//!   it: tests that need moto fail, they never skip silently.
//!
//! Left out: the AWS SDK (tests bring their own clients), TLS, and moto features beyond the
//! control API (`/moto-api/config`, `/moto-api/reset`). Unix only (uses `/bin/sh` and
//! process groups). Tests live in `tests/moto_server.rs` and need moto installed.

mod http;
mod process;

use std::net::{Ipv4Addr, SocketAddr, TcpListener};
use std::path::{Path, PathBuf};
use std::sync::OnceLock;
use std::time::{Duration, Instant};

pub use http::{Request, Response};

/// moto's default account id, used when a request does not switch accounts.
pub const DEFAULT_ACCOUNT_ID: &str = "123456789012";

/// Environment variable naming the `moto_server` executable (overrides the default path).
pub const MOTO_SERVER_ENV: &str = "APPROVALC_MOTO_SERVER";

/// How long one control-API request may take.
const REQUEST_TIMEOUT: Duration = Duration::from_secs(10);

/// How often a port collision (another process grabbing the port between our probe and
/// moto's bind) is retried with a fresh port.
const START_ATTEMPTS: u32 = 3;

/// What moto does when a Lambda function is invoked.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum LambdaInvoke {
    /// moto's default: run the function in Docker (fails where there is no Docker).
    #[default]
    Docker,
    /// `{"lambda": {"use_docker": false}}`: an invocation returns its input.
    Echo,
}

/// Settings for [`MotoServer::start_with`].
#[derive(Debug, Clone)]
pub struct Options {
    /// The `moto_server` executable; `None` means [`moto_server_path`].
    pub moto_server: Option<PathBuf>,
    pub lambda: LambdaInvoke,
    /// How long to wait for `GET /moto-api/` to answer 200 after starting.
    pub ready_timeout: Duration,
}

impl Default for Options {
    fn default() -> Self {
        Options {
            moto_server: None,
            lambda: LambdaInvoke::default(),
            // moto is ready in < 1 s on an idle machine; a busy 2-core CI box with a cold
            // page cache can take many times that for the Python imports.
            ready_timeout: Duration::from_secs(60),
        }
    }
}

/// Why the emulator could not be started or controlled.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error(
        "moto_server not found at {}: run `scripts/install-tools.sh` from the repository root \
         (or set {MOTO_SERVER_ENV} to a moto_server executable)",
        path.display()
    )]
    NotInstalled { path: PathBuf },
    #[error("could not spawn moto_server ({}): {source}", path.display())]
    Spawn {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("could not pick a free port on 127.0.0.1: {0}")]
    Port(std::io::Error),
    #[error("could not create moto's log file: {0}")]
    Log(std::io::Error),
    #[error(
        "moto_server exited during startup on port {port} ({status}); its log ends with:\n{log_tail}"
    )]
    Exited {
        port: u16,
        status: String,
        log_tail: String,
    },
    #[error(
        "moto_server on port {port} did not answer GET /moto-api/ within {timeout:?}; \
         its log ends with:\n{log_tail}"
    )]
    NotReady {
        port: u16,
        timeout: Duration,
        log_tail: String,
    },
    #[error("{method} {path} to moto failed: {source}")]
    Request {
        method: String,
        path: String,
        source: std::io::Error,
    },
    #[error("{method} {path} to moto answered {status}: {body}")]
    Status {
        method: String,
        path: String,
        status: u16,
        body: String,
    },
    #[error("the shared moto server failed to start: {0}")]
    Shared(String),
}

/// A running `moto_server`; stopped on drop.
pub struct MotoServer {
    addr: SocketAddr,
    // Field order matters: the process stops before its log file is deleted.
    process: process::Supervised,
    log: tempfile::NamedTempFile,
}

impl std::fmt::Debug for MotoServer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("MotoServer")
            .field("endpoint_url", &self.endpoint_url())
            .field("pid", &self.pid())
            .finish()
    }
}

impl MotoServer {
    /// Starts moto with real Step Functions execution and moto's default Lambda mode.
    pub fn start() -> Result<MotoServer, Error> {
        MotoServer::start_with(&Options::default())
    }

    /// Starts moto with the given options.
    pub fn start_with(options: &Options) -> Result<MotoServer, Error> {
        let executable = options.moto_server.clone().unwrap_or_else(moto_server_path);
        if !executable.is_file() {
            return Err(Error::NotInstalled { path: executable });
        }
        let mut attempt = 1;
        loop {
            match MotoServer::start_once(&executable, options) {
                Err(Error::Exited { .. }) if attempt < START_ATTEMPTS => attempt += 1,
                result => return result,
            }
        }
    }

    /// One server per test binary, started on first use with [`LambdaInvoke::Echo`].
    ///
    /// It is never dropped; the pipe watchdog stops it when the test process exits. Tests
    /// sharing it run in parallel: isolate them by unique resource names or account ids and
    /// do not call [`MotoServer::reset`].
    pub fn shared() -> Result<&'static MotoServer, Error> {
        static SHARED: OnceLock<Result<MotoServer, String>> = OnceLock::new();
        let options = Options {
            lambda: LambdaInvoke::Echo,
            ..Options::default()
        };
        SHARED
            .get_or_init(|| MotoServer::start_with(&options).map_err(|err| err.to_string()))
            .as_ref()
            .map_err(|message| Error::Shared(message.clone()))
    }

    fn start_once(executable: &Path, options: &Options) -> Result<MotoServer, Error> {
        let port = free_port().map_err(Error::Port)?;
        let log = tempfile::Builder::new()
            .prefix("approvalc-moto-")
            .suffix(".log")
            .tempfile()
            .map_err(Error::Log)?;
        let process =
            process::Supervised::spawn(executable, port, log.path()).map_err(|source| {
                Error::Spawn {
                    path: executable.to_owned(),
                    source,
                }
            })?;
        let mut server = MotoServer {
            addr: SocketAddr::from((Ipv4Addr::LOCALHOST, port)),
            process,
            log,
        };
        server.wait_ready(options.ready_timeout)?;
        server.configure(options)?;
        Ok(server)
    }

    fn wait_ready(&mut self, timeout: Duration) -> Result<(), Error> {
        let deadline = Instant::now() + timeout;
        loop {
            let probe = http::request(
                self.addr,
                &Request {
                    method: "GET",
                    path: "/moto-api/",
                    headers: &[],
                    body: None,
                },
                Duration::from_secs(2),
            );
            if matches!(probe, Ok(Response { status: 200, .. })) {
                return Ok(());
            }
            if let Some(status) = self.process.exit_status() {
                return Err(Error::Exited {
                    port: self.port(),
                    status,
                    log_tail: self.log_tail(),
                });
            }
            if Instant::now() >= deadline {
                return Err(Error::NotReady {
                    port: self.port(),
                    timeout,
                    log_tail: self.log_tail(),
                });
            }
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    fn configure(&self, options: &Options) -> Result<(), Error> {
        let mut config = serde_json::json!({
            "stepfunctions": { "execute_state_machine": true }
        });
        if options.lambda == LambdaInvoke::Echo {
            config["lambda"] = serde_json::json!({ "use_docker": false });
        }
        self.post("/moto-api/config", &config.to_string())?;
        Ok(())
    }

    /// `http://127.0.0.1:PORT`, for `--endpoint-url` and SDK clients.
    pub fn endpoint_url(&self) -> String {
        format!("http://{}", self.addr)
    }

    pub fn port(&self) -> u16 {
        self.addr.port()
    }

    /// The process id of `moto_server` itself.
    pub fn pid(&self) -> u32 {
        self.process.moto_pid()
    }

    /// Deletes every resource in every account (`POST /moto-api/reset`). The configuration
    /// set at start (Step Functions execution, Lambda mode) survives a reset.
    pub fn reset(&self) -> Result<(), Error> {
        self.post("/moto-api/reset", "")?;
        Ok(())
    }

    /// `GET path` on the server; any status is returned, only transport errors fail.
    pub fn get(&self, path: &str) -> Result<Response, Error> {
        self.request("GET", path, None)
    }

    /// `POST path` with a JSON body; a non-2xx answer is an [`Error::Status`].
    pub fn post(&self, path: &str, json_body: &str) -> Result<Response, Error> {
        let response = self.request("POST", path, Some(json_body))?;
        if (200..300).contains(&response.status) {
            Ok(response)
        } else {
            Err(Error::Status {
                method: "POST".into(),
                path: path.into(),
                status: response.status,
                body: response.body,
            })
        }
    }

    /// Any request with an optional JSON body; any status is returned, only transport
    /// errors fail.
    pub fn request(&self, method: &str, path: &str, body: Option<&str>) -> Result<Response, Error> {
        self.send(&Request {
            method,
            path,
            headers: &[],
            body,
        })
    }

    /// A request with extra headers (e.g. `X-Amz-Target` for an AWS JSON-protocol call in a
    /// smoke test); any status is returned, only transport errors fail. Real tests should
    /// use an AWS SDK client against [`MotoServer::endpoint_url`].
    pub fn send(&self, request: &Request<'_>) -> Result<Response, Error> {
        http::request(self.addr, request, REQUEST_TIMEOUT).map_err(|source| Error::Request {
            method: request.method.into(),
            path: request.path.into(),
            source,
        })
    }

    /// The last lines moto wrote, for error messages.
    pub fn log_tail(&self) -> String {
        let text = std::fs::read_to_string(self.log.path()).unwrap_or_default();
        let lines: Vec<&str> = text.lines().collect();
        lines[lines.len().saturating_sub(20)..].join("\n")
    }

    /// Stops the server now (as dropping it does).
    pub fn stop(mut self) {
        self.process.stop();
    }
}

/// `$APPROVALC_MOTO_SERVER`, else `<workspace>/.tools/venv/bin/moto_server`.
pub fn moto_server_path() -> PathBuf {
    match std::env::var_os(MOTO_SERVER_ENV) {
        Some(path) if !path.is_empty() => PathBuf::from(path),
        _ => workspace_root().join(".tools/venv/bin/moto_server"),
    }
}

/// The workspace root, known at compile time from this crate's location
/// (`<root>/crates/moto-server`).
fn workspace_root() -> PathBuf {
    let manifest_dir = Path::new(env!("CARGO_MANIFEST_DIR"));
    manifest_dir
        .ancestors()
        .nth(2)
        .map_or_else(|| manifest_dir.to_owned(), Path::to_owned)
}

/// Asks the kernel for a free port. moto binds it a moment later; a process that takes it
/// in between makes moto exit, which `start_with` retries.
fn free_port() -> std::io::Result<u16> {
    let listener = TcpListener::bind((Ipv4Addr::LOCALHOST, 0))?;
    Ok(listener.local_addr()?.port())
}
