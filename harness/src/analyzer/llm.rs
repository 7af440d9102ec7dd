//! The LLM analyzer: the model reads the candidate's change against its parent, the metrics,
//! the evaluation's output and the best parent's lesson, and writes an `<analysis>`. When the
//! call fails or the reply has no analysis, the lesson is the `stats` one with a note saying so.

use std::sync::Arc;

use similar::TextDiff;

use super::{AnalysisInput, Analyzer, Stats};
use crate::config::CampaignConfig;
use crate::llm::reply::parse_analyzer_reply;
use crate::llm::{CallLog, CallRole, ChatModel, Message, ReplayError};
use crate::prompts::Templates;

/// Output tails and diffs are clipped to this many characters in the prompt.
const SECTION_CHARS: usize = 3_000;

pub(crate) struct LlmAnalyzer {
    model: Arc<dyn ChatModel>,
    model_name: String,
    templates: Templates,
}

impl LlmAnalyzer {
    pub(crate) fn new(config: &CampaignConfig, model: Arc<dyn ChatModel>, templates: Templates) -> Self {
        let endpoint = config.analyzer.llm().or(config.researcher.llm());
        let model_name = endpoint.map_or_else(|| "unknown".into(), |e| e.model.clone());
        Self { model, model_name, templates }
    }
}

/// The last `max` characters: the end of an output is where the error is.
fn tail(s: &str, max: usize) -> String {
    let count = s.chars().count();
    if count <= max { s.to_owned() } else { format!("…{}", s.chars().skip(count - max).collect::<String>()) }
}

impl Analyzer for LlmAnalyzer {
    fn id(&self) -> String {
        format!("llm:{}", self.model_name)
    }

    fn analyze(&self, input: &AnalysisInput<'_>, calls: &mut CallLog) -> Result<String, ReplayError> {
        let e = input.evaluation;
        let outcome = match e.score {
            Some(s) => format!("valid, score {s:.10}"),
            None => format!(
                "{} ({}): {}",
                e.status.as_str(),
                e.failure.map_or("unknown", |f| f.describe()),
                e.reason.as_deref().unwrap_or("no reason given")
            ),
        };
        let parent_code = input.parent.map_or("", |p| p.code.as_str());
        let diff = TextDiff::from_lines(parent_code, input.code).unified_diff().context_radius(3).to_string();
        let round = input.round.to_string();
        let prompt = self.templates.render(
            "analyzer",
            &[
                ("name", input.name),
                ("round", &round),
                ("outcome", &outcome),
                ("metrics", &serde_json::to_string(&e.metrics).unwrap_or_default()),
                ("diff", &tail(&diff, SECTION_CHARS)),
                ("stdout", &tail(&e.stdout_tail, SECTION_CHARS)),
                ("stderr", &tail(&e.stderr_tail, SECTION_CHARS)),
                ("best_lesson", input.best_lesson.unwrap_or("No lesson yet.")),
            ],
        );
        let messages = [Message::system(self.templates.render("analyzer_system", &[])), Message::user(prompt)];
        let result = calls.chat(self.model.as_ref(), CallRole::Analyzer, &messages)?;
        let problem = match result {
            Ok(reply) => match parse_analyzer_reply(&reply.content) {
                Ok(analysis) => return Ok(analysis),
                Err(e) => e.to_string(),
            },
            Err(e) => e,
        };
        Ok(format!("{} (The LLM analyzer gave no usable analysis: {problem}.)", Stats.lesson(input)))
    }
}
