//! Interval estimates in the manner of rliable (Agarwal et al., 2021, "Deep RL at the edge of
//! the statistical precipice"): with the handful of seeds an ablation affords, a mean ± std says
//! little, so every arm gets a robust point estimate (the interquartile mean) with a bootstrap
//! confidence interval, and every arm is compared with a reference arm seed by seed.
//!
//! Two scores per run: the final best, and the area under its best-so-far curve (AUC, see
//! [`RunSummary::auc`]: the mean of best-so-far over rounds 0..=R), which rewards getting there
//! early as well as getting there.
//!
//! Everything here is plain arithmetic on small vectors. The bootstrap draws from a ChaCha8
//! generator seeded with [`SEED`], fresh for every interval, so a report is bit-identical on
//! rerun and one arm's interval does not depend on which other arms the report holds.

use polars::prelude::*;
use rand_chacha::ChaCha8Rng;
use rand_chacha::rand_core::{RngCore, SeedableRng};

use crate::aggregate::RunSummary;

/// Bootstrap resamples per interval.
pub const RESAMPLES: usize = 2000;
/// Seed of every interval's generator.
pub const SEED: u64 = 2021;
/// Coverage of every interval: the 2.5th to the 97.5th percentile of the bootstrap distribution.
pub const CONFIDENCE: f64 = 0.95;
/// z for a two-sided 95% interval, and z for 80% power: the seeds-needed estimate is the sample
/// size at which a normal-approximation interval of the observed mean difference and spread
/// excludes 0 four times in five.
const Z_95: f64 = 1.959_963_984_540_054;
const Z_POWER_80: f64 = 0.841_621_233_572_914_3;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Metric {
    FinalBest,
    Auc,
}

impl Metric {
    pub const ALL: [Metric; 2] = [Metric::FinalBest, Metric::Auc];

    /// The name in CSV columns.
    pub fn key(self) -> &'static str {
        match self {
            Metric::FinalBest => "final_best",
            Metric::Auc => "auc",
        }
    }

    /// The name in tables and figures.
    pub fn label(self) -> &'static str {
        match self {
            Metric::FinalBest => "final best",
            Metric::Auc => "AUC",
        }
    }

    fn of(self, run: &RunSummary) -> Option<f64> {
        match self {
            Metric::FinalBest => run.final_best,
            Metric::Auc => run.auc,
        }
    }
}

/// A percentile bootstrap interval.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Interval {
    pub low: f64,
    pub high: f64,
}

impl Interval {
    pub fn contains(&self, x: f64) -> bool {
        self.low <= x && x <= self.high
    }
}

/// One arm's estimate of one metric over its seeds.
#[derive(Debug, Clone, PartialEq)]
pub struct ArmEstimate {
    pub arm: String,
    pub metric: Metric,
    /// Seeds with a value of the metric.
    pub seeds: usize,
    pub iqm: Option<f64>,
    /// `None` below two seeds: one value has no spread to resample.
    pub ci: Option<Interval>,
    pub mean: Option<f64>,
}

/// What a paired comparison lets one say.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Decision {
    /// The difference's interval lies above 0.
    Higher,
    /// The difference's interval lies below 0.
    Lower,
    /// The interval contains 0 (or there is none). `seeds_needed` is the estimate of
    /// [`seeds_needed`]; `None` when it cannot be extrapolated (under two pairs, or a mean
    /// difference of exactly 0).
    Undecided { seeds_needed: Option<u64> },
    /// No seed has a value in both arms.
    NoPairs,
}

/// An arm against the reference arm, over the seeds both have.
#[derive(Debug, Clone, PartialEq)]
pub struct Comparison {
    pub arm: String,
    pub reference: String,
    pub metric: Metric,
    pub pairs: usize,
    /// Mean over seed pairs of arm − reference.
    pub mean_difference: Option<f64>,
    pub difference_ci: Option<Interval>,
    /// Sample standard deviation (n − 1) of the differences.
    pub difference_sd: Option<f64>,
    /// Share of seed pairs where the arm scored higher, ties counting one half.
    pub p_improvement: Option<f64>,
    pub p_improvement_ci: Option<Interval>,
    pub decision: Decision,
}

