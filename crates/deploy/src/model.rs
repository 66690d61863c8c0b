//! The desired state: the per-workflow resources of each account, built from [`Artifacts`]
//! only (never from the YAML), each with the hash that goes into its `approvalc:hash` tag.
//!
//! Bootstrap-owned artifacts (child machines, the approval document, bootstrap templates)
//! are not resources here: `approvalc bootstrap` deploys them through CloudFormation.

use std::collections::BTreeMap;
use std::fmt;

use approvalc_compiler::lower::names::ChildKind;
use approvalc_compiler::lower::{ArtifactKind, Artifacts};
use serde::{Deserialize, Serialize};
use serde_json::Value;
use sha2::{Digest as _, Sha256};

/// Tag naming the workflow that created a resource: the proof of ownership.
pub const TAG_WORKFLOW: &str = "approvalc:workflow";
/// Tag holding the hash of the spec the resource was last fully applied with.
pub const TAG_HASH: &str = "approvalc:hash";
/// Bumped when the way specs are applied changes, so that every resource is re-applied.
const HASH_VERSION: &str = "approvalc-deploy/1";

/// Resource kinds in the order they are created (deleted in reverse): roles before the
/// policies and machines that use them, the parent machine last because it starts the rest.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Kind {
    Role,
    Policy,
    Pipeline,
    Rule,
    StateMachine,
}

impl Kind {
    pub const APPLY_ORDER: [Kind; 5] = [
        Kind::Role,
        Kind::Policy,
        Kind::Pipeline,
        Kind::Rule,
        Kind::StateMachine,
    ];

    pub const fn label(self) -> &'static str {
        match self {
            Kind::Role => "iam role",
            Kind::Policy => "iam policy",
            Kind::Pipeline => "pipeline",
            Kind::Rule => "event rule",
            Kind::StateMachine => "state machine",
        }
    }
}

impl fmt::Display for Kind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.label())
    }
}

/// An account of the workflow: its name in the YAML and its id.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
pub struct Account {
    pub name: String,
    pub id: String,
}

impl fmt::Display for Account {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} ({})", self.name, self.id)
    }
}

/// An IAM role with inline policies (`CreateRole` + `PutRolePolicy`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RoleSpec {
    pub name: String,
    pub description: String,
    pub trust: Value,
    /// Inline policy name → document.
    pub policies: BTreeMap<String, Value>,
}

/// Who a managed policy is attached to. Role names are without path (what
/// `AttachRolePolicy` takes).
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub enum Principal {
    Role(String),
    User(String),
}

impl fmt::Display for Principal {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Principal::Role(name) => write!(f, "role/{name}"),
            Principal::User(name) => write!(f, "user/{name}"),
        }
    }
}

/// A customer-managed policy and the principals it is attached to.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PolicySpec {
    pub name: String,
    pub document: Value,
    /// Sorted, no duplicates.
    pub attach_to: Vec<Principal>,
}

/// The parent state machine.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct MachineSpec {
    pub name: String,
    pub role_arn: String,
    /// Uploaded byte for byte as compiled.
    pub definition: String,
}

/// A dedicated approval pipeline (`CreatePipeline` declaration as JSON).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PipelineSpec {
    pub name: String,
    pub declaration: Value,
}

/// An EventBridge rule with its targets.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RuleSpec {
    pub name: String,
    pub description: String,
    pub event_bus: String,
    pub state: String,
    pub pattern: Value,
    /// Target id → ARN.
    pub targets: BTreeMap<String, String>,
}

/// What one resource should look like.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(tag = "kind", rename_all = "kebab-case")]
pub enum Spec {
    Role(RoleSpec),
    Policy(PolicySpec),
    Pipeline(PipelineSpec),
    Rule(RuleSpec),
    StateMachine(MachineSpec),
}

impl Spec {
    pub fn kind(&self) -> Kind {
        match self {
            Spec::Role(_) => Kind::Role,
            Spec::Policy(_) => Kind::Policy,
            Spec::Pipeline(_) => Kind::Pipeline,
            Spec::Rule(_) => Kind::Rule,
            Spec::StateMachine(_) => Kind::StateMachine,
        }
    }

