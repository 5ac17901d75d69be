//! Input the API cannot take, said in plain words: which field is at fault
//! (a path such as `new_patient.full_name` when it is nested) and what is
//! wrong with it, never a Rust or OpenAPI type name and never the value that
//! was sent.
//!
//! poem-openapi reports a body it cannot parse as one string built from type
//! names (`failed to parse "CreatePatientRequest": …`, `Expected input type
//! "string", found 123`), and it drops the field's name on the way up
//! (`ParseError::propagate` keeps only the message). It exposes no
//! structured detail, so a body is explained by walking it against the
//! schema registered for its type, the same schema the OpenAPI document
//! publishes. Parameters and multipart forms do carry the field's name
//! (`ParseParamError::name`, and the form's error names the field in
//! backticks); for those only the reason is a string, and the few shapes
//! poem-openapi writes are read here, with a plain fallback for the rest.

use poem::http::StatusCode;
use poem_openapi::registry::{MetaSchema, MetaSchemaRef, Registry};
use poem_openapi::types::Type;
use serde_json::Value;

/// Input refused, in plain words. `error` turns it into the answer; this
/// module sits below `error`, which calls it for poem-openapi's refusals.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InputError {
    pub status: StatusCode,
    /// `invalid_field`, `value_too_long`, `unknown_field`,
    /// `invalid_parameter` or `invalid_body`.
    pub code: &'static str,
    /// The field at fault, when one is.
    pub field: Option<String>,
    pub message: String,
}

impl InputError {
    fn new(status: StatusCode, code: &'static str, message: impl Into<String>) -> Self {
        Self {
            status,
            code,
            field: None,
            message: message.into(),
        }
    }
}

/// Why a JSON body of type `T` did not parse, found by walking `value`
/// against `T`'s schema. `parse_message` is poem-openapi's own message, used
/// only to tell whether it refused an unknown field.
pub fn explain_body<T: Type>(value: &Value, parse_message: &str) -> InputError {
    let mut registry = Registry::new();
    T::register(&mut registry);
    let walker = Walker {
        registry: &registry,
    };
    let mut unknown = None;
    let found = walker.walk(value, &T::schema_ref(), &mut Vec::new(), &mut unknown);
    match found {
        Some((path, problem)) => problem.into_error(path),
        None => match unknown {
            Some((path, accepted)) if parse_message.contains("unknown field") => {
                Problem::Unknown(accepted).into_error(path)
            }
            _ => InputError::new(
                StatusCode::UNPROCESSABLE_ENTITY,
                "invalid_field",
                "the body does not have the shape this request takes; see the API documentation",
            ),
        },
    }
}

/// A query or path parameter poem-openapi could not take.
pub fn explain_param(name: &str, reason: &str) -> InputError {
    let problem = if let Some(n) = after(reason, "maxLength(") {
        Problem::TooLong(n)
    } else if let Some(n) = after(reason, "minLength(") {
        Problem::TooShort(n)
    } else if let Some(n) = after(reason, "maximum(") {
        Problem::Above(n)
    } else if let Some(n) = after(reason, "minimum(") {
        Problem::Below(n)
    } else if reason.contains("expects an input value") {
        Problem::Missing
    } else if reason.contains("integer") {
        Problem::WrongType("a whole number")
    } else if reason.contains("boolean") {
        Problem::WrongType("true or false")
    } else if reason.contains("number") {
        Problem::WrongType("a number")
    } else {
        Problem::NotValid
    };
    let mut err = problem.into_error(name.to_owned());
    err.code = "invalid_parameter";
    err.status = StatusCode::BAD_REQUEST;
    err
}

/// A multipart form poem-openapi could not take. Its reasons name the field
/// in backticks: "field `file` is required", "failed to parse field `body`:
/// …", "unknown field `x`".
pub fn explain_multipart(reason: &str) -> InputError {
    let field = reason
        .split('`')
        .nth(1)
        .filter(|f| is_plain_name(f))
        .map(str::to_owned);
    let (problem, field) = match field {
        Some(f) if reason.starts_with("unknown field") => (Problem::Unknown(Vec::new()), f),
        Some(f) if reason.ends_with("is required") => (Problem::Missing, f),
        Some(f) => (Problem::NotValid, f),
        None => {
            return InputError::new(
                StatusCode::BAD_REQUEST,
                "invalid_body",
                "the form could not be read: send it as multipart/form-data",
            );
        }
    };
    let mut err = problem.into_error(field);
    err.status = StatusCode::BAD_REQUEST;
    if err.code == "invalid_field" {
        err.code = "invalid_body";
    }
    err
}

