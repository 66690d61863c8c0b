//! The JSON Schema of the language, built from the key table in `fields.rs`.
//!
//! The parser and the schema read the same table, so a key cannot exist in one and not the
//! other. Value shapes become `pattern`s / `enum`s that mirror the checks in
//! [`crate::values`] closely enough for editor completion and hints; the parser stays the
//! authority (the schema cannot express, for example, that an account's region must equal
//! the workflow's).

use serde_json::{Map, Value, json};

use crate::ast::API_VERSION;
use crate::fields::{Key, NULL_MEANS_ABSENT, OBJECTS, Object, Shape, WORKFLOW};
use crate::values::{InputType, OnTimeout};

/// Where the schema says it lives; editors only use it as an identifier.
pub const SCHEMA_ID: &str = "https://github.com/approvalc/approvalc/raw/main/approvalc.schema.json";

const DURATION: &str = "^[0-9]+[smhd]$";
const ACCOUNT_ID: &str = "^[0-9]{12}$";
const REGION: &str = "^[a-z]{2}(-[a-z]+)?-(north|south|east|west|central|northeast|northwest|southeast|southwest)-[0-9]{1,2}$";
const SNS_ARN: &str = "^arn:aws[a-z-]*:sns:[a-z0-9-]+:[0-9]{12}:[A-Za-z0-9_-]{1,256}$";
const PRINCIPAL: &str = "^([A-Za-z0-9+=,.@_-]{1,64}|arn:aws[a-z-]*:iam::[0-9]{12}:(user|role)/.+|arn:aws[a-z-]*:sts::[0-9]{12}:assumed-role/.+/.+)$";
const STAGE_ID: &str = "^[a-z0-9-]{1,40}$";
const ACCOUNT_NAME: &str = "^[A-Za-z0-9_-]{1,32}$";
const INPUT_NAME: &str = "^[A-Za-z_][A-Za-z0-9_]{0,63}$";
const WORKFLOW_NAME: &str = "^[A-Za-z0-9_-]{1,64}$";
const DOCUMENT_NAME: &str = "^[A-Za-z0-9_.:/-]{3,128}$";
const PIPELINE_NAME: &str = "^[A-Za-z0-9.@_-]{1,100}$";

/// The JSON Schema (draft 2020-12) of a workflow file.
pub fn schema() -> Value {
    let mut defs = Map::new();
    for object in OBJECTS.iter().filter(|o| o.name != WORKFLOW.name) {
        defs.insert(object.name.to_owned(), object_schema(object));
    }
    let mut root = object_schema(&WORKFLOW);
    if let Value::Object(map) = &mut root {
        let mut head = Map::new();
        head.insert(
            "$schema".into(),
            json!("https://json-schema.org/draft/2020-12/schema"),
        );
        head.insert("$id".into(), json!(SCHEMA_ID));
        head.insert("title".into(), json!("approvalc workflow"));
        head.append(map);
        head.insert("$defs".into(), Value::Object(defs));
        return Value::Object(head);
    }
    root
}

fn object_schema(object: &Object) -> Value {
    let mut properties = Map::new();
    for field in object.fields {
        let mut value = shape_schema(field.shape);
        if NULL_MEANS_ABSENT.contains(&field.name) {
            value = json!({ "anyOf": [value, { "type": "null" }] });
        }
        if let Value::Object(map) = &mut value {
            map.insert("description".into(), json!(field.doc));
        }
        properties.insert(field.name.to_owned(), value);
    }
    let required: Vec<&str> = object
        .fields
        .iter()
        .filter(|f| f.required)
        .map(|f| f.name)
        .collect();
    let mut schema = Map::new();
    schema.insert("description".into(), json!(object.doc));
    schema.insert("type".into(), json!("object"));
    schema.insert("properties".into(), Value::Object(properties));
    schema.insert("additionalProperties".into(), json!(false));
    if !required.is_empty() {
        schema.insert("required".into(), json!(required));
    }
    if !object.one_of.is_empty() {
        let one_of: Vec<Value> = object
            .one_of
            .iter()
            .map(|k| json!({ "required": [k] }))
            .collect();
        schema.insert("oneOf".into(), Value::Array(one_of));
    }
    Value::Object(schema)
}

fn string_pattern(pattern: &str) -> Value {
    json!({ "type": "string", "pattern": pattern })
}

fn shape_schema(shape: Shape) -> Value {
    match shape {
        Shape::Str | Shape::Template | Shape::AccountRef => json!({ "type": "string" }),
        // Any scalar: `when: true` is the condition `true`.
        Shape::Expr => json!({ "type": ["string", "boolean", "number"], "minLength": 1 }),
        Shape::Bool => json!({ "type": "boolean" }),
        Shape::Count => json!({ "type": "integer", "minimum": 1 }),
        Shape::ApiVersion => json!({ "const": API_VERSION }),
        Shape::WorkflowName => string_pattern(WORKFLOW_NAME),
        Shape::Region => string_pattern(REGION),
        Shape::AccountId => string_pattern(ACCOUNT_ID),
        Shape::Duration => string_pattern(DURATION),
        Shape::OnTimeout => json!({ "enum": OnTimeout::WORDS }),
        Shape::InputType => json!({ "enum": InputType::WORDS }),
        Shape::Pattern => json!({ "type": "string", "format": "regex" }),
        Shape::SnsTopicArn => string_pattern(SNS_ARN),
        Shape::Principals => json!({ "type": "array", "items": string_pattern(PRINCIPAL) }),
        Shape::StageRefs => json!({
            "anyOf": [
                string_pattern(STAGE_ID),
                { "type": "array", "items": string_pattern(STAGE_ID) }
            ]
        }),
        Shape::Literal => json!({ "type": ["string", "number", "boolean"] }),
        Shape::Literals => {
            json!({ "type": "array", "items": { "type": ["string", "number", "boolean"] } })
        }
        Shape::DocumentName => string_pattern(DOCUMENT_NAME),
        Shape::PipelineName => string_pattern(PIPELINE_NAME),
        Shape::Object(object) => json!({ "$ref": format!("#/$defs/{}", object.name) }),
        Shape::Dict(key, object) => {
            let key_pattern = match key {
                Key::AccountName => ACCOUNT_NAME,
                Key::InputName => INPUT_NAME,
                Key::StageId => STAGE_ID,
            };
            let mut dict = json!({
                "type": "object",
                "propertyNames": { "pattern": key_pattern },
                "additionalProperties": { "$ref": format!("#/$defs/{}", object.name) }
            });
            if matches!(key, Key::StageId)
                && let Value::Object(map) = &mut dict
            {
                map.insert("minProperties".into(), json!(1));
            }
            dict
        }
        // Scalars are passed as the text written (SSM parameters are strings).
        Shape::Params => json!({
            "type": "object",
            "additionalProperties": {
                "anyOf": [
                    { "type": ["string", "number", "boolean"] },
                    { "type": "array", "items": { "type": ["string", "number", "boolean"] } }
                ]
            }
        }),
    }
}
