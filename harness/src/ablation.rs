//! Ablation matrices: one campaign per arm × seed, each in `<out>/<arm>/seed<k>`. A finished
//! campaign is skipped and an interrupted one resumed, so the same command can be run again
//! until the matrix is complete.

use asi_evolve_store::meta;
use std::path::{Path, PathBuf};
use std::sync::Mutex;

use thiserror::Error;

use crate::campaign::{Campaign, CampaignError, Summary};
use crate::config::{AnalyzerKind, CampaignConfig, ResearcherConfig, SamplerKind};
use crate::database::{DB_FILE, Database};

#[derive(Debug, Error)]
pub enum AblationError {
    #[error(
        "unknown arm `{0}`: use full, no-analyzer, no-cognition, no-llm or sampler=<greedy|random|ucb1|map-elites|islands>"
    )]
    UnknownArm(String),
    #[error("`{0}` is not a list of seeds: write a range like 0..5 (five seeds) or a list like 0,3,7")]
    Seeds(String),
    #[error(
        "arms `{first}` and `{second}` would run the same campaign ({resolved}) with this base config: drop one, or change the base config so that they differ"
    )]
    SameCampaign { first: String, second: String, resolved: String },
}

/// One ablation arm: what it changes in the base config.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Arm {
    Full,
    NoAnalyzer,
    NoCognition,
    /// The offline evolutionary researcher and the stats analyzer instead of any model.
    NoLlm,
    Sampler(SamplerKind),
}

impl Arm {
    pub fn parse(text: &str) -> Result<Self, AblationError> {
        let text = text.trim();
        Ok(match text {
            "full" => Self::Full,
            "no-analyzer" => Self::NoAnalyzer,
            "no-cognition" => Self::NoCognition,
            "no-llm" => Self::NoLlm,
            _ => {
                let kind = text.strip_prefix("sampler=").ok_or_else(|| AblationError::UnknownArm(text.into()))?;
                Self::Sampler(kind.parse::<SamplerKind>().map_err(|_| AblationError::UnknownArm(text.into()))?)
            }
        })
    }

    pub fn label(self) -> String {
        match self {
            Self::Full => "full".into(),
            Self::NoAnalyzer => "no-analyzer".into(),
            Self::NoCognition => "no-cognition".into(),
            Self::NoLlm => "no-llm".into(),
            Self::Sampler(kind) => format!("sampler={}", kind.as_str()),
        }
    }

    /// The arm's folder name (no `=`).
    pub fn folder(self) -> String {
        self.label().replace('=', "-")
    }

    pub fn apply(self, config: &mut CampaignConfig) {
        match self {
            Self::Full => {}
            Self::NoAnalyzer => config.analyzer.enabled = false,
            Self::NoCognition => config.cognition.enabled = false,
            Self::NoLlm => {
                if config.researcher.is_llm() {
                    config.researcher = ResearcherConfig::default();
                }
                config.analyzer.kind = AnalyzerKind::Stats {};
                config.judge.enabled = false;
            }
            Self::Sampler(kind) => config.sampler.set_kind(kind),
        }
        // Stored as the arm the user asked for: two arms never share a label, whatever the base
        // config makes them (`full` of an offline base is also `no-llm`); what the config
        // resolves to is stored beside it (`CampaignConfig::resolved_arm_label`).
        config.arm = Some(self.label());
    }
}

/// Refuses arms that would run the same campaign: with some base configs two arms change
/// nothing between them (`full` and `no-llm` when the base runs no model), and their runs would
/// be two names for one experiment.
pub fn check_distinct(base: &CampaignConfig, arms: &[Arm]) -> Result<(), AblationError> {
    let resolved = |arm: &Arm| {
        let mut c = base.clone();
        arm.apply(&mut c);
        c.arm = None;
        c
    };
    for (i, a) in arms.iter().enumerate() {
        let config = resolved(a);
        if let Some(b) = arms[..i].iter().find(|b| resolved(b) == config) {
            return Err(AblationError::SameCampaign {
                first: b.label(),
                second: a.label(),
                resolved: config.resolved_arm_label(),
            });
        }
    }
    Ok(())
}

/// `0..5` (end exclusive) or `0,3,7` or `4`.
pub fn parse_seeds(text: &str) -> Result<Vec<u64>, AblationError> {
    let bad = || AblationError::Seeds(text.into());
    if let Some((a, b)) = text.split_once("..") {
        let (a, b): (u64, u64) = (a.trim().parse().map_err(|_| bad())?, b.trim().parse().map_err(|_| bad())?);
        return if a < b { Ok((a..b).collect()) } else { Err(bad()) };
    }
    text.split(',').map(|s| s.trim().parse().map_err(|_| bad())).collect()
}

/// What happened to one arm × seed.
#[derive(Debug)]
pub enum CellOutcome {
    Ran(Summary),
    Skipped,
    Failed(CampaignError),
}

#[derive(Debug)]
pub struct Cell {
    pub arm: Arm,
    pub seed: u64,
    pub dir: PathBuf,
    pub outcome: CellOutcome,
}

