//! Generated workflows shared by the compiler benchmarks: the same stage graph as YAML text
//! ([`text`]) and as an AST built in memory ([`tree`]), so sizes the YAML reader refuses
//! (E022: more than 100,000 values from about 8,000 stages, and more than 1 MiB for the
//! 10,000-stage layers) can still be checked and lowered.
//!
//! Shapes ([`SHAPES`]): a chain (each stage needs the one before), a wide fan (one root,
//! N-2 parallel stages, one sink that needs them all) and a random DAG (each stage needs up
//! to three of the 50 stages before it, fixed seed), and layers (groups of four stages, each
//! needing every stage of the group before: series-parallel, as real workflows are). Every stage is an SSM approval with a
//! templated message; every tenth has a `when`; the default timeout is 10 minutes so a
//! 10,000-stage chain stays under the one-year run limit.

use std::fmt::Write as _;

use approvalc_dsl::Span;
use approvalc_dsl::ast::{self, Spanned, Text};
use approvalc_dsl::values::{
    AccountId, AccountName, Duration, InputName, InputType, Principal, Region, StageId,
    WorkflowName,
};
use indexmap::IndexMap;

/// Each stage's `needs`, as indices of earlier stages.
pub type Needs = Vec<Vec<usize>>;

/// A generator of `needs` for `n` stages.
pub type Shape = fn(usize) -> Needs;

pub const SHAPES: [(&str, Shape); 4] = [
    ("chain", chain),
    ("fan", fan),
    ("random", random_dag),
    ("layers", layers),
];

pub const SIZES: [usize; 4] = [10, 100, 1_000, 10_000];

const HEAD: &str = "apiVersion: approvalc/v1\nname: bench\nregion: ap-northeast-1\nhome: ops\naccounts:\n  ops: { id: \"111111111111\" }\ninput:\n  v: { type: string }\n  risk: { type: string, enum: [low, high] }\ndefaults:\n  timeout: 10m\nstages:\n";

const MESSAGE: &str = "v{{ input.v }}";
const WHEN: &str = "input.risk == \"high\"";

fn has_when(i: usize) -> bool {
    i % 10 == 3
}

pub fn chain(n: usize) -> Needs {
    (0..n)
        .map(|i| if i == 0 { vec![] } else { vec![i - 1] })
        .collect()
}

pub fn fan(n: usize) -> Needs {
    let mut needs = vec![vec![]];
    needs.extend((1..n.saturating_sub(1)).map(|_| vec![0]));
    needs.push((1..n.saturating_sub(1)).collect());
    needs
}

pub fn layers(n: usize) -> Needs {
    const WIDTH: usize = 4;
    (0..n)
        .map(|i| match (i / WIDTH).checked_sub(1) {
            Some(group) => (group * WIDTH..(group + 1) * WIDTH).collect(),
            None => vec![],
        })
        .collect()
}

/// Each stage needs up to three earlier stages chosen by a fixed xorshift sequence, among
/// the 50 before it (so chains stay under the one-year run limit at 10m per stage).
pub fn random_dag(n: usize) -> Needs {
    let mut all = Vec::with_capacity(n);
    let mut x: u64 = 0x9E37_79B9_7F4A_7C15;
    let mut next = || {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        x
    };
    for i in 0..n {
        let mut needs = Vec::new();
        if i > 0 {
            let k = next() % 4;
            for _ in 0..k {
                let back = 1 + usize::try_from(next() % 50).unwrap_or(0);
                let need = i.saturating_sub(back);
                if !needs.contains(&need) {
                    needs.push(need);
                }
            }
        }
        all.push(needs);
    }
    all
}

/// The workflow as YAML text.
pub fn text(needs: &[Vec<usize>]) -> String {
    let mut out = HEAD.to_owned();
    for (i, list) in needs.iter().enumerate() {
        let _ = writeln!(out, "  s{i}:");
        if !list.is_empty() {
            let list: Vec<String> = list.iter().map(|n| format!("s{n}")).collect();
            let _ = writeln!(out, "    needs: [{}]", list.join(", "));
        }
        if has_when(i) {
            let _ = writeln!(out, "    when: {WHEN}");
        }
        let _ = writeln!(
            out,
            "    ssm: {{ approvers: [alice], message: \"{MESSAGE}\" }}"
        );
    }
    out
}

fn sp<T>(v: T) -> Spanned<T> {
    Spanned::new(v, Span::new(0, 1))
}

fn ok<T>(r: Result<T, approvalc_dsl::values::ValueError>) -> T {
    r.unwrap_or_else(|e| panic!("{e}"))
}

fn text_value(v: &str) -> Text {
    Text {
        value: v.to_owned(),
        span: Span::new(0, v.len()),
        exact: true,
    }
}

/// The same workflow as [`text`] gives, built directly as an AST (dummy spans).
pub fn tree(needs: &[Vec<usize>]) -> ast::Workflow {
    let mut accounts = IndexMap::new();
    accounts.insert(
        "ops".to_owned(),
        ast::Account {
            name: sp(ok(AccountName::parse("ops"))),
            id: Some(sp(ok(AccountId::parse("111111111111")))),
            region: None,
        },
    );
    let mut input = IndexMap::new();
    for (name, allowed) in [("v", None), ("risk", Some(vec!["low", "high"]))] {
        input.insert(
            name.to_owned(),
            ast::InputParam {
                name: sp(ok(InputName::parse(name))),
                ty: Some(sp(InputType::String)),
                required: None,
                pattern: None,
                allowed: allowed.map(|a| {
                    sp(a.into_iter()
                        .map(|v| sp(ast::Literal::String(v.to_owned())))
                        .collect())
                }),
                default: None,
            },
        );
    }
    let mut stages = IndexMap::new();
    for (i, list) in needs.iter().enumerate() {
        let id = format!("s{i}");
        stages.insert(id.clone(), stage(&id, i, list));
    }
    ast::Workflow {
        api_version: Some(sp("approvalc/v1".to_owned())),
        name: Some(sp(ok(WorkflowName::parse("bench")))),
        description: None,
        region: Some(sp(ok(Region::parse("ap-northeast-1")))),
        home: Some(sp("ops".to_owned())),
        accounts,
        input,
        defaults: ast::Defaults {
            timeout: Some(sp(ok(Duration::parse("10m")))),
            on_timeout: None,
            notify: None,
        },
        rules: ast::Rules::default(),
        stages,
        span: Span::new(0, 1),
    }
}

fn stage(id: &str, i: usize, needs: &[usize]) -> ast::Stage {
    let ssm = ast::SsmApproval {
        approvers: Some(sp(vec![sp(ok(Principal::parse("alice")))])),
        min_approvals: None,
        message: Some(text_value(MESSAGE)),
        document: None,
        notify: None,
    };
    ast::Stage {
        id: sp(id.to_owned()),
        valid_id: Some(ok(StageId::parse(id))),
        needs: needs.iter().map(|n| sp(format!("s{n}"))).collect(),
        when: has_when(i).then(|| text_value(WHEN)),
        account: None,
        timeout: None,
        on_timeout: None,
        escalate: None,
        binding: Some(ast::Binding::Ssm(sp(ssm))),
        span: Span::new(0, 1),
    }
}