/// The statistics a report shows.
#[derive(Debug, Clone, PartialEq)]
pub struct Statistics {
    pub reference: String,
    pub estimates: Vec<ArmEstimate>,
    pub comparisons: Vec<Comparison>,
}

/// The interquartile mean: the mean of the middle half of the sorted values, with the values
/// that straddle the 25th and 75th percentiles weighted by how much of them lies inside. Each of
/// n values owns an equal share [i/n, (i+1)/n] of the distribution; its weight is the overlap of
/// that share with [1/4, 3/4]. Scaled by 4n the shares are [4i, 4i+4] and the middle is [n, 3n],
/// so the weights are whole numbers summing to 2n. For n a multiple of 4 this drops exactly n/4
/// values at each end and equals rliable's `scipy.stats.trim_mean(x, 0.25)`; for other n it does
/// not jump with n as whole-value trimming does (which for n = 3 trims nothing).
pub fn iqm(values: &[f64]) -> Option<f64> {
    if values.is_empty() {
        return None;
    }
    let mut sorted = values.to_vec();
    sorted.sort_by(f64::total_cmp);
    let n = sorted.len() as i64;
    let weighted: f64 = sorted
        .iter()
        .enumerate()
        .map(|(i, v)| {
            let i = i as i64;
            let weight = ((4 * i + 4).min(3 * n) - (4 * i).max(n)).max(0);
            weight as f64 * v
        })
        .sum();
    Some(weighted / (2 * n) as f64)
}

fn mean(values: &[f64]) -> Option<f64> {
    (!values.is_empty()).then(|| values.iter().sum::<f64>() / values.len() as f64)
}

/// Sample standard deviation (n − 1); `None` below two values.
fn sample_sd(values: &[f64]) -> Option<f64> {
    let m = mean(values)?;
    (values.len() >= 2).then(|| {
        let squares: f64 = values.iter().map(|v| (v - m).powi(2)).sum();
        (squares / (values.len() - 1) as f64).sqrt()
    })
}

/// The percentile bootstrap interval of `statistic` over n items: [`RESAMPLES`] times, draw n
/// indices with replacement and evaluate the statistic on them; the interval runs from the 2.5th
/// to the 97.5th percentile of those values. The indices depend only on n and [`SEED`], never on
/// the data, so shifting the data shifts the interval with it. `None` for n < 2.
pub fn bootstrap(n: usize, mut statistic: impl FnMut(&[usize]) -> f64) -> Option<Interval> {
    bootstrap_defined(n, |idx| Some(statistic(idx)))
}

/// [`bootstrap`] of a statistic that some resamples leave undefined (a rank correlation of
/// resampled pairs that all tie): those resamples are left out of the percentiles. `None` for
/// n < 2, or when fewer than half the resamples define it.
pub fn bootstrap_defined(n: usize, mut statistic: impl FnMut(&[usize]) -> Option<f64>) -> Option<Interval> {
    if n < 2 {
        return None;
    }
    let mut rng = ChaCha8Rng::seed_from_u64(SEED);
    let mut indices = vec![0; n];
    let mut values = Vec::with_capacity(RESAMPLES);
    for _ in 0..RESAMPLES {
        for index in indices.iter_mut() {
            *index = below(&mut rng, n);
        }
        values.extend(statistic(&indices).filter(|v| v.is_finite()));
    }
    if values.len() * 2 < RESAMPLES {
        return None;
    }
    values.sort_by(f64::total_cmp);
    let tail = (1.0 - CONFIDENCE) / 2.0;
    Some(Interval { low: quantile(&values, tail), high: quantile(&values, 1.0 - tail) })
}

