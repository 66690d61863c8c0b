//! What is "deployed" in the simulated AWS: read from the compiled artifacts only (the
//! rendered files of `approvalc compile`, `manifest.json` first), never from the workflow.
//!
//! Every account listed in the manifest is bootstrapped unless a [`Faults`] entry says
//! otherwise: its bootstrap template gives the child state machines (with their
//! `DefinitionSubstitutions` applied), the token table, the approval document, the
//! EventBridge rules and the Lambda functions they target. The workflow's own files give the
//! parent machine, the execute roles (trust policies checked by the simulated STS), the
//! approver policies, the pipelines and the documents rules.

use std::collections::BTreeMap;
use std::sync::Arc;

use approvalc_compiler::lower::Manifest;
use approvalc_compiler::lower::artifacts::PartEntry;
use approvalc_engine::Machine;
use approvalc_event_pattern::Pattern;
use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::error::LocalError;

/// Ways to deploy less than the artifacts describe, to see how AWS would fail.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Faults {
    /// Account names whose bootstrap stack was never deployed (no child machines, token
    /// table, approval document, callbacks or rules).
    #[serde(default)]
    pub not_bootstrapped: Vec<String>,
    /// Role names (as in the artifacts) that were never created.
    #[serde(default)]
    pub missing_roles: Vec<String>,
    /// Role name → the `sts:ExternalId` its trust policy demands instead of the compiled one.
    #[serde(default)]
    pub external_id_overrides: BTreeMap<String, String>,
}

/// An IAM role as deployed: its ARN, trust policy and inline policies.
#[derive(Debug, Clone)]
pub struct Role {
    pub arn: String,
    pub trust: Value,
    pub policies: Vec<Value>,
}

/// A standalone policy attached to principals (approver policies).
#[derive(Debug, Clone)]
pub struct AttachedPolicy {
    pub document: Value,
    pub attach_to: Vec<String>,
}

/// An EventBridge rule on an account's default bus and the Lambda it invokes.
#[derive(Debug, Clone)]
pub struct Rule {
    pub name: String,
    pub pattern: Arc<Pattern>,
    pub function: String,
}

/// One deployed account.
#[derive(Debug, Clone)]
pub struct Account {
    pub name: String,
    pub id: String,
    pub bootstrapped: bool,
    /// State machine name → definition.
    pub machines: BTreeMap<String, Arc<Machine>>,
    /// Role name → role.
    pub roles: BTreeMap<String, Role>,
    pub policies: Vec<AttachedPolicy>,
    pub rules: Vec<Rule>,
    /// Documents that exist: the approval document (bootstrap) → its `aws:approve` timeout.
    pub approval_documents: BTreeMap<String, i64>,
    /// Pipeline name → approval action timeout in seconds.
    pub pipelines: BTreeMap<String, i64>,
}

/// The whole simulated deployment of one workflow.
#[derive(Debug, Clone)]
pub struct Deployment {
    pub manifest: Manifest,
    pub parent: Arc<Machine>,
    /// By account id.
    pub accounts: BTreeMap<String, Account>,
    pub faults: Faults,
}

/// Default `aws:approve` timeout when the document does not say (AWS: 7 days).
const DEFAULT_APPROVE_SECONDS: i64 = 7 * 86_400;

impl Deployment {
    /// Builds the deployment from rendered artifact files `(path, contents)`.
    pub fn from_files(files: &[(String, String)], faults: Faults) -> Result<Self, LocalError> {
        let by_path: BTreeMap<&str, &str> = files
            .iter()
            .map(|(p, c)| (p.as_str(), c.as_str()))
            .collect();
        let json = |path: &str| -> Result<Value, LocalError> {
            let text = by_path
                .get(path)
                .ok_or_else(|| LocalError::Artifacts(format!("missing artifact `{path}`")))?;
            serde_json::from_str(text)
                .map_err(|e| LocalError::Artifacts(format!("`{path}` is not JSON: {e}")))
        };
        let manifest: Manifest = serde_json::from_value(json("manifest.json")?)
            .map_err(|e| LocalError::Artifacts(format!("manifest.json: {e}")))?;
        let parent = load_machine(&json(&manifest.parent.definition)?, "parent")?;
        let mut accounts = BTreeMap::new();
        for entry in &manifest.accounts {
            let bootstrapped = !faults.not_bootstrapped.contains(&entry.name);
            let mut account = Account {
                name: entry.name.clone(),
                id: entry.id.clone(),
                bootstrapped,
                machines: BTreeMap::new(),
                roles: BTreeMap::new(),
                policies: Vec::new(),
                rules: Vec::new(),
                approval_documents: BTreeMap::new(),
                pipelines: BTreeMap::new(),
            };
            if bootstrapped {
                let template = json(&entry.bootstrap)?;
                load_bootstrap(&mut account, &template, &manifest.region, &faults)?;
            }
            accounts.insert(entry.id.clone(), account);
        }
        let mut deployment = Deployment {
            parent: Arc::new(parent),
            accounts,
            manifest,
            faults,
        };
        deployment.load_workflow_files(files, &json)?;
        deployment.load_parts(&json)?;
        Ok(deployment)
    }

