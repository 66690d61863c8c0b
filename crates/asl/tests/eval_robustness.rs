//! No input makes the evaluator panic: arbitrary text as paths and intrinsic calls,
//! arbitrary JSON as templates and inputs. Errors are fine; panics are not.

use approvalc_asl::eval::{FixedEnv, Intrinsic, Path, PayloadTemplate, ReferencePath};
use proptest::prelude::*;
use serde_json::{Value, json};

/// Text built from the characters paths and calls are made of, so the parsers get
/// past their first check most of the time.
fn syntax_soup() -> impl Strategy<Value = String> {
    proptest::collection::vec(
        prop_oneof![
            Just("$".to_owned()),
            Just("$$".to_owned()),
            Just(".".to_owned()),
            Just("..".to_owned()),
            Just("[".to_owned()),
            Just("]".to_owned()),
            Just("*".to_owned()),
            Just("?(@.a == 1)".to_owned()),
            Just("'".to_owned()),
            Just("\\".to_owned()),
            Just(",".to_owned()),
            Just("(".to_owned()),
            Just(")".to_owned()),
            Just("States.Format".to_owned()),
            Just("States.Array".to_owned()),
            Just("States.ArrayGetItem".to_owned()),
            Just("{}".to_owned()),
            Just("-1".to_owned()),
            Just("0".to_owned()),
            Just("1.5e3".to_owned()),
            Just(":".to_owned()),
            "[a-z]{1,3}",
            "\\PC{0,2}",
        ],
        0..16,
    )
    .prop_map(|parts| parts.concat())
}

fn json_value() -> impl Strategy<Value = Value> {
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::Bool),
        any::<i64>().prop_map(Value::from),
        any::<f64>()
            .prop_map(|f| serde_json::Number::from_f64(f).map_or(Value::Null, Value::Number)),
        syntax_soup().prop_map(Value::String),
    ];
    leaf.prop_recursive(4, 32, 6, |inner| {
        prop_oneof![
            proptest::collection::vec(inner.clone(), 0..6).prop_map(Value::Array),
            proptest::collection::vec((prop_oneof!["[a-z]{1,4}", "[a-z]{1,4}\\.\\$"], inner), 0..6)
                .prop_map(|kv| Value::Object(kv.into_iter().collect())),
        ]
    })
}

fn sample_input() -> Value {
    json!({"a": [1, {"b": "x"}, null], "s": "t", "n": 2.5, "o": {"k": [[]]}})
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    #[test]
    fn paths_never_panic(text in syntax_soup(), input in json_value()) {
        if let Ok(p) = Path::parse(&text) {
            let _ = p.select(&input, &input);
            let _ = p.select(&sample_input(), &json!({}));
            let _ = p.select_for_field(&input, &input, "f.$");
        }
        if let Ok(r) = ReferencePath::parse(&text) {
            let _ = r.insert(input.clone(), json!(1));
            let _ = r.insert(sample_input(), json!(1));
        }
    }

    #[test]
    fn intrinsics_never_panic(text in syntax_soup(), input in json_value()) {
        if let Ok(call) = Intrinsic::parse(&text) {
            let _ = call.evaluate(&input, &input, &mut FixedEnv::default());
            let _ = call.evaluate(&sample_input(), &json!({}), &mut FixedEnv::default());
        }
    }

    #[test]
    fn templates_never_panic(template in json_value(), input in json_value()) {
        if let Ok(t) = PayloadTemplate::compile(&template) {
            let _ = t.evaluate(&input, &input, &mut FixedEnv::default());
        }
    }

    /// Every intrinsic over every kind of argument value.
    #[test]
    fn intrinsic_arguments_of_any_type_never_panic(x in json_value(), y in json_value(), z in json_value()) {
        let input = json!({"x": x, "y": y, "z": z});
        for f in [
            "States.Format($.x, $.y)", "States.StringToJson($.x)", "States.JsonToString($.x)",
            "States.ArrayPartition($.x, $.y)", "States.ArrayContains($.x, $.y)",
            "States.ArrayRange($.x, $.y, $.z)", "States.ArrayGetItem($.x, $.y)",
            "States.ArrayLength($.x)", "States.ArrayUnique($.x)", "States.Base64Encode($.x)",
            "States.Base64Decode($.x)", "States.Hash($.x, $.y)", "States.JsonMerge($.x, $.y, $.z)",
            "States.MathRandom($.x, $.y)", "States.MathRandom($.x, $.y, $.z)", "States.MathAdd($.x, $.y)",
            "States.StringSplit($.x, $.y)",
        ] {
            let call = Intrinsic::parse(f).unwrap();
            let _ = call.evaluate(&input, &json!({}), &mut FixedEnv::default());
        }
    }
}
