//! `promote`'s report: how the ranking of a campaign's best nodes at its own scale carries over
//! to another scale of the task. Rank correlations (Spearman's ρ, Kendall's τ-b) over the nodes
//! valid at both scales, each with a seeded percentile bootstrap 95% interval over those nodes;
//! which nodes still beat the seed; a table (`promotion.md`, `promotion.csv`) and a scatter plot.

use std::fmt::Write;
use std::fs::File;
use std::path::{Path, PathBuf};

use polars::prelude::{CsvWriter, SerWriter, df};

use crate::error::ReportError;
use crate::figures::{Scatter, scatter};
use crate::render_md;
use crate::stats::{Interval, RESAMPLES, SEED, bootstrap_defined};
use crate::tables::{Table, score};

/// One promoted node, as `promote` measured it.
#[derive(Debug, Clone, PartialEq)]
pub struct PromotionRow {
    pub node: u64,
    pub name: String,
    pub is_seed: bool,
    /// Its score in the campaign (the small scale).
    pub source: Option<f64>,
    /// Its score at the other scale (the mean over evaluation seeds); `None`: not valid there.
    pub target: Option<f64>,
    /// Why it was not valid at the other scale.
    pub reason: Option<String>,
}

/// How well the two scales agree on the order of the nodes valid at both.
#[derive(Debug, Clone, PartialEq)]
pub struct Agreement {
    pub pairs: usize,
    pub spearman: Option<f64>,
    pub spearman_ci: Option<Interval>,
    pub kendall: Option<f64>,
    pub kendall_ci: Option<Interval>,
}

/// Average ranks (1-based), ties sharing the mean of the ranks they span.
fn ranks(values: &[f64]) -> Vec<f64> {
    let mut order: Vec<usize> = (0..values.len()).collect();
    order.sort_by(|&a, &b| values[a].total_cmp(&values[b]));
    let mut ranks = vec![0.0; values.len()];
    let mut i = 0;
    while i < order.len() {
        let mut j = i;
        while j + 1 < order.len() && values[order[j + 1]] == values[order[i]] {
            j += 1;
        }
        let rank = (i + j) as f64 / 2.0 + 1.0;
        for &k in &order[i..=j] {
            ranks[k] = rank;
        }
        i = j + 1;
    }
    ranks
}

fn pearson(x: &[f64], y: &[f64]) -> Option<f64> {
    let n = x.len() as f64;
    let (mx, my) = (x.iter().sum::<f64>() / n, y.iter().sum::<f64>() / n);
    let cov: f64 = x.iter().zip(y).map(|(a, b)| (a - mx) * (b - my)).sum();
    let (vx, vy): (f64, f64) = (x.iter().map(|a| (a - mx).powi(2)).sum(), y.iter().map(|b| (b - my).powi(2)).sum());
    (vx > 0.0 && vy > 0.0).then(|| cov / (vx * vy).sqrt())
}

/// Spearman's ρ: Pearson's correlation of the average ranks. `None` when either side is constant.
pub fn spearman(x: &[f64], y: &[f64]) -> Option<f64> {
    if x.len() < 2 {
        return None;
    }
    pearson(&ranks(x), &ranks(y))
}

/// Kendall's τ-b: (concordant − discordant) / √((n₀ − ties in x)(n₀ − ties in y)) over all pairs.
pub fn kendall(x: &[f64], y: &[f64]) -> Option<f64> {
    let n = x.len();
    let (mut concordant, mut discordant, mut ties_x, mut ties_y, mut pairs) = (0i64, 0i64, 0i64, 0i64, 0i64);
    for i in 0..n {
        for j in i + 1..n {
            pairs += 1;
            let (dx, dy) = (x[i] - x[j], y[i] - y[j]);
            match (dx == 0.0, dy == 0.0) {
                (true, true) => {
                    ties_x += 1;
                    ties_y += 1;
                }
                (true, false) => ties_x += 1,
                (false, true) => ties_y += 1,
                _ if (dx > 0.0) == (dy > 0.0) => concordant += 1,
                _ => discordant += 1,
            }
        }
    }
    let denominator = (((pairs - ties_x) * (pairs - ties_y)) as f64).sqrt();
    (denominator > 0.0).then(|| (concordant - discordant) as f64 / denominator)
}

