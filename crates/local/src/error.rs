//! Errors of local runs: what the user did wrong (a decision nobody may take, an unknown
//! stage, an input that breaks the contract) and what is broken (artifacts, the store).

/// Everything a local run can refuse.
#[derive(Debug, thiserror::Error)]
pub enum LocalError {
    /// The artifacts cannot be run (missing file, invalid definition or pattern).
    #[error("artifacts: {0}")]
    Artifacts(String),
    /// The run input breaks the workflow's input contract.
    #[error("invalid input: {0}")]
    Input(String),
    #[error("stage `{stage}` has no pending approval{}", hint(.known))]
    NothingPending { stage: String, known: Vec<String> },
    #[error("{principal} may not decide stage `{stage}`; it may be decided by: {}", .may.join(", "))]
    NotAnApprover {
        stage: String,
        principal: String,
        may: Vec<String>,
    },
    #[error("{principal} has already decided stage `{stage}`")]
    AlreadyDecided { stage: String, principal: String },
    #[error("stage `{stage}` is an action: its automation completes by itself")]
    ActionStage { stage: String },
    #[error("the run is stuck: nothing is pending and no timer is set ({0})")]
    Stuck(String),
    #[error("run `{0}` does not exist")]
    NoSuchRun(String),
    #[error("run `{0}` already exists")]
    RunExists(String),
    #[error("the run was changed by someone else meanwhile; try again")]
    Conflict,
    #[error("store: {0}")]
    Store(String),
    #[error("scenario {file}: {message}")]
    Scenario { file: String, message: String },
    #[error("internal: {0}")]
    Internal(String),
}

fn hint(known: &[String]) -> String {
    if known.is_empty() {
        " (nothing is pending in this run)".to_owned()
    } else {
        format!(" (pending: {})", known.join(", "))
    }
}

impl From<rusqlite::Error> for LocalError {
    fn from(e: rusqlite::Error) -> Self {
        Self::Store(e.to_string())
    }
}

impl From<serde_json::Error> for LocalError {
    fn from(e: serde_json::Error) -> Self {
        Self::Store(format!("corrupt record: {e}"))
    }
}
