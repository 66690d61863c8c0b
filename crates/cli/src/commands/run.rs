//! `approvalc run FILE --input JSON`: starts a local run, stores it and returns (or follows it
//! with `--wait`). Also where the local-run commands find their store (`--state-dir`,
//! `$APPROVALC_STATE_DIR`, `$XDG_DATA_HOME/approvalc`, `~/.local/share/approvalc`) and read
//! the time (the only wall clock of local runs).

use std::path::PathBuf;
use std::time::Duration;

use approvalc_local::store::{CrashHooks, NewRun, Store};
use approvalc_local::{RunConfig, RunReport, World};

use crate::Exit;
use crate::commands::simulate::{
    RunOptions, load, local_error, parse_input, print_report, requester, user_error,
};

const AFTER_HELP: &str = "\
The run lives in the local store until it ends: decide its stages with `approvalc approve`
and `approvalc reject`, look at it with `approvalc status`, list runs with `approvalc runs`.
Simulated time follows the wall clock, so timeouts fire in real time; action stages'
automations succeed by themselves.

Exit status: 0 started, 1 a bad workflow or input, 2 an unreadable file or store.

Examples:
  approvalc run workflows/ssm-single.yaml --input '{\"change\": \"raise limits\"}'
  approvalc run workflows/multi-level-cross-account.yaml --input @release.json --wait";

/// Where runs are stored.
#[derive(Debug, Clone, clap::Args)]
pub struct StateArgs {
    /// Directory of the run store (default: $XDG_DATA_HOME/approvalc).
    #[arg(long = "state-dir", value_name = "DIR", global = true)]
    pub state_dir: Option<PathBuf>,
}

impl StateArgs {
    pub fn dir(&self) -> PathBuf {
        if let Some(dir) = &self.state_dir {
            return dir.clone();
        }
        if let Some(dir) = std::env::var_os("APPROVALC_STATE_DIR") {
            return PathBuf::from(dir);
        }
        if let Some(dir) = std::env::var_os("XDG_DATA_HOME").filter(|d| !d.is_empty()) {
            return PathBuf::from(dir).join("approvalc");
        }
        let home = std::env::var_os("HOME").map_or_else(|| PathBuf::from("."), PathBuf::from);
        home.join(".local/share/approvalc")
    }

    pub fn open(&self) -> Result<Store, Exit> {
        let mut store = Store::open(&self.dir()).map_err(|e| local_error(&e))?;
        // Test hooks for crash consistency and concurrency (crates/cli/tests/local.rs):
        // die, or wait holding the write lock, between writing a change and committing it.
        store.set_hooks(CrashHooks {
            abort_before_commit: std::env::var_os("APPROVALC_TEST_ABORT_BEFORE_COMMIT").is_some(),
            hold_before_commit: std::env::var("APPROVALC_TEST_HOLD_BEFORE_COMMIT_MS")
                .ok()
                .and_then(|ms| ms.parse().ok())
                .map(Duration::from_millis),
        });
        Ok(store)
    }
}

/// Now, in ms since the epoch.
pub fn now_ms() -> i64 {
    chrono::Utc::now().timestamp_millis()
}

#[derive(Debug, clap::Args)]
#[command(after_help = AFTER_HELP)]
pub struct Args {
    /// Workflow file, or a directory of compiled artifacts.
    #[arg(value_name = "FILE")]
    file: PathBuf,
    /// Run input: JSON text, or @FILE.
    #[arg(long, default_value = "{}")]
    input: String,
    /// Run id (the parent execution's name); default: generated.
    #[arg(long)]
    name: Option<String>,
    /// Follow the run until it ends, printing each change (decisions taken from other
    /// terminals included).
    #[arg(long)]
    wait: bool,
    /// How often --wait looks at the store, in milliseconds.
    #[arg(
        long = "poll-ms",
        value_name = "MS",
        default_value_t = 1000,
        hide = true
    )]
    poll_ms: u64,
    #[command(flatten)]
    options: RunOptions,
    #[command(flatten)]
    state: StateArgs,
    /// Print the run as JSON.
    #[arg(long)]
    json: bool,
}

