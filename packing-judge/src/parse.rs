//! Reading `packing.json`, the file the Python wrapper writes.
//!
//! The JSON is walked by hand (not derived) so every error names the exact
//! field and index, which is what the candidate's author needs to see.

use serde_json::{Map, Value};
use thiserror::Error;

/// What a candidate returned, as plain numbers. Nothing here is checked
/// beyond its shape; [`crate::validate`] decides whether it is a packing.
#[derive(Debug, Clone, PartialEq)]
pub struct Packing {
    /// Circle centres `[x, y]`, circle `i` being `centers[i]` with `radii[i]`.
    pub centers: Vec<[f64; 2]>,
    pub radii: Vec<f64>,
    /// The sum the candidate claims, if it reported one.
    pub reported_sum: Option<f64>,
}

/// Why `packing.json` could not be read as a [`Packing`].
#[derive(Debug, Error)]
pub enum PackingError {
    #[error("packing.json is not valid JSON: {0}")]
    Json(#[from] serde_json::Error),
    #[error("packing.json must hold a JSON object, found {found}")]
    NotAnObject { found: &'static str },
    #[error("packing.json has no `{field}` field")]
    MissingField { field: &'static str },
    #[error("packing.json has an unexpected field `{field}` (expected centers, radii, reported_sum)")]
    UnexpectedField { field: String },
    #[error("{field} must be {expected}, found {found}")]
    WrongType { field: String, expected: &'static str, found: &'static str },
    #[error("{field} has {found} coordinates, expected 2")]
    WrongArity { field: String, found: usize },
    #[error(r#"{field} is the string {text:?}; the only strings allowed for numbers are "nan", "inf" and "-inf""#)]
    BadNumberString { field: String, text: String },
}

/// Parses the wrapper's JSON: `{"centers": [[x, y], ...], "radii": [r, ...],
/// "reported_sum": s}`, where every number may also be one of the strings
/// `"nan"`, `"inf"`, `"-inf"` (JSON itself has no non-finite numbers) and
/// `reported_sum` may be absent or `null`. Counts are not checked here; that
/// is [`crate::validate`]'s job, since it needs `n`.
pub fn parse_packing(json: &str) -> Result<Packing, PackingError> {
    let value: Value = serde_json::from_str(json)?;
    let Value::Object(object) = value else {
        return Err(PackingError::NotAnObject { found: kind(&value) });
    };
    reject_unknown_fields(&object)?;
    let centers = required_array(&object, "centers")?
        .iter()
        .enumerate()
        .map(|(i, c)| centre(c, &format!("centers[{i}]")))
        .collect::<Result<Vec<_>, _>>()?;
    let radii = required_array(&object, "radii")?
        .iter()
        .enumerate()
        .map(|(i, r)| number(r, &format!("radii[{i}]")))
        .collect::<Result<Vec<_>, _>>()?;
    let reported_sum = match object.get("reported_sum") {
        None | Some(Value::Null) => None,
        Some(v) => Some(number(v, "reported_sum")?),
    };
    Ok(Packing { centers, radii, reported_sum })
}

/// Rejects keys the wrapper never writes: a misspelt key would otherwise be
/// silently ignored.
fn reject_unknown_fields(object: &Map<String, Value>) -> Result<(), PackingError> {
    match object.keys().find(|k| !matches!(k.as_str(), "centers" | "radii" | "reported_sum")) {
        Some(field) => Err(PackingError::UnexpectedField { field: field.clone() }),
        None => Ok(()),
    }
}

fn required_array<'a>(object: &'a Map<String, Value>, field: &'static str) -> Result<&'a Vec<Value>, PackingError> {
    match object.get(field) {
        None => Err(PackingError::MissingField { field }),
        Some(Value::Array(items)) => Ok(items),
        Some(other) => Err(PackingError::WrongType { field: field.to_owned(), expected: "a list", found: kind(other) }),
    }
}

fn centre(value: &Value, field: &str) -> Result<[f64; 2], PackingError> {
    let Value::Array(coords) = value else {
        return Err(PackingError::WrongType {
            field: field.to_owned(),
            expected: "a list of 2 numbers",
            found: kind(value),
        });
    };
    if coords.len() != 2 {
        return Err(PackingError::WrongArity { field: field.to_owned(), found: coords.len() });
    }
    Ok([number(&coords[0], &format!("{field}[0]"))?, number(&coords[1], &format!("{field}[1]"))?])
}

fn number(value: &Value, field: &str) -> Result<f64, PackingError> {
    match value {
        // Without serde_json's arbitrary_precision every number has an f64
        // form; integers beyond 2^53 round, as Python's float() would.
        Value::Number(n) => Ok(n.as_f64().expect("serde_json numbers convert to f64")),
        Value::String(s) => match s.as_str() {
            "nan" => Ok(f64::NAN),
            "inf" => Ok(f64::INFINITY),
            "-inf" => Ok(f64::NEG_INFINITY),
            _ => Err(PackingError::BadNumberString { field: field.to_owned(), text: s.clone() }),
        },
        other => Err(PackingError::WrongType { field: field.to_owned(), expected: "a number", found: kind(other) }),
    }
}

/// The JSON type of `value`, for error messages.
fn kind(value: &Value) -> &'static str {
    match value {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "a list",
        Value::Object(_) => "an object",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn err(json: &str) -> String {
        parse_packing(json).expect_err("should not parse").to_string()
    }

    #[test]
    fn reads_numbers_and_special_strings() {
        let p =
            parse_packing(r#"{"centers": [[0.5, 1], ["nan", "-inf"]], "radii": [0.25, "inf"], "reported_sum": null}"#)
                .unwrap();
        assert_eq!(p.centers[0], [0.5, 1.0]);
        assert!(p.centers[1][0].is_nan());
        assert_eq!(p.centers[1][1], f64::NEG_INFINITY);
        assert_eq!(p.radii, vec![0.25, f64::INFINITY]);
        assert_eq!(p.reported_sum, None);
        let p = parse_packing(r#"{"centers": [], "radii": [], "reported_sum": 1e-3}"#).unwrap();
        assert_eq!(p.reported_sum, Some(1e-3));
        let p = parse_packing(r#"{"centers": [], "radii": []}"#).unwrap();
        assert_eq!(p.reported_sum, None);
    }

    #[test]
    fn keeps_every_digit_of_a_float() {
        // float_roundtrip: the f64 read back is the one Python wrote.
        let x: f64 = 0.1 + 0.2;
        let p = parse_packing(&format!(r#"{{"centers": [[{x:?}, 0]], "radii": [{x:?}]}}"#)).unwrap();
        assert_eq!(p.centers[0][0].to_bits(), x.to_bits());
        assert_eq!(p.radii[0].to_bits(), x.to_bits());
    }

    #[test]
    fn errors_name_the_field_and_index() {
        let three = r#"{"centers": [[0,0],[0,0],[0,0],[0.1,0.2,0.3]], "radii": []}"#;
        assert_eq!(err(three), "centers[3] has 3 coordinates, expected 2");
        assert_eq!(
            err(r#"{"centers": [[0, 0]], "radii": [0.1, "abc"]}"#),
            r#"radii[1] is the string "abc"; the only strings allowed for numbers are "nan", "inf" and "-inf""#
        );
        assert_eq!(err(r#"{"centers": [[0, true]], "radii": []}"#), "centers[0][1] must be a number, found a boolean");
        assert_eq!(err(r#"{"centers": [0.5], "radii": []}"#), "centers[0] must be a list of 2 numbers, found a number");
        assert_eq!(err(r#"{"centers": {}, "radii": []}"#), "centers must be a list, found an object");
        assert_eq!(
            err(r#"{"centers": [], "radii": [], "reported_sum": [1]}"#),
            "reported_sum must be a number, found a list"
        );
        assert_eq!(err(r#"{"centers": []}"#), "packing.json has no `radii` field");
        assert_eq!(
            err(r#"{"centres": [], "radii": []}"#),
            "packing.json has an unexpected field `centres` (expected centers, radii, reported_sum)"
        );
        assert_eq!(err("[1, 2]"), "packing.json must hold a JSON object, found a list");
        assert!(err("{").starts_with("packing.json is not valid JSON"));
        // Python's json.dumps writes bare NaN by default, which is not JSON.
        assert!(err(r#"{"centers": [], "radii": [NaN]}"#).starts_with("packing.json is not valid JSON"));
    }
}
