//! The report's tables as plain cells, built once and rendered by both the Markdown and the HTML
//! writer so the two always show the same numbers.

use crate::aggregate::Aggregates;
use crate::paper::PaperRow;
use crate::stats::{Decision, Interval, RESAMPLES, SEED, Statistics};

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

fn interval(ci: Option<Interval>, format: impl Fn(f64) -> String) -> String {
    ci.map_or("–".into(), |c| format!("[{}, {}]", format(c.low), format(c.high)))
}

fn difference(v: f64) -> String {
    format!("{v:+.6}")
}

fn probability(v: f64) -> String {
    format!("{v:.3}")
}

pub fn intervals(stats: &Statistics) -> Table {
    let mut t = Table::new(
        "Interval estimates per arm",
        &format!(
            "After rliable (Agarwal et al., 2021). IQM = interquartile mean over the arm's seeds: the mean of the \
             middle half of the sorted values, the values straddling the 25th and 75th percentiles weighted by the \
             share of them inside [25%, 75%] (when the seeds are a multiple of four this is rliable's 25% trimmed mean; for \
             three it is (x₁ + 4·x₂ + x₃)/6 of the sorted values). 95% CI = percentile bootstrap (2.5th to 97.5th \
             percentile) of the IQM over {RESAMPLES} resamples of the arm's seeds with replacement (rliable's \
             stratified bootstrap; one suite, so one stratum), drawn from ChaCha8 seeded with {SEED}, afresh for \
             every interval, so a rerun gives the same numbers. AUC = area under the best-so-far curve, the mean of \
             a run's best-so-far score over its rounds: (1/(R+1)) · Σ best_so_far(r) for r = 0..R, R its last \
             round; a run with a round before its first valid node has no AUC. No interval for a single seed; with \
             few seeds the bootstrap understates the uncertainty."
        ),
        &["arm", "metric", "seeds", "IQM", "95% CI", "mean"],
    );
    for e in &stats.estimates {
        t.push(vec![
            e.arm.clone(),
            e.metric.label().into(),
            e.seeds.to_string(),
            score(e.iqm),
            interval(e.ci, |v| score(Some(v))),
            score(e.mean),
        ]);
    }
    t
}

pub fn comparisons(stats: &Statistics) -> Table {
    let r = &stats.reference;
    let delta = format!("Δ mean (arm − {r})");
    let p = format!("P(arm > {r})");
    let mut t = Table::new(
        &format!("Paired comparison with `{r}`"),
        &format!(
            "Each arm against the reference arm `{r}`, paired by seed (the same seed starts both from the same \
             program and random stream), over the seeds both arms have. Δ = mean over seed pairs of arm − {r}; its \
             95% CI is the percentile bootstrap over {RESAMPLES} resamples of the seed pairs (ChaCha8, seed \
             {SEED}). P(arm > {r}) = share of seed pairs in which the arm scored higher, a tie counting ½, with \
             its bootstrap interval from the same resampled pairs (rliable's probability of improvement compares \
             every run with every run; the pairing by seed is kept here). Undecided = Δ's interval contains 0; \
             the seeds needed are n = ⌈((1.960 + 0.842) · sd / |Δ|)²⌉ with sd the sample standard deviation of \
             the paired differences: the seed count at which a 95% interval would exclude 0 four times in five \
             (80% power) if Δ and sd are as observed."
        ),
        &["arm", "metric", "seed pairs", &delta, "95% CI", "sd", &p, "95% CI", "decision"],
    );
    for c in &stats.comparisons {
        let decision = match c.decision {
            Decision::Higher => format!("higher than {r}: interval above 0"),
            Decision::Lower => format!("lower than {r}: interval below 0"),
            Decision::NoPairs => format!("no seed in both this arm and {r}"),
            Decision::Undecided { seeds_needed: Some(n) } => {
                format!("⚠ undecided: interval contains 0; ≈ {n} seed pairs needed at this spread (have {})", c.pairs)
            }
            Decision::Undecided { seeds_needed: None } if c.pairs < 2 => {
                "⚠ undecided: one seed pair, no interval".into()
            }
            Decision::Undecided { seeds_needed: None } if c.difference_sd == Some(0.0) => {
                format!("⚠ undecided: identical to {r} on every seed")
            }
            Decision::Undecided { seeds_needed: None } => {
                "⚠ undecided: mean difference 0, more seeds would not separate them".into()
            }
        };
        t.push(vec![
            c.arm.clone(),
            c.metric.label().into(),
            c.pairs.to_string(),
            c.mean_difference.map_or("–".into(), difference),
            interval(c.difference_ci, difference),
            score(c.difference_sd),
            c.p_improvement.map_or("–".into(), probability),
            interval(c.p_improvement_ci, probability),
            decision,
        ]);
    }
    t
}
