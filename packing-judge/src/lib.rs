//! Validation and scoring for the circle-packing benchmark.
//!
//! A candidate program returns `n` circles in the unit square; the Python
//! wrapper only dumps them to `packing.json`. Everything else happens here,
//! and nothing the candidate returned is trusted:
//!
//! * [`parse_packing`] reads the JSON, naming the field and index of any
//!   malformed entry;
//! * [`validate`] checks the packing with zero tolerance, deciding every
//!   inequality exactly on the given `f64` values, and collects every offence;
//! * [`correctly_rounded_sum`] gives the score, the sum of radii rounded once;
//! * [`lp_radii`] computes the best radii for the candidate's centres, a
//!   bound reported as a metric;
//! * [`evaluate`] ties these together into the harness's results record.

mod exact;
mod lp;
mod parse;
mod sum;
mod validate;

use serde::Serialize;

pub use lp::{LpError, lp_radii};
pub use parse::{Packing, PackingError, parse_packing};
pub use sum::correctly_rounded_sum;
pub use validate::{Edge, Field, MAX_LISTED_OFFENCES, Offence, Verdict, reported_sum_tolerance, validate};

/// The harness's results record:
/// `{"score": f64 | null, "valid": bool, "metrics": {...}, "feedback": "..."}`.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Evaluation {
    /// The recomputed sum of radii when valid, `null` otherwise.
    pub score: Option<f64>,
    pub valid: bool,
    pub metrics: Metrics,
    /// One paragraph for the candidate's author (and the next prompt).
    pub feedback: String,
}

/// Numbers describing the packing; absent ones are left out of the JSON.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Metrics {
    /// The number of circles asked for.
    pub n: usize,
    /// Correctly rounded sum of the finite radii.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub sum_radii: Option<f64>,
    /// The candidate's own sum, when it reported a finite one.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reported_sum: Option<f64>,
    /// Sum of the LP-optimal radii for the candidate's centres, when there
    /// are `n` of them, finite and inside the square.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub lp_sum_radii: Option<f64>,
    /// `lp_sum_radii - sum_radii`: what the candidate left on the table.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub lp_gap: Option<f64>,
    /// Smallest `dist(ci, cj) - ri - rj` (see [`Verdict::min_pair_gap`]).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub min_pair_gap: Option<f64>,
    /// Smallest circle-to-edge distance (see [`Verdict::min_border_gap`]).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub min_border_gap: Option<f64>,
    /// Number of offences (0 when valid).
    pub offences: usize,
}

/// Parses, validates and scores `packing.json` for `n` circles. Never fails:
/// a parse error is an invalid evaluation whose feedback is the error, so the
/// caller can always write a results file.
pub fn evaluate(json: &str, n: usize) -> Evaluation {
    evaluate_file(json, n, "packing.json")
}

/// [`evaluate`] for a packing read from a file called `name`, which parse errors name.
pub fn evaluate_file(json: &str, n: usize, name: &str) -> Evaluation {
    match parse_packing(json) {
        Ok(packing) => evaluate_packing(&packing, n),
        Err(e) => Evaluation {
            score: None,
            valid: false,
            metrics: Metrics {
                n,
                sum_radii: None,
                reported_sum: None,
                lp_sum_radii: None,
                lp_gap: None,
                min_pair_gap: None,
                min_border_gap: None,
                offences: 1,
            },
            feedback: format!("could not read the packing: {}{}", name_file(&e, name), nan_hint(&e, json)),
        },
    }
}

/// The parser's message, naming the file it was read from where it names the suites'
/// `packing.json` (messages about one field name the field only).
fn name_file(e: &PackingError, name: &str) -> String {
    let text = e.to_string();
    match text.strip_prefix("packing.json") {
        Some(rest) => format!("{name}{rest}"),
        None => text,
    }
}

/// Python's `json.dump` writes bare `NaN` / `Infinity`, which JSON does not have.
fn nan_hint(e: &PackingError, json: &str) -> &'static str {
    let bare_non_finite = ["NaN", "Infinity"].iter().any(|t| json.contains(t));
    if matches!(e, PackingError::Json(_)) && bare_non_finite {
        "; JSON has no NaN or Infinity: write them as the strings \"nan\", \"inf\" or \"-inf\" (json.dump(..., allow_nan=False) catches them)"
    } else {
        ""
    }
}

fn evaluate_packing(packing: &Packing, n: usize) -> Evaluation {
    let verdict = validate(packing, n);
    // The LP is only meaningful (and only affordable) for exactly n centres.
    let lp = (packing.centers.len() == n).then(|| lp_radii(&packing.centers).map(|r| correctly_rounded_sum(&r)));
    let lp_sum_radii = lp.as_ref().and_then(|r| r.as_ref().ok().copied());
    let metrics = Metrics {
        n,
        sum_radii: Some(verdict.sum_radii),
        reported_sum: packing.reported_sum.filter(|s| s.is_finite()),
        lp_sum_radii,
        lp_gap: lp_sum_radii.map(|lp| lp - verdict.sum_radii),
        min_pair_gap: verdict.min_pair_gap,
        min_border_gap: verdict.min_border_gap,
        offences: verdict.offences.len(),
    };
    Evaluation {
        score: verdict.valid.then_some(verdict.sum_radii),
        valid: verdict.valid,
        feedback: feedback(&verdict, n, lp.as_ref()),
        metrics,
    }
}

fn feedback(verdict: &Verdict, n: usize, lp: Option<&Result<f64, LpError>>) -> String {
    let mut text = if verdict.valid {
        format!("valid packing of {n} circles, sum of radii {:.6}", verdict.sum_radii)
    } else {
        let count = verdict.offences.len();
        let plural = if count == 1 { "" } else { "s" };
        format!("invalid packing of {n} circles, not scored ({count} offence{plural}): {}", verdict.describe_offences())
    };
    match lp {
        Some(Ok(lp_sum)) if verdict.valid => text.push_str(&format!(
            "; the LP optimum for these centres is {lp_sum:.6} ({:.1e} left on the table)",
            lp_sum - verdict.sum_radii
        )),
        Some(Ok(lp_sum)) => {
            text.push_str(&format!("; with these centres the best valid radii would sum to about {lp_sum:.6}"))
        }
        Some(Err(e)) if verdict.valid => text.push_str(&format!("; no LP bound: {e}")),
        _ => {}
    }
    if verdict.valid {
        let gap = |g: Option<f64>| g.map_or_else(|| "n/a".to_owned(), |g| format!("{g:.1e}"));
        text.push_str(&format!(
            "; tightest pair gap {}, tightest border gap {}",
            gap(verdict.min_pair_gap),
            gap(verdict.min_border_gap)
        ));
    }
    text
}

#[cfg(test)]
mod file_name_tests {
    use super::*;

    #[test]
    fn parse_errors_name_the_file_read_and_bare_nan_gets_a_hint() {
        let e = evaluate_file(r#"{"centers": [[0.5, 0.5]], "radii": [NaN]}"#, 1, "mine.json");
        assert!(!e.valid);
        assert!(e.feedback.starts_with("could not read the packing: mine.json is not valid JSON"), "{}", e.feedback);
        assert!(e.feedback.contains("JSON has no NaN or Infinity"), "{}", e.feedback);
        let e = evaluate_file(r#"{"centers": []}"#, 1, "other.json");
        assert_eq!(e.feedback, "could not read the packing: other.json has no `radii` field");
        let e = evaluate_file("{", 1, "x.json");
        assert!(!e.feedback.contains("NaN"), "{}", e.feedback);
    }
}