    pub fn name(&self) -> &str {
        match self {
            Spec::Role(s) => &s.name,
            Spec::Policy(s) => &s.name,
            Spec::Pipeline(s) => &s.name,
            Spec::Rule(s) => &s.name,
            Spec::StateMachine(s) => &s.name,
        }
    }

    /// A stable, readable rendering used for diffs: JSON documents pretty-printed, the
    /// state machine definition parsed so that a diff shows states, not one long line.
    pub fn to_diffable(&self) -> String {
        let value = match self {
            Spec::StateMachine(m) => serde_json::json!({
                "name": m.name,
                "role_arn": m.role_arn,
                "definition": serde_json::from_str::<Value>(&m.definition)
                    .unwrap_or_else(|_| Value::String(m.definition.clone())),
            }),
            other => serde_json::to_value(other).unwrap_or(Value::Null),
        };
        let mut text = serde_json::to_string_pretty(&value).unwrap_or_default();
        text.push('\n');
        text
    }

    /// Hash of everything deploy applies for this resource (hex, 20 chars).
    pub fn hash(&self) -> String {
        let mut hasher = Sha256::new();
        hasher.update(HASH_VERSION.as_bytes());
        hasher.update(serde_json::to_string(self).unwrap_or_default().as_bytes());
        let digest = hex::encode(hasher.finalize());
        digest.chars().take(20).collect()
    }
}

/// One desired resource in one account.
#[derive(Debug, Clone, PartialEq)]
pub struct Desired {
    pub account: Account,
    pub spec: Spec,
    pub hash: String,
}

impl Desired {
    fn new(account: Account, spec: Spec) -> Self {
        let hash = spec.hash();
        Desired {
            account,
            spec,
            hash,
        }
    }

    pub fn kind(&self) -> Kind {
        self.spec.kind()
    }

    pub fn name(&self) -> &str {
        self.spec.name()
    }
}

/// Everything deploy manages for one workflow.
#[derive(Debug, Clone, PartialEq)]
pub struct DesiredState {
    pub workflow: String,
    pub region: String,
    pub home: Account,
    /// Home first, then stage accounts.
    pub accounts: Vec<Account>,
    pub parent_arn: String,
    pub parent_role_arn: String,
    /// Child machines each account must have from bootstrap.
    pub children: BTreeMap<String, Vec<ChildKind>>,
    /// Execute role name → the ARN of the machine that assumes it, which is its
    /// `sts:ExternalId`: the parent's, or that of the part machine running the stage when
    /// the compiler split the parent.
    pub external_ids: BTreeMap<String, String>,
    /// Sorted by apply order (kind, account order, name).
    pub resources: Vec<Desired>,
}

impl DesiredState {
    /// Every name deploy may own starts with this; listing by it finds owned orphans.
    pub fn prefix(&self) -> String {
        format!("approvalc-{}", self.workflow)
    }

    pub fn of(&self, account: &Account, kind: Kind) -> impl Iterator<Item = &Desired> {
        self.resources
            .iter()
            .filter(move |d| d.kind() == kind && &d.account == account)
    }
}

/// Artifacts deploy cannot make sense of: a compiler/deploy version mismatch.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ModelError {
    #[error("manifest format {found} is not supported (this approvalc reads {expected})")]
    Format { found: u32, expected: u32 },
    #[error("{path}: {message}")]
    File { path: String, message: String },
    #[error("{path} names account `{account}`, which the manifest does not list")]
    UnknownAccount { path: String, account: String },
    #[error("{path}: cannot attach to `{principal}`: {reason}")]
    Principal {
        path: String,
        principal: String,
        reason: String,
    },
}

#[derive(Deserialize)]
struct PolicyFile {
    #[serde(rename = "PolicyName")]
    name: String,
    #[serde(rename = "PolicyDocument")]
    document: Value,
    #[serde(rename = "AttachTo")]
    attach_to: Vec<String>,
}

#[derive(Deserialize)]
struct RoleFile {
    #[serde(rename = "RoleName")]
    name: String,
    #[serde(rename = "Description")]
    description: String,
    #[serde(rename = "AssumeRolePolicyDocument")]
    trust: Value,
    #[serde(rename = "Policies")]
    policies: Vec<InlineFile>,
}

#[derive(Deserialize)]
struct InlineFile {
    #[serde(rename = "PolicyName")]
    name: String,
    #[serde(rename = "PolicyDocument")]
    document: Value,
}

