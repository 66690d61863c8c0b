//! What the AWS commands (`bootstrap`, `plan`, `deploy`, `destroy`, `start`, and `status` /
//! `approve` / `reject` / `runs` on AWS runs) share: connection flags, loading a workflow
//! (a YAML file, compiled in memory, or a directory written by `approvalc compile`), the
//! async runtime, and turning a [`DeployError`] into a diagnostic with its fix.

use std::path::Path;

use approvalc_compiler::lower::{self, Artifacts};
use approvalc_deploy::session::{AccountClients, external_id};
use approvalc_deploy::{Calls, DeployError, Deployer, DesiredState, Session, SessionOptions};

use crate::Exit;
use crate::render::{self, Style};

/// Help text shared by every AWS command.
pub const CONNECT_HELP: &str = "\
Credentials come from the standard AWS chain (environment, --profile / AWS_PROFILE, SSO,
instance roles). Accounts other than the one you are signed in to are reached by assuming
their `approvalc-deploy` role (created by `approvalc bootstrap`) with ExternalId
`approvalc-deploy-<home account id>`. --endpoint-url (or AWS_ENDPOINT_URL) sends every call
to an emulator such as moto.";

/// How to reach AWS.
#[derive(Debug, Clone, clap::Args)]
pub struct ConnectArgs {
    /// Named profile from ~/.aws/config (default: AWS_PROFILE or the default chain).
    #[arg(long, value_name = "NAME")]
    pub profile: Option<String>,
    /// Region; must equal the workflow's `region` (approvalc always uses the workflow's).
    #[arg(long, value_name = "REGION")]
    pub region: Option<String>,
    /// Send every AWS call to this endpoint (an emulator); AWS_ENDPOINT_URL works too.
    #[arg(long, value_name = "URL")]
    pub endpoint_url: Option<String>,
}

/// Output format of the AWS commands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, clap::ValueEnum)]
pub enum Format {
    /// Progress and tables for people (progress on stderr).
    #[default]
    Text,
    /// One JSON document on stdout.
    Json,
}

impl ConnectArgs {
    pub fn options(&self, calls: &Calls) -> SessionOptions {
        SessionOptions {
            profile: self.profile.clone(),
            region: self.region.clone(),
            endpoint_url: self.endpoint_url.clone(),
            credentials: None,
            calls: calls.clone(),
        }
    }
}

/// A current-thread runtime is enough: the SDK's concurrency is I/O, not CPU.
pub fn runtime() -> Result<tokio::runtime::Runtime, Exit> {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(|e| {
            eprintln!("error: cannot start the async runtime: {e}");
            Exit::Internal
        })
}

/// A compiled workflow and the desired state deploy derives from it.
pub struct Loaded {
    pub artifacts: Artifacts,
    pub desired: DesiredState,
}

/// Reads FILE: a directory is the output of `approvalc compile`, anything else a workflow
/// that is checked and compiled here (diagnostics printed; errors stop with exit 1).
pub fn load(path: &Path) -> Result<Loaded, Exit> {
    let artifacts = if path.is_dir() {
        approvalc_deploy::load_dir(path).map_err(|e| report(&e))?
    } else {
        let file = path.display().to_string();
        let source = std::fs::read_to_string(path).map_err(|e| {
            eprintln!("error: cannot read {file}: {e}");
            Exit::Internal
        })?;
        let compiled = lower::compile(&source);
        let style = Style::for_stderr();
        for d in &compiled.diagnostics {
            eprint!("{}", render::human(&file, &source, d, style));
        }
        match compiled.artifacts {
            Some(a) if !compiled.has_errors() => a,
            _ => {
                eprintln!("error: {file} has errors; nothing was sent to AWS");
                return Err(Exit::UserError);
            }
        }
    };
    let desired = approvalc_deploy::desired(&artifacts).map_err(|e| {
        report(
            &DeployError::new(e.to_string())
                .with_help("compile the workflow again with this version of approvalc"),
        )
    })?;
    Ok(Loaded { artifacts, desired })
}

/// What every AWS command does around its own calls: an async runtime, the caller's
/// session for the workflow's region, then `work`; retried calls are reported and, with
/// `stats`, the calls per operation. Any error is printed as a diagnostic.
pub fn with_session<T>(
    loaded: &Loaded,
    args: &ConnectArgs,
    stats: bool,
    work: impl AsyncFnOnce(&Session) -> Result<T, DeployError>,
) -> Result<T, Exit> {
    let runtime = runtime()?;
    let calls = Calls::new();
    let result = runtime.block_on(async {
        let session = connect(args, &loaded.desired.region, &calls).await?;
        work(&session).await.map_err(|e| report(&e))
    });
    note_retries(&calls);
    if stats {
        print_stats(&calls);
    }
    result
}

/// [`with_session`] for `plan`, `deploy` and `destroy`: `work` gets the [`Deployer`] of
/// the workflow (clients for every account).
pub fn with_deployer<T>(
    loaded: &Loaded,
    args: &ConnectArgs,
    stats: bool,
    work: impl AsyncFnOnce(&Deployer) -> Result<T, DeployError>,
) -> Result<T, Exit> {
    with_session(loaded, args, stats, async |session| {
        let deployer = Deployer::connect(session, loaded.desired.clone()).await?;
        work(&deployer).await
    })
}

/// The caller's clients in the workflow's home account (`status`, `runs`).
pub async fn home(session: &Session, loaded: &Loaded) -> Result<AccountClients, DeployError> {
    let home = &loaded.desired.home;
    session.account(home, &external_id(&home.id)).await
}

/// Connects as the caller for the workflow's region.
pub async fn connect(args: &ConnectArgs, region: &str, calls: &Calls) -> Result<Session, Exit> {
    Session::connect(args.options(calls), region)
        .await
        .map_err(|e| report(&e))
}

/// Prints a deploy error as a diagnostic (message, the failed call, the fix); exit 1.
pub fn report(error: &DeployError) -> Exit {
    eprintln!("error: {}", error.message);
    if let Some(call) = &error.call
        && !error.message.contains(&call.action)
    {
        eprintln!("  call: {call}");
    }
    if let Some(help) = &error.help {
        eprintln!("  help: {help}");
    }
    Exit::UserError
}

/// Prints `value` as pretty JSON on stdout.
pub fn print_json<T: serde::Serialize>(value: &T) {
    println!(
        "{}",
        serde_json::to_string_pretty(value).unwrap_or_else(|_| "null".to_owned())
    );
}

/// `--stats`: SDK calls per operation on stderr.
pub fn print_stats(calls: &Calls) {
    let stats = calls.stats();
    eprintln!(
        "{} SDK calls ({} retried after throttling or errors)",
        stats.calls, stats.retries
    );
    for (op, n) in &stats.by_operation {
        eprintln!("  {n:>5} {op}");
    }
}

/// Throttling the SDK retried (with backoff) is reported, never silent.
pub fn note_retries(calls: &Calls) {
    let retries = calls.stats().retries;
    if retries > 0 {
        eprintln!(
            "note: {retries} AWS calls were retried with backoff (throttling or transient errors)"
        );
    }
}
