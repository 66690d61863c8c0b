//! One test per check: a small workflow and the codes it must produce (in any order,
//! with multiplicity). `check_at` also pins the position of the first diagnostic.

use approvalc_dsl::diagnostic::line_col;

use super::check as run;
use crate::codes::*;
use crate::model::{
    Binding, Condition, OnTimeout, Operand, PipelineTarget, Reference, TemplatePart,
};

const HEAD: &str = "\
apiVersion: approvalc/v1
name: release
region: ap-northeast-1
home: ops
accounts:
  ops: { id: \"111111111111\" }
  prod: { id: \"222222222222\" }
input:
  version: { type: string, required: true }
  risk: { type: string, enum: [low, high], default: low }
  count: { type: number }
  urgent: { type: boolean }
";

/// `HEAD` + `body`, checked; asserts exactly these codes (sorted) come out.
fn check(body: &str, expected: &[&str]) {
    let source = format!("{HEAD}{body}");
    let checked = run(&source);
    let mut got: Vec<&str> = checked.diagnostics.iter().map(|d| d.code).collect();
    got.sort_unstable();
    let mut want = expected.to_vec();
    want.sort_unstable();
    assert_eq!(got, want, "\n{source}\n{:#?}", checked.diagnostics);
    assert_eq!(checked.model.is_some(), !checked.has_errors());
}

/// Like [`check`], and the first diagnostic with `code` starts at `line:col` of the body.
fn check_at(body: &str, code: &str, line: usize, col: usize) {
    let source = format!("{HEAD}{body}");
    let checked = run(&source);
    let d = checked
        .diagnostics
        .iter()
        .find(|d| d.code == code)
        .unwrap_or_else(|| panic!("no {code} in {:#?}", checked.diagnostics));
    let head_lines = HEAD.lines().count();
    let at = line_col(&source, d.span.start);
    assert_eq!((at.0 - head_lines, at.1), (line, col), "{d:#?}");
}

const SSM: &str = "    ssm: { approvers: [arn:aws:iam::111111111111:role/A] }\n";

fn stages(list: &[(&str, &str)]) -> String {
    let mut s = String::from("stages:\n");
    for (i, (id, extra)) in list.iter().enumerate() {
        // The first stage uses `prod`, so that account is not reported unused.
        let account = if i == 0 && !extra.contains("account:") {
            "    account: prod\n"
        } else {
            ""
        };
        s.push_str(&format!("  {id}:\n{account}{extra}{SSM}"));
    }
    s
}

#[test]
fn a_clean_workflow_builds_a_model() {
    let body = stages(&[
        ("a", ""),
        (
            "b",
            "    needs: [a]\n    when: input.risk == \"high\" && stage.a.decision == \"approved\"\n",
        ),
        ("c", "    needs: [a]\n"),
        ("d", "    needs: [b, c]\n    account: prod\n"),
    ]);
    let source = format!("{HEAD}{body}");
    let checked = run(&source);
    assert!(checked.diagnostics.is_empty(), "{:#?}", checked.diagnostics);
    let model = checked.model.unwrap();
    let ids: Vec<&str> = model.stages.iter().map(|s| s.id.as_str()).collect();
    assert_eq!(ids, ["a", "b", "c", "d"]);
    assert_eq!(model.stages[3].account.name.as_str(), "prod");
    assert!(model.is_cross_account(&model.stages[3]));
    assert_eq!(model.graph().edge_count(), 4);
    assert_eq!(model.sinks().len(), 1);
    let Some(when) = &model.stages[1].when else {
        panic!()
    };
    assert!(matches!(when.condition, Condition::And(..)));
}

#[test]
fn stages_come_in_topological_order_then_file_order() {
    let body = stages(&[
        ("late", "    needs: [early]\n"),
        ("other", ""),
        ("early", ""),
    ]);
    let model = run(&format!("{HEAD}{body}")).model.unwrap();
    let ids: Vec<&str> = model.stages.iter().map(|s| s.id.as_str()).collect();
    assert_eq!(ids, ["other", "early", "late"]);
    assert_eq!(model.stages[2].needs, [crate::model::StageIndex(1)]);
}

#[test]
fn unknown_need() {
    check(&stages(&[("a", "    needs: [b]\n")]), &[UNKNOWN_NEED]);
    check_at(
        &stages(&[("team-lead", ""), ("a", "    needs: [team-laed]\n")]),
        UNKNOWN_NEED,
        6,
        13,
    );
}

#[test]
fn unknown_need_suggests_the_closest_stage() {
    let checked = run(&format!(
        "{HEAD}{}",
        stages(&[("security", ""), ("a", "    needs: [securty]\n")])
    ));
    assert_eq!(
        checked.diagnostics[0].help.as_deref(),
        Some("did you mean `security`?")
    );
}

#[test]
fn self_need() {
    check(&stages(&[("a", "    needs: [a]\n")]), &[SELF_NEED]);
}

#[test]
fn duplicate_need_is_a_warning_and_still_builds() {
    check(
        &stages(&[("a", ""), ("b", "    needs: [a, a]\n")]),
        &[DUPLICATE_NEED],
    );
}

#[test]
fn cycle_prints_the_path_and_labels_each_edge() {
    let body = stages(&[
        ("a", "    needs: [c]\n"),
        ("b", "    needs: [a]\n"),
        ("c", "    needs: [b]\n"),
    ]);
    check(&body, &[CYCLE]);
    let d = run(&format!("{HEAD}{body}")).diagnostics.remove(0);
    assert!(d.message.ends_with("a → c → b → a"), "{}", d.message);
    assert_eq!(d.related.len(), 2);
    check_at(&body, CYCLE, 4, 13);
}

#[test]
fn two_cycles_are_two_errors() {
    let body = stages(&[
        ("a", "    needs: [b]\n"),
        ("b", "    needs: [a]\n"),
        ("c", "    needs: [d]\n"),
        ("d", "    needs: [c]\n"),
    ]);
    check(&body, &[CYCLE, CYCLE]);
}

#[test]
fn redundant_need() {
    let body = stages(&[
        ("a", ""),
        ("b", "    needs: [a]\n"),
        ("c", "    needs: [a, b]\n"),
    ]);
    check(&body, &[REDUNDANT_NEED]);
    let d = run(&format!("{HEAD}{body}")).diagnostics.remove(0);
    assert_eq!(
        d.message,
        "`c` needs `a` and `b`, but `b` already needs `a`"
    );
}

#[test]
fn unknown_account() {
    check(&stages(&[("a", "    account: prdo\n")]), &[UNKNOWN_ACCOUNT]);
}

#[test]
fn unknown_home() {
    let source = HEAD.replace("home: ops", "home: opps");
    let checked = run(&format!("{source}{}", stages(&[("a", "")])));
    let codes: Vec<&str> = checked.diagnostics.iter().map(|d| d.code).collect();
    assert!(codes.contains(&UNKNOWN_ACCOUNT), "{codes:?}");
    assert!(checked.model.is_none());
}

#[test]
fn unused_account_is_a_warning() {
    check(
        "stages:\n  a:\n    ssm: { approvers: [x] }\n",
        &[UNUSED_ACCOUNT],
    );
}

fn ssm_stage(ssm: &str) -> String {
    format!("stages:\n  a:\n    account: prod\n    ssm: {ssm}\n")
}

#[test]
fn approver_count() {
    let eleven: Vec<String> = (0..11).map(|i| format!("u{i}")).collect();
    check(
        &ssm_stage(&format!("{{ approvers: [{}] }}", eleven.join(", "))),
        &[APPROVER_COUNT],
    );
}

#[test]
fn duplicate_approver() {
    check(
        &ssm_stage("{ approvers: [alice, bob, alice] }"),
        &[DUPLICATE_APPROVER],
    );
    check_at(
        &ssm_stage("{ approvers: [alice, bob, alice] }"),
        DUPLICATE_APPROVER,
        4,
        36,
    );
}

#[test]
fn min_approvals_over_approvers() {
    check(
        &ssm_stage("{ approvers: [alice, bob], min_approvals: 3 }"),
        &[MIN_APPROVALS],
    );
    check(
        &ssm_stage("{ approvers: [alice, bob], min_approvals: 2 }"),
        &[],
    );
}

#[test]
fn ssm_timeout_over_30_days() {
    check(
        &format!("stages:\n  a:\n    account: prod\n    timeout: 31d\n{SSM}"),
        &[TIMEOUT_LIMIT],
    );
    check(
        &format!("stages:\n  a:\n    account: prod\n    timeout: 30d\n{SSM}"),
        &[],
    );
}

#[test]
fn inherited_timeout_is_reported_on_the_stage() {
    let body = format!("defaults:\n  timeout: 45d\nstages:\n  a:\n    account: prod\n{SSM}");
    check(&body, &[TIMEOUT_LIMIT]);
    check_at(&body, TIMEOUT_LIMIT, 4, 3);
}

fn cp_stage(extra: &str, cp: &str) -> String {
    format!(
        "stages:\n  a:\n    account: prod\n{extra}    codepipeline: {{ approvers: [arn:aws:iam::222222222222:role/R]{cp} }}\n"
    )
}

#[test]
fn codepipeline_timeout_range() {
    check(&cp_stage("    timeout: 4m\n", ""), &[TIMEOUT_LIMIT]);
    check(&cp_stage("    timeout: 61d\n", ""), &[TIMEOUT_LIMIT]);
    check(&cp_stage("    timeout: 60d\n", ""), &[]);
}

#[test]
fn escalate_timeout_over_limit() {
    let body = format!(
        "stages:\n  a:\n    account: prod\n    on_timeout: escalate\n    escalate: {{ approvers: [bob], timeout: 40d }}\n{SSM}"
    );
    check(&body, &[ESCALATE_TIMEOUT_LIMIT]);
}

#[test]
fn escalation_builds_into_the_model() {
    let body = format!(
        "stages:\n  a:\n    account: prod\n    timeout: 2d\n    on_timeout: escalate\n    escalate: {{ approvers: [bob] }}\n{SSM}"
    );
    let model = run(&format!("{HEAD}{body}")).model.unwrap();
    let OnTimeout::Escalate(e) = &model.stages[0].on_timeout else {
        panic!()
    };
    assert_eq!(e.timeout.duration.as_secs(), 2 * 86_400);
}

#[test]
fn message_too_long() {
    let long = "x".repeat(4_097);
    check(
        &ssm_stage(&format!("{{ approvers: [a], message: \"{long}\" }}")),
        &[MESSAGE_TOO_LONG],
    );
    let ok = "x".repeat(4_096);
    check(
        &ssm_stage(&format!("{{ approvers: [a], message: \"{ok}\" }}")),
        &[],
    );
}

#[test]
fn custom_data_too_long() {
    let long = "x".repeat(498);
    // "high" or "low": at least 3 more characters from the enum input.
    check(
        &cp_stage(
            "",
            &format!(", custom_data: \"{long}{{{{ input.risk }}}}\""),
        ),
        &[CUSTOM_DATA_TOO_LONG],
    );
    check(
        &cp_stage(
            "",
            &format!(", custom_data: \"{long}{{{{ input.version }}}}\""),
        ),
        &[],
    );
}

#[test]
fn external_link_must_be_a_url() {
    check(
        &cp_stage("", ", external_link: \"tickets/{{ input.version }}\""),
        &[EXTERNAL_LINK],
    );
    check(
        &cp_stage(
            "",
            ", external_link: \"https://t.example.com/{{ input.version }}\"",
        ),
        &[],
    );
}

#[test]
fn ssm_notify_topic_must_start_with_automation() {
    let topic = "arn:aws:sns:ap-northeast-1:222222222222:Approvals";
    check(
        &ssm_stage(&format!("{{ approvers: [a], notify: \"{topic}\" }}")),
        &[NOTIFY_TOPIC_NAME],
    );
    // CodePipeline has no such rule.
    check(&cp_stage("", &format!(", notify: \"{topic}\"")), &[]);
}

#[test]
fn notify_topic_in_another_region_or_account_warns() {
    let topic = "arn:aws:sns:us-east-1:111111111111:AutomationX";
    check(
        &ssm_stage(&format!("{{ approvers: [a], notify: \"{topic}\" }}")),
        &[NOTIFY_TOPIC_PLACE, NOTIFY_TOPIC_PLACE],
    );
}

#[test]
fn inherited_notify_is_checked_per_stage() {
    let body = format!(
        "defaults:\n  notify: arn:aws:sns:ap-northeast-1:222222222222:Approvals\nstages:\n  a:\n    account: prod\n{SSM}"
    );
    check(&body, &[NOTIFY_TOPIC_NAME]);
    check_at(&body, NOTIFY_TOPIC_NAME, 4, 3);
}

fn with_input(field: &str) -> String {
    format!("input:\n  {field}\nstages:\n  a:\n    account: prod\n{SSM}")
}

fn check_input(field: &str, expected: &[&str]) {
    // Replace the whole input block of HEAD with one field.
    let head = HEAD.split("input:\n").next().unwrap_or(HEAD);
    let source =
        format!("{head}{}", with_input(field)).replace("  ops: { id: \"111111111111\" }\n", "");
    let source = source.replace("home: ops", "home: prod");
    let checked = run(&source);
    let mut got: Vec<&str> = checked.diagnostics.iter().map(|d| d.code).collect();
    got.sort_unstable();
    assert_eq!(got, expected, "{source}\n{:#?}", checked.diagnostics);
}

#[test]
fn default_outside_enum() {
    check_input(
        "risk: { type: string, enum: [low, high], default: hihg }",
        &[DEFAULT_NOT_IN_ENUM],
    );
}

#[test]
fn default_not_matching_pattern() {
    check_input(
        "ticket: { type: string, pattern: \"^[A-Z]+-[0-9]+$\", default: abc }",
        &[DEFAULT_PATTERN],
    );
    check_input(
        "ticket: { type: string, pattern: \"^[A-Z]+-[0-9]+$\", default: AB-1 }",
        &[],
    );
}

#[test]
fn enum_value_not_matching_pattern() {
    check_input(
        "t: { type: string, pattern: \"^[a-z]+$\", enum: [ok, NO] }",
        &[ENUM_PATTERN],
    );
}

#[test]
fn required_with_default_warns() {
    check_input(
        "t: { type: string, required: true, default: x }",
        &[REQUIRED_WITH_DEFAULT],
    );
}

#[test]
fn escalate_without_on_timeout() {
    check(
        &format!("stages:\n  a:\n    account: prod\n    escalate: {{ approvers: [bob] }}\n{SSM}"),
        &[ESCALATE_WITHOUT_ON_TIMEOUT],
    );
}

#[test]
fn on_timeout_escalate_without_escalate() {
    check(
        &format!("stages:\n  a:\n    account: prod\n    on_timeout: escalate\n{SSM}"),
        &[ON_TIMEOUT_WITHOUT_ESCALATE],
    );
}

#[test]
fn escalate_on_action_stage() {
    let body = "stages:\n  a:\n    account: prod\n    on_timeout: escalate\n    escalate: { approvers: [bob] }\n    action:\n      ssm_automation: { document: Doc }\n";
    check(body, &[ESCALATE_ON_ACTION]);
}

fn message(text: &str) -> String {
    stages(&[("first", "")])
        + &format!(
            "  a:\n    needs: [first]\n    account: prod\n    ssm: {{ approvers: [x], message: \"{text}\" }}\n"
        )
}

#[test]
fn template_references_resolve() {
    let body = message("v{{ input.version }} {{ run.id }} {{ stage.first.decision }}");
    let model = run(&format!("{HEAD}{body}")).model.unwrap();
    let Binding::Ssm(ssm) = &model.stages[1].binding else {
        panic!()
    };
    let refs: Vec<&Reference> = ssm
        .message
        .parts
        .iter()
        .filter_map(|p| match p {
            TemplatePart::Ref(r) => Some(r),
            TemplatePart::Text(_) => None,
        })
        .collect();
    assert_eq!(
        refs,
        [
            &Reference::Input(0),
            &Reference::RunId,
            &Reference::StageDecision(crate::model::StageIndex(0))
        ]
    );
}

#[test]
fn template_syntax_error() {
    check(&message("v{{ input.version"), &[TEMPLATE_SYNTAX]);
}

#[test]
fn template_unknown_reference() {
    check(&message("{{ run.name }}"), &[UNKNOWN_REFERENCE]);
    check(&message("{{ inputs.version }}"), &[UNKNOWN_REFERENCE]);
}

#[test]
fn template_unknown_input_points_at_the_name() {
    check(&message("v{{ input.verison }}"), &[UNKNOWN_INPUT]);
    // Line 8 of the body, after `    ssm: { approvers: [x], message: "v{{ input.`.
    check_at(&message("v{{ input.verison }}"), UNKNOWN_INPUT, 8, 48);
}

#[test]
fn template_unknown_stage() {
    check(&message("{{ stage.frist.decision }}"), &[UNKNOWN_STAGE_REF]);
}

#[test]
fn template_stage_that_does_not_come_before() {
    let body = stages(&[("other", "")])
        + "  a:\n    account: prod\n    ssm: { approvers: [x], message: \"{{ stage.other.decision }}\" }\n";
    check(&body, &[STAGE_NOT_BEFORE]);
    check(&message("{{ stage.a.decision }}"), &[STAGE_NOT_BEFORE]);
}

fn when(cond: &str) -> String {
    stages(&[("first", "")])
        + &format!("  a:\n    needs: [first]\n    account: prod\n    when: '{cond}'\n{SSM}")
}

#[test]
fn when_parses_into_a_typed_tree() {
    let model = run(&format!(
        "{HEAD}{}",
        when("input.count >= 3 || input.urgent")
    ))
    .model
    .unwrap();
    let Some(w) = &model.stages[1].when else {
        panic!()
    };
    let Condition::Or(l, r) = &w.condition else {
        panic!()
    };
    assert!(matches!(**l, Condition::Compare { .. }));
    assert_eq!(**r, Condition::Operand(Operand::Input("urgent".into())));
    check(
        &when("input.risk in [\"low\", \"high\"] && !input.urgent"),
        &[],
    );
}

#[test]
fn when_syntax_error() {
    check(&when("input.risk = \"high\""), &[WHEN_SYNTAX]);
    check_at(&when("input.risk = \"high\""), WHEN_SYNTAX, 8, 23);
}

#[test]
fn when_compares_string_to_number() {
    check(&when("input.version == 3"), &[WHEN_TYPE]);
}

#[test]
fn when_must_be_boolean() {
    check(&when("input.version"), &[WHEN_TYPE]);
    check(&when("input.urgent == (input.count > 1)"), &[WHEN_TYPE]);
}

#[test]
fn when_in_list_item_of_another_type() {
    check(&when("input.count in [1, \"2\"]"), &[WHEN_TYPE]);
}

#[test]
fn when_ordering_on_strings_or_booleans() {
    check(&when("input.version < \"2\""), &[WHEN_ORDERING]);
    check(&when("input.urgent > false"), &[WHEN_ORDERING]);
}

#[test]
fn when_unknown_operands() {
    check(&when("input.rsik == \"high\""), &[UNKNOWN_INPUT]);
    check(&when("run.id == \"x\""), &[UNKNOWN_REFERENCE]);
    check(
        &when("stage.nope.decision == \"approved\""),
        &[UNKNOWN_STAGE_REF],
    );
}

#[test]
fn when_values_that_can_never_match() {
    check(&when("input.risk == \"hihg\""), &[IMPOSSIBLE_VALUE]);
    check(
        &when("stage.first.decision == \"rejected\""),
        &[IMPOSSIBLE_VALUE],
    );
    check(
        &when("stage.first.decision == \"aproved\""),
        &[IMPOSSIBLE_VALUE],
    );
    check(&when("stage.first.decision == \"skipped\""), &[]);
}

#[test]
fn name_too_long_for_a_stage_role() {
    let id = "s".repeat(40);
    // approvalc-release-<40 chars> = 58 chars: fits. A 60-char workflow name does not.
    check(&stages(&[(&id, "    account: prod\n")]), &[]);
    let long = HEAD.replace("name: release", &format!("name: {}", "w".repeat(20)));
    let checked = run(&format!(
        "{long}{}",
        stages(&[(&id, "    account: prod\n")])
    ));
    assert_eq!(
        checked
            .diagnostics
            .iter()
            .map(|d| d.code)
            .collect::<Vec<_>>(),
        [NAME_TOO_LONG]
    );
}

#[test]
fn name_too_long_for_the_workflow_role() {
    let long = HEAD.replace("name: release", &format!("name: {}", "w".repeat(60)));
    let checked = run(&format!("{long}stages:\n  a:\n    account: prod\n{SSM}"));
    let codes: Vec<&str> = checked.diagnostics.iter().map(|d| d.code).collect();
    assert!(
        codes.iter().all(|c| *c == NAME_TOO_LONG) && codes.len() == 2,
        "{codes:?}"
    );
}

#[test]
fn run_longer_than_a_year() {
    let mut body = String::from("defaults:\n  timeout: 30d\nstages:\n");
    for i in 0..13 {
        let needs = if i == 0 {
            String::new()
        } else {
            format!("    needs: [s{}]\n", i - 1)
        };
        body.push_str(&format!("  s{i}:\n{needs}    account: prod\n{SSM}"));
    }
    check(&body, &[RUN_TOO_LONG]);
}

#[test]
fn parameter_too_long() {
    let long = "x".repeat(513);
    let body = format!(
        "stages:\n  a:\n    account: prod\n    action:\n      ssm_automation: {{ document: Doc, parameters: {{ P: \"{long}\" }} }}\n"
    );
    check(&body, &[PARAMETER_TOO_LONG]);
}

#[test]
fn shared_pipeline_action() {
    let cp = ", pipeline: p, stage: s, action: a";
    let body = cp_stage("", cp)
        + &format!("  b:\n    account: prod\n    codepipeline: {{ approvers: [x]{cp} }}\n");
    check(&body, &[SHARED_PIPELINE_ACTION]);
}

#[test]
fn incomplete_pipeline_target() {
    check(&cp_stage("", ", pipeline: p"), &[PIPELINE_TARGET]);
}

#[test]
fn pipeline_targets_in_the_model() {
    let model = run(&format!("{HEAD}{}", cp_stage("", ""))).model.unwrap();
    let Binding::CodePipeline(cp) = &model.stages[0].binding else {
        panic!()
    };
    assert_eq!(
        cp.pipeline,
        PipelineTarget::Dedicated {
            name: "approvalc-release-a".into()
        }
    );
}

#[test]
fn several_errors_in_one_run() {
    let body = stages(&[
        (
            "a",
            "    needs: [zz]\n    account: nope\n    when: 'input.x == 1'\n",
        ),
        ("b", "    needs: [b]\n"),
    ]);
    check(
        &body,
        &[UNKNOWN_NEED, UNKNOWN_ACCOUNT, UNKNOWN_INPUT, SELF_NEED],
    );
}

#[test]
fn every_code_is_in_range_and_unique() {
    let mut seen = std::collections::HashSet::new();
    for code in ALL {
        let n: u32 = code.trim_start_matches("approvalc::E").parse().unwrap();
        assert!((30..=79).contains(&n), "{code}");
        assert!(seen.insert(code), "{code} twice");
    }
}

#[test]
fn long_paths_are_shortened_in_messages() {
    let ids: Vec<String> = (0..20).map(|i| format!("s{i}")).collect();
    let refs: Vec<&str> = ids.iter().map(String::as_str).collect();
    assert_eq!(
        super::show_path(&refs),
        "s0 → s1 → s2 → s3 → … 12 more … → s16 → s17 → s18 → s19"
    );
    assert_eq!(super::show_path(&refs[..3]), "s0 → s1 → s2");
}

#[test]
fn name_too_long_for_the_documents_rule_only_with_own_documents() {
    // approvalc-<50>-documents = 70 > 64 (EventBridge rule); approvalc-<50> = 60 fits a role.
    let long = HEAD.replace("name: release", &format!("name: {}", "w".repeat(50)));
    let action =
        "stages:\n  a:\n    account: prod\n    action:\n      ssm_automation: { document: Doc }\n";
    let checked = run(&format!("{long}{action}"));
    let codes: Vec<&str> = checked.diagnostics.iter().map(|d| d.code).collect();
    assert_eq!(codes, [NAME_TOO_LONG], "{:#?}", checked.diagnostics);
    assert!(checked.diagnostics[0].message.contains("EventBridge rule"));
    let ssm = format!("stages:\n  a:\n    account: prod\n{SSM}");
    assert!(run(&format!("{long}{ssm}")).diagnostics.is_empty());
}