/// A uniform index below n by Lemire's multiply-shift, written out rather than taken from `rand`
/// so the stream (and so every report) cannot change with a `rand` release. Its bias, at most
/// n / 2^64, is far below anything a report prints.
fn below(rng: &mut ChaCha8Rng, n: usize) -> usize {
    ((u128::from(rng.next_u64()) * n as u128) >> 64) as usize
}

/// The q-quantile of sorted values, interpolating linearly between order statistics (numpy's
/// default, "type 7").
fn quantile(sorted: &[f64], q: f64) -> f64 {
    let h = q * (sorted.len() - 1) as f64;
    let (i, frac) = (h.floor() as usize, h - h.floor());
    match sorted.get(i + 1) {
        Some(next) => sorted[i] + frac * (next - sorted[i]),
        None => sorted[i],
    }
}

/// IQM and its bootstrap interval, resampling the arm's seeds. rliable's stratified bootstrap
/// resamples runs within each task independently; a report covers one suite, so there is one
/// stratum and this is that bootstrap.
pub fn estimate(values: &[f64]) -> (Option<f64>, Option<Interval>) {
    let ci = bootstrap(values.len(), |idx| {
        let sample: Vec<f64> = idx.iter().map(|&i| values[i]).collect();
        iqm(&sample).unwrap_or(f64::NAN)
    });
    (iqm(values), ci)
}

/// 1 when x beats y, ½ on a tie, 0 otherwise.
fn win(x: f64, y: f64) -> f64 {
    match x.total_cmp(&y) {
        std::cmp::Ordering::Greater => 1.0,
        std::cmp::Ordering::Equal => 0.5,
        std::cmp::Ordering::Less => 0.0,
    }
}

/// Seeds for an 80% chance that the 95% interval of the mean difference excludes 0, if the true
/// difference and spread are as observed: n = ⌈((z₀.₉₇₅ + z₀.₈₀) · sd / |Δ|)²⌉ = ⌈(2.80 · sd /
/// |Δ|)²⌉, the normal-approximation sample size of a paired test. `None` when Δ = 0, for which
/// no number of seeds suffices.
pub fn seeds_needed(sd: f64, mean_difference: f64) -> Option<u64> {
    if mean_difference == 0.0 || !sd.is_finite() || !mean_difference.is_finite() {
        return None;
    }
    let n = ((Z_95 + Z_POWER_80) * sd / mean_difference.abs()).powi(2).ceil();
    // A spread needs two pairs, whatever the formula says.
    Some(n.max(2.0) as u64)
}

/// Compares `arm` with `reference` over the seeds both have a value for (same seed, same start
/// program and random stream, so a pair differs only by the arm). Each side is (seed, value); a
/// seed listed twice in one side uses its first value.
pub fn paired(arm: &[(i64, f64)], reference: &[(i64, f64)]) -> PairedNumbers {
    let mut pairs: Vec<(f64, f64)> = Vec::new();
    let mut seen: Vec<i64> = Vec::new();
    for &(seed, x) in arm {
        if seen.contains(&seed) {
            continue;
        }
        seen.push(seed);
        if let Some(&(_, y)) = reference.iter().find(|(s, _)| *s == seed) {
            pairs.push((x, y));
        }
    }
    let differences: Vec<f64> = pairs.iter().map(|(x, y)| x - y).collect();
    let wins: Vec<f64> = pairs.iter().map(|&(x, y)| win(x, y)).collect();
    let resampled_mean = |values: &[f64], idx: &[usize]| idx.iter().map(|&i| values[i]).sum::<f64>() / idx.len() as f64;
    PairedNumbers {
        pairs: pairs.len(),
        mean_difference: mean(&differences),
        difference_ci: bootstrap(pairs.len(), |idx| resampled_mean(&differences, idx)),
        difference_sd: sample_sd(&differences),
        p_improvement: mean(&wins),
        // The same generator seed draws the same pair indices for both, so the two intervals
        // come from one set of resampled pairs.
        p_improvement_ci: bootstrap(pairs.len(), |idx| resampled_mean(&wins, idx)),
    }
}