/// The rank correlations over the rows valid at both scales, with bootstrap intervals over them.
pub fn agreement(rows: &[PromotionRow]) -> Agreement {
    let pairs: Vec<(f64, f64)> = rows.iter().filter_map(|r| Some((r.source?, r.target?))).collect();
    let (x, y): (Vec<f64>, Vec<f64>) = pairs.iter().copied().unzip();
    let resampled = |f: fn(&[f64], &[f64]) -> Option<f64>| {
        bootstrap_defined(pairs.len(), |idx| {
            let (a, b): (Vec<f64>, Vec<f64>) = idx.iter().map(|&i| pairs[i]).unzip();
            f(&a, &b)
        })
    };
    Agreement {
        pairs: pairs.len(),
        spearman: spearman(&x, &y),
        spearman_ci: resampled(spearman),
        kendall: kendall(&x, &y),
        kendall_ci: resampled(kendall),
    }
}

fn interval(v: Option<f64>, ci: Option<Interval>) -> String {
    match (v, ci) {
        (Some(v), Some(ci)) => format!("{v:+.3} [{:+.3}, {:+.3}]", ci.low, ci.high),
        (Some(v), None) => format!("{v:+.3} (too few nodes for an interval)"),
        _ => "– (undefined: fewer than two distinct scores)".into(),
    }
}

