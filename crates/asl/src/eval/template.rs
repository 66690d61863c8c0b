//! Payload templates: `Parameters`, `ResultSelector`, `ItemSelector` (and a Map's
//! `Parameters`). A key ending in `.$` takes its value from a path or an intrinsic call
//! and loses the suffix in the output; everything else is copied, at any depth, inside
//! objects and arrays alike.

use serde_json::{Map, Value};

use super::error::{DefinitionError, RuntimeError};
use super::intrinsic::{Intrinsic, IntrinsicEnv};
use super::path::Path;
use super::roots::Roots;

/// A compiled payload template.
#[derive(Debug, Clone)]
pub struct PayloadTemplate {
    root: Node,
}

#[derive(Debug, Clone)]
enum Node {
    /// A subtree with no `.$` key anywhere: copied as is.
    Constant(Value),
    Object(Vec<(String, Node)>),
    Array(Vec<Node>),
    /// `"key.$": "$.path"`; `field` is the key with its suffix, which AWS quotes in errors.
    Path {
        path: Path,
        field: String,
    },
    /// `"key.$": "States.Fn(…)"`.
    Call {
        call: Intrinsic,
        field: String,
    },
}

impl PayloadTemplate {
    /// Compiles a template once, at load time: every `.$` value must be a string
    /// holding a valid path or intrinsic call, and no key may appear both with and
    /// without the suffix.
    pub fn compile(template: &Value) -> Result<Self, DefinitionError> {
        Ok(Self {
            root: compile_node(template, "")?,
        })
    }

    /// Builds the payload for one input.
    pub fn evaluate(
        &self,
        input: &Value,
        context: &Value,
        env: &mut dyn IntrinsicEnv,
    ) -> Result<Value, RuntimeError> {
        self.evaluate_in(Roots::new(input, context), env)
    }

    /// [`evaluate`](Self::evaluate) with variables in scope (also how the engine
    /// evaluates an `Assign` block, which has the same `.$` rules).
    pub fn evaluate_in(
        &self,
        roots: Roots<'_>,
        env: &mut dyn IntrinsicEnv,
    ) -> Result<Value, RuntimeError> {
        eval_node(&self.root, roots, env)
    }

    /// Whether the template reads anything (otherwise it always yields the same value).
    pub fn is_constant(&self) -> bool {
        matches!(self.root, Node::Constant(_))
    }
}

fn compile_node(v: &Value, at: &str) -> Result<Node, DefinitionError> {
    match v {
        Value::Object(map) => {
            let mut fields = Vec::with_capacity(map.len());
            let mut dynamic = false;
            for (key, value) in map {
                let node = if let Some(name) = key.strip_suffix(".$") {
                    if map.contains_key(name) {
                        return Err(DefinitionError::new(format!(
                            "The field '{name}' appears both as '{name}' and '{key}' in the payload template at {}",
                            location(at)
                        )));
                    }
                    dynamic = true;
                    (name.to_owned(), compile_dynamic(key, value, at)?)
                } else {
                    let node = compile_node(value, &format!("{at}/{key}"))?;
                    dynamic |= !matches!(node, Node::Constant(_));
                    (key.clone(), node)
                };
                fields.push(node);
            }
            Ok(if dynamic {
                Node::Object(fields)
            } else {
                Node::Constant(v.clone())
            })
        }
        Value::Array(items) => {
            let nodes = items
                .iter()
                .enumerate()
                .map(|(i, item)| compile_node(item, &format!("{at}/{i}")))
                .collect::<Result<Vec<_>, _>>()?;
            let dynamic = nodes.iter().any(|n| !matches!(n, Node::Constant(_)));
            Ok(if dynamic {
                Node::Array(nodes)
            } else {
                Node::Constant(v.clone())
            })
        }
        other => Ok(Node::Constant(other.clone())),
    }
}

fn compile_dynamic(key: &str, value: &Value, at: &str) -> Result<Node, DefinitionError> {
    let invalid = || {
        DefinitionError::new(format!(
            "The value for the field '{key}' must be a valid JSONPath or a valid intrinsic function call (at {})",
            location(&format!("{at}/{key}"))
        ))
    };
    let text = value.as_str().ok_or_else(invalid)?;
    if Intrinsic::looks_like_call(text) {
        let call = Intrinsic::parse(text).map_err(|e| {
            DefinitionError::new(format!("{} (field '{key}' at {})", e.message, location(at)))
        })?;
        Ok(Node::Call {
            call,
            field: key.to_owned(),
        })
    } else if text.starts_with('$') {
        let path = Path::parse(text).map_err(|e| {
            DefinitionError::new(format!("{} (field '{key}' at {})", e.message, location(at)))
        })?;
        Ok(Node::Path {
            path,
            field: key.to_owned(),
        })
    } else {
        Err(invalid())
    }
}

fn location(at: &str) -> &str {
    if at.is_empty() { "/" } else { at }
}

fn eval_node(
    node: &Node,
    roots: Roots<'_>,
    env: &mut dyn IntrinsicEnv,
) -> Result<Value, RuntimeError> {
    match node {
        Node::Constant(v) => Ok(v.clone()),
        Node::Object(fields) => {
            let mut out = Map::with_capacity(fields.len());
            for (key, child) in fields {
                out.insert(key.clone(), eval_node(child, roots, env)?);
            }
            Ok(Value::Object(out))
        }
        Node::Array(items) => items
            .iter()
            .map(|item| eval_node(item, roots, env))
            .collect::<Result<Vec<_>, _>>()
            .map(Value::Array),
        Node::Path { path, field } => path.select_for_field_in(roots, field),
        Node::Call { call, field } => call.evaluate_in(roots, Some(field), env),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::eval::FixedEnv;
    use serde_json::json;

    fn eval(template: Value, input: Value) -> Result<Value, RuntimeError> {
        PayloadTemplate::compile(&template).unwrap().evaluate(
            &input,
            &json!({"State": {"Name": "S"}}),
            &mut FixedEnv::default(),
        )
    }

    #[test]
    fn dollar_keys_are_filled_at_any_depth() {
        let out = eval(
            json!({"a": 1, "b.$": "$.x", "c": [{"d.$": "$$.State.Name"}, 2], "e": {"f.$": "States.Array($.x)"}}),
            json!({"x": "X"}),
        );
        assert_eq!(
            out,
            Ok(json!({"a": 1, "b": "X", "c": [{"d": "S"}, 2], "e": {"f": ["X"]}}))
        );
    }

    #[test]
    fn constant_templates_are_detected() {
        let t = PayloadTemplate::compile(&json!({"a": [1, {"b": "$.not_a_path"}]})).unwrap();
        assert!(t.is_constant());
    }

    #[test]
    fn bad_templates_fail_at_load() {
        for bad in [
            json!({"a.$": 1}),
            json!({"a.$": "not a path"}),
            json!({"a.$": "States.Nope()"}),
            json!({"a": 1, "a.$": "$"}),
            json!({"x": [{"a.$": "$["}]}),
        ] {
            assert!(
                PayloadTemplate::compile(&bad).is_err(),
                "{bad} should be rejected"
            );
        }
    }

    #[test]
    fn missing_paths_name_the_field() {
        let err = eval(json!({"value.$": "$.nope"}), json!({"int-literal": 0})).unwrap_err();
        assert_eq!(err.error, "States.Runtime");
        assert_eq!(
            err.cause,
            "The JSONPath '$.nope' specified for the field 'value.$' could not be found in the input '{\"int-literal\":0}'"
        );
    }
}
