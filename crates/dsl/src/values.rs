//! Value types of the language, each parsed from the text the user wrote.
//!
//! Every type here is valid by construction: the only way to get one is its `parse`
//! function, which returns a [`ValueError`] (message + help line) for malformed text. The
//! YAML reader turns that error into a diagnostic at the exact span of the value.

use std::fmt;

/// Why a value could not be parsed, and how to fix it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ValueError {
    pub message: String,
    pub help: String,
}

impl ValueError {
    fn new(message: impl Into<String>, help: impl Into<String>) -> Self {
        Self {
            message: message.into(),
            help: help.into(),
        }
    }
}

impl fmt::Display for ValueError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}

/// A positive length of time, written `90s`, `15m`, `12h` or `3d`; stored in seconds.
///
/// Only one number and one unit: `1h30m` is rejected (write `90m`), which keeps the syntax
/// obvious and the value exact.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Duration {
    secs: u64,
}

impl Duration {
    /// The largest duration accepted: 400 days, above every AWS limit the compiler checks
    /// (a Standard execution lasts at most one year), so larger values are typos.
    pub const MAX_SECS: u64 = 400 * 86_400;

    pub fn from_secs(secs: u64) -> Option<Self> {
        (secs > 0 && secs <= Self::MAX_SECS).then_some(Self { secs })
    }

    pub const fn as_secs(self) -> u64 {
        self.secs
    }

    pub fn parse(text: &str) -> Result<Self, ValueError> {
        const HELP: &str = "write a whole number followed by one unit: s, m, h or d (e.g. `90s`, `15m`, `12h`, `3d`)";
        let text = text.trim();
        let split = text
            .find(|c: char| !c.is_ascii_digit())
            .unwrap_or(text.len());
        let (digits, unit) = text.split_at(split);
        if digits.is_empty() {
            return Err(ValueError::new(format!("`{text}` is not a duration"), HELP));
        }
        let per_unit: u64 = match unit {
            "s" => 1,
            "m" => 60,
            "h" => 3_600,
            "d" => 86_400,
            "" => {
                return Err(ValueError::new(
                    format!("duration `{text}` has no unit"),
                    format!("add a unit, e.g. `{digits}s` for seconds or `{digits}m` for minutes"),
                ));
            }
            other => {
                return Err(ValueError::new(
                    format!("unknown duration unit `{other}`"),
                    HELP,
                ));
            }
        };
        let secs = digits
            .parse::<u64>()
            .ok()
            .and_then(|n| n.checked_mul(per_unit));
        match secs {
            Some(0) => Err(ValueError::new(
                "a duration must be longer than zero",
                "a zero timeout would end the stage at once; write a positive duration",
            )),
            Some(secs) if secs <= Self::MAX_SECS => Ok(Self { secs }),
            _ => Err(ValueError::new(
                format!("duration `{text}` is too long"),
                "the longest accepted duration is 400d (AWS limits are far lower: SSM 30d, CodePipeline 60d)",
            )),
        }
    }
}

impl fmt::Display for Duration {
    /// The shortest exact form: `3d`, `90m`, `45s`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let s = self.secs;
        if s.is_multiple_of(86_400) {
            write!(f, "{}d", s / 86_400)
        } else if s.is_multiple_of(3_600) {
            write!(f, "{}h", s / 3_600)
        } else if s.is_multiple_of(60) {
            write!(f, "{}m", s / 60)
        } else {
            write!(f, "{s}s")
        }
    }
}

/// A 12-digit AWS account id. Written as a quoted string in YAML, because an unquoted
/// number would lose leading zeros.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct AccountId(String);

