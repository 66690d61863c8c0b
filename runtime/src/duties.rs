//! Separation of duties, enforced where the decision is read: an approval that breaks a rule
//! becomes a rejection naming the rule.
//!
//! Principals are compared loosely on purpose: when two spellings *may* be the same person
//! (a bare user name and a user ARN, a role ARN and a session of that role, names differing
//! only in case — IAM names are case-insensitively unique) they count as the same. Erring that
//! way turns a doubtful approval into a rejection, never the reverse.

use serde::Serialize;

/// The run's rules, copied into each token item.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Rules {
    /// No one may approve two stages of one run.
    pub distinct_approvers: bool,
    /// The principal who started the run may not approve it.
    pub requester_cannot_approve: bool,
}

/// The rule an approval broke (`rule` in the task result).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Rule {
    DistinctApprovers,
    RequesterCannotApprove,
}

/// The first rule the approvers break, if any; `requester_cannot_approve` is checked first.
pub fn broken_rule(
    rules: Rules,
    requester: &str,
    prior_approvers: &[String],
    approvers: &[String],
) -> Option<Rule> {
    if rules.requester_cannot_approve && approvers.iter().any(|a| same_principal(a, requester)) {
        return Some(Rule::RequesterCannotApprove);
    }
    if rules.distinct_approvers
        && approvers
            .iter()
            .any(|a| prior_approvers.iter().any(|p| same_principal(a, p)))
    {
        return Some(Rule::DistinctApprovers);
    }
    None
}

#[derive(Debug, PartialEq, Eq)]
enum Principal {
    /// `arn:…:iam::ACCOUNT:user/[path/]NAME`
    User {
        account: String,
        name: String,
    },
    /// A bare IAM user name, as `aws:approve` accepts in `Approvers`.
    BareName(String),
    /// `arn:…:iam::ACCOUNT:role/[path/]NAME`
    Role {
        account: String,
        name: String,
    },
    /// `arn:…:sts::ACCOUNT:assumed-role/ROLE/SESSION`
    Session {
        account: String,
        role: String,
        session: String,
    },
    Other(String),
}

fn parse(raw: &str) -> Principal {
    let s = raw.trim();
    if !s.starts_with("arn:") {
        return Principal::BareName(s.to_lowercase());
    }
    let parts: Vec<&str> = s.splitn(6, ':').collect();
    let (Some(service), Some(account), Some(resource)) = (parts.get(2), parts.get(4), parts.get(5))
    else {
        return Principal::Other(s.to_owned());
    };
    let account = (*account).to_owned();
    let last = |r: &str| r.rsplit('/').next().unwrap_or_default().to_lowercase();
    match (*service, resource.split_once('/')) {
        ("iam", Some(("user", rest))) => Principal::User {
            account,
            name: last(rest),
        },
        ("iam", Some(("role", rest))) => Principal::Role {
            account,
            name: last(rest),
        },
        ("sts", Some(("assumed-role", rest))) => match rest.split_once('/') {
            Some((role, session)) => Principal::Session {
                account,
                role: role.to_lowercase(),
                session: session.to_lowercase(),
            },
            None => Principal::Other(s.to_owned()),
        },
        _ => Principal::Other(s.to_owned()),
    }
}

/// Whether two principal spellings may name the same person.
pub fn same_principal(a: &str, b: &str) -> bool {
    use Principal::*;
    if a.trim() == b.trim() {
        return true;
    }
    match (parse(a), parse(b)) {
        (
            User {
                account: a1,
                name: n1,
            },
            User {
                account: a2,
                name: n2,
            },
        ) => a1 == a2 && n1 == n2,
        (BareName(n), User { name, .. }) | (User { name, .. }, BareName(n)) => n == name,
        (BareName(n1), BareName(n2)) => n1 == n2,
        (
            Role {
                account: a1,
                name: n1,
            },
            Role {
                account: a2,
                name: n2,
            },
        ) => a1 == a2 && n1 == n2,
        // Anyone in the role may be behind a role-level record.
        (
            Role { account, name },
            Session {
                account: sa, role, ..
            },
        )
        | (
            Session {
                account: sa, role, ..
            },
            Role { account, name },
        ) => account == sa && name == role,
        (s1 @ Session { .. }, s2 @ Session { .. }) => s1 == s2,
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const ALICE: &str = "arn:aws:iam::123456789012:user/alice";
    const BOTH: Rules = Rules {
        distinct_approvers: true,
        requester_cannot_approve: true,
    };

    #[test]
    fn spellings_of_one_person_match() {
        assert!(same_principal(ALICE, "alice"));
        assert!(same_principal(
            ALICE,
            "arn:aws:iam::123456789012:user/team/Alice"
        ));
        assert!(same_principal(
            "arn:aws:iam::123456789012:role/Approver",
            "arn:aws:sts::123456789012:assumed-role/Approver/carol"
        ));
        assert!(!same_principal(
            ALICE,
            "arn:aws:iam::999999999999:user/alice"
        ));
        assert!(!same_principal(ALICE, "bob"));
        assert!(!same_principal(
            "arn:aws:sts::123456789012:assumed-role/Approver/carol",
            "arn:aws:sts::123456789012:assumed-role/Approver/dave"
        ));
    }

    #[test]
    fn requester_rule_is_checked_first() {
        let approvers = vec!["alice".to_string()];
        let prior = vec!["alice".to_string()];
        assert_eq!(
            broken_rule(BOTH, ALICE, &prior, &approvers),
            Some(Rule::RequesterCannotApprove)
        );
    }

    #[test]
    fn distinct_approvers_uses_prior_stages() {
        let prior = vec!["arn:aws:iam::123456789012:user/bob".to_string()];
        assert_eq!(
            broken_rule(BOTH, ALICE, &prior, &["bob".into()]),
            Some(Rule::DistinctApprovers)
        );
        assert_eq!(broken_rule(BOTH, ALICE, &prior, &["carol".into()]), None);
        let off = Rules {
            distinct_approvers: false,
            requester_cannot_approve: false,
        };
        assert_eq!(
            broken_rule(off, ALICE, &prior, &["bob".into(), "alice".into()]),
            None
        );
    }
}
