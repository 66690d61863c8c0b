//! Plan and apply: compare the desired state with what lives in each account (ownership by
//! tag, freshness by hash), then create, update and delete in dependency order.

use std::collections::BTreeSet;
use std::fmt;
use std::time::{Duration, Instant};

use approvalc_compiler::lower::names::ChildKind;
use futures_util::future::try_join_all;
use futures_util::{StreamExt as _, TryStreamExt as _, stream};
use serde::Serialize;

use crate::error::{CallError, CallErrorKind, DeployError};
use crate::model::{Account, Desired, DesiredState, Kind, Spec};
use crate::provider::{Provider, Tags, owned_name};
use crate::providers;
use crate::session::{AccountClients, Session, external_id};

/// What will happen to one resource.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(tag = "action", rename_all = "kebab-case")]
pub enum Action {
    Create,
    /// `diff` is a unified diff live → desired (empty when not asked for).
    Update {
        diff: String,
    },
    Unchanged,
    /// Owned by this workflow but no longer in it.
    Delete,
    /// The name is taken by something this workflow did not create: deploy stops.
    Conflict {
        owner: Option<String>,
    },
}

impl Action {
    pub const fn label(&self) -> &'static str {
        match self {
            Action::Create => "create",
            Action::Update { .. } => "update",
            Action::Unchanged => "unchanged",
            Action::Delete => "delete",
            Action::Conflict { .. } => "conflict",
        }
    }
}

/// One line of a plan.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Change {
    pub account: Account,
    pub kind: Kind,
    pub name: String,
    #[serde(flatten)]
    pub action: Action,
    #[serde(skip)]
    pub desired: Option<Desired>,
    /// The live trust policy of a role, read with its tags (see [`Deployer::verify_trust`]).
    #[serde(skip)]
    pub live_trust: Option<serde_json::Value>,
}

impl fmt::Display for Change {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} {} {}", self.kind, self.name, self.account)
    }
}

/// Every change for one workflow, in apply order.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Plan {
    pub workflow: String,
    pub changes: Vec<Change>,
}

/// How many changes of each action.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize)]
pub struct Counts {
    pub create: usize,
    pub update: usize,
    pub unchanged: usize,
    pub delete: usize,
    pub conflict: usize,
}

impl fmt::Display for Counts {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{} to create, {} to update, {} unchanged, {} to delete",
            self.create, self.update, self.unchanged, self.delete
        )?;
        if self.conflict > 0 {
            write!(f, ", {} in conflict", self.conflict)?;
        }
        Ok(())
    }
}

impl Plan {
    pub fn counts(&self) -> Counts {
        let mut c = Counts::default();
        for change in &self.changes {
            match change.action {
                Action::Create => c.create += 1,
                Action::Update { .. } => c.update += 1,
                Action::Unchanged => c.unchanged += 1,
                Action::Delete => c.delete += 1,
                Action::Conflict { .. } => c.conflict += 1,
            }
        }
        c
    }

    pub fn is_noop(&self) -> bool {
        self.changes
            .iter()
            .all(|c| matches!(c.action, Action::Unchanged))
    }
}