/// Runs the matrix with `parallel` campaigns at a time, reporting each cell as it ends.
pub fn run(
    base: &CampaignConfig,
    arms: &[Arm],
    seeds: &[u64],
    out: &Path,
    parallel: usize,
    bin: &Path,
    report: impl Fn(&Cell) + Sync,
) -> Vec<Cell> {
    let queue: Mutex<Vec<(Arm, u64)>> =
        Mutex::new(arms.iter().flat_map(|&a| seeds.iter().map(move |&s| (a, s))).rev().collect());
    let cells = Mutex::new(Vec::new());
    std::thread::scope(|scope| {
        for _ in 0..parallel.max(1) {
            scope.spawn(|| {
                loop {
                    let Some((arm, seed)) = queue.lock().expect("no panics holding the queue").pop() else { break };
                    let dir = out.join(arm.folder()).join(format!("seed{seed}"));
                    let outcome = run_cell(base, arm, seed, &dir, bin);
                    let cell = Cell { arm, seed, dir, outcome };
                    report(&cell);
                    cells.lock().expect("no panics holding the results").push(cell);
                }
            });
        }
    });
    let mut cells = cells.into_inner().expect("all workers joined");
    let order = |c: &Cell| (arms.iter().position(|a| *a == c.arm), c.seed);
    cells.sort_by_key(order);
    cells
}

fn run_cell(base: &CampaignConfig, arm: Arm, seed: u64, dir: &Path, bin: &Path) -> CellOutcome {
    if dir.join(DB_FILE).is_file() {
        let finished =
            Database::open_read_only(&dir.join(DB_FILE)).and_then(|db| db.meta(meta::FINISHED_AT)).map(|f| f.is_some());
        return match finished {
            Ok(true) => CellOutcome::Skipped,
            Ok(false) => match Campaign::resume(dir, bin.to_owned(), None).and_then(Campaign::run) {
                Ok(summary) => CellOutcome::Ran(summary),
                Err(e) => CellOutcome::Failed(e),
            },
            Err(e) => CellOutcome::Failed(e.into()),
        };
    }
    let mut config = base.clone();
    arm.apply(&mut config);
    config.seed = seed;
    config.out = Some(dir.to_owned());
    match Campaign::create(config, bin.to_owned()).and_then(Campaign::run) {
        Ok(summary) => CellOutcome::Ran(summary),
        Err(e) => CellOutcome::Failed(e),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn arms_parse_and_change_only_what_they_name() {
        assert_eq!(Arm::parse("sampler=map-elites").unwrap(), Arm::Sampler(SamplerKind::MapElites));
        assert!(Arm::parse("sampler=best").is_err());
        assert!(Arm::parse("no-brain").unwrap_err().to_string().contains("no-analyzer"));
        let base = CampaignConfig::default();
        let mut c = base.clone();
        Arm::NoCognition.apply(&mut c);
        assert!(!c.cognition.enabled);
        assert_eq!(
            (c.arm_label().as_str(), c.resolved_arm_label().as_str()),
            ("no-cognition", "no-llm,no-cognition,sampler=greedy")
        );
        c.cognition.enabled = true;
        c.arm = None;
        assert_eq!(c, base);
        assert_eq!(Arm::Sampler(SamplerKind::Ucb1).folder(), "sampler-ucb1");
    }

    #[test]
    fn an_arm_is_labelled_as_asked_with_what_it_resolves_to_beside_it() {
        let base = CampaignConfig { arm: Some("stale".into()), ..Default::default() };
        let arms = [Arm::Full, Arm::NoLlm, Arm::Sampler(SamplerKind::Greedy), Arm::Sampler(SamplerKind::Ucb1)];
        for arm in arms {
            let mut c = base.clone();
            arm.apply(&mut c);
            assert_eq!(c.arm_label(), arm.label(), "{arm:?}");
        }
        let mut full = base.clone();
        Arm::Full.apply(&mut full);
        assert_eq!((full.arm_label().as_str(), full.resolved_arm_label().as_str()), ("full", "no-llm,sampler=greedy"));
    }

    #[test]
    fn arms_that_would_run_the_same_campaign_are_refused_naming_both() {
        // The default base config is offline with the greedy sampler: `full`, `no-llm` and
        // `sampler=greedy` are one campaign.
        let base = CampaignConfig::default();
        let arms = ["full", "no-analyzer", "sampler=ucb1"].map(|a| Arm::parse(a).unwrap());
        check_distinct(&base, &arms).unwrap();
        let same = check_distinct(&base, &[Arm::Full, Arm::NoAnalyzer, Arm::NoLlm]).unwrap_err().to_string();
        assert!(same.contains("`full` and `no-llm`") && same.contains("(no-llm,sampler=greedy)"), "{same}");
        let twice = check_distinct(&base, &[Arm::NoCognition, Arm::NoCognition]).unwrap_err().to_string();
        assert!(twice.contains("`no-cognition` and `no-cognition`"), "{twice}");
    }

    #[test]
    fn seeds_are_ranges_or_lists() {
        assert_eq!(parse_seeds("0..3").unwrap(), vec![0, 1, 2]);
        assert_eq!(parse_seeds("4, 9").unwrap(), vec![4, 9]);
        assert!(parse_seeds("3..3").is_err());
        assert!(parse_seeds("a..b").is_err());
    }
}
