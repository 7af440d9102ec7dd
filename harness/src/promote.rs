//! `asi-evolve promote`: does a discovery survive a larger scale? Re-evaluates the seed and the
//! best valid nodes of a campaign with another scale of the same task, and stores what each
//! scored beside the run (`<run>/promote/<suite>/promotion.json` by default), never touching the
//! campaign's own database.

use std::path::{Path, PathBuf};

use serde::Serialize;
use thiserror::Error;

use crate::database::{DB_FILE, Database, DatabaseError};
use crate::engineer::Engineer;
use crate::node::Status;
use crate::suite::{Suite, SuiteError};
use asi_evolve_store::meta;

/// stdout/stderr kept per evaluation, as for `verify`.
const OUTPUT_CAP: usize = 64 * 1024;

#[derive(Debug, Error)]
pub enum PromoteError {
    #[error("{0} holds no campaign (no campaign.db)")]
    NotACampaign(PathBuf),
    #[error(transparent)]
    Database(#[from] DatabaseError),
    #[error(transparent)]
    Suite(#[from] SuiteError),
    #[error(
        "`{to}` is not another scale of `{from}`'s task: their task texts differ (promote compares scales of one task; evaluate other tasks with `asi-evolve evaluate`)"
    )]
    OtherTask { from: String, to: String },
    #[error("`{0}` is the campaign's own suite: promote to another scale of it")]
    SameSuite(String),
    #[error("the campaign has no valid node besides the seed to promote")]
    NothingToPromote,
    #[error("cannot {what} {path}: {source}")]
    Io { what: &'static str, path: PathBuf, source: std::io::Error },
}

/// One re-evaluated node.
#[derive(Debug, Clone, Serialize)]
pub struct Promoted {
    pub node: u64,
    pub name: String,
    pub is_seed: bool,
    /// Its score in the campaign (`None`: not valid there, which only the seed can be).
    pub source_score: Option<f64>,
    /// Its score at the target scale per evaluation seed; `None` where it was not valid there.
    pub target_scores: Vec<Option<f64>>,
    /// Why an evaluation at the target scale was not valid, per seed.
    pub target_reasons: Vec<Option<String>>,
}

impl Promoted {
    /// The mean over seeds, when every seed's evaluation was valid.
    pub fn target_mean(&self) -> Option<f64> {
        let scores: Option<Vec<f64>> = self.target_scores.iter().copied().collect();
        scores.filter(|s| !s.is_empty()).map(|s| s.iter().sum::<f64>() / s.len() as f64)
    }
}

#[derive(Debug, Clone, Serialize)]
pub struct Promotion {
    pub run: PathBuf,
    pub source_suite: String,
    pub target_suite: String,
    pub seeds: Vec<u64>,
    pub nodes: Vec<Promoted>,
}

/// The seed and the `top` best valid nodes of the campaign in `run`, best first after the seed.
fn chosen(db: &Database, top: usize) -> Result<Vec<crate::node::Node>, PromoteError> {
    let mut nodes = db.nodes()?;
    let seed = nodes.iter().position(|n| n.id == 0).map(|i| nodes.remove(i));
    let mut valid: Vec<_> = nodes.into_iter().filter(|n| n.status == Status::Valid && n.score.is_some()).collect();
    // Best first; among equals the earlier node, so the choice does not depend on storage order.
    valid.sort_by(|a, b| b.score.partial_cmp(&a.score).unwrap_or(std::cmp::Ordering::Equal).then(a.id.cmp(&b.id)));
    // The same program found twice is promoted once.
    let mut picked: Vec<crate::node::Node> = Vec::new();
    for n in valid {
        if picked.len() == top {
            break;
        }
        if seed.as_ref().is_none_or(|s| s.code != n.code) && picked.iter().all(|p| p.code != n.code) {
            picked.push(n);
        }
    }
    if picked.is_empty() {
        return Err(PromoteError::NothingToPromote);
    }
    Ok(seed.into_iter().chain(picked).collect())
}

/// Re-evaluates the chosen nodes of `run` with `target`, once per seed, each in its own folder
/// under `out`, and writes `out/promotion.json`. `progress` is told each evaluation as it ends.
pub fn promote(
    run: &Path,
    target: Suite,
    top: usize,
    seeds: &[u64],
    out: &Path,
    bin: &Path,
    progress: impl Fn(&Promoted, usize),
) -> Result<Promotion, PromoteError> {
    if !run.join(DB_FILE).is_file() {
        return Err(PromoteError::NotACampaign(run.to_owned()));
    }
    let db = Database::open_read_only(&run.join(DB_FILE))?;
    let source_name = db.meta(meta::SUITE)?.unwrap_or_default();
    if source_name == target.name {
        return Err(PromoteError::SameSuite(target.name));
    }
    if let Some(dir) = db.meta(meta::SUITE_DIR)?.map(PathBuf::from).filter(|d| d.is_dir()) {
        let source = Suite::load(&dir)?;
        if source.task != target.task {
            return Err(PromoteError::OtherTask { from: source.name, to: target.name });
        }
    }
    let nodes = chosen(&db, top)?;
    drop(db);
    let io = |what, path: &Path| {
        let path = path.to_owned();
        move |source| PromoteError::Io { what, path, source }
    };
    std::fs::create_dir_all(out).map_err(io("create", out))?;
    let engineer = Engineer::new(target.clone(), bin.to_owned(), None, OUTPUT_CAP);
    let mut promoted = Vec::with_capacity(nodes.len());
    for node in nodes {
        let mut p = Promoted {
            node: node.id,
            name: node.name.clone(),
            is_seed: node.id == 0,
            source_score: node.score.filter(|_| node.status == Status::Valid),
            target_scores: Vec::new(),
            target_reasons: Vec::new(),
        };
        for (i, &seed) in seeds.iter().enumerate() {
            let dir = out.join(format!("node{:05}-seed{seed}", node.id));
            if dir.exists() {
                std::fs::remove_dir_all(&dir).map_err(io("clear", &dir))?;
            }
            let e = engineer.evaluate(&node.code, &dir, seed);
            let valid = e.status == Status::Valid;
            p.target_scores.push(e.score.filter(|_| valid));
            p.target_reasons.push(if valid { None } else { e.reason.clone().or(Some(e.status.as_str().into())) });
            progress(&p, i);
        }
        promoted.push(p);
    }
    let promotion = Promotion {
        run: run.to_owned(),
        source_suite: source_name,
        target_suite: target.name,
        seeds: seeds.to_vec(),
        nodes: promoted,
    };
    let json = out.join("promotion.json");
    let text = serde_json::to_string_pretty(&promotion).expect("plain data serialises");
    std::fs::write(&json, text + "\n").map_err(io("write", &json))?;
    Ok(promotion)
}
