//! An event flattened the way EventBridge sees it: every leaf value (string, number,
//! boolean, null) under its dotted path, arrays made transparent, and for each leaf the
//! array elements it sits in so that two fields can be required to come from the same
//! element.
//!
//! Paths join keys with `.`, so `{"a": {"b": 1}}` and `{"a.b": 1}` both have a leaf at
//! `a.b`, as EventBridge documents. Empty arrays and empty objects contribute no leaves.

use std::collections::HashMap;

use serde_json::Value;

/// One leaf value and where it sits.
#[derive(Debug)]
pub struct Leaf<'a> {
    pub value: &'a Value,
    /// `(array id, element index)` for every array this leaf is inside.
    pub elements: Vec<(u32, u32)>,
}

/// A value still to visit: its path, the value, the array elements it is inside.
type Pending<'a> = (String, &'a Value, Vec<(u32, u32)>);

/// Leaves by path.
#[derive(Debug, Default)]
pub struct Flat<'a> {
    fields: HashMap<String, Vec<Leaf<'a>>>,
}

impl<'a> Flat<'a> {
    /// Flattens an event. Anything but an object has no fields. Iterative, so deeply
    /// nested events cannot overflow the stack.
    pub fn new(event: &'a Value) -> Flat<'a> {
        let mut flat = Flat::default();
        let Value::Object(root) = event else {
            return flat;
        };
        let mut next_array: u32 = 0;
        let mut stack: Vec<Pending<'a>> = root
            .iter()
            .rev()
            .map(|(key, value)| (key.clone(), value, Vec::new()))
            .collect();
        while let Some((path, value, elements)) = stack.pop() {
            match value {
                Value::Object(map) => {
                    for (key, child) in map.iter().rev() {
                        stack.push((format!("{path}.{key}"), child, elements.clone()));
                    }
                }
                Value::Array(items) => {
                    let id = next_array;
                    next_array = next_array.saturating_add(1);
                    for (index, item) in items.iter().enumerate().rev() {
                        let mut inside = elements.clone();
                        inside.push((id, u32::try_from(index).unwrap_or(u32::MAX)));
                        stack.push((path.clone(), item, inside));
                    }
                }
                leaf => flat.fields.entry(path).or_default().push(Leaf {
                    value: leaf,
                    elements,
                }),
            }
        }
        flat
    }

    pub fn leaves(&self, path: &str) -> &[Leaf<'a>] {
        self.fields.get(path).map_or(&[], Vec::as_slice)
    }
}

/// Two leaves may be used together unless they sit in different elements of one array.
pub fn compatible(a: &[(u32, u32)], b: &[(u32, u32)]) -> bool {
    a.iter().all(|(array, index)| {
        b.iter()
            .all(|(other_array, other_index)| array != other_array || index == other_index)
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn paths_are_dotted_and_arrays_transparent() {
        let event = json!({"a": {"b": [1, {"c": "x"}]}, "a.b": 2, "e": [], "f": {}});
        let flat = Flat::new(&event);
        let values: Vec<&Value> = flat.leaves("a.b").iter().map(|l| l.value).collect();
        assert_eq!(values, [&json!(1), &json!(2)]);
        assert_eq!(flat.leaves("a.b.c").len(), 1);
        assert!(flat.leaves("e").is_empty());
        assert!(flat.leaves("f").is_empty());
    }

    #[test]
    fn elements_of_one_array_conflict() {
        let event = json!({"xs": [{"a": 1, "b": 2}, {"a": 3}]});
        let flat = Flat::new(&event);
        let a = flat.leaves("xs.a");
        let b = flat.leaves("xs.b");
        assert!(compatible(&a[0].elements, &b[0].elements));
        assert!(!compatible(&a[1].elements, &b[0].elements));
    }

    #[test]
    fn deep_nesting_does_not_overflow() {
        // Built by hand: `json!` would serialise the inner value recursively.
        let mut event = json!(1);
        for _ in 0..10_000 {
            let mut map = serde_json::Map::new();
            map.insert("a".into(), event);
            event = Value::Object(map);
        }
        let flat = Flat::new(&event);
        assert_eq!(flat.fields.len(), 1);
        // serde_json's recursive drop would overflow on this depth; dismantle it by hand.
        let mut value = event;
        while let Value::Object(mut map) = value {
            value = map.remove("a").unwrap_or(Value::Null);
        }
    }
}
