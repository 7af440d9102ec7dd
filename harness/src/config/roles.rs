//! `[researcher]` and `[analyzer]`: each chosen by `kind`, with that kind's settings only, so a
//! setting of the other kind (`mode` for `mutate`, `llm` for `stats`) is an error, not ignored.
//! Without `kind` a section is of the offline kind, as before kinds had their own settings.

use serde::{Deserialize, Serialize};

use super::tagged_section;
use crate::llm::Endpoint;

/// `[researcher]`, chosen by `kind`; a key of another kind is an error.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "kebab-case", deny_unknown_fields)]
pub enum ResearcherConfig {
    /// Evolutionary operators on the program text; no language model.
    Mutate(MutateSettings),
    /// A language model behind an OpenAI-compatible endpoint.
    Llm(LlmResearcherSettings),
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct MutateSettings {
    /// Probability that a round crosses two parents' EVOLVE blocks before perturbing literals.
    pub crossover_rate: f64,
    /// Largest relative step of a literal perturbation; steps are drawn log-uniformly below it.
    pub max_relative_step: f64,
    /// Relative weight of integer literals against float literals when choosing what to perturb.
    pub integer_weight: f64,
}

impl Default for MutateSettings {
    fn default() -> Self {
        Self { crossover_rate: 0.3, max_relative_step: 0.3, integer_weight: 0.1 }
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LlmResearcherSettings {
    #[serde(default = "default_mode")]
    pub mode: ProgramMode,
    /// `[researcher.llm]`: also the analyzer's and the judge's model when they name none.
    pub llm: Endpoint,
}

fn default_mode() -> ProgramMode {
    ProgramMode::Diff
}

/// How the LLM researcher writes a program.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum ProgramMode {
    /// SEARCH/REPLACE edits inside the parent's EVOLVE blocks.
    Diff,
    /// A complete program.
    Full,
}

impl Default for ResearcherConfig {
    fn default() -> Self {
        Self::Mutate(MutateSettings::default())
    }
}

impl ResearcherConfig {
    /// The researcher's endpoint: only `kind = "llm"` has one.
    pub fn llm(&self) -> Option<&Endpoint> {
        match self {
            Self::Mutate(_) => None,
            Self::Llm(s) => Some(&s.llm),
        }
    }

    pub fn is_llm(&self) -> bool {
        matches!(self, Self::Llm(_))
    }
}

/// `[analyzer]`: on or off, and its kind with that kind's settings.
#[derive(Debug, Clone, PartialEq)]
pub struct AnalyzerConfig {
    pub enabled: bool,
    pub kind: AnalyzerKind,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "kebab-case", deny_unknown_fields)]
pub enum AnalyzerKind {
    /// A lesson assembled from the evaluation's numbers and feedback; no language model.
    Stats {},
    /// A language model writes the lesson.
    Llm {
        /// `[analyzer.llm]`; without it, the researcher's model.
        #[serde(default)]
        llm: Option<Endpoint>,
    },
}

impl Default for AnalyzerConfig {
    fn default() -> Self {
        Self { enabled: true, kind: AnalyzerKind::Stats {} }
    }
}

impl AnalyzerConfig {
    pub fn is_llm(&self) -> bool {
        matches!(self.kind, AnalyzerKind::Llm { .. })
    }

    /// The analyzer's own endpoint, if its kind has one and it names one.
    pub fn llm(&self) -> Option<&Endpoint> {
        match &self.kind {
            AnalyzerKind::Stats {} => None,
            AnalyzerKind::Llm { llm } => llm.as_ref(),
        }
    }
}

/// `enabled` applies to every kind, so it sits beside the kind's table rather than in it.
#[derive(Serialize)]
struct AnalyzerSection<'a> {
    enabled: bool,
    #[serde(flatten)]
    kind: &'a AnalyzerKind,
}

impl Serialize for AnalyzerConfig {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        AnalyzerSection { enabled: self.enabled, kind: &self.kind }.serialize(serializer)
    }
}

impl<'de> Deserialize<'de> for AnalyzerConfig {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        use serde::de::Error;
        let mut table = toml::Table::deserialize(deserializer)?;
        let enabled = match table.remove("enabled") {
            None => true,
            Some(toml::Value::Boolean(b)) => b,
            Some(other) => {
                return Err(D::Error::custom(format!(
                    "[analyzer] `enabled` must be true or false, not a {}",
                    other.type_str()
                )));
            }
        };
        let kind = tagged_section(toml::Value::Table(table), "analyzer", Some("stats")).map_err(D::Error::custom)?;
        Ok(Self { enabled, kind })
    }
}

