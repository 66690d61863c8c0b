//! `approvalc bootstrap ACCOUNT FILE`: creates or updates the per-account CloudFormation
//! stack `approvalc-bootstrap` (token table, approval document, generic child machines,
//! callback Lambdas, EventBridge rules, reconciler schedule, and the `approvalc-deploy`
//! role that lets deploys from the workflow's home account in), or prints its template.
//! The runtime Lambda zips are uploaded first (content-addressed keys, see
//! `approvalc_deploy::code`).

use std::path::PathBuf;
use std::time::Instant;

use approvalc_deploy::Calls;
use approvalc_deploy::DeployError;
use approvalc_deploy::bootstrap::{self, Outcome};
use approvalc_deploy::code::{self, Architecture};

use crate::Exit;
use crate::commands::aws::{self, ConnectArgs, Format};

const AFTER_HELP: &str = "\
Run it with credentials of ACCOUNT itself (--profile). It first uploads the four runtime
Lambda zips from --lambda-dir (built by scripts/package-lambdas.sh) to the code bucket,
under keys that contain each zip's SHA-256: a zip already there is not sent again, and new
code is a new key, so CloudFormation updates exactly the functions whose code changed. The
code bucket is created when it does not exist (public access blocked, tagged as approvalc's);
a bucket of yours named by --code-bucket only gets approvalc's keys. Running it again with
the same zips and template sends nothing.

For an emulator, which never runs the Lambdas, any four files starting with the zip magic
bytes do (docs/deploy.md, \"Try it on a laptop\").

Examples:
  approvalc bootstrap prod workflows/multi-level-cross-account.yaml --template-only > prod.json
  scripts/package-lambdas.sh --arch x86_64
  approvalc bootstrap prod workflows/multi-level-cross-account.yaml --profile prod";

/// The Lambdas' CPU architecture.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, clap::ValueEnum)]
pub enum Arch {
    #[default]
    #[value(name = "x86_64")]
    X86_64,
    Arm64,
}

impl From<Arch> for Architecture {
    fn from(a: Arch) -> Self {
        match a {
            Arch::X86_64 => Architecture::X86_64,
            Arch::Arm64 => Architecture::Arm64,
        }
    }
}

#[derive(Debug, clap::Args)]
#[command(after_help = AFTER_HELP, before_long_help = aws::CONNECT_HELP)]
pub struct Args {
    /// The account's name in the workflow (`accounts:`).
    #[arg(value_name = "ACCOUNT")]
    pub account: String,
    /// Workflow file, or a directory written by `approvalc compile`.
    #[arg(value_name = "FILE")]
    pub file: PathBuf,
    /// Print the CloudFormation template (JSON) instead of deploying it.
    #[arg(long)]
    pub template_only: bool,
    /// Directory holding approvalc-{ssm-callback,codepipeline-callback,cleanup,reconciler}.zip
    /// [default: dist/lambda/<--arch>, where scripts/package-lambdas.sh writes them].
    #[arg(long, value_name = "DIR")]
    pub lambda_dir: Option<PathBuf>,
    /// Architecture the zips were built for.
    #[arg(long, value_enum, default_value_t)]
    pub arch: Arch,
    /// S3 bucket for the zips (created when missing)
    /// [default: approvalc-code-<account id>-<region>].
    #[arg(long, value_name = "BUCKET")]
    pub code_bucket: Option<String>,
    #[command(flatten)]
    pub connect: ConnectArgs,
    /// Output format.
    #[arg(long, value_enum, default_value_t)]
    pub format: Format,
}

pub fn run(args: Args) -> miette::Result<Exit> {
    let loaded = match aws::load(&args.file) {
        Ok(l) => l,
        Err(exit) => return Ok(exit),
    };
    let template = match bootstrap::template(&loaded.artifacts, &args.account) {
        Ok(t) => t,
        Err(e) => return Ok(aws::report(&e)),
    };
    if args.template_only {
        print!("{template}");
        return Ok(Exit::Success);
    }
    let Some(account) = loaded
        .desired
        .accounts
        .iter()
        .find(|a| a.name == args.account)
        .cloned()
    else {
        return Ok(aws::report(&DeployError::new(format!(
            "no account `{}` in the workflow",
            args.account
        ))));
    };
    let architecture = Architecture::from(args.arch);
    let dir = args
        .lambda_dir
        .clone()
        .unwrap_or_else(|| architecture.default_dir());
    // Read before connecting: a missing zip is found without any AWS call.
    let zips = match code::read_zips(&dir, architecture) {
        Ok(z) => z,
        Err(e) => return Ok(aws::report(&e)),
    };
    let runtime = match aws::runtime() {
        Ok(r) => r,
        Err(exit) => return Ok(exit),
    };
    let calls = Calls::new();
    let started = Instant::now();
    let result = runtime.block_on(async {
        let session = aws::connect(&args.connect, &loaded.desired.region, &calls).await?;
        if session.caller.account != account.id {
            return Err(aws::report(
                &DeployError::new(format!(
                    "bootstrap of {account} needs credentials of account {}, but you are signed in to {} ({})",
                    account.id, session.caller.account, session.caller.arn
                ))
                .with_help(format!(
                    "pass --profile with a profile for account {} (CloudFormation creates IAM roles there, so it needs an administrator)",
                    account.id
                )),
            ));
        }
        let clients = session.account(&account, "").await.map_err(|e| aws::report(&e))?;
        eprintln!("bootstrapping {account}: code from {}, stack {} ...", dir.display(), bootstrap::STACK_NAME);
        bootstrap::apply(&clients, &template, &zips, args.code_bucket.as_deref(), architecture)
            .await
            .map_err(|e| aws::report(&e))
    });
    aws::note_retries(&calls);
    let done = match result {
        Ok(o) => o,
        Err(exit) => return Ok(exit),
    };
    let outcome = done.stack;
    let word = match outcome {
        Outcome::Created => "created",
        Outcome::Updated => "updated",
        Outcome::Unchanged => "unchanged",
    };
    match args.format {
        Format::Json => aws::print_json(&serde_json::json!({
            "account": account.name,
            "account_id": account.id,
            "stack": bootstrap::STACK_NAME,
            "outcome": word,
            "code_bucket": done.code.bucket,
            "code_bucket_created": done.code.bucket_created,
            "code_keys": done.code.keys,
            "uploaded": done.code.sent,
            "calls": calls.stats().calls,
        })),
        Format::Text => {
            eprintln!(
                "{account}: code bucket {}{}: {} of {} zips uploaded",
                done.code.bucket,
                if done.code.bucket_created {
                    " (created)"
                } else {
                    ""
                },
                done.code.sent.len(),
                zips.len()
            );
            eprintln!(
                "{account}: stack {} {word} ({} AWS calls, {:.1} s)",
                bootstrap::STACK_NAME,
                calls.stats().calls,
                started.elapsed().as_secs_f64()
            );
        }
    }
    Ok(Exit::Success)
}
