//! `approvalc bootstrap ACCOUNT FILE`: creates or updates the per-account CloudFormation
//! stack `approvalc-bootstrap` (token table, approval document, generic child machines,
//! callback Lambdas, EventBridge rules, reconciler schedule, and the `approvalc-deploy`
//! role that lets deploys from the workflow's home account in), or prints its template.

use std::path::PathBuf;

use approvalc_deploy::Calls;
use approvalc_deploy::DeployError;
use approvalc_deploy::bootstrap::{self, Outcome};

use crate::Exit;
use crate::commands::aws::{self, ConnectArgs, Format};

const AFTER_HELP: &str = "\
Run it with credentials of ACCOUNT itself (--profile). The Lambda zips must already be in
--code-bucket under --code-key-prefix (build them with scripts/package-lambdas.sh, upload
with `aws s3 cp dist/lambda/x86_64/ s3://BUCKET/approvalc/lambda/ --recursive`; arm64 zips need the template parameter LambdaArchitecture=arm64). Running it
again updates the stack; nothing changes when the template is the same.

Examples:
  approvalc bootstrap prod workflows/multi-level-cross-account.yaml --template-only > prod.json
  approvalc bootstrap prod workflows/multi-level-cross-account.yaml --code-bucket my-code --profile prod";

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
    /// S3 bucket holding the runtime Lambda zips.
    #[arg(long, value_name = "BUCKET", required_unless_present = "template_only")]
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
    let runtime = match aws::runtime() {
        Ok(r) => r,
        Err(exit) => return Ok(exit),
    };
    let calls = Calls::new();
    let code_bucket = args.code_bucket.clone().unwrap_or_default();
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
        eprintln!("bootstrapping {account}: stack {} ...", bootstrap::STACK_NAME);
        bootstrap::deploy(&clients, &template, &code_bucket)
            .await
            .map_err(|e| aws::report(&e))
    });
    aws::note_retries(&calls);
    let outcome = match result {
        Ok(o) => o,
        Err(exit) => return Ok(exit),
    };
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
        })),
        Format::Text => eprintln!("{account}: stack {} {word}", bootstrap::STACK_NAME),
    }
    Ok(Exit::Success)
}