/// A config a campaign stored before `[researcher]` and `[analyzer]` had per-kind settings
/// carries every key of both kinds, and the keys of the unused kind did nothing: they are
/// dropped, so such a campaign resumes and reruns as it ran. The one that did act, a `mutate`
/// researcher's `llm` serving as the analyzer's and judge's model, moves to where they name it.
pub(super) fn upgrade_stored(config: &mut toml::Table) {
    let kind_of = |section: Option<&toml::Value>, default: &str| {
        section.and_then(|s| s.get("kind")).and_then(toml::Value::as_str).unwrap_or(default).to_owned()
    };
    let researcher_kind = kind_of(config.get("researcher"), "mutate");
    let analyzer_kind = kind_of(config.get("analyzer"), "stats");
    let mut shared_llm = None;
    if let Some(toml::Value::Table(researcher)) = config.get_mut("researcher") {
        if researcher_kind == "llm" {
            for key in ["crossover_rate", "max_relative_step", "integer_weight"] {
                researcher.remove(key);
            }
        } else {
            researcher.remove("mode");
            shared_llm = researcher.remove("llm");
        }
    }
    if let Some(toml::Value::Table(analyzer)) = config.get_mut("analyzer") {
        if analyzer_kind == "llm" {
            if let Some(llm) = shared_llm.as_ref().filter(|_| !analyzer.contains_key("llm")) {
                analyzer.insert("llm".into(), llm.clone());
            }
        } else {
            analyzer.remove("llm");
        }
    }
    if let (Some(llm), Some(toml::Value::Table(judge))) = (shared_llm, config.get_mut("judge"))
        && !judge.contains_key("llm")
    {
        judge.insert("llm".into(), llm);
    }
}

