//! Names used inside strings: `{{ }}` templates and `when:` conditions.
//!
//! Both sub-languages are parsed by `approvalc_dsl` with spans relative to the string; here
//! they become file spans through [`Text::sub_span`], names are resolved against `input:`
//! and the stage graph, and conditions are type-checked.

use approvalc_dsl::ast::{Literal, Text, Workflow};
use approvalc_dsl::expr::{self, CmpOp, Expr, ExprKind, LogicOp, Path, SyntaxError};
use approvalc_dsl::template::{self, Part};
use approvalc_dsl::values::InputType;
use approvalc_dsl::{Diagnostic, Span};

use super::graph::Graph;
use crate::codes;
use crate::model::{Condition, Operand, Reference, StageIndex, Template, TemplatePart, Value};
use crate::suggest;

/// Decisions a condition can observe: a stage that needs another only starts once that one
/// is `approved` or `skipped` (a rejection or timeout ends the run).
const OBSERVABLE_DECISIONS: &[&str] = &["approved", "skipped"];
const ALL_DECISIONS: &[&str] = &["approved", "rejected", "timed_out", "skipped"];

/// Resolves names for the stage at file position `here`.
pub struct Resolver<'a> {
    pub workflow: &'a Workflow,
    pub graph: &'a Graph,
    pub here: usize,
}

/// A resolved name with its type, for conditions.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Ty {
    String,
    Number,
    Boolean,
    /// A stage decision: a string from [`ALL_DECISIONS`].
    Decision,
}

impl Ty {
    fn of_input(ty: InputType) -> Self {
        match ty {
            InputType::String => Ty::String,
            InputType::Number => Ty::Number,
            InputType::Boolean => Ty::Boolean,
        }
    }

    fn of_literal(lit: &expr::Literal) -> Self {
        match lit {
            expr::Literal::String(_) => Ty::String,
            expr::Literal::Number(_) => Ty::Number,
            expr::Literal::Bool(_) => Ty::Boolean,
        }
    }

    fn name(self) -> &'static str {
        match self {
            Ty::String => "a string",
            Ty::Number => "a number",
            Ty::Boolean => "a boolean",
            Ty::Decision => "a decision (a string)",
        }
    }

    /// Decisions compare with strings.
    fn compatible(self, other: Ty) -> bool {
        let norm = |t| if t == Ty::Decision { Ty::String } else { t };
        norm(self) == norm(other)
    }
}

