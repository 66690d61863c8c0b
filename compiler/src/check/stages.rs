//! Per-stage checks: account, timeout and escalation, binding limits, templates, `when`,
//! names; each stage is built into a [`model::Stage`] when it has no errors.

use std::time::Duration;

use approvalc_dsl::ast::{self, Spanned, Text, Workflow};
use approvalc_dsl::values::{Arn, OnTimeout as AstOnTimeout, Principal};
use approvalc_dsl::{Diagnostic, Span};

use super::graph::Graph;
use super::input::resolve_account;
use super::refs::Resolver;
use crate::codes;
use crate::model::{
    self, ActionStage, Binding, CodePipelineApproval, Escalation, OnTimeout, PipelineTarget,
    Reference, SsmApproval, StageIndex, Template, TemplatePart, Timeout, When, limits, names,
};

/// What every stage shares: the workflow, the graph, and the resolved home account.
pub struct Context<'a> {
    pub workflow: &'a Workflow,
    pub graph: &'a Graph,
    pub accounts: &'a [Option<model::Account>],
    /// Index of `home` in `accounts`.
    pub home: Option<usize>,
    /// Set for every account a stage (or `home`) runs in.
    pub used_accounts: Vec<bool>,
}

/// The binding kinds, for limits.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    Ssm,
    CodePipeline,
    Action,
}

impl Kind {
    fn of(binding: &ast::Binding) -> Self {
        match binding {
            ast::Binding::Ssm(_) => Kind::Ssm,
            ast::Binding::CodePipeline(_) => Kind::CodePipeline,
            ast::Binding::Action(_) => Kind::Action,
        }
    }

    fn describe(self) -> &'static str {
        match self {
            Kind::Ssm => "an SSM approval",
            Kind::CodePipeline => "a CodePipeline approval",
            Kind::Action => "an action",
        }
    }

    /// The allowed timeout range, and how to say it.
    fn timeout_range(self) -> Option<(Duration, Duration, &'static str)> {
        match self {
            Kind::Ssm => Some((
                Duration::from_secs(1),
                limits::SSM_MAX_TIMEOUT,
                "an SSM `aws:approve` step waits at most 30d",
            )),
            Kind::CodePipeline => Some((
                limits::CODEPIPELINE_MIN_TIMEOUT,
                limits::CODEPIPELINE_MAX_TIMEOUT,
                "a CodePipeline manual approval waits 5m to 60d",
            )),
            Kind::Action => None,
        }
    }
}