    fn load_workflow_files(
        &mut self,
        files: &[(String, String)],
        json: &dyn Fn(&str) -> Result<Value, LocalError>,
    ) -> Result<(), LocalError> {
        let region = self.manifest.region.clone();
        for entry in &self.manifest.files {
            let Some(account_name) = entry.account.as_deref() else {
                continue;
            };
            let Some(account) = self.accounts.values_mut().find(|a| a.name == account_name) else {
                continue;
            };
            let value = json(&entry.path)?;
            let path = entry.path.as_str();
            if path.ends_with(".role.json") {
                add_role(account, &value, &self.faults);
            } else if path.ends_with(".policy.json") {
                account.policies.push(AttachedPolicy {
                    document: value.get("PolicyDocument").cloned().unwrap_or(Value::Null),
                    attach_to: strings(value.get("AttachTo")),
                });
            } else if path.ends_with(".rule.json") {
                if let Some(rule) = rule_from(&value, &region, &account.id)? {
                    account.rules.push(rule);
                }
            } else if path.ends_with(".pipeline.json") {
                let pipeline = value.get("pipeline").unwrap_or(&Value::Null);
                let name = pipeline
                    .get("name")
                    .and_then(Value::as_str)
                    .unwrap_or_default();
                account
                    .pipelines
                    .insert(name.to_owned(), approval_timeout_seconds(pipeline));
            }
        }
        // The parent's own account also holds the parent machine.
        let _ = files;
        Ok(())
    }

    /// A split workflow's part machines (`manifest.parts`) are deployed in the home account
    /// beside the parent, under their own names, whether or not it is bootstrapped (they are
    /// the workflow's, not the bootstrap's).
    fn load_parts(
        &mut self,
        json: &dyn Fn(&str) -> Result<Value, LocalError>,
    ) -> Result<(), LocalError> {
        let home = self.manifest.home.id.clone();
        for part in &self.manifest.parts {
            let machine = load_machine(&json(&part.definition)?, &format!("part `{}`", part.name))?;
            let Some(account) = self.accounts.get_mut(&home) else {
                return Err(LocalError::Artifacts(format!(
                    "part `{}`: the home account {home} is not in the manifest",
                    part.name
                )));
            };
            account
                .machines
                .insert(part.name.clone(), Arc::new(machine));
        }
        Ok(())
    }

    /// The role an execution of `machine` in `account_id` runs as: a part runs as the role
    /// the manifest gives it (the parent's); a bootstrap child as its `<machine>-machine`.
    pub fn execution_role(&self, account_id: &str, machine: &str) -> String {
        if account_id == self.manifest.home.id
            && let Some(part) = self.part(machine)
        {
            return part.role_arn.clone();
        }
        let name = format!("{machine}-machine");
        self.account(account_id)
            .and_then(|a| a.roles.get(&name))
            .map_or_else(
                || format!("arn:aws:iam::{account_id}:role/{name}"),
                |r| r.arn.clone(),
            )
    }

    /// The part machine named `name`, if the workflow was split.
    pub fn part(&self, name: &str) -> Option<&PartEntry> {
        self.manifest.parts.iter().find(|p| p.name == name)
    }

    /// The account with this id.
    pub fn account(&self, id: &str) -> Option<&Account> {
        self.accounts.get(id)
    }

    /// The account named `name` in the workflow.
    pub fn account_named(&self, name: &str) -> Option<&Account> {
        self.accounts.values().find(|a| a.name == name)
    }

    /// The home account (runs the parent).
    pub fn home(&self) -> Option<&Account> {
        self.accounts.get(&self.manifest.home.id)
    }
}

fn load_machine(definition: &Value, what: &str) -> Result<Machine, LocalError> {
    Machine::load(definition)
        .map_err(|e| LocalError::Artifacts(format!("the {what} definition cannot run: {e}")))
}