/// The numbers of one paired comparison, before it is named and judged.
#[derive(Debug, Clone, PartialEq)]
pub struct PairedNumbers {
    pub pairs: usize,
    pub mean_difference: Option<f64>,
    pub difference_ci: Option<Interval>,
    pub difference_sd: Option<f64>,
    pub p_improvement: Option<f64>,
    pub p_improvement_ci: Option<Interval>,
}

impl PairedNumbers {
    pub fn decision(&self) -> Decision {
        if self.pairs == 0 {
            return Decision::NoPairs;
        }
        match self.difference_ci {
            Some(ci) if ci.low > 0.0 => Decision::Higher,
            Some(ci) if ci.high < 0.0 => Decision::Lower,
            _ => Decision::Undecided {
                seeds_needed: match (self.difference_sd, self.mean_difference) {
                    (Some(sd), Some(d)) => seeds_needed(sd, d),
                    _ => None,
                },
            },
        }
    }
}

/// Estimates for every arm (in `arms` order) and comparisons of every other arm with `reference`.
pub fn statistics(runs: &[RunSummary], arms: &[String], reference: &str) -> Statistics {
    let values = |arm: &str, metric: Metric| -> Vec<(i64, f64)> {
        runs.iter().filter(|r| r.arm == arm).filter_map(|r| Some((r.seed, metric.of(r)?))).collect()
    };
    let mut estimates = Vec::new();
    for arm in arms {
        for metric in Metric::ALL {
            let v: Vec<f64> = values(arm, metric).into_iter().map(|(_, v)| v).collect();
            let (iqm, ci) = estimate(&v);
            estimates.push(ArmEstimate { arm: arm.clone(), metric, seeds: v.len(), iqm, ci, mean: mean(&v) });
        }
    }
    let mut comparisons = Vec::new();
    for arm in arms.iter().filter(|a| *a != reference) {
        for metric in Metric::ALL {
            let numbers = paired(&values(arm, metric), &values(reference, metric));
            comparisons.push(Comparison {
                arm: arm.clone(),
                reference: reference.to_string(),
                metric,
                pairs: numbers.pairs,
                mean_difference: numbers.mean_difference,
                difference_ci: numbers.difference_ci,
                difference_sd: numbers.difference_sd,
                p_improvement: numbers.p_improvement,
                p_improvement_ci: numbers.p_improvement_ci,
                decision: numbers.decision(),
            });
        }
    }
    Statistics { reference: reference.to_string(), estimates, comparisons }
}

/// The reference arm: the one asked for, else `full` when present, else the first.
pub fn reference_arm<'a>(arms: &'a [String], asked: Option<&str>) -> Result<&'a str, String> {
    match asked {
        Some(name) => arms.iter().find(|a| *a == name).map(String::as_str).ok_or_else(|| arms.join(", ")),
        None => Ok(arms.iter().find(|a| *a == "full").or(arms.first()).map_or("", String::as_str)),
    }
}

