//! Campaign configuration: one TOML file, every field defaulted to the paper's settings.

use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};
use thiserror::Error;

use crate::llm::{Endpoint, EndpointError};

pub(crate) mod executor;
mod retrieval;
mod roles;
pub use retrieval::RetrievalConfig;
pub use roles::{AnalyzerConfig, AnalyzerKind, LlmResearcherSettings, MutateSettings, ProgramMode, ResearcherConfig};

#[derive(Debug, Error)]
pub enum ConfigError {
    #[error("cannot read config file {path}: {source}")]
    Read { path: PathBuf, source: std::io::Error },
    #[error("config file {path} is not valid: {message}")]
    Parse { path: PathBuf, message: String },
    #[error("config value `{key}` is invalid: {message}")]
    Invalid { key: &'static str, message: String },
    #[error("config section `{section}`: {source}")]
    Endpoint { section: &'static str, source: EndpointError },
}

/// A whole campaign. Unknown keys are rejected so that a typo never silently falls back to a default.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct CampaignConfig {
    /// Suite name (looked up under `suites/`) or path to a suite folder.
    pub suite: String,
    /// Rounds after the seed evaluation; each round proposes and evaluates one candidate.
    pub rounds: u64,
    pub seed: u64,
    /// Evaluation threads. The node table does not depend on it (see `window`).
    pub workers: usize,
    /// Round r samples parents from the nodes of rounds <= r - window, so at most `window`
    /// rounds are in flight and the result is the same for every worker count.
    pub window: u64,
    /// Parents handed to the researcher per round (the paper's `sample_n`).
    pub parents: usize,
    /// Only the best `pool_size` valid nodes are candidates for sampling (the paper's database
    /// cap); every node stays stored. 0 means no cap.
    pub pool_size: usize,
    /// Run directory; defaults to `runs/<suite>-seed<seed>-<utc timestamp>`.
    pub out: Option<PathBuf>,
    /// Label of the ablation arm this campaign belongs to; derived from the config when unset.
    pub arm: Option<String>,
    /// Serve every model call from this recorded run (its folder or `campaign.db`) instead of
    /// calling servers (`--llm replay:<path>`).
    pub replay: Option<PathBuf>,
    #[serde(deserialize_with = "sampler_section")]
    pub sampler: SamplerConfig,
    #[serde(deserialize_with = "roles::researcher_section")]
    pub researcher: ResearcherConfig,
    pub analyzer: AnalyzerConfig,
    pub cognition: CognitionConfig,
    pub engineer: EngineerConfig,
    pub judge: JudgeConfig,
    pub budget: BudgetConfig,
    /// Where evaluator stages run: `local` (default) or `slurm`.
    #[serde(deserialize_with = "executor_section")]
    pub executor: executor::ExecutorConfig,
    pub report: ReportConfig,
}

impl Default for CampaignConfig {
    fn default() -> Self {
        Self {
            suite: "circle-packing".into(),
            rounds: 30,
            seed: 0,
            workers: std::thread::available_parallelism().map_or(1, |n| n.get()).min(4),
            window: 4,
            parents: 3,
            pool_size: 70,
            out: None,
            arm: None,
            replay: None,
            sampler: SamplerConfig::default(),
            researcher: ResearcherConfig::default(),
            analyzer: AnalyzerConfig::default(),
            cognition: CognitionConfig::default(),
            engineer: EngineerConfig::default(),
            judge: JudgeConfig::default(),
            budget: BudgetConfig::default(),
            executor: Default::default(),
            report: ReportConfig::default(),
        }
    }
}

/// The sampler kinds, as named in configs and on the command line (`--sampler`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, strum_macros::IntoStaticStr)]
#[serde(rename_all = "kebab-case")]
#[strum(serialize_all = "kebab-case")]
pub enum SamplerKind {
    Greedy,
    Random,
    Ucb1,
    MapElites,
    Islands,
}

impl SamplerKind {
    pub const ALL: [Self; 5] = [Self::Greedy, Self::Random, Self::Ucb1, Self::MapElites, Self::Islands];

