//! The report's tables as plain cells, built once and rendered by both the Markdown and the HTML
//! writer so the two always show the same numbers.

use crate::aggregate::Aggregates;
use crate::paper::PaperRow;

pub struct Table {
    pub title: String,
    pub note: String,
    pub headers: Vec<String>,
    pub rows: Vec<Vec<String>>,
    /// Rows to emphasise (our rows in the paper table).
    pub emphasis: Vec<bool>,
}

impl Table {
    pub(crate) fn new(title: &str, note: &str, headers: &[&str]) -> Self {
        Self {
            title: title.into(),
            note: note.into(),
            headers: headers.iter().map(|h| h.to_string()).collect(),
            rows: Vec::new(),
            emphasis: Vec::new(),
        }
    }

    pub(crate) fn push(&mut self, row: Vec<String>) {
        self.rows.push(row);
        self.emphasis.push(false);
    }
}

pub fn score(v: Option<f64>) -> String {
    v.map_or("–".into(), |v| format!("{v:.6}"))
}

fn seconds(v: Option<f64>) -> String {
    v.map_or("–".into(), |v| format!("{v:.1}"))
}

fn percent(v: f64) -> String {
    format!("{:.1}%", v * 100.0)
}

pub fn arms(agg: &Aggregates) -> Table {
    let mut t = Table::new(
        "Arms",
        "Final best = the best valid score of a run; mean, sample std, min and max over the arm's seeds. Failure \
         rate = share of all nodes (seed evaluation included) that are invalid or failed. Compute = propose + \
         evaluate + analyze seconds summed over nodes; wall = first to last commit, mean per run.",
        &[
            "arm",
            "seeds",
            "rounds",
            "final best mean",
            "std",
            "min",
            "max",
            "valid / invalid / failed",
            "failure rate",
            "LLM exchanges",
            "tokens (prompt + completion)",
            "cost USD",
            "compute s",
            "wall s / run",
        ],
    );
    for a in &agg.arms {
        t.push(vec![
            a.arm.clone(),
            a.seeds.to_string(),
            a.rounds.to_string(),
            score(a.final_best_mean),
            score(a.final_best_std),
            score(a.final_best_min),
            score(a.final_best_max),
            format!("{} / {} / {}", a.valid, a.invalid, a.failed),
            percent(a.failure_rate),
            a.llm_exchanges.to_string(),
            format!("{} + {}", a.prompt_tokens, a.completion_tokens),
            format!("{:.2}", a.cost_usd),
            seconds(Some(a.compute_seconds)),
            seconds(a.wall_seconds_mean),
        ]);
    }
    t
}

pub fn thresholds(agg: &Aggregates) -> Table {
    let mut t = Table::new(
        "Rounds to reach a score",
        "Per run, the first round whose best-so-far is at least the threshold; the median is over the runs that \
         reached it.",
        &["arm", "threshold", "median round", "seeds that reached it"],
    );
    for r in &agg.thresholds {
        t.push(vec![
            r.arm.clone(),
            r.threshold.to_string(),
            r.median_round.map_or("–".into(), |m| format!("{m:.1}")),
            format!("{} of {}", r.reached, r.seeds),
        ]);
    }
    t
}

pub fn failures(agg: &Aggregates) -> Table {
    let mut t = Table::new(
        "Failures by class",
        "Nodes that are not valid, by status and failure class, as a share of all the arm's nodes.",
        &["arm", "status", "class", "nodes", "share of the arm's nodes"],
    );
    for f in &agg.failures {
        t.push(vec![f.arm.clone(), f.status.clone(), f.failure.clone(), f.nodes.to_string(), percent(f.rate)]);
    }
    t
}

pub fn runs(agg: &Aggregates, thresholds: &[f64]) -> Table {
    let mut headers =
        vec!["run", "arm", "seed", "rounds", "final best", "valid / invalid / failed", "compute s", "wall s"];
    let reach: Vec<String> = thresholds.iter().map(|t| format!("round ≥ {t}")).collect();
    headers.extend(reach.iter().map(String::as_str));
    let mut t = Table::new("Runs", "", &headers);
    for r in &agg.runs {
        let mut row = vec![
            r.run.clone(),
            r.arm.clone(),
            r.seed.to_string(),
            r.rounds.to_string(),
            score(r.final_best),
            format!("{} / {} / {}", r.valid, r.invalid, r.failed),
            seconds(Some(r.compute_seconds)),
            seconds(r.wall_seconds),
        ];
        row.extend(r.reach.iter().map(|v| v.map_or("–".into(), |v| v.to_string())));
        t.push(row);
    }
    t
}

pub fn paper(rows: &[PaperRow], suite: &str) -> Table {
    let mut t = Table::new(
        "Paper vs ours",
        &format!(
            "Reported numbers for `{suite}` (from the asi-evolve-baselines crate, each with its source) beside the \
             best final score of each of our arms. Every row says what produced it; our rows name the researcher \
             that ran and the LLM usage the databases recorded."
        ),
        &["system", "produced by", "model", "rounds", "seeds", "best", "mean over seeds", "vs best known", "source"],
    );
    for r in rows {
        t.rows.push(vec![
            r.system.clone(),
            r.produced_by.clone(),
            r.model.clone(),
            r.rounds.map_or("–".into(), |v| v.to_string()),
            r.seeds.map_or("–".into(), |v| v.to_string()),
            r.best_text.clone(),
            score(r.mean),
            r.gap.map_or("–".into(), |g| format!("{g:+.6}")),
            r.source.clone(),
        ]);
        t.emphasis.push(r.ours);
    }
    t
}
