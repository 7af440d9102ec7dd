//! The static check a suite may run before its evaluator (`static_check`, e.g. compiling the
//! candidate): cheap, so a candidate that cannot even be parsed costs no evaluation.

use std::time::Duration;

use super::Evaluation;
use super::classify::clip;
use super::sandbox::{Exit, RunOutput};
use crate::node::FailureClass;

/// A check gets at most this long, and never longer than the evaluator's first stage.
pub(super) const MAX_TIMEOUT: Duration = Duration::from_secs(30);
/// How many of the check's last output lines make the reason.
const REASON_LINES: usize = 3;

/// `None` when the check passed; else the failed evaluation (the evaluator is not to run).
pub(super) fn verdict(run: &RunOutput, timeout: Duration) -> Option<Evaluation> {
    let (failure, reason) = match run.exit {
        Exit::Code(0) => return None,
        Exit::TimedOut => {
            (FailureClass::Timeout, format!("the static check exceeded its {:.0} s timeout", timeout.as_secs_f64()))
        }
        exit => {
            let stderr = run.stderr.text();
            let stdout = run.stdout.text();
            let said = last_lines(&stderr).or_else(|| last_lines(&stdout));
            let status = match exit {
                Exit::Code(code) => format!("exit status {code}"),
                _ => "a signal".to_owned(),
            };
            (FailureClass::SyntaxError, said.unwrap_or_else(|| format!("the static check failed with {status}")))
        }
    };
    let mut e = Evaluation::not_run(failure, reason);
    e.stdout_tail = run.stdout.text();
    e.stderr_tail = run.stderr.text();
    e.seconds = run.elapsed.as_secs_f64();
    Some(e)
}

/// The last few non-empty lines, without caret-only marker lines, joined with ` | `.
fn last_lines(text: &str) -> Option<String> {
    let lines: Vec<&str> =
        text.lines().map(str::trim).filter(|l| !l.is_empty() && !l.chars().all(|c| c == '^' || c == '~')).collect();
    let tail = &lines[lines.len().saturating_sub(REASON_LINES)..];
    (!tail.is_empty()).then(|| clip(&tail.join(" | ")))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::engineer::sandbox::Captured;

    fn output(exit: Exit, stderr: &str) -> RunOutput {
        RunOutput {
            exit,
            stdout: Captured::default(),
            stderr: Captured { tail: stderr.as_bytes().to_vec(), total: stderr.len() as u64 },
            elapsed: Duration::from_millis(5),
        }
    }

    #[test]
    fn a_failed_check_is_a_syntax_error_with_the_last_lines() {
        assert!(verdict(&output(Exit::Code(0), ""), MAX_TIMEOUT).is_none());
        let stderr = "Traceback (most recent call last):\n  File \"c.py\", line 1\n    def f(:\n          ^\nSyntaxError: invalid syntax\n";
        let e = verdict(&output(Exit::Code(1), stderr), MAX_TIMEOUT).unwrap();
        assert_eq!(e.failure, Some(FailureClass::SyntaxError));
        assert_eq!(e.reason.as_deref(), Some("File \"c.py\", line 1 | def f(: | SyntaxError: invalid syntax"));
        let quiet = verdict(&output(Exit::Code(2), ""), MAX_TIMEOUT).unwrap();
        assert!(quiet.reason.unwrap().contains("exit status 2"));
        assert_eq!(verdict(&output(Exit::TimedOut, ""), MAX_TIMEOUT).unwrap().failure, Some(FailureClass::Timeout));
    }
}
