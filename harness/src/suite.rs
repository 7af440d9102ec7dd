//! A suite: the task text, the seed program, the evaluator and the cognition items. Four folder
//! layouts are read as they are: this harness's own (`suite.toml`), an ASI-Evolve experiment
//! (`input.md` + `eval.sh`), an OpenEvolve example (`initial_program.py` + `evaluator.py`) and a
//! ShinkaEvolve example (`initial.py` + `evaluate.py`).

mod asi_config;
mod asi_experiment;
pub mod cognition_items;
mod native;
mod openevolve;
mod peer_yaml;
pub(crate) mod pyliterals;
mod shinka;
mod workspace;

pub use workspace::Workspace;

use std::path::{Path, PathBuf};

use serde::Deserialize;
use sha2::{Digest, Sha256};
use thiserror::Error;

pub const MANIFEST: &str = "suite.toml";

#[derive(Debug, Error)]
pub enum SuiteError {
    #[error(
        "no suite `{name}`: looked for {MANIFEST}, an ASI-Evolve experiment (input.md + eval.sh), an OpenEvolve \
         example (initial_program.py + evaluator.py) or a ShinkaEvolve example (initial.py + evaluate.py) in {}",
        looked.iter().map(|p| p.display().to_string()).collect::<Vec<_>>().join(", ")
    )]
    NotFound { name: String, looked: Vec<PathBuf> },
    #[error("cannot read {path}: {source}")]
    Read { path: PathBuf, source: std::io::Error },
    #[error("suite manifest {path} is not valid: {message}")]
    Manifest { path: PathBuf, message: String },
    #[error("cognition items in {path}: {message}")]
    Cognition { path: PathBuf, message: String },
}

/// Which layout a suite folder was read from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Layout {
    /// `suite.toml`, as documented in the README.
    Native,
    /// An ASI-Evolve experiment folder: `input.md`, `initial_program`, `eval.sh`, `init_cognition`.
    AsiEvolveExperiment,
    /// An OpenEvolve example folder: `initial_program.py`, `evaluator.py`, optional `config.yaml`.
    OpenEvolveExample,
    /// A ShinkaEvolve example folder: `initial.py` and `evaluate.py` calling `run_shinka_eval`.
    ShinkaEvolveExample,
}

impl Layout {
    /// The layout of `dir`, if it holds a suite; `suite.toml` wins when several would match.
    pub fn detect(dir: &Path) -> Option<Self> {
        if dir.join(MANIFEST).is_file() {
            Some(Self::Native)
        } else if dir.join("input.md").is_file() && dir.join("eval.sh").is_file() {
            Some(Self::AsiEvolveExperiment)
        } else if dir.join("evaluator.py").is_file() && dir.join("initial_program.py").is_file() {
            Some(Self::OpenEvolveExample)
        } else if dir.join("evaluate.py").is_file() && dir.join("initial.py").is_file() {
            Some(Self::ShinkaEvolveExample)
        } else {
            None
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Self::Native => "suite.toml",
            Self::AsiEvolveExperiment => "asi-evolve-experiment",
            Self::OpenEvolveExample => "openevolve-example",
            Self::ShinkaEvolveExample => "shinkaevolve-example",
        }
    }
}

/// A loaded suite with every path absolute.
#[derive(Debug, Clone)]
pub struct Suite {
    pub name: String,
    pub description: String,
    pub dir: PathBuf,
    pub layout: Layout,
    pub task: String,
    pub seed_program: String,
    pub candidate_file: String,
    pub cognition: CognitionSource,
    pub evaluator: Evaluator,
    /// Where in a node's folder the evaluator runs and finds the suite's other files.
    pub workspace: Workspace,
    /// The metric that measures the task in its own units, shown beside the score (e.g. an
    /// OpenEvolve example's `sum_radii` next to its `combined_score`); `None`: the score is.
    pub primary_metric: Option<String>,
    /// Campaign-config keys the folder's own config gives (a peer's `config.yaml`), applied
    /// beneath the campaign's config file and flags.
    pub settings: toml::Table,
    /// Paths outside `dir` the suite uses (a `{suite_dir}/../other/evaluate.py` command, a task
    /// or cognition folder of another suite): fingerprinted with it.
    pub references: Vec<PathBuf>,
}