/// The number in `reason` right after `prefix`, as in `maxLength(120)` or
/// `maximum(200, exclusive: false)`.
fn after(reason: &str, prefix: &str) -> Option<f64> {
    let rest = &reason[reason.find(prefix)? + prefix.len()..];
    let end = rest.find([')', ','])?;
    rest[..end].trim().parse().ok()
}

/// A field name we can repeat back: it names a field, it carries no data.
fn is_plain_name(name: &str) -> bool {
    !name.is_empty()
        && name.len() <= 64
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-')
}

enum Problem {
    Missing,
    /// What it must be, for people: "text", "a whole number".
    WrongType(&'static str),
    TooLong(f64),
    TooShort(f64),
    TooManyItems(usize),
    TooFewItems(usize),
    Above(f64),
    Below(f64),
    /// An integer outside what its format holds.
    OutOfRange(i128, i128),
    NotOneOf(Vec<String>),
    /// A field the request does not take; the ones it takes.
    Unknown(Vec<&'static str>),
    NotValid,
}

fn number(n: f64) -> String {
    if n.fract() == 0.0 && n.abs() < 1e15 {
        format!("{}", n as i64)
    } else {
        format!("{n}")
    }
}

impl Problem {
    fn into_error(self, path: String) -> InputError {
        // The body itself, not a field of it.
        let (subject, field) = if path.is_empty() {
            ("the body".to_owned(), None)
        } else {
            (path.clone(), Some(path))
        };
        let (code, message) = match self {
            Problem::Missing => ("invalid_field", format!("{subject} is required")),
            Problem::WrongType(what) => ("invalid_field", format!("{subject} must be {what}")),
            Problem::TooLong(n) => (
                "value_too_long",
                format!(
                    "{subject} is too long: use at most {} characters",
                    number(n)
                ),
            ),
            Problem::TooShort(n) => (
                "invalid_field",
                format!(
                    "{subject} is too short: use at least {} characters",
                    number(n)
                ),
            ),
            Problem::TooManyItems(n) => (
                "invalid_field",
                format!("{subject} has too many entries: at most {n}"),
            ),
            Problem::TooFewItems(n) => (
                "invalid_field",
                format!("{subject} has too few entries: at least {n}"),
            ),
            Problem::Above(n) => (
                "invalid_field",
                format!("{subject} must be at most {}", number(n)),
            ),
            Problem::Below(n) => (
                "invalid_field",
                format!("{subject} must be at least {}", number(n)),
            ),
            Problem::OutOfRange(min, max) => (
                "invalid_field",
                format!("{subject} must be a whole number from {min} to {max}"),
            ),
            Problem::NotOneOf(allowed) => (
                "invalid_field",
                format!("{subject} must be one of: {}", allowed.join(", ")),
            ),
            Problem::Unknown(accepted) => {
                let takes = if accepted.is_empty() {
                    String::new()
                } else {
                    format!("; it takes {}", accepted.join(", "))
                };
                let message = match &field {
                    Some(f) => format!("{f} is not a field of this request{takes}"),
                    None => format!("the body has a field this request does not take{takes}"),
                };
                ("unknown_field", message)
            }
            Problem::NotValid => (
                "invalid_field",
                format!("{subject} has a value this request cannot take"),
            ),
        };
        InputError {
            status: StatusCode::UNPROCESSABLE_ENTITY,
            code,
            field,
            message,
        }
    }
}

struct Walker<'a> {
    registry: &'a Registry,
}

type Found = Option<(String, Problem)>;

fn path_of(path: &[String]) -> String {
    let mut out = String::new();
    for part in path {
        if !part.starts_with('[') && !out.is_empty() {
            out.push('.');
        }
        out.push_str(part);
    }
    out
}

impl Walker<'_> {
    fn resolve<'s>(&'s self, schema: &'s MetaSchemaRef) -> Option<&'s MetaSchema> {
        match schema {
            MetaSchemaRef::Inline(s) => Some(s),
            MetaSchemaRef::Reference(name) => self.registry.schemas.get(name),
        }
    }

