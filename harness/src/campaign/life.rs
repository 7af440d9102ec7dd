//! A campaign's life before its rounds: creating a run directory, or reopening one to resume,
//! and wiring the roles from the config.

use asi_evolve_store::meta;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use super::layout::{CONFIG_FILE, MANIFEST_FILE, default_run_dir};
use super::models::Models;
use super::round::Roles;
use super::{Campaign, CampaignError};
use asi_evolve_embedder::{Embedder, installed_model_dir, model_venv};

use crate::cognition::{CognitionBase, CognitionError};
use crate::config::{CampaignConfig, ConfigError, RetrievalConfig};
use crate::database::{DB_FILE, Database, DatabaseError};
use crate::engineer::Engineer;
use crate::judge::Judge;
use crate::novelty::NoveltyIndex;
use crate::prompts::Templates;
use crate::researcher;
use crate::run_lock::{LOCK_FILE, RunLock};
use crate::sampler;
use crate::suite::Suite;

impl Campaign {
    /// Prepares a new run directory and its database. `bin` is the `asi-evolve` executable that
    /// evaluators may call back into.
    pub fn create(config: CampaignConfig, bin: PathBuf) -> Result<Self, CampaignError> {
        config.validate()?;
        let suite = Suite::resolve(&config.suite)?;
        crate::preflight::check_seed_markers(&suite)?;
        let run_dir = config.out.clone().unwrap_or_else(|| default_run_dir(&suite.name, config.seed));
        refuse_taken(&run_dir)?;
        let dir_err = |source| CampaignError::RunDir { path: run_dir.clone(), source };
        std::fs::create_dir_all(&run_dir).map_err(dir_err)?;
        let run_dir = run_dir.canonicalize().map_err(dir_err)?;
        let lock = RunLock::acquire(&run_dir)?;
        refuse_taken(&run_dir)?;
        let mut config = config;
        config.out = Some(run_dir.clone());
        // The database is built under a staging name and published once its config is stored:
        // a controller killed at any point leaves a folder that `run --out` or `--resume` takes.
        let mut campaign = Self::assemble(config, suite, run_dir.clone(), bin, lock, Database::create_staging)?;
        let manifest = campaign.manifest()?;
        std::fs::write(run_dir.join(CONFIG_FILE), campaign.config.to_toml()).map_err(dir_err)?;
        std::fs::write(run_dir.join(MANIFEST_FILE), toml::to_string_pretty(&manifest).expect("a manifest serialises"))
            .map_err(dir_err)?;
        for (key, value) in &manifest {
            let text = value.as_str().map_or_else(|| value.to_string(), str::to_owned);
            campaign.db.set_meta(key, &text)?;
        }
        campaign.db.set_meta(meta::STARTED_AT, &chrono::Utc::now().to_rfc3339())?;
        campaign.db = campaign.db.publish()?;
        Ok(campaign)
    }

    /// Reopens a campaign whose controller stopped (or was killed) part-way. Its config, seed
    /// and suite come from its database; only `workers` may change, since it does not affect
    /// the result.
    pub fn resume(run_dir: &Path, bin: PathBuf, workers: Option<usize>) -> Result<Self, CampaignError> {
        if !run_dir.join(DB_FILE).is_file() {
            return Err(CampaignError::NotACampaign(run_dir.to_owned()));
        }
        let run_dir =
            run_dir.canonicalize().map_err(|source| CampaignError::RunDir { path: run_dir.to_owned(), source })?;
        // Looked at read-only first, so a folder that is not a campaign is left as it was.
        let db = open_campaign_read_only(&run_dir)?;
        let text = db.meta(meta::CONFIG)?.ok_or_else(|| CampaignError::NotACampaign(run_dir.clone()))?;
        let lock = RunLock::acquire(&run_dir)?;
        let mut config = CampaignConfig::from_stored_toml(&text)
            .map_err(|message| ConfigError::Parse { path: run_dir.join(DB_FILE), message })?;
        config.out = Some(run_dir.clone());
        if let Some(w) = workers {
            config.workers = w;
        }
        config.validate()?;
        let suite_dir = db.meta(meta::SUITE_DIR)?.map(PathBuf::from);
        let suite = match suite_dir.filter(|d| d.is_dir()) {
            Some(dir) => Suite::load(&dir)?,
            None => Suite::resolve(&config.suite)?,
        };
        Recorded::read(&db)?.check(&suite, &bin)?;
        drop(db);
        let campaign = Self::assemble(config, suite, run_dir, bin, lock, Database::open)?;
        campaign.db.set_meta(meta::RESUMED_AT, &chrono::Utc::now().to_rfc3339())?;
        Ok(campaign)
    }