    /// The kind's name, derived by the rule serde names it by (a unit test checks they agree),
    /// so configs and labels cannot disagree.
    pub fn as_str(self) -> &'static str {
        self.into()
    }
}

impl std::str::FromStr for SamplerKind {
    type Err = String;

    fn from_str(text: &str) -> Result<Self, String> {
        use serde::de::IntoDeserializer;
        let de: serde::de::value::StrDeserializer<'_, serde::de::value::Error> = text.into_deserializer();
        Self::deserialize(de)
            .map_err(|_| format!("unknown sampler `{text}`: use one of {}", Self::ALL.map(Self::as_str).join(", ")))
    }
}

impl std::fmt::Display for SamplerKind {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The sampler used inside each island.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum InnerSamplerKind {
    Greedy,
    Random,
    Ucb1,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum CellSelection {
    /// Every occupied cell equally likely.
    Uniform,
    /// Cells weighted by their elite's score above the worst elite's.
    ScoreWeighted,
}

/// One MAP-Elites feature axis.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FeatureAxis {
    /// `code_length` (characters), `diversity` (share of lines differing from the seed), or
    /// `metric:<name>` (a metric the evaluator reports).
    pub name: String,
    pub bins: usize,
    /// Fixed bin range; values outside land in the edge bins. Without it the axis is adaptive:
    /// its edges are quantiles of the observed values, refitted when the valid-node count
    /// reaches `warmup` and each time it doubles.
    #[serde(default)]
    pub range: Option<[f64; 2]>,
}

/// The sampler and the settings of its kind only: a setting of another kind is an error.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "kebab-case", deny_unknown_fields)]
pub enum SamplerConfig {
    Greedy {},
    Random {},
    Ucb1 {
        /// Exploration constant.
        #[serde(default = "default_ucb1_c")]
        c: f64,
    },
    MapElites {
        #[serde(default = "default_features")]
        features: Vec<FeatureAxis>,
        #[serde(default = "default_selection")]
        selection: CellSelection,
        /// Valid nodes before adaptive axes are first fitted.
        #[serde(default = "default_warmup")]
        warmup: usize,
    },
    Islands {
        #[serde(default = "default_islands")]
        islands: usize,
        /// Rounds between migrations.
        #[serde(default = "default_migration_interval")]
        migration_interval: u64,
        /// Share of an island's best nodes copied to the next island at each migration.
        #[serde(default = "default_migration_rate")]
        migration_rate: f64,
        #[serde(default = "default_inner")]
        inner: InnerSamplerKind,
        /// Exploration constant of UCB1 islands.
        #[serde(default = "default_ucb1_c")]
        c: f64,
    },
}

fn default_ucb1_c() -> f64 {
    1.414
}
pub fn default_features() -> Vec<FeatureAxis> {
    vec![
        FeatureAxis { name: "code_length".into(), bins: 10, range: None },
        FeatureAxis { name: "diversity".into(), bins: 10, range: None },
    ]
}
fn default_selection() -> CellSelection {
    CellSelection::Uniform
}
fn default_warmup() -> usize {
    10
}
fn default_islands() -> usize {
    5
}
fn default_migration_interval() -> u64 {
    10
}
fn default_migration_rate() -> f64 {
    0.1
}
fn default_inner() -> InnerSamplerKind {
    InnerSamplerKind::Ucb1
}

impl Default for SamplerConfig {
    fn default() -> Self {
        Self::of_kind(SamplerKind::Greedy)
    }
}

impl SamplerConfig {
    /// A sampler of this kind with its default settings.
    pub fn of_kind(kind: SamplerKind) -> Self {
        match kind {
            SamplerKind::Greedy => Self::Greedy {},
            SamplerKind::Random => Self::Random {},
            SamplerKind::Ucb1 => Self::Ucb1 { c: default_ucb1_c() },
            SamplerKind::MapElites => Self::MapElites {
                features: default_features(),
                selection: default_selection(),
                warmup: default_warmup(),
            },
            SamplerKind::Islands => Self::Islands {
                islands: default_islands(),
                migration_interval: default_migration_interval(),
                migration_rate: default_migration_rate(),
                inner: default_inner(),
                c: default_ucb1_c(),
            },
        }
    }