#[derive(Deserialize)]
struct RuleFile {
    #[serde(rename = "Name")]
    name: String,
    #[serde(rename = "Description")]
    description: String,
    #[serde(rename = "EventBusName")]
    event_bus: String,
    #[serde(rename = "State")]
    state: String,
    #[serde(rename = "EventPattern")]
    pattern: Value,
    #[serde(rename = "Targets")]
    targets: Vec<TargetFile>,
}

#[derive(Deserialize)]
struct TargetFile {
    #[serde(rename = "Id")]
    id: String,
    #[serde(rename = "Arn")]
    arn: String,
}

#[derive(Deserialize)]
struct PipelineFile {
    pipeline: Value,
}

fn parse<T: serde::de::DeserializeOwned>(path: &str, text: &str) -> Result<T, ModelError> {
    serde_json::from_str(text).map_err(|e| ModelError::File {
        path: path.to_owned(),
        message: format!("unexpected shape: {e}"),
    })
}

/// Builds the desired state from compiled artifacts.
pub fn desired(artifacts: &Artifacts) -> Result<DesiredState, ModelError> {
    use approvalc_compiler::lower::artifacts::MANIFEST_FORMAT;
    let manifest = &artifacts.manifest;
    if manifest.format != MANIFEST_FORMAT {
        return Err(ModelError::Format {
            found: manifest.format,
            expected: MANIFEST_FORMAT,
        });
    }
    let accounts: Vec<Account> = manifest
        .accounts
        .iter()
        .map(|a| Account {
            name: a.name.clone(),
            id: a.id.clone(),
        })
        .collect();
    let home = Account {
        name: manifest.home.name.clone(),
        id: manifest.home.id.clone(),
    };
    let account_of = |path: &str, name: Option<&str>| -> Result<Account, ModelError> {
        let name = name.unwrap_or(&home.name);
        accounts
            .iter()
            .find(|a| a.name == name)
            .cloned()
            .ok_or_else(|| ModelError::UnknownAccount {
                path: path.to_owned(),
                account: name.to_owned(),
            })
    };
    let mut resources = Vec::new();
    for file in &artifacts.files {
        let path = file.path.as_str();
        let spec = match file.kind {
            ArtifactKind::Role => {
                let role: RoleFile = parse(path, &file.contents)?;
                Spec::Role(RoleSpec {
                    name: role.name,
                    description: role.description,
                    trust: role.trust,
                    policies: role
                        .policies
                        .into_iter()
                        .map(|p| (p.name, p.document))
                        .collect(),
                })
            }
            ArtifactKind::Policy => {
                let policy: PolicyFile = parse(path, &file.contents)?;
                let account = account_of(path, file.account.as_deref())?;
                let mut attach_to = policy
                    .attach_to
                    .iter()
                    .map(|p| principal(path, &account, p))
                    .collect::<Result<Vec<_>, _>>()?;
                attach_to.sort();
                attach_to.dedup();
                Spec::Policy(PolicySpec {
                    name: policy.name,
                    document: policy.document,
                    attach_to,
                })
            }
            ArtifactKind::Pipeline => {
                let pipeline: PipelineFile = parse(path, &file.contents)?;
                let name = pipeline
                    .pipeline
                    .get("name")
                    .and_then(Value::as_str)
                    .ok_or_else(|| ModelError::File {
                        path: path.to_owned(),
                        message: "the pipeline has no name".to_owned(),
                    })?
                    .to_owned();
                Spec::Pipeline(PipelineSpec {
                    name,
                    declaration: pipeline.pipeline,
                })
            }
            ArtifactKind::Rule => {
                let rule: RuleFile = parse(path, &file.contents)?;
                Spec::Rule(RuleSpec {
                    name: rule.name,
                    description: rule.description,
                    event_bus: rule.event_bus,
                    state: rule.state,
                    pattern: rule.pattern,
                    targets: rule.targets.into_iter().map(|t| (t.id, t.arn)).collect(),
                })
            }
            ArtifactKind::ParentDefinition => Spec::StateMachine(MachineSpec {
                name: manifest.parent.name.clone(),
                role_arn: manifest.parent.role_arn.clone(),
                definition: file.contents.clone(),
            }),
            ArtifactKind::ChildDefinition
            | ArtifactKind::SsmDocument
            | ArtifactKind::BootstrapTemplate => continue,
            // Kinds newer than this match: part machines of a split parent (read through
            // the manifest's `parts`, so this builds with compilers with and without them);
            // anything else is refused rather than skipped.
            #[allow(unreachable_patterns)]
            _ => match part_machine(manifest, path) {
                Some((name, role_arn)) => Spec::StateMachine(MachineSpec {
                    name,
                    role_arn,
                    definition: file.contents.clone(),
                }),
                None => {
                    return Err(ModelError::File {
                        path: path.to_owned(),
                        message:
                            "this approvalc cannot deploy this kind of artifact (update approvalc)"
                                .to_owned(),
                    });
                }
            },
        };
        let account = if matches!(spec, Spec::StateMachine(_)) {
            home.clone()
        } else {
            account_of(path, file.account.as_deref())?
        };
        resources.push(Desired::new(account, spec));
    }
    let position = |a: &Account| accounts.iter().position(|x| x == a).unwrap_or(usize::MAX);
    resources.sort_by(|a, b| {
        (a.kind(), position(&a.account), a.name()).cmp(&(b.kind(), position(&b.account), b.name()))
    });
    Ok(DesiredState {
        workflow: manifest.workflow.clone(),
        region: manifest.region.clone(),
        home,
        accounts,
        parent_arn: manifest.parent.arn.clone(),
        parent_role_arn: manifest.parent.role_arn.clone(),
        external_ids: external_ids(manifest),
        children: manifest
            .accounts
            .iter()
            .map(|a| (a.name.clone(), a.children.clone()))
            .collect(),
        resources,
    })
}

