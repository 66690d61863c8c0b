//! The input contract and the accounts: what the stages refer to.

use approvalc_dsl::ast::{Literal, Workflow};
use approvalc_dsl::{Diagnostic, Span};
use regex::Regex;

use super::refs::literal_value;
use crate::codes;
use crate::model::{Account, InputField, Value};
use crate::suggest;

/// Checks `input:` and builds its fields (`None` for a field with a parse error).
pub fn check_input(workflow: &Workflow, diags: &mut Vec<Diagnostic>) -> Vec<Option<InputField>> {
    workflow
        .input
        .iter()
        .map(|(name, param)| {
            // The parser reported a pattern that does not compile; nothing to add here.
            let pattern = param
                .pattern
                .as_ref()
                .and_then(|p| Regex::new(&p.value).ok().map(|re| (re, p)));
            let allowed: Vec<(Value, Span)> = param
                .allowed
                .as_ref()
                .map(|a| a.value.iter().map(|l| (literal_value(&l.value), l.span)).collect())
                .unwrap_or_default();
            if let Some((re, p)) = &pattern {
                for (value, span) in &allowed {
                    if let Value::String(s) = value
                        && !re.is_match(s)
                    {
                        diags.push(
                            Diagnostic::error(
                                codes::ENUM_PATTERN,
                                format!("`enum` value \"{s}\" of input `{name}` does not match its `pattern`"),
                                *span,
                            )
                            .with_label("does not match")
                            .with_related(p.span, "the pattern")
                            .with_help("fix the value or the pattern; a run could never pass this value"),
                        );
                    }
                }
            }
            if let Some(default) = &param.default {
                check_default(name, &default.value, default.span, &allowed, pattern.as_ref().map(|(re, p)| (re, p.span)), diags);
                if let Some(required) = &param.required
                    && required.value
                {
                    diags.push(
                        Diagnostic::warning(
                            codes::REQUIRED_WITH_DEFAULT,
                            format!("input `{name}` is required, so its `default` is never used"),
                            default.span,
                        )
                        .with_label("never used")
                        .with_related(required.span, "required here")
                        .with_help("remove `required: true` to make the value optional, or remove the default"),
                    );
                }
            }
            Some(InputField {
                name: name.clone(),
                ty: param.ty.as_ref()?.value,
                required: param.required.as_ref().is_some_and(|r| r.value),
                pattern: param.pattern.as_ref().map(|p| p.value.clone()),
                allowed: allowed.into_iter().map(|(v, _)| v).collect(),
                default: param.default.as_ref().map(|d| literal_value(&d.value)),
                span: param.name.span,
            })
        })
        .collect()
}

fn check_default(
    name: &str,
    default: &Literal,
    span: Span,
    allowed: &[(Value, Span)],
    pattern: Option<(&Regex, Span)>,
    diags: &mut Vec<Diagnostic>,
) {
    let value = literal_value(default);
    if !allowed.is_empty() && !allowed.iter().any(|(v, _)| *v == value) {
        let words: Vec<String> = allowed.iter().map(|(v, _)| show(v)).collect();
        let word_refs: Vec<&str> = words.iter().map(String::as_str).collect();
        let help = match suggest::closest(&show(&value), word_refs.iter().copied()) {
            Some(w) => format!("did you mean {w}?"),
            None => format!("use one of {}", words.join(", ")),
        };
        let mut d = Diagnostic::error(
            codes::DEFAULT_NOT_IN_ENUM,
            format!("the default of input `{name}` is not one of its `enum` values"),
            span,
        )
        .with_label("not in `enum`")
        .with_help(help);
        if let Some((_, first)) = allowed.first() {
            d = d.with_related(
                first.join(allowed.last().map_or(*first, |(_, s)| *s)),
                "allowed values",
            );
        }
        diags.push(d);
    }
    if let (Some((re, pattern_span)), Value::String(s)) = (pattern, &value)
        && !re.is_match(s)
    {
        diags.push(
            Diagnostic::error(
                codes::DEFAULT_PATTERN,
                format!("the default of input `{name}` does not match its `pattern`"),
                span,
            )
            .with_label("does not match")
            .with_related(pattern_span, "the pattern")
            .with_help("change the default or the pattern; the run would reject its own default"),
        );
    }
}

fn show(v: &Value) -> String {
    match v {
        Value::String(s) => format!("\"{s}\""),
        Value::Number(n) => n.to_string(),
        Value::Boolean(b) => b.to_string(),
    }
}

/// The accounts in file order (`None` for an entry with a parse error).
pub fn accounts(workflow: &Workflow) -> Vec<Option<Account>> {
    workflow
        .accounts
        .values()
        .map(|a| {
            Some(Account {
                name: a.name.value.clone(),
                id: a.id.as_ref()?.value.clone(),
                span: a.name.span,
            })
        })
        .collect()
}

/// Resolves an account name written at `span`, reporting an unknown one.
pub fn resolve_account(
    workflow: &Workflow,
    name: &str,
    span: Span,
    what: &str,
    diags: &mut Vec<Diagnostic>,
) -> Option<usize> {
    if let Some(i) = workflow.accounts.get_index_of(name) {
        return Some(i);
    }
    let known: Vec<&str> = workflow.accounts.keys().map(String::as_str).collect();
    diags.push(
        Diagnostic::error(
            codes::UNKNOWN_ACCOUNT,
            format!("{what} `{name}` is not declared under `accounts:`"),
            span,
        )
        .with_label("unknown account")
        .with_help(suggest::help(name, &known, "account")),
    );
    None
}

/// Warns about accounts nothing uses.
pub fn report_unused(workflow: &Workflow, used: &[bool], diags: &mut Vec<Diagnostic>) {
    for (i, account) in workflow.accounts.values().enumerate() {
        if !used.get(i).copied().unwrap_or(true) {
            diags.push(
                Diagnostic::warning(
                    codes::UNUSED_ACCOUNT,
                    format!(
                        "account `{}` is declared but no stage runs in it",
                        account.name.value.as_str()
                    ),
                    account.name.span,
                )
                .with_label("unused")
                .with_help("remove it, or set `account:` on the stages that should run there"),
            );
        }
    }
}