impl AccountId {
    pub fn parse(text: &str) -> Result<Self, ValueError> {
        if text.len() == 12 && text.bytes().all(|b| b.is_ascii_digit()) {
            Ok(Self(text.to_owned()))
        } else {
            Err(ValueError::new(
                format!("`{text}` is not an AWS account id"),
                "an account id is exactly 12 digits, written in quotes: \"111111111111\"",
            ))
        }
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for AccountId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// An AWS region name such as `ap-northeast-1`, `us-gov-west-1` or `cn-north-1`.
///
/// Checked by shape (`area[-qualifier]-direction-number`), not against a list, so new
/// regions work without a release.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Region(String);

const DIRECTIONS: &[&str] = &[
    "north",
    "south",
    "east",
    "west",
    "central",
    "northeast",
    "northwest",
    "southeast",
    "southwest",
];

impl Region {
    pub fn parse(text: &str) -> Result<Self, ValueError> {
        if Self::is_valid(text) {
            Ok(Self(text.to_owned()))
        } else {
            Err(ValueError::new(
                format!("`{text}` is not an AWS region"),
                "a region looks like `ap-northeast-1`, `us-east-1`, `us-gov-west-1` or `cn-north-1`",
            ))
        }
    }

    fn is_valid(text: &str) -> bool {
        let parts: Vec<&str> = text.split('-').collect();
        let [area @ .., direction, number] = parts.as_slice() else {
            return false;
        };
        let lower = |s: &str| !s.is_empty() && s.bytes().all(|b| b.is_ascii_lowercase());
        let area_ok = match area {
            [geo] => geo.len() == 2 && lower(geo),
            [geo, qualifier] => geo.len() == 2 && lower(geo) && lower(qualifier),
            _ => false,
        };
        area_ok
            && DIRECTIONS.contains(direction)
            && (1..=2).contains(&number.len())
            && number.bytes().all(|b| b.is_ascii_digit())
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for Region {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// An Amazon Resource Name, `arn:PARTITION:SERVICE:REGION:ACCOUNT:RESOURCE`.
///
/// Region and account may be empty (IAM ARNs have no region); when present they are
/// validated like [`Region`] and [`AccountId`].
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Arn {
    pub partition: String,
    pub service: String,
    pub region: Option<Region>,
    pub account: Option<AccountId>,
    pub resource: String,
}

const ARN_HELP: &str =
    "an ARN looks like `arn:aws:sns:ap-northeast-1:111111111111:AutomationApprovals`";

impl Arn {
    pub fn parse(text: &str) -> Result<Self, ValueError> {
        let mut parts = text.splitn(6, ':');
        let fields: [Option<&str>; 6] = std::array::from_fn(|_| parts.next());
        let [
            Some("arn"),
            Some(partition),
            Some(service),
            Some(region),
            Some(account),
            Some(resource),
        ] = fields
        else {
            return Err(ValueError::new(format!("`{text}` is not an ARN"), ARN_HELP));
        };
        if !matches!(
            partition,
            "aws"
                | "aws-cn"
                | "aws-us-gov"
                | "aws-iso"
                | "aws-iso-b"
                | "aws-iso-e"
                | "aws-iso-f"
                | "aws-eusc"
        ) {
            return Err(ValueError::new(
                format!("unknown AWS partition `{partition}` in ARN"),
                "the partition is `aws` (or `aws-cn`, `aws-us-gov`, ...)",
            ));
        }
        if service.is_empty()
            || !service
                .bytes()
                .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
        {
            return Err(ValueError::new(
                format!("`{service}` is not an AWS service name"),
                ARN_HELP,
            ));
        }
        let region = match region {
            "" => None,
            r => Some(
                Region::parse(r)
                    .map_err(|e| ValueError::new(format!("{} (in ARN)", e.message), e.help))?,
            ),
        };
        let account = match account {
            "" => None,
            a => Some(
                AccountId::parse(a)
                    .map_err(|e| ValueError::new(format!("{} (in ARN)", e.message), e.help))?,
            ),
        };
        if resource.is_empty() {
            return Err(ValueError::new("ARN has an empty resource part", ARN_HELP));
        }
        Ok(Self {
            partition: partition.to_owned(),
            service: service.to_owned(),
            region,
            account,
            resource: resource.to_owned(),
        })
    }

    /// For an SNS topic ARN, the topic name.
    pub fn sns_topic_name(&self) -> Option<&str> {
        (self.service == "sns").then_some(self.resource.as_str())
    }
}

impl fmt::Display for Arn {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "arn:{}:{}:{}:{}:{}",
            self.partition,
            self.service,
            self.region.as_ref().map_or("", Region::as_str),
            self.account.as_ref().map_or("", AccountId::as_str),
            self.resource
        )
    }
}

/// What kind of IAM identity an approver ARN names.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum PrincipalKind {
    /// `arn:aws:iam::ACCOUNT:user/NAME`
    User,
    /// `arn:aws:iam::ACCOUNT:role/NAME`
    Role,
    /// `arn:aws:sts::ACCOUNT:assumed-role/ROLE/SESSION`
    AssumedRole,
}

/// An approver: an IAM user name (in the stage's account), or a user, role or assumed-role
/// ARN. These are the identities SSM `aws:approve` accepts.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum Principal {
    UserName(String),
    Arn { kind: PrincipalKind, arn: Arn },
}

const PRINCIPAL_HELP: &str = "an approver is an IAM user name (`alice`) or an ARN of a user, role or assumed role (`arn:aws:iam::111111111111:role/TeamLead`)";

impl Principal {
    pub fn parse(text: &str) -> Result<Self, ValueError> {
        if text.starts_with("arn:") {
            let arn = Arn::parse(text)?;
            let kind = match (arn.service.as_str(), arn.resource.split_once('/')) {
                ("iam", Some(("user", name))) if !name.is_empty() => PrincipalKind::User,
                ("iam", Some(("role", name))) if !name.is_empty() => PrincipalKind::Role,
                ("sts", Some(("assumed-role", rest))) if rest.contains('/') => {
                    PrincipalKind::AssumedRole
                }
                _ => {
                    return Err(ValueError::new(
                        format!("`{text}` is not a user, role or assumed-role ARN"),
                        PRINCIPAL_HELP,
                    ));
                }
            };
            if arn.account.is_none() {
                return Err(ValueError::new(
                    format!("approver ARN `{text}` has no account id"),
                    PRINCIPAL_HELP,
                ));
            }
            return Ok(Self::Arn { kind, arn });
        }
        // IAM user names: 1-64 of [A-Za-z0-9+=,.@_-].
        let valid = !text.is_empty()
            && text.len() <= 64
            && text
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b"+=,.@_-".contains(&b));
        if valid {
            Ok(Self::UserName(text.to_owned()))
        } else {
            Err(ValueError::new(
                format!("`{text}` is not an IAM user name or ARN"),
                PRINCIPAL_HELP,
            ))
        }
    }
}

