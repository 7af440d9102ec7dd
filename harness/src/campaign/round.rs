//! One round on a worker: propose (with debugging retries), evaluate, judge, analyze, and turn
//! it all into a node.

use std::path::PathBuf;
use std::time::Instant;

use rand::RngCore;

use super::CampaignError;
use super::job::RoundJob;
use super::layout::node_dir;
use crate::analyzer::{AnalysisInput, Analyzer};
use crate::engineer::{Engineer, Evaluation};
use crate::judge::Judge;
use crate::llm::{CallLog, Exchange};
use crate::node::{FailureClass, Node, NodeId, Retrieved, Timings};
use crate::novelty::NoveltyIndex;
use crate::researcher::{DebugContext, Proposal, ProposalError, ResearchContext, Researcher};
use crate::sampler::Grid;
use crate::seeds::{Stream, round_rng};

/// Everything a worker uses to run rounds; shared by all workers.
pub(super) struct Roles {
    pub(super) engineer: Engineer,
    pub(super) researcher: Box<dyn Researcher>,
    pub(super) analyzer: Option<Box<dyn Analyzer>>,
    pub(super) judge: Option<Judge>,
    pub(super) novelty: NoveltyIndex,
    pub(super) novelty_similarity: Option<f64>,
    pub(super) debug_retries: u32,
    pub(super) max_program_bytes: usize,
    pub(super) window: u64,
    pub(super) run_dir: PathBuf,
    pub(super) seed: u64,
    pub(super) task: String,
}

/// A finished round: its node and every model call made for it.
pub(super) struct RoundOutput {
    pub(super) node: Node,
    pub(super) exchanges: Vec<Exchange>,
}

/// What the node will say about its program before it is evaluated.
struct Draft {
    round: u64,
    parents: Vec<NodeId>,
    name: String,
    motivation: String,
    code: String,
    researcher: String,
    island: Option<u32>,
    grid: Option<Grid>,
    cognition: Vec<Retrieved>,
}

/// What the analyzer is told about a round besides its evaluation.
#[derive(Default, Clone, Copy)]
struct Context<'a> {
    parent: Option<&'a Node>,
    best_seen: Option<f64>,
    best_lesson: Option<&'a str>,
}

impl Roles {
    pub(super) fn execute_seed(&self, grid: Option<Grid>, mut calls: CallLog) -> Result<RoundOutput, CampaignError> {
        let code = self.engineer.suite().seed_program.clone();
        let evaluation = self.evaluate(&code, &mut calls)?;
        let draft = Draft {
            round: 0,
            parents: vec![],
            name: "seed".into(),
            motivation: "The suite's seed program.".into(),
            code,
            researcher: "seed".into(),
            island: None,
            grid,
            cognition: vec![],
        };
        self.finish(draft, evaluation, Context::default(), calls, 0.0)
    }

    pub(super) fn execute_round(&self, job: RoundJob) -> Result<RoundOutput, CampaignError> {
        let started = Instant::now();
        let mut rng = round_rng(self.seed, job.round, Stream::Researcher);
        let mut calls = job.calls;
        let proposal = self.researcher.propose(ResearchContext {
            task: &self.task,
            parents: &job.parents,
            cognition: &job.cognition,
            rng: &mut rng,
            calls: &mut calls,
        });
        let propose_seconds = started.elapsed().as_secs_f64();
        let best_parent = job
            .parents
            .iter()
            .filter(|p| p.is_valid())
            .max_by(|a, b| a.score.unwrap_or(f64::MIN).total_cmp(&b.score.unwrap_or(f64::MIN)));
        let context = Context {
            parent: job.parents.first(),
            best_seen: job.best_seen,
            best_lesson: best_parent.and_then(|p| p.lesson.as_deref()),
        };
        let unproposed = |name: String, code: String, motivation: String, grid| Draft {
            round: job.round,
            parents: job.parents.iter().map(|p| p.id).collect(),
            name,
            motivation,
            code,
            researcher: self.researcher.id(),
            island: job.island,
            grid,
            cognition: job.retrieved.clone(),
        };
        let (draft, evaluation) = match proposal {
            Ok(Proposal { name, motivation, code }) => {
                match crate::engineer::caps::oversized_program(&code, self.max_program_bytes) {
                    // An oversized program is neither evaluated nor stored (nor shown to later prompts).
                    Some(why) => (
                        unproposed(name, String::new(), motivation, None),
                        Evaluation::not_run(FailureClass::Proposal, why),
                    ),
                    None => {
                        let mut draft = unproposed(name, code, motivation, job.grid.clone());
                        let horizon = job.round.saturating_sub(self.window);
                        let evaluation =
                            match self.novelty.duplicate(&draft.code, horizon, &job.parents, self.novelty_similarity) {
                                Some(why) => Evaluation::not_run(FailureClass::Duplicate, why),
                                None => self.evaluate_with_debugging(&mut draft, &mut calls)?,
                            };
                        (draft, evaluation)
                    }
                }
            }
            Err(ProposalError::Replay(e)) => return Err(e.into()),
            Err(ProposalError::Unusable(reason)) => (
                unproposed("no proposal".into(), String::new(), String::new(), None),
                Evaluation::not_run(FailureClass::Proposal, reason),
            ),
        };
        self.finish(draft, evaluation, context, calls, propose_seconds)
    }

