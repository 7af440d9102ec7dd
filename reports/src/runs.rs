//! Loading the run directories a report covers: metadata, nodes and LLM usage of each, checked
//! for what the report relies on so that a bad directory is named before anything is drawn.

use std::collections::HashSet;
use std::path::{Path, PathBuf};

use asi_evolve_store::meta;

use crate::campaign_db::{CampaignDb, LlmUsage, NodeRow};
use crate::error::ReportError;

/// One campaign as the report sees it.
#[derive(Debug, Clone)]
pub struct Run {
    pub dir: PathBuf,
    /// Short unique name used in tables: the folder name, or the full path where two runs share
    /// a folder name.
    pub label: String,
    /// The ablation arm; campaigns written before the `arm` key existed fall back to the sampler.
    pub arm: String,
    pub seed: i64,
    pub suite: String,
    pub researcher: String,
    pub nodes: Vec<NodeRow>,
    pub usage: LlmUsage,
    /// Seconds from the first node's commit to the last one's; `None` when a time is unreadable.
    pub wall_seconds: Option<f64>,
}

impl Run {
    pub fn load(dir: &Path) -> Result<Self, ReportError> {
        let db = CampaignDb::open(dir)?;
        let bad = |message: String| ReportError::BadRun { run: dir.to_owned(), message };
        let suite = db.meta(meta::SUITE)?.ok_or_else(|| bad("campaign metadata has no `suite`".into()))?;
        let seed_text = db.meta(meta::SEED)?.ok_or_else(|| bad("campaign metadata has no `seed`".into()))?;
        let seed =
            seed_text.trim().parse().map_err(|_| bad(format!("campaign seed `{seed_text}` is not an integer")))?;
        let arm = match db.meta(meta::ARM)? {
            Some(arm) => arm,
            None => db
                .meta(meta::SAMPLER)?
                .ok_or_else(|| bad("campaign metadata has neither `arm` nor `sampler`".into()))?,
        };
        let researcher = db.meta(meta::RESEARCHER)?.unwrap_or_else(|| "unrecorded".into());
        let nodes = db.nodes()?;
        if nodes.is_empty() {
            return Err(bad("the campaign has no nodes yet".into()));
        }
        let wall_seconds = wall_span(&nodes);
        Ok(Self {
            dir: dir.to_owned(),
            label: String::new(),
            arm,
            seed,
            suite,
            researcher,
            nodes,
            usage: db.llm_usage()?,
            wall_seconds,
        })
    }
}

/// Loads every run and checks they belong in one report (one suite, each directory once).
pub fn load_all(dirs: &[PathBuf]) -> Result<Vec<Run>, ReportError> {
    if dirs.is_empty() {
        return Err(ReportError::NoRuns);
    }
    let mut runs = dirs.iter().map(|d| Run::load(d)).collect::<Result<Vec<_>, _>>()?;
    let suites: Vec<&str> = runs.iter().map(|r| r.suite.as_str()).collect::<HashSet<_>>().into_iter().collect();
    if suites.len() > 1 {
        let mut suites = suites;
        suites.sort_unstable();
        return Err(ReportError::MixedSuites(suites.join(", ")));
    }
    let names: Vec<String> = runs.iter().map(|r| folder_name(&r.dir)).collect();
    for (i, run) in runs.iter_mut().enumerate() {
        let shared = names.iter().filter(|n| **n == names[i]).count() > 1;
        run.label = if shared { run.dir.display().to_string() } else { names[i].clone() };
    }
    let mut seen = HashSet::new();
    if let Some(dup) = runs.iter().find(|r| !seen.insert(r.label.clone())) {
        return Err(ReportError::BadRun { run: dup.dir.clone(), message: "is listed twice".into() });
    }
    Ok(runs)
}

/// The runs grouped by ablation arm, arms in the order they first appear.
pub fn by_arm(runs: &[Run]) -> Vec<(&str, Vec<&Run>)> {
    let mut groups: Vec<(&str, Vec<&Run>)> = Vec::new();
    for r in runs {
        match groups.iter_mut().find(|(arm, _)| *arm == r.arm) {
            Some((_, members)) => members.push(r),
            None => groups.push((&r.arm, vec![r])),
        }
    }
    groups
}

fn folder_name(dir: &Path) -> String {
    dir.file_name().map_or_else(|| dir.display().to_string(), |n| n.to_string_lossy().into_owned())
}

fn wall_span(nodes: &[NodeRow]) -> Option<f64> {
    let parse = |s: &str| chrono::DateTime::parse_from_rfc3339(s).ok();
    let times: Vec<_> = nodes.iter().map(|n| parse(&n.committed_at)).collect::<Option<_>>()?;
    let first = times.iter().min()?;
    let last = times.iter().max()?;
    Some((*last - *first).num_milliseconds() as f64 / 1000.0)
}
