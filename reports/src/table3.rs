//! The paper's Table 3 shape for the rl-algorithm suites: GRPO and the best discovered
//! algorithm, the paper's benchmark scores at 14B beside our held-out accuracy after RL, each
//! row labelled with the scale that produced it (our scale is what the evaluator reported in
//! each node's `scale` metric).

use asi_evolve_baselines::table3::{is_rl_suite, table3};

use asi_evolve_store::Status;

use crate::campaign_db::NodeRow;
use crate::runs::{Run, by_arm};
use crate::tables::Table;

/// The table, or `None` for suites that are not the RL-algorithm task.
pub fn table(suite: &str, runs: &[Run]) -> Option<Table> {
    if !is_rl_suite(suite) {
        return None;
    }
    let paper = table3();
    let mut headers: Vec<&str> = vec!["method", "produced by", "model / scale"];
    headers.extend(paper.benchmarks.iter().map(String::as_str));
    headers.extend(["held-out accuracy (ours)", "± std over RL seeds", "vs GRPO (ours)", "source"]);
    let mut t = Table::new(
        "Table 3: RL algorithm vs GRPO",
        "The paper's rows: accuracy (%) on five math benchmarks after RL of Qwen3-14B-base. Our rows: held-out \
         accuracy (0–1) on the suite's arithmetic task after RL of a small policy, at the scale named in the row; \
         the two are not on one scale. Our GRPO row is each arm's seed program (round 0); the best discovered row \
         the best node of the arm's runs that went through every stage.",
        &headers,
    );
    let dash = || "–".to_string();
    for row in &paper.row {
        let mut cells = vec![row.method.clone(), "reported".into(), format!("{}; {}", row.model, row.scale)];
        cells.extend(row.scores.iter().map(|s| format!("{s:.2}")));
        cells.extend([dash(), dash(), dash(), row.source.clone()]);
        t.push(cells);
    }
    for (arm, arm_runs) in by_arm(runs) {
        let seed = arm_runs.iter().filter_map(|r| r.nodes.iter().find(|n| n.round == 0 && valid(n))).next();
        let best = arm_runs
            .iter()
            .flat_map(|r| r.nodes.iter().filter(|n| valid(n)))
            .max_by(|a, b| a.score.unwrap_or(f64::NEG_INFINITY).total_cmp(&b.score.unwrap_or(f64::NEG_INFINITY)));
        let researcher = arm_runs[0].researcher.clone();
        let source = format!("this report: arm `{arm}`, {} run(s)", arm_runs.len());
        for (method, node) in [("GRPO (seed program)", seed), ("best discovered", best)] {
            let Some(node) = node else { continue };
            let mut cells = vec![format!("ours: {method}"), researcher.clone(), scale_label(node)];
            cells.extend(paper.benchmarks.iter().map(|_| dash()));
            let vs = match (node.score, seed.and_then(|s| s.score)) {
                (Some(a), Some(b)) if method != "GRPO (seed program)" => format!("{:+.4}", a - b),
                _ => dash(),
            };
            cells.extend([
                node.score.map_or_else(dash, |s| format!("{s:.4}")),
                metric(node, "accuracy_std").map_or_else(dash, |s| format!("{s:.4}")),
                vs,
                format!("{source}, node #{}", node.id),
            ]);
            t.rows.push(cells);
            t.emphasis.push(true);
        }
    }
    Some(t)
}

/// Valid and through the whole cascade: a node stopped at an early stage has a one-seed score,
/// not comparable with a multi-seed mean.
fn valid(n: &NodeRow) -> bool {
    let complete = match (metric(n, "stage"), metric(n, "stages")) {
        (Some(stage), Some(stages)) => stage == stages,
        _ => true,
    };
    n.status == Status::Valid && n.score.is_some() && complete
}

fn metric(n: &NodeRow, key: &str) -> Option<f64> {
    n.metrics.get(key).and_then(serde_json::Value::as_f64)
}

/// "scale cpu, 3 RL seeds, stage 3 of 3" from the node's metrics, saying so when they are missing.
fn scale_label(n: &NodeRow) -> String {
    let scale = n.metrics.get("scale").and_then(|v| v.as_str()).unwrap_or("not reported");
    let mut label = format!("small transformer on 2-digit addition; scale {scale}");
    if let Some(seeds) = metric(n, "seeds") {
        label += &format!(", {seeds} RL seeds");
    }
    if let (Some(stage), Some(stages)) = (metric(n, "stage"), metric(n, "stages")) {
        label += &format!(", stage {stage} of {stages}");
    }
    label
}

#[cfg(test)]
mod tests {
    use super::*;

    fn node(id: u64, score: f64, metrics: serde_json::Value) -> NodeRow {
        NodeRow {
            id,
            round: id,
            parents: vec![],
            name: String::new(),
            status: Status::Valid,
            failure: None,
            reason: None,
            score: Some(score),
            propose_seconds: 0.0,
            evaluate_seconds: 0.0,
            analyze_seconds: 0.0,
            committed_at: String::new(),
            metrics: metrics.as_object().unwrap().clone(),
        }
    }

    fn run(nodes: Vec<NodeRow>) -> Run {
        Run {
            dir: "runs/x".into(),
            label: "x".into(),
            arm: "full".into(),
            seed: 0,
            suite: "rl-algorithm".into(),
            researcher: "mutate (offline)".into(),
            nodes,
            usage: Default::default(),
            wall_seconds: None,
        }
    }

    #[test]
    fn only_rl_suites_get_the_table() {
        assert!(table("circle-packing", &[]).is_none());
        assert!(table("rl-algorithm", &[]).is_some());
    }

    #[test]
    fn paper_rows_beside_ours_each_with_its_scale() {
        let full = serde_json::json!({"scale": "cpu", "seeds": 3, "stage": 3, "stages": 3, "accuracy_std": 0.012});
        let runs = [run(vec![
            node(0, 0.85, full.clone()),
            node(1, 0.9, full),
            node(2, 0.95, serde_json::json!({"scale": "cpu", "stage": 2, "stages": 3})),
        ])];
        let t = table("rl-algorithm", &runs).unwrap();
        assert_eq!(t.rows.len(), 4);
        let amc = t.headers.iter().position(|h| h == "AMC32").unwrap();
        assert_eq!(t.rows[0][amc], "67.50");
        assert_eq!(t.rows[1][amc], "80.00");
        assert!(t.rows[0][2].contains("14B"), "{:?}", t.rows[0]);
        assert_eq!(t.rows[2][0], "ours: GRPO (seed program)");
        assert!(t.rows[2][2].contains("scale cpu, 3 RL seeds, stage 3 of 3"), "{:?}", t.rows[2]);
        let col = |name: &str| t.headers.iter().position(|h| h == name).unwrap();
        assert_eq!(t.rows[3][col("held-out accuracy (ours)")], "0.9000");
        assert_eq!(t.rows[3][col("± std over RL seeds")], "0.0120");
        assert_eq!(t.rows[3][col("vs GRPO (ours)")], "+0.0500");
        assert_eq!(t.emphasis, [false, false, true, true]);
    }
}
