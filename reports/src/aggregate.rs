//! The numbers of a report, computed with polars from every node of every run: best-so-far
//! curves, per-run and per-arm summaries, rounds to reach thresholds, and failure rates. The
//! frames are what gets written as CSV/Parquet; the typed rows are what figures and pages show.

use asi_evolve_store::{FailureClass, Status};
use polars::prelude::*;

use crate::error::ReportError;
use crate::runs::Run;

/// Every table of a report, in the shape it is written to disk.
pub struct Frames {
    /// One row per node: run, arm, seed, suite, round, status, failure, score, seconds.
    pub nodes: DataFrame,
    /// `nodes` plus the run's best valid score up to and including each round.
    pub curves: DataFrame,
    /// Per arm and round: mean, min and max of the best-so-far over the arm's runs.
    pub arm_curves: DataFrame,
    pub runs: DataFrame,
    pub arms: DataFrame,
    /// Per arm and threshold: median round at which runs first reached it, and how many did.
    pub thresholds: DataFrame,
    /// Per arm, status and failure class: node count and share of the arm's nodes.
    pub failures: DataFrame,
}

#[derive(Debug, Clone, PartialEq)]
pub struct ArmSummary {
    pub arm: String,
    pub suite: String,
    /// The researchers' own descriptions, distinct ones joined by "; ".
    pub researcher: String,
    /// Number of runs of the arm (one per seed in a well-formed ablation).
    pub seeds: u64,
    pub final_best_mean: Option<f64>,
    /// Sample standard deviation (n − 1); `None` for a single seed.
    pub final_best_std: Option<f64>,
    pub final_best_min: Option<f64>,
    pub final_best_max: Option<f64>,
    /// The most rounds any run of the arm went.
    pub rounds: u64,
    pub nodes: u64,
    pub valid: u64,
    pub invalid: u64,
    pub failed: u64,
    /// Share of the arm's nodes that are not valid.
    pub failure_rate: f64,
    pub llm_exchanges: u64,
    pub prompt_tokens: u64,
    pub completion_tokens: u64,
    pub cost_usd: f64,
    /// Propose + evaluate + analyze seconds over all nodes of all runs of the arm.
    pub compute_seconds: f64,
    /// Mean over runs of first-to-last commit time.
    pub wall_seconds_mean: Option<f64>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct CurvePoint {
    pub round: u64,
    pub mean: Option<f64>,
    pub min: Option<f64>,
    pub max: Option<f64>,
    /// Runs with a valid node by this round.
    pub seeds: u64,
}

#[derive(Debug, Clone, PartialEq)]
pub struct ArmCurve {
    pub arm: String,
    pub points: Vec<CurvePoint>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct ThresholdRow {
    pub arm: String,
    pub threshold: f64,
    /// Median, over the runs that reached it, of the first round whose best-so-far ≥ threshold.
    pub median_round: Option<f64>,
    pub reached: u64,
    pub seeds: u64,
}

#[derive(Debug, Clone, PartialEq)]
pub struct FailureRow {
    pub arm: String,
    pub status: String,
    pub failure: String,
    pub nodes: u64,
    pub rate: f64,
}

#[derive(Debug, Clone, PartialEq)]
pub struct RunSummary {
    pub run: String,
    pub arm: String,
    pub seed: i64,
    pub rounds: u64,
    pub final_best: Option<f64>,
    /// Area under the best-so-far curve: the mean of best-so-far over the run's rounds 0..=R;
    /// `None` when some round precedes the run's first valid node (best-so-far undefined there).
    pub auc: Option<f64>,
    pub nodes: u64,
    pub valid: u64,
    pub invalid: u64,
    pub failed: u64,
    pub compute_seconds: f64,
    pub wall_seconds: Option<f64>,
    pub cost_usd: f64,
    /// First round reaching each configured threshold, in the order of the thresholds.
    pub reach: Vec<Option<u64>>,
}

/// The report's numbers, framed and typed.
pub struct Aggregates {
    pub frames: Frames,
    pub arms: Vec<ArmSummary>,
    pub curves: Vec<ArmCurve>,
    pub thresholds: Vec<ThresholdRow>,
    pub failures: Vec<FailureRow>,
    pub runs: Vec<RunSummary>,
}

pub fn aggregate(runs: &[Run], thresholds: &[f64]) -> Result<Aggregates, ReportError> {
    let frames = frames(runs, thresholds)?;
    let typed = |what| move |source| ReportError::Polars { what, source };
    Ok(Aggregates {
        arms: arm_rows(&frames.arms).map_err(typed("reading the arms table"))?,
        curves: curve_rows(&frames.arm_curves).map_err(typed("reading the arm curves"))?,
        thresholds: threshold_rows(&frames.thresholds).map_err(typed("reading the thresholds table"))?,
        failures: failure_rows(&frames.failures).map_err(typed("reading the failures table"))?,
        runs: run_rows(&frames.runs, thresholds).map_err(typed("reading the runs table"))?,
        frames,
    })
}

/// Column name of the first round reaching threshold `t` in the runs table.
pub fn reach_column(t: f64) -> String {
    format!("reach_{t}")
}

fn frames(runs: &[Run], thresholds: &[f64]) -> Result<Frames, ReportError> {
    let err = |what| move |source| ReportError::Polars { what, source };
    let nodes = node_frame(runs).map_err(err("building the node table"))?;
    let scored = best_so_far(nodes.clone().lazy()).map_err(err("best-so-far curves"))?;
    let curves = scored.clone().collect().map_err(err("best-so-far curves"))?;

    let arm_curves = scored
        .clone()
        .group_by([col("arm_index"), col("arm"), col("round")])
        .agg([
            col("best_so_far").mean().alias("mean"),
            col("best_so_far").min().alias("min"),
            col("best_so_far").max().alias("max"),
            col("best_so_far").count().cast(DataType::Int64).alias("seeds"),
        ])
        .sort(["arm_index", "round"], Default::default())
        .collect()
        .map_err(err("per-arm curves"))?;

    let runs_frame = run_frame(&curves, runs, thresholds).map_err(err("per-run summary"))?;
    let arms = arm_frame(&runs_frame, runs).map_err(err("per-arm summary"))?;
    let thresholds = threshold_frame(&runs_frame, thresholds).map_err(err("rounds to thresholds"))?;
    let failures = failure_frame(&nodes).map_err(err("failure classes"))?;
    Ok(Frames { nodes, curves, arm_curves, runs: runs_frame, arms, thresholds, failures })
}

/// Runs and arms carry their position in the input as an index, so every table keeps the order
/// the user listed the runs in rather than an alphabetical one.
fn node_frame(runs: &[Run]) -> PolarsResult<DataFrame> {
    let mut arms: Vec<&str> = Vec::new();
    let (mut run_index, mut run, mut arm_index, mut arm, mut seed, mut suite) =
        (Vec::new(), Vec::new(), Vec::new(), Vec::new(), Vec::new(), Vec::new());
    let (mut round, mut status, mut failure, mut score, mut seconds) =
        (Vec::new(), Vec::new(), Vec::new(), Vec::new(), Vec::new());
    for (i, r) in runs.iter().enumerate() {
        let a = match arms.iter().position(|a| *a == r.arm) {
            Some(a) => a,
            None => {
                arms.push(&r.arm);
                arms.len() - 1
            }
        };
        for n in &r.nodes {
            run_index.push(i as i64);
            run.push(r.label.clone());
            arm_index.push(a as i64);
            arm.push(r.arm.clone());
            seed.push(r.seed);
            suite.push(r.suite.clone());
            round.push(n.round as i64);
            status.push(n.status.as_str());
            failure.push(n.failure.map(FailureClass::as_str));
            score.push(n.score);
            seconds.push(n.propose_seconds + n.evaluate_seconds + n.analyze_seconds);
        }
    }
    df!(
        "run_index" => run_index,
        "run" => run,
        "arm_index" => arm_index,
        "arm" => arm,
        "seed" => seed,
        "suite" => suite,
        "round" => round,
        "status" => status,
        "failure" => failure,
        "score" => score,
        "seconds" => seconds,
    )
}

/// Adds `best_so_far`: the running maximum of valid scores within each run, null until the
/// run's first valid node. Invalid rows count as −∞ for the running maximum so that they carry
/// the previous best forward, and a −∞ result is turned back into null.
fn best_so_far(nodes: LazyFrame) -> PolarsResult<LazyFrame> {
    let valid_score = when(col("status").eq(lit(Status::Valid.as_str())).and(col("score").is_not_null()))
        .then(col("score"))
        .otherwise(lit(f64::NEG_INFINITY));
    Ok(nodes
        .sort(["run_index", "round"], Default::default())
        .with_column(valid_score.cum_max(false).over([col("run_index")])?.alias("running_max"))
        .with_column(
            when(col("running_max").eq(lit(f64::NEG_INFINITY)))
                .then(lit(NULL).cast(DataType::Float64))
                .otherwise(col("running_max"))
                .alias("best_so_far"),
        )
        .drop(cols(["running_max"])))
}

/// The number of a run's nodes with `status`, in a column named by the status.
fn count_status(status: Status) -> Expr {
    col("status").eq(lit(status.as_str())).cast(DataType::Int64).sum().alias(status.as_str())
}

fn run_frame(curves: &DataFrame, runs: &[Run], thresholds: &[f64]) -> PolarsResult<DataFrame> {
    let extras = df!(
        "run_index" => (0..runs.len() as i64).collect::<Vec<_>>(),
        "llm_exchanges" => runs.iter().map(|r| r.usage.exchanges as i64).collect::<Vec<_>>(),
        "prompt_tokens" => runs.iter().map(|r| r.usage.prompt_tokens as i64).collect::<Vec<_>>(),
        "completion_tokens" => runs.iter().map(|r| r.usage.completion_tokens as i64).collect::<Vec<_>>(),
        "cost_usd" => runs.iter().map(|r| r.usage.cost_usd).collect::<Vec<_>>(),
        "wall_seconds" => runs.iter().map(|r| r.wall_seconds).collect::<Vec<_>>(),
    )?;
    let mut frame = curves
        .clone()
        .lazy()
        .group_by([col("run_index")])
        .agg([
            col("run").first(),
            col("arm_index").first(),
            col("arm").first(),
            col("seed").first(),
            col("suite").first(),
            col("round").max().alias("rounds"),
            len().cast(DataType::Int64).alias("nodes"),
            count_status(Status::Valid),
            count_status(Status::Invalid),
            count_status(Status::Failed),
            col("best_so_far").max().alias("final_best"),
            col("best_so_far").mean().alias("auc"),
            col("best_so_far").null_count().alias("rounds_without_best"),
            col("seconds").sum().alias("compute_seconds"),
        ])
        // A mean over only the rounds after the first valid node would flatter a run that
        // started late, so such a run has no AUC rather than a biased one.
        .with_column(
            when(col("rounds_without_best").gt(lit(0)))
                .then(lit(NULL).cast(DataType::Float64))
                .otherwise(col("auc"))
                .alias("auc"),
        )
        .drop(cols(["rounds_without_best"]))
        .left_join(extras.lazy(), col("run_index"), col("run_index"));
    for &t in thresholds {
        let reach = curves
            .clone()
            .lazy()
            .filter(col("best_so_far").gt_eq(lit(t)))
            .group_by([col("run_index")])
            .agg([col("round").min().alias(reach_column(t))]);
        frame = frame.left_join(reach, col("run_index"), col("run_index"));
    }
    frame.sort(["run_index"], Default::default()).collect()
}

fn arm_frame(runs_frame: &DataFrame, runs: &[Run]) -> PolarsResult<DataFrame> {
    let sum = |c: &str| col(c).sum();
    let arms = runs_frame
        .clone()
        .lazy()
        .group_by([col("arm_index")])
        .agg([
            col("arm").first(),
            col("suite").first(),
            len().cast(DataType::Int64).alias("seeds"),
            col("final_best").mean().alias("final_best_mean"),
            col("final_best").std(1).alias("final_best_std"),
            col("final_best").min().alias("final_best_min"),
            col("final_best").max().alias("final_best_max"),
            col("rounds").max(),
            sum("nodes"),
            sum("valid"),
            sum("invalid"),
            sum("failed"),
            sum("llm_exchanges"),
            sum("prompt_tokens"),
            sum("completion_tokens"),
            sum("cost_usd"),
            sum("compute_seconds"),
            col("wall_seconds").mean().alias("wall_seconds_mean"),
        ])
        .with_column(
            ((col("invalid") + col("failed")).cast(DataType::Float64) / col("nodes").cast(DataType::Float64))
                .alias("failure_rate"),
        )
        .sort(["arm_index"], Default::default())
        .collect()?;
    let researchers: Vec<String> = strs(&arms, "arm")?
        .iter()
        .map(|arm| {
            let mut seen: Vec<&str> = Vec::new();
            for r in runs.iter().filter(|r| r.arm == *arm) {
                if !seen.contains(&r.researcher.as_str()) {
                    seen.push(&r.researcher);
                }
            }
            seen.join("; ")
        })
        .collect();
    let mut arms = arms;
    arms.with_column(Column::new("researcher".into(), researchers))?;
    Ok(arms)
}

fn threshold_frame(runs_frame: &DataFrame, thresholds: &[f64]) -> PolarsResult<DataFrame> {
    let mut all: Option<DataFrame> = None;
    for &t in thresholds {
        let reach = reach_column(t);
        let one = runs_frame
            .clone()
            .lazy()
            .group_by([col("arm_index")])
            .agg([
                col("arm").first(),
                col(&reach).median().alias("median_round"),
                col(&reach).count().cast(DataType::Int64).alias("reached"),
                len().cast(DataType::Int64).alias("seeds"),
            ])
            .with_column(lit(t).alias("threshold"))
            .select([col("arm_index"), col("arm"), col("threshold"), col("median_round"), col("reached"), col("seeds")])
            .sort(["arm_index"], Default::default())
            .collect()?;
        match &mut all {
            Some(df) => {
                df.vstack_mut(&one)?;
            }
            None => all = Some(one),
        }
    }
    match all {
        Some(df) => Ok(df),
        None => df!(
            "arm_index" => Vec::<i64>::new(),
            "arm" => Vec::<String>::new(),
            "threshold" => Vec::<f64>::new(),
            "median_round" => Vec::<f64>::new(),
            "reached" => Vec::<i64>::new(),
            "seeds" => Vec::<i64>::new(),
        ),
    }
}

fn failure_frame(nodes: &DataFrame) -> PolarsResult<DataFrame> {
    let totals =
        nodes.clone().lazy().group_by([col("arm_index")]).agg([len().cast(DataType::Int64).alias("arm_nodes")]);
    nodes
        .clone()
        .lazy()
        .filter(col("status").neq(lit(Status::Valid.as_str())))
        .with_column(col("failure").fill_null(lit("unclassified")))
        .group_by([col("arm_index"), col("arm"), col("status"), col("failure")])
        .agg([len().cast(DataType::Int64).alias("nodes")])
        .left_join(totals, col("arm_index"), col("arm_index"))
        .with_column((col("nodes").cast(DataType::Float64) / col("arm_nodes").cast(DataType::Float64)).alias("rate"))
        .sort(["arm_index", "status", "failure"], SortMultipleOptions::default().with_maintain_order(true))
        .collect()
}

fn f64s(df: &DataFrame, name: &str) -> PolarsResult<Vec<Option<f64>>> {
    let column = df.column(name)?.cast(&DataType::Float64)?;
    Ok(column.f64()?.iter().collect())
}

fn u64s(df: &DataFrame, name: &str) -> PolarsResult<Vec<u64>> {
    Ok(f64s(df, name)?.into_iter().map(|v| v.unwrap_or(0.0) as u64).collect())
}

fn strs(df: &DataFrame, name: &str) -> PolarsResult<Vec<String>> {
    Ok(df.column(name)?.str()?.iter().map(|s| s.unwrap_or_default().to_owned()).collect())
}

fn arm_rows(df: &DataFrame) -> PolarsResult<Vec<ArmSummary>> {
    let (arm, suite, researcher) = (strs(df, "arm")?, strs(df, "suite")?, strs(df, "researcher")?);
    let (mean, std, min, max) = (
        f64s(df, "final_best_mean")?,
        f64s(df, "final_best_std")?,
        f64s(df, "final_best_min")?,
        f64s(df, "final_best_max")?,
    );
    let (seeds, rounds, nodes) = (u64s(df, "seeds")?, u64s(df, "rounds")?, u64s(df, "nodes")?);
    let (valid, invalid, failed) = (u64s(df, "valid")?, u64s(df, "invalid")?, u64s(df, "failed")?);
    let (exchanges, prompt, completion) =
        (u64s(df, "llm_exchanges")?, u64s(df, "prompt_tokens")?, u64s(df, "completion_tokens")?);
    let (cost, compute, wall, rate) = (
        f64s(df, "cost_usd")?,
        f64s(df, "compute_seconds")?,
        f64s(df, "wall_seconds_mean")?,
        f64s(df, "failure_rate")?,
    );
    Ok((0..df.height())
        .map(|i| ArmSummary {
            arm: arm[i].clone(),
            suite: suite[i].clone(),
            researcher: researcher[i].clone(),
            seeds: seeds[i],
            final_best_mean: mean[i],
            final_best_std: std[i],
            final_best_min: min[i],
            final_best_max: max[i],
            rounds: rounds[i],
            nodes: nodes[i],
            valid: valid[i],
            invalid: invalid[i],
            failed: failed[i],
            failure_rate: rate[i].unwrap_or(0.0),
            llm_exchanges: exchanges[i],
            prompt_tokens: prompt[i],
            completion_tokens: completion[i],
            cost_usd: cost[i].unwrap_or(0.0),
            compute_seconds: compute[i].unwrap_or(0.0),
            wall_seconds_mean: wall[i],
        })
        .collect())
}

fn curve_rows(df: &DataFrame) -> PolarsResult<Vec<ArmCurve>> {
    let (arm, round, seeds) = (strs(df, "arm")?, u64s(df, "round")?, u64s(df, "seeds")?);
    let (mean, min, max) = (f64s(df, "mean")?, f64s(df, "min")?, f64s(df, "max")?);
    let mut curves: Vec<ArmCurve> = Vec::new();
    for i in 0..df.height() {
        let point = CurvePoint { round: round[i], mean: mean[i], min: min[i], max: max[i], seeds: seeds[i] };
        match curves.last_mut() {
            Some(c) if c.arm == arm[i] => c.points.push(point),
            _ => curves.push(ArmCurve { arm: arm[i].clone(), points: vec![point] }),
        }
    }
    Ok(curves)
}

fn threshold_rows(df: &DataFrame) -> PolarsResult<Vec<ThresholdRow>> {
    let (arm, threshold, median) = (strs(df, "arm")?, f64s(df, "threshold")?, f64s(df, "median_round")?);
    let (reached, seeds) = (u64s(df, "reached")?, u64s(df, "seeds")?);
    Ok((0..df.height())
        .map(|i| ThresholdRow {
            arm: arm[i].clone(),
            threshold: threshold[i].unwrap_or(f64::NAN),
            median_round: median[i],
            reached: reached[i],
            seeds: seeds[i],
        })
        .collect())
}

fn failure_rows(df: &DataFrame) -> PolarsResult<Vec<FailureRow>> {
    let (arm, status, failure) = (strs(df, "arm")?, strs(df, "status")?, strs(df, "failure")?);
    let (nodes, rate) = (u64s(df, "nodes")?, f64s(df, "rate")?);
    Ok((0..df.height())
        .map(|i| FailureRow {
            arm: arm[i].clone(),
            status: status[i].clone(),
            failure: failure[i].clone(),
            nodes: nodes[i],
            rate: rate[i].unwrap_or(0.0),
        })
        .collect())
}

fn run_rows(df: &DataFrame, thresholds: &[f64]) -> PolarsResult<Vec<RunSummary>> {
    let (run, arm) = (strs(df, "run")?, strs(df, "arm")?);
    let seed: Vec<i64> = df.column("seed")?.i64()?.iter().map(Option::unwrap_or_default).collect();
    let (rounds, nodes, valid, invalid, failed) =
        (u64s(df, "rounds")?, u64s(df, "nodes")?, u64s(df, "valid")?, u64s(df, "invalid")?, u64s(df, "failed")?);
    let (best, auc, compute, wall, cost) = (
        f64s(df, "final_best")?,
        f64s(df, "auc")?,
        f64s(df, "compute_seconds")?,
        f64s(df, "wall_seconds")?,
        f64s(df, "cost_usd")?,
    );
    let reach = thresholds.iter().map(|&t| f64s(df, &reach_column(t))).collect::<PolarsResult<Vec<_>>>()?;
    Ok((0..df.height())
        .map(|i| RunSummary {
            run: run[i].clone(),
            arm: arm[i].clone(),
            seed: seed[i],
            rounds: rounds[i],
            final_best: best[i],
            auc: auc[i],
            nodes: nodes[i],
            valid: valid[i],
            invalid: invalid[i],
            failed: failed[i],
            compute_seconds: compute[i].unwrap_or(0.0),
            wall_seconds: wall[i],
            cost_usd: cost[i].unwrap_or(0.0),
            reach: reach.iter().map(|r| r[i].map(|v| v as u64)).collect(),
        })
        .collect())
}