/// Writes `promotion.md`, `promotion.csv` and `promotion.{png,svg}` into `out`; returns the
/// Markdown (also for the terminal) and the files.
pub fn write(
    rows: &[PromotionRow],
    source_suite: &str,
    target_suite: &str,
    seeds: &[u64],
    out: &Path,
) -> Result<(String, Vec<PathBuf>), ReportError> {
    let agreement = agreement(rows);
    let seed_target = rows.iter().find(|r| r.is_seed).and_then(|r| r.target);
    let beats = |r: &PromotionRow| match (r.target, seed_target) {
        _ if r.is_seed => "(the seed)".to_owned(),
        (Some(t), Some(s)) if t > s => "yes".into(),
        (Some(_), Some(_)) => "no".into(),
        (None, _) => "not valid".into(),
        (Some(_), None) => "– (the seed is not valid there)".into(),
    };
    let mut table = Table::new(
        &format!("Promotion: {source_suite} → {target_suite}"),
        &format!(
            "The seed and the best valid nodes of the campaign, re-evaluated with `{target_suite}` (evaluation \
             seeds {}; the score there is their mean). \"Beats the seed\": its score at `{target_suite}` is above \
             the seed's there.",
            seeds.iter().map(u64::to_string).collect::<Vec<_>>().join(", ")
        ),
        &["node", "name", &format!("score at {source_suite}"), &format!("score at {target_suite}"), "beats the seed"],
    );
    for r in rows {
        let target = match (&r.target, &r.reason) {
            (Some(t), _) => score(Some(*t)),
            (None, Some(why)) => format!("not valid: {}", why.lines().next().unwrap_or_default()),
            (None, None) => "–".into(),
        };
        table.push(vec![format!("#{}", r.node), r.name.clone(), score(r.source), target, beats(r)]);
    }
    let mut md = String::new();
    render_md::table(&mut md, &table);
    let _ = writeln!(md, "## Rank agreement\n");
    let _ = writeln!(
        md,
        "Over the {} nodes valid at both scales; 95% percentile bootstrap intervals over those nodes ({RESAMPLES} \
         resamples, ChaCha8 seed {SEED}; resamples whose scores all tie are left out).\n",
        agreement.pairs
    );
    let _ = writeln!(md, "| statistic | value [95% CI] |\n| --- | --- |");
    let _ = writeln!(md, "| Spearman ρ | {} |", interval(agreement.spearman, agreement.spearman_ci));
    let _ = writeln!(md, "| Kendall τ-b | {} |\n", interval(agreement.kendall, agreement.kendall_ci));
    let still = rows.iter().filter(|r| !r.is_seed && beats(r) == "yes").count();
    let _ = writeln!(
        md,
        "{still} of {} promoted nodes still beat the seed at `{target_suite}`.\n\n![Score at {source_suite} \
         against score at {target_suite}](promotion.png)\n",
        rows.iter().filter(|r| !r.is_seed).count()
    );

    std::fs::create_dir_all(out).map_err(|source| ReportError::Io { path: out.to_owned(), source })?;
    let md_path = out.join("promotion.md");
    std::fs::write(&md_path, &md).map_err(|source| ReportError::Io { path: md_path.clone(), source })?;
    let polars = |source| ReportError::Polars { what: "writing the promotion table", source };
    let mut frame = df!(
        "node" => rows.iter().map(|r| r.node).collect::<Vec<_>>(),
        "name" => rows.iter().map(|r| r.name.clone()).collect::<Vec<_>>(),
        "is_seed" => rows.iter().map(|r| r.is_seed).collect::<Vec<_>>(),
        "source_score" => rows.iter().map(|r| r.source).collect::<Vec<_>>(),
        "target_score" => rows.iter().map(|r| r.target).collect::<Vec<_>>(),
    )
    .map_err(polars)?;
    let csv = out.join("promotion.csv");
    let file = File::create(&csv).map_err(|source| ReportError::Io { path: csv.clone(), source })?;
    CsvWriter::new(file).finish(&mut frame).map_err(polars)?;
    let points: Vec<(f64, f64, bool)> = rows.iter().filter_map(|r| Some((r.source?, r.target?, r.is_seed))).collect();
    let title = format!("{source_suite} → {target_suite}");
    let (x_desc, y_desc) = (format!("score at {source_suite}"), format!("score at {target_suite}"));
    let plot = Scatter { title: &title, x_desc: &x_desc, y_desc: &y_desc, points: &points };
    let mut files = vec![md_path, csv];
    files.extend(scatter(out, "promotion", &plot)?);
    Ok((md, files))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rank_correlations_by_hand() {
        // Same order: both 1. Reversed: both -1.
        let x = [1.0, 2.0, 3.0, 4.0];
        assert_eq!(spearman(&x, &[10.0, 20.0, 30.0, 40.0]), Some(1.0));
        assert_eq!(kendall(&x, &[10.0, 20.0, 30.0, 40.0]), Some(1.0));
        assert_eq!(spearman(&x, &[4.0, 3.0, 2.0, 1.0]), Some(-1.0));
        assert_eq!(kendall(&x, &[4.0, 3.0, 2.0, 1.0]), Some(-1.0));
        // One swap among four: ranks of y are 1, 3, 2, 4; d² = 0+1+1+0 = 2, ρ = 1 − 6·2/(4·15) = 0.8;
        // pairs: 5 concordant, 1 discordant, τ = 4/6.
        let y = [1.0, 3.0, 2.0, 4.0];
        assert!((spearman(&x, &y).unwrap() - 0.8).abs() < 1e-12);
        assert!((kendall(&x, &y).unwrap() - 4.0 / 6.0).abs() < 1e-12);
        // Ties: y = 1, 1, 2 against x = 1, 2, 3: ranks 1.5, 1.5, 3; τ-b = (2 − 0)/√(3·2).
        assert_eq!(ranks(&[1.0, 1.0, 2.0]), vec![1.5, 1.5, 3.0]);
        assert!((kendall(&[1.0, 2.0, 3.0], &[1.0, 1.0, 2.0]).unwrap() - 2.0 / 6f64.sqrt()).abs() < 1e-12);
        // A constant side has no correlation.
        assert_eq!(spearman(&x, &[1.0; 4]), None);
        assert_eq!(kendall(&x, &[1.0; 4]), None);
    }

    fn row(node: u64, source: f64, target: Option<f64>) -> PromotionRow {
        PromotionRow { node, name: format!("n{node}"), is_seed: node == 0, source: Some(source), target, reason: None }
    }

    #[test]
    fn agreement_uses_the_nodes_valid_at_both_and_is_the_same_on_rerun() {
        let rows = [row(0, 1.0, Some(1.0)), row(3, 2.0, Some(2.5)), row(5, 3.0, None), row(7, 4.0, Some(2.0))];
        let a = agreement(&rows);
        assert_eq!(a.pairs, 3);
        assert!((a.spearman.unwrap() - 0.5).abs() < 1e-12, "{a:?}");
        assert_eq!(a, agreement(&rows));
        let ci = a.spearman_ci.unwrap();
        assert!(ci.low <= a.spearman.unwrap() && a.spearman.unwrap() <= ci.high, "{a:?}");
    }

    #[test]
    fn the_report_names_who_still_beats_the_seed() {
        let dir = tempfile::tempdir().unwrap();
        let mut rows = vec![row(0, 1.0, Some(1.0)), row(3, 2.0, Some(2.5)), row(7, 4.0, Some(0.5))];
        rows.push(PromotionRow { reason: Some("timeout\nmore".into()), ..row(9, 3.0, None) });
        let (md, files) = write(&rows, "small", "large", &[0], dir.path()).unwrap();
        assert!(md.contains("| #3 | n3 | 2.000000 | 2.500000 | yes |"), "{md}");
        assert!(md.contains("| #7 | n7 | 4.000000 | 0.500000 | no |"), "{md}");
        assert!(md.contains("not valid: timeout | not valid |"), "{md}");
        assert!(md.contains("1 of 3 promoted nodes still beat the seed"), "{md}");
        for f in ["promotion.md", "promotion.csv", "promotion.png", "promotion.svg"] {
            assert!(files.contains(&dir.path().join(f)), "{f}");
        }
        let csv = std::fs::read_to_string(dir.path().join("promotion.csv")).unwrap();
        assert!(csv.starts_with("node,name,is_seed,source_score,target_score\n0,n0,true,1.0,1.0\n"), "{csv}");
    }
}
