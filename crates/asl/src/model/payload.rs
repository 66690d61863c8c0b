//! Payload templates: `Parameters`, `ResultSelector`, `ItemSelector` and `Credentials` values,
//! where a key ending in `.$` takes its value from a path or an intrinsic function.

use indexmap::IndexMap;
use serde::de::{self, Deserializer, MapAccess, Visitor};
use serde::ser::{SerializeMap, Serializer};
use serde::{Deserialize, Serialize};
use serde_json::Value;

/// A dynamic value: a reference path (`$.a.b`, `$$.Execution.Id`) or an intrinsic function
/// call (`States.Format('{}', $.x)`), kept as the exact string that goes into the definition.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Expr {
    Path(String),
    Intrinsic(String),
}

impl Expr {
    /// The string as written in the definition.
    pub fn as_str(&self) -> &str {
        match self {
            Expr::Path(path) | Expr::Intrinsic(path) => path,
        }
    }

    /// Classifies a `.$` value the way Step Functions does: intrinsics start with `States.`.
    pub fn parse(text: &str) -> Expr {
        if text.starts_with("States.") {
            Expr::Intrinsic(text.to_owned())
        } else {
            Expr::Path(text.to_owned())
        }
    }
}

/// One value of a payload template.
#[derive(Debug, Clone, PartialEq)]
pub enum Field {
    /// Copied as is (`"Key": value`). Objects inside are not scanned for `.$` keys; use
    /// [`Field::Object`] for a nested template.
    Static(Value),
    /// Computed at run time (`"Key.$": "..."`).
    Dynamic(Expr),
    /// A nested template.
    Object(Payload),
    /// An array whose object elements are templates themselves.
    List(Vec<Element>),
}

/// An element of a [`Field::List`]: array elements cannot be paths, but objects inside
/// arrays are templates.
#[derive(Debug, Clone, PartialEq)]
pub enum Element {
    Static(Value),
    Object(Payload),
}

/// A payload template: an ordered map from plain keys (without `.$`) to [`Field`]s.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Payload {
    fields: IndexMap<String, Field>,
}

impl Payload {
    pub fn new() -> Self {
        Self::default()
    }

    /// Adds a field (builder style). A later field with the same key replaces the earlier one
    /// in place, so a template can never hold both `X` and `X.$`.
    pub fn with(mut self, key: impl Into<String>, field: Field) -> Self {
        self.insert(key, field);
        self
    }

    pub fn insert(&mut self, key: impl Into<String>, field: Field) {
        self.fields.insert(key.into(), field);
    }

    /// Shorthand for a static string field.
    pub fn with_str(self, key: impl Into<String>, value: impl Into<String>) -> Self {
        self.with(key, Field::Static(Value::String(value.into())))
    }

    /// Shorthand for a path field (`"key.$": "path"`).
    pub fn with_path(self, key: impl Into<String>, path: impl Into<String>) -> Self {
        self.with(key, Field::Dynamic(Expr::Path(path.into())))
    }

    /// Shorthand for an intrinsic function field (`"key.$": "States.…"`).
    pub fn with_intrinsic(self, key: impl Into<String>, call: impl Into<String>) -> Self {
        self.with(key, Field::Dynamic(Expr::Intrinsic(call.into())))
    }

    pub fn get(&self, key: &str) -> Option<&Field> {
        self.fields.get(key)
    }

    pub fn iter(&self) -> impl Iterator<Item = (&str, &Field)> {
        self.fields.iter().map(|(k, v)| (k.as_str(), v))
    }

    pub fn len(&self) -> usize {
        self.fields.len()
    }

    pub fn is_empty(&self) -> bool {
        self.fields.is_empty()
    }
}

/// Quotes a string literal for use inside an intrinsic function call: wraps it in single
/// quotes and escapes the characters intrinsic strings treat specially (`'`, `{`, `}`, `\`).
pub fn quote_intrinsic_string(text: &str) -> String {
    let mut out = String::with_capacity(text.len() + 2);
    out.push('\'');
    for ch in text.chars() {
        if matches!(ch, '\'' | '{' | '}' | '\\') {
            out.push('\\');
        }
        out.push(ch);
    }
    out.push('\'');
    out
}

impl Serialize for Payload {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let mut map = serializer.serialize_map(Some(self.fields.len()))?;
        for (key, field) in &self.fields {
            match field {
                Field::Static(value) => map.serialize_entry(key, value)?,
                Field::Dynamic(expr) => map.serialize_entry(&format!("{key}.$"), expr.as_str())?,
                Field::Object(payload) => map.serialize_entry(key, payload)?,
                Field::List(items) => map.serialize_entry(key, items)?,
            }
        }
        map.end()
    }
}

impl Serialize for Element {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        match self {
            Element::Static(value) => value.serialize(serializer),
            Element::Object(payload) => payload.serialize(serializer),
        }
    }
}

impl<'de> Deserialize<'de> for Payload {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        deserializer.deserialize_map(PayloadVisitor)
    }
}

struct PayloadVisitor;

impl<'de> Visitor<'de> for PayloadVisitor {
    type Value = Payload;

    fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
        f.write_str("a payload template object")
    }

    fn visit_map<A: MapAccess<'de>>(self, mut access: A) -> Result<Payload, A::Error> {
        let mut payload = Payload::new();
        while let Some(key) = access.next_key::<String>()? {
            let value: Value = access.next_value()?;
            let (name, field) = match key.strip_suffix(".$") {
                Some(name) => match value {
                    Value::String(text) => (name.to_owned(), Field::Dynamic(Expr::parse(&text))),
                    _ => {
                        return Err(de::Error::custom(format!(
                            "`{key}` must be a string (a path or an intrinsic function)"
                        )));
                    }
                },
                None => (key, field_from_value(value).map_err(de::Error::custom)?),
            };
            if payload.fields.contains_key(&name) {
                return Err(de::Error::custom(format!(
                    "`{name}` appears both with and without `.$`"
                )));
            }
            payload.fields.insert(name, field);
        }
        Ok(payload)
    }
}

fn field_from_value(value: Value) -> Result<Field, String> {
    Ok(match value {
        Value::Object(_) => Field::Object(payload_from_value(value)?),
        Value::Array(items) => Field::List(
            items
                .into_iter()
                .map(|item| match item {
                    Value::Object(_) => payload_from_value(item).map(Element::Object),
                    other => Ok(Element::Static(other)),
                })
                .collect::<Result<_, _>>()?,
        ),
        other => Field::Static(other),
    })
}

fn payload_from_value(value: Value) -> Result<Payload, String> {
    Payload::deserialize(value).map_err(|err| err.to_string())
}
