//! Errors as data with a fix: every failure a user can hit says what happened and what to
//! do (`help`). The CLI renders them; nothing here knows about terminals.

use std::error::Error as StdError;
use std::fmt;

use aws_smithy_runtime_api::client::result::SdkError;
use aws_smithy_types::error::metadata::ProvideErrorMetadata;

use crate::calls::InjectedFault;

/// What kind of failure an SDK call ended with.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CallErrorKind {
    NotFound,
    AlreadyExists,
    AccessDenied,
    Throttled,
    NoCredentials,
    /// The endpoint could not be reached (wrong region, endpoint URL, network).
    Unreachable,
    /// An injected fault (tests only).
    Injected,
    Other,
}

/// One failed SDK call.
#[derive(Debug, Clone)]
pub struct CallError {
    /// `iam:CreateRole` style, as in IAM policies.
    pub action: String,
    pub kind: CallErrorKind,
    pub code: Option<String>,
    pub message: String,
}

impl fmt::Display for CallError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.code {
            Some(code) => write!(f, "{} failed: {code}: {}", self.action, self.message),
            None => write!(f, "{} failed: {}", self.action, self.message),
        }
    }
}

impl StdError for CallError {}

impl CallError {
    pub fn is(&self, kind: CallErrorKind) -> bool {
        self.kind == kind
    }

    /// A failure that is not an SDK error (an unexpected response shape).
    pub fn other(action: &str, message: impl Into<String>) -> Self {
        CallError {
            action: action.to_owned(),
            kind: CallErrorKind::Other,
            code: None,
            message: message.into(),
        }
    }
}

const NOT_FOUND: &[&str] = &[
    "NoSuchEntity",
    "NoSuchEntityException",
    "StateMachineDoesNotExist",
    "ResourceNotFoundException",
    "ResourceNotFound",
    "AutomationExecutionNotFoundException",
    "PipelineExecutionNotFoundException",
    "PipelineNotFoundException",
    "ExecutionDoesNotExist",
    "NotFound", // S3 HeadObject / HeadBucket (no body, only the status)
    "NoSuchBucket",
    "NoSuchKey",
    "ValidationError", // CloudFormation: "Stack with id X does not exist"
];
const EXISTS: &[&str] = &[
    "EntityAlreadyExists",
    "EntityAlreadyExistsException",
    "StateMachineAlreadyExists",
    "PipelineNameInUseException",
    "ResourceAlreadyExistsException",
    "AlreadyExistsException",
    "BucketAlreadyOwnedByYou",
];
const DENIED: &[&str] = &[
    "AccessDenied",
    "AccessDeniedException",
    "UnauthorizedOperation",
    "AuthorizationError",
    "UnrecognizedClientException",
    "InvalidClientTokenId",
    "ExpiredToken",
    "ExpiredTokenException",
    "Forbidden", // S3 HEAD requests answer 403 without a body
];
const THROTTLED: &[&str] = &[
    "Throttling",
    "ThrottlingException",
    "TooManyRequestsException",
    "RequestLimitExceeded",
    "ThrottledException",
];

/// Converts any SDK error, keeping the IAM action name for the diagnostic.
pub fn call_error<E, R>(action: &str, err: SdkError<E, R>) -> CallError
where
    E: ProvideErrorMetadata + StdError + Send + Sync + 'static,
    R: fmt::Debug + Send + Sync + 'static,
{
    if let Some(fault) = find_source::<InjectedFault>(&err) {
        return CallError {
            action: action.to_owned(),
            kind: CallErrorKind::Injected,
            code: None,
            message: fault.to_string(),
        };
    }
    match &err {
        SdkError::ServiceError(service) => {
            let e = service.err();
            let code = e.code().map(ToOwned::to_owned);
            let message = e.message().unwrap_or("").to_owned();
            let c = code.as_deref().unwrap_or("");
            let kind = if NOT_FOUND.contains(&c)
                && (c != "ValidationError" || message.contains("does not exist"))
            {
                CallErrorKind::NotFound
            } else if EXISTS.contains(&c) {
                CallErrorKind::AlreadyExists
            } else if DENIED.contains(&c) {
                CallErrorKind::AccessDenied
            } else if THROTTLED.contains(&c) {
                CallErrorKind::Throttled
            } else {
                CallErrorKind::Other
            };
            CallError {
                action: action.to_owned(),
                kind,
                code,
                message,
            }
        }
        other => {
            let text = chain(other);
            let lower = text.to_ascii_lowercase();
            let kind = if lower.contains("credentials") || lower.contains("no identity") {
                CallErrorKind::NoCredentials
            } else if matches!(
                other,
                SdkError::DispatchFailure(_) | SdkError::TimeoutError(_)
            ) {
                CallErrorKind::Unreachable
            } else {
                CallErrorKind::Other
            };
            CallError {
                action: action.to_owned(),
                kind,
                code: None,
                message: text,
            }
        }
    }
}