impl Resolver<'_> {
    fn stage_name(&self) -> &str {
        self.workflow
            .stages
            .get_index(self.here)
            .map_or("?", |(id, _)| id.as_str())
    }

    /// Resolves `input.NAME`, `run.id` or `stage.ID.decision`; reports and returns `None`
    /// otherwise. `in_condition` refuses `run.id`, which conditions cannot read.
    fn resolve(
        &self,
        path: &Path,
        text: &Text,
        in_condition: bool,
        diags: &mut Vec<Diagnostic>,
    ) -> Option<Reference> {
        let span = text.sub_span(path.span.start, path.span.end);
        let names: Vec<&str> = path.segments.iter().map(|s| s.name.as_str()).collect();
        match names.as_slice() {
            ["input", name] => self.input(name, path, text, diags).map(Reference::Input),
            ["run", "id"] if !in_condition => Some(Reference::RunId),
            ["stage", id, "decision"] => self
                .stage_ref(id, path, text, diags)
                .map(Reference::StageDecision),
            _ => {
                let forms = if in_condition {
                    "a condition reads `input.NAME` or `stage.ID.decision`"
                } else {
                    "a template refers to `input.NAME`, `run.id` or `stage.ID.decision`"
                };
                diags.push(
                    Diagnostic::error(
                        codes::UNKNOWN_REFERENCE,
                        format!("`{}` is not a name approvalc knows", path.dotted()),
                        span,
                    )
                    .with_label("unknown name")
                    .with_help(forms),
                );
                None
            }
        }
    }

    fn input(
        &self,
        name: &str,
        path: &Path,
        text: &Text,
        diags: &mut Vec<Diagnostic>,
    ) -> Option<usize> {
        if let Some(i) = self.workflow.input.get_index_of(name) {
            return Some(i);
        }
        let seg = path.segments.get(1).map_or(path.span, |s| s.span);
        let known: Vec<&str> = self.workflow.input.keys().map(String::as_str).collect();
        diags.push(
            Diagnostic::error(
                codes::UNKNOWN_INPUT,
                format!("`input.{name}` is not declared under `input:`"),
                text.sub_span(seg.start, seg.end),
            )
            .with_label("unknown input")
            .with_help(suggest::help(name, &known, "input")),
        );
        None
    }

    fn stage_ref(
        &self,
        id: &str,
        path: &Path,
        text: &Text,
        diags: &mut Vec<Diagnostic>,
    ) -> Option<StageIndex> {
        let seg = path.segments.get(1).map_or(path.span, |s| s.span);
        let span = text.sub_span(seg.start, seg.end);
        let Some(target) = self.workflow.stages.get_index_of(id) else {
            let known: Vec<&str> = self.workflow.stages.keys().map(String::as_str).collect();
            diags.push(
                Diagnostic::error(
                    codes::UNKNOWN_STAGE_REF,
                    format!("`stage.{id}` names no stage"),
                    span,
                )
                .with_label("unknown stage")
                .with_help(suggest::help(id, &known, "stage")),
            );
            return None;
        };
        match self.graph.is_ancestor(target, self.here) {
            Some(true) => {}
            // A cyclic graph was reported already; do not pile up errors on it.
            None => return None,
            Some(false) => {
                let here = self.stage_name();
                diags.push(
                    Diagnostic::error(
                        codes::STAGE_NOT_BEFORE,
                        format!("stage `{here}` reads the decision of `{id}`, which does not always end before it"),
                        span,
                    )
                    .with_label("not decided yet when this is read")
                    .with_help(format!("add `{id}` to the `needs` of `{here}` (directly or through another stage)")),
                );
                return None;
            }
        }
        let position = self
            .graph
            .order
            .as_ref()
            .and_then(|o| o.position.get(target).copied())?;
        Some(StageIndex(position))
    }

    /// Parses and resolves a template; `None` after reporting errors.
    pub fn template(&self, text: &Text, diags: &mut Vec<Diagnostic>) -> Option<Template> {
        let parsed = match template::parse(&text.value) {
            Ok(t) => t,
            Err(errors) => {
                for e in errors {
                    diags.push(syntax(codes::TEMPLATE_SYNTAX, e, text));
                }
                return None;
            }
        };
        let mut parts = Vec::with_capacity(parsed.parts.len());
        let mut ok = true;
        for part in parsed.parts {
            match part {
                Part::Text(t) => parts.push(TemplatePart::Text(t)),
                Part::Ref { path, .. } => match self.resolve(&path, text, false, diags) {
                    Some(r) => parts.push(TemplatePart::Ref(r)),
                    None => ok = false,
                },
            }
        }
        ok.then_some(Template {
            parts,
            span: text.span,
        })
    }

    /// Parses, resolves and type-checks a condition; `None` after reporting errors.
    pub fn condition(&self, text: &Text, diags: &mut Vec<Diagnostic>) -> Option<Condition> {
        let expr = match expr::parse(&text.value) {
            Ok(e) => e,
            Err(e) => {
                diags.push(syntax(codes::WHEN_SYNTAX, e, text));
                return None;
            }
        };
        let before = diags.len();
        let cond = self.boolean(&expr, text, diags);
        if diags.len() > before { None } else { cond }
    }

    /// An expression that must be true or false.
    fn boolean(&self, e: &Expr, text: &Text, diags: &mut Vec<Diagnostic>) -> Option<Condition> {
        match &e.kind {
            ExprKind::Not(inner) => {
                Some(Condition::Not(Box::new(self.boolean(inner, text, diags)?)))
            }
            ExprKind::Logic { op, lhs, rhs } => {
                let l = self.boolean(lhs, text, diags);
                let r = self.boolean(rhs, text, diags);
                let (l, r) = (Box::new(l?), Box::new(r?));
                Some(match op {
                    LogicOp::And => Condition::And(l, r),
                    LogicOp::Or => Condition::Or(l, r),
                })
            }
            ExprKind::Compare { op, lhs, rhs } => self.compare(*op, lhs, rhs, text, diags),
            ExprKind::In { lhs, list } => self.in_list(lhs, list, text, diags),
            ExprKind::Literal(_) | ExprKind::Path(_) => {
                let (operand, ty, _) = self.operand(e, text, diags)?;
                if ty == Ty::Boolean {
                    return Some(Condition::Operand(operand));
                }
                diags.push(
                    Diagnostic::error(
                        codes::WHEN_TYPE,
                        format!(
                            "a condition must be true or false, but this is {}",
                            ty.name()
                        ),
                        text.sub_span(e.span.start, e.span.end),
                    )
                    .with_label(format!("{}, not a boolean", ty.name()))
                    .with_help("compare it with a value, e.g. `input.risk == \"high\"`"),
                );
                None
            }
        }
    }

    /// A value: a path or a literal, with its type and source-relative span.
    fn operand(
        &self,
        e: &Expr,
        text: &Text,
        diags: &mut Vec<Diagnostic>,
    ) -> Option<(Operand, Ty, Span)> {
        match &e.kind {
            ExprKind::Literal(lit) => {
                Some((Operand::Literal(value(lit)), Ty::of_literal(lit), e.span))
            }
            ExprKind::Path(path) => match self.resolve(path, text, true, diags)? {
                Reference::Input(i) => {
                    let (name, param) = self.workflow.input.get_index(i)?;
                    let ty = Ty::of_input(param.ty.as_ref()?.value);
                    Some((Operand::Input(name.clone()), ty, e.span))
                }
                Reference::StageDecision(s) => {
                    Some((Operand::StageDecision(s), Ty::Decision, e.span))
                }
                Reference::RunId => None,
            },
            _ => {
                diags.push(
                    Diagnostic::error(
                        codes::WHEN_TYPE,
                        "compare values, not conditions",
                        text.sub_span(e.span.start, e.span.end),
                    )
                    .with_label("a condition, not a value")
                    .with_help(
                        "combine conditions with `&&`, `||` and `!` instead of comparing them",
                    ),
                );
                None
            }
        }
    }

    fn compare(
        &self,
        op: CmpOp,
        lhs: &Expr,
        rhs: &Expr,
        text: &Text,
        diags: &mut Vec<Diagnostic>,
    ) -> Option<Condition> {
        let l = self.operand(lhs, text, diags);
        let r = self.operand(rhs, text, diags);
        let ((lo, lt, ls), (ro, rt, rs)) = (l?, r?);
        let whole = text.sub_span(ls.start, rs.end);
        if op.is_ordering() && (lt != Ty::Number || rt != Ty::Number) {
            let (bad_ty, bad_span) = if lt == Ty::Number { (rt, rs) } else { (lt, ls) };
            diags.push(
                Diagnostic::error(
                    codes::WHEN_ORDERING,
                    format!(
                        "`{}` compares numbers only, but this is {}",
                        op.as_str(),
                        bad_ty.name()
                    ),
                    text.sub_span(bad_span.start, bad_span.end),
                )
                .with_label(bad_ty.name())
                .with_help("use `==`, `!=` or `in [..]` for strings and booleans"),
            );
            return None;
        }
        if !lt.compatible(rt) {
            diags.push(
                Diagnostic::error(
                    codes::WHEN_TYPE,
                    format!("cannot compare {} with {}", lt.name(), rt.name()),
                    whole,
                )
                .with_label(format!("{} {} {}", lt.name(), op.as_str(), rt.name()))
                .with_help(type_help(lt, rt)),
            );
            return None;
        }
        self.possible(&lo, &ro, text.sub_span(rs.start, rs.end), diags);
        self.possible(&ro, &lo, text.sub_span(ls.start, ls.end), diags);
        Some(Condition::Compare {
            op,
            lhs: lo,
            rhs: ro,
        })
    }

    fn in_list(
        &self,
        lhs: &Expr,
        list: &[(expr::Literal, Span)],
        text: &Text,
        diags: &mut Vec<Diagnostic>,
    ) -> Option<Condition> {
        let (operand, ty, _) = self.operand(lhs, text, diags)?;
        let mut values = Vec::with_capacity(list.len());
        let mut ok = true;
        for (lit, span) in list {
            let item_ty = Ty::of_literal(lit);
            let file_span = text.sub_span(span.start, span.end);
            if !ty.compatible(item_ty) {
                diags.push(
                    Diagnostic::error(
                        codes::WHEN_TYPE,
                        format!(
                            "list item is {}, but the value tested is {}",
                            item_ty.name(),
                            ty.name()
                        ),
                        file_span,
                    )
                    .with_label(item_ty.name())
                    .with_help(type_help(ty, item_ty)),
                );
                ok = false;
                continue;
            }
            let v = value(lit);
            self.possible(&operand, &Operand::Literal(v.clone()), file_span, diags);
            values.push(v);
        }
        ok.then_some(Condition::In { operand, values })
    }

    /// Reports a literal that `subject` can never equal: a value outside an input's `enum`,
    /// or a decision a later stage never sees.
    fn possible(
        &self,
        subject: &Operand,
        other: &Operand,
        span: Span,
        diags: &mut Vec<Diagnostic>,
    ) {
        let Operand::Literal(lit) = other else { return };
        match subject {
            Operand::Input(name) => {
                let Some(param) = self.workflow.input.get(name) else {
                    return;
                };
                let Some(allowed) = &param.allowed else {
                    return;
                };
                let values: Vec<Value> = allowed
                    .value
                    .iter()
                    .map(|l| literal_value(&l.value))
                    .collect();
                if values.is_empty() || values.contains(lit) {
                    return;
                }
                let shown: Vec<String> = values.iter().map(show).collect();
                let words: Vec<&str> = shown.iter().map(String::as_str).collect();
                let mut help = format!("`input.{name}` is one of {}", shown.join(", "));
                if let Some(close) = suggest::closest(&show(lit), words.iter().copied()) {
                    help = format!("did you mean {close}? ({help})");
                }
                diags.push(
                    Diagnostic::error(
                        codes::IMPOSSIBLE_VALUE,
                        format!("`input.{name}` can never be {}", show(lit)),
                        span,
                    )
                    .with_label("not one of the input's `enum` values")
                    .with_help(help),
                );
            }
            Operand::StageDecision(_) => {
                let Value::String(word) = lit else { return };
                if OBSERVABLE_DECISIONS.contains(&word.as_str()) {
                    return;
                }
                let help = if ALL_DECISIONS.contains(&word.as_str()) {
                    "a stage that waits for another starts only when that one is `approved` or `skipped`; a `rejected` or `timed_out` stage ends the run".to_owned()
                } else {
                    suggest::closest(word, ALL_DECISIONS.iter().copied()).map_or_else(
                        || "a decision read here is `approved` or `skipped`".to_owned(),
                        |w| format!("did you mean `{w}`?"),
                    )
                };
                diags.push(
                    Diagnostic::error(
                        codes::IMPOSSIBLE_VALUE,
                        format!("a stage decision read here is never \"{word}\""),
                        span,
                    )
                    .with_label("never this value")
                    .with_help(help),
                );
            }
            Operand::Literal(_) => {}
        }
    }
}