/// Execute role name → ExternalId, from the manifest's stages (and `parts`, read as JSON
/// so that this builds with compilers with and without them).
fn external_ids(manifest: &approvalc_compiler::lower::Manifest) -> BTreeMap<String, String> {
    let value = serde_json::to_value(manifest).unwrap_or(Value::Null);
    let part_arn = |name: &str| {
        value
            .get("parts")
            .and_then(Value::as_array)
            .and_then(|parts| {
                parts
                    .iter()
                    .find(|p| p.get("name").and_then(Value::as_str) == Some(name))
            })
            .and_then(|p| p.get("arn").and_then(Value::as_str))
            .map(str::to_owned)
    };
    let mut out = BTreeMap::new();
    for stage in value
        .get("stages")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
    {
        let Some(role) = stage
            .get("execute_role_arn")
            .and_then(Value::as_str)
            .and_then(|arn| arn.rsplit('/').next())
        else {
            continue;
        };
        let machine = stage
            .get("part")
            .and_then(Value::as_str)
            .and_then(part_arn)
            .unwrap_or_else(|| manifest.parent.arn.clone());
        out.insert(role.to_owned(), machine);
    }
    out
}

/// Name and role of the part machine whose definition is at `path` (`manifest.parts`).
fn part_machine(
    manifest: &approvalc_compiler::lower::Manifest,
    path: &str,
) -> Option<(String, String)> {
    let value = serde_json::to_value(manifest).ok()?;
    let part = value
        .get("parts")?
        .as_array()?
        .iter()
        .find(|p| p.get("definition").and_then(Value::as_str) == Some(path))?;
    Some((
        part.get("name")?.as_str()?.to_owned(),
        part.get("role_arn")?.as_str()?.to_owned(),
    ))
}