/// Where a suite's cognition items come from.
#[derive(Debug, Clone, PartialEq)]
pub enum CognitionSource {
    /// A folder of markdown files, each starting with `# Title`.
    Folder(PathBuf),
    /// Items read from another format (an ASI-Evolve `init_cognition` file): (title, text).
    Items(Vec<(String, String)>),
}

/// How to run the evaluator. `{suite_dir}`, `{candidate}`, `{workdir}` and `{bin}` in the
/// commands' words are replaced before they run.
#[derive(Debug, Clone)]
pub struct Evaluator {
    /// The default timeout of a stage, in seconds.
    pub timeout_s: f64,
    pub env: Vec<(String, String)>,
    /// At least one; a plain `command` is a one-stage cascade.
    pub stages: Vec<Stage>,
    /// Run before the first stage; a non-zero exit fails the candidate as a syntax error.
    pub static_check: Option<Vec<String>>,
    pub limits: Limits,
    /// Files (name, contents) written into each node's folder before anything runs there.
    pub support_files: Vec<(String, String)>,
    /// Files the evaluator writes into its working directory whose tail explains a rejection
    /// that came without feedback (ASI-Evolve's `eval.log`).
    pub log_files: Vec<String>,
    /// `[evaluator] cache = true`: the suite keeps derived files between evaluations (a warm-up
    /// checkpoint, a reference loss) in `cache_dir()`, the one folder outside the node's own that
    /// its evaluations may write. Entries must be keyed by everything that determines them, so
    /// that a cached run and a fresh one give the same node table.
    pub cache: bool,
    /// `[evaluator.warm]`: run this suite's Python commands through warm fork servers.
    pub warm: Option<Warm>,
}

/// `[evaluator.warm]`: commands `python <script|-m module|-c code> ...` run in a child forked
/// from a server that imported `preload` once per worker (see `engineer::warm`).
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Warm {
    /// The interpreter whose commands run warm, as the commands name it.
    #[serde(default = "default_warm_python")]
    pub python: String,
    /// Modules the server imports before it forks (e.g. numpy, scipy, torch).
    #[serde(default)]
    pub preload: Vec<String>,
}

fn default_warm_python() -> String {
    "python3".into()
}

#[derive(Debug, Clone, PartialEq)]
pub struct Stage {
    pub command: Vec<String>,
    pub timeout_s: f64,
    /// The stage's score must be at least this for the next stage to run; `None` on the last.
    pub threshold: Option<f64>,
}

/// `[evaluator.limits]`: resource limits (setrlimit) of every process the evaluator starts.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Limits {
    /// RLIMIT_AS: virtual memory per process; an allocation past it fails (Python: MemoryError).
    pub address_space_mb: Option<u64>,
    /// RLIMIT_CPU: CPU seconds per process; SIGXCPU, then SIGKILL a second later.
    pub cpu_seconds: Option<u64>,
    /// RLIMIT_FSIZE: largest file a process may write; SIGXFSZ past it.
    pub file_size_mb: Option<u64>,
    /// RLIMIT_NOFILE: open file descriptors per process.
    pub open_files: Option<u64>,
}

impl Evaluator {
    /// One line for a campaign's metadata: every stage's command and what gates it.
    pub fn describe(&self) -> String {
        let mut parts = Vec::new();
        if let Some(check) = &self.static_check {
            parts.push(format!("check: {}", check.join(" ")));
        }
        for (i, stage) in self.stages.iter().enumerate() {
            let gate = stage.threshold.map(|t| format!(" (>= {t} to go on)")).unwrap_or_default();
            if self.stages.len() == 1 {
                parts.push(stage.command.join(" "));
            } else {
                parts.push(format!("stage {}: {}{gate}", i + 1, stage.command.join(" ")));
            }
        }
        parts.join("; ")
    }
}

