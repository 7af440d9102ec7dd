//! `asi-evolve verify`: re-evaluates recorded designs with their suites' evaluators and fails
//! when one no longer reaches its recorded score.
//!
//! A designs file lists programs worth keeping (the best a campaign found, the suites' seeds)
//! with the score they were recorded at:
//!
//! ```toml
//! [[design]]
//! name = "circle-packing-26-offline-best"
//! suite = "circle-packing"                    # a suite name or folder
//! program = "circle-packing/offline-best.py"  # relative to the designs file
//! score = 1.6021985519                        # as the campaign database stores it
//! tolerance = 1e-9                            # how far below `score` still passes
//! note = "found by: asi-evolve run circle-packing --rounds 300 --seed 1"
//! ```
//!
//! Each design is evaluated by the same [`Engineer`] as `asi-evolve evaluate`, in a fresh
//! temporary working directory. A design fails when its program cannot be read, its suite
//! cannot be found, the evaluator no longer accepts it, or it scores more than `tolerance`
//! below the recorded score. A design that scores higher passes (and says so).
//!
//! Exploits are designs too: programs that try to earn a score without doing the task, kept so
//! that an evaluator which starts accepting one fails CI. `expect` says which kind a design is:
//!
//! ```toml
//! [[design]]
//! name = "linear-attention-ci-exploit-reads-next-token"
//! suite = "linear-attention-ci"
//! program = "linear-attention/reads-next-token.py"
//! expect = "rejected"        # passes only if the evaluation is not valid
//! reason = "reads the future" # optional: text the rejection's reason must contain
//!
//! [[design]]
//! name = "an-exploit-that-may-run"
//! suite = "circle-packing"
//! program = "circle-packing/x.py"
//! expect = "at-most"         # passes if rejected, or valid with a score of at most `score`
//! score = 0.9597642169962064
//! ```
//!
//! `expect = "score"` (the default) is the recorded design above; a key that does not apply to
//! the design's kind (`tolerance` on an exploit, `reason` on a recorded score) is an error.

use std::path::{Path, PathBuf};
use std::time::Instant;

use serde::Deserialize;
use thiserror::Error;

use crate::engineer::{Engineer, Evaluation};
use crate::node::Status;
use crate::suite::{MANIFEST, Suite, SuiteError};

/// stdout/stderr kept per evaluation.
const OUTPUT_CAP: usize = 64 * 1024;

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct DesignsFile {
    #[serde(default)]
    design: Vec<DesignEntry>,
}

/// One design as written in the designs file; [`Design`] once its keys are checked.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
struct DesignEntry {
    name: String,
    suite: String,
    program: PathBuf,
    #[serde(default)]
    expect: ExpectKind,
    score: Option<f64>,
    tolerance: Option<f64>,
    reason: Option<String>,
    #[serde(default)]
    note: String,
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize, strum_macros::IntoStaticStr)]
#[serde(rename_all = "kebab-case")]
#[strum(serialize_all = "kebab-case")]
enum ExpectKind {
    #[default]
    Score,
    Rejected,
    AtMost,
}

/// What re-evaluating a design must give for it to pass.
#[derive(Debug, Clone, PartialEq)]
pub enum Expectation {
    /// Valid, scoring at least `score - tolerance` (a recorded design).
    Score { score: f64, tolerance: f64 },
    /// Not valid: an exploit the evaluator must keep rejecting. `reason`, when given, must
    /// appear in the rejection's reason, so that it is rejected for the leak it tries.
    Rejected { reason: Option<String> },
    /// Rejected, or valid with a score of at most `score`: an exploit that may run but must
    /// not profit.
    AtMost { score: f64 },
}

impl Expectation {
    /// The table's "expected" column.
    pub fn describe(&self) -> String {
        match self {
            Self::Score { score, .. } => score.to_string(),
            Self::Rejected { .. } => "rejected".into(),
            Self::AtMost { score } => format!("<= {score}"),
        }
    }

