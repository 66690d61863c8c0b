//! The simulated STS and the slice of IAM policy evaluation local runs need: may this role
//! assume that one (trust policy, `sts:ExternalId`), and does a policy allow an action on a
//! resource. Only what approvalc emits is understood; anything else in a condition denies,
//! so an unknown construct fails closed.

use serde_json::Value;

use crate::deployment::{Deployment, Role};

/// Who a task runs as after `AssumeRole`.
#[derive(Debug, Clone)]
pub struct Assumed<'a> {
    pub account_id: String,
    pub role: &'a Role,
}

/// `sts:AssumeRole` from `caller_role_arn` (the parent's execution role) into `target`, with
/// the state machine ARN as `sts:ExternalId`, as Step Functions does for `Credentials`.
/// The error is STS's `AccessDenied` message: AWS does not say whether the role is missing
/// or its trust policy refused, and neither does this.
pub fn assume_role<'a>(
    deployment: &'a Deployment,
    caller_role_arn: &str,
    session: &str,
    target: &str,
    external_id: &str,
) -> Result<Assumed<'a>, String> {
    let denied = || {
        let caller = assumed_role_arn(caller_role_arn, session);
        format!(
            "User: {caller} is not authorized to perform: sts:AssumeRole on resource: {target} (Service: Sts, Status Code: 403, Error Code: AccessDenied)"
        )
    };
    let (account_id, name) = parse_role_arn(target).ok_or_else(denied)?;
    let account = deployment.account(account_id).ok_or_else(denied)?;
    let role = account.roles.get(name).ok_or_else(denied)?;
    if !trusts(&role.trust, caller_role_arn, external_id) {
        return Err(denied());
    }
    Ok(Assumed {
        account_id: account_id.to_owned(),
        role,
    })
}

/// `arn:aws:iam::ACCOUNT:role/NAME` as the STS session ARN `arn:aws:sts::ACCOUNT:assumed-role/NAME/SESSION`.
pub fn assumed_role_arn(role_arn: &str, session: &str) -> String {
    match parse_role_arn(role_arn) {
        Some((account, name)) => format!("arn:aws:sts::{account}:assumed-role/{name}/{session}"),
        None => role_arn.to_owned(),
    }
}

/// `(account, role name)` of a role ARN (a path is dropped; role names are unique).
pub fn parse_role_arn(arn: &str) -> Option<(&str, &str)> {
    let rest = arn.strip_prefix("arn:aws:iam::")?;
    let (account, resource) = rest.split_once(':')?;
    let path = resource.strip_prefix("role/")?;
    let name = path.rsplit('/').next()?;
    (!account.is_empty() && !name.is_empty()).then_some((account, name))
}

fn as_list(value: Option<&Value>) -> Vec<&str> {
    match value {
        Some(Value::String(s)) => vec![s.as_str()],
        Some(Value::Array(items)) => items.iter().filter_map(Value::as_str).collect(),
        _ => Vec::new(),
    }
}

fn trusts(trust: &Value, caller: &str, external_id: &str) -> bool {
    let statements = trust
        .get("Statement")
        .and_then(Value::as_array)
        .map(Vec::as_slice)
        .unwrap_or_default();
    statements.iter().any(|s| {
        s.get("Effect").and_then(Value::as_str) == Some("Allow")
            && as_list(s.get("Action"))
                .iter()
                .any(|a| wildcard(a, "sts:AssumeRole", true))
            && principal_matches(s.get("Principal"), caller)
            && conditions_hold(s.get("Condition"), external_id)
    })
}

fn principal_matches(principal: Option<&Value>, caller: &str) -> bool {
    let Some(principal) = principal else {
        return false;
    };
    if principal.as_str() == Some("*") {
        return true;
    }
    let account_root = parse_role_arn(caller).map(|(a, _)| format!("arn:aws:iam::{a}:root"));
    as_list(principal.get("AWS")).iter().any(|p| {
        *p == "*"
            || *p == caller
            || Some(*p) == account_root.as_deref()
            || parse_role_arn(caller).is_some_and(|(a, _)| *p == a)
    })
}

