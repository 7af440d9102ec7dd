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
    design: Vec<Design>,
}

/// One recorded design, as written in the designs file.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Design {
    pub name: String,
    /// A suite name or folder; a folder is looked for next to the designs file first.
    pub suite: String,
    /// The program, relative to the designs file.
    pub program: PathBuf,
    /// The recorded score.
    pub score: f64,
    /// How far below the recorded score the measured one may be and still pass.
    pub tolerance: f64,
    /// Where the design came from; shown nowhere but kept with it.
    #[serde(default)]
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
        let invalid = |i: usize, d: &Design, message: String| VerifyError::Design {
            path: path.to_owned(),
            index: i + 1,
            name: d.name.clone(),
            message,
        };
        if file.design.is_empty() {
            return Err(VerifyError::Empty(path.to_owned()));
        }
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
            if !d.score.is_finite() {
                return Err(invalid(i, d, format!("`score` must be a finite number, not {}", d.score)));
            }
            if !(d.tolerance >= 0.0 && d.tolerance.is_finite()) {
                return Err(invalid(i, d, format!("`tolerance` must be finite and >= 0, not {}", d.tolerance)));
            }
            if let Some(j) = file.design[..i].iter().position(|e| e.name == d.name) {
                return Err(invalid(i, d, format!("`name` repeats design #{}", j + 1)));
            }
        }
        Ok(Self { path: path.to_owned(), base, designs: file.design })
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

/// The pass/fail rule. Pure, so it is tested without running evaluators. `delta` is
/// `measured - recorded` in floating point, whose sign is always exact, so a tolerance of 0
/// means "at least the recorded score" with no rounding slack.
pub fn decide(recorded: f64, tolerance: f64, evaluation: &Evaluation) -> Verdict {
    if evaluation.status != Status::Valid {
        let class = evaluation.failure.map_or(evaluation.status.as_str(), |f| f.as_str());
        let reason = evaluation.reason.as_deref().unwrap_or("no reason given");
        return Verdict::Fail(format!("no longer validates ({class}): {reason}"));
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
    pub recorded: f64,
    pub tolerance: f64,
    pub measured: Option<f64>,
    pub verdict: Verdict,
    /// The evaluator's stderr tail, when it ran and the design failed.
    pub detail: String,
    pub seconds: f64,
}

impl Report {
    pub fn delta(&self) -> Option<f64> {
        self.measured.map(|m| m - self.recorded)
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
        recorded: d.score,
        tolerance: d.tolerance,
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
            report.verdict = decide(d.score, d.tolerance, &e);
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
    let root = std::env::temp_dir().join(format!("asi-evolve-verify-{}", std::process::id()));
    if root.exists() {
        std::fs::remove_dir_all(&root).map_err(|source| VerifyError::Io {
            what: "clear",
            path: root.clone(),
            source,
        })?;
    }
    std::fs::create_dir_all(&root).map_err(|source| VerifyError::Io { what: "create", path: root.clone(), source })?;
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
        assert_eq!(s.score, 0.9597642169962064);
        assert_eq!(s.tolerance, 0.0);
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
    }

    fn valid(score: f64) -> Evaluation {
        Evaluation { status: Status::Valid, failure: None, reason: None, score: Some(score), ..not_valid() }
    }

    fn not_valid() -> Evaluation {
        Evaluation::not_run(FailureClass::InvalidResult, "invalid packing: circles 1 and 2 overlap by 1.0e-3".into())
    }

    #[test]
    fn pass_fail_rule() {
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
