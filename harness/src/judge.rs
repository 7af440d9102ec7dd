//! The optional LLM judge: for a valid node it asks how promising the program is, from 0 to 1,
//! and blends that into the score: `(1 − ratio) · evaluator + ratio · judge`. Both parts stay
//! in the metrics (`evaluator_score`, `judge_score`). Off by default, as in the paper's runs.

use std::sync::Arc;

use crate::engineer::Evaluation;
use crate::llm::reply::{extract_tag, strip_thinking};
use crate::llm::{CallLog, CallRole, ChatModel, Message, ReplayError};
use crate::prompts::Templates;

pub(crate) struct Judge {
    model: Arc<dyn ChatModel>,
    templates: Templates,
    ratio: f64,
}

impl Judge {
    pub(crate) fn new(model: Arc<dyn ChatModel>, templates: Templates, ratio: f64) -> Self {
        Self { model, templates, ratio }
    }

    /// Blends the judge's score into a valid evaluation; an unusable judgement leaves the score
    /// as the evaluator gave it and says why in the feedback.
    pub(crate) fn judge(
        &self,
        task: &str,
        code: &str,
        evaluation: &mut Evaluation,
        calls: &mut CallLog,
    ) -> Result<(), ReplayError> {
        let Some(score) = evaluation.score else { return Ok(()) };
        let prompt = self.templates.render(
            "judge",
            &[
                ("task", task.trim()),
                ("code", code.trim_end()),
                ("metrics", &serde_json::to_string(&evaluation.metrics).unwrap_or_default()),
            ],
        );
        let result = calls.chat(self.model.as_ref(), CallRole::Judge, &[Message::user(prompt)])?;
        let judged = result.and_then(|reply| {
            let text = strip_thinking(&reply.content);
            let raw = extract_tag(&text, "score").ok_or("the reply has no <score>…</score>")?;
            let value: f64 = raw.trim().parse().map_err(|_| format!("<score> `{}` is not a number", raw.trim()))?;
            if value.is_finite() { Ok(value.clamp(0.0, 1.0)) } else { Err("<score> is not finite".into()) }
        });
        match judged {
            Ok(j) => {
                evaluation.metrics.insert("evaluator_score".into(), score.into());
                evaluation.metrics.insert("judge_score".into(), j.into());
                evaluation.score = Some((1.0 - self.ratio) * score + self.ratio * j);
            }
            Err(problem) => {
                evaluation.feedback =
                    format!("{} (LLM judge unusable: {problem}; score not blended.)", evaluation.feedback);
            }
        }
        Ok(())
    }
}
