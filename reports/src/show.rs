//! `asi-evolve show`: the best node with its lineage, the reference numbers, and a per-round
//! table.

use std::fmt::Write;
use std::path::Path;

use asi_evolve_store::layout::node_dir;
use asi_evolve_store::{Status, meta};

use crate::campaign_db::{CampaignDb, NodeRow};
use crate::error::ReportError;

pub fn show(run_dir: &Path) -> Result<String, ReportError> {
    let db = CampaignDb::open(run_dir)?;
    let nodes = db.nodes()?;
    let suite = db.meta(meta::SUITE)?.unwrap_or_default();
    let mut out = String::new();
    let line =
        |out: &mut String, label: &str, value: &str| writeln!(out, "{label:<11}{value}").expect("writing to a String");

    line(&mut out, "campaign", &run_dir.display().to_string());
    let hash = db.meta(meta::SUITE_HASH)?.unwrap_or_default();
    line(&mut out, "suite", &format!("{suite} (content {})", hash.get(..12).unwrap_or(&hash)));
    line(
        &mut out,
        "seed",
        &format!(
            "{}   sampler {}   analyzer {}",
            db.meta(meta::SEED)?.unwrap_or_default(),
            db.meta(meta::SAMPLER)?.unwrap_or_default(),
            db.meta(meta::ANALYZER)?.unwrap_or_default()
        ),
    );
    line(&mut out, "researcher", &db.meta(meta::RESEARCHER)?.unwrap_or_default());
    let count = |status: Status| nodes.iter().filter(|n| n.status == status).count();
    line(
        &mut out,
        "nodes",
        &format!(
            "{} (seed + {} rounds): {} valid, {} invalid, {} failed",
            nodes.len(),
            nodes.len().saturating_sub(1),
            count(Status::Valid),
            count(Status::Invalid),
            count(Status::Failed)
        ),
    );

    let metrics = db.metrics()?;
    let primary = db.meta(meta::PRIMARY_METRIC)?;
    // The value compared with the references: the primary metric if the run names one.
    let measure = |n: &NodeRow| match &primary {
        Some(name) => metric(&metrics, n.id, name),
        None => n.score,
    };
    let best = nodes.iter().filter(|n| n.status == Status::Valid).filter_map(|n| n.score.map(|s| (n, s))).fold(
        None::<(&NodeRow, f64)>,
        |acc, (n, s)| match acc {
            Some((_, b)) if b >= s => acc,
            _ => Some((n, s)),
        },
    );
    out.push('\n');
    match best {
        Some((node, score)) => {
            let beside = match &primary {
                Some(name) => {
                    format!("  {name} {}", metric(&metrics, node.id, name).map_or("-".into(), |v| compact(v, 10)))
                }
                None => String::new(),
            };
            line(&mut out, "best", &format!("#{}  score {}{beside}  `{}`", node.id, compact(score, 10), node.name));
            if let Some(own) = metrics.get(&node.id).filter(|m| !m.is_empty()) {
                let shown: Vec<String> = own.iter().map(|(k, v)| format!("{k} {}", shortest(*v))).collect();
                line(&mut out, "metrics", &shown.join("  "));
            }
            let file = db.meta(meta::CANDIDATE_FILE)?.unwrap_or_else(|| "candidate.py".into());
            let folder = node_dir(run_dir, node.id);
            line(&mut out, "code", &candidate_path(&folder, &file).display().to_string());
            line(&mut out, "lineage", &lineage(&nodes, node.id));
            let value = measure(node).unwrap_or(score);
            let baselines = db.meta(meta::BASELINES)?.unwrap_or_else(|| suite.clone());
            for b in asi_evolve_baselines::for_suite(&baselines) {
                let by = match (&b.model, b.rounds) {
                    (Some(m), Some(r)) => format!(" ({m}, {r} rounds)"),
                    (Some(m), None) => format!(" ({m})"),
                    _ => String::new(),
                };
                line(
                    &mut out,
                    "reference",
                    &format!("{:<18} {:.10}  ours {}{by}", b.system, b.value, signed(value - b.value, 6)),
                );
            }
        }
        None => line(&mut out, "best", "no valid node yet"),
    }

    // A cascade's stage reached, and the primary metric, get columns when the run has them.
    let staged = metrics.values().any(|m| m.iter().any(|(k, v)| k == "stages" && *v > 1.0));
    out.push('\n');
    let mut header = vec!["round", "node", "parents", "status", "score"];
    if let Some(p) = &primary {
        header.push(p.as_str());
    }
    if staged {
        header.push("stage");
    }
    header.extend(["best so far", "eval s", "name"]);
    let mut rows = Vec::with_capacity(nodes.len());
    let mut best_so_far: Option<f64> = None;
    for n in &nodes {
        if let Some(s) = n.score.filter(|_| n.status == Status::Valid) {
            best_so_far = Some(best_so_far.map_or(s, |b| b.max(s)));
        }
        let parents = if n.parents.is_empty() {
            "-".to_string()
        } else {
            n.parents.iter().map(|p| format!("#{p}")).collect::<Vec<_>>().join(",")
        };
        let status = match &n.failure {
            Some(f) if n.status != Status::Valid => format!("{}:{f}", n.status),
            _ => n.status.to_string(),
        };
        let mut row = vec![
            n.round.to_string(),
            format!("#{}", n.id),
            parents,
            status,
            n.score.map_or("-".into(), |s| compact(s, 8)),
        ];
        if let Some(p) = &primary {
            row.push(metric(&metrics, n.id, p).map_or("-".into(), |v| compact(v, 8)));
        }
        if staged {
            row.push(match (metric(&metrics, n.id, "stage"), metric(&metrics, n.id, "stages")) {
                (Some(s), Some(of)) => format!("{s}/{of}"),
                _ => "-".into(),
            });
        }
        row.extend([
            best_so_far.map_or("-".into(), |s| compact(s, 8)),
            format!("{:.2}", n.evaluate_seconds),
            n.name.clone(),
        ]);
        rows.push(row);
    }
    // Numbers right-aligned: round, node, the scores and the seconds.
    let last = header.len() - 1;
    let right: Vec<usize> = (0..header.len()).filter(|&i| !matches!(i, 2 | 3) && i != last).collect();
    out.push_str(&crate::plain_table(&header, &rows, &right));
    out.push('\n');
    Ok(out)
}

