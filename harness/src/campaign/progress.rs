//! Progress over the committed rounds: best score, failures and model usage, for the progress
//! bar, the summary and the budget.

use std::io::IsTerminal;

use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};

use crate::llm::Exchange;
use crate::node::{Node, NodeId};

#[derive(Default)]
pub(super) struct Tracker {
    pub(super) best: Option<(NodeId, f64)>,
    pub(super) failures: u64,
    pub(super) tokens: u64,
    pub(super) cost_usd: f64,
    /// Tokens and cost used through each committed round, cumulatively.
    spent: Vec<(u64, f64)>,
}

impl Tracker {
    pub(super) fn record(&mut self, node: &Node, exchanges: &[Exchange]) {
        match node.score.filter(|_| node.is_valid()) {
            Some(s) if self.best.is_none_or(|(_, b)| s > b) => self.best = Some((node.id, s)),
            Some(_) => {}
            None => self.failures += 1,
        }
        for e in exchanges {
            self.tokens += e.prompt_tokens + e.completion_tokens;
            self.cost_usd += e.cost_usd.unwrap_or(0.0);
        }
        self.spent.push((self.tokens, self.cost_usd));
    }

    /// Tokens and cost used by rounds 0..=round (all committed).
    pub(super) fn spent_through(&self, round: u64) -> (u64, f64) {
        self.spent[round as usize]
    }

    pub(super) fn message(&self) -> String {
        let best = self.best.map_or("none".into(), |(id, s)| format!("{s:.6} (#{id})"));
        let usage = if self.tokens > 0 { format!(" | {} tokens", self.tokens) } else { String::new() };
        format!("best {best} | failures {}{usage}", self.failures)
    }
}

/// A bar on a terminal; hidden otherwise, so logs and pipes stay clean.
pub(super) fn progress_bar(rounds: u64) -> ProgressBar {
    let target =
        if std::io::stdout().is_terminal() { ProgressDrawTarget::stdout() } else { ProgressDrawTarget::hidden() };
    let bar = ProgressBar::with_draw_target(Some(rounds), target);
    bar.set_style(
        ProgressStyle::with_template("round {pos}/{len} [{elapsed_precise}] {wide_bar} {msg}")
            .expect("the template is valid"),
    );
    bar
}