impl Context<'_> {
    /// Checks one stage (file position `here`) and builds it if it has no errors.
    pub fn stage(
        &mut self,
        here: usize,
        stage: &ast::Stage,
        diags: &mut Vec<Diagnostic>,
    ) -> Option<model::Stage> {
        let before = diags.iter().filter(|d| d.is_error()).count();
        let resolver = Resolver {
            workflow: self.workflow,
            graph: self.graph,
            here,
        };
        let account = self.account(stage, diags);
        let kind = stage.binding.as_ref().map(Kind::of);
        let timeout = self.timeout(stage, kind, diags);
        let on_timeout = self.on_timeout(stage, kind, timeout, diags);
        let when = stage.when.as_ref().and_then(|text| {
            resolver.condition(text, diags).map(|condition| When {
                condition,
                text: text.value.clone(),
                span: text.span,
            })
        });
        let binding = stage
            .binding
            .as_ref()
            .and_then(|b| self.binding(stage, b, &resolver, diags));
        self.names(stage, diags);
        let errors = diags.iter().filter(|d| d.is_error()).count();
        if errors > before {
            return None;
        }
        let position = |file: usize| {
            self.graph
                .order
                .as_ref()
                .and_then(|o| o.position.get(file).copied())
        };
        let needs = self
            .graph
            .needs
            .get(here)?
            .iter()
            .map(|&(n, _)| position(n).map(StageIndex))
            .collect::<Option<Vec<_>>>()?;
        Some(model::Stage {
            id: stage.valid_id.clone()?,
            span: stage.id.span,
            needs,
            account: account?,
            when: match (&stage.when, when) {
                (Some(_), None) => return None,
                (_, when) => when,
            },
            timeout: timeout?,
            on_timeout: on_timeout?,
            binding: binding?,
        })
    }

    fn account(
        &mut self,
        stage: &ast::Stage,
        diags: &mut Vec<Diagnostic>,
    ) -> Option<model::Account> {
        let index = match &stage.account {
            Some(name) => resolve_account(self.workflow, &name.value, name.span, "account", diags)?,
            None => self.home?,
        };
        if let Some(used) = self.used_accounts.get_mut(index) {
            *used = true;
        }
        self.accounts.get(index)?.clone()
    }

    /// The effective timeout, checked against the binding's range.
    fn timeout(
        &self,
        stage: &ast::Stage,
        kind: Option<Kind>,
        diags: &mut Vec<Diagnostic>,
    ) -> Option<Timeout> {
        let (duration, span, inherited) = match (&stage.timeout, &self.workflow.defaults.timeout) {
            (Some(t), _) => (secs(t.value.as_secs()), Some(t.span), false),
            (None, Some(t)) => (secs(t.value.as_secs()), Some(t.span), true),
            (None, None) => (model::DEFAULT_TIMEOUT, None, false),
        };
        let timeout = Timeout { duration, span };
        if let (Some(kind), Some(span)) = (kind, span) {
            let at = if inherited { stage.id.span } else { span };
            if !in_range(
                kind,
                duration,
                codes::TIMEOUT_LIMIT,
                &format!("the timeout of stage `{}`", stage.id.value),
                at,
                diags,
                |d| {
                    if inherited {
                        d.with_related(span, "set here in `defaults`")
                    } else {
                        d
                    }
                },
            ) {
                return None;
            }
        }
        Some(timeout)
    }

    fn on_timeout(
        &self,
        stage: &ast::Stage,
        kind: Option<Kind>,
        timeout: Option<Timeout>,
        diags: &mut Vec<Diagnostic>,
    ) -> Option<OnTimeout> {
        let explicit = stage.on_timeout.as_ref();
        let inherited = self.workflow.defaults.on_timeout.as_ref();
        let escalate = stage.escalate.as_ref();
        if kind == Some(Kind::Action) {
            return self.action_timeout(stage, explicit, escalate, diags);
        }
        match (explicit.or(inherited), escalate) {
            (Some(on), Some(esc)) if on.value == AstOnTimeout::Escalate => {
                let timeout = timeout?;
                self.escalation(esc, kind, timeout, diags)
                    .map(OnTimeout::Escalate)
            }
            (Some(on), None) if on.value == AstOnTimeout::Escalate => {
                let (span, related) = match explicit {
                    Some(e) => (e.span, None),
                    None => (stage.id.span, Some(on.span)),
                };
                let mut d = Diagnostic::error(
                    codes::ON_TIMEOUT_WITHOUT_ESCALATE,
                    format!("stage `{}` escalates on timeout but has no `escalate:`", stage.id.value),
                    span,
                )
                .with_label("`on_timeout: escalate` needs `escalate:`")
                .with_help("add `escalate: { approvers: [...], timeout: 1d }` to the stage, or set `on_timeout: reject`");
                if let Some(r) = related {
                    d = d.with_related(r, "inherited from `defaults`");
                }
                diags.push(d);
                None
            }
            (_, Some(esc)) => {
                let mut d = Diagnostic::error(
                    codes::ESCALATE_WITHOUT_ON_TIMEOUT,
                    format!(
                        "stage `{}` has `escalate:` but does not escalate on timeout",
                        stage.id.value
                    ),
                    esc.span,
                )
                .with_label("never used")
                .with_help("add `on_timeout: escalate` to the stage, or remove `escalate:`");
                if let Some(on) = explicit.or(inherited) {
                    d = d.with_related(on.span, "`on_timeout` is `reject` here");
                }
                diags.push(d);
                None
            }
            _ => Some(OnTimeout::Reject),
        }
    }

    /// Action stages have no approvers, so nothing to escalate to. `defaults.on_timeout:
    /// escalate` does not apply to them (a default cannot be an error on a stage that did
    /// not ask for it); an explicit one is an error.
    fn action_timeout(
        &self,
        stage: &ast::Stage,
        explicit: Option<&Spanned<AstOnTimeout>>,
        escalate: Option<&Spanned<ast::Escalate>>,
        diags: &mut Vec<Diagnostic>,
    ) -> Option<OnTimeout> {
        let bad = escalate.map(|e| e.span).or(explicit
            .filter(|e| e.value == AstOnTimeout::Escalate)
            .map(|e| e.span));
        match bad {
            Some(span) => {
                diags.push(
                    Diagnostic::error(
                        codes::ESCALATE_ON_ACTION,
                        format!("action stage `{}` cannot escalate", stage.id.value),
                        span,
                    )
                    .with_label("an action has no approvers to escalate to")
                    .with_help("remove it; a timed-out action rejects the run"),
                );
                None
            }
            None => Some(OnTimeout::Reject),
        }
    }

    fn escalation(
        &self,
        esc: &Spanned<ast::Escalate>,
        kind: Option<Kind>,
        stage_timeout: Timeout,
        diags: &mut Vec<Diagnostic>,
    ) -> Option<Escalation> {
        let approvers = esc
            .value
            .approvers
            .as_ref()
            .and_then(|a| approvers(a, limits::SSM_MAX_APPROVERS, "escalation", diags));
        let timeout = match &esc.value.timeout {
            Some(t) => {
                let timeout = Timeout {
                    duration: secs(t.value.as_secs()),
                    span: Some(t.span),
                };
                if let Some(kind) = kind
                    && !in_range(
                        kind,
                        timeout.duration,
                        codes::ESCALATE_TIMEOUT_LIMIT,
                        "the escalation timeout",
                        t.span,
                        diags,
                        |d| d,
                    )
                {
                    return None;
                }
                timeout
            }
            None => stage_timeout,
        };
        Some(Escalation {
            approvers: approvers?,
            timeout,
            span: esc.span,
        })
    }

    fn binding(
        &self,
        stage: &ast::Stage,
        binding: &ast::Binding,
        resolver: &Resolver<'_>,
        diags: &mut Vec<Diagnostic>,
    ) -> Option<Binding> {
        match binding {
            ast::Binding::Ssm(ssm) => self.ssm(stage, ssm, resolver, diags).map(Binding::Ssm),
            ast::Binding::CodePipeline(cp) => self
                .codepipeline(stage, cp, resolver, diags)
                .map(Binding::CodePipeline),
            ast::Binding::Action(action) => {
                action_stage(action, resolver, diags).map(Binding::Action)
            }
        }
    }

    fn ssm(
        &self,
        stage: &ast::Stage,
        ssm: &Spanned<ast::SsmApproval>,
        resolver: &Resolver<'_>,
        diags: &mut Vec<Diagnostic>,
    ) -> Option<SsmApproval> {
        let approvers = ssm
            .value
            .approvers
            .as_ref()
            .and_then(|a| approvers(a, limits::SSM_MAX_APPROVERS, "SSM approval", diags));
        let count = ssm.value.approvers.as_ref().map_or(0, |a| a.value.len());
        let min_approvals = match &ssm.value.min_approvals {
            Some(min) if min.value == 0 || (count > 0 && min.value as usize > count) => {
                diags.push(
                    Diagnostic::error(
                        codes::MIN_APPROVALS,
                        format!("`min_approvals` is {}, but the stage has {count} approver(s)", min.value),
                        min.span,
                    )
                    .with_label(format!("must be 1 to {}", count.max(1)))
                    .with_help("SSM needs this many distinct approvers to approve; it cannot exceed the approver list"),
                );
                None
            }
            Some(min) => Some(min.value),
            None => Some(1),
        };
        let message = match &ssm.value.message {
            Some(text) => {
                let t = resolver.template(text, diags);
                if let Some(t) = &t {
                    max_len(
                        t,
                        text,
                        limits::SSM_MAX_MESSAGE_CHARS,
                        codes::MESSAGE_TOO_LONG,
                        "`message`",
                        self.workflow,
                        diags,
                    );
                }
                t?
            }
            None => {
                let id = stage.valid_id.as_ref()?;
                model::default_message(self.workflow_name()?, id, stage.id.span)
            }
        };
        let notify = self.notify(stage, ssm.value.notify.as_ref(), true, diags);
        Some(SsmApproval {
            approvers: approvers?,
            min_approvals: min_approvals?,
            message,
            document: ssm.value.document.as_ref().map(|d| d.value.clone()),
            notify: notify?,
            span: ssm.span,
        })
    }

    fn codepipeline(
        &self,
        stage: &ast::Stage,
        cp: &Spanned<ast::CodePipelineApproval>,
        resolver: &Resolver<'_>,
        diags: &mut Vec<Diagnostic>,
    ) -> Option<CodePipelineApproval> {
        let v = &cp.value;
        let approvers = v.approvers.as_ref().and_then(|a| {
            approvers(
                a,
                limits::CODEPIPELINE_MAX_APPROVERS,
                "CodePipeline approval",
                diags,
            )
        });
        let pipeline = self.pipeline_target(stage, cp, diags);
        let custom_data = v.custom_data.as_ref().map(|text| {
            let t = resolver.template(text, diags);
            if let Some(t) = &t {
                max_len(
                    t,
                    text,
                    limits::CODEPIPELINE_MAX_CUSTOM_DATA_CHARS,
                    codes::CUSTOM_DATA_TOO_LONG,
                    "`custom_data`",
                    self.workflow,
                    diags,
                );
            }
            t
        });
        let external_link = v.external_link.as_ref().map(|text| {
            let t = resolver.template(text, diags);
            if let Some(t) = &t {
                external_link(t, text, self.workflow, diags);
            }
            t
        });
        let notify = self.notify(stage, v.notify.as_ref(), false, diags);
        Some(CodePipelineApproval {
            approvers: approvers?,
            pipeline: pipeline?,
            custom_data: custom_data.map_or(Some(None), |t| t.map(Some))?,
            external_link: external_link.map_or(Some(None), |t| t.map(Some))?,
            notify: notify?,
            span: cp.span,
        })
    }

    fn pipeline_target(
        &self,
        stage: &ast::Stage,
        cp: &Spanned<ast::CodePipelineApproval>,
        diags: &mut Vec<Diagnostic>,
    ) -> Option<PipelineTarget> {
        let v = &cp.value;
        match (&v.pipeline, &v.stage, &v.action) {
            (None, None, None) => Some(PipelineTarget::Dedicated {
                name: names::pipeline(self.workflow_name()?, stage.valid_id.as_ref()?),
            }),
            (Some(p), Some(s), Some(a)) => Some(PipelineTarget::Existing {
                name: p.value.clone(),
                stage: s.value.clone(),
                action: a.value.clone(),
            }),
            (p, s, a) => {
                let given = [p, s, a]
                    .into_iter()
                    .flatten()
                    .next()
                    .map_or(cp.span, |x| x.span);
                let missing: Vec<&str> = [("pipeline", p), ("stage", s), ("action", a)]
                    .into_iter()
                    .filter(|(_, v)| v.is_none())
                    .map(|(k, _)| k)
                    .collect();
                diags.push(
                    Diagnostic::error(
                        codes::PIPELINE_TARGET,
                        format!("an existing pipeline needs `pipeline`, `stage` and `action`; `{}` missing", missing.join("`, `")),
                        given,
                    )
                    .with_label("incomplete pipeline reference")
                    .with_help("name the pipeline, its stage and its Manual approval action, or remove all three to let approvalc create a dedicated pipeline"),
                );
                None
            }
        }
    }

    /// The effective topic (binding, else `defaults.notify`), checked: `Some(None)` when
    /// there is none, `None` after an error.
    fn notify(
        &self,
        stage: &ast::Stage,
        own: Option<&Spanned<Arn>>,
        ssm: bool,
        diags: &mut Vec<Diagnostic>,
    ) -> Option<Option<Arn>> {
        let (topic, inherited) = match (own, &self.workflow.defaults.notify) {
            (Some(t), _) => (t, false),
            (None, Some(t)) => (t, true),
            (None, None) => return Some(None),
        };
        let at = if inherited { stage.id.span } else { topic.span };
        let with_origin = |d: Diagnostic| {
            if inherited {
                d.with_related(topic.span, "inherited from `defaults.notify`")
            } else {
                d
            }
        };
        let name = topic
            .value
            .sns_topic_name()
            .unwrap_or(&topic.value.resource);
        if ssm && !name.starts_with("Automation") {
            diags.push(with_origin(
                Diagnostic::error(
                    codes::NOTIFY_TOPIC_NAME,
                    format!("SSM stage `{}` notifies topic `{name}`, but SSM only publishes to topics named `Automation…`", stage.id.value),
                    at,
                )
                .with_label("topic name does not start with `Automation`")
                .with_help(format!("create and use a topic named like `Automation{name}`")),
            ));
            return None;
        }
        self.topic_place(stage, &topic.value, at, diags, with_origin);
        Some(Some(topic.value.clone()))
    }

    fn topic_place(
        &self,
        stage: &ast::Stage,
        topic: &Arn,
        at: Span,
        diags: &mut Vec<Diagnostic>,
        with_origin: impl Fn(Diagnostic) -> Diagnostic,
    ) {
        let region = self.workflow.region.as_ref().map(|r| &r.value);
        if let (Some(topic_region), Some(region)) = (&topic.region, region)
            && topic_region != region
        {
            diags.push(with_origin(
                Diagnostic::warning(
                    codes::NOTIFY_TOPIC_PLACE,
                    format!("topic is in {topic_region}, but the workflow runs in {region}"),
                    at,
                )
                .with_label("topic in another region")
                .with_help("use a topic in the workflow's region; SSM and CodePipeline notify topics of their own region"),
            ));
        }
        let stage_account = match &stage.account {
            Some(name) => self.workflow.accounts.get(&name.value),
            None => self
                .home
                .and_then(|h| self.workflow.accounts.get_index(h))
                .map(|(_, a)| a),
        };
        let stage_id = stage_account.and_then(|a| a.id.as_ref()).map(|i| &i.value);
        if let (Some(topic_account), Some(stage_id)) = (&topic.account, stage_id)
            && topic_account != stage_id
        {
            diags.push(with_origin(
                Diagnostic::warning(
                    codes::NOTIFY_TOPIC_PLACE,
                    format!("stage `{}` runs in account {stage_id}, but its topic is in account {topic_account}", stage.id.value),
                    at,
                )
                .with_label("topic in another account")
                .with_help("the topic's access policy must allow the stage's account to publish; a topic in the stage's account needs no policy"),
            ));
        }
    }

    fn workflow_name(&self) -> Option<&model::WorkflowName> {
        self.workflow.name.as_ref().map(|n| &n.value)
    }

    /// Resource names built from the workflow and stage names must fit AWS limits.
    fn names(&self, stage: &ast::Stage, diags: &mut Vec<Diagnostic>) {
        let (Some(workflow), Some(id)) = (self.workflow_name(), stage.valid_id.as_ref()) else {
            return;
        };
        let mut checks: Vec<(String, usize, &str)> =
            vec![(names::stage_role(workflow, id), names::ROLE_MAX, "IAM role")];
        if let Some(ast::Binding::CodePipeline(cp)) = &stage.binding
            && cp.value.pipeline.is_none()
        {
            checks.push((
                names::pipeline(workflow, id),
                names::PIPELINE_MAX,
                "pipeline",
            ));
        }
        if let Some((name, max, what)) = checks.into_iter().find(|(n, max, _)| n.len() > *max) {
            let over = name.len() - max;
            diags.push(
                Diagnostic::error(
                    codes::NAME_TOO_LONG,
                    format!("the {what} name `{name}` would be {} characters, over AWS's {max}", name.len()),
                    stage.id.span,
                )
                .with_label(format!("{over} character(s) too long with the workflow name"))
                .with_help(format!("shorten the stage id or the workflow name by {over} character(s); names are `approvalc-<workflow>-<stage>` (docs/checks.md)")),
            );
        }
    }
}

