//! The linear-attention suites' table in the shape of the paper's Table 1: the paper's rows at
//! 1.3B parameters, our baseline designs as measured at this suite's scale, and the best node
//! each arm of these runs discovered — every row labelled with the scale that produced it, since
//! benchmark accuracies at 1.3B and a proxy's loss at a few hundred thousand parameters are
//! different quantities.

use asi_evolve_baselines::linear_attention::{self, MeasuredRow};
use asi_evolve_store::Status;

use crate::campaign_db::CampaignDb;
use crate::error::ReportError;
use crate::runs::{Run, by_arm};
use crate::tables::Table;

const HEADERS: [&str; 10] = [
    "system",
    "produced by",
    "scale",
    "dev avg (10)",
    "gen avg (6)",
    "overall",
    "held-out loss (nats/byte)",
    "MQAR accuracy",
    "score",
    "source",
];

/// The best valid node of some runs, with the metrics its score is made of.
struct Best {
    run: String,
    node: u64,
    name: String,
    score: f64,
    val_loss: Option<f64>,
    mqar_accuracy: Option<f64>,
}

/// `None` for suites other than the linear-attention ones.
pub fn table(suite: &str, runs: &[Run]) -> Result<Option<Table>, ReportError> {
    let Some(scale) = linear_attention::scale_of_suite(suite) else { return Ok(None) };
    let mut t = Table {
        title: "Table 1 shape: linear attention, paper vs ours".into(),
        note: format!(
            "The paper's rows are benchmark accuracies of 1.3B-parameter models (arXiv 2603.29640, Table 1). Our \
             rows are this suite's `{scale}` scale: the baseline designs of designs/linear-attention/ as measured \
             (baselines/linear-attention.toml) and the best node each arm found in these runs. The two kinds of \
             number are not comparable; only the ranking against DeltaNet at each scale is."
        ),
        headers: HEADERS.iter().map(|h| h.to_string()).collect(),
        rows: Vec::new(),
        emphasis: Vec::new(),
    };
    let dash = || "–".to_string();
    for p in linear_attention::paper_table1() {
        t.rows.push(vec![
            p.system,
            "reported".into(),
            p.scale,
            format!("{:.2}", p.dev_avg),
            format!("{:.2}", p.gen_avg),
            format!("{:.2}", p.overall),
            dash(),
            dash(),
            dash(),
            p.source,
        ]);
        t.emphasis.push(false);
    }
    for m in linear_attention::measured(scale) {
        t.rows.push(measured_row(&m, scale));
        t.emphasis.push(false);
    }
    for (arm, of_arm) in by_arm(runs) {
        let Some(best) = best_node(&of_arm)? else { continue };
        let fmt = |v: Option<f64>| v.map_or_else(dash, |v| format!("{v:.4}"));
        t.rows.push(vec![
            format!("ours, arm {arm}: best discovered (`{}`)", best.name),
            of_arm[0].researcher.clone(),
            format!("{scale} (this suite)"),
            dash(),
            dash(),
            dash(),
            fmt(best.val_loss),
            fmt(best.mqar_accuracy),
            format!("{:.6}", best.score),
            format!("node #{} of run {} ({} runs in the arm)", best.node, best.run, of_arm.len()),
        ]);
        t.emphasis.push(true);
    }
    Ok(Some(t))
}

fn measured_row(m: &MeasuredRow, scale: &str) -> Vec<String> {
    let spread = |mean: f64, std: Option<f64>, digits: usize| match std {
        Some(s) => format!("{mean:.digits$} ± {s:.digits$}"),
        None => format!("{mean:.digits$}"),
    };
    let seeds = if m.seeds.len() == 1 { format!("seed {}", m.seeds[0]) } else { format!("{} seeds", m.seeds.len()) };
    let system = match &m.label {
        Some(label) => format!("{} ({label})", m.system),
        None => m.system.clone(),
    };
    vec![
        system,
        "ours: baseline design, measured".into(),
        format!("{scale} ({seeds})"),
        "–".into(),
        "–".into(),
        "–".into(),
        spread(m.val_loss_mean, m.val_loss_std, 4),
        format!("{:.4}", m.mqar_accuracy_mean),
        spread(m.score_mean, m.score_std, 4),
        m.source.clone(),
    ]
}

fn best_node(runs: &[&Run]) -> Result<Option<Best>, ReportError> {
    let mut best: Option<(&Run, u64, &str, f64)> = None;
    for r in runs {
        for n in &r.nodes {
            if let (Some(score), Status::Valid) = (n.score, n.status)
                && best.is_none_or(|b| score > b.3)
            {
                best = Some((r, n.id, &n.name, score));
            }
        }
    }
    let Some((run, node, name, score)) = best else { return Ok(None) };
    let metrics = CampaignDb::open(&run.dir)?.metrics_text(node)?;
    let metrics: serde_json::Value = serde_json::from_str(&metrics).map_err(|e| ReportError::BadRun {
        run: run.dir.clone(),
        message: format!("node {node}'s metrics are not JSON: {e}"),
    })?;
    Ok(Some(Best {
        run: run.label.clone(),
        node,
        name: name.to_string(),
        score,
        val_loss: metrics["val_loss"].as_f64(),
        mqar_accuracy: metrics["mqar_accuracy"].as_f64(),
    }))
}
