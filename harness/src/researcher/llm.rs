//! The LLM researcher, as in the paper: the prompt carries the task, the sampled nodes (name,
//! motivation, lesson, metrics, code) and the retrieved cognition items; the reply gives a
//! name, a motivation and either a whole program or SEARCH/REPLACE edits to the first parent's
//! EVOLVE blocks. A reply that cannot be used gets one follow-up asking for the whole program;
//! after that the round is a failed proposal with the reason. No reply can make it panic.

use std::sync::Arc;

use super::{DebugContext, Proposal, ProposalError, ResearchContext, Researcher};
use crate::config::{LlmResearcherSettings, ProgramMode};
use crate::edit::search_replace::apply_diff_to_evolve_blocks;
use crate::llm::reply::{ProgramChange, extract_tag, parse_researcher_reply, strip_code_fence, strip_thinking};
use crate::llm::{CallRole, ChatModel, Endpoint, Message, ReplayError};
use crate::node::Node;
use crate::prompts::Templates;

/// Names and motivations are clipped to keep tables and prompts readable.
const NAME_CHARS: usize = 120;
const MOTIVATION_CHARS: usize = 4_000;
/// What a prompt carries of one parent's program and lesson; the rest is left out with a
/// marker, so a huge program cannot swell every prompt that samples it.
const PARENT_CODE_BYTES: usize = 64 * 1024;
const PARENT_LESSON_CHARS: usize = 4_000;

pub(crate) struct LlmResearcher {
    model: Arc<dyn ChatModel>,
    endpoint: Endpoint,
    mode: ProgramMode,
    templates: Templates,
}

impl LlmResearcher {
    pub(crate) fn new(settings: &LlmResearcherSettings, model: Arc<dyn ChatModel>, templates: Templates) -> Self {
        Self { model, endpoint: settings.llm.clone(), mode: settings.mode, templates }
    }

    fn format(&self, base: &Node) -> String {
        let head = "Reply with\n<name>a short name for the new program</name>\n<motivation>what you change and why it should score higher</motivation>";
        match self.mode {
            ProgramMode::Diff => format!(
                "{head}\n<code>\n<<<<<<< SEARCH\nlines copied exactly from program #{id}\n=======\nthe lines that replace them\n>>>>>>> REPLACE\n</code>\n\
                 Edit program #{id} only between its EVOLVE-BLOCK-START and EVOLVE-BLOCK-END markers. Each SEARCH text \
                 must occur exactly once there; use several blocks for several edits.",
                id = base.id
            ),
            ProgramMode::Full => format!(
                "{head}\n<code>\nthe complete new program\n</code>\n\
                 Keep the EVOLVE-BLOCK-START / EVOLVE-BLOCK-END markers and the code outside them as in program #{}.",
                base.id
            ),
        }
    }
}

fn describe_parents(parents: &[Node]) -> String {
    parents
        .iter()
        .map(|p| {
            let score = p.score.map_or_else(
                || format!("{} ({})", p.status.as_str(), p.failure.map_or("", |f| f.describe())),
                |s| format!("score {s:.10}"),
            );
            let metrics = serde_json::to_string(&p.metrics).unwrap_or_default();
            format!(
                "## Program #{} — {} ({score})\nMotivation: {}\nLesson: {}\nMetrics: {metrics}\n\n```\n{}\n```",
                p.id,
                p.name,
                clip(&p.motivation, MOTIVATION_CHARS),
                p.lesson.as_deref().map_or_else(|| "none yet".to_owned(), |l| clip(l, PARENT_LESSON_CHARS)),
                parent_code(p)
            )
        })
        .collect::<Vec<_>>()
        .join("\n\n")
}

/// The parent's program, cut to `PARENT_CODE_BYTES` at a line end with a marker saying so.
fn parent_code(p: &Node) -> String {
    let code = p.code.trim_end();
    if code.len() <= PARENT_CODE_BYTES {
        return code.to_owned();
    }
    let mut end = PARENT_CODE_BYTES;
    while !code.is_char_boundary(end) {
        end -= 1;
    }
    let end = code[..end].rfind('\n').unwrap_or(end);
    format!(
        "{}\n[... the remaining {} of {} bytes of program #{} are left out of this prompt ...]",
        &code[..end],
        code.len() - end,
        code.len(),
        p.id
    )
}

fn describe_cognition(ctx: &ResearchContext<'_>) -> String {
    if ctx.cognition.is_empty() {
        return "None retrieved for this round.".into();
    }
    ctx.cognition.iter().map(|c| c.text.trim().to_owned()).collect::<Vec<_>>().join("\n\n")
}

fn clip(s: &str, max: usize) -> String {
    let s = s.trim();
    if s.chars().count() <= max { s.to_owned() } else { format!("{}…", s.chars().take(max).collect::<String>()) }
}