fn metric(metrics: &std::collections::BTreeMap<u64, Vec<(String, f64)>>, id: u64, name: &str) -> Option<f64> {
    metrics.get(&id)?.iter().find(|(k, _)| k == name).map(|(_, v)| *v)
}

/// The node's program: in its folder, or in the peer's round folder inside it (a view's
/// `steps/step_N/code`, `gen_N/main.py`); symlinks into the suite are not followed.
fn candidate_path(folder: &Path, file: &str) -> std::path::PathBuf {
    let direct = folder.join(file);
    if direct.is_file() {
        return direct;
    }
    let subfolders = |dir: &Path| -> Vec<std::path::PathBuf> {
        let mut found: Vec<_> = std::fs::read_dir(dir)
            .into_iter()
            .flatten()
            .filter_map(|e| e.ok())
            .filter(|e| e.file_type().is_ok_and(|t| t.is_dir()))
            .map(|e| e.path())
            .collect();
        found.sort();
        found
    };
    for sub in subfolders(folder) {
        for dir in std::iter::once(sub.clone()).chain(subfolders(&sub)) {
            if dir.join(file).is_file() {
                return dir.join(file);
            }
        }
    }
    direct
}

/// `digits` decimals, or scientific notation where that would print more than a few dozen
/// characters (an evaluator may report 1e308).
fn compact(x: f64, digits: usize) -> String {
    if x != 0.0 && !(1e-4..1e12).contains(&x.abs()) { format!("{x:.digits$e}") } else { format!("{x:.digits$}") }
}

/// The shortest text that reads back as `x`, in scientific notation where plain would be long.
fn shortest(x: f64) -> String {
    if x != 0.0 && !(1e-4..1e12).contains(&x.abs()) { format!("{x:e}") } else { format!("{x}") }
}

fn signed(x: f64, digits: usize) -> String {
    let text = compact(x, digits);
    if x >= 0.0 { format!("+{text}") } else { text }
}

/// The chain of derived-from parents back to the seed, oldest first.
fn lineage(nodes: &[NodeRow], id: u64) -> String {
    let mut chain = Vec::new();
    let mut current = nodes.iter().find(|n| n.id == id);
    while let Some(n) = current {
        chain.push(format!("#{} {}", n.id, n.score.map_or("-".into(), |s| compact(s, 6))));
        if chain.len() > nodes.len() {
            break;
        }
        current = n.parents.first().and_then(|p| nodes.iter().find(|m| m.id == *p));
    }
    chain.reverse();
    chain.join(" → ")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn row(id: u64, parent: Option<u64>, score: Option<f64>) -> NodeRow {
        NodeRow {
            id,
            round: id,
            parents: parent.into_iter().collect(),
            name: String::new(),
            status: if score.is_some() { Status::Valid } else { Status::Failed },
            failure: None,
            reason: None,
            score,
            propose_seconds: 0.0,
            evaluate_seconds: 0.0,
            analyze_seconds: 0.0,
            committed_at: String::new(),
            metrics: Default::default(),
        }
    }

    #[test]
    fn huge_and_tiny_scores_print_compactly() {
        assert_eq!(compact(1e308, 8), "1.00000000e308");
        assert_eq!(compact(-2.5e-9, 6), "-2.500000e-9");
        assert_eq!(compact(2.635983, 6), "2.635983");
        assert_eq!(compact(0.0, 4), "0.0000");
        assert_eq!(signed(1e300, 2), "+1.00e300");
        let nodes = vec![row(0, None, Some(1e308))];
        assert!(lineage(&nodes, 0).len() < 30, "{}", lineage(&nodes, 0));
    }

    #[test]
    fn lineage_walks_back_to_the_seed() {
        let nodes = vec![row(0, None, Some(1.0)), row(1, Some(0), Some(2.0)), row(2, Some(1), Some(3.0))];
        assert_eq!(lineage(&nodes, 2), "#0 1.000000 → #1 2.000000 → #2 3.000000");
    }

    #[test]
    fn a_folder_without_a_database_is_named() {
        let dir = tempfile::tempdir().unwrap();
        let err = show(dir.path()).unwrap_err().to_string();
        assert!(err.contains("campaign.db"), "{err}");
    }
}