    /// The first problem of `value` in the order poem-openapi parses (the
    /// fields in the order declared, depth first); an unknown field is kept
    /// aside in `unknown`, as poem-openapi checks for those last.
    fn walk(
        &self,
        value: &Value,
        schema: &MetaSchemaRef,
        path: &mut Vec<String>,
        unknown: &mut Option<(String, Vec<&'static str>)>,
    ) -> Found {
        let schema = self.resolve(schema)?;
        for part in &schema.all_of {
            if let Some(found) = self.walk(value, part, path, unknown) {
                return Some(found);
            }
        }
        let here = || path_of(path);
        let wrong = |what| Some((path_of(path), Problem::WrongType(what)));
        if !schema.enum_items.is_empty() && !schema.enum_items.contains(value) {
            let allowed = schema
                .enum_items
                .iter()
                .map(|v| v.as_str().map_or_else(|| v.to_string(), str::to_owned))
                .collect();
            return Some((here(), Problem::NotOneOf(allowed)));
        }
        match schema.ty {
            "string" => {
                let Some(s) = value.as_str() else {
                    return wrong("text");
                };
                let chars = s.chars().count();
                if let Some(max) = schema.max_length.filter(|m| chars > *m) {
                    return Some((here(), Problem::TooLong(max as f64)));
                }
                if let Some(min) = schema.min_length.filter(|m| chars < *m) {
                    return Some((here(), Problem::TooShort(min as f64)));
                }
            }
            "integer" => {
                let Some(n) = value
                    .as_i64()
                    .map(i128::from)
                    .or_else(|| value.as_u64().map(i128::from))
                else {
                    return wrong("a whole number");
                };
                let (min, max) = match schema.format {
                    Some("int8") => (i8::MIN as i128, i8::MAX as i128),
                    Some("int16") => (i16::MIN as i128, i16::MAX as i128),
                    Some("int32") => (i32::MIN as i128, i32::MAX as i128),
                    Some("uint8") => (0, u8::MAX as i128),
                    Some("uint16") => (0, u16::MAX as i128),
                    Some("uint32") => (0, u32::MAX as i128),
                    Some("uint64") => (0, u64::MAX as i128),
                    _ => (i64::MIN as i128, i64::MAX as i128),
                };
                if n < min || n > max {
                    return Some((here(), Problem::OutOfRange(min, max)));
                }
                if let Some(found) = self.bounds(schema, n as f64, path) {
                    return Some(found);
                }
            }
            "number" => {
                let Some(n) = value.as_f64() else {
                    return wrong("a number");
                };
                if let Some(found) = self.bounds(schema, n, path) {
                    return Some(found);
                }
            }
            "boolean" if !value.is_boolean() => return wrong("true or false"),
            "array" => {
                let Some(items) = value.as_array() else {
                    return wrong("a list");
                };
                if let Some(max) = schema.max_items.filter(|m| items.len() > *m) {
                    return Some((here(), Problem::TooManyItems(max)));
                }
                if let Some(min) = schema.min_items.filter(|m| items.len() < *m) {
                    return Some((here(), Problem::TooFewItems(min)));
                }
                if let Some(item_schema) = &schema.items {
                    for (i, item) in items.iter().enumerate() {
                        path.push(format!("[{i}]"));
                        let found = self.walk(item, item_schema, path, unknown);
                        path.pop();
                        if found.is_some() {
                            return found;
                        }
                    }
                }
            }
            "object" => {
                let Some(members) = value.as_object() else {
                    return wrong("an object of named fields");
                };
                return self.walk_object(schema, members, path, unknown);
            }
            _ => {}
        }
        None
    }

    fn bounds(&self, schema: &MetaSchema, n: f64, path: &[String]) -> Found {
        let exclusive_max = schema.exclusive_maximum.unwrap_or(false);
        let exclusive_min = schema.exclusive_minimum.unwrap_or(false);
        match (schema.maximum, schema.minimum) {
            (Some(max), _) if n > max || (exclusive_max && n >= max) => {
                Some((path_of(path), Problem::Above(max)))
            }
            (_, Some(min)) if n < min || (exclusive_min && n <= min) => {
                Some((path_of(path), Problem::Below(min)))
            }
            _ => None,
        }
    }

    fn walk_object(
        &self,
        schema: &MetaSchema,
        members: &serde_json::Map<String, Value>,
        path: &mut Vec<String>,
        unknown: &mut Option<(String, Vec<&'static str>)>,
    ) -> Found {
        for (name, field_schema) in &schema.properties {
            path.push((*name).to_owned());
            let found = match members.get(*name) {
                None | Some(Value::Null) if schema.required.contains(name) => {
                    Some((path_of(path), Problem::Missing))
                }
                None | Some(Value::Null) => None,
                Some(v) => self.walk(v, field_schema, path, unknown),
            };
            path.pop();
            if found.is_some() {
                return found;
            }
        }
        for (name, v) in members {
            if schema.properties.iter().any(|(p, _)| p == name) {
                continue;
            }
            if let Some(values) = &schema.additional_properties {
                path.push(name.clone());
                let found = if is_plain_name(name) {
                    self.walk(v, values, path, unknown)
                } else {
                    None
                };
                path.pop();
                if found.is_some() {
                    return found;
                }
            } else if !schema.properties.is_empty() && unknown.is_none() {
                let at = if is_plain_name(name) {
                    let mut p = path.clone();
                    p.push(name.clone());
                    path_of(&p)
                } else {
                    path_of(path)
                };
                *unknown = Some((at, schema.properties.iter().map(|(p, _)| *p).collect()));
            }
        }
        None
    }
}

#[cfg(test)]
mod tests {
    use poem_openapi::Object;
    use poem_openapi::types::ParseFromJSON;
    use serde_json::json;

    use super::*;
    use crate::text::Text;

    #[derive(Object, Debug)]
    #[oai(deny_unknown_fields)]
    struct Inner {
        #[oai(validator(max_length = 5))]
        name: Text,
        age: Option<u32>,
    }

    #[derive(Object, Debug)]
    #[oai(deny_unknown_fields)]
    struct Outer {
        #[oai(validator(max_length = 10))]
        title: Text,
        #[oai(validator(max_items = 2))]
        tags: Vec<Text>,
        inner: Option<Inner>,
        #[oai(validator(minimum(value = "1"), maximum(value = "9")))]
        count: Option<i64>,
    }

    fn explain(value: Value) -> InputError {
        let message = Outer::parse_from_json(Some(value.clone()))
            .expect_err("the value is refused")
            .into_message();
        explain_body::<Outer>(&value, &message)
    }

    fn plain(err: &InputError) {
        for internal in [
            "Outer",
            "Inner",
            "Expected",
            "failed to parse",
            "Text",
            "string\"",
        ] {
            assert!(!err.message.contains(internal), "{}", err.message);
        }
    }

    #[test]
    fn each_problem_names_its_field_in_plain_words() {
        let cases = [
            (json!({"tags": []}), "title", "title is required"),
            (
                json!({"title": 42, "tags": []}),
                "title",
                "title must be text",
            ),
            (
                json!({"title": "a very long title", "tags": []}),
                "title",
                "title is too long: use at most 10 characters",
            ),
            (
                json!({"title": "t", "tags": ["a", "b", "c"]}),
                "tags",
                "tags has too many entries: at most 2",
            ),
            (
                json!({"title": "t", "tags": ["a", 7]}),
                "tags[1]",
                "tags[1] must be text",
            ),
            (
                json!({"title": "t", "tags": [], "inner": {"name": "toolong"}}),
                "inner.name",
                "inner.name is too long: use at most 5 characters",
            ),
            (
                json!({"title": "t", "tags": [], "inner": {"name": "a", "age": -1}}),
                "inner.age",
                "inner.age must be a whole number from 0 to 4294967295",
            ),
            (
                json!({"title": "t", "tags": [], "count": 10}),
                "count",
                "count must be at most 9",
            ),
            (
                json!({"title": "t", "tags": [], "inner": {"name": "a", "nick": "x"}}),
                "inner.nick",
                "inner.nick is not a field of this request; it takes name, age",
            ),
        ];
        for (value, field, message) in cases {
            let err = explain(value);
            assert_eq!(err.field.as_deref(), Some(field), "{}", err.message);
            assert_eq!(err.message, message);
            plain(&err);
        }
    }

    #[test]
    fn the_sent_value_is_not_repeated() {
        let err = explain(json!({"title": "SECRET-VALUE-123", "tags": []}));
        assert_eq!(err.code, "value_too_long");
        assert!(!err.message.contains("SECRET"));
        let err = explain(json!({"title": "t", "tags": [], "<script>": 1}));
        assert_eq!(err.code, "unknown_field");
        assert_eq!(
            err.field, None,
            "a name that is not a plain name is not repeated"
        );
        assert!(!err.message.contains("script"), "{}", err.message);
        let err = explain(json!(["not", "an", "object"]));
        assert_eq!(err.message, "the body must be an object of named fields");
        assert_eq!(err.field, None);
    }

    #[test]
    fn parameters_and_forms_are_explained_too() {
        let err = explain_param(
            "limit",
            "verification failed. maximum(200, exclusive: false)",
        );
        assert_eq!(err.message, "limit must be at most 200");
        assert_eq!(err.field.as_deref(), Some("limit"));
        assert_eq!(err.code, "invalid_parameter");
        let err = explain_param(
            "limit",
            r#"failed to parse "integer_uint32": invalid digit found in string"#,
        );
        assert_eq!(err.message, "limit must be a whole number");
        let err = explain_param("name", r#"Type "string" expects an input value."#);
        assert_eq!(err.message, "name is required");
        let err = explain_multipart("field `file` is required");
        assert_eq!(err.field.as_deref(), Some("file"));
        assert_eq!(err.message, "file is required");
        let err = explain_multipart("failed to parse field `body`: Expected input type");
        assert_eq!(err.message, "body has a value this request cannot take");
    }
}
