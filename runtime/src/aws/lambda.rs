//! What the four Lambda binaries share: JSON logs, clients, config from the invocation.

use lambda_runtime::{Context, LambdaEvent};

use crate::config::Config;
use crate::ports::SystemClock;
use crate::resolve::Ctx;

use super::Clients;

/// Environment variable naming the token table (`approvalc-tokens` when unset).
pub const TOKEN_TABLE_ENV: &str = "APPROVALC_TOKEN_TABLE";

/// Structured JSON logs on stdout (CloudWatch), level from `RUST_LOG` (default `info`).
/// Only ids and reasons are ever logged; the task token type cannot be formatted.
pub fn init_tracing() {
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info"));
    tracing_subscriber::fmt()
        .json()
        .with_env_filter(filter)
        .with_current_span(true)
        .with_span_list(false)
        .with_target(false)
        .without_time()
        .init();
}

/// Clients from the standard AWS config chain.
pub async fn clients() -> Clients {
    let config = aws_config::load_defaults(aws_config::BehaviorVersion::latest()).await;
    let table = std::env::var(TOKEN_TABLE_ENV).unwrap_or_else(|_| "approvalc-tokens".into());
    Clients::new(&config, table)
}

/// The account of the invoked function (`arn:aws:lambda:REGION:ACCOUNT:function:NAME`).
pub fn account_of(context: &Context) -> String {
    context
        .invoked_function_arn
        .split(':')
        .nth(4)
        .unwrap_or_default()
        .to_owned()
}

/// Handler config for one invocation.
pub fn config_for<T>(event: &LambdaEvent<T>) -> Config {
    Config::for_account(account_of(&event.context))
}

/// The handler context over the SDK clients.
pub fn ctx<'a>(config: &'a Config, clients: &'a Clients) -> Ctx<'a> {
    static CLOCK: SystemClock = SystemClock;
    Ctx {
        config,
        sfn: &clients.sfn,
        tokens: &clients.tokens,
        clock: &CLOCK,
    }
}