    /// Evaluates the draft; while it crashes, sends the error back to the researcher for a fix,
    /// up to `debug_retries` times. The draft ends holding the program last evaluated.
    fn evaluate_with_debugging(&self, draft: &mut Draft, calls: &mut CallLog) -> Result<Evaluation, CampaignError> {
        let mut evaluation = self.evaluate(&draft.code, calls)?;
        let mut fixes = 0;
        while fixes < self.debug_retries
            && matches!(evaluation.failure, Some(FailureClass::Crash | FailureClass::SyntaxError))
        {
            let error = format!(
                "{}: {}",
                evaluation.failure.map_or("failure", |f| f.describe()),
                evaluation.reason.as_deref().unwrap_or("no reason given")
            );
            let fixed = self.researcher.debug(DebugContext {
                task: &self.task,
                code: &draft.code,
                error: &error,
                stderr: &evaluation.stderr_tail,
                calls,
            })?;
            let Some(fixed) = fixed.filter(|f| f.len() <= self.max_program_bytes) else { break };
            fixes += 1;
            draft.code = fixed;
            evaluation = self.evaluate(&draft.code, calls)?;
        }
        if fixes > 0 {
            evaluation.metrics.insert("debug_fixes".into(), fixes.into());
            draft.motivation = format!("{} (Debugged {fixes} time(s) after crashes.)", draft.motivation);
        }
        Ok(evaluation)
    }

    /// Runs the evaluator (and the judge, when there is one) on a program of the calls' round.
    fn evaluate(&self, code: &str, calls: &mut CallLog) -> Result<Evaluation, CampaignError> {
        let round = calls.round();
        let seed = round_rng(self.seed, round, Stream::Evaluator).next_u64();
        let workdir = node_dir(&self.run_dir, round);
        let mut e = self.engineer.evaluate_round(code, &workdir, seed, Some(round));
        // Paths inside the node's folder are stored relative to it, so the node table does not
        // depend on where the run directory lives.
        let prefix = workdir.canonicalize().unwrap_or(workdir).to_string_lossy().into_owned();
        for text in [&mut e.stdout_tail, &mut e.stderr_tail, &mut e.feedback] {
            *text = relativize(text, &prefix);
        }
        e.reason = e.reason.map(|r| relativize(&r, &prefix));
        if let Some(judge) = &self.judge {
            judge.judge(&self.task, code, &mut e, calls)?;
        }
        Ok(e)
    }

    fn finish(
        &self,
        draft: Draft,
        evaluation: Evaluation,
        context: Context<'_>,
        mut calls: CallLog,
        propose_seconds: f64,
    ) -> Result<RoundOutput, CampaignError> {
        let analysis_started = Instant::now();
        let lesson = match &self.analyzer {
            Some(a) => Some(a.analyze(
                &AnalysisInput {
                    round: draft.round,
                    name: &draft.name,
                    code: &draft.code,
                    evaluation: &evaluation,
                    parent: context.parent,
                    best_seen: context.best_seen,
                    best_lesson: context.best_lesson,
                },
                &mut calls,
            )?),
            None => None,
        };
        let analyze_seconds = analysis_started.elapsed().as_secs_f64();
        let mut node = Node {
            id: draft.round,
            round: draft.round,
            parents: draft.parents,
            name: draft.name,
            motivation: draft.motivation,
            code: draft.code,
            researcher: draft.researcher,
            status: evaluation.status,
            failure: evaluation.failure,
            reason: evaluation.reason,
            score: evaluation.score,
            metrics: evaluation.metrics,
            feedback: evaluation.feedback,
            lesson,
            cognition: draft.cognition,
            island: draft.island,
            cell: None,
            stdout_tail: evaluation.stdout_tail,
            stderr_tail: evaluation.stderr_tail,
            timings: Timings { propose: propose_seconds, evaluate: evaluation.seconds, analyze: analyze_seconds },
        };
        if node.is_valid() {
            node.cell = draft.grid.and_then(|g| g.cell(&node)).map(|c| Grid::label(&c));
        }
        Ok(RoundOutput { node, exchanges: calls.into_exchanges() })
    }
}

fn relativize(text: &str, prefix: &str) -> String {
    text.replace(&format!("{prefix}/"), "").replace(prefix, ".")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paths_in_the_node_folder_become_relative() {
        assert_eq!(
            relativize("File \"/r/n/00003/candidate.py\", in /r/n/00003", "/r/n/00003"),
            "File \"candidate.py\", in ."
        );
    }
}