    pub fn kind(&self) -> SamplerKind {
        match self {
            Self::Greedy {} => SamplerKind::Greedy,
            Self::Random {} => SamplerKind::Random,
            Self::Ucb1 { .. } => SamplerKind::Ucb1,
            Self::MapElites { .. } => SamplerKind::MapElites,
            Self::Islands { .. } => SamplerKind::Islands,
        }
    }

    /// Switches to `kind` (`--sampler`), keeping the settings when the kind is unchanged.
    pub fn set_kind(&mut self, kind: SamplerKind) {
        if self.kind() != kind {
            *self = Self::of_kind(kind);
        }
    }
}

/// Deserialises a `kind`-tagged section, naming the section and kind in any error, so a setting
/// meant for another kind reads as "sampler kind `greedy`: unknown field `c`". A section without
/// `kind` is of `default_kind` where it has one.
fn tagged_section<'de, D, T>(deserializer: D, section: &str, default_kind: Option<&str>) -> Result<T, D::Error>
where
    D: serde::Deserializer<'de>,
    T: serde::de::DeserializeOwned,
{
    use serde::de::Error;
    let mut table = toml::Table::deserialize(deserializer)?;
    let mut defaulted = "";
    if let (false, Some(kind)) = (table.contains_key("kind"), default_kind) {
        table.insert("kind".into(), kind.into());
        defaulted = " (the default; set `kind` for another)";
    }
    let kind = table.get("kind").and_then(toml::Value::as_str).map(str::to_owned);
    T::deserialize(toml::Value::Table(table)).map_err(|e| match kind {
        Some(kind) => D::Error::custom(format!("[{section}] kind `{kind}`{defaulted}: {e}")),
        None => D::Error::custom(format!("[{section}]: {e}")),
    })
}

fn sampler_section<'de, D: serde::Deserializer<'de>>(deserializer: D) -> Result<SamplerConfig, D::Error> {
    tagged_section(deserializer, "sampler", None)
}

fn executor_section<'de, D: serde::Deserializer<'de>>(deserializer: D) -> Result<executor::ExecutorConfig, D::Error> {
    tagged_section(deserializer, "executor", None)
}

/// Optional LLM judge: its score in [0, 1] is blended into valid nodes' scores.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct JudgeConfig {
    pub enabled: bool,
    /// score = (1 − ratio) · evaluator score + ratio · judge score.
    pub ratio: f64,
    /// Defaults to the researcher's model.
    pub llm: Option<Endpoint>,
}

impl Default for JudgeConfig {
    fn default() -> Self {
        Self { enabled: false, ratio: 0.1, llm: None }
    }
}

/// Limits that stop a campaign cleanly: no new round starts once one is reached.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct BudgetConfig {
    /// Total LLM cost in USD (needs `price` on the endpoints).
    pub max_cost_usd: Option<f64>,
    /// Total prompt + completion tokens.
    pub max_tokens: Option<u64>,
}

/// How `show` and reports present a run.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct ReportConfig {
    /// The metric shown beside the score and compared with the reference numbers, when the
    /// score is not in the task's own units (an OpenEvolve example's `sum_radii` beside its
    /// `combined_score`); default: the suite's.
    pub primary_metric: Option<String>,
    /// Whose reference numbers (`baselines/reported.toml`) the run is compared with, e.g.
    /// `circle-packing` for a peer's circle-packing folder; default: the suite's name.
    pub baselines: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct CognitionConfig {
    pub enabled: bool,
    pub top_k: usize,
    /// BM25, an embeddings endpoint, or all-MiniLM-L6-v2 in-process.
    pub retrieval: RetrievalConfig,
}

