//! The node tree to the AST, collecting every diagnostic on the way.
//!
//! Each reader returns `Option`: `None` after reporting why, so a bad value in one place
//! never stops the rest of the file from being read and checked.

use std::collections::HashMap;

use indexmap::IndexMap;

use crate::ast::{
    API_VERSION, Account, Action, Binding, CodePipelineApproval, Defaults, Escalate, InputParam,
    Literal, Parameter, ParameterValue, Rules, Spanned, SsmApproval, SsmAutomation, Stage, Text,
    Workflow,
};
use crate::codes;
use crate::diagnostic::{Diagnostic, Span};
use crate::fields::{self, Object};
use crate::suggest::did_you_mean;
use crate::values::{
    AccountId, AccountName, Arn, Duration, InputName, InputType, OnTimeout, Principal, Region,
    StageId, ValueError, WorkflowName,
};
use crate::yaml::{Kind, Node, Scalar, Typed};

/// At most this many diagnostics are kept per file; the rest are counted. A real file
/// never gets near it; a hostile one (tens of thousands of bad keys) stays fast.
pub const MAX_DIAGNOSTICS: usize = 1000;

pub(crate) struct Reader {
    diagnostics: Vec<Diagnostic>,
    dropped: usize,
}

/// The entries of one fixed-key mapping, after unknown/duplicate/missing keys were reported.
struct Fields<'n> {
    entries: Vec<(&'static str, &'n Node, &'n Node)>,
}

impl<'n> Fields<'n> {
    fn get(&self, name: &str) -> Option<&'n Node> {
        self.entries
            .iter()
            .find(|(n, _, _)| *n == name)
            .map(|(_, _, v)| *v)
    }

    fn key_span(&self, name: &str) -> Option<Span> {
        self.entries
            .iter()
            .find(|(n, _, _)| *n == name)
            .map(|(_, k, _)| k.span)
    }
}

impl Reader {
    pub fn new() -> Self {
        Self {
            diagnostics: Vec::new(),
            dropped: 0,
        }
    }

    fn full(&self) -> bool {
        self.diagnostics.len() >= MAX_DIAGNOSTICS
    }

    fn report(&mut self, diagnostic: Diagnostic) {
        if self.full() {
            self.dropped += 1;
        } else {
            self.diagnostics.push(diagnostic);
        }
    }

    /// The diagnostics in source order, with a last one counting those not kept.
    pub fn finish(self) -> Vec<Diagnostic> {
        let mut diagnostics = self.diagnostics;
        diagnostics.sort_by_key(|d| d.span.start);
        if self.dropped > 0 {
            let end = diagnostics.last().map_or(Span::default(), |d| d.span);
            diagnostics.push(
                Diagnostic::warning(
                    codes::LIMIT,
                    format!("{} more problems were found but not shown", self.dropped),
                    end,
                )
                .with_help(format!("only the first {MAX_DIAGNOSTICS} problems of a file are reported; fix these and run again")),
            );
        }
        diagnostics
    }

    // ---- structure ------------------------------------------------------------------