impl Researcher for LlmResearcher {
    fn id(&self) -> String {
        format!("llm:{}", self.endpoint.model)
    }

    fn describe(&self) -> String {
        let mode = match self.mode {
            ProgramMode::Diff => "diff",
            ProgramMode::Full => "full-rewrite",
        };
        format!("llm — {} via {} ({mode} mode)", self.endpoint.model, self.model.label())
    }

    fn debug(&self, ctx: DebugContext<'_>) -> Result<Option<String>, ReplayError> {
        self.fix(ctx)
    }

    fn propose(&self, ctx: ResearchContext<'_>) -> Result<Proposal, ProposalError> {
        let base = ctx.parents.first().ok_or_else(|| ProposalError::Unusable("no parent was sampled".into()))?;
        let prompt = self.templates.render(
            "researcher",
            &[
                ("task", ctx.task.trim()),
                ("parents", &describe_parents(ctx.parents)),
                ("cognition", &describe_cognition(&ctx)),
                ("format", &self.format(base)),
            ],
        );
        let mut messages =
            vec![Message::system(self.templates.render("researcher_system", &[])), Message::user(prompt)];
        let result = ctx.calls.chat(self.model.as_ref(), CallRole::Researcher, &messages)?;
        let content =
            result.map_err(|e| ProposalError::Unusable(format!("the researcher's model call failed: {e}")))?;
        let problem = match usable(&content.content, base) {
            Ok(p) => return Ok(p),
            Err(problem) => problem,
        };

        messages.push(Message::assistant(content.content));
        messages.push(Message::user(format!(
            "Your reply could not be used: {problem}. Reply again with <name>, <motivation> and the complete \
             program inside <code>…</code> (no SEARCH/REPLACE blocks)."
        )));
        let result = ctx.calls.chat(self.model.as_ref(), CallRole::Researcher, &messages)?;
        let retry = result
            .map_err(|e| ProposalError::Unusable(format!("{problem}; the full-rewrite request then failed: {e}")))?;
        match parse_researcher_reply(&retry.content) {
            Ok(reply) => match reply.change {
                ProgramChange::Full(code) => Ok(proposal(&reply.name, &reply.motivation, code)),
                ProgramChange::Diff(_) => Err(ProposalError::Unusable(format!(
                    "{problem}; asked for the whole program, the model sent SEARCH/REPLACE blocks again"
                ))),
            },
            Err(e) => Err(ProposalError::Unusable(format!("{problem}; the full-rewrite reply was unusable too: {e}"))),
        }
    }
}

impl LlmResearcher {
    /// One debug request: the failed program and its error in, a whole fixed program out.
    pub(super) fn fix(&self, ctx: DebugContext<'_>) -> Result<Option<String>, ReplayError> {
        let prompt = self.templates.render(
            "debug",
            &[
                ("task", ctx.task.trim()),
                ("code", ctx.code.trim_end()),
                ("error", ctx.error),
                ("stderr", ctx.stderr.trim()),
            ],
        );
        let messages = [Message::system(self.templates.render("researcher_system", &[])), Message::user(prompt)];
        let result = ctx.calls.chat(self.model.as_ref(), CallRole::Debug, &messages)?;
        Ok(result.ok().and_then(|reply| {
            let text = strip_thinking(&reply.content);
            extract_tag(&text, "code").map(strip_code_fence).filter(|c| !c.trim().is_empty())
        }))
    }
}

/// The program a reply describes, or why it describes none.
fn usable(content: &str, base: &Node) -> Result<Proposal, String> {
    let reply = parse_researcher_reply(content).map_err(|e| e.to_string())?;
    let code = match reply.change {
        ProgramChange::Full(code) => code,
        ProgramChange::Diff(blocks) => apply_diff_to_evolve_blocks(&base.code, &blocks).map_err(|e| e.to_string())?,
    };
    Ok(proposal(&reply.name, &reply.motivation, code))
}

fn proposal(name: &str, motivation: &str, code: String) -> Proposal {
    Proposal { name: clip(name, NAME_CHARS), motivation: clip(motivation, MOTIVATION_CHARS), code }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_huge_parent_program_is_cut_in_the_prompt_with_a_marker() {
        let line = "x = 1  # padding padding padding padding padding\n";
        let mut parent = crate::sampler::testing::node(7, Some(1.0));
        parent.code = line.repeat(50_000);
        let text = describe_parents(&[parent.clone(), parent]);
        assert!(text.len() < 2 * PARENT_CODE_BYTES + 4096, "{} bytes", text.len());
        assert_eq!(text.matches("bytes of program #7 are left out of this prompt").count(), 2);
        let mut small = crate::sampler::testing::node(1, Some(1.0));
        small.code = line.repeat(10);
        assert!(describe_parents(&[small.clone()]).contains(small.code.trim_end()));
    }
}