/// Checks a list of approvers: count within 1..=max, no duplicates.
fn approvers(
    list: &Spanned<Vec<Spanned<Principal>>>,
    max: usize,
    what: &str,
    diags: &mut Vec<Diagnostic>,
) -> Option<Vec<Principal>> {
    let mut ok = true;
    let n = list.value.len();
    if n == 0 || n > max {
        diags.push(
            Diagnostic::error(
                codes::APPROVER_COUNT,
                format!("an {what} has {n} approvers; it takes 1 to {max}"),
                list.span,
            )
            .with_label(format!("{n} approvers"))
            .with_help(if n == 0 {
                "list at least one approver (an IAM user name or a user/role ARN)".to_owned()
            } else {
                format!("AWS accepts at most {max}; approve by a role many people can assume instead of listing each")
            }),
        );
        ok = false;
    }
    for (i, p) in list.value.iter().enumerate() {
        if let Some(first) = list.value.iter().take(i).find(|q| q.value == p.value) {
            diags.push(
                Diagnostic::error(
                    codes::DUPLICATE_APPROVER,
                    format!("approver `{}` is listed twice", p.value),
                    p.span,
                )
                .with_label("listed again")
                .with_related(first.span, "first listed here")
                .with_help(
                    "remove the duplicate; each approver counts once toward `min_approvals`",
                ),
            );
            ok = false;
        }
    }
    ok.then(|| list.value.iter().map(|p| p.value.clone()).collect())
}

