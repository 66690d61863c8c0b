//! Intrinsic functions, one line per behaviour: what AWS documents and what the
//! conformance corpus does not already replay (see `eval_conformance.rs`).

use approvalc_asl::eval::{FixedEnv, Intrinsic, IntrinsicEnv};
use serde_json::{Value, json};

fn input() -> Value {
    json!({
        "s": "hello", "n": 3, "f": 2.5, "t": true, "z": null,
        "arr": [1, 2, 2, "x", {"a": 1}, {"a": 1}, [1], [1.0]],
        "o1": {"a": 1, "b": {"x": 1}}, "o2": {"b": {"y": 2}, "c": 3},
        "tmpl": "{} and {}", "big": 2147483647, "sha3": "SHA-3"
    })
}

fn context() -> Value {
    json!({"StateMachine": {"Name": "approval-parent-v2"}, "Execution": {"Name": "run-1"}})
}

fn eval(expr: &str) -> Result<Value, (String, String)> {
    let call = Intrinsic::parse(expr).unwrap_or_else(|e| panic!("{expr} did not parse: {e}"));
    call.evaluate(&input(), &context(), &mut FixedEnv::default())
        .map_err(|e| (e.error, e.cause))
}

#[track_caller]
fn check(expr: &str, expected: Value) {
    assert_eq!(eval(expr), Ok(expected), "{expr}");
}

#[track_caller]
fn check_err(expr: &str, error: &str, cause_part: &str) {
    match eval(expr) {
        Ok(v) => panic!("{expr} gave {v} instead of failing"),
        Err((e, cause)) => {
            assert_eq!(e, error, "{expr}: {cause}");
            assert!(
                cause.contains(cause_part),
                "{expr}: cause {cause:?} lacks {cause_part:?}"
            );
        }
    }
}

#[track_caller]
fn check_rejected(expr: &str, message_part: &str) {
    match Intrinsic::parse(expr) {
        Ok(_) => panic!("{expr} should be rejected at load"),
        Err(e) => assert!(e.message.contains(message_part), "{expr}: {}", e.message),
    }
}

