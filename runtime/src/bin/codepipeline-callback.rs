//! Lambda `approvalc-codepipeline-callback`: manual approval state change → Step Functions.

use approvalc_runtime::aws::lambda;
use lambda_runtime::{Error, LambdaEvent, service_fn};
use serde_json::Value;

// One thread: a Lambda handles one event at a time, and at 128 MB it gets a fraction of a
// vCPU; idle worker threads only cost memory and CPU (docs/bench-runtime.md).
#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), Error> {
    lambda::init_tracing();
    let clients = lambda::clients()?;
    let clients = &clients;
    lambda_runtime::run(service_fn(move |event: LambdaEvent<Value>| async move {
        let config = lambda::config_for(&event);
        let report = approvalc_runtime::codepipeline_callback(
            lambda::ctx(&config, clients),
            &clients.codepipeline,
            &event.payload,
        )
        .await?;
        Ok::<_, Error>(serde_json::to_value(report)?)
    }))
    .await
}