    fn assemble(
        config: CampaignConfig,
        suite: Suite,
        run_dir: PathBuf,
        bin: PathBuf,
        lock: RunLock,
        open_db: fn(&Path) -> Result<Database, DatabaseError>,
    ) -> Result<Self, CampaignError> {
        let models = Models::build(&config)?;
        let templates = Templates::load(&suite.dir)?;
        let mut cognition = if config.cognition.enabled { Some(CognitionBase::for_suite(&suite)?) } else { None };
        if let (Some(base), RetrievalConfig::Minilm { model_dir, .. }) =
            (cognition.as_mut(), &config.cognition.retrieval)
        {
            let dir = match model_dir {
                Some(dir) => dir.clone(),
                None => installed_model_dir(&model_venv()).map_err(CognitionError::from)?,
            };
            base.embed_items_locally(Embedder::shared(&dir).map_err(CognitionError::from)?)?;
        }
        let researcher = researcher::build(&config, models.researcher.clone(), templates.clone());
        let analyzer = crate::analyzer::build(&config, models.analyzer.clone(), templates.clone());
        let judge = models.judge.clone().map(|m| Judge::new(m, templates.clone(), config.judge.ratio));
        let db = open_db(&run_dir)?;
        let executor = crate::engineer::executor::build(&config.executor, &bin);
        let engineer = Engineer::new(suite.clone(), bin, config.engineer.timeout_s, config.engineer.output_cap_bytes)
            .with_executor(executor);
        let roles = Roles {
            engineer,
            researcher,
            analyzer,
            judge,
            novelty: NoveltyIndex::default(),
            novelty_similarity: config.engineer.novelty_similarity,
            debug_retries: config.engineer.debug_retries,
            max_program_bytes: config.engineer.max_program_bytes,
            window: config.window,
            run_dir,
            seed: config.seed,
            task: suite.task.clone(),
        };
        let sampler = sampler::build(&config, &suite.seed_program);
        Ok(Self { config, roles: Arc::new(roles), cognition, embeddings: models.embeddings, sampler, db, _lock: lock })
    }

    /// What reproduces this campaign: stored in its database and as `manifest.toml`.
    fn manifest(&self) -> Result<toml::Table, CampaignError> {
        let suite = self.roles.engineer.suite();
        let mut m = toml::Table::new();
        let mut put = |k: &str, v: String| m.insert(k.into(), toml::Value::String(v));
        put(meta::CONFIG, self.config.to_toml());
        put(meta::SEED, self.config.seed.to_string());
        put(meta::ARM, self.config.arm_label());
        put(meta::ARM_RESOLVED, self.config.resolved_arm_label());
        put(meta::SUITE, suite.name.clone());
        put(meta::SUITE_DIR, suite.dir.display().to_string());
        let fingerprint = suite.fingerprint()?;
        put(meta::SUITE_HASH, fingerprint.hash());
        put(meta::SUITE_FILES, fingerprint.listing());
        put(meta::EVALUATOR_ENV, self.roles.engineer.describe_environment());
        put(meta::EVALUATOR, suite.evaluator.describe());
        put(meta::SUITE_LAYOUT, suite.layout.as_str().into());
        put(meta::CANDIDATE_FILE, suite.candidate_file.clone());
        if let Some(metric) = self.config.report.primary_metric.clone().or_else(|| suite.primary_metric.clone()) {
            put(meta::PRIMARY_METRIC, metric);
        }
        put(meta::BASELINES, self.config.report.baselines.clone().unwrap_or_else(|| suite.name.clone()));
        put(meta::INTERPRETERS, self.roles.engineer.describe_interpreters());
        put(meta::RESEARCHER, self.roles.researcher.describe());
        put(meta::ANALYZER, self.roles.analyzer.as_ref().map_or("off".into(), |a| a.id()));
        put(meta::SAMPLER, self.config.sampler.kind().as_str().into());
        put(meta::HARNESS_VERSION, env!("CARGO_PKG_VERSION").into());
        put(meta::GIT_REVISION, env!("ASI_EVOLVE_GIT_REVISION").into());
        put(meta::EVALUATOR_CONFINEMENT, crate::engineer::confine::status().describe());
        Ok(m)
    }

    pub fn run_dir(&self) -> &Path {
        &self.roles.run_dir
    }

    pub fn researcher_description(&self) -> String {
        self.roles.researcher.describe()
    }

    /// What the user should know about the conditions this campaign runs under.
    pub fn warnings(&self) -> Vec<String> {
        crate::preflight::warnings(self.roles.engineer.suite(), &self.config)
    }
}

/// What a campaign recorded of its suite and evaluator environment, to refuse going on with a
/// changed experiment.
pub(super) struct Recorded {
    hash: String,
    files: Option<String>,
    environment: Option<String>,
    interpreters: Option<String>,
}