impl Default for CognitionConfig {
    fn default() -> Self {
        Self { enabled: true, top_k: 5, retrieval: RetrievalConfig::default() }
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct EngineerConfig {
    /// Overrides the suite's evaluator timeout when set.
    pub timeout_s: Option<f64>,
    /// Bytes of stdout and of stderr kept per evaluation (the tail is kept).
    pub output_cap_bytes: usize,
    /// Reject (without evaluating) a candidate at least this alike (0–1, line-diff ratio) to
    /// one of its parents. Exact duplicates of visible nodes are always rejected.
    pub novelty_similarity: Option<f64>,
    /// With an LLM researcher: how many times a crashed candidate's error goes back to the
    /// researcher for a fix.
    pub debug_retries: u32,
    /// A proposed program larger than this is stored as a failed proposal, not evaluated.
    pub max_program_bytes: usize,
}

impl Default for EngineerConfig {
    fn default() -> Self {
        Self {
            timeout_s: None,
            output_cap_bytes: 64 * 1024,
            novelty_similarity: None,
            debug_retries: 2,
            max_program_bytes: 256 * 1024,
        }
    }
}

impl CampaignConfig {
    pub fn from_file(path: &Path) -> Result<Self, ConfigError> {
        let text =
            std::fs::read_to_string(path).map_err(|source| ConfigError::Read { path: path.to_owned(), source })?;
        Self::from_toml(&text).map_err(|message| ConfigError::Parse { path: path.to_owned(), message })
    }

    pub fn from_toml(text: &str) -> Result<Self, String> {
        toml::from_str(text).map_err(|e| e.to_string())
    }

    /// A config a campaign stored (to resume or rerun it), possibly by an earlier version.
    pub fn from_stored_toml(text: &str) -> Result<Self, String> {
        let mut table: toml::Table = toml::from_str(text).map_err(|e| e.to_string())?;
        roles::upgrade_stored(&mut table);
        toml::Value::Table(table).try_into().map_err(|e: toml::de::Error| e.to_string())
    }

    pub fn to_toml(&self) -> String {
        toml::to_string_pretty(self).expect("a campaign config always serialises")
    }

    /// The arm label stored with the run: `arm` if set, else what differs from the full system
    /// (`no-llm`, `no-analyzer`, `no-cognition`, `sampler=<kind>`), or `full`.
    pub fn arm_label(&self) -> String {
        self.arm.clone().unwrap_or_else(|| self.resolved_arm_label())
    }

    /// What the config differs in from the full system (`no-llm,sampler=greedy`), whatever
    /// `arm` says: stored beside the arm's label.
    pub fn resolved_arm_label(&self) -> String {
        let mut parts = Vec::new();
        if !self.researcher.is_llm() {
            parts.push("no-llm".to_string());
        }
        if !self.analyzer.enabled {
            parts.push("no-analyzer".into());
        }
        if !self.cognition.enabled {
            parts.push("no-cognition".into());
        }
        if self.sampler.kind() != SamplerKind::Ucb1 {
            parts.push(format!("sampler={}", self.sampler.kind()));
        }
        if parts.is_empty() { "full".into() } else { parts.join(",") }
    }

    /// Checks the values that parse but make no sense, naming the key.
    pub fn validate(&self) -> Result<(), ConfigError> {
        let invalid = |key, message: &str| Err(ConfigError::Invalid { key, message: message.to_owned() });
        if self.suite.trim().is_empty() {
            return invalid("suite", "must name a suite or a suite folder");
        }
        if self.workers == 0 {
            return invalid("workers", "must be at least 1");
        }
        if self.window == 0 {
            return invalid("window", "must be at least 1");
        }
        if self.parents == 0 {
            return invalid("parents", "must be at least 1");
        }
        self.sampler.validate()?;
        if let ResearcherConfig::Mutate(m) = &self.researcher {
            if !(0.0..=1.0).contains(&m.crossover_rate) {
                return invalid("researcher.crossover_rate", "must lie in [0, 1]");
            }
            if !(m.max_relative_step > 0.0 && m.max_relative_step.is_finite()) {
                return invalid("researcher.max_relative_step", "must be a positive number");
            }
            if !(m.integer_weight >= 0.0 && m.integer_weight.is_finite()) {
                return invalid("researcher.integer_weight", "must be a non-negative number");
            }
        }
        if self.cognition.top_k == 0 {
            return invalid("cognition.top_k", "must be at least 1 (disable cognition with cognition.enabled = false)");
        }
        if let Some((key, message)) = self.cognition.retrieval.problem() {
            return invalid(key, message);
        }
        if let Some(t) = self.engineer.timeout_s
            && !(t > 0.0 && t.is_finite())
        {
            return invalid("engineer.timeout_s", "must be a positive number of seconds");
        }
        let endpoints = [
            ("researcher.llm", self.researcher.llm()),
            ("analyzer.llm", self.analyzer.llm()),
            ("judge.llm", self.judge.llm.as_ref()),
            ("cognition.retrieval.endpoint", self.cognition.retrieval.endpoint()),
        ];
        for (section, endpoint) in endpoints {
            if let Some(e) = endpoint {
                e.validate().map_err(|source| ConfigError::Endpoint { section, source })?;
            }
        }
        let analyzer_llm = self.analyzer.llm().is_some() || self.researcher.llm().is_some();
        if self.analyzer.enabled && self.analyzer.is_llm() && !analyzer_llm {
            return invalid(
                "analyzer.llm",
                "kind = \"llm\" needs an [analyzer.llm] endpoint, or a researcher of kind \"llm\" to share its model",
            );
        }
        if self.judge.enabled && self.judge.llm.is_none() && self.researcher.llm().is_none() {
            return invalid(
                "judge.llm",
                "the judge needs a [judge.llm] endpoint, or a researcher of kind \"llm\" to share its model",
            );
        }
        if !(0.0..=1.0).contains(&self.judge.ratio) {
            return invalid("judge.ratio", "must lie in [0, 1]");
        }
        if let Some(c) = self.budget.max_cost_usd
            && !(c >= 0.0 && c.is_finite())
        {
            return invalid("budget.max_cost_usd", "must be a non-negative number");
        }
        if let Some(t) = self.engineer.novelty_similarity
            && !(0.0..=1.0).contains(&t)
        {
            return invalid("engineer.novelty_similarity", "must lie in [0, 1]");
        }
        if self.engineer.max_program_bytes < 1024 {
            return invalid("engineer.max_program_bytes", "must be at least 1024");
        }
        if self.engineer.output_cap_bytes < 1024 {
            return invalid("engineer.output_cap_bytes", "must be at least 1024");
        }
        self.executor.validate().map_err(|(key, message)| ConfigError::Invalid { key, message })
    }
}

impl SamplerConfig {
    fn validate(&self) -> Result<(), ConfigError> {
        let invalid = |key, message: String| Err(ConfigError::Invalid { key, message });
        match self {
            Self::Greedy {} | Self::Random {} => {}
            Self::Ucb1 { c } => {
                if !(*c >= 0.0 && c.is_finite()) {
                    return invalid("sampler.c", "must be a non-negative number".into());
                }
            }
            Self::MapElites { features, warmup, .. } => {
                if features.is_empty() {
                    return invalid("sampler.features", "map-elites needs at least one feature axis".into());
                }
                for (i, axis) in features.iter().enumerate() {
                    let known = matches!(axis.name.as_str(), "code_length" | "diversity")
                        || axis.name.strip_prefix("metric:").is_some_and(|m| !m.is_empty());
                    if !known {
                        return invalid(
                            "sampler.features",
                            format!("axis {i} `{}`: use code_length, diversity or metric:<name>", axis.name),
                        );
                    }
                    if axis.bins == 0 {
                        return invalid("sampler.features", format!("axis {i} `{}` needs at least one bin", axis.name));
                    }
                    if let Some([lo, hi]) = axis.range
                        && !(lo.is_finite() && hi.is_finite() && lo < hi)
                    {
                        return invalid(
                            "sampler.features",
                            format!("axis {i} `{}`: range must be [low, high] with low < high", axis.name),
                        );
                    }
                }
                if *warmup == 0 {
                    return invalid("sampler.warmup", "must be at least 1".into());
                }
            }
            Self::Islands { islands, migration_interval, migration_rate, c, .. } => {
                if !(*c >= 0.0 && c.is_finite()) {
                    return invalid("sampler.c", "must be a non-negative number".into());
                }
                if *islands == 0 {
                    return invalid("sampler.islands", "must be at least 1".into());
                }
                if *migration_interval == 0 {
                    return invalid("sampler.migration_interval", "must be at least 1".into());
                }
                if !(0.0..=1.0).contains(migration_rate) {
                    return invalid("sampler.migration_rate", "must lie in [0, 1]".into());
                }
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_are_the_papers() {
        let c = CampaignConfig::default();
        assert_eq!(c.parents, 3);
        assert_eq!(c.pool_size, 70);
        assert_eq!(c.cognition.top_k, 5);
        assert!(c.validate().is_ok());
    }

    #[test]
    fn round_trips_through_toml() {
        for kind in SamplerKind::ALL {
            let c = CampaignConfig {
                rounds: 7,
                out: Some("runs/x".into()),
                sampler: SamplerConfig::of_kind(kind),
                ..Default::default()
            };
            assert_eq!(CampaignConfig::from_toml(&c.to_toml()).unwrap(), c, "{kind}");
        }
    }

    #[test]
    fn a_setting_of_another_sampler_kind_is_an_error_naming_key_and_kind() {
        let err = CampaignConfig::from_toml("[sampler]\nkind = \"greedy\"\nc = 2.0\n").unwrap_err();
        assert!(err.contains("`c`") && err.contains("kind `greedy`"), "{err}");
        let err = CampaignConfig::from_toml("[sampler]\nkind = \"ucb1\"\nwarmup = 3\n").unwrap_err();
        assert!(err.contains("`warmup`") && err.contains("kind `ucb1`"), "{err}");
        let ok = CampaignConfig::from_toml("[sampler]\nkind = \"ucb1\"\nc = 2.0\n").unwrap();
        assert_eq!(ok.sampler, SamplerConfig::Ucb1 { c: 2.0 });
    }

    #[test]
    fn sampler_kind_names_are_serdes() {
        for kind in SamplerKind::ALL {
            let tag = toml::Table::try_from(SamplerConfig::of_kind(kind)).unwrap();
            assert_eq!(tag["kind"].as_str(), Some(kind.as_str()));
            assert_eq!(kind.as_str().parse::<SamplerKind>(), Ok(kind));
            assert_eq!(SamplerConfig::of_kind(kind).kind(), kind);
        }
        assert!("annealing".parse::<SamplerKind>().unwrap_err().contains("map-elites"));
    }

    #[test]
    fn unknown_key_is_named() {
        let err = CampaignConfig::from_toml("rounds = 3\nroundz = 4\n").unwrap_err();
        assert!(err.contains("roundz"), "{err}");
    }

    #[test]
    fn wrong_type_is_named() {
        let err = CampaignConfig::from_toml("[cognition]\ntop_k = \"five\"\n").unwrap_err();
        assert!(err.contains("top_k"), "{err}");
    }

    #[test]
    fn nonsense_values_are_named() {
        let c = CampaignConfig { workers: 0, ..Default::default() };
        assert!(c.validate().unwrap_err().to_string().contains("`workers`"));
        let c = CampaignConfig {
            researcher: ResearcherConfig::Mutate(MutateSettings { crossover_rate: 1.5, ..Default::default() }),
            ..Default::default()
        };
        assert!(c.validate().unwrap_err().to_string().contains("crossover_rate"));
    }
}
