//! The two identifiers a callback handles: the secret task token and the public correlation id.

use std::fmt;

/// A Step Functions task token. Whoever holds it can approve, so it has no `Display`, no
/// `Serialize`, and its `Debug` is redacted: the only way out is [`TaskToken::expose`], called
/// where the token is handed to `SendTaskSuccess` / `SendTaskFailure`.
#[derive(Clone, PartialEq, Eq)]
pub struct TaskToken(String);

/// Longest task token Step Functions issues.
pub const MAX_TOKEN_LEN: usize = 2048;

impl TaskToken {
    /// Accepts 1..=2,048 characters, as Step Functions does.
    pub fn new(token: String) -> Result<Self, &'static str> {
        match token.chars().count() {
            0 => Err("task token is empty"),
            n if n > MAX_TOKEN_LEN => Err("task token is longer than 2,048 characters"),
            _ => Ok(Self(token)),
        }
    }

    /// The token itself, for the Step Functions call and nothing else.
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for TaskToken {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("TaskToken(<redacted>)")
    }
}

/// The short public key of a waiting task: the child execution's name (a UUID from
/// `States.UUID()`). It travels in automation parameters and pipeline variables and is safe to
/// log. Only `[A-Za-z0-9_-]{1,80}` (execution-name characters) is accepted, so nothing odd
/// reaches a log line or a DynamoDB key.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct CorrelationId(String);

impl CorrelationId {
    pub fn parse(id: &str) -> Result<Self, &'static str> {
        if id.is_empty() || id.len() > 80 {
            return Err("correlation id must have 1 to 80 characters");
        }
        if !id
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
        {
            return Err("correlation id may contain only A-Z, a-z, 0-9, '-' and '_'");
        }
        Ok(Self(id.to_owned()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for CorrelationId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// Identifiers taken from an event (automation ids, pipeline names, execution ids) are checked
/// against this before they reach a log line or an API call: AWS ids never need more.
pub(crate) fn is_plain_id(s: &str, max: usize) -> bool {
    !s.is_empty()
        && s.len() <= max
        && s.chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.' | '@'))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn token_debug_is_redacted() {
        let t = TaskToken::new("AAAAsecretBBBB".into()).unwrap();
        assert_eq!(format!("{t:?}"), "TaskToken(<redacted>)");
        assert_eq!(t.expose(), "AAAAsecretBBBB");
    }

    #[test]
    fn token_length_limits() {
        assert!(TaskToken::new(String::new()).is_err());
        assert!(TaskToken::new("x".repeat(2048)).is_ok());
        assert!(TaskToken::new("x".repeat(2049)).is_err());
    }

    #[test]
    fn correlation_id_charset() {
        assert!(CorrelationId::parse("0b0a7c1e-3f7e-4c55-9d57-2f3c2b1a0e99").is_ok());
        assert!(CorrelationId::parse("a b").is_err());
        assert!(CorrelationId::parse("").is_err());
        assert!(CorrelationId::parse(&"a".repeat(81)).is_err());
        assert!(CorrelationId::parse("x\n{\"forged\":1}").is_err());
    }
}