    /// The recorded score of a recorded design, against which the delta is shown.
    pub fn recorded(&self) -> Option<f64> {
        match self {
            Self::Score { score, .. } => Some(*score),
            _ => None,
        }
    }
}

/// One design, its keys checked.
#[derive(Debug, Clone, PartialEq)]
pub struct Design {
    pub name: String,
    /// A suite name or folder; a folder is looked for next to the designs file first.
    pub suite: String,
    /// The program, relative to the designs file.
    pub program: PathBuf,
    pub expect: Expectation,
    /// Where the design came from; shown nowhere but kept with it.
    pub note: String,
}

#[derive(Debug, Error)]
pub enum VerifyError {
    #[error("cannot read designs file {path}: {source}")]
    Read { path: PathBuf, source: std::io::Error },
    #[error("designs file {path} is not valid: {message}")]
    Invalid { path: PathBuf, message: String },
    #[error("designs file {path}: design #{index} (`{name}`): {message}")]
    Design { path: PathBuf, index: usize, name: String, message: String },
    #[error("designs file {0} lists no designs (add `[[design]]` tables)")]
    Empty(PathBuf),
    #[error("cannot {what} {path}: {source}")]
    Io { what: &'static str, path: PathBuf, source: std::io::Error },
}

type Result<T, E = VerifyError> = std::result::Result<T, E>;

/// A designs file, parsed and checked.
#[derive(Debug, Clone)]
pub struct Designs {
    pub path: PathBuf,
    /// The folder that relative paths are resolved against.
    pub base: PathBuf,
    pub designs: Vec<Design>,
}

impl Designs {
    pub fn from_file(path: &Path) -> Result<Self> {
        let text =
            std::fs::read_to_string(path).map_err(|source| VerifyError::Read { path: path.to_owned(), source })?;
        let base = path.parent().map(Path::to_path_buf).unwrap_or_default();
        let base = if base.as_os_str().is_empty() { PathBuf::from(".") } else { base };
        Self::parse(&text, path, base)
    }

    /// Parses the text of `path`; every error names the file and the offending entry or key.
    pub fn parse(text: &str, path: &Path, base: PathBuf) -> Result<Self> {
        let file: DesignsFile = toml::from_str(text)
            .map_err(|e| VerifyError::Invalid { path: path.to_owned(), message: e.to_string().trim().to_owned() })?;
        let invalid = |i: usize, d: &DesignEntry, message: String| VerifyError::Design {
            path: path.to_owned(),
            index: i + 1,
            name: d.name.clone(),
            message,
        };
        if file.design.is_empty() {
            return Err(VerifyError::Empty(path.to_owned()));
        }
        let mut designs = Vec::with_capacity(file.design.len());
        for (i, d) in file.design.iter().enumerate() {
            if d.name.trim().is_empty() {
                return Err(invalid(i, d, "`name` is empty".into()));
            }
            if d.suite.trim().is_empty() {
                return Err(invalid(i, d, "`suite` is empty".into()));
            }
            if d.program.as_os_str().is_empty() {
                return Err(invalid(i, d, "`program` is empty".into()));
            }
            if let Some(j) = file.design[..i].iter().position(|e| e.name == d.name) {
                return Err(invalid(i, d, format!("`name` repeats design #{}", j + 1)));
            }
            let expect = expectation(d).map_err(|m| invalid(i, d, m))?;
            designs.push(Design {
                name: d.name.clone(),
                suite: d.suite.clone(),
                program: d.program.clone(),
                expect,
                note: d.note.clone(),
            });
        }
        Ok(Self { path: path.to_owned(), base, designs })
    }

    fn program_path(&self, d: &Design) -> PathBuf {
        self.base.join(&d.program)
    }