fn strings(value: Option<&Value>) -> Vec<String> {
    value
        .and_then(Value::as_array)
        .map(|a| {
            a.iter()
                .filter_map(Value::as_str)
                .map(ToOwned::to_owned)
                .collect()
        })
        .unwrap_or_default()
}

fn add_role(account: &mut Account, value: &Value, faults: &Faults) {
    let Some(name) = value.get("RoleName").and_then(Value::as_str) else {
        return;
    };
    if faults.missing_roles.iter().any(|r| r == name) {
        return;
    }
    let mut trust = value
        .get("AssumeRolePolicyDocument")
        .cloned()
        .unwrap_or(Value::Null);
    if let Some(id) = faults.external_id_overrides.get(name) {
        override_external_id(&mut trust, id);
    }
    let policies = value
        .get("Policies")
        .and_then(Value::as_array)
        .map(|ps| {
            ps.iter()
                .filter_map(|p| p.get("PolicyDocument").cloned())
                .collect()
        })
        .unwrap_or_default();
    account.roles.insert(
        name.to_owned(),
        Role {
            arn: format!("arn:aws:iam::{}:role/{name}", account.id),
            trust,
            policies,
        },
    );
}

fn override_external_id(trust: &mut Value, id: &str) {
    let Some(statements) = trust.get_mut("Statement").and_then(Value::as_array_mut) else {
        return;
    };
    for statement in statements {
        if let Some(eq) = statement
            .get_mut("Condition")
            .and_then(|c| c.get_mut("StringEquals"))
            .and_then(Value::as_object_mut)
            && eq.contains_key("sts:ExternalId")
        {
            eq.insert("sts:ExternalId".into(), Value::String(id.to_owned()));
        }
    }
}

fn approval_timeout_seconds(pipeline: &Value) -> i64 {
    let minutes = pipeline
        .get("stages")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .flat_map(|s| {
            s.get("actions")
                .and_then(Value::as_array)
                .into_iter()
                .flatten()
        })
        .find(|a| a.pointer("/actionTypeId/category").and_then(Value::as_str) == Some("Approval"))
        .and_then(|a| a.get("timeoutInMinutes"))
        .and_then(Value::as_i64);
    // CodePipeline's default for manual approvals is 7 days.
    minutes.map_or(7 * 86_400, |m| m * 60)
}

/// Resolves the CloudFormation intrinsics bootstrap templates use (`Ref`, `Fn::Sub`,
/// `Fn::GetAtt` of a named resource) against the account.
struct Cfn<'a> {
    resources: &'a serde_json::Map<String, Value>,
    region: &'a str,
    account: &'a str,
}

impl Cfn<'_> {
    fn resolve(&self, value: &Value) -> Value {
        match value {
            Value::Object(map) if map.len() == 1 => {
                if let Some(target) = map.get("Ref").and_then(Value::as_str) {
                    return self.reference(target);
                }
                if let Some(text) = map.get("Fn::Sub").and_then(Value::as_str) {
                    return Value::String(self.sub(text));
                }
                if let Some(parts) = map.get("Fn::GetAtt").and_then(Value::as_array) {
                    let name = parts.first().and_then(Value::as_str).unwrap_or_default();
                    return self.reference(name);
                }
                Value::Object(
                    map.iter()
                        .map(|(k, v)| (k.clone(), self.resolve(v)))
                        .collect(),
                )
            }
            Value::Object(map) => Value::Object(
                map.iter()
                    .map(|(k, v)| (k.clone(), self.resolve(v)))
                    .collect(),
            ),
            Value::Array(items) => Value::Array(items.iter().map(|v| self.resolve(v)).collect()),
            other => other.clone(),
        }
    }

    fn sub(&self, text: &str) -> String {
        text.replace("${AWS::Partition}", "aws")
            .replace("${AWS::Region}", self.region)
            .replace("${AWS::AccountId}", self.account)
    }

    /// `Ref`/`GetAtt` of a resource: its physical name (table, function, role, machine).
    fn reference(&self, name: &str) -> Value {
        match name {
            "AWS::AccountId" => return Value::String(self.account.to_owned()),
            "AWS::Region" => return Value::String(self.region.to_owned()),
            "AWS::Partition" => return Value::String("aws".to_owned()),
            _ => {}
        }
        let props = self.resources.get(name).and_then(|r| r.get("Properties"));
        let field = |key: &str| props.and_then(|p| p.get(key)).and_then(Value::as_str);
        let physical = field("TableName")
            .or_else(|| field("FunctionName"))
            .or_else(|| field("RoleName"))
            .or_else(|| field("StateMachineName"))
            .or_else(|| field("Name"))
            .unwrap_or(name);
        Value::String(physical.to_owned())
    }
}