/// Reads an `AttachTo` entry: a role/user ARN or assumed-role ARN of the policy's account,
/// a bootstrap child role name, or an IAM user name (what SSM approvers may be).
fn principal(path: &str, account: &Account, text: &str) -> Result<Principal, ModelError> {
    let err = |reason: &str| ModelError::Principal {
        path: path.to_owned(),
        principal: text.to_owned(),
        reason: reason.to_owned(),
    };
    if !text.starts_with("arn:") {
        if ChildKind::ALL.iter().any(|k| k.role_name() == text) {
            return Ok(Principal::Role(text.to_owned()));
        }
        return Ok(Principal::User(text.to_owned()));
    }
    // arn:PARTITION:SERVICE::ACCOUNT:RESOURCE
    let parts: Vec<&str> = text.splitn(6, ':').collect();
    let [_, _, service, _, owner, resource] = parts.as_slice() else {
        return Err(err("not an ARN"));
    };
    if *owner != account.id {
        return Err(err(&format!(
            "it belongs to account {owner}, but the policy is created in {account}"
        )));
    }
    let segments: Vec<&str> = resource.split('/').collect();
    match (*service, segments.first().copied()) {
        ("iam", Some("role")) => segments
            .last()
            .filter(|_| segments.len() >= 2)
            .map(|n| Principal::Role((*n).to_owned()))
            .ok_or_else(|| err("no role name")),
        ("iam", Some("user")) => segments
            .last()
            .filter(|_| segments.len() >= 2)
            .map(|n| Principal::User((*n).to_owned()))
            .ok_or_else(|| err("no user name")),
        ("sts", Some("assumed-role")) => segments
            .get(1)
            .map(|n| Principal::Role((*n).to_owned()))
            .ok_or_else(|| err("no role name")),
        _ => Err(err(
            "only IAM roles, users and assumed roles can be approvers",
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn account() -> Account {
        Account {
            name: "prod".to_owned(),
            id: "333333333333".to_owned(),
        }
    }

    #[test]
    fn principals_are_read_from_arns_and_names() {
        let a = account();
        let p = |t: &str| principal("x", &a, t);
        assert_eq!(
            p("arn:aws:iam::333333333333:role/ops/ProdOwner"),
            Ok(Principal::Role("ProdOwner".to_owned()))
        );
        assert_eq!(
            p("arn:aws:iam::333333333333:user/alice"),
            Ok(Principal::User("alice".to_owned()))
        );
        assert_eq!(
            p("arn:aws:sts::333333333333:assumed-role/Admin/alice"),
            Ok(Principal::Role("Admin".to_owned()))
        );
        assert_eq!(
            p("approvalc-ssm-action-machine"),
            Ok(Principal::Role("approvalc-ssm-action-machine".to_owned()))
        );
        assert_eq!(p("bob"), Ok(Principal::User("bob".to_owned())));
        assert!(p("arn:aws:iam::111111111111:role/Other").is_err());
        assert!(p("arn:aws:iam::333333333333:group/G").is_err());
        assert!(p("arn:broken").is_err());
    }

    #[test]
    fn a_stage_run_by_a_part_machine_is_trusted_with_the_parts_arn() {
        let source = include_str!("../../../workflows/multi-level-cross-account.yaml");
        let artifacts = approvalc_compiler::lower::compile(source)
            .artifacts
            .unwrap();
        let plain = desired(&artifacts).unwrap();
        assert_eq!(
            plain.external_ids.get("approvalc-release-prod-qa"),
            Some(&plain.parent_arn)
        );
        // The same manifest as a split compiler would write it: `qa` runs in part 1.
        let mut value = serde_json::to_value(&artifacts.manifest).unwrap();
        let part_arn =
            "arn:aws:states:ap-northeast-1:111111111111:stateMachine:approvalc-release-prod-part-1";
        value["parts"] = serde_json::json!([{
            "name": "approvalc-release-prod-part-1", "arn": part_arn,
            "definition": "parts/part-1.asl.json", "role_arn": plain.parent_role_arn,
            "started_by": "approvalc-release-prod", "stages": ["qa"],
            "definition_bytes": 1, "worst_case_history_events": 1, "state_count": 1}]);
        for stage in value["stages"].as_array_mut().unwrap() {
            if stage["id"] == "qa" {
                stage["part"] = serde_json::json!("approvalc-release-prod-part-1");
            }
        }
        let manifest: approvalc_compiler::lower::Manifest = serde_json::from_value(value).unwrap();
        let ids = external_ids(&manifest);
        assert_eq!(
            ids.get("approvalc-release-prod-qa").map(String::as_str),
            Some(part_arn)
        );
        assert_eq!(
            ids.get("approvalc-release-prod-prod-owner"),
            Some(&plain.parent_arn)
        );
    }

    #[test]
    fn hash_changes_with_any_field() {
        let spec = |d: &str| {
            Spec::StateMachine(MachineSpec {
                name: "m".to_owned(),
                role_arn: "r".to_owned(),
                definition: d.to_owned(),
            })
        };
        assert_eq!(spec("{}").hash(), spec("{}").hash());
        assert_ne!(spec("{}").hash(), spec("{ }").hash());
        assert_eq!(spec("{}").hash().len(), 20);
    }
}