/// Only `StringEquals`/`StringLike` on `sts:ExternalId` are known; any other condition key
/// is unknown to the simulation and denies.
fn conditions_hold(condition: Option<&Value>, external_id: &str) -> bool {
    let Some(condition) = condition.and_then(Value::as_object) else {
        return true;
    };
    condition.iter().all(|(operator, keys)| {
        let Some(keys) = keys.as_object() else {
            return false;
        };
        keys.iter().all(|(key, wanted)| {
            if key != "sts:ExternalId" {
                return false;
            }
            let wanted = as_list(Some(wanted));
            match operator.as_str() {
                "StringEquals" => wanted.contains(&external_id),
                "StringLike" => wanted.iter().any(|w| wildcard(w, external_id, false)),
                _ => false,
            }
        })
    })
}

/// Whether any of `policies` allows `action` on `resource` (and none denies it).
pub fn allows<'a>(
    policies: impl IntoIterator<Item = &'a Value>,
    action: &str,
    resource: &str,
) -> bool {
    let mut allowed = false;
    for policy in policies {
        let statements = policy
            .get("Statement")
            .and_then(Value::as_array)
            .map(Vec::as_slice)
            .unwrap_or_default();
        for s in statements {
            let hits = as_list(s.get("Action"))
                .iter()
                .any(|a| wildcard(a, action, true))
                && as_list(s.get("Resource"))
                    .iter()
                    .any(|r| wildcard(r, resource, false));
            match s.get("Effect").and_then(Value::as_str) {
                Some("Deny") if hits => return false,
                Some("Allow") if hits => allowed = true,
                _ => {}
            }
        }
    }
    allowed
}

/// IAM wildcards: `*` any run of characters, `?` one character.
pub fn wildcard(pattern: &str, text: &str, ignore_case: bool) -> bool {
    let (p, t): (Vec<char>, Vec<char>) = if ignore_case {
        (
            pattern.to_lowercase().chars().collect(),
            text.to_lowercase().chars().collect(),
        )
    } else {
        (pattern.chars().collect(), text.chars().collect())
    };
    let (mut pi, mut ti) = (0usize, 0usize);
    let (mut star, mut mark) = (None, 0usize);
    while ti < t.len() {
        match p.get(pi) {
            Some('*') => {
                star = Some(pi);
                mark = ti;
                pi += 1;
            }
            Some(c) if *c == '?' || Some(c) == t.get(ti) => {
                pi += 1;
                ti += 1;
            }
            _ => match star {
                Some(s) => {
                    pi = s + 1;
                    mark += 1;
                    ti = mark;
                }
                None => return false,
            },
        }
    }
    p.get(pi..)
        .is_some_and(|rest| rest.iter().all(|c| *c == '*'))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn wildcards() {
        assert!(wildcard(
            "arn:aws:states:*:1:execution:m:*",
            "arn:aws:states:r:1:execution:m:x",
            false
        ));
        assert!(!wildcard("a*b", "acbd", false));
        assert!(wildcard("States:Start*", "states:startexecution", true));
        assert!(!wildcard("x", "X", false));
    }

    #[test]
    fn trust_needs_the_principal_and_the_external_id() {
        let trust = json!({"Statement": [{"Effect": "Allow", "Principal": {"AWS": "arn:aws:iam::1:role/p"},
            "Action": ["sts:AssumeRole"], "Condition": {"StringEquals": {"sts:ExternalId": "E"}}}]});
        assert!(trusts(&trust, "arn:aws:iam::1:role/p", "E"));
        assert!(!trusts(&trust, "arn:aws:iam::1:role/p", "F"));
        assert!(!trusts(&trust, "arn:aws:iam::1:role/q", "E"));
        let odd = json!({"Statement": [{"Effect": "Allow", "Principal": {"AWS": "*"}, "Action": "sts:AssumeRole",
            "Condition": {"StringEquals": {"aws:PrincipalOrgID": "o-1"}}}]});
        assert!(
            !trusts(&odd, "arn:aws:iam::1:role/p", "E"),
            "unknown condition keys deny"
        );
    }

    #[test]
    fn policies_allow_and_deny() {
        let p = json!({"Statement": [{"Effect": "Allow", "Action": ["states:StartExecution"], "Resource": ["arn:m:*"]}]});
        assert!(allows([&p], "states:StartExecution", "arn:m:x"));
        assert!(!allows([&p], "states:StopExecution", "arn:m:x"));
        let d = json!({"Statement": [{"Effect": "Deny", "Action": "*", "Resource": "*"}]});
        assert!(!allows([&p, &d], "states:StartExecution", "arn:m:x"));
    }
}