    /// A folder next to the designs file holding `suite.toml`, else what `asi-evolve run` finds.
    fn suite(&self, d: &Design) -> Result<Suite, SuiteError> {
        let local = self.base.join(&d.suite);
        if local.join(MANIFEST).is_file() {
            return Suite::load(&local);
        }
        Suite::resolve(&d.suite)
    }
}

/// The entry's expectation; a key its kind does not use is an error naming it.
fn expectation(d: &DesignEntry) -> Result<Expectation, String> {
    let kind: &'static str = d.expect.into();
    let unused = |key: &str| format!("`{key}` does not apply to `expect = \"{kind}\"`");
    let finite_score = || match d.score {
        None => Err(format!("`expect = \"{kind}\"` needs `score`")),
        Some(s) if !s.is_finite() => Err(format!("`score` must be a finite number, not {s}")),
        Some(s) => Ok(s),
    };
    match d.expect {
        ExpectKind::Score => {
            if d.reason.is_some() {
                return Err(unused("reason"));
            }
            let score = finite_score()?;
            let tolerance = d.tolerance.ok_or_else(|| "`tolerance` is missing (0 for an exact score)".to_owned())?;
            if !(tolerance >= 0.0 && tolerance.is_finite()) {
                return Err(format!("`tolerance` must be finite and >= 0, not {tolerance}"));
            }
            Ok(Expectation::Score { score, tolerance })
        }
        ExpectKind::Rejected => {
            if d.score.is_some() {
                return Err(unused("score"));
            }
            if d.tolerance.is_some() {
                return Err(unused("tolerance"));
            }
            if d.reason.as_deref().is_some_and(|r| r.trim().is_empty()) {
                return Err("`reason` is empty (leave it out to accept any rejection)".into());
            }
            Ok(Expectation::Rejected { reason: d.reason.clone() })
        }
        ExpectKind::AtMost => {
            if d.tolerance.is_some() {
                return Err(unused("tolerance"));
            }
            if d.reason.is_some() {
                return Err(unused("reason"));
            }
            Ok(Expectation::AtMost { score: finite_score()? })
        }
    }
}

/// What re-evaluating a design came to.
#[derive(Debug, Clone, PartialEq)]
pub enum Verdict {
    /// At or above the recorded score minus the tolerance; the text says how it compares.
    Pass(String),
    /// Why not.
    Fail(String),
}

impl Verdict {
    pub fn passed(&self) -> bool {
        matches!(self, Self::Pass(_))
    }

