//! `stats`: the offline analyzer. A one-paragraph lesson from the numbers — score and delta
//! against the parent and the best seen, or the failure class and reason — plus the
//! evaluator's own feedback.

use super::{AnalysisInput, Analyzer};
use crate::llm::{CallLog, ReplayError};
use crate::node::Status;

/// Feedback quoted in a lesson is clipped to this many characters.
const FEEDBACK_CHARS: usize = 400;

pub(crate) struct Stats;

impl Analyzer for Stats {
    fn id(&self) -> String {
        "stats".into()
    }

    fn analyze(&self, input: &AnalysisInput<'_>, _calls: &mut CallLog) -> Result<String, ReplayError> {
        Ok(self.lesson(input))
    }
}

impl Stats {
    pub(crate) fn lesson(&self, input: &AnalysisInput<'_>) -> String {
        let e = input.evaluation;
        let parent = input.parent.map(|p| (p.id, p.score));
        let mut lesson = match (e.status, e.score) {
            (Status::Valid, Some(score)) => {
                let mut s = format!("`{}` is valid with score {score:.6}", input.name);
                match parent {
                    Some((id, Some(ps))) => {
                        let delta = score - ps;
                        let verdict = if delta > 0.0 {
                            "an improvement"
                        } else if delta < 0.0 {
                            "a regression"
                        } else {
                            "no change"
                        };
                        s += &format!(", {delta:+.6} against parent #{id} ({ps:.6}): {verdict}");
                    }
                    Some((id, None)) => s += &format!("; its parent #{id} had no score"),
                    None => {}
                }
                if let Some(best) = input.best_seen {
                    if score > best {
                        s += &format!("; a new best, above the previous {best:.6}");
                    } else {
                        s += &format!("; {:.6} below the best seen ({best:.6})", best - score);
                    }
                }
                s + "."
            }
            _ => {
                let class = e.failure.map_or("failure", |f| f.describe());
                let reason = e.reason.as_deref().unwrap_or("no reason given");
                let mut s = format!("`{}` failed ({class}): {reason}", input.name);
                if let Some((id, score)) = parent {
                    s += &format!(". The change was made to parent #{id}");
                    if let Some(ps) = score {
                        s += &format!(" (score {ps:.6}), which stays the better program");
                    }
                }
                s + "."
            }
        };
        let feedback = e.feedback.trim();
        if !feedback.is_empty() && e.reason.as_deref() != Some(feedback) {
            let clipped: String = feedback.chars().take(FEEDBACK_CHARS).collect();
            let ellipsis = if clipped.len() < feedback.len() { "…" } else { "" };
            lesson += &format!(" Evaluator feedback: {}{ellipsis}", clipped.replace('\n', " "));
        }
        lesson
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::engineer::Evaluation;
    use crate::node::FailureClass;
    use crate::sampler::testing::node;

    fn input<'a>(
        name: &'a str,
        e: &'a Evaluation,
        parent: Option<&'a crate::node::Node>,
        best_seen: Option<f64>,
    ) -> AnalysisInput<'a> {
        AnalysisInput { round: 1, name, code: "", evaluation: e, parent, best_seen, best_lesson: None }
    }

    fn valid(score: f64, feedback: &str) -> Evaluation {
        Evaluation {
            status: Status::Valid,
            failure: None,
            reason: None,
            score: Some(score),
            feedback: feedback.into(),
            ..Evaluation::not_run(FailureClass::Crash, String::new())
        }
    }

    #[test]
    fn an_improvement_names_the_delta_and_the_parent() {
        let parent = node(4, Some(1.0));
        let e = valid(1.25, "LP optimum 1.3");
        let lesson = Stats.lesson(&input("perturb", &e, Some(&parent), Some(1.1)));
        assert!(lesson.contains("+0.250000") && lesson.contains("#4") && lesson.contains("new best"), "{lesson}");
        assert!(lesson.contains("LP optimum 1.3"), "{lesson}");
    }

    #[test]
    fn a_failure_names_its_class_and_reason() {
        let e = Evaluation::not_run(FailureClass::Timeout, "exceeded the 300 s timeout".into());
        let lesson = Stats.lesson(&input("x", &e, None, None));
        assert!(lesson.contains("timeout") && lesson.contains("300 s"), "{lesson}");
    }
}
