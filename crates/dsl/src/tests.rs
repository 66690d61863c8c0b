//! One line per diagnostic: `check(input, code, "line:col")`.

use crate::codes;
use crate::diagnostic::line_col;

/// Asserts that parsing `input` reports `code` at `at` ("line:col" of the span start).
#[track_caller]
fn check(input: &str, code: &str, at: &str) {
    let parsed = crate::parse(input);
    let found: Vec<String> = parsed
        .diagnostics
        .iter()
        .map(|d| {
            let (l, c) = line_col(input, d.span.start);
            format!("{} at {l}:{c}: {}", d.code, d.message)
        })
        .collect();
    let want = format!("{code} at {at}:");
    assert!(
        found.iter().any(|f| f.starts_with(&want)),
        "expected {want}, found:\n{}",
        found.join("\n")
    );
}

/// Asserts `input` parses without any diagnostic.
#[track_caller]
fn clean(input: &str) -> crate::ast::Workflow {
    let parsed = crate::parse(input);
    assert!(parsed.diagnostics.is_empty(), "{:#?}", parsed.diagnostics);
    parsed.workflow.expect("workflow")
}

/// A valid workflow; tests append to or substitute into it.
const BASE: &str = "\
apiVersion: approvalc/v1
name: release
region: ap-northeast-1
home: ops
accounts:
  ops: { id: \"111111111111\" }
stages:
  lead:
    ssm:
      approvers: [alice]
";

fn with(replace: &str, by: &str) -> String {
    assert!(BASE.contains(replace), "{replace}");
    BASE.replacen(replace, by, 1)
}

#[test]
fn the_base_workflow_is_clean() {
    let wf = clean(BASE);
    assert_eq!(wf.stages.len(), 1);
    assert_eq!(
        wf.name.map(|n| n.value.as_str().to_owned()).as_deref(),
        Some("release")
    );
}

#[test]
fn the_dsl_reference_example_is_clean() {
    let src = include_str!("../tests/data/dsl-reference.yaml");
    let wf = clean(src);
    assert_eq!(
        wf.stages.keys().collect::<Vec<_>>(),
        ["team-lead", "security", "prod-owner", "grant-access"]
    );
}

#[test]
fn yaml_syntax() {
    check("a: [1, 2\nb: c\n", codes::YAML_SYNTAX, "2:2");
}
#[test]
fn not_a_mapping() {
    check("- a\n- b\n", codes::NOT_A_WORKFLOW, "1:1");
}
#[test]
fn empty_file() {
    check("# nothing\n", codes::NOT_A_WORKFLOW, "1:1");
}
#[test]
fn unknown_key() {
    check(
        &with("    ssm:", "    nedds: [x]\n    ssm:"),
        codes::UNKNOWN_KEY,
        "9:5",
    );
}
#[test]
fn duplicate_key() {
    check(
        &with("home: ops\n", "home: ops\nhome: ops\n"),
        codes::DUPLICATE_KEY,
        "5:1",
    );
}
#[test]
fn duplicate_stage() {
    check(
        &format!("{BASE}  lead:\n    ssm: {{ approvers: [bob] }}\n"),
        codes::DUPLICATE_KEY,
        "11:3",
    );
}
#[test]
fn missing_key() {
    check(&with("home: ops\n", ""), codes::MISSING_KEY, "1:1");
}
#[test]
fn missing_approvers() {
    check(
        &with("      approvers: [alice]\n", "      min_approvals: 1\n"),
        codes::MISSING_KEY,
        "9:5",
    );
}
#[test]
fn wrong_type() {
    check(
        &with("approvers: [alice]", "approvers: alice"),
        codes::WRONG_TYPE,
        "10:18",
    );
}
#[test]
fn unquoted_account_id() {
    check(
        &with("\"111111111111\"", "111111111111"),
        codes::WRONG_TYPE,
        "6:14",
    );
}
#[test]
fn no_binding() {
    check(
        &with("    ssm:\n      approvers: [alice]\n", "    timeout: 1d\n"),
        codes::NO_BINDING,
        "8:3",
    );
}
#[test]
fn several_bindings() {
    check(
        &format!("{BASE}    codepipeline: {{ approvers: [bob] }}\n"),
        codes::SEVERAL_BINDINGS,
        "11:5",
    );
}
#[test]
fn api_version() {
    check(
        &with("approvalc/v1", "approvalc/v2"),
        codes::API_VERSION,
        "1:13",
    );
}
#[test]
fn workflow_name() {
    check(
        &with("name: release", "name: release prod"),
        codes::BAD_WORKFLOW_NAME,
        "2:7",
    );
}
#[test]
fn stage_id() {
    check(&with("  lead:", "  Lead:"), codes::BAD_STAGE_ID, "8:3");
}
#[test]
fn duration_unit() {
    check(
        &with("    ssm:", "    timeout: 3w\n    ssm:"),
        codes::BAD_DURATION,
        "9:14",
    );
}
#[test]
fn duration_without_unit() {
    check(
        &with("    ssm:", "    timeout: 3600\n    ssm:"),
        codes::BAD_DURATION,
        "9:14",
    );
}
#[test]
fn duration_zero() {
    check(
        &with("    ssm:", "    timeout: 0s\n    ssm:"),
        codes::BAD_DURATION,
        "9:14",
    );
}
#[test]
fn account_id() {
    check(
        &with("111111111111", "11111111111"),
        codes::BAD_ACCOUNT_ID,
        "6:14",
    );
}
#[test]
fn region() {
    check(&with("ap-northeast-1", "tokyo"), codes::BAD_REGION, "3:9");
}
#[test]
fn notify_arn() {
    check(
        &with(
            "      approvers",
            "      notify: arn:aws:sns:tokyo\n      approvers",
        ),
        codes::BAD_ARN,
        "10:15",
    );
}
#[test]
fn notify_not_sns() {
    check(
        &with(
            "      approvers",
            "      notify: \"arn:aws:sqs:ap-northeast-1:111111111111:q\"\n      approvers",
        ),
        codes::BAD_ARN,
        "10:16",
    );
}
#[test]
fn principal() {
    check(
        &with("[alice]", "[\"bob smith\"]"),
        codes::BAD_PRINCIPAL,
        "10:19",
    );
}
#[test]
fn principal_group() {
    check(
        &with("[alice]", "[arn:aws:iam::111111111111:group/Admins]"),
        codes::BAD_PRINCIPAL,
        "10:19",
    );
}
#[test]
fn on_timeout_word() {
    check(
        &with("    ssm:", "    on_timeout: approve\n    ssm:"),
        codes::UNKNOWN_WORD,
        "9:17",
    );
}
#[test]
fn input_type_word() {
    check(
        &format!("{BASE}input:\n  v: {{ type: text }}\n"),
        codes::UNKNOWN_WORD,
        "12:14",
    );
}
#[test]
fn account_region() {
    check(
        &with(
            "{ id: \"111111111111\" }",
            "{ id: \"111111111111\", region: us-east-1 }",
        ),
        codes::ACCOUNT_REGION,
        "6:38",
    );
}
#[test]
fn pattern() {
    check(
        &format!("{BASE}input:\n  v: {{ type: string, pattern: \"([\" }}\n"),
        codes::BAD_PATTERN,
        "12:31",
    );
}
#[test]
fn default_type() {
    check(
        &format!("{BASE}input:\n  v: {{ type: number, default: high }}\n"),
        codes::INPUT_VALUE_TYPE,
        "12:31",
    );
}
#[test]
fn enum_type() {
    check(
        &format!("{BASE}input:\n  v: {{ type: string, enum: [low, 2] }}\n"),
        codes::INPUT_VALUE_TYPE,
        "12:34",
    );
}
#[test]
fn input_name() {
    check(
        &format!("{BASE}input:\n  1v: {{ type: string }}\n"),
        codes::BAD_NAME,
        "12:3",
    );
}
#[test]
fn account_name() {
    check(&with("  ops: {", "  o ps: {"), codes::BAD_NAME, "6:3");
}
#[test]
fn nesting_limit() {
    check(&"[".repeat(500), codes::LIMIT, "1:65");
}
#[test]
fn min_approvals_zero() {
    check(
        &with(
            "approvers: [alice]",
            "approvers: [alice]\n      min_approvals: 0",
        ),
        codes::BAD_NUMBER,
        "11:22",
    );
}
#[test]
fn min_approvals_fraction() {
    check(
        &with(
            "approvers: [alice]",
            "approvers: [alice]\n      min_approvals: 1.5",
        ),
        codes::BAD_NUMBER,
        "11:22",
    );
}
#[test]
fn yaml_tag() {
    check(
        &with("name: release", "name: !secret release"),
        codes::UNSUPPORTED_YAML,
        "2:7",
    );
}
#[test]
fn merge_key() {
    check(
        &with("    ssm:", "    <<: {}\n    ssm:"),
        codes::UNKNOWN_KEY,
        "9:5",
    );
}
#[test]
fn document_name() {
    check(
        &with(
            "approvers: [alice]",
            "approvers: [alice]\n      document: \"my doc\"",
        ),
        codes::BAD_RESOURCE_NAME,
        "11:17",
    );
}
#[test]
fn empty_when() {
    check(
        &with("    ssm:", "    when: \"\"\n    ssm:"),
        codes::EMPTY,
        "9:11",
    );
}
#[test]
fn no_stages() {
    check(
        &with("  lead:\n    ssm:\n      approvers: [alice]\n", "  {}\n"),
        codes::EMPTY,
        "8:3",
    );
}

#[test]
fn many_errors_are_reported_in_one_run() {
    let src = with("name: release", "name: release prod")
        .replace("ap-northeast-1", "tokyo")
        .replace("[alice]", "alice");
    let codes: Vec<&str> = crate::parse(&src)
        .diagnostics
        .iter()
        .map(|d| d.code)
        .collect();
    assert_eq!(
        codes,
        [
            codes::BAD_WORKFLOW_NAME,
            codes::BAD_REGION,
            codes::WRONG_TYPE
        ]
    );
}

#[test]
fn did_you_mean_is_in_the_help() {
    let parsed = crate::parse(&with("    ssm:", "    on-timeout: reject\n    ssm:"));
    assert_eq!(
        parsed.diagnostics[0].help.as_deref(),
        Some("did you mean `on_timeout`?")
    );
}

#[test]
fn duplicate_keys_label_both_places() {
    let parsed = crate::parse(&with("home: ops\n", "home: ops\nhome: ops\n"));
    let d = &parsed.diagnostics[0];
    assert_eq!(d.related.len(), 1);
    assert_eq!(
        line_col(
            &with("home: ops\n", "home: ops\nhome: ops\n"),
            d.related[0].span.start
        ),
        (4, 1)
    );
}

#[test]
fn template_strings_keep_exact_content_spans() {
    let src = with(
        "approvers: [alice]",
        "approvers: [alice]\n      message: \"Release {{ input.v }}\"",
    );
    let wf = crate::parse(&src).workflow.unwrap();
    let Some(crate::ast::Binding::Ssm(ssm)) = &wf.stages["lead"].binding else {
        panic!()
    };
    let message = ssm.value.message.as_ref().unwrap();
    let span = message.sub_span(8, 21);
    assert_eq!(&src[span.start..span.end], "{{ input.v }}");
}

#[test]
fn needs_accepts_a_single_id() {
    let wf = clean(&format!(
        "{BASE}  next:\n    needs: lead\n    ssm: {{ approvers: [bob] }}\n"
    ));
    assert_eq!(wf.stages["next"].needs[0].value, "lead");
}

#[test]
fn every_key_in_the_table_is_read_by_the_parser() {
    // The key table drives unknown-key detection and the JSON Schema; a key listed there but
    // never read would be accepted and then silently ignored.
    let parser = include_str!("parse.rs");
    for object in crate::fields::OBJECTS {
        // `ssm`/`codepipeline`/`action` are read by name through `Object::one_of`.
        for field in object
            .fields
            .iter()
            .filter(|f| !object.one_of.contains(&f.name))
        {
            assert!(
                parser.contains(&format!(".get(\"{}\")", field.name)),
                "`{}.{}` is in fields.rs but never read in parse.rs",
                object.name,
                field.name
            );
        }
    }
}

#[test]
fn diagnostics_are_capped_with_a_count_of_the_rest() {
    let src: String = (0..1500).map(|i| format!("k{i}: v\n")).collect();
    let diagnostics = crate::parse(&src).diagnostics;
    assert_eq!(diagnostics.len(), crate::parse::MAX_DIAGNOSTICS + 1);
    let last = diagnostics.last().unwrap();
    assert_eq!(last.code, codes::LIMIT);
    // 1500 unknown keys + 6 missing required keys, minus the 1000 kept.
    assert!(
        last.message.starts_with("506 more problems"),
        "{}",
        last.message
    );
}

#[test]
fn a_misplaced_key_says_where_it_belongs() {
    let parsed = crate::parse(&with("    ssm:", "    min_approvals: 2\n    ssm:"));
    assert_eq!(
        parsed.diagnostics[0].help.as_deref(),
        Some("`min_approvals` belongs under `ssm`")
    );
}

#[test]
fn null_means_absent_is_applied_exactly_to_its_keys() {
    let parser = include_str!("parse.rs");
    for key in crate::fields::NULL_MEANS_ABSENT {
        assert!(
            parser.contains(&format!("optional(f.get(\"{key}\"))"))
                || parser.contains(&format!("optional(g.get(\"{key}\"))")),
            "{key}"
        );
    }
    assert_eq!(
        parser.matches("optional(f.get(").count() + parser.matches("optional(g.get(").count(),
        crate::fields::NULL_MEANS_ABSENT.len()
    );
}

#[test]
fn empty_optional_sections_count_as_absent() {
    let wf = clean(&format!("{BASE}input:\n  # none yet\ndefaults:\nrules:\n"));
    assert!(wf.input.is_empty());
}

#[test]
fn when_and_parameters_keep_the_text_of_any_scalar() {
    let src = format!(
        "{BASE}  grant:\n    when: true\n    action:\n      ssm_automation:\n        document: Grant-Role\n        parameters: {{ Hours: 4, Flags: [a, 2] }}\n"
    );
    let wf = clean(&src);
    assert_eq!(
        wf.stages["grant"].when.as_ref().map(|t| t.value.as_str()),
        Some("true")
    );
    let Some(crate::ast::Binding::Action(action)) = &wf.stages["grant"].binding else {
        panic!()
    };
    let params = &action
        .value
        .ssm_automation
        .as_ref()
        .unwrap()
        .value
        .parameters;
    assert!(
        matches!(&params["Hours"].value, crate::ast::ParameterValue::Text(t) if t.value == "4")
    );
}

#[test]
fn stage_spans_cover_the_stage_mapping() {
    let wf = clean(BASE);
    let span = wf.stages["lead"].span;
    assert_eq!(
        &BASE[span.start..span.end],
        "ssm:\n      approvers: [alice]"
    );
}

#[test]
fn syntax_errors_get_a_fix_for_their_kind() {
    let help = |src: &str| {
        crate::parse(src).diagnostics[0]
            .help
            .clone()
            .unwrap_or_default()
    };
    assert!(help("a: [1, 2\n").contains("close the `[`"));
    assert!(help("a: \"open\n").contains("close the quote"));
    assert!(help("message: Release: now\n").contains("in quotes"));
    assert!(
        help("a:\n\tb: 1\n").contains("spaces"),
        "{}",
        help("a:\n\tb: 1\n")
    );
}

#[test]
fn a_scalar_where_a_list_is_expected_suggests_the_list() {
    let parsed = crate::parse(&with("approvers: [alice]", "approvers: alice"));
    assert_eq!(
        parsed.diagnostics[0].help.as_deref(),
        Some("write a list, even for one item: `[alice]`, or `- alice` on the next line")
    );
}