pub fn run(args: Args) -> miette::Result<Exit> {
    let faults = match args.options.faults() {
        Ok(f) => f,
        Err(e) => return Ok(user_error(&e)),
    };
    let (files, deployment) = match load(&args.file, faults.clone()) {
        Ok(loaded) => loaded,
        Err(exit) => return Ok(exit),
    };
    let input = match parse_input(&args.input) {
        Ok(v) => v,
        Err(e) => return Ok(user_error(&e)),
    };
    let now = now_ms();
    let run_id = args
        .name
        .clone()
        .unwrap_or_else(|| generated_id(&deployment.manifest.workflow, now));
    let config = RunConfig {
        run_id: run_id.clone(),
        requester: requester(&args.options, &deployment),
        seed: if args.options.seed == 0 {
            now as u64
        } else {
            args.options.seed
        },
        start_ms: now,
        record_history: true,
        auto_actions: true,
    };
    let world = match World::start(deployment.clone(), input, config) {
        Ok(w) => w,
        Err(e) => return Ok(local_error(&e)),
    };
    let mut store = match args.state.open() {
        Ok(s) => s,
        Err(exit) => return Ok(exit),
    };
    let source = args.file.display().to_string();
    if let Err(e) = store.create(
        &NewRun {
            source: &source,
            files: &files,
            faults: &faults,
        },
        &world,
    ) {
        return Ok(local_error(&e));
    }
    let report = RunReport::of(&world);
    eprintln!("started run {run_id} (store {})", store.path().display());
    print_report(&report, &deployment, args.json);
    let dir = args
        .state
        .state_dir
        .as_ref()
        .map(|d| format!(" --state-dir {}", d.display()))
        .unwrap_or_default();
    eprintln!("what is pending and the commands that decide it: approvalc status {run_id}{dir}");
    if !args.wait {
        return Ok(Exit::Success);
    }
    eprintln!(
        "following the run until it ends (Ctrl-C stops following; the run stays in the store)"
    );
    let poll = Duration::from_millis(args.poll_ms.max(10));
    follow(&mut store, &run_id, report, &deployment, args.json, poll)
}

/// Polls the run (firing timers that fell due) and prints each change until it ends. Only
/// reads the store unless a timer is due, so deciders never wait for the watcher.
fn follow(
    store: &mut Store,
    id: &str,
    mut last: RunReport,
    deployment: &approvalc_local::Deployment,
    json: bool,
    poll: Duration,
) -> miette::Result<Exit> {
    loop {
        if last.decision.is_some() {
            return Ok(Exit::Success);
        }
        std::thread::sleep(poll);
        let report = match store.observe(id, now_ms(), |_| ()) {
            Ok(((), report)) => report,
            Err(e) => return Ok(local_error(&e)),
        };
        if changed(&last, &report) {
            print_report(&report, deployment, json);
        }
        last = report;
    }
}

/// A stage decided, a request opened or answered in part, or the run ended.
fn changed(before: &RunReport, after: &RunReport) -> bool {
    before.status != after.status
        || before.stages.len() != after.stages.len()
        || before.stages.iter().zip(&after.stages).any(|(a, b)| {
            a.decision != b.decision
                || a.pending.as_ref().map(|p| &p.decided_by)
                    != b.pending.as_ref().map(|p| &p.decided_by)
                || a.attempt != b.attempt
        })
}

/// `<workflow>-<yyyymmdd>-<hhmmss>-<4 hex>`: readable, sortable, a valid execution name.
fn generated_id(workflow: &str, now: i64) -> String {
    let stamp = chrono::DateTime::from_timestamp_millis(now)
        .map(|t| t.format("%Y%m%d-%H%M%S").to_string())
        .unwrap_or_default();
    let salt =
        (now as u64 ^ u64::from(std::process::id())).wrapping_mul(0x9E37_79B9_7F4A_7C15) >> 48;
    let mut id = format!("{workflow}-{stamp}-{salt:04x}");
    id.truncate(80);
    id
}