    pub fn reason(&self) -> &str {
        match self {
            Self::Pass(r) | Self::Fail(r) => r,
        }
    }
}

/// The pass/fail rule. Pure, so it is tested without running evaluators.
pub fn decide(expect: &Expectation, evaluation: &Evaluation) -> Verdict {
    match expect {
        Expectation::Score { score, tolerance } => decide_score(*score, *tolerance, evaluation),
        Expectation::Rejected { reason } => match rejection(evaluation) {
            None => Verdict::Fail(format!(
                "an exploit the evaluator must reject was ACCEPTED{}",
                evaluation.score.map_or(String::new(), |s| format!(" with score {s}"))
            )),
            Some(why) => match reason {
                Some(wanted) if !why.contains(wanted.as_str()) => {
                    Verdict::Fail(format!("rejected, but not for the expected reason (wanted text `{wanted}`): {why}"))
                }
                _ => Verdict::Pass(format!("rejected: {why}")),
            },
        },
        Expectation::AtMost { score: bound } => match (rejection(evaluation), evaluation.score) {
            (Some(why), _) => Verdict::Pass(format!("rejected: {why}")),
            (None, Some(s)) if s <= *bound => Verdict::Pass(format!("scores {s}, at most {bound}: no profit")),
            (None, Some(s)) => Verdict::Fail(format!("an exploit scores {s}, above its bound {bound}")),
            (None, None) => Verdict::Fail("the evaluator accepted it but reported no score".into()),
        },
    }
}

/// Why an evaluation is not valid (its class and reason), or `None` when it is valid.
fn rejection(evaluation: &Evaluation) -> Option<String> {
    if evaluation.status == Status::Valid {
        return None;
    }
    let class = evaluation.failure.map_or(evaluation.status.as_str(), |f| f.as_str());
    Some(format!("({class}): {}", evaluation.reason.as_deref().unwrap_or("no reason given")))
}

/// A recorded design: `delta` is `measured - recorded` in floating point, whose sign is always
/// exact, so a tolerance of 0 means "at least the recorded score" with no rounding slack.
fn decide_score(recorded: f64, tolerance: f64, evaluation: &Evaluation) -> Verdict {
    if let Some(why) = rejection(evaluation) {
        return Verdict::Fail(format!("no longer validates {why}"));
    }
    let Some(measured) = evaluation.score.filter(|s| s.is_finite()) else {
        return Verdict::Fail("the evaluator accepted it but reported no finite score".into());
    };
    let delta = measured - recorded;
    if delta < -tolerance {
        Verdict::Fail(format!(
            "scores {measured} < recorded {recorded}: delta {delta:+.3e} is beyond the tolerance {tolerance:.1e}"
        ))
    } else if delta > tolerance {
        Verdict::Pass(format!("better than recorded by {delta:.3e}; consider updating the recorded score"))
    } else if delta == 0.0 {
        Verdict::Pass("matches the recorded score exactly".into())
    } else {
        Verdict::Pass(format!("within the tolerance {tolerance:.1e} of the recorded score"))
    }
}

/// One design's outcome.
#[derive(Debug, Clone)]
pub struct Report {
    pub name: String,
    pub suite: String,
    pub program: PathBuf,
    pub expect: Expectation,
    pub measured: Option<f64>,
    pub verdict: Verdict,
    /// The evaluator's stderr tail, when it ran and the design failed.
    pub detail: String,
    pub seconds: f64,
}

impl Report {
    /// Measured minus recorded, for a recorded design that scored.
    pub fn delta(&self) -> Option<f64> {
        Some(self.measured? - self.expect.recorded()?)
    }
}

/// Evaluates one design in `workdir` (created fresh, removed again when the design passes).
pub fn verify_design(designs: &Designs, d: &Design, bin: &Path, workdir: &Path) -> Report {
    let started = Instant::now();
    let program = designs.program_path(d);
    let mut report = Report {
        name: d.name.clone(),
        suite: d.suite.clone(),
        program: program.clone(),
        expect: d.expect.clone(),
        measured: None,
        verdict: Verdict::Fail(String::new()),
        detail: String::new(),
        seconds: 0.0,
    };
    let outcome = (|| -> Result<Evaluation, String> {
        let code =
            std::fs::read_to_string(&program).map_err(|e| format!("cannot read program {}: {e}", program.display()))?;
        let suite = designs.suite(d).map_err(|e| format!("suite `{}`: {e}", d.suite))?;
        let engineer = Engineer::new(suite, bin.to_owned(), None, OUTPUT_CAP);
        Ok(engineer.evaluate(&code, workdir, 0))
    })();
    match outcome {
        Ok(e) => {
            report.measured = e.score.filter(|_| e.status == Status::Valid);
            report.verdict = decide(&d.expect, &e);
            if !report.verdict.passed() {
                report.detail = e.stderr_tail.trim().to_owned();
            }
        }
        Err(e) => report.verdict = Verdict::Fail(e),
    }
    if report.verdict.passed() {
        let _ = std::fs::remove_dir_all(workdir);
    }
    report.seconds = started.elapsed().as_secs_f64();
    report
}

/// Evaluates every design, in order, each in its own folder under a fresh temporary one.
pub fn verify_all(designs: &Designs, bin: &Path) -> Result<(Vec<Report>, PathBuf)> {
    let root = tempfile::Builder::new()
        .prefix("asi-evolve-verify-")
        .tempdir()
        .map_err(|source| VerifyError::Io { what: "create", path: std::env::temp_dir(), source })?
        .keep();
    let reports = designs
        .designs
        .iter()
        .enumerate()
        .map(|(i, d)| verify_design(designs, d, bin, &root.join(format!("{i:03}"))))
        .collect();
    // Only failing designs keep their folders; drop the root if nothing is left in it.
    let _ = std::fs::remove_dir(&root);
    Ok((reports, root))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::node::FailureClass;

    fn parse(text: &str) -> Result<Designs> {
        Designs::parse(text, Path::new("designs/designs.toml"), PathBuf::from("designs"))
    }

    const ONE: &str = r#"
[[design]]
name = "seed"
suite = "circle-packing"
program = "circle-packing/seed.py"
score = 0.9597642169962064
tolerance = 0
note = "the suite's seed"
"#;

    #[test]
    fn parses_designs() {
        let d = parse(ONE).unwrap();
        assert_eq!(d.designs.len(), 1);
        let s = &d.designs[0];
        assert_eq!((s.name.as_str(), s.suite.as_str()), ("seed", "circle-packing"));
        assert_eq!(s.expect, Expectation::Score { score: 0.9597642169962064, tolerance: 0.0 });
        assert_eq!(d.program_path(s), Path::new("designs/circle-packing/seed.py"));
        // The note is optional.
        let without = ONE.replace("note = \"the suite's seed\"\n", "");
        assert_eq!(parse(&without).unwrap().designs[0].note, "");
    }

    #[test]
    fn bad_files_name_the_file_and_key() {
        let err = |text: &str| format!("{:#}", parse(text).unwrap_err());
        let typo = err(&ONE.replace("tolerance", "tolerence"));
        assert!(typo.contains("designs/designs.toml") && typo.contains("tolerence"), "{typo}");
        let missing = err(&ONE.replace("score = 0.9597642169962064\n", ""));
        assert!(missing.contains("designs/designs.toml") && missing.contains("score"), "{missing}");
        let top = err(&format!("designz = 1\n{ONE}"));
        assert!(top.contains("designz"), "{top}");
        let negative = err(&ONE.replace("tolerance = 0", "tolerance = -1e-9"));
        assert!(negative.contains("`seed`") && negative.contains("tolerance"), "{negative}");
        let twice = err(&format!("{ONE}{ONE}"));
        assert!(twice.contains("design #2") && twice.contains("repeats"), "{twice}");
        assert!(err("").contains("no designs"));
        let wrong_type = err(&ONE.replace("score = 0.9597642169962064", "score = \"high\""));
        assert!(wrong_type.contains("score"), "{wrong_type}");
        let no_tolerance = err(&ONE.replace("tolerance = 0\n", ""));
        assert!(no_tolerance.contains("`tolerance` is missing"), "{no_tolerance}");
        let kind = err(&ONE.replace("tolerance = 0", "expect = \"accepted\""));
        assert!(kind.contains("accepted") && kind.contains("rejected"), "{kind}");
    }

    const EXPLOIT: &str = r#"
[[design]]
name = "reads-the-future"
suite = "linear-attention-ci"
program = "exploits/reads-the-future.py"
expect = "rejected"
reason = "reads the future"
"#;

    #[test]
    fn exploits_parse_and_keys_of_another_kind_are_errors() {
        let d = parse(EXPLOIT).unwrap();
        assert_eq!(d.designs[0].expect, Expectation::Rejected { reason: Some("reads the future".into()) });
        let any = parse(&EXPLOIT.replace("reason = \"reads the future\"\n", "")).unwrap();
        assert_eq!(any.designs[0].expect, Expectation::Rejected { reason: None });
        let at_most = parse(
            &EXPLOIT
                .replace("expect = \"rejected\"\nreason = \"reads the future\"", "expect = \"at-most\"\nscore = 0.99"),
        )
        .unwrap();
        assert_eq!(at_most.designs[0].expect, Expectation::AtMost { score: 0.99 });

        let err = |text: &str| format!("{:#}", parse(text).unwrap_err());
        let scored = err(&format!("{EXPLOIT}score = 1.0\n"));
        assert!(scored.contains("`score` does not apply to `expect = \"rejected\"`"), "{scored}");
        let tolerant = err(&format!("{EXPLOIT}tolerance = 0.1\n"));
        assert!(tolerant.contains("`tolerance` does not apply"), "{tolerant}");
        let reasoned = err(&format!("{ONE}reason = \"x\"\n"));
        assert!(reasoned.contains("`reason` does not apply to `expect = \"score\"`"), "{reasoned}");
        let unbounded =
            err(&EXPLOIT.replace("expect = \"rejected\"\nreason = \"reads the future\"", "expect = \"at-most\""));
        assert!(unbounded.contains("needs `score`"), "{unbounded}");
        let blank = err(&EXPLOIT.replace("\"reads the future\"", "\" \""));
        assert!(blank.contains("`reason` is empty"), "{blank}");
    }

    #[test]
    fn exploits_pass_only_when_rejected_or_bounded() {
        let rejected = |reason: Option<&str>| Expectation::Rejected { reason: reason.map(Into::into) };
        let accepted = decide(&rejected(None), &valid(14.46));
        assert!(!accepted.passed() && accepted.reason().contains("ACCEPTED with score 14.46"), "{accepted:?}");
        let caught = decide(&rejected(Some("overlap")), &not_valid());
        assert!(caught.passed() && caught.reason().contains("invalid_result"), "{caught:?}");
        let wrong = decide(&rejected(Some("reads the future")), &not_valid());
        assert!(!wrong.passed() && wrong.reason().contains("not for the expected reason"), "{wrong:?}");

        let bound = Expectation::AtMost { score: 0.99 };
        assert!(decide(&bound, &valid(0.99)).passed());
        assert!(decide(&bound, &not_valid()).passed());
        let profits = decide(&bound, &valid(f64::from_bits(0.99f64.to_bits() + 1)));
        assert!(!profits.passed() && profits.reason().contains("above its bound"), "{profits:?}");
        assert!(!decide(&bound, &Evaluation { score: None, ..valid(0.0) }).passed());
    }

    fn valid(score: f64) -> Evaluation {
        Evaluation { status: Status::Valid, failure: None, reason: None, score: Some(score), ..not_valid() }
    }

    fn not_valid() -> Evaluation {
        Evaluation::not_run(FailureClass::InvalidResult, "invalid packing: circles 1 and 2 overlap by 1.0e-3".into())
    }

    #[test]
    fn pass_fail_rule() {
        let decide =
            |recorded, tolerance, e: &Evaluation| decide(&Expectation::Score { score: recorded, tolerance }, e);
        assert_eq!(decide(1.5, 0.0, &valid(1.5)), Verdict::Pass("matches the recorded score exactly".into()));
        assert!(decide(1.5, 0.0, &valid(1.6)).reason().contains("better than recorded"));
        assert!(decide(1.5, 0.0, &valid(1.6)).passed());
        // Zero tolerance: one ulp below fails.
        let below = decide(1.5, 0.0, &valid(f64::from_bits(1.5f64.to_bits() - 1)));
        assert!(!below.passed() && below.reason().contains("delta -"), "{below:?}");
        // Within the tolerance passes, beyond it fails.
        assert!(decide(1.5, 1e-9, &valid(1.5 - 5e-10)).passed());
        let far = decide(1.5, 1e-9, &valid(1.4));
        assert!(!far.passed() && far.reason().contains("-1.000e-1"), "{far:?}");
        // An invalid evaluation fails with the evaluator's reason and class.
        let invalid = decide(1.5, 1.0, &not_valid());
        assert!(!invalid.passed(), "{invalid:?}");
        assert!(invalid.reason().contains("invalid_result") && invalid.reason().contains("overlap"));
        // Valid without a finite score fails.
        assert!(!decide(1.5, 0.0, &Evaluation { score: None, ..valid(0.0) }).passed());
        assert!(!decide(1.5, 0.0, &valid(f64::NAN)).passed());
    }
}
