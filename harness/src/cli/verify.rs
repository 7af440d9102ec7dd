//! `asi-evolve verify <designs.toml> [--junit FILE]`: the library re-evaluates the designs;
//! this prints their table, writes the JUnit report and says the outcome in the exit status.

use std::path::Path;
use std::process::ExitCode;
use std::time::Duration;

use anyhow::{Context, Result};
use asi_evolve::verify::{self, Designs, Expectation, Report};
use quick_junit::{NonSuccessKind, Property, TestCase, TestCaseStatus, TestSuite};

/// The JUnit test suite name.
const JUNIT_SUITE: &str = "asi-evolve verify";

pub(crate) fn run(designs_file: &Path, junit_path: Option<&Path>) -> Result<ExitCode> {
    let designs = Designs::from_file(designs_file)?;
    let bin = std::env::current_exe().context("cannot locate the asi-evolve executable")?;
    let (reports, root) = verify::verify_all(&designs, &bin)?;
    println!("{}", table(&reports));
    if let Some(path) = junit_path {
        std::fs::write(path, junit(&reports, designs_file)?)
            .with_context(|| format!("cannot write the JUnit report to {}", path.display()))?;
    }
    let failed = reports.iter().filter(|r| !r.verdict.passed()).count();
    if failed == 0 {
        println!("{} verified", plural(reports.len()));
    } else {
        if root.exists() {
            println!("the failing designs' evaluation folders are kept under {}", root.display());
        }
        println!("{failed} of {} FAILED", plural(reports.len()));
    }
    Ok(super::answer(failed == 0))
}

fn plural(n: usize) -> String {
    if n == 1 { "1 design".into() } else { format!("{n} designs") }
}

/// The plain-text table: name, suite, expected, measured, delta, status, reason. No borders,
/// each row starting with the design's name, so it reads well in a CI log and greps.
pub(crate) fn table(reports: &[Report]) -> String {
    let rows: Vec<Vec<String>> = reports
        .iter()
        .map(|r| {
            vec![
                r.name.clone(),
                r.suite.clone(),
                r.expect.describe(),
                r.measured.map_or("-".into(), |m| m.to_string()),
                r.delta().map_or("-".into(), |d| format!("{d:+.3e}")),
                if r.verdict.passed() { "PASS" } else { "FAIL" }.into(),
                r.verdict.reason().to_owned(),
            ]
        })
        .collect();
    asi_evolve_reports::plain_table(&["name", "suite", "expected", "measured", "delta", "status", "reason"], &rows, &[])
}

/// What the design must give, in full (the JUnit body's `expected:` line).
fn expected(expect: &Expectation) -> String {
    match expect {
        Expectation::Score { score, tolerance: t } => {
            format!("{score} (tolerance {})", if *t == 0.0 { "0".to_owned() } else { format!("{t:e}") })
        }
        Expectation::Rejected { reason: Some(r) } => format!("rejected, for a reason containing `{r}`"),
        Expectation::Rejected { reason: None } => "rejected".into(),
        Expectation::AtMost { score } => format!("rejected or a score of at most {score}"),
    }
}

/// JUnit XML: one test suite, one test case per design, a `<failure>` for each failing one
/// carrying everything needed to act on it.
pub(crate) fn junit(reports: &[Report], designs_file: &Path) -> Result<String> {
    let mut suite = TestSuite::new(JUNIT_SUITE);
    suite.add_property(Property::new("designs", designs_file.display().to_string()));
    for r in reports {
        let status = if r.verdict.passed() {
            TestCaseStatus::success()
        } else {
            let mut body = format!(
                "design: {}\nsuite: {}\nprogram: {}\nexpected: {}\nmeasured: {}\ndelta: {}\nreason: {}\n",
                r.name,
                r.suite,
                r.program.display(),
                expected(&r.expect),
                r.measured.map_or("-".into(), |m| m.to_string()),
                r.delta().map_or("-".into(), |d| format!("{d:+e}")),
                r.verdict.reason()
            );
            if !r.detail.is_empty() {
                body.push_str(&format!("evaluator stderr (tail):\n{}\n", r.detail));
            }
            let mut failure = TestCaseStatus::non_success(NonSuccessKind::Failure);
            failure.set_message(r.verdict.reason()).set_type("verify").set_description(body);
            failure
        };
        let mut case = TestCase::new(r.name.as_str(), status);
        case.set_classname(r.suite.as_str()).set_time(Duration::from_secs_f64(r.seconds));
        suite.add_test_case(case);
    }
    let mut report = quick_junit::Report::new(JUNIT_SUITE);
    report.add_test_suite(suite);
    report.to_string().context("cannot serialise the JUnit report")
}

#[cfg(test)]
mod tests {
    use std::path::PathBuf;

    use asi_evolve::verify::Verdict;

    use super::*;

    fn report(name: &str, verdict: Verdict, measured: Option<f64>) -> Report {
        Report {
            name: name.into(),
            suite: "circle-packing".into(),
            program: PathBuf::from("designs/x.py"),
            expect: Expectation::Score { score: 1.5, tolerance: 1e-9 },
            measured,
            verdict,
            detail: "Traceback: <boom> & \"quotes\"".into(),
            seconds: 0.25,
        }
    }

    #[test]
    fn junit_and_table() {
        let reports = vec![
            report("good", Verdict::Pass("matches the recorded score exactly".into()), Some(1.5)),
            report("bad <one>", Verdict::Fail("scores 1.4 < recorded 1.5 & more".into()), Some(1.4)),
        ];
        let x = junit(&reports, Path::new("designs.toml")).unwrap();
        let parsed = quick_junit::Report::deserialize_from_str(&x).unwrap();
        let suite = &parsed.test_suites[0];
        assert_eq!((suite.name.as_str(), suite.tests, suite.failures), (JUNIT_SUITE, 2, 1), "{x}");
        assert_eq!(suite.properties[0].value.as_str(), "designs.toml");
        let bad = &suite.test_cases[1];
        assert_eq!(bad.name.as_str(), "bad <one>");
        assert_eq!(bad.time, Some(Duration::from_millis(250)));
        match &bad.status {
            TestCaseStatus::NonSuccess { message, description, .. } => {
                assert_eq!(message.as_ref().unwrap().as_str(), "scores 1.4 < recorded 1.5 & more");
                let body = description.as_ref().unwrap().as_str();
                assert!(
                    body.contains("expected: 1.5 (tolerance 1e-9)") && body.contains("Traceback: <boom> & \"quotes\""),
                    "{body}"
                );
            }
            other => panic!("not a failure: {other:?}"),
        }
        assert!(matches!(suite.test_cases[0].status, TestCaseStatus::Success { .. }));

        let text = table(&reports);
        let lines: Vec<&str> = text.lines().collect();
        assert!(lines.iter().all(|l| !l.ends_with(' ')), "trailing whitespace:\n{text}");
        assert!(lines[0].starts_with("name ") && lines[0].contains("reason"), "{text}");
        assert!(lines.iter().any(|l| l.starts_with("good ") && l.contains(" PASS ")), "{text}");
        assert!(
            lines.iter().any(|l| l.starts_with("bad <one> ") && l.contains(" FAIL ") && l.contains("-1.000e-1")),
            "{text}"
        );
        // Columns line up: every row's status starts where the header's does.
        let at = lines[0].find("status").unwrap();
        assert!(
            lines[1..]
                .iter()
                .filter(|l| !l.trim().is_empty() && !l.starts_with(' '))
                .all(|l| l[at..].starts_with("PASS") || l[at..].starts_with("FAIL")),
            "{text}"
        );
    }
}