fn action_stage(
    action: &Spanned<ast::Action>,
    resolver: &Resolver<'_>,
    diags: &mut Vec<Diagnostic>,
) -> Option<ActionStage> {
    let automation = action.value.ssm_automation.as_ref()?;
    let mut parameters = Vec::new();
    let mut ok = true;
    for (name, param) in &automation.value.parameters {
        let texts: Vec<&Text> = match &param.value {
            ast::ParameterValue::Text(t) => vec![t],
            ast::ParameterValue::List(list) => list.value.iter().collect(),
        };
        let mut values = Vec::with_capacity(texts.len());
        for text in texts {
            match resolver.template(text, diags) {
                Some(t) => {
                    max_len(
                        &t,
                        text,
                        limits::SSM_MAX_PARAMETER_CHARS,
                        codes::PARAMETER_TOO_LONG,
                        "an SSM Automation parameter value",
                        resolver.workflow,
                        diags,
                    );
                    values.push(t);
                }
                None => ok = false,
            }
        }
        parameters.push((name.clone(), values));
    }
    Some(ActionStage {
        document: automation.value.document.as_ref()?.value.clone(),
        parameters: ok.then_some(parameters)?,
        span: action.span,
    })
}

/// Reports a template whose shortest possible expansion is over `max` characters.
fn max_len(
    t: &Template,
    text: &Text,
    max: usize,
    code: &'static str,
    what: &str,
    workflow: &Workflow,
    diags: &mut Vec<Diagnostic>,
) {
    let min = min_chars(t, workflow);
    if min > max {
        diags.push(
            Diagnostic::error(
                code,
                format!("{what} is at least {min} characters; AWS allows {max}"),
                text.span,
            )
            .with_label(format!("{} characters over", min - max))
            .with_help("shorten the text; put details behind a link"),
        );
    }
}