fn type_help(a: Ty, b: Ty) -> String {
    if a.compatible(Ty::String) || b.compatible(Ty::String) {
        "quote text values (`\"3\"`) or compare with a value of the same type".to_owned()
    } else {
        "compare values of the same type".to_owned()
    }
}

fn show(v: &Value) -> String {
    match v {
        Value::String(s) => format!("\"{s}\""),
        Value::Number(n) => n.to_string(),
        Value::Boolean(b) => b.to_string(),
    }
}

fn value(lit: &expr::Literal) -> Value {
    match lit {
        expr::Literal::String(s) => Value::String(s.clone()),
        expr::Literal::Number(n) => Value::Number(*n),
        expr::Literal::Bool(b) => Value::Boolean(*b),
    }
}

pub fn literal_value(lit: &Literal) -> Value {
    match lit {
        Literal::String(s) => Value::String(s.clone()),
        Literal::Number(n) => Value::Number(*n),
        Literal::Boolean(b) => Value::Boolean(*b),
    }
}

fn syntax(code: &'static str, e: SyntaxError, text: &Text) -> Diagnostic {
    let d = Diagnostic::error(code, e.message, text.sub_span(e.span.start, e.span.end))
        .with_label(e.label);
    match e.help {
        Some(help) => d.with_help(help),
        None => d,
    }
}
