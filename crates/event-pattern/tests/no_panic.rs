//! Property tests: no pattern and no event can make parsing or matching panic, and parsing
//! is total (every input is a pattern or an error).

use approvalc_event_pattern::Pattern;
use proptest::prelude::*;
use serde_json::{Map, Value};

/// Keys that exercise every branch of the parser, plus ordinary field names.
const KEYS: &[&str] = &[
    "a",
    "b",
    "a.b",
    "detail",
    "$or",
    "prefix",
    "suffix",
    "anything-but",
    "numeric",
    "exists",
    "cidr",
    "wildcard",
    "equals-ignore-case",
    "exactly",
    "=",
    "<",
    ">=",
    "",
];

/// Strings that mean something to some operator.
const STRINGS: &[&str] = &[
    "",
    "a",
    "A",
    "*",
    "**",
    "a*b",
    "\\",
    "\\*",
    "<",
    "<=",
    ">",
    ">=",
    "=",
    "10.0.0.0/8",
    "10.0.0.1",
    "::1/64",
    "2001:db8::1",
    "x/y/z",
    "é",
];

fn scalar() -> impl Strategy<Value = Value> {
    prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::Bool),
        any::<i64>().prop_map(Value::from),
        any::<u64>().prop_map(Value::from),
        any::<f64>()
            .prop_map(|f| serde_json::Number::from_f64(f).map_or(Value::Null, Value::Number)),
        prop::sample::select(STRINGS).prop_map(Value::from),
        ".{0,6}".prop_map(Value::String),
    ]
}

fn json() -> impl Strategy<Value = Value> {
    scalar().prop_recursive(5, 48, 6, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..5).prop_map(Value::Array),
            prop::collection::vec((prop::sample::select(KEYS), inner), 0..5).prop_map(|entries| {
                let map: Map<String, Value> = entries
                    .into_iter()
                    .map(|(k, v)| (k.to_owned(), v))
                    .collect();
                Value::Object(map)
            }),
        ]
    })
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(2000))]

    #[test]
    fn parse_and_match_never_panic(pattern in json(), event in json()) {
        if let Ok(pattern) = Pattern::parse(&pattern) {
            let _ = pattern.matches(&event);
        }
    }

    #[test]
    fn parse_str_never_panics(text in ".{0,64}") {
        let _ = Pattern::parse_str(&text);
    }

    /// A pattern always matches an event built from its own exact string values.
    #[test]
    fn exact_values_match_themselves(key in "[a-z]{1,5}", value in ".{0,10}") {
        let pattern = Pattern::parse(&serde_json::json!({ "detail": { key.clone(): [value.clone()] } }));
        prop_assert!(pattern.is_ok());
        let event = serde_json::json!({ "detail": { key: value } });
        prop_assert!(pattern.unwrap().matches(&event));
    }
}