/// The statistics as the tables written to disk: `intervals` (arm × metric) and `comparisons`
/// (arm × metric against the reference).
pub fn frames(stats: &Statistics) -> PolarsResult<(DataFrame, DataFrame)> {
    let e = &stats.estimates;
    let intervals = df!(
        "arm" => e.iter().map(|x| x.arm.clone()).collect::<Vec<_>>(),
        "metric" => e.iter().map(|x| x.metric.key()).collect::<Vec<_>>(),
        "seeds" => e.iter().map(|x| x.seeds as i64).collect::<Vec<_>>(),
        "iqm" => e.iter().map(|x| x.iqm).collect::<Vec<_>>(),
        "ci_low" => e.iter().map(|x| x.ci.map(|c| c.low)).collect::<Vec<_>>(),
        "ci_high" => e.iter().map(|x| x.ci.map(|c| c.high)).collect::<Vec<_>>(),
        "mean" => e.iter().map(|x| x.mean).collect::<Vec<_>>(),
    )?;
    let c = &stats.comparisons;
    let decision = |d: &Decision| match d {
        Decision::Higher => "higher",
        Decision::Lower => "lower",
        Decision::Undecided { .. } => "undecided",
        Decision::NoPairs => "no_pairs",
    };
    let comparisons = df!(
        "arm" => c.iter().map(|x| x.arm.clone()).collect::<Vec<_>>(),
        "reference" => c.iter().map(|x| x.reference.clone()).collect::<Vec<_>>(),
        "metric" => c.iter().map(|x| x.metric.key()).collect::<Vec<_>>(),
        "pairs" => c.iter().map(|x| x.pairs as i64).collect::<Vec<_>>(),
        "mean_difference" => c.iter().map(|x| x.mean_difference).collect::<Vec<_>>(),
        "difference_low" => c.iter().map(|x| x.difference_ci.map(|i| i.low)).collect::<Vec<_>>(),
        "difference_high" => c.iter().map(|x| x.difference_ci.map(|i| i.high)).collect::<Vec<_>>(),
        "difference_sd" => c.iter().map(|x| x.difference_sd).collect::<Vec<_>>(),
        "p_improvement" => c.iter().map(|x| x.p_improvement).collect::<Vec<_>>(),
        "p_improvement_low" => c.iter().map(|x| x.p_improvement_ci.map(|i| i.low)).collect::<Vec<_>>(),
        "p_improvement_high" => c.iter().map(|x| x.p_improvement_ci.map(|i| i.high)).collect::<Vec<_>>(),
        "decision" => c.iter().map(|x| decision(&x.decision)).collect::<Vec<_>>(),
        "seeds_needed" => c
            .iter()
            .map(|x| match x.decision {
                Decision::Undecided { seeds_needed } => seeds_needed.map(|n| n as i64),
                _ => None,
            })
            .collect::<Vec<_>>(),
    )?;
    Ok((intervals, comparisons))
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::*;

    fn close(a: f64, b: f64) -> bool {
        (a - b).abs() <= 1e-9 * (1.0 + a.abs().max(b.abs()))
    }

    #[test]
    fn iqm_weights_the_middle_half_by_hand() {
        // n = 4: shares [0,4] [4,8] [8,12] [12,16] against the middle [4,12]: weights 0 4 4 0 of
        // 8, the mean of the two middle values.
        assert_eq!(iqm(&[10.0, 1.0, 3.0, 2.0]), Some(2.5));
        // n = 3: [0,4] [4,8] [8,12] against [3,9]: weights 1 4 1 of 6, so (1 + 4·2 + 9) / 6 = 3.
        assert_eq!(iqm(&[9.0, 1.0, 2.0]), Some(3.0));
        // n = 5: against [5,15]: weights 0 3 4 3 0 of 10, so (3·2 + 4·3 + 3·4) / 10 = 3 (here
        // equal to whole-value trimming of one value each end: mean(2, 3, 4)).
        assert_eq!(iqm(&[4.0, 1.0, 3.0, 10.0, 2.0]), Some(3.0));
        // n = 6: against [6,18]: weights 0 2 4 4 2 0 of 12: (2·1 + 4·2 + 4·3 + 2·40) / 12 = 8.5.
        assert_eq!(iqm(&[0.0, 1.0, 2.0, 3.0, 40.0, 100.0]), Some(8.5));
        // One or two values: all of them, the middle half lying inside.
        assert_eq!(iqm(&[7.0]), Some(7.0));
        assert_eq!(iqm(&[1.0, 2.0]), Some(1.5));
        assert_eq!(iqm(&[]), None);
    }

    #[test]
    fn paired_difference_and_probability_of_improvement_by_hand() {
        // Reference seeds 0..3 score 1, 2, 3, 4; the arm has seeds 1, 2, 3 and 5. Seeds 0 and 5
        // are in one arm only and drop out: pairs (arm, ref) are (2.5, 2), (3, 3), (4.5, 4).
        //   differences 0.5, 0, 0.5: mean 1/3; sd² = ((1/6)² + (1/3)² + (1/6)²) / 2 = 1/12.
        //   P(arm > ref) = (1 + ½ + 1) / 3 = 5/6 (the tie at seed 2 counts one half).
        // Bootstrap: a resample's mean difference is 0 only when all three draws are seed 2
        // (1/27 ≈ 3.7% > 2.5%), so the lower bound is 0; it is 0.5 whenever seed 2 is not drawn
        // (8/27 ≈ 30%), so the upper bound is 0.5. Likewise P's interval is [½, 1].
        let reference = [(0, 1.0), (1, 2.0), (2, 3.0), (3, 4.0)];
        let arm = [(1, 2.5), (2, 3.0), (3, 4.5), (5, 9.0)];
        let p = paired(&arm, &reference);
        assert_eq!(p.pairs, 3);
        assert!(close(p.mean_difference.unwrap(), 1.0 / 3.0));
        assert!(close(p.difference_sd.unwrap(), (1.0f64 / 12.0).sqrt()));
        assert!(close(p.p_improvement.unwrap(), 5.0 / 6.0));
        assert_eq!(p.difference_ci, Some(Interval { low: 0.0, high: 0.5 }));
        assert_eq!(p.p_improvement_ci, Some(Interval { low: 0.5, high: 1.0 }));
        // The interval contains 0: undecided. ⌈(2.8016 · 0.288675 / 0.333333)²⌉ = ⌈5.887⌉ = 6.
        assert_eq!(p.decision(), Decision::Undecided { seeds_needed: Some(6) });
    }

    #[test]
    fn decisions_follow_the_interval() {
        let reference = [(0, 1.0), (1, 2.0), (2, 3.0)];
        let better = [(0, 2.0), (1, 3.5), (2, 3.5)];
        assert_eq!(paired(&better, &reference).decision(), Decision::Higher);
        let worse = [(0, 0.0), (1, 1.0), (2, 1.0)];
        assert_eq!(paired(&worse, &reference).decision(), Decision::Lower);
        // Identical on every seed: nothing separates them, however many seeds.
        let same = paired(&reference, &reference);
        assert_eq!(same.difference_ci, Some(Interval { low: 0.0, high: 0.0 }));
        assert_eq!(same.p_improvement, Some(0.5));
        assert_eq!(same.decision(), Decision::Undecided { seeds_needed: None });
        assert_eq!(paired(&[(9, 1.0)], &reference).decision(), Decision::NoPairs);
        // One pair has no spread to extrapolate from.
        assert_eq!(paired(&[(0, 5.0)], &reference).decision(), Decision::Undecided { seeds_needed: None });
    }

    #[test]
    fn reference_is_full_else_first_else_as_asked() {
        let arms: Vec<String> = ["no-analyzer", "full", "ucb1"].map(String::from).into();
        assert_eq!(reference_arm(&arms, None), Ok("full"));
        assert_eq!(reference_arm(&arms[2..], None), Ok("ucb1"));
        assert_eq!(reference_arm(&arms, Some("ucb1")), Ok("ucb1"));
        assert_eq!(reference_arm(&arms, Some("nope")), Err("no-analyzer, full, ucb1".to_string()));
    }

    fn run(arm: &str, seed: i64, final_best: f64, auc: f64) -> RunSummary {
        RunSummary {
            run: format!("{arm}-{seed}"),
            arm: arm.into(),
            seed,
            rounds: 5,
            final_best: Some(final_best),
            auc: Some(auc),
            nodes: 6,
            valid: 6,
            invalid: 0,
            failed: 0,
            compute_seconds: 0.0,
            wall_seconds: None,
            cost_usd: 0.0,
            reach: Vec::new(),
        }
    }

    fn sample_runs() -> (Vec<RunSummary>, Vec<String>) {
        let runs = vec![
            run("full", 0, 2.0, 1.5),
            run("full", 1, 2.2, 1.7),
            run("full", 2, 2.1, 1.6),
            run("ucb1", 0, 2.3, 1.4),
            run("ucb1", 1, 2.0, 1.9),
            run("ucb1", 2, 2.6, 1.8),
        ];
        (runs, vec!["full".into(), "ucb1".into()])
    }

    #[test]
    fn statistics_are_identical_on_rerun() {
        let (runs, arms) = sample_runs();
        let a = statistics(&runs, &arms, "full");
        let b = statistics(&runs, &arms, "full");
        assert_eq!(a, b);
        // Bit for bit, not merely equal as floats (NaN aside, PartialEq is that already; this
        // also covers the -0.0 / 0.0 distinction).
        let bits = |s: &Statistics| -> Vec<u64> {
            s.estimates
                .iter()
                .flat_map(|e| [e.iqm, e.ci.map(|c| c.low), e.ci.map(|c| c.high)])
                .flatten()
                .map(f64::to_bits)
                .collect()
        };
        assert_eq!(bits(&a), bits(&b));
        assert_eq!(a.estimates.len(), 4);
        assert_eq!(a.comparisons.len(), 2);
        // An arm's interval does not depend on the other arms present.
        let alone = statistics(&runs[..3], &arms[..1], "full");
        assert_eq!(alone.estimates[..], a.estimates[..2]);
    }

    proptest! {
        // Each case runs six bootstraps of 2000 resamples; 64 cases keep the debug build quick.
        #![proptest_config(ProptestConfig::with_cases(64))]

        #[test]
        fn a_constant_shift_moves_iqm_interval_and_paired_difference_by_that_constant(
            scores in prop::collection::vec((-100.0f64..100.0, -100.0f64..100.0), 2..9),
            c in -50.0f64..50.0,
        ) {
            let xs: Vec<f64> = scores.iter().map(|s| s.0).collect();
            let shifted: Vec<f64> = xs.iter().map(|x| x + c).collect();
            let tol = 1e-9;
            let (iqm0, ci0) = estimate(&xs);
            let (iqm1, ci1) = estimate(&shifted);
            let (ci0, ci1) = (ci0.unwrap(), ci1.unwrap());
            prop_assert!((iqm1.unwrap() - iqm0.unwrap() - c).abs() < tol);
            prop_assert!((ci1.low - ci0.low - c).abs() < tol);
            prop_assert!((ci1.high - ci0.high - c).abs() < tol);

            let arm: Vec<(i64, f64)> = xs.iter().enumerate().map(|(i, &x)| (i as i64, x)).collect();
            let arm_shifted: Vec<(i64, f64)> = shifted.iter().enumerate().map(|(i, &x)| (i as i64, x)).collect();
            let reference: Vec<(i64, f64)> = scores.iter().enumerate().map(|(i, s)| (i as i64, s.1)).collect();
            let p0 = paired(&arm, &reference);
            let p1 = paired(&arm_shifted, &reference);
            prop_assert!((p1.mean_difference.unwrap() - p0.mean_difference.unwrap() - c).abs() < tol);
            let (d0, d1) = (p0.difference_ci.unwrap(), p1.difference_ci.unwrap());
            prop_assert!((d1.low - d0.low - c).abs() < tol);
            prop_assert!((d1.high - d0.high - c).abs() < tol);
            // The spread of the differences does not move.
            prop_assert!((p1.difference_sd.unwrap() - p0.difference_sd.unwrap()).abs() < tol);
        }

        #[test]
        fn intervals_hold_their_point_and_lie_within_the_data(
            xs in prop::collection::vec(-100.0f64..100.0, 2..12),
        ) {
            let (iqm, ci) = estimate(&xs);
            let ci = ci.unwrap();
            // A weighted mean of equal values may round a hair outside them.
            let lo = xs.iter().copied().fold(f64::INFINITY, f64::min) - 1e-9;
            let hi = xs.iter().copied().fold(f64::NEG_INFINITY, f64::max) + 1e-9;
            prop_assert!(lo <= ci.low && ci.low <= ci.high && ci.high <= hi, "{ci:?}");
            let iqm = iqm.unwrap();
            prop_assert!(lo <= iqm && iqm <= hi, "{iqm}");
        }
    }
}
