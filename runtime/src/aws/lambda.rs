//! What the four Lambda binaries share: JSON logs, clients, config from the invocation.

use lambda_runtime::{Context, LambdaEvent};
use tracing::Level;
use tracing_subscriber::Layer;
use tracing_subscriber::filter::{EnvFilter, filter_fn};
use tracing_subscriber::fmt::MakeWriter;
use tracing_subscriber::prelude::*;
use tracing_subscriber::registry::LookupSpan;

use crate::config::Config;
use crate::ports::SystemClock;
use crate::resolve::Ctx;

use super::{Clients, JsonClient};

/// Environment variable naming the token table (`approvalc-tokens` when unset).
pub const TOKEN_TABLE_ENV: &str = "APPROVALC_TOKEN_TABLE";

/// Targets of the HTTP and signing stack. At TRACE `aws_sigv4` logs the request it signs
/// (a `SendTaskSuccess` body holds the task token), and the SDK crates that the tests still use
/// log whole requests and responses at DEBUG.
pub fn is_sdk_target(target: &str) -> bool {
    [
        "aws_smithy",
        "aws_sdk",
        "aws_runtime",
        "aws_config",
        "aws_credential",
        "aws_sigv4",
        "hyper",
        "h2",
        "rustls",
        "tower",
    ]
    .iter()
    .any(|prefix| target.starts_with(prefix))
}

/// The JSON log layer: `directives` as in `RUST_LOG` (invalid → `info`), but HTTP, signing and SDK targets are
/// capped at INFO whatever the directives say, so no verbosity setting can log a token.
pub fn log_layer<S, W>(make_writer: W, directives: &str) -> Box<dyn Layer<S> + Send + Sync>
where
    S: tracing::Subscriber + for<'a> LookupSpan<'a>,
    W: for<'w> MakeWriter<'w> + Send + Sync + 'static,
{
    let env = EnvFilter::try_new(directives).unwrap_or_else(|_| EnvFilter::new("info"));
    let sdk_cap = filter_fn(|meta| *meta.level() <= Level::INFO || !is_sdk_target(meta.target()));
    tracing_subscriber::fmt::layer()
        .json()
        .with_current_span(true)
        .with_span_list(false)
        .with_writer(make_writer)
        .with_filter(env)
        .with_filter(sdk_cap)
        .boxed()
}

/// Structured JSON logs on stdout (CloudWatch), level from `RUST_LOG` (default `info`).
/// Only ids and reasons are ever logged; the task token type cannot be formatted.
pub fn init_tracing() {
    let directives = std::env::var("RUST_LOG").unwrap_or_else(|_| "info".into());
    tracing_subscriber::registry()
        .with(log_layer(std::io::stdout, &directives))
        .init();
}

/// Clients from the Lambda environment (region, credentials, `AWS_ENDPOINT_URL`); an error
/// names the missing or malformed setting, never a value.
pub fn clients() -> Result<Clients, String> {
    let client = JsonClient::from_env()?;
    let table = std::env::var(TOKEN_TABLE_ENV).unwrap_or_else(|_| "approvalc-tokens".into());
    Ok(Clients::new(client, table))
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

/// The handler context over the AWS ports.
pub fn ctx<'a>(config: &'a Config, clients: &'a Clients) -> Ctx<'a> {
    static CLOCK: SystemClock = SystemClock;
    Ctx {
        config,
        sfn: &clients.sfn,
        tokens: &clients.tokens,
        clock: &CLOCK,
    }
}

#[cfg(test)]
mod tests {
    use std::io::{self, Write};
    use std::sync::{Arc, Mutex};

    use tracing_subscriber::prelude::*;

    #[derive(Clone, Default)]
    struct Buf(Arc<Mutex<Vec<u8>>>);

    impl Write for Buf {
        fn write(&mut self, bytes: &[u8]) -> io::Result<usize> {
            self.0
                .lock()
                .map_err(|_| io::ErrorKind::Other)?
                .extend_from_slice(bytes);
            Ok(bytes.len())
        }
        fn flush(&mut self) -> io::Result<()> {
            Ok(())
        }
    }

    /// `aws_sigv4` traces the request it signs; with `LOG_SIGNABLE_BODY=true` in the
    /// environment that includes the body, i.e. the task token. The cap drops it whatever
    /// `RUST_LOG` says.
    #[test]
    fn signing_and_http_traces_are_dropped_at_any_level() {
        let buf = Buf::default();
        let writer = buf.clone();
        let subscriber =
            tracing_subscriber::registry().with(super::log_layer(move || writer.clone(), "trace"));
        tracing::subscriber::with_default(subscriber, || {
            tracing::trace!(target: "aws_sigv4::http_request::sign", body = "TOKEN-IN-BODY", "signing request");
            tracing::debug!(target: "hyper_util::client::legacy", "TOKEN-IN-BODY");
            tracing::debug!(target: "approvalc_runtime::resolve", "kept");
        });
        let text = String::from_utf8_lossy(&buf.0.lock().unwrap()).to_string();
        assert!(text.contains("kept"), "{text}");
        assert!(!text.contains("TOKEN-IN-BODY"), "{text}");
    }
}