/// Progress of [`Deployer::apply`], one `Start` and one `Done` per change that does work.
/// Changes of one kind run concurrently, so events of different resources interleave.
#[derive(Debug)]
pub enum Event<'a> {
    Start(&'a Change),
    Done(&'a Change, Duration),
}

/// How many requests one account has in flight at most (reads and writes alike). IAM and
/// Step Functions throttle bursts well above this; the SDK retries throttling anyway.
pub const CONCURRENCY_PER_ACCOUNT: usize = 8;

/// A workflow's desired state bound to clients in each of its accounts.
#[derive(Debug)]
pub struct Deployer {
    pub desired: DesiredState,
    clients: Vec<AccountClients>,
}

impl Deployer {
    /// Connects to every account of the workflow (assuming the deploy role where needed),
    /// all accounts at once.
    pub async fn connect(session: &Session, desired: DesiredState) -> Result<Self, DeployError> {
        let external = external_id(&desired.home.id);
        let clients = try_join_all(
            desired
                .accounts
                .iter()
                .map(|account| session.account(account, &external)),
        )
        .await?;
        Ok(Deployer { desired, clients })
    }

    pub fn clients(&self, account: &Account) -> Option<&AccountClients> {
        self.clients.iter().find(|c| &c.account == account)
    }

    fn provider(&self, account: &Account, kind: Kind) -> Result<Box<dyn Provider>, DeployError> {
        self.clients(account)
            .map(|c| providers::for_kind(c, kind))
            .ok_or_else(|| DeployError::new(format!("internal: no clients for account {account}")))
    }

    fn position(&self, account: &Account) -> usize {
        self.desired
            .accounts
            .iter()
            .position(|a| a == account)
            .unwrap_or(usize::MAX)
    }

    /// Reads the live state and compares; `with_diff` also fetches what is needed to show
    /// a diff for each update. Per account and kind: one list call, then one read per
    /// desired resource the list shows (absent ones cost nothing more), all accounts and
    /// kinds concurrently.
    pub async fn plan(&self, with_diff: bool) -> Result<Plan, DeployError> {
        self.compare(Some(with_diff)).await
    }

    /// A plan that deletes everything this workflow owns (for `approvalc destroy`): what
    /// carries its `approvalc:workflow` tag, nothing else.
    pub async fn plan_destroy(&self) -> Result<Plan, DeployError> {
        self.compare(None).await
    }

    /// `with_diff: None` compares against an empty desired state.
    async fn compare(&self, with_diff: Option<bool>) -> Result<Plan, DeployError> {
        let mut jobs = Vec::new();
        for account in &self.desired.accounts {
            for kind in Kind::APPLY_ORDER {
                jobs.push(self.compare_kind(account, kind, with_diff));
            }
        }
        let mut changes: Vec<Change> = try_join_all(jobs).await?.into_iter().flatten().collect();
        changes.sort_by(|a, b| {
            (a.kind, self.position(&a.account), &a.name).cmp(&(
                b.kind,
                self.position(&b.account),
                &b.name,
            ))
        });
        Ok(Plan {
            workflow: self.desired.workflow.clone(),
            changes,
        })
    }

    async fn compare_kind(
        &self,
        account: &Account,
        kind: Kind,
        with_diff: Option<bool>,
    ) -> Result<Vec<Change>, DeployError> {
        let prefix = self.desired.prefix();
        let workflow = self.desired.workflow.as_str();
        let provider = self.provider(account, kind)?;
        let provider = provider.as_ref();
        let fail = |e: CallError| DeployError::from_call(e, &account.to_string());
        let listed: BTreeSet<String> = provider
            .list(&prefix)
            .await
            .map_err(fail)?
            .into_iter()
            .collect();
        let wanted: Vec<&Desired> = match with_diff {
            Some(_) => self.desired.of(account, kind).collect(),
            None => Vec::new(),
        };
        let wanted_names: BTreeSet<&str> = wanted.iter().map(|d| d.name()).collect();
        let with_diff = with_diff.unwrap_or(false);
        let (prefix, listed) = (&prefix, &listed);
        let desired_changes = stream::iter(wanted.into_iter().map(|desired| async move {
            let known_absent =
                owned_name(prefix, desired.name()) && !listed.contains(desired.name());
            let live = if known_absent {
                None
            } else {
                provider.read(desired.name()).await.map_err(fail)?
            };
            let action = match &live {
                None => Action::Create,
                Some(o) if o.workflow.as_deref() != Some(workflow) => Action::Conflict {
                    owner: o.workflow.clone(),
                },
                Some(o) if o.hash.as_deref() == Some(desired.hash.as_str()) => Action::Unchanged,
                Some(_) => Action::Update {
                    diff: if with_diff {
                        let live = provider.describe(desired.name()).await.map_err(fail)?;
                        diff(live.as_ref(), &desired.spec)
                    } else {
                        String::new()
                    },
                },
            };
            Ok::<_, DeployError>(Change {
                account: account.clone(),
                kind,
                name: desired.name().to_owned(),
                action,
                desired: Some(desired.clone()),
                live_trust: live.and_then(|o| o.trust),
            })
        }))
        .buffered(CONCURRENCY_PER_ACCOUNT)
        .try_collect::<Vec<_>>();
        let orphans: Vec<&String> = listed
            .iter()
            .filter(|n| !wanted_names.contains(n.as_str()))
            .collect();
        let orphan_changes = stream::iter(orphans.into_iter().map(|name| async move {
            let owned = provider
                .read(name)
                .await
                .map_err(fail)?
                .is_some_and(|o| o.workflow.as_deref() == Some(workflow));
            Ok::<_, DeployError>(owned.then(|| Change {
                account: account.clone(),
                kind,
                name: name.clone(),
                action: Action::Delete,
                desired: None,
                live_trust: None,
            }))
        }))
        .buffered(CONCURRENCY_PER_ACCOUNT)
        .try_collect::<Vec<_>>();
        let (mut changes, orphans) =
            futures_util::future::try_join(desired_changes, orphan_changes).await?;
        changes.extend(orphans.into_iter().flatten());
        Ok(changes)
    }

    /// Applies a plan: creates and updates kind by kind in apply order (roles before the
    /// policies, pipelines, rules and machine that use them), then deletes in reverse kind
    /// order. Within a kind, every account and resource at once. The first failure stops
    /// the rest (in-flight calls are dropped, as if killed); re-running converges.
    pub async fn apply(
        &self,
        plan: &Plan,
        progress: &(dyn Fn(Event<'_>) + Send + Sync),
    ) -> Result<(), DeployError> {
        if let Some(conflict) = plan
            .changes
            .iter()
            .find(|c| matches!(c.action, Action::Conflict { .. }))
        {
            return Err(conflict_error(conflict));
        }
        let limit = CONCURRENCY_PER_ACCOUNT * self.desired.accounts.len().max(1);
        for kind in Kind::APPLY_ORDER {
            let work = plan.changes.iter().filter(|c| {
                c.kind == kind && matches!(c.action, Action::Create | Action::Update { .. })
            });
            stream::iter(work.map(|change| async move {
                let Some(desired) = &change.desired else {
                    return Ok(());
                };
                progress(Event::Start(change));
                let started = Instant::now();
                self.converge(change, desired).await?;
                progress(Event::Done(change, started.elapsed()));
                Ok::<_, DeployError>(())
            }))
            .buffer_unordered(limit)
            .try_collect::<Vec<_>>()
            .await?;
        }
        for kind in Kind::APPLY_ORDER.iter().rev() {
            let work = plan
                .changes
                .iter()
                .filter(|c| c.kind == *kind && c.action == Action::Delete);
            stream::iter(work.map(|change| async move {
                progress(Event::Start(change));
                let started = Instant::now();
                self.provider(&change.account, change.kind)?
                    .delete(&change.name)
                    .await
                    .map_err(|e| DeployError::from_call(e, &change.account.to_string()))?;
                progress(Event::Done(change, started.elapsed()));
                Ok::<_, DeployError>(())
            }))
            .buffer_unordered(limit)
            .try_collect::<Vec<_>>()
            .await?;
        }
        Ok(())
    }

    async fn converge(&self, change: &Change, desired: &Desired) -> Result<(), DeployError> {
        let provider = self.provider(&change.account, change.kind)?;
        let fail = |e: CallError| DeployError::from_call(e, &change.account.to_string());
        let tags = Tags {
            workflow: self.desired.workflow.clone(),
            hash: desired.hash.clone(),
        };
        match change.action {
            Action::Create => match provider.create(&desired.spec, &tags).await {
                Err(e) if e.is(CallErrorKind::AlreadyExists) => {
                    // Created since the plan (or by a run that was killed before it could
                    // record it): take it over only when it carries our tag.
                    match provider.read(desired.name()).await.map_err(fail)? {
                        Some(o) if o.workflow.as_deref() == Some(&self.desired.workflow) => {
                            provider.update(&desired.spec, &tags).await.map_err(fail)
                        }
                        o => Err(conflict_error(&Change {
                            action: Action::Conflict {
                                owner: o.and_then(|o| o.workflow),
                            },
                            ..change.clone()
                        })),
                    }
                }
                other => other.map_err(fail),
            },
            _ => provider.update(&desired.spec, &tags).await.map_err(fail),
        }
    }

    /// Checks that each account has what bootstrap provides and this workflow uses (one
    /// `DescribeStateMachine` per child kind per account, all at once).
    pub async fn check_bootstrap(&self) -> Result<(), DeployError> {
        let mut checks = Vec::new();
        for clients in &self.clients {
            let kinds = self
                .desired
                .children
                .get(&clients.account.name)
                .cloned()
                .unwrap_or_default();
            for kind in kinds {
                checks.push(check_child(clients, kind));
            }
        }
        try_join_all(checks).await.map(|_| ())
    }

    /// Checks that each cross-account execute role trusts exactly the parent's role with
    /// `sts:ExternalId` = the parent's ARN, before any run relies on it. Roles the plan
    /// found unchanged are checked against the trust policy the plan already read (no
    /// call); created or updated ones are read back. Returns how many roles were checked.
    pub async fn verify_trust(&self, plan: &Plan) -> Result<usize, DeployError> {
        let checks = self
            .desired
            .resources
            .iter()
            .filter(|d| d.kind() == Kind::Role && d.account != self.desired.home)
            .map(|desired| async move {
                let known = plan
                    .changes
                    .iter()
                    .find(|c| {
                        c.kind == Kind::Role
                            && c.account == desired.account
                            && c.name == desired.name()
                            && c.action == Action::Unchanged
                    })
                    .and_then(|c| c.live_trust.clone());
                let trust = match known {
                    Some(t) => Some(t),
                    None => self
                        .provider(&desired.account, Kind::Role)?
                        .read(desired.name())
                        .await
                        .map_err(|e| DeployError::from_call(e, &desired.account.to_string()))?
                        .and_then(|o| o.trust),
                };
                let Some(trust) = trust else {
                    return Err(DeployError::new(format!(
                        "execute role {} is missing in account {}",
                        desired.name(),
                        desired.account
                    ))
                    .with_help("run `approvalc deploy` again"));
                };
                let external_id = self
                    .desired
                    .external_ids
                    .get(desired.name())
                    .unwrap_or(&self.desired.parent_arn);
                if !trusts_parent(&trust, &self.desired.parent_role_arn, external_id) {
                    return Err(DeployError::new(format!(
                        "execute role {} in account {} does not trust {} with ExternalId {}",
                        desired.name(),
                        desired.account,
                        self.desired.parent_role_arn,
                        external_id
                    ))
                    .with_help(
                        "someone changed its trust policy: run `approvalc deploy` again to restore it",
                    ));
                }
                Ok(())
            });
        Ok(try_join_all(checks).await?.len())
    }
}

async fn check_child(clients: &AccountClients, kind: ChildKind) -> Result<(), DeployError> {
    let account = &clients.account;
    let arn = format!(
        "arn:aws:states:{}:{}:stateMachine:{}",
        clients.region,
        account.id,
        kind.machine_name()
    );
    let result = clients
        .sfn
        .describe_state_machine()
        .state_machine_arn(&arn)
        .send()
        .await
        .map_err(|e| crate::error::call_error("states:DescribeStateMachine", e));
    match result {
        Ok(_) => Ok(()),
        Err(e) if e.is(CallErrorKind::NotFound) => Err(DeployError::new(format!(
            "account {account} is not bootstrapped: state machine {} is missing",
            kind.machine_name()
        ))
        .with_help(format!(
            "run `approvalc bootstrap {} FILE` (Lambda zips from scripts/package-lambdas.sh) with credentials of account {}, then deploy again",
            account.name, account.id
        ))),
        Err(e) => Err(DeployError::from_call(e, &account.to_string())),
    }
}

fn conflict_error(change: &Change) -> DeployError {
    let owner = match &change.action {
        Action::Conflict { owner: Some(o) } => format!("belongs to approvalc workflow `{o}`"),
        _ => "was not created by approvalc".to_owned(),
    };
    DeployError::new(format!(
        "{} {} already exists in account {} and {owner}; approvalc never changes what it did not create",
        change.kind, change.name, change.account
    ))
    .with_help("rename the workflow (or stage) so that its resource names are free, or delete that resource yourself")
}

/// Whether a trust policy lets `role_arn` assume the role only with `external_id`.
pub fn trusts_parent(trust: &serde_json::Value, role_arn: &str, external_id: &str) -> bool {
    let statements = match trust.get("Statement") {
        Some(serde_json::Value::Array(s)) => s.clone(),
        Some(one) => vec![one.clone()],
        None => Vec::new(),
    };
    statements.iter().any(|s| {
        let principal_ok = match s.pointer("/Principal/AWS") {
            Some(serde_json::Value::String(p)) => p == role_arn,
            Some(serde_json::Value::Array(ps)) => ps.len() == 1 && ps.iter().any(|p| p == role_arn),
            _ => false,
        };
        let allow = s.get("Effect").and_then(|e| e.as_str()) == Some("Allow");
        let external = s.pointer("/Condition/StringEquals/sts:ExternalId");
        let external_ok = match external {
            Some(serde_json::Value::String(e)) => e == external_id,
            Some(serde_json::Value::Array(es)) => {
                es.len() == 1 && es.iter().any(|e| e == external_id)
            }
            _ => false,
        };
        allow && principal_ok && external_ok
    })
}

/// A unified diff live → desired.
pub fn diff(live: Option<&Spec>, desired: &Spec) -> String {
    let before = live.map(Spec::to_diffable).unwrap_or_default();
    let after = desired.to_diffable();
    similar::TextDiff::from_lines(&before, &after)
        .unified_diff()
        .context_radius(2)
        .header("live", "desired")
        .to_string()
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn trust_needs_the_parent_role_and_external_id() {
        let good = json!({"Statement": [{"Effect": "Allow", "Principal": {"AWS": "R"}, "Action": ["sts:AssumeRole"],
            "Condition": {"StringEquals": {"sts:ExternalId": "M"}}}]});
        assert!(trusts_parent(&good, "R", "M"));
        assert!(!trusts_parent(&good, "R", "other"));
        assert!(!trusts_parent(&good, "X", "M"));
        let no_condition = json!({"Statement": [{"Effect": "Allow", "Principal": {"AWS": "R"}}]});
        assert!(!trusts_parent(&no_condition, "R", "M"));
        let wide = json!({"Statement": [{"Effect": "Allow", "Principal": {"AWS": ["R", "*"]},
            "Condition": {"StringEquals": {"sts:ExternalId": "M"}}}]});
        assert!(!trusts_parent(&wide, "R", "M"));
    }

    #[test]
    fn diff_shows_changed_lines_only() {
        let spec = |d: &str| {
            Spec::StateMachine(crate::model::MachineSpec {
                name: "m".to_owned(),
                role_arn: "r".to_owned(),
                definition: d.to_owned(),
            })
        };
        let d = diff(Some(&spec(r#"{"A":1,"B":2}"#)), &spec(r#"{"A":1,"B":3}"#));
        assert!(d.contains("-    \"B\": 2"), "{d}");
        assert!(d.contains("+    \"B\": 3"), "{d}");
        assert!(!d.contains("+    \"A\""), "{d}");
    }
}