pub(super) fn researcher_section<'de, D: serde::Deserializer<'de>>(
    deserializer: D,
) -> Result<ResearcherConfig, D::Error> {
    tagged_section(deserializer, "researcher", Some("mutate"))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::CampaignConfig;

    const ENDPOINT: &str = "base_url = \"http://127.0.0.1:1/v1\"\nmodel = \"m\"\n";

    #[test]
    fn researcher_kinds_parse_with_their_defaults_and_round_trip() {
        let c = CampaignConfig::from_toml("[researcher]\ncrossover_rate = 0.0\n").unwrap();
        assert_eq!(
            c.researcher,
            ResearcherConfig::Mutate(MutateSettings { crossover_rate: 0.0, ..Default::default() })
        );
        let c =
            CampaignConfig::from_toml(&format!("[researcher]\nkind = \"llm\"\n[researcher.llm]\n{ENDPOINT}")).unwrap();
        let ResearcherConfig::Llm(settings) = &c.researcher else { panic!("{:?}", c.researcher) };
        assert_eq!((settings.mode, settings.llm.model.as_str()), (ProgramMode::Diff, "m"));
        assert_eq!(CampaignConfig::from_toml(&c.to_toml()).unwrap(), c);
        assert_eq!(CampaignConfig::from_toml(&CampaignConfig::default().to_toml()).unwrap(), CampaignConfig::default());
    }

    #[test]
    fn a_researcher_setting_of_another_kind_is_an_error_naming_key_and_kind() {
        let err = CampaignConfig::from_toml("[researcher]\nkind = \"mutate\"\nmode = \"full\"\n").unwrap_err();
        assert!(err.contains("`mode`") && err.contains("[researcher] kind `mutate`"), "{err}");
        // Without `kind` the section is `mutate`'s, and says so.
        let err = CampaignConfig::from_toml(&format!("[researcher.llm]\n{ENDPOINT}")).unwrap_err();
        assert!(err.contains("`llm`") && err.contains("kind `mutate`"), "{err}");
        let err = CampaignConfig::from_toml(&format!(
            "[researcher]\nkind = \"llm\"\ncrossover_rate = 0.5\n[researcher.llm]\n{ENDPOINT}"
        ))
        .unwrap_err();
        assert!(err.contains("`crossover_rate`") && err.contains("kind `llm`"), "{err}");
        let err = CampaignConfig::from_toml("[researcher]\nkind = \"llm\"\n").unwrap_err();
        assert!(err.contains("`llm`") && err.contains("kind `llm`"), "{err}");
        let err = CampaignConfig::from_toml("[researcher]\nkind = \"gpt\"\n").unwrap_err();
        assert!(err.contains("gpt"), "{err}");
    }

    /// `[researcher]` and `[analyzer]` as the config a campaign stored before per-kind settings
    /// (copied from such a run's `campaign` table).
    const STORED_LLM: &str = "[researcher]\nkind = \"llm\"\nmode = \"full\"\ncrossover_rate = 0.3\nmax_relative_step = 0.3\n\
        integer_weight = 0.1\n\n[researcher.llm]\nbase_url = \"http://127.0.0.1:18431/v1\"\nmodel = \"fake\"\n\
        max_tokens_field = \"max_tokens\"\nsend_seed = true\ntimeout_s = 600.0\nmax_retries = 0\n\
        backoff_initial_s = 1.0\nbackoff_max_s = 60.0\n\n[analyzer]\nenabled = true\nkind = \"llm\"\n";
    const STORED_MUTATE: &str = "[researcher]\nkind = \"mutate\"\nmode = \"diff\"\ncrossover_rate = 0.0\n\
        max_relative_step = 0.3\ninteger_weight = 0.1\n\n[researcher.llm]\nbase_url = \"http://127.0.0.1:1/v1\"\n\
        model = \"m\"\n\n[analyzer]\nenabled = true\nkind = \"llm\"\n\n[judge]\nenabled = true\nratio = 0.1\n";

    #[test]
    fn a_config_stored_before_per_kind_settings_still_loads_as_it_ran() {
        assert!(CampaignConfig::from_toml(STORED_LLM).is_err(), "a user's file is held to the per-kind rule");
        let c = CampaignConfig::from_stored_toml(STORED_LLM).unwrap();
        let ResearcherConfig::Llm(settings) = &c.researcher else { panic!("{:?}", c.researcher) };
        assert_eq!((settings.mode, settings.llm.model.as_str()), (ProgramMode::Full, "fake"));
        assert_eq!(c.analyzer.kind, AnalyzerKind::Llm { llm: None });
        assert!(c.validate().is_ok());

        let c = CampaignConfig::from_stored_toml(STORED_MUTATE).unwrap();
        assert_eq!(
            c.researcher,
            ResearcherConfig::Mutate(MutateSettings { crossover_rate: 0.0, ..Default::default() })
        );
        // The mutate researcher's endpoint served the analyzer and the judge: it still does.
        assert_eq!(c.analyzer.llm().map(|e| e.model.as_str()), Some("m"));
        assert_eq!(c.judge.llm.as_ref().map(|e| e.model.as_str()), Some("m"));
        assert!(c.validate().is_ok());
        // A config stored now loads unchanged.
        let now = CampaignConfig::from_toml("[researcher]\ncrossover_rate = 0.5\n").unwrap();
        assert_eq!(CampaignConfig::from_stored_toml(&now.to_toml()).unwrap(), now);
    }

    #[test]
    fn analyzer_kinds_parse_with_their_defaults_and_round_trip() {
        let c = CampaignConfig::from_toml("[analyzer]\nenabled = false\n").unwrap();
        assert_eq!(c.analyzer, AnalyzerConfig { enabled: false, kind: AnalyzerKind::Stats {} });
        let c = CampaignConfig::from_toml(&format!("[analyzer]\nkind = \"llm\"\n[analyzer.llm]\n{ENDPOINT}")).unwrap();
        assert!(c.analyzer.enabled && c.analyzer.llm().is_some_and(|e| e.model == "m"));
        assert_eq!(CampaignConfig::from_toml(&c.to_toml()).unwrap(), c);
        let c = CampaignConfig::from_toml("[analyzer]\nkind = \"llm\"\n").unwrap();
        assert_eq!(c.analyzer.kind, AnalyzerKind::Llm { llm: None });
    }

    #[test]
    fn an_analyzer_setting_of_another_kind_is_an_error_naming_key_and_kind() {
        let err = CampaignConfig::from_toml(&format!("[analyzer]\nkind = \"stats\"\n[analyzer.llm]\n{ENDPOINT}"))
            .unwrap_err();
        assert!(err.contains("`llm`") && err.contains("[analyzer] kind `stats`"), "{err}");
        let err = CampaignConfig::from_toml(&format!("[analyzer.llm]\n{ENDPOINT}")).unwrap_err();
        assert!(err.contains("`llm`") && err.contains("kind `stats`"), "{err}");
        let err = CampaignConfig::from_toml("[analyzer]\nenabled = \"yes\"\n").unwrap_err();
        assert!(err.contains("`enabled`"), "{err}");
    }
}
