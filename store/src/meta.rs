//! The keys of the `campaign` table. The manifest (`manifest.toml`) holds the same keys as the
//! ones marked so.

/// The schema version the file was written with ([`crate::schema::SCHEMA_VERSION`]).
pub const SCHEMA_VERSION: &str = "schema_version";
/// The campaign's config as TOML (manifest).
pub const CONFIG: &str = "config";
/// Manifest.
pub const SEED: &str = "seed";
/// The arm label reports group runs by: the ablation arm asked for, else derived from the config
/// (manifest).
pub const ARM: &str = "arm";
/// What the config differs in from the full system (`no-llm,sampler=greedy`), whatever the arm
/// was called (manifest).
pub const ARM_RESOLVED: &str = "arm_resolved";
/// The suite's name (manifest).
pub const SUITE: &str = "suite";
/// Manifest.
pub const SUITE_DIR: &str = "suite_dir";
/// SHA-256 of every file the suite uses (manifest).
pub const SUITE_HASH: &str = "suite_hash";
/// One `sha256  path` line per file the suite uses, paths relative to its folder: what names a
/// changed file when a campaign is resumed or rerun (manifest).
pub const SUITE_FILES: &str = "suite_files";
/// The environment every evaluator command gets, one `KEY=VALUE` line each, but the variables
/// that only locate programs (their resolution is in `interpreters`) (manifest).
pub const EVALUATOR_ENV: &str = "evaluator_env";
/// Manifest.
pub const EVALUATOR: &str = "evaluator";
/// Manifest.
pub const SUITE_LAYOUT: &str = "suite_layout";
/// The program file's name inside a node's folder (manifest).
pub const CANDIDATE_FILE: &str = "candidate_file";
/// The metric compared with the references, when the run names one (manifest).
pub const PRIMARY_METRIC: &str = "primary_metric";
/// Which suite's published references the run is compared with (manifest).
pub const BASELINES: &str = "baselines";
/// Manifest.
pub const RESEARCHER: &str = "researcher";
/// Manifest.
pub const ANALYZER: &str = "analyzer";
/// Manifest.
pub const SAMPLER: &str = "sampler";
/// Manifest.
pub const HARNESS_VERSION: &str = "harness_version";
/// Manifest.
pub const GIT_REVISION: &str = "git_revision";
/// Manifest.
pub const EVALUATOR_CONFINEMENT: &str = "evaluator_confinement";
/// Each interpreter an evaluator command names, resolved once per campaign, with its version.
pub const INTERPRETERS: &str = "interpreters";
pub const STARTED_AT: &str = "started_at";
pub const RESUMED_AT: &str = "resumed_at";
/// Set once the campaign ends; a run without it is still running or was stopped.
pub const FINISHED_AT: &str = "finished_at";
/// `running`, `stopped` or `finished`.
pub const STATUS: &str = "status";
pub const STOP_REASON: &str = "stop_reason";
pub const COGNITION_RETRIEVAL: &str = "cognition_retrieval";
