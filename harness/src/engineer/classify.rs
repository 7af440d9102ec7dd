//! What one evaluator run means: valid, invalid, or failed with a class and a one-line reason.
//! Pure, so every branch is tested without processes.

use std::time::Duration;

use super::Evaluation;
use super::executor::Exit;
use super::limits::signal_meaning;
use super::results;
use crate::node::{FailureClass, Status};

/// Classifies a run from its exit, its results file (`results_name` holding `results`, if it
/// was written) and its stderr.
pub fn classify(exit: Exit, results: Option<&str>, results_name: &str, stderr: &str, timeout: Duration) -> Evaluation {
    let fail = |failure, reason: String| Evaluation::not_run(failure, reason);
    if exit == Exit::TimedOut {
        return fail(
            FailureClass::Timeout,
            format!("evaluation exceeded the {:.0} s timeout and was stopped", timeout.as_secs_f64()),
        );
    }
    // The scheduler ended it before the command did: whatever it wrote may be partial.
    if let Exit::Lost(why) = exit {
        return fail(FailureClass::Crash, why);
    }
    if let Some(text) = results {
        return match results::parse(text) {
            // A valid result from a run that failed is not one: a candidate that wrote a results
            // file and then crashed or killed its evaluator must not be scored by it.
            Ok(r) if r.valid && exit != Exit::Code(0) => fail(
                FailureClass::Crash,
                format!(
                    "{results_name} says valid, but the evaluator {}: a failed run cannot score",
                    match exit {
                        Exit::Code(code) => format!("exited with status {code}"),
                        Exit::Signal(signal) => format!("was killed by signal {signal}"),
                        _ => "did not finish".into(),
                    }
                ),
            ),
            Ok(r) if r.valid => Evaluation {
                status: Status::Valid,
                failure: None,
                reason: None,
                score: r.score,
                metrics: r.metrics,
                feedback: r.feedback,
                ..fail(FailureClass::Crash, String::new())
            },
            Ok(r) => Evaluation {
                status: Status::Invalid,
                failure: Some(FailureClass::InvalidResult),
                reason: Some(first_line(&r.feedback).unwrap_or("the evaluator marked the result invalid").to_owned()),
                score: None,
                metrics: r.metrics,
                feedback: r.feedback,
                ..fail(FailureClass::InvalidResult, String::new())
            },
            Err(e) => fail(FailureClass::BadOutput, format!("{results_name}: {e}")),
        };
    }
    let last_error = last_line(stderr);
    if let Some(line) = stderr.lines().rev().find(|l| is_syntax_error(l)) {
        return fail(FailureClass::SyntaxError, clip(line.trim()));
    }
    match exit {
        Exit::Code(0) => {
            fail(FailureClass::BadOutput, format!("the evaluator exited 0 without writing {results_name}"))
        }
        Exit::Code(code) => fail(
            FailureClass::Crash,
            match last_error {
                Some(line) => format!("exit status {code}: {}", clip(line)),
                None => format!("exit status {code} with nothing on stderr"),
            },
        ),
        Exit::Signal(sig) => fail(
            FailureClass::Crash,
            match signal_meaning(sig) {
                Some(meaning) => format!("killed by signal {sig} ({meaning})"),
                None => format!("killed by signal {sig}"),
            },
        ),
        Exit::TimedOut | Exit::Lost(_) => unreachable!("handled above"),
    }
}

fn is_syntax_error(line: &str) -> bool {
    let l = line.trim_start();
    l.starts_with("SyntaxError") || l.starts_with("IndentationError") || l.starts_with("TabError")
}

pub(super) fn first_line(s: &str) -> Option<&str> {
    s.lines().map(str::trim).find(|l| !l.is_empty())
}

fn last_line(s: &str) -> Option<&str> {
    s.lines().map(str::trim).rfind(|l| !l.is_empty())
}

pub(super) fn clip(s: &str) -> String {
    const MAX: usize = 300;
    if s.chars().count() <= MAX { s.to_owned() } else { format!("{}…", s.chars().take(MAX).collect::<String>()) }
}

#[cfg(test)]
mod tests {
    use super::*;

    const T: Duration = Duration::from_secs(5);
    const R: &str = "results.json";

    #[test]
    fn classification() {
        let c = |exit, results, stderr| classify(exit, results, R, stderr, T);
        let ok = c(Exit::Code(0), Some(r#"{"score": 1.5, "metrics": {"n": 26}}"#), "");
        assert_eq!((ok.status, ok.score), (Status::Valid, Some(1.5)));

        let invalid = c(Exit::Code(0), Some(r#"{"valid": false, "feedback": "circles 1 and 2 overlap by 1e-9"}"#), "");
        assert_eq!(invalid.failure, Some(FailureClass::InvalidResult));
        assert!(invalid.reason.unwrap().contains("overlap"));

        let syntax = c(Exit::Code(1), None, "  File \"c.py\", line 3\n    x = (\nSyntaxError: '(' was never closed\n");
        assert_eq!(syntax.failure, Some(FailureClass::SyntaxError));
        assert!(syntax.reason.unwrap().contains("never closed"));

        let crash = c(Exit::Code(1), None, "Traceback...\nZeroDivisionError: division by zero\n");
        assert_eq!(crash.failure, Some(FailureClass::Crash));
        assert!(crash.reason.unwrap().contains("ZeroDivisionError"));

        assert_eq!(c(Exit::TimedOut, None, "").failure, Some(FailureClass::Timeout));
        assert_eq!(c(Exit::Code(0), None, "").failure, Some(FailureClass::BadOutput));
        let garbage = classify(Exit::Code(0), Some("not json"), "results.stage2.json", "", T);
        assert_eq!(garbage.failure, Some(FailureClass::BadOutput));
        assert!(garbage.reason.unwrap().contains("results.stage2.json"));
        let lost = c(Exit::Lost("the Slurm job ended NODE_FAIL".into()), Some(r#"{"score": 1.0}"#), "");
        assert_eq!(
            (lost.failure, lost.reason.as_deref()),
            (Some(FailureClass::Crash), Some("the Slurm job ended NODE_FAIL"))
        );
        // Valid results from a run that failed (a forgery left by a candidate that then crashed
        // or killed its evaluator) do not score; invalid ones still give their reason.
        for exit in [Exit::Code(1), Exit::Signal(libc::SIGKILL)] {
            let forged = c(exit.clone(), Some(r#"{"score": 100.0, "valid": true}"#), "");
            assert_eq!(
                (forged.status, forged.failure, forged.score),
                (Status::Failed, Some(FailureClass::Crash), None)
            );
            assert!(forged.reason.unwrap().contains("a failed run cannot score"));
        }
        let judged = c(Exit::Code(1), Some(r#"{"valid": false, "feedback": "overlap"}"#), "");
        assert_eq!(judged.failure, Some(FailureClass::InvalidResult));
        let killed = c(Exit::Signal(libc::SIGXCPU), None, "");
        assert_eq!(killed.failure, Some(FailureClass::Crash));
        assert!(killed.reason.unwrap().contains("cpu_seconds"));
    }
}
