//! The evaluator protocol's results file: `{"score": …, "valid": …, "metrics": {…},
//! "feedback": "…"}`. `eval_score` (ASI-Evolve) and `combined_score` (OpenEvolve) are read as
//! `score`, `success` as `valid`; other numeric top-level fields are kept as metrics.

use serde_json::{Map, Value};
use thiserror::Error;

#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Results {
    pub score: Option<f64>,
    pub valid: bool,
    pub metrics: Map<String, Value>,
    pub feedback: String,
}

#[derive(Debug, Error, PartialEq)]
pub(crate) enum ResultsError {
    #[error("results are not valid JSON ({0}){hint}", hint = nan_hint(.1))]
    NotJson(String, bool),
    #[error("results must be a JSON object, found {0}")]
    NotObject(&'static str),
    #[error("`{field}` must be {expected}, found {found}")]
    WrongType { field: String, expected: &'static str, found: String },
    #[error("`{0}` is not finite; report a failed candidate as \"valid\": false with a null score")]
    NonFinite(String),
    #[error("the results say valid but give no score (expected `score`, `eval_score` or `combined_score`)")]
    ValidWithoutScore,
}

fn nan_hint(has_nan: &bool) -> &'static str {
    if *has_nan { "; JSON has no NaN or Infinity: write null and \"valid\": false instead" } else { "" }
}

const SCORE_KEYS: [&str; 3] = ["score", "eval_score", "combined_score"];

pub(crate) fn parse(text: &str) -> Result<Results, ResultsError> {
    let value: Value = serde_json::from_str(text).map_err(|e| {
        let has_nan = ["NaN", "Infinity"].iter().any(|t| text.contains(t));
        ResultsError::NotJson(e.to_string(), has_nan)
    })?;
    let Value::Object(mut object) = value else {
        return Err(ResultsError::NotObject(kind(&value)));
    };
    let mut score = None;
    for key in SCORE_KEYS {
        match object.remove(key) {
            None | Some(Value::Null) => {}
            Some(Value::Number(n)) if score.is_none() => {
                let v = n.as_f64().expect("serde_json numbers are finite f64 without arbitrary_precision");
                score = Some(v);
            }
            Some(Value::Number(_)) => {}
            Some(other) => return Err(wrong_type(key, "a number or null", &other)),
        }
    }
    let valid = match object.remove("valid").or_else(|| object.remove("success")) {
        None | Some(Value::Null) => score.is_some(),
        Some(Value::Bool(b)) => b,
        Some(other) => return Err(wrong_type("valid", "true or false", &other)),
    };
    if valid && score.is_none() {
        return Err(ResultsError::ValidWithoutScore);
    }
    if let Some(s) = score
        && !s.is_finite()
    {
        return Err(ResultsError::NonFinite("score".into()));
    }
    let feedback = match object.remove("feedback") {
        None | Some(Value::Null) => String::new(),
        Some(Value::String(s)) => s,
        Some(other) => return Err(wrong_type("feedback", "a string", &other)),
    };
    let mut metrics = match object.remove("metrics") {
        None | Some(Value::Null) => Map::new(),
        Some(Value::Object(m)) => m,
        Some(other) => return Err(wrong_type("metrics", "an object", &other)),
    };
    for (key, value) in object {
        if value.is_number() {
            metrics.entry(key).or_insert(value);
        }
    }
    Ok(Results { score: if valid { score } else { None }, valid, metrics, feedback })
}

fn wrong_type(field: &str, expected: &'static str, found: &Value) -> ResultsError {
    let mut shown = found.to_string();
    if shown.len() > 60 {
        shown = format!("{}…", shown.chars().take(60).collect::<String>());
    }
    ResultsError::WrongType { field: field.into(), expected, found: format!("{} {shown}", kind(found)) }
}

fn kind(v: &Value) -> &'static str {
    match v {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "an array",
        Value::Object(_) => "an object",
    }
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::*;

    #[test]
    fn reads_the_protocol_and_its_aliases() {
        let r = parse(r#"{"score": 1.5, "valid": true, "metrics": {"a": 1}, "feedback": "ok"}"#).unwrap();
        assert_eq!((r.score, r.valid, r.feedback.as_str()), (Some(1.5), true, "ok"));
        assert_eq!(parse(r#"{"eval_score": 2.0, "success": true}"#).unwrap().score, Some(2.0));
        let oe = parse(r#"{"combined_score": 0.7, "sum_radii": 2.1}"#).unwrap();
        assert_eq!(oe.score, Some(0.7));
        assert_eq!(oe.metrics["sum_radii"], 2.1);
    }

    #[test]
    fn invalid_results_carry_no_score() {
        let r = parse(r#"{"score": 3.0, "valid": false, "feedback": "overlap"}"#).unwrap();
        assert_eq!((r.score, r.valid), (None, false));
    }

    #[test]
    fn malformed_results_are_named() {
        let e = |t: &str| parse(t).unwrap_err().to_string();
        assert!(e(r#"{"score": NaN}"#).contains("NaN"));
        assert!(e("garbage").contains("not valid JSON"));
        assert!(e("[1]").contains("JSON object"));
        assert!(e(r#"{"score": "high"}"#).contains("`score`"));
        assert!(e(r#"{"valid": true}"#).contains("no score"));
        assert!(e(r#"{"score": 1, "valid": "yes"}"#).contains("`valid`"));
    }

    proptest! {
        #[test]
        fn never_panics(text in ".{0,200}") {
            let _ = parse(&text);
        }

        #[test]
        fn any_finite_score_round_trips(score in proptest::num::f64::NORMAL | proptest::num::f64::ZERO) {
            let r = parse(&format!("{{\"score\": {score:e}}}")).unwrap();
            prop_assert_eq!(r.score, Some(score));
        }
    }
}