impl Suite {
    /// The folder an `[evaluator] cache = true` suite keeps between evaluations:
    /// `$ASI_EVOLVE_CACHE/suites/<name>`, by default under `$XDG_CACHE_HOME` or `~/.cache`.
    pub fn cache_dir(&self) -> Option<PathBuf> {
        if !self.evaluator.cache {
            return None;
        }
        let root = std::env::var_os("ASI_EVOLVE_CACHE").map(PathBuf::from).or_else(|| {
            std::env::var_os("XDG_CACHE_HOME")
                .map(PathBuf::from)
                .or_else(|| std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".cache")))
                .map(|c| c.join("asi-evolve"))
        })?;
        Some(root.join("suites").join(&self.name))
    }

    /// `name_or_dir` is a suite folder (any of the three layouts), or a suite name looked up in
    /// `$ASI_EVOLVE_SUITES`, `./suites` and the suites shipped with this source tree.
    pub fn resolve(name_or_dir: &str) -> Result<Self, SuiteError> {
        let direct = PathBuf::from(name_or_dir);
        if Layout::detect(&direct).is_some() {
            return Self::load(&direct);
        }
        let mut roots = Vec::new();
        if let Some(dir) = std::env::var_os("ASI_EVOLVE_SUITES") {
            roots.push(PathBuf::from(dir));
        }
        roots.push(PathBuf::from("suites"));
        roots.push(Path::new(env!("CARGO_MANIFEST_DIR")).join("../suites"));
        let mut looked = vec![direct];
        for root in roots {
            let candidate = root.join(name_or_dir);
            if Layout::detect(&candidate).is_some() {
                return Self::load(&candidate);
            }
            looked.push(candidate);
        }
        Err(SuiteError::NotFound { name: name_or_dir.to_owned(), looked })
    }

    /// Loads the suite folder `dir` in whichever layout it has.
    pub fn load(dir: &Path) -> Result<Self, SuiteError> {
        let dir = dir.canonicalize().map_err(|source| SuiteError::Read { path: dir.to_owned(), source })?;
        match Layout::detect(&dir) {
            Some(Layout::Native) => native::load(dir),
            Some(Layout::AsiEvolveExperiment) => asi_experiment::load(dir),
            Some(Layout::OpenEvolveExample) => openevolve::load(dir),
            Some(Layout::ShinkaEvolveExample) => shinka::load(dir),
            None => Err(SuiteError::NotFound { name: dir.display().to_string(), looked: vec![dir] }),
        }
    }

    /// SHA-256 over every file the suite uses (paths and contents, sorted), so that a stored
    /// campaign says exactly which suite it ran.
    pub fn content_hash(&self) -> Result<String, SuiteError> {
        Ok(self.fingerprint()?.hash())
    }

    /// Every file the suite uses, each with its own hash: the suite folder, and for each path
    /// outside it that the suite references, the whole suite folder that path lies in (an
    /// evaluator script imports its neighbours), or the path's folder when it is in no suite.
    pub fn fingerprint(&self) -> Result<Fingerprint, SuiteError> {
        let mut roots = vec![self.dir.clone()];
        for reference in &self.references {
            let Ok(path) = reference.canonicalize() else { continue };
            let folder =
                if path.is_dir() { path.clone() } else { path.parent().map(Path::to_path_buf).unwrap_or_default() };
            let root =
                folder.ancestors().find(|a| Layout::detect(a).is_some()).map_or(folder.clone(), Path::to_path_buf);
            if !roots.iter().any(|r| root.starts_with(r)) {
                roots.retain(|r| !r.starts_with(&root));
                roots.push(root);
            }
        }
        let mut files = Vec::new();
        for root in &roots {
            collect_files(root, &mut files)?;
        }
        let mut labelled: Vec<(String, PathBuf)> =
            files.into_iter().map(|p| (relative_label(&self.dir, &p), p)).collect();
        labelled.sort();
        labelled.dedup();
        // One pass, one file in memory at a time: a suite may ship large data files.
        let mut combined = Sha256::new();
        let mut entries = Vec::with_capacity(labelled.len());
        for (label, path) in labelled {
            let bytes = std::fs::read(&path).map_err(|source| SuiteError::Read { path: path.clone(), source })?;
            combined.update(label.as_bytes());
            combined.update([0]);
            combined.update((bytes.len() as u64).to_le_bytes());
            combined.update(&bytes);
            entries.push(FileDigest { label, sha256: format!("{:x}", Sha256::digest(&bytes)) });
        }
        Ok(Fingerprint { files: entries, hash: format!("{:x}", combined.finalize()) })
    }
}