fn find_source<'a, T: StdError + 'static>(err: &'a (dyn StdError + 'static)) -> Option<&'a T> {
    let mut current: Option<&(dyn StdError + 'static)> = Some(err);
    while let Some(e) = current {
        if let Some(found) = e.downcast_ref::<T>() {
            return Some(found);
        }
        current = e.source();
    }
    None
}

fn chain(err: &(dyn StdError + 'static)) -> String {
    let mut parts = vec![err.to_string()];
    let mut current = err.source();
    while let Some(e) = current {
        let text = e.to_string();
        if parts.last() != Some(&text) {
            parts.push(text);
        }
        current = e.source();
    }
    parts.join(": ")
}

/// A deploy-level failure: message plus the fix.
#[derive(Debug, Clone, thiserror::Error)]
#[error("{message}")]
pub struct DeployError {
    pub message: String,
    pub help: Option<String>,
    /// The SDK call behind it, when there is one.
    pub call: Option<Box<CallError>>,
}

impl DeployError {
    pub fn new(message: impl Into<String>) -> Self {
        DeployError {
            message: message.into(),
            help: None,
            call: None,
        }
    }

    pub fn with_help(mut self, help: impl Into<String>) -> Self {
        self.help = Some(help.into());
        self
    }

    pub fn injected(&self) -> bool {
        self.call
            .as_ref()
            .is_some_and(|c| c.is(CallErrorKind::Injected))
    }

    /// Explains a failed call made in `account` (name and id), with the usual fixes.
    pub fn from_call(call: CallError, account: &str) -> Self {
        let help = match call.kind {
            CallErrorKind::AccessDenied => Some(format!(
                "the identity used in {account} may not call {action}: add a policy allowing \
                 `{action}` on the approvalc resources (docs/deploy.md \"Permissions\" lists \
                 the deploy policy), or use --profile with a role that has it",
                action = call.action
            )),
            CallErrorKind::NoCredentials => Some(
                "no AWS credentials were found: run `aws configure` / `aws sso login`, pass \
                 --profile NAME, or set AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY"
                    .to_owned(),
            ),
            CallErrorKind::Unreachable => Some(
                "the service endpoint could not be reached: check the workflow's `region`, \
                 --endpoint-url / AWS_ENDPOINT_URL, and the network"
                    .to_owned(),
            ),
            CallErrorKind::Throttled => Some(
                "AWS kept throttling after the SDK's retries with backoff: wait a minute and \
                 run the same command again (it resumes where it stopped)"
                    .to_owned(),
            ),
            CallErrorKind::Injected => None,
            _ => Some(
                "run the same command again: deploy resumes where it stopped; if it fails \
                 the same way, the message above comes from AWS"
                    .to_owned(),
            ),
        };
        DeployError {
            message: format!("in account {account}: {call}"),
            help,
            call: Some(Box::new(call)),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn call(kind: CallErrorKind) -> CallError {
        CallError {
            action: "iam:CreateRole".to_owned(),
            kind,
            code: Some("AccessDenied".to_owned()),
            message: "not authorized".to_owned(),
        }
    }

    #[test]
    fn access_denied_names_the_action_to_allow() {
        let e = DeployError::from_call(call(CallErrorKind::AccessDenied), "prod (333333333333)");
        assert!(e.message.contains("prod (333333333333)"), "{e}");
        let help = e.help.unwrap();
        assert!(help.contains("`iam:CreateRole`"), "{help}");
        assert!(help.contains("--profile"), "{help}");
    }

    #[test]
    fn every_kind_a_user_can_cause_has_a_fix() {
        for kind in [
            CallErrorKind::AccessDenied,
            CallErrorKind::NoCredentials,
            CallErrorKind::Unreachable,
            CallErrorKind::Throttled,
            CallErrorKind::NotFound,
            CallErrorKind::Other,
        ] {
            assert!(
                DeployError::from_call(call(kind), "a").help.is_some(),
                "{kind:?}"
            );
        }
        assert!(DeployError::from_call(call(CallErrorKind::Injected), "a").injected());
    }
}