/// The fewest characters a template can expand to: its text, plus for each reference the
/// shortest value it can take (an `enum` input's shortest value, `skipped` for a decision).
fn min_chars(t: &Template, workflow: &Workflow) -> usize {
    t.parts
        .iter()
        .map(|p| match p {
            TemplatePart::Text(s) => s.chars().count(),
            TemplatePart::Ref(Reference::Input(i)) => workflow
                .input
                .get_index(*i)
                .and_then(|(_, p)| p.allowed.as_ref())
                .and_then(|a| {
                    a.value
                        .iter()
                        .map(|l| match &l.value {
                            ast::Literal::String(s) => s.chars().count(),
                            ast::Literal::Number(n) => n.to_string().len(),
                            ast::Literal::Boolean(b) => b.to_string().len(),
                        })
                        .min()
                })
                .unwrap_or(0),
            TemplatePart::Ref(Reference::RunId) => 1,
            TemplatePart::Ref(Reference::StageDecision(_)) => "skipped".len(),
        })
        .sum()
}

fn external_link(t: &Template, text: &Text, workflow: &Workflow, diags: &mut Vec<Diagnostic>) {
    max_len(
        t,
        text,
        limits::CODEPIPELINE_MAX_EXTERNAL_LINK_CHARS,
        codes::EXTERNAL_LINK,
        "`external_link`",
        workflow,
        diags,
    );
    // Only a literal start can be checked; a link that starts with a reference is the
    // input's business.
    if let Some(TemplatePart::Text(start)) = t.parts.first() {
        let lower = start.to_ascii_lowercase();
        let complete = lower.len() >= 8 || t.parts.len() == 1;
        if complete && !(lower.starts_with("https://") || lower.starts_with("http://")) {
            diags.push(
                Diagnostic::error(
                    codes::EXTERNAL_LINK,
                    "`external_link` must be an http(s) URL",
                    text.span,
                )
                .with_label("not a URL")
                .with_help(
                    "write a full link such as `https://tickets.example.com/{{ input.ticket }}`",
                ),
            );
        }
    }
}