/// One file of a suite's [`Fingerprint`].
#[derive(Debug, Clone)]
pub struct FileDigest {
    /// The path relative to the suite folder (`../linear-attention/evaluate.py` outside it).
    pub label: String,
    pub sha256: String,
}

/// The files a suite uses, as [`Suite::fingerprint`] found them, and the suite's content hash:
/// SHA-256 over each file's label, size and bytes in label order. Labels are relative to the
/// suite folder, so a moved clone hashes the same, and a suite that references nothing outside
/// its folder hashes as it always has.
#[derive(Debug, Clone)]
pub struct Fingerprint {
    pub files: Vec<FileDigest>,
    hash: String,
}

impl Fingerprint {
    pub fn hash(&self) -> String {
        self.hash.clone()
    }

    /// One `sha256  label` line per file: what a campaign stores to name a changed file later.
    pub fn listing(&self) -> String {
        self.files.iter().map(|f| format!("{}  {}\n", f.sha256, f.label)).collect()
    }

    /// What differs between a stored `listing` and this one: each changed, added or removed file.
    pub fn changes_since(&self, listing: &str) -> Vec<String> {
        let before: std::collections::BTreeMap<&str, &str> =
            listing.lines().filter_map(|l| l.split_once("  ")).map(|(h, label)| (label, h)).collect();
        let now: std::collections::BTreeMap<&str, &str> =
            self.files.iter().map(|f| (f.label.as_str(), f.sha256.as_str())).collect();
        let mut changes = Vec::new();
        for (label, hash) in &now {
            match before.get(label) {
                None => changes.push(format!("{label} (added)")),
                Some(h) if h != hash => changes.push(format!("{label} (changed)")),
                _ => {}
            }
        }
        changes.extend(before.keys().filter(|l| !now.contains_key(*l)).map(|l| format!("{l} (removed)")));
        changes
    }
}

/// `path` relative to `base` (both absolute and canonical), with `..` where it lies outside.
fn relative_label(base: &Path, path: &Path) -> String {
    let (base, path): (Vec<_>, Vec<_>) = (base.components().collect(), path.components().collect());
    let common = base.iter().zip(&path).take_while(|(a, b)| a == b).count();
    let mut parts: Vec<String> = vec!["..".into(); base.len() - common];
    parts.extend(path[common..].iter().map(|c| c.as_os_str().to_string_lossy().into_owned()));
    parts.join("/")
}

fn read(path: &Path) -> Result<String, SuiteError> {
    std::fs::read_to_string(path).map_err(|source| SuiteError::Read { path: path.to_owned(), source })
}

/// The folder's name, for suites whose layout has no name field.
fn folder_name(dir: &Path) -> String {
    dir.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_else(|| "suite".into())
}

fn collect_files(dir: &Path, out: &mut Vec<PathBuf>) -> Result<(), SuiteError> {
    let entries = std::fs::read_dir(dir).map_err(|source| SuiteError::Read { path: dir.to_owned(), source })?;
    for entry in entries {
        let path = entry.map_err(|source| SuiteError::Read { path: dir.to_owned(), source })?.path();
        let name = path.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
        if name.starts_with('.') || name == "__pycache__" {
            continue;
        }
        if path.is_dir() {
            collect_files(&path, out)?;
        } else {
            out.push(path);
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unknown_names_list_where_they_were_looked_for() {
        let err = Suite::resolve("no-such-suite").unwrap_err().to_string();
        assert!(err.contains("no-such-suite") && err.contains("suites"), "{err}");
    }

    #[test]
    fn describe_names_every_stage() {
        let stage = |c: &str, t| Stage { command: vec![c.into()], timeout_s: 1.0, threshold: t };
        let e = Evaluator {
            timeout_s: 1.0,
            env: vec![],
            stages: vec![stage("a", Some(0.5)), stage("b", None)],
            static_check: Some(vec!["check".into()]),
            limits: Limits::default(),
            support_files: vec![],
            cache: false,
            log_files: vec![],
            warm: None,
        };
        assert_eq!(e.describe(), "check: check; stage 1: a (>= 0.5 to go on); stage 2: b");
    }
}