    /// Reads the entries of `node` as `object`: reports a non-mapping, unknown keys (with a
    /// suggestion), duplicate keys (both places) and missing required keys (at `owner`,
    /// the key that holds this mapping).
    fn fields<'n>(
        &mut self,
        node: &'n Node,
        object: &'static Object,
        owner: Span,
    ) -> Option<Fields<'n>> {
        let entries = self.mapping(node, &format!("a mapping for {}", object.noun))?;
        let mut fields = Fields {
            entries: Vec::new(),
        };
        for (key, value) in entries {
            let Some(name) = self.key(key) else { continue };
            let Some(field) = object.field(name) else {
                self.unknown_key(key.span, name, object);
                continue;
            };
            if let Some(first) = fields.key_span(field.name) {
                self.duplicate(key.span, first, name);
                continue;
            }
            fields.entries.push((field.name, key, value));
        }
        for field in object.fields.iter().filter(|f| f.required) {
            if fields.get(field.name).is_none() {
                self.report(
                    Diagnostic::error(
                        codes::MISSING_KEY,
                        format!("missing required key `{}` in {}", field.name, object.noun),
                        owner,
                    )
                    .with_label(format!("`{}` needed here", field.name))
                    .with_help(format!("add `{}:` here. {}", field.name, field.doc)),
                );
            }
        }
        Some(fields)
    }

    fn mapping<'n>(&mut self, node: &'n Node, expected: &str) -> Option<&'n [(Node, Node)]> {
        match &node.kind {
            Kind::Map(entries) => Some(entries),
            _ => {
                self.wrong_type(node, expected);
                None
            }
        }
    }

    /// A mapping key must be a plain string.
    fn key<'n>(&mut self, key: &'n Node) -> Option<&'n str> {
        match &key.kind {
            Kind::Scalar(s) => Some(s.value.as_str()),
            _ => {
                self.report(
                    Diagnostic::error(
                        codes::UNSUPPORTED_YAML,
                        "a mapping key must be a string",
                        key.span,
                    )
                    .with_help(
                        "use a plain word as the key; lists and mappings as keys are not supported",
                    ),
                );
                None
            }
        }
    }

    fn unknown_key(&mut self, span: Span, name: &str, object: &Object) {
        if self.full() {
            // Skip the did-you-mean work for a diagnostic that will not be kept.
            self.dropped += 1;
            return;
        }
        let mut d = Diagnostic::error(
            codes::UNKNOWN_KEY,
            format!("unknown key `{name}` in {}", object.noun),
            span,
        )
        .with_label("not a known key");
        d = if name == "<<" {
            d.with_help("YAML merge keys (`<<`) are not supported; write the keys out")
        } else if let Some(close) = did_you_mean(name, object.names()) {
            d.with_help(format!("did you mean `{close}`?"))
        } else if let Some(homes) = belongs_under(name) {
            d.with_help(format!("`{name}` belongs under {homes}"))
        } else {
            d.with_help(format!(
                "known keys here: {}",
                object.names().collect::<Vec<_>>().join(", ")
            ))
        };
        self.report(d);
    }

    fn duplicate(&mut self, span: Span, first: Span, name: &str) {
        self.report(
            Diagnostic::error(
                codes::DUPLICATE_KEY,
                format!("duplicate key `{name}`"),
                span,
            )
            .with_label("second definition")
            .with_related(first, "first defined here")
            .with_help("a key may appear once per mapping; remove or merge one of them"),
        );
    }

    fn wrong_type(&mut self, node: &Node, expected: &str) {
        let found = node.type_name();
        let mut d = Diagnostic::error(
            codes::WRONG_TYPE,
            format!("expected {expected}, found {found}"),
            node.span,
        )
        .with_label(format!("this is {found}"));
        if let Some(value) = scalar_value(node).filter(|_| expected.starts_with("a list")) {
            d = d.with_help(format!(
                "write a list, even for one item: `[{value}]`, or `- {value}` on the next line"
            ));
        } else if expected.contains("string")
            && matches!(&node.kind, Kind::Scalar(s) if s.plain && !matches!(s.typed(), Typed::Null))
        {
            d = d.with_help("put the value in quotes to make it a string");
        } else if found.starts_with("nothing") {
            d = d.with_help("write a value after the `:` or remove the key");
        }
        self.report(d);
    }

    /// Entries of a user-keyed mapping (`accounts`, `input`, `stages`), duplicates reported.
    fn dict<'n>(&mut self, node: &'n Node, what: &str) -> Vec<(&'n str, &'n Node, &'n Node)> {
        let Some(entries) = self.mapping(node, &format!("a mapping of {what}")) else {
            return Vec::new();
        };
        let mut out: Vec<(&'n str, &'n Node, &'n Node)> = Vec::new();
        // A map, not a scan of `out`: a hostile file may hold tens of thousands of keys.
        let mut seen: HashMap<&'n str, Span> = HashMap::new();
        for (key, value) in entries {
            let Some(name) = self.key(key) else { continue };
            if let Some(first) = seen.get(name) {
                let first = *first;
                self.duplicate(key.span, first, name);
                continue;
            }
            seen.insert(name, key.span);
            out.push((name, key, value));
        }
        out
    }

    // ---- scalars --------------------------------------------------------------------

    fn scalar<'n>(&mut self, node: &'n Node, expected: &str) -> Option<&'n Scalar> {
        match &node.kind {
            Kind::Scalar(s) => Some(s),
            _ => {
                self.wrong_type(node, expected);
                None
            }
        }
    }

    /// A string: quoted, or plain text that YAML does not read as a number/bool/null.
    fn string<'n>(&mut self, node: &'n Node, expected: &str) -> Option<&'n Scalar> {
        let s = self.scalar(node, expected)?;
        if matches!(s.typed(), Typed::Str(_)) {
            Some(s)
        } else {
            self.wrong_type(node, expected);
            None
        }
    }

    fn plain_string(&mut self, node: &Node) -> Option<Spanned<String>> {
        let s = self.string(node, "a string")?;
        Some(Spanned::new(s.value.clone(), s.content))
    }

    fn text(&mut self, node: &Node) -> Option<Text> {
        let s = self.string(node, "a string")?;
        Some(Text {
            value: s.value.clone(),
            span: s.content,
            exact: s.exact,
        })
    }

    /// Any scalar as its text: `when: true` and `Count: 3` mean the text the user wrote,
    /// whatever YAML would type it as. Null is still an error.
    fn scalar_text(&mut self, node: &Node, expected: &str) -> Option<Text> {
        let s = self.scalar(node, expected)?;
        if let Typed::Null = s.typed() {
            self.wrong_type(node, expected);
            return None;
        }
        Some(Text {
            value: s.value.clone(),
            span: s.content,
            exact: s.exact,
        })
    }

    fn condition(&mut self, node: &Node) -> Option<Text> {
        let text = self.scalar_text(node, "a condition (a string)")?;
        if text.value.trim().is_empty() {
            self.report(
                Diagnostic::error(codes::EMPTY, "the `when` condition is empty", node.span)
                    .with_help(
                        "write a condition such as `input.risk == \"high\"`, or remove `when`",
                    ),
            );
            return None;
        }
        Some(text)
    }

    fn boolean(&mut self, node: &Node) -> Option<Spanned<bool>> {
        match &node.kind {
            Kind::Scalar(s) => match s.typed() {
                Typed::Bool(b) => Some(Spanned::new(b, node.span)),
                _ => {
                    self.wrong_type(node, "a boolean (true or false)");
                    None
                }
            },
            _ => {
                self.wrong_type(node, "a boolean (true or false)");
                None
            }
        }
    }

    /// A value parsed by one of the [`crate::values`] types.
    fn value<T>(
        &mut self,
        node: &Node,
        expected: &str,
        code: &'static str,
        parse: impl FnOnce(&str) -> Result<T, ValueError>,
    ) -> Option<Spanned<T>> {
        let s = self.string(node, expected)?;
        match parse(&s.value) {
            Ok(value) => Some(Spanned::new(value, s.content)),
            Err(err) => {
                self.report(
                    Diagnostic::error(code, err.message, node.span)
                        .with_label(format!("expected {expected}"))
                        .with_help(err.help),
                );
                None
            }
        }
    }

    fn duration(&mut self, node: &Node) -> Option<Spanned<Duration>> {
        // `timeout: 3600` is a number to YAML; say what is missing instead of "wrong type".
        if let Kind::Scalar(s) = &node.kind
            && let Typed::Int(_) | Typed::Float(_) = s.typed()
        {
            let err = Duration::parse(&s.value).err();
            let help = err.map_or_else(|| "add a unit: s, m, h or d".to_owned(), |e| e.help);
            self.report(
                Diagnostic::error(
                    codes::BAD_DURATION,
                    format!("duration `{}` has no unit", s.value),
                    node.span,
                )
                .with_label("expected a duration like `3d`")
                .with_help(help),
            );
            return None;
        }
        self.value(
            node,
            "a duration like `3d`",
            codes::BAD_DURATION,
            Duration::parse,
        )
    }

    fn region(&mut self, node: &Node) -> Option<Spanned<Region>> {
        self.value(
            node,
            "a region like `ap-northeast-1`",
            codes::BAD_REGION,
            Region::parse,
        )
    }

    fn account_id(&mut self, node: &Node) -> Option<Spanned<AccountId>> {
        if let Kind::Scalar(s) = &node.kind
            && let Typed::Int(_) | Typed::Float(_) = s.typed()
        {
            self.report(
                Diagnostic::error(codes::WRONG_TYPE, "expected an account id as a quoted string, found a number", node.span)
                    .with_label("this is a number")
                    .with_help(format!(
                        "write it in quotes: \"{}\" (YAML reads unquoted digits as a number and drops leading zeros)",
                        s.value
                    )),
            );
            return None;
        }
        self.value(
            node,
            "a 12-digit account id",
            codes::BAD_ACCOUNT_ID,
            AccountId::parse,
        )
    }

    fn sns_topic(&mut self, node: &Node) -> Option<Spanned<Arn>> {
        let arn = self.value(node, "an SNS topic ARN", codes::BAD_ARN, Arn::parse)?;
        if arn.value.service != "sns" {
            self.report(
                Diagnostic::error(
                    codes::BAD_ARN,
                    format!(
                        "`notify` must be an SNS topic ARN, not a `{}` ARN",
                        arn.value.service
                    ),
                    arn.span,
                )
                .with_help("write `arn:aws:sns:REGION:ACCOUNT:AutomationTopicName`"),
            );
            return None;
        }
        Some(arn)
    }

    fn word<T: Copy>(
        &mut self,
        node: &Node,
        what: &str,
        words: &[&str],
        from: impl Fn(&str) -> Option<T>,
    ) -> Option<Spanned<T>> {
        let list = words.join(" | ");
        let s = self.string(node, &format!("{what} ({list})"))?;
        if let Some(v) = from(&s.value) {
            return Some(Spanned::new(v, s.content));
        }
        let help = match did_you_mean(&s.value, words.iter().copied()) {
            Some(close) => format!("did you mean `{close}`? ({what} is one of {list})"),
            None => format!("{what} is one of {list}"),
        };
        self.report(
            Diagnostic::error(
                codes::UNKNOWN_WORD,
                format!("`{}` is not a valid {what}", s.value),
                node.span,
            )
            .with_label(format!("expected {list}"))
            .with_help(help),
        );
        None
    }

    fn on_timeout(&mut self, node: &Node) -> Option<Spanned<OnTimeout>> {
        self.word(node, "on_timeout", OnTimeout::WORDS, OnTimeout::from_word)
    }

    fn count(&mut self, node: &Node) -> Option<Spanned<u32>> {
        let expected = "a whole number of at least 1";
        let s = self.scalar(node, expected)?;
        match s.typed() {
            Typed::Int(n) if n >= 1 => match u32::try_from(n) {
                Ok(n) => Some(Spanned::new(n, node.span)),
                Err(_) => {
                    self.bad_number(node, format!("{n} is too large"));
                    None
                }
            },
            Typed::Int(n) => {
                self.bad_number(node, format!("{n} is less than 1"));
                None
            }
            Typed::Float(f) => {
                self.bad_number(node, format!("{f} is not a whole number"));
                None
            }
            _ => {
                self.wrong_type(node, expected);
                None
            }
        }
    }

    fn bad_number(&mut self, node: &Node, message: String) {
        self.report(
            Diagnostic::error(codes::BAD_NUMBER, message, node.span)
                .with_label("expected a whole number of at least 1")
                .with_help("write a whole number such as 1 or 2"),
        );
    }

    fn resource_name(
        &mut self,
        node: &Node,
        what: &str,
        (min, max): (usize, usize),
        extra: &[u8],
    ) -> Option<Spanned<String>> {
        let s = self.plain_string(node)?;
        let ok = (min..=max).contains(&s.value.len())
            && s.value
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || extra.contains(&b));
        if ok {
            return Some(s);
        }
        let allowed: String = extra.iter().map(|b| format!(" `{}`", *b as char)).collect();
        self.report(
            Diagnostic::error(
                codes::BAD_RESOURCE_NAME,
                format!("`{}` is not a valid {what}", s.value),
                node.span,
            )
            .with_help(format!("use {min}-{max} letters, digits or{allowed}")),
        );
        None
    }

    fn document_name(&mut self, node: &Node) -> Option<Spanned<String>> {
        // SSM document names: [a-zA-Z0-9_\-.:/]{3,128} (SSM API reference, DocumentRequires).
        self.resource_name(node, "SSM document name", (3, 128), b"_-.:/")
    }

    fn pipeline_name(&mut self, node: &Node, what: &str) -> Option<Spanned<String>> {
        // CodePipeline pipeline, stage and action names: [A-Za-z0-9.@\-_]{1,100}.
        self.resource_name(node, what, (1, 100), b".@-_")
    }

    fn list<'n>(&mut self, node: &'n Node, expected: &str) -> Option<&'n [Node]> {
        match &node.kind {
            Kind::Seq(items) => Some(items),
            _ => {
                self.wrong_type(node, expected);
                None
            }
        }
    }

    fn principals(&mut self, node: &Node) -> Option<Spanned<Vec<Spanned<Principal>>>> {
        let items = self.list(node, "a list of approvers")?;
        let principals = items
            .iter()
            .filter_map(|item| {
                self.value(
                    item,
                    "an IAM user name or ARN",
                    codes::BAD_PRINCIPAL,
                    Principal::parse,
                )
            })
            .collect();
        Some(Spanned::new(principals, node.span))
    }

    fn stage_refs(&mut self, node: &Node) -> Vec<Spanned<String>> {
        // `needs: build` is accepted as a one-element list, as in GitHub Actions.
        if let Kind::Scalar(_) = node.kind {
            return self.plain_string(node).into_iter().collect();
        }
        let Some(items) = self.list(node, "a list of stage ids") else {
            return Vec::new();
        };
        items
            .iter()
            .filter_map(|item| self.plain_string(item))
            .collect()
    }

    // ---- the language ---------------------------------------------------------------

    pub fn workflow(&mut self, root: &Node) -> Option<Workflow> {
        let owner = Span::new(root.span.start, root.span.start);
        let Kind::Map(_) = root.kind else {
            self.report(
                Diagnostic::error(
                    codes::NOT_A_WORKFLOW,
                    format!("a workflow is a mapping of keys, but this file is {}", root.type_name()),
                    root.span,
                )
                .with_help("start with `apiVersion: approvalc/v1`, `name:`, `region:`, ... (see docs/language.md)"),
            );
            return None;
        };
        let f = self.fields(root, &fields::WORKFLOW, owner)?;
        let api_version = f.get("apiVersion").and_then(|n| self.api_version(n));
        let name = f.get("name").and_then(|n| {
            self.value(
                n,
                "a workflow name",
                codes::BAD_WORKFLOW_NAME,
                WorkflowName::parse,
            )
        });
        let description = f.get("description").and_then(|n| self.plain_string(n));
        let region = f.get("region").and_then(|n| self.region(n));
        let home = f.get("home").and_then(|n| self.plain_string(n));
        let accounts = f
            .get("accounts")
            .map(|n| self.accounts(n, region.as_ref()))
            .unwrap_or_default();
        let input = optional(f.get("input"))
            .map(|n| self.inputs(n))
            .unwrap_or_default();
        let defaults = optional(f.get("defaults"))
            .and_then(|n| self.defaults(n, f.key_span("defaults").unwrap_or(owner)))
            .unwrap_or_default();
        let rules = optional(f.get("rules"))
            .and_then(|n| self.rules(n, f.key_span("rules").unwrap_or(owner)))
            .unwrap_or_default();
        let stages = f.get("stages").map(|n| self.stages(n)).unwrap_or_default();
        Some(Workflow {
            api_version,
            name,
            description,
            region,
            home,
            accounts,
            input,
            defaults,
            rules,
            stages,
            span: root.span,
        })
    }

    fn api_version(&mut self, node: &Node) -> Option<Spanned<String>> {
        let s = self.plain_string(node)?;
        if s.value == API_VERSION {
            return Some(s);
        }
        self.report(
            Diagnostic::error(
                codes::API_VERSION,
                format!("unsupported apiVersion `{}`", s.value),
                node.span,
            )
            .with_label(format!("expected `{API_VERSION}`"))
            .with_help(format!("this release reads `apiVersion: {API_VERSION}`")),
        );
        None
    }

    fn accounts(
        &mut self,
        node: &Node,
        region: Option<&Spanned<Region>>,
    ) -> IndexMap<String, Account> {
        let mut out = IndexMap::new();
        for (name, key, value) in self.dict(node, "account names to accounts") {
            let Some(account_name) = self.name(key, name, "account name", AccountName::parse)
            else {
                continue;
            };
            let Some(f) = self.fields(value, &fields::ACCOUNT, key.span) else {
                continue;
            };
            let id = f.get("id").and_then(|n| self.account_id(n));
            let account_region = f.get("region").and_then(|n| self.region(n));
            if let (Some(mine), Some(workflow)) = (&account_region, region)
                && mine.value != workflow.value
            {
                self.report(
                    Diagnostic::error(
                        codes::ACCOUNT_REGION,
                        format!(
                            "account `{name}` is in region `{}`, but the workflow runs in `{}`",
                            mine.value, workflow.value
                        ),
                        mine.span,
                    )
                    .with_label("a different region")
                    .with_related(workflow.span, "the workflow's region")
                    .with_help("Step Functions cannot start executions or call services in another region; every account is used in the workflow's `region` (remove this `region:` or make it equal)"),
                );
            }
            out.insert(
                name.to_owned(),
                Account {
                    name: account_name,
                    id,
                    region: account_region,
                },
            );
        }
        out
    }

    fn name<T>(
        &mut self,
        key: &Node,
        name: &str,
        what: &str,
        parse: impl FnOnce(&str) -> Result<T, ValueError>,
    ) -> Option<Spanned<T>> {
        match parse(name) {
            Ok(v) => Some(Spanned::new(v, key.span)),
            Err(err) => {
                self.report(
                    Diagnostic::error(codes::BAD_NAME, err.message, key.span)
                        .with_label(format!("not a valid {what}"))
                        .with_help(err.help),
                );
                None
            }
        }
    }

    fn inputs(&mut self, node: &Node) -> IndexMap<String, InputParam> {
        let mut out = IndexMap::new();
        for (name, key, value) in self.dict(node, "input names to parameters") {
            let Some(input_name) = self.name(key, name, "input name", InputName::parse) else {
                continue;
            };
            let Some(param) = self.input(value, input_name) else {
                continue;
            };
            out.insert(name.to_owned(), param);
        }
        out
    }

    fn input(&mut self, node: &Node, name: Spanned<InputName>) -> Option<InputParam> {
        let f = self.fields(node, &fields::INPUT, name.span)?;
        let ty = f
            .get("type")
            .and_then(|n| self.word(n, "input type", InputType::WORDS, InputType::from_word));
        let required = f.get("required").and_then(|n| self.boolean(n));
        let pattern = f.get("pattern").and_then(|n| self.pattern(n, ty.as_ref()));
        let allowed = f.get("enum").and_then(|n| {
            let items = self.list(n, "a list of allowed values")?;
            let values = items
                .iter()
                .filter_map(|i| self.literal(i, ty.as_ref()))
                .collect();
            Some(Spanned::new(values, n.span))
        });
        let default = f.get("default").and_then(|n| self.literal(n, ty.as_ref()));
        // `description` is documentation only.
        if let Some(n) = f.get("description") {
            self.plain_string(n);
        }
        Some(InputParam {
            name,
            ty,
            required,
            pattern,
            allowed,
            default,
        })
    }

    fn pattern(&mut self, node: &Node, ty: Option<&Spanned<InputType>>) -> Option<Spanned<String>> {
        let s = self.plain_string(node)?;
        if let Some(ty) = ty.filter(|t| t.value != InputType::String) {
            self.report(
                Diagnostic::error(
                    codes::INPUT_VALUE_TYPE,
                    format!(
                        "`pattern` only applies to string inputs, this one is a {}",
                        ty.value.as_str()
                    ),
                    node.span,
                )
                .with_related(ty.span, "declared type")
                .with_help("remove `pattern` or make the input `type: string`"),
            );
            return None;
        }
        // A size limit keeps a hostile pattern from taking long to compile.
        match regex::RegexBuilder::new(&s.value)
            .size_limit(1 << 20)
            .build()
        {
            Ok(_) => Some(s),
            Err(err) => {
                let detail = err.to_string();
                let last = detail.lines().last().unwrap_or("invalid").trim();
                let last = last.strip_prefix("error: ").unwrap_or(last).to_owned();
                self.report(
                    Diagnostic::error(codes::BAD_PATTERN, format!("invalid regular expression: {last}"), node.span)
                        .with_help("write a regular expression in Rust `regex` syntax (no look-around or back-references), e.g. \"^[A-Z]+-[0-9]+$\""),
                );
                None
            }
        }
    }

    fn literal(
        &mut self,
        node: &Node,
        ty: Option<&Spanned<InputType>>,
    ) -> Option<Spanned<Literal>> {
        let s = self.scalar(node, "a string, number or boolean")?;
        let literal = match s.typed() {
            Typed::Str(v) => Literal::String(v.to_owned()),
            Typed::Bool(b) => Literal::Boolean(b),
            Typed::Int(i) => Literal::Number(i as f64),
            Typed::Float(f) if f.is_finite() => Literal::Number(f),
            Typed::Float(_) | Typed::Null => {
                self.wrong_type(node, "a string, number or boolean");
                return None;
            }
        };
        if let Some(ty) = ty
            && literal.input_type() != ty.value
        {
            let mut d = Diagnostic::error(
                codes::INPUT_VALUE_TYPE,
                format!(
                    "expected a {} value, found a {}",
                    ty.value.as_str(),
                    literal.input_type().as_str()
                ),
                node.span,
            )
            .with_related(ty.span, "declared type");
            if ty.value == InputType::String && s.plain {
                d = d.with_help(format!("put it in quotes: \"{}\"", s.value));
            } else {
                d = d.with_help(format!(
                    "write a {} or change the input's `type`",
                    ty.value.as_str()
                ));
            }
            self.report(d);
            return None;
        }
        let span = if let Literal::String(_) = literal {
            s.content
        } else {
            node.span
        };
        Some(Spanned::new(literal, span))
    }

    fn defaults(&mut self, node: &Node, owner: Span) -> Option<Defaults> {
        let f = self.fields(node, &fields::DEFAULTS, owner)?;
        Some(Defaults {
            timeout: f.get("timeout").and_then(|n| self.duration(n)),
            on_timeout: f.get("on_timeout").and_then(|n| self.on_timeout(n)),
            notify: f.get("notify").and_then(|n| self.sns_topic(n)),
        })
    }

    fn rules(&mut self, node: &Node, owner: Span) -> Option<Rules> {
        let f = self.fields(node, &fields::RULES, owner)?;
        Some(Rules {
            distinct_approvers: f.get("distinct_approvers").and_then(|n| self.boolean(n)),
            requester_cannot_approve: f
                .get("requester_cannot_approve")
                .and_then(|n| self.boolean(n)),
        })
    }

    fn stages(&mut self, node: &Node) -> IndexMap<String, Stage> {
        let mut out = IndexMap::new();
        let entries = self.dict(node, "stage ids to stages");
        if entries.is_empty() && matches!(node.kind, Kind::Map(_)) {
            self.report(
                Diagnostic::error(codes::EMPTY, "a workflow needs at least one stage", node.span)
                    .with_help("add a stage under `stages:`, e.g. `team-lead: { ssm: { approvers: [alice] } }`"),
            );
        }
        for (name, key, value) in entries {
            let valid_id = match StageId::parse(name) {
                Ok(id) => Some(id),
                Err(err) => {
                    self.report(
                        Diagnostic::error(codes::BAD_STAGE_ID, err.message, key.span)
                            .with_label("not a valid stage id")
                            .with_help(err.help),
                    );
                    None
                }
            };
            let id = Spanned::new(name.to_owned(), key.span);
            if let Some(stage) = self.stage(value, id, valid_id) {
                out.insert(name.to_owned(), stage);
            }
        }
        out
    }

    fn stage(
        &mut self,
        node: &Node,
        id: Spanned<String>,
        valid_id: Option<StageId>,
    ) -> Option<Stage> {
        let f = self.fields(node, &fields::STAGE, id.span)?;
        if let Some(n) = f.get("description") {
            self.plain_string(n);
        }
        let binding = self.binding(&f, id.span);
        Some(Stage {
            needs: f
                .get("needs")
                .map(|n| self.stage_refs(n))
                .unwrap_or_default(),
            when: f.get("when").and_then(|n| self.condition(n)),
            account: f.get("account").and_then(|n| self.plain_string(n)),
            timeout: f.get("timeout").and_then(|n| self.duration(n)),
            on_timeout: f.get("on_timeout").and_then(|n| self.on_timeout(n)),
            escalate: f.get("escalate").and_then(|n| {
                let owner = f.key_span("escalate").unwrap_or(id.span);
                self.escalate(n, owner)
            }),
            binding,
            span: node.span,
            id,
            valid_id,
        })
    }

    fn binding(&mut self, f: &Fields<'_>, owner: Span) -> Option<Binding> {
        let given: Vec<&str> = fields::STAGE
            .one_of
            .iter()
            .copied()
            .filter(|k| f.get(k).is_some())
            .collect();
        match given.as_slice() {
            [] => {
                self.report(
                    Diagnostic::error(codes::NO_BINDING, "a stage needs one of `ssm`, `codepipeline` or `action`", owner)
                        .with_label("this stage does nothing")
                        .with_help("add `ssm:` (an SSM approval), `codepipeline:` (a CodePipeline approval) or `action:` (run an automation)"),
                );
                None
            }
            [one] => {
                let key = f.key_span(one).unwrap_or(owner);
                let node = f.get(one)?;
                match *one {
                    "ssm" => self
                        .ssm(node, key)
                        .map(|b| Binding::Ssm(Spanned::new(b, node.span))),
                    "codepipeline" => self
                        .codepipeline(node, key)
                        .map(|b| Binding::CodePipeline(Spanned::new(b, node.span))),
                    _ => self
                        .action(node, key)
                        .map(|b| Binding::Action(Spanned::new(b, node.span))),
                }
            }
            [first, rest @ ..] => {
                let mut d = Diagnostic::error(
                    codes::SEVERAL_BINDINGS,
                    format!("a stage has exactly one of `ssm`, `codepipeline`, `action`, this one has {}", given.len()),
                    f.key_span(rest.first().copied().unwrap_or(first)).unwrap_or(owner),
                )
                .with_label("second binding")
                .with_help("split it into two stages and chain them with `needs`");
                if let Some(span) = f.key_span(first) {
                    d = d.with_related(span, "first binding");
                }
                self.report(d);
                None
            }
        }
    }

    fn escalate(&mut self, node: &Node, owner: Span) -> Option<Spanned<Escalate>> {
        let f = self.fields(node, &fields::ESCALATE, owner)?;
        let escalate = Escalate {
            approvers: f.get("approvers").and_then(|n| self.principals(n)),
            timeout: f.get("timeout").and_then(|n| self.duration(n)),
        };
        Some(Spanned::new(escalate, node.span))
    }

    fn ssm(&mut self, node: &Node, owner: Span) -> Option<SsmApproval> {
        let f = self.fields(node, &fields::SSM, owner)?;
        Some(SsmApproval {
            approvers: f.get("approvers").and_then(|n| self.principals(n)),
            min_approvals: f.get("min_approvals").and_then(|n| self.count(n)),
            message: f.get("message").and_then(|n| self.text(n)),
            document: f.get("document").and_then(|n| self.document_name(n)),
            notify: f.get("notify").and_then(|n| self.sns_topic(n)),
        })
    }

    fn codepipeline(&mut self, node: &Node, owner: Span) -> Option<CodePipelineApproval> {
        let f = self.fields(node, &fields::CODEPIPELINE, owner)?;
        Some(CodePipelineApproval {
            approvers: f.get("approvers").and_then(|n| self.principals(n)),
            pipeline: f
                .get("pipeline")
                .and_then(|n| self.pipeline_name(n, "pipeline name")),
            stage: f
                .get("stage")
                .and_then(|n| self.pipeline_name(n, "pipeline stage name")),
            action: f
                .get("action")
                .and_then(|n| self.pipeline_name(n, "pipeline action name")),
            custom_data: f.get("custom_data").and_then(|n| self.text(n)),
            external_link: f.get("external_link").and_then(|n| self.text(n)),
            notify: f.get("notify").and_then(|n| self.sns_topic(n)),
        })
    }

    fn action(&mut self, node: &Node, owner: Span) -> Option<Action> {
        let f = self.fields(node, &fields::ACTION, owner)?;
        let ssm_automation = f.get("ssm_automation").and_then(|n| {
            let owner = f.key_span("ssm_automation").unwrap_or(owner);
            let g = self.fields(n, &fields::SSM_AUTOMATION, owner)?;
            let automation = SsmAutomation {
                document: g.get("document").and_then(|d| self.document_name(d)),
                parameters: optional(g.get("parameters"))
                    .map(|p| self.parameters(p))
                    .unwrap_or_default(),
            };
            Some(Spanned::new(automation, n.span))
        });
        Some(Action { ssm_automation })
    }

    fn parameters(&mut self, node: &Node) -> IndexMap<String, Parameter> {
        let mut out = IndexMap::new();
        for (name, key, value) in self.dict(node, "parameter names to values") {
            let value = match &value.kind {
                Kind::Seq(items) => {
                    let texts = items
                        .iter()
                        .filter_map(|i| self.scalar_text(i, "a parameter value"))
                        .collect();
                    ParameterValue::List(Spanned::new(texts, value.span))
                }
                _ => match self.scalar_text(value, "a string or a list of strings") {
                    Some(text) => ParameterValue::Text(text),
                    None => continue,
                },
            };
            let name = Spanned::new(name.to_owned(), key.span);
            out.insert(name.value.clone(), Parameter { name, value });
        }
        out
    }
}

/// An optional section written with no value (`input:` followed by only comments) counts
/// as absent, as Kubernetes and GitHub Actions treat it; only for the keys listed in
/// [`fields::NULL_MEANS_ABSENT`] (which the schema reads too).
fn optional(node: Option<&Node>) -> Option<&Node> {
    node.filter(|n| !matches!(&n.kind, Kind::Scalar(s) if s.typed() == Typed::Null))
}

/// Where a key that is misplaced here does belong ("`ssm`, `codepipeline` or `escalate`").
fn belongs_under(name: &str) -> Option<String> {
    let homes: Vec<String> = fields::OBJECTS
        .iter()
        .filter(|o| o.field(name).is_some())
        .map(|o| o.noun.replace("this ", "a "))
        .collect();
    match homes.as_slice() {
        [] => None,
        [one] => Some(one.clone()),
        [init @ .., last] => Some(format!("{} or {last}", init.join(", "))),
    }
}

/// The text of a non-null scalar.
fn scalar_value(node: &Node) -> Option<&str> {
    match &node.kind {
        Kind::Scalar(s) if s.typed() != Typed::Null => Some(&s.value),
        _ => None,
    }
}