fn load_bootstrap(
    account: &mut Account,
    template: &Value,
    region: &str,
    faults: &Faults,
) -> Result<(), LocalError> {
    let empty = serde_json::Map::new();
    let resources = template
        .get("Resources")
        .and_then(Value::as_object)
        .unwrap_or(&empty);
    let id = account.id.clone();
    let cfn = Cfn {
        resources,
        region,
        account: &id,
    };
    for resource in resources.values() {
        let kind = resource
            .get("Type")
            .and_then(Value::as_str)
            .unwrap_or_default();
        let props = cfn.resolve(resource.get("Properties").unwrap_or(&Value::Null));
        match kind {
            "AWS::StepFunctions::StateMachine" => {
                let name = props
                    .get("StateMachineName")
                    .and_then(Value::as_str)
                    .unwrap_or_default()
                    .to_owned();
                let mut definition = props.get("Definition").cloned().unwrap_or(Value::Null);
                if let Some(subs) = props
                    .get("DefinitionSubstitutions")
                    .and_then(Value::as_object)
                {
                    substitute(&mut definition, subs);
                }
                let machine = load_machine(&definition, &format!("child `{name}`"))?;
                account.machines.insert(name, Arc::new(machine));
            }
            "AWS::IAM::Role" => add_role(account, &props, faults),
            "AWS::SSM::Document" => {
                let name = props
                    .get("Name")
                    .and_then(Value::as_str)
                    .unwrap_or_default();
                let content = match props.get("Content") {
                    Some(Value::String(s)) => serde_json::from_str(s).unwrap_or(Value::Null),
                    Some(v) => v.clone(),
                    None => Value::Null,
                };
                account
                    .approval_documents
                    .insert(name.to_owned(), approve_timeout(&content));
            }
            "AWS::Events::Rule" => {
                if let Some(rule) = rule_from(&props, region, &id)? {
                    account.rules.push(rule);
                }
            }
            _ => {}
        }
    }
    Ok(())
}

fn approve_timeout(content: &Value) -> i64 {
    content
        .get("mainSteps")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .find(|s| s.get("action").and_then(Value::as_str) == Some("aws:approve"))
        .and_then(|s| s.get("timeoutSeconds"))
        .and_then(|t| {
            t.as_i64()
                .or_else(|| t.as_str().and_then(|s| s.parse().ok()))
        })
        .unwrap_or(DEFAULT_APPROVE_SECONDS)
}

/// `DefinitionSubstitutions`: `${Key}` in any string of the definition.
fn substitute(value: &mut Value, subs: &serde_json::Map<String, Value>) {
    match value {
        Value::String(s) => {
            for (key, with) in subs {
                if let Some(with) = with.as_str() {
                    *s = s.replace(&format!("${{{key}}}"), with);
                }
            }
        }
        Value::Array(items) => items.iter_mut().for_each(|v| substitute(v, subs)),
        Value::Object(map) => map.values_mut().for_each(|v| substitute(v, subs)),
        _ => {}
    }
}

/// A rule with an event pattern targeting a Lambda; schedules (the reconciler) are left to
/// [`crate::World::reconcile`].
fn rule_from(props: &Value, region: &str, account: &str) -> Result<Option<Rule>, LocalError> {
    let name = props
        .get("Name")
        .and_then(Value::as_str)
        .unwrap_or_default();
    let Some(pattern) = props.get("EventPattern") else {
        return Ok(None);
    };
    let pattern = Pattern::parse(pattern).map_err(|e| {
        LocalError::Artifacts(format!(
            "rule `{name}` in {account}: invalid event pattern at {}: {}",
            e.path(),
            e.reason()
        ))
    })?;
    let target = props
        .get("Targets")
        .and_then(Value::as_array)
        .and_then(|t| t.first())
        .and_then(|t| t.get("Arn"))
        .and_then(Value::as_str)
        .unwrap_or_default();
    // A function ARN or (from a resolved GetAtt) a bare function name.
    let function = target.rsplit(':').next().unwrap_or(target).to_owned();
    let _ = region;
    Ok(Some(Rule {
        name: name.to_owned(),
        pattern: Arc::new(pattern),
        function,
    }))
}
