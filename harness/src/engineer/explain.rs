//! Why a result was rejected, when the evaluator marked it invalid without saying: the tails of
//! the log files the suite names (ASI-Evolve's `eval.log`) and of the evaluator's stderr and
//! stdout, so the stored reason tells a user what happened without opening the node's folder.

use std::path::Path;

use super::Evaluation;
use super::classify::clip;
use crate::node::Status;

/// Lines kept from the end of each source.
const TAIL_LINES: usize = 3;

/// Adds the output's tails to the reason of an invalid result that came without feedback.
pub(super) fn rejection(e: &mut Evaluation, workdir: &Path, log_files: &[String], stdout: &str, stderr: &str) {
    if e.status != Status::Invalid || !e.feedback.trim().is_empty() {
        return;
    }
    let mut sources: Vec<(String, String)> = log_files
        .iter()
        .filter_map(|name| std::fs::read_to_string(workdir.join(name)).ok().map(|text| (name.clone(), text)))
        .collect();
    sources.push(("stderr".into(), stderr.to_owned()));
    sources.push(("stdout".into(), stdout.to_owned()));
    let tails: Vec<String> =
        sources.iter().filter_map(|(name, text)| tail(text).map(|t| format!("{name}: {t}"))).collect();
    let said = if tails.is_empty() { "and printed nothing".to_owned() } else { tails.join("; ") };
    e.reason = Some(clip(&format!("the evaluator marked the result invalid without feedback; {said}")));
}

/// The last few non-empty lines of `text`, joined with ` | `.
fn tail(text: &str) -> Option<String> {
    let lines: Vec<&str> = text.lines().map(str::trim).filter(|l| !l.is_empty()).collect();
    let start = lines.len().saturating_sub(TAIL_LINES);
    (!lines.is_empty()).then(|| lines[start..].join(" | "))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::node::FailureClass;

    fn invalid(feedback: &str) -> Evaluation {
        Evaluation {
            status: Status::Invalid,
            feedback: feedback.into(),
            ..Evaluation::not_run(FailureClass::InvalidResult, "the evaluator marked the result invalid".into())
        }
    }

    #[test]
    fn a_silent_rejection_carries_the_named_logs_and_the_output() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(
            dir.path().join("eval.log"),
            "=== start\n\nERROR: Evaluator script not found: /x/evaluator.py\n",
        )
        .unwrap();
        let mut e = invalid("");
        rejection(&mut e, dir.path(), &["eval.log".into(), "missing.log".into()], "", "ERROR: Evaluation failed\n");
        assert_eq!(
            e.reason.as_deref(),
            Some(
                "the evaluator marked the result invalid without feedback; eval.log: === start | ERROR: Evaluator \
                 script not found: /x/evaluator.py; stderr: ERROR: Evaluation failed"
            )
        );
    }

    #[test]
    fn feedback_and_other_outcomes_are_left_alone() {
        let dir = tempfile::tempdir().unwrap();
        let mut e = invalid("circles 1 and 2 overlap");
        e.reason = Some("circles 1 and 2 overlap".into());
        rejection(&mut e, dir.path(), &[], "out", "err");
        assert_eq!(e.reason.as_deref(), Some("circles 1 and 2 overlap"));
        let mut silent = invalid("");
        rejection(&mut silent, dir.path(), &[], "", "");
        assert!(silent.reason.unwrap().ends_with("and printed nothing"));
        let mut crash = Evaluation::not_run(FailureClass::Crash, "exit status 1".into());
        rejection(&mut crash, dir.path(), &[], "", "boom");
        assert_eq!(crash.reason.as_deref(), Some("exit status 1"));
    }
}