impl Recorded {
    pub(super) fn read(db: &Database) -> Result<Self, CampaignError> {
        Ok(Self {
            hash: db.meta(meta::SUITE_HASH)?.unwrap_or_default(),
            files: db.meta(meta::SUITE_FILES)?,
            environment: db.meta(meta::EVALUATOR_ENV)?,
            interpreters: db.meta(meta::INTERPRETERS)?,
        })
    }

    /// Refuses, naming what differs, a suite whose files or evaluator environment are not those
    /// recorded; checked before anything is created or opened for writing.
    pub(super) fn check(&self, suite: &Suite, bin: &Path) -> Result<(), CampaignError> {
        self.check_suite(suite)?;
        self.check_environment(&Engineer::new(suite.clone(), bin.to_owned(), None, 0))
    }

    /// Every file the suite uses hashes as recorded; the error names those that do not.
    fn check_suite(&self, suite: &Suite) -> Result<(), CampaignError> {
        let now = suite.fingerprint()?;
        if now.hash() == self.hash {
            return Ok(());
        }
        let changes = match &self.files {
            Some(listing) => match now.changes_since(listing) {
                c if c.is_empty() => format!("content {}, now {}", self.hash, now.hash()),
                c => format!("files that differ: {}", c.join(", ")),
            },
            // Stored before campaigns listed their suite's files.
            None => format!("content {}, now {}", self.hash, now.hash()),
        };
        Err(CampaignError::SuiteChanged { suite: suite.dir.clone(), changes })
    }

    /// The evaluators would get the recorded variables and interpreters; the error names each
    /// that differs. Campaigns stored before the environment was recorded are not checked.
    fn check_environment(&self, engineer: &Engineer) -> Result<(), CampaignError> {
        let mut changes = Vec::new();
        if let Some(recorded) = &self.environment {
            changes = environment_changes(recorded, &engineer.describe_environment());
        }
        if let Some(recorded) = self.interpreters.as_ref().filter(|_| self.environment.is_some()) {
            let now = engineer.describe_interpreters();
            if *recorded != now {
                changes.push(format!("interpreters were `{recorded}`, now `{now}`"));
            }
        }
        if changes.is_empty() { Ok(()) } else { Err(CampaignError::EnvironmentChanged { changes: changes.join("; ") }) }
    }
}

/// Each variable set, unset or changed between two `KEY=VALUE` listings.
fn environment_changes(recorded: &str, now: &str) -> Vec<String> {
    let parse = |text: &str| -> std::collections::BTreeMap<String, String> {
        text.lines().filter_map(|l| l.split_once('=')).map(|(k, v)| (k.to_owned(), v.to_owned())).collect()
    };
    let (before, after) = (parse(recorded), parse(now));
    let mut changes = Vec::new();
    for (key, value) in &before {
        match after.get(key) {
            None => changes.push(format!("{key} was `{value}`, now unset")),
            Some(v) if v != value => changes.push(format!("{key} was `{value}`, now `{v}`")),
            _ => {}
        }
    }
    changes.extend(
        after
            .iter()
            .filter(|(k, _)| !before.contains_key(*k))
            .map(|(k, v)| format!("{k} is now set (`{v}`), unset before")),
    );
    changes
}

/// The database of the campaign in `run_dir`, opened read-only.
pub(super) fn open_campaign_read_only(run_dir: &Path) -> Result<Database, CampaignError> {
    let path = run_dir.join(DB_FILE);
    let opened = match Database::open_read_only(&path) {
        // A controller killed while it was writing in rollback-journal mode (publishing the
        // database) left a hot journal, which a read-only connection cannot roll back. With no
        // live controller (the lock is free) rolling it back restores the last commit.
        Err(DatabaseError::Sqlite { source, .. }) if asi_evolve_store::is_hot_journal(&source) => {
            let _lock = RunLock::acquire(run_dir)?;
            asi_evolve_store::roll_back_hot_journal(&path).map_err(DatabaseError::from)?;
            Database::open_read_only(&path)
        }
        other => other,
    };
    match opened {
        Err(DatabaseError::NotACampaign { .. }) => Err(CampaignError::NotACampaign(run_dir.to_owned())),
        other => Ok(other?),
    }
}

/// A folder holding a published campaign is taken; one whose controller is alive names it.
fn refuse_taken(run_dir: &Path) -> Result<(), CampaignError> {
    if !run_dir.join(DB_FILE).exists() {
        return Ok(());
    }
    if run_dir.join(LOCK_FILE).exists() {
        RunLock::acquire(run_dir)?;
    }
    Err(CampaignError::RunDirTaken(run_dir.to_owned()))
}