impl fmt::Display for Principal {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::UserName(name) => f.write_str(name),
            Self::Arn { arn, .. } => arn.fmt(f),
        }
    }
}

/// Checks `text` against a set of allowed bytes and a length range.
fn check_name(
    text: &str,
    max: usize,
    allowed: impl Fn(u8) -> bool,
    what: &str,
    help: &str,
) -> Result<String, ValueError> {
    if text.is_empty() || text.len() > max || !text.bytes().all(allowed) {
        Err(ValueError::new(
            format!("`{text}` is not a valid {what}"),
            help,
        ))
    } else {
        Ok(text.to_owned())
    }
}

/// The workflow's name, `[A-Za-z0-9-_]{1,64}`; it prefixes every AWS resource name.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct WorkflowName(String);

impl WorkflowName {
    pub fn parse(text: &str) -> Result<Self, ValueError> {
        check_name(
            text,
            64,
            |b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_',
            "workflow name",
            "use 1-64 letters, digits, `-` or `_` (it prefixes AWS resource names)",
        )
        .map(Self)
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// A stage id, `[a-z0-9-]{1,40}`: the key of a stage under `stages:`.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct StageId(String);

impl StageId {
    pub fn parse(text: &str) -> Result<Self, ValueError> {
        check_name(
            text,
            40,
            |b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-',
            "stage id",
            "use 1-40 lowercase letters, digits or `-` (e.g. `prod-owner`)",
        )
        .map(Self)
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// The key of an entry under `accounts:` (referred to by `home` and `account`):
/// `[A-Za-z0-9-_]{1,32}`.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct AccountName(String);

impl AccountName {
    pub fn parse(text: &str) -> Result<Self, ValueError> {
        check_name(
            text,
            32,
            |b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_',
            "account name",
            "use 1-32 letters, digits, `-` or `_` (e.g. `prod`)",
        )
        .map(Self)
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// The name of an input parameter, `[A-Za-z_][A-Za-z0-9_]{0,63}`, so that `input.NAME` in
/// templates and conditions is unambiguous.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct InputName(String);

impl InputName {
    pub fn parse(text: &str) -> Result<Self, ValueError> {
        let help = "start with a letter or `_`, then letters, digits or `_` (at most 64); it is referred to as `input.NAME`";
        let name = check_name(
            text,
            64,
            |b| b.is_ascii_alphanumeric() || b == b'_',
            "input name",
            help,
        )?;
        if name.starts_with(|c: char| c.is_ascii_digit()) {
            return Err(ValueError::new(
                format!("`{text}` is not a valid input name"),
                help,
            ));
        }
        Ok(Self(name))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// What happens when a stage's timeout passes. A timeout never approves.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum OnTimeout {
    /// The stage ends `timed_out` and the run is rejected.
    Reject,
    /// The `escalate:` approvers are asked once more; a second timeout rejects.
    Escalate,
}

impl OnTimeout {
    pub const WORDS: &[&str] = &["reject", "escalate"];

    pub fn from_word(word: &str) -> Option<Self> {
        match word {
            "reject" => Some(Self::Reject),
            "escalate" => Some(Self::Escalate),
            _ => None,
        }
    }

    pub const fn as_str(self) -> &'static str {
        match self {
            Self::Reject => "reject",
            Self::Escalate => "escalate",
        }
    }
}

/// The type of an input parameter.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum InputType {
    String,
    Number,
    Boolean,
}

impl InputType {
    pub const WORDS: &[&str] = &["string", "number", "boolean"];

    pub fn from_word(word: &str) -> Option<Self> {
        match word {
            "string" => Some(Self::String),
            "number" => Some(Self::Number),
            "boolean" => Some(Self::Boolean),
            _ => None,
        }
    }

    pub const fn as_str(self) -> &'static str {
        match self {
            Self::String => "string",
            Self::Number => "number",
            Self::Boolean => "boolean",
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations_parse_to_seconds() {
        assert_eq!(Duration::parse("90s").map(Duration::as_secs), Ok(90));
        assert_eq!(Duration::parse("15m").map(Duration::as_secs), Ok(900));
        assert_eq!(Duration::parse("12h").map(Duration::as_secs), Ok(43_200));
        assert_eq!(Duration::parse("3d").map(Duration::as_secs), Ok(259_200));
        assert_eq!(
            Duration::parse("90m").map(|d| d.to_string()),
            Ok("90m".into())
        );
        assert_eq!(
            Duration::parse("120m").map(|d| d.to_string()),
            Ok("2h".into())
        );
    }

    #[test]
    fn durations_reject_zero_overflow_and_bad_units() {
        for bad in [
            "0s",
            "0d",
            "99999999999999999999999d",
            "401d",
            "3w",
            "3",
            "d",
            "",
            "-1d",
            "1h30m",
            "1.5h",
        ] {
            assert!(Duration::parse(bad).is_err(), "{bad} was accepted");
        }
        assert!(Duration::parse("3").is_err_and(|e| e.help.contains("`3s`")));
    }

    proptest::proptest! {
        #[test]
        fn durations_print_in_a_form_that_parses_back(secs in 1..=Duration::MAX_SECS) {
            let d = Duration::from_secs(secs).unwrap();
            proptest::prop_assert_eq!(Duration::parse(&d.to_string()), Ok(d));
        }

        #[test]
        fn arns_print_as_they_were_written(
            service in "[a-z][a-z0-9-]{0,10}",
            account in "[0-9]{12}",
            resource in "[A-Za-z0-9/:_-]{1,30}",
        ) {
            let text = format!("arn:aws:{service}:ap-northeast-1:{account}:{resource}");
            proptest::prop_assert_eq!(Arn::parse(&text).map(|a| a.to_string()), Ok(text));
        }
    }

    #[test]
    fn regions_are_checked_by_shape() {
        for good in [
            "ap-northeast-1",
            "us-east-1",
            "us-gov-west-1",
            "cn-north-1",
            "eu-central-2",
            "il-central-1",
            "us-isob-east-1",
        ] {
            assert!(Region::parse(good).is_ok(), "{good}");
        }
        for bad in [
            "tokyo",
            "ap-northeast",
            "AP-NORTHEAST-1",
            "ap-northeast-x",
            "apne1",
            "ap-up-1",
            "-north-1",
            "ap-northeast-1-",
        ] {
            assert!(Region::parse(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn account_ids_are_twelve_digits() {
        assert!(AccountId::parse("011111111111").is_ok());
        for bad in ["11111111111", "1111111111111", "11111111111a", ""] {
            assert!(AccountId::parse(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn arns_are_split_into_parts() {
        let arn =
            Arn::parse("arn:aws:sns:ap-northeast-1:111111111111:AutomationApprovals").unwrap();
        assert_eq!(arn.service, "sns");
        assert_eq!(
            arn.region.as_ref().map(Region::as_str),
            Some("ap-northeast-1")
        );
        assert_eq!(arn.sns_topic_name(), Some("AutomationApprovals"));
        assert_eq!(
            arn.to_string(),
            "arn:aws:sns:ap-northeast-1:111111111111:AutomationApprovals"
        );
        let iam = Arn::parse("arn:aws:iam::111111111111:role/a:b").unwrap();
        assert_eq!((iam.region, iam.resource.as_str()), (None, "role/a:b"));
        for bad in [
            "arn:aws:sns",
            "arn:aws:sns:ap-northeast-1:1111:x",
            "arn:foo:sns:::x",
            "arn:aws:SNS:::x",
            "arn:aws:s3:::",
            "nope",
        ] {
            assert!(Arn::parse(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn principals_are_user_names_or_identity_arns() {
        assert!(matches!(
            Principal::parse("alice"),
            Ok(Principal::UserName(_))
        ));
        assert!(matches!(
            Principal::parse("arn:aws:iam::111111111111:role/TeamLead"),
            Ok(Principal::Arn {
                kind: PrincipalKind::Role,
                ..
            })
        ));
        assert!(matches!(
            Principal::parse("arn:aws:sts::111111111111:assumed-role/Admin/bob"),
            Ok(Principal::Arn {
                kind: PrincipalKind::AssumedRole,
                ..
            })
        ));
        for bad in [
            "arn:aws:iam::111111111111:group/Admins",
            "arn:aws:sns:ap-northeast-1:111111111111:t",
            "bob smith",
            "arn:aws:iam:::role/X",
        ] {
            assert!(Principal::parse(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn names_and_ids_follow_their_alphabets() {
        assert!(WorkflowName::parse("release_prod-2").is_ok());
        assert!(WorkflowName::parse("release prod").is_err());
        assert!(WorkflowName::parse(&"a".repeat(65)).is_err());
        assert!(StageId::parse("prod-owner").is_ok());
        assert!(StageId::parse("Prod").is_err());
        assert!(InputName::parse("ticket_id").is_ok());
        assert!(InputName::parse("1st").is_err());
        assert!(AccountName::parse("prod").is_ok());
        assert!(AccountName::parse("").is_err());
    }
}
