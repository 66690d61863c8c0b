//! approvalc-runtime: the callback Lambdas that carry SSM Automation and CodePipeline approval
//! decisions back to the Step Functions task waiting on them, and clean up after children
//! that end without one.
//!
//! * [`handlers`]: `ssm_callback`, `codepipeline_callback`, `cleanup`, `reconcile` — plain
//!   async functions over the raw event and the [`ports`] traits ([`ports::Sfn`],
//!   [`ports::Ssm`], [`ports::CodePipeline`], [`ports::TokenStore`], [`ports::Clock`]).
//! * [`event`] checks EventBridge events (source, detail type, account, ids); [`decide`] reads
//!   the truth from the service answers; [`duties`] enforces `distinct_approvers` and
//!   `requester_cannot_approve`; [`resolve`] claims the token item and calls Step Functions.
//! * [`memory`]: recording in-memory ports; `aws` feature: [`aws`] ports on AWS (one signed
//!   JSON-protocol client, no SDK) and the Lambda glue used by `src/bin/*.rs`.
//!
//! Fail closed (an approval only from an explicit `Approved` with named approvers that break
//! no rule), idempotent (conditional claim before every Step Functions call; used or timed-out
//! tokens end cleanly), and the task token ([`secret::TaskToken`]) can't be logged.
//! The contract with the compiler and engine is `docs/token-handling.md`; behaviour and
//! deviations are in `docs/runtime.md`. Left out: the token race is only retried ≈ 2 s, then
//! left to the reconciler; cleanup cannot find an automation whose token item was never
//! written. Tests: unit tests beside the code (the AWS ports against a scripted local endpoint
//! in `src/aws/tests.rs`), handler tests on recorded fixtures in
//! `tests/handlers.rs`, property tests (no panic, nothing reached on foreign events) in
//! `tests/no_panic.rs`, moto tests in `tests/moto.rs` (feature `aws`), the Lambda zip check in
//! `tests/packaging.rs`; the benchmark is `bench/bench.py` with its replay server
//! `examples/bench_endpoint.rs` (docs/bench-runtime.md).

pub mod config;
pub mod decide;
pub mod duties;
pub mod event;
pub mod handlers;
pub mod item;
pub mod memory;
pub mod outcome;
pub mod ports;
pub mod resolve;
pub mod secret;

#[cfg(feature = "aws")]
pub mod aws;

pub use config::Config;
pub use handlers::{ReconcileReport, cleanup, codepipeline_callback, reconcile, ssm_callback};
pub use resolve::{Ctx, HandlerError, Report};