#[test]
fn format() {
    check(
        "States.Format('Hi {}, {} left', $.s, $.n)",
        json!("Hi hello, 3 left"),
    );
    check(
        "States.Format('{} {} {}', $.f, $.t, $.z)",
        json!("2.5 true null"),
    );
    check("States.Format('{}', $.o1)", json!("{a=1, b={x=1}}"));
    check(
        "States.Format('{}', $.arr)",
        json!("[1, 2, 2, x, {a=1}, {a=1}, [1], [1.0]]"),
    );
    check("States.Format($.tmpl, 'a', 'b')", json!("a and b"));
    check("States.Format('no holes')", json!("no holes"));
    // Escapes in a literal template: \' \{ \} \\ are the plain characters.
    check(
        r"States.Format('it\'s \{\} {} \\', $.n)",
        json!(r"it's {} 3 \"),
    );
    check(
        "States.Format('{}', States.Format('[{}]', $.s))",
        json!("[hello]"),
    );
    check_err(
        "States.Format('{} {}', $.s)",
        "States.IntrinsicFailure",
        "2 placeholder(s) but 1",
    );
    check_err(
        "States.Format($.n)",
        "States.IntrinsicFailure",
        "must be a string",
    );
}

#[test]
fn json_conversions() {
    check("States.JsonToString($.o1)", json!(r#"{"a":1,"b":{"x":1}}"#));
    check(
        "States.StringToJson('{\"k\": [1, 2.5]}')",
        json!({"k": [1, 2.5]}),
    );
    check(
        "States.StringToJson(States.JsonToString($.o2))",
        json!({"b": {"y": 2}, "c": 3}),
    );
    check("States.StringToJson('  ')", Value::Null);
    // Integer `-0` is `0` (as recorded on AWS); float zeros keep their form.
    check(
        "States.StringToJson('[-0, {\"a\": -0}]')",
        json!([0, {"a": 0}]),
    );
    check("States.StringToJson('[0.0, -0.0]')", json!([0.0, -0.0]));
    check_err(
        "States.StringToJson('{nope')",
        "States.IntrinsicFailure",
        "not valid JSON",
    );
    check_err(
        "States.StringToJson($.n)",
        "States.IntrinsicFailure",
        "must be a string",
    );
}

#[test]
fn arrays() {
    check(
        "States.Array(1, 'two', true, null, $.o2.c, 2.5)",
        json!([1, "two", true, null, 3, 2.5]),
    );
    check("States.Array()", json!([]));
    check(
        "States.ArrayPartition(States.ArrayRange(1, 5, 1), 2)",
        json!([[1, 2], [3, 4], [5]]),
    );
    check_err(
        "States.ArrayPartition($.arr, 0)",
        "States.IntrinsicFailure",
        "positive",
    );
    check("States.ArrayContains($.arr, $.o1.a)", json!(true));
    // Integers and floats never compare equal (Jackson's rule): an assumption, the
    // corpus does not record it.
    check("States.ArrayContains($.arr, 1.0)", json!(false));
    check("States.ArrayContains($.arr, 'nope')", json!(false));
    check("States.ArrayRange(10, 0, -5)", json!([10, 5, 0]));
    check("States.ArrayRange(1, 1, 3)", json!([1]));
    check_err(
        "States.ArrayRange(0, 5000, 1)",
        "States.IntrinsicFailure",
        "1000",
    );
    check_err(
        "States.ArrayRange(0, 5, 0)",
        "States.IntrinsicFailure",
        "step",
    );
    check("States.ArrayGetItem($.arr, 3)", json!("x"));
    check_err(
        "States.ArrayGetItem($.arr, 99)",
        "States.IntrinsicFailure",
        "out of bounds",
    );
    check_err(
        "States.ArrayGetItem($.arr, -1)",
        "States.IntrinsicFailure",
        "out of bounds",
    );
    check_err(
        "States.ArrayGetItem($.arr, 1.5)",
        "States.IntrinsicFailure",
        "integer",
    );
    check("States.ArrayLength($.arr)", json!(8));
    check_err(
        "States.ArrayLength($.s)",
        "States.IntrinsicFailure",
        "must be an array",
    );
    check(
        "States.ArrayUnique($.arr)",
        json!([1, 2, "x", {"a": 1}, [1], [1.0]]),
    );
}

#[test]
fn encoding_and_hashing() {
    check(
        "States.Base64Encode('Data to encode')",
        json!("RGF0YSB0byBlbmNvZGU="),
    );
    check(
        "States.Base64Decode('RGF0YSB0byBlbmNvZGU=')",
        json!("Data to encode"),
    );
    check(
        "States.Base64Decode(States.Base64Encode('héllo ✓'))",
        json!("héllo ✓"),
    );
    check_err(
        "States.Base64Decode('***')",
        "States.IntrinsicFailure",
        "base64",
    );
    // Expected digests computed with coreutils `sha1sum` / `sha512sum`.
    check(
        "States.Hash('input data', 'SHA-1')",
        json!("aaff4a450a104cd177d28d18d74485e8cae074b7"),
    );
    check(
        "States.Hash('input data', 'SHA-512')",
        json!(
            "6ce4adb348546d4f449c4d25aad9a7c9cb711d9e91982d3f0b29ca2f3f47d4ce2deba23bf2954f0f1d593fc50283731a533d30d425402d4f91316d871303aac4"
        ),
    );
    check_err(
        "States.Hash('x', $.sha3)",
        "States.IntrinsicFailure",
        "unknown hash algorithm",
    );
    let long = format!("States.Base64Encode('{}')", "a".repeat(10_001));
    check_err(&long, "States.IntrinsicFailure", "10000");
}

#[test]
fn merge_math_split_uuid() {
    check(
        "States.JsonMerge($.o1, $.o2, false)",
        json!({"a": 1, "b": {"y": 2}, "c": 3}),
    );
    check_err(
        "States.JsonMerge($.o1, $.o2, $.t)",
        "States.IntrinsicFailure",
        "shallow",
    );
    check_err(
        "States.JsonMerge($.o1, $.arr, false)",
        "States.IntrinsicFailure",
        "must be an object",
    );
    check("States.MathAdd($.n, -5)", json!(-2));
    check("States.MathAdd($.f, 0)", json!(3));
    check_err(
        "States.MathAdd($.big, 1)",
        "States.IntrinsicFailure",
        "32-bit",
    );
    check_err(
        "States.MathAdd($.s, 1)",
        "States.IntrinsicFailure",
        "must be a number",
    );
    check("States.StringSplit('a,b;;c', ',;')", json!(["a", "b", "c"]));
    check(
        "States.ArrayGetItem(States.StringSplit($$.StateMachine.Name, '-'), States.MathAdd(States.ArrayLength(States.StringSplit($$.StateMachine.Name, '-')), -1))",
        json!("v2"),
    );
    check(
        "States.UUID()",
        json!("00000000-0000-4000-8000-000000000001"),
    );
}

#[test]
fn math_random_stays_in_range_and_honours_the_seed() {
    struct Recorder(Vec<(i64, i64, Option<i64>)>);
    impl IntrinsicEnv for Recorder {
        fn uuid(&mut self) -> String {
            String::new()
        }
        fn random(&mut self, start: i64, end: i64, seed: Option<i64>) -> i64 {
            self.0.push((start, end, seed));
            start
        }
    }
    let mut env = Recorder(Vec::new());
    let call = Intrinsic::parse("States.MathRandom(12.5, 44.51, 7)").unwrap();
    assert_eq!(call.evaluate(&input(), &context(), &mut env), Ok(json!(13)));
    assert_eq!(env.0, vec![(13, 45, Some(7))]);

    let mut fixed = FixedEnv::default();
    let call = Intrinsic::parse("States.MathRandom(-5, 5)").unwrap();
    for _ in 0..100 {
        let n = call
            .evaluate(&input(), &context(), &mut fixed)
            .unwrap()
            .as_i64()
            .unwrap();
        assert!((-5..5).contains(&n), "{n}");
    }
    check_err(
        "States.MathRandom(5, 5)",
        "States.IntrinsicFailure",
        "less than",
    );
}

#[test]
fn path_arguments() {
    check(
        "States.Array($$.Execution.Name, $.arr[3], $.arr[?(@.a == 1)])",
        json!(["run-1", "x", [{"a": 1}, {"a": 1}]]),
    );
    check_err(
        "States.Array($.missing)",
        "States.Runtime",
        "Invalid path '$.missing'",
    );
    let call = Intrinsic::parse("States.Array($.missing)").unwrap();
    let err = call
        .evaluate_for_field(
            &json!({"a": 1}),
            &context(),
            "x.$",
            &mut FixedEnv::default(),
        )
        .unwrap_err();
    assert_eq!(
        err.cause,
        "The JSONPath '$.missing' specified for the field 'x.$' could not be found in the input '{\"a\":1}'"
    );
}

#[test]
fn malformed_calls_are_rejected_at_load() {
    // Literal arguments of the wrong kind (asl-validator's invalid-math-add.json).
    check_rejected(
        "States.MathAdd(1,'-1')",
        "argument 2 of States.MathAdd must be a number",
    );
    check_rejected(
        "States.ArrayLength('abc')",
        "must be an array (a path or a call)",
    );
    check_rejected("States.JsonMerge($.a, 1, false)", "must be an object");
    check_rejected("States.JsonMerge($.a, $.b, true)", "only a shallow merge");
    check_rejected(
        "States.Hash('x', 'SHA-3')",
        "unknown hash algorithm 'SHA-3'",
    );
    check_rejected("States.Format(1)", "must be a string");
    // statelint's states-array-invocation-leftpad.json: no leading blank.
    check_rejected(" States.Array(1)", "unknown function ''");
    assert!(!Intrinsic::looks_like_call(" States.Array(1)"));
    check_rejected("States.Nope()", "unknown function 'States.Nope'");
    check_rejected("States.ArrayLength()", "takes 1 argument(s), got 0");
    check_rejected("States.UUID(1)", "takes 0 argument(s), got 1");
    check_rejected("States.MathRandom(1)", "takes 2 to 3");
    check_rejected("States.Format()", "at least 1");
    check_rejected("States.Array('unterminated)", "unterminated string");
    check_rejected("States.Array(1 2)", "expected ','");
    check_rejected("States.Array(1) trailing", "unexpected text");
    check_rejected("States.Array($.a[)", "");
    check_rejected("States.Array(1.2.3)", "not a number");
    let nest = |n: usize| format!("{}1{}", "States.Array(".repeat(n), ")".repeat(n));
    assert!(Intrinsic::parse(&nest(10)).is_ok());
    check_rejected(&nest(11), "more than 10 nested");
    // Deep nesting is refused, not a stack overflow.
    check_rejected(&nest(100_000), "more than 10 nested");
}