fn in_range(
    kind: Kind,
    duration: Duration,
    code: &'static str,
    what: &str,
    at: Span,
    diags: &mut Vec<Diagnostic>,
    decorate: impl FnOnce(Diagnostic) -> Diagnostic,
) -> bool {
    let Some((min, max, rule)) = kind.timeout_range() else {
        return true;
    };
    if duration >= min && duration <= max {
        return true;
    }
    let shown = show_duration(duration);
    let (label, help) = if duration > max {
        (
            "too long",
            format!(
                "{rule}; to wait longer, add a second round with `on_timeout: escalate` and `escalate:`"
            ),
        )
    } else {
        ("too short", rule.to_owned())
    };
    diags.push(decorate(
        Diagnostic::error(
            code,
            format!("{what} is {shown}, {label} for {}", kind.describe()),
            at,
        )
        .with_label(label)
        .with_help(help),
    ));
    false
}

fn secs(s: u64) -> Duration {
    Duration::from_secs(s)
}

/// `3d`, `90m`, `45s`: the shortest exact form.
pub fn show_duration(d: Duration) -> String {
    let s = d.as_secs();
    if s.is_multiple_of(86_400) {
        format!("{}d", s / 86_400)
    } else if s.is_multiple_of(3_600) {
        format!("{}h", s / 3_600)
    } else if s.is_multiple_of(60) {
        format!("{}m", s / 60)
    } else {
        format!("{s}s")
    }
}
