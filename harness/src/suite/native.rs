//! This harness's own layout: a folder with `suite.toml`.

use crate::suite::CognitionSource;
use std::collections::BTreeMap;
use std::path::PathBuf;

use serde::Deserialize;

use super::{Evaluator, Layout, Limits, MANIFEST, Stage, Suite, SuiteError, Warm, Workspace, read};

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
struct Manifest {
    name: String,
    #[serde(default)]
    description: String,
    /// Markdown task statement given to the researcher.
    task: PathBuf,
    seed_program: PathBuf,
    /// File name of the candidate in each node's working directory.
    #[serde(default = "default_candidate_file")]
    candidate_file: String,
    #[serde(default = "default_cognition")]
    cognition: PathBuf,
    /// A metric that measures the task in its own units when the score does not.
    primary_metric: Option<String>,
    evaluator: EvaluatorManifest,
}

fn default_candidate_file() -> String {
    "candidate.py".into()
}

fn default_cognition() -> PathBuf {
    "cognition".into()
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
struct EvaluatorManifest {
    /// A one-stage evaluator; exclusive with `stages`.
    command: Option<Vec<String>>,
    #[serde(default)]
    stages: Vec<StageManifest>,
    #[serde(default = "default_timeout")]
    timeout_s: f64,
    #[serde(default)]
    env: BTreeMap<String, String>,
    static_check: Option<Vec<String>>,
    #[serde(default)]
    limits: Limits,
    /// Files the evaluator writes whose tail explains a rejection without feedback.
    #[serde(default)]
    log_files: Vec<String>,
    /// A folder kept between evaluations (`ASI_EVOLVE_CACHE_DIR`), writable to the evaluator.
    #[serde(default)]
    cache: bool,
    warm: Option<Warm>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
struct StageManifest {
    command: Vec<String>,
    timeout_s: Option<f64>,
    threshold: Option<f64>,
}

fn default_timeout() -> f64 {
    300.0
}

pub(super) fn load(dir: PathBuf) -> Result<Suite, SuiteError> {
    let manifest_path = dir.join(MANIFEST);
    let text = read(&manifest_path)?;
    let invalid = |message: String| SuiteError::Manifest { path: manifest_path.clone(), message };
    let m: Manifest = toml::from_str(&text).map_err(|e| invalid(e.to_string()))?;
    if m.candidate_file.contains('/') || m.candidate_file.is_empty() {
        return Err(invalid(format!("candidate_file `{}` must be a plain file name", m.candidate_file)));
    }
    let evaluator = evaluator(m.evaluator).map_err(invalid)?;
    let references = references(&dir, &m.task, &m.seed_program, &m.cognition, &evaluator);
    Ok(Suite {
        references,
        task: read(&dir.join(&m.task))?,
        seed_program: read(&dir.join(&m.seed_program))?,
        cognition: CognitionSource::Folder(dir.join(&m.cognition)),
        name: m.name,
        description: m.description,
        layout: Layout::Native,
        candidate_file: m.candidate_file,
        evaluator,
        workspace: Workspace::NodeFolder,
        primary_metric: m.primary_metric,
        settings: toml::Table::new(),
        dir,
    })
}

/// The task, seed and cognition paths and every `{suite_dir}/...` word of the commands that
/// lead outside `dir`.
fn references(
    dir: &std::path::Path,
    task: &std::path::Path,
    seed: &std::path::Path,
    cognition: &std::path::Path,
    e: &Evaluator,
) -> Vec<PathBuf> {
    let suite_dir = dir.to_string_lossy();
    let words = e.stages.iter().flat_map(|s| &s.command).chain(e.static_check.iter().flatten());
    let commands =
        words.filter(|w| w.contains("{suite_dir}")).map(|w| PathBuf::from(w.replace("{suite_dir}", &suite_dir)));
    [task, seed, cognition]
        .into_iter()
        .map(|p| dir.join(p))
        .chain(commands)
        .filter(|p| p.canonicalize().is_ok_and(|c| !c.starts_with(dir)))
        .collect()
}

/// Checks `[evaluator]` and resolves each stage's timeout; errors name the key at fault.
fn evaluator(m: EvaluatorManifest) -> Result<Evaluator, String> {
    positive_seconds("evaluator.timeout_s", m.timeout_s)?;
    let stages = match (m.command, m.stages.is_empty()) {
        (Some(_), false) => return Err("give either evaluator.command or [[evaluator.stages]], not both".into()),
        (None, true) => return Err("missing evaluator.command (or [[evaluator.stages]])".into()),
        (Some(command), true) => {
            non_empty("evaluator.command", &command)?;
            vec![Stage { command, timeout_s: m.timeout_s, threshold: None }]
        }
        (None, false) => {
            let last = m.stages.len() - 1;
            let mut stages = Vec::with_capacity(m.stages.len());
            for (i, s) in m.stages.into_iter().enumerate() {
                let key = format!("evaluator.stages[{i}] (stage {})", i + 1);
                non_empty(&format!("{key}.command"), &s.command)?;
                let timeout_s = s.timeout_s.unwrap_or(m.timeout_s);
                positive_seconds(&format!("{key}.timeout_s"), timeout_s)?;
                match (s.threshold, i == last) {
                    (None, false) => {
                        return Err(format!("{key}.threshold is missing: every stage but the last needs one"));
                    }
                    (Some(_), true) => {
                        return Err(format!("{key}.threshold: the last stage has no further stage to gate"));
                    }
                    (Some(t), false) if !t.is_finite() => return Err(format!("{key}.threshold must be finite")),
                    _ => {}
                }
                stages.push(Stage { command: s.command, timeout_s, threshold: s.threshold });
            }
            stages
        }
    };
    if let Some(check) = &m.static_check {
        non_empty("evaluator.static_check", check)?;
    }
    let l = m.limits;
    for (key, value) in [
        ("address_space_mb", l.address_space_mb),
        ("cpu_seconds", l.cpu_seconds),
        ("file_size_mb", l.file_size_mb),
        ("open_files", l.open_files),
    ] {
        if value == Some(0) {
            return Err(format!("evaluator.limits.{key} must be positive (leave it out for no limit)"));
        }
    }
    Ok(Evaluator {
        timeout_s: m.timeout_s,
        env: m.env.into_iter().collect(),
        stages,
        static_check: m.static_check,
        limits: m.limits,
        support_files: Vec::new(),
        log_files: m.log_files,
        cache: m.cache,
        warm: m.warm.map(warm).transpose()?,
    })
}

fn warm(w: Warm) -> Result<Warm, String> {
    if w.python.trim().is_empty() {
        return Err("evaluator.warm.python must name an interpreter".into());
    }
    let module_name = |n: &str| {
        n.split('.').all(|part| {
            part.chars().next().is_some_and(|c| c.is_alphabetic() || c == '_')
                && part.chars().all(|c| c.is_alphanumeric() || c == '_')
        })
    };
    if let Some(bad) = w.preload.iter().find(|n| !module_name(n)) {
        return Err(format!("evaluator.warm.preload: `{bad}` is not a Python module name"));
    }
    Ok(w)
}

fn non_empty(key: &str, command: &[String]) -> Result<(), String> {
    if command.is_empty() { Err(format!("{key} is empty")) } else { Ok(()) }
}

fn positive_seconds(key: &str, seconds: f64) -> Result<(), String> {
    if seconds > 0.0 && seconds.is_finite() {
        Ok(())
    } else {
        Err(format!("{key} must be a positive number of seconds"))
    }
}

#[cfg(test)]
mod tests {
    use std::path::Path;

    use super::*;

    const HEAD: &str = "name = \"t\"\ntask = \"task.md\"\nseed_program = \"seed.py\"\n";

    fn write_suite(dir: &Path, evaluator: &str) {
        std::fs::write(dir.join(MANIFEST), format!("{HEAD}{evaluator}")).unwrap();
        std::fs::write(dir.join("task.md"), "# Task").unwrap();
        std::fs::write(dir.join("seed.py"), "x = 1.0\n").unwrap();
    }

    fn load_err(evaluator: &str) -> String {
        let dir = tempfile::tempdir().unwrap();
        write_suite(dir.path(), evaluator);
        Suite::load(dir.path()).unwrap_err().to_string()
    }

    #[test]
    fn loads_a_folder() {
        let dir = tempfile::tempdir().unwrap();
        write_suite(dir.path(), "[evaluator]\ncommand = [\"true\"]\n");
        let s = Suite::resolve(dir.path().to_str().unwrap()).unwrap();
        assert_eq!((s.name.as_str(), s.layout), ("t", Layout::Native));
        assert_eq!(s.evaluator.timeout_s, 300.0);
        assert_eq!(s.evaluator.stages, vec![Stage { command: vec!["true".into()], timeout_s: 300.0, threshold: None }]);
        assert_eq!(s.evaluator.limits, Limits::default());
        assert_eq!(s.content_hash().unwrap().len(), 64);
    }

    #[test]
    fn reads_stages_limits_and_the_static_check() {
        let dir = tempfile::tempdir().unwrap();
        write_suite(
            dir.path(),
            "[evaluator]\ntimeout_s = 60\nstatic_check = [\"check\", \"{candidate}\"]\n\
             [evaluator.limits]\naddress_space_mb = 500\ncpu_seconds = 10\n\
             [[evaluator.stages]]\ncommand = [\"quick\"]\ntimeout_s = 5\nthreshold = 0.5\n\
             [[evaluator.stages]]\ncommand = [\"full\"]\n",
        );
        let e = Suite::load(dir.path()).unwrap().evaluator;
        assert_eq!(e.stages.len(), 2);
        assert_eq!((e.stages[0].timeout_s, e.stages[0].threshold), (5.0, Some(0.5)));
        assert_eq!((e.stages[1].timeout_s, e.stages[1].threshold), (60.0, None));
        assert_eq!(e.stages[0].command, vec!["quick".to_string()]);
        assert_eq!(e.static_check.unwrap()[1], "{candidate}");
        assert_eq!((e.limits.address_space_mb, e.limits.cpu_seconds, e.limits.open_files), (Some(500), Some(10), None));
    }

    #[test]
    fn manifest_errors_name_the_file_and_key() {
        let err = load_err("[evaluator]\ncomand = []\n");
        assert!(err.contains("suite.toml") && err.contains("comand"), "{err}");
        let err = load_err("[evaluator]\ncommand = [\"a\"]\n[[evaluator.stages]]\ncommand = [\"b\"]\n");
        assert!(err.contains("not both"), "{err}");
        let err = load_err("[[evaluator.stages]]\ncommand = [\"a\"]\n[[evaluator.stages]]\ncommand = [\"b\"]\n");
        assert!(err.contains("evaluator.stages[0] (stage 1).threshold is missing"), "{err}");
        let err = load_err("[[evaluator.stages]]\ncommand = [\"a\"]\nthreshold = 1.0\n");
        assert!(err.contains("last stage"), "{err}");
        let err = load_err("[evaluator]\ncommand = [\"a\"]\n[evaluator.limits]\nopen_files = 0\n");
        assert!(err.contains("evaluator.limits.open_files"), "{err}");
        let err = load_err("[evaluator]\ncommand = [\"a\"]\n[evaluator.limits]\nmemory_mb = 1\n");
        assert!(err.contains("memory_mb"), "{err}");
        let err = load_err("[evaluator]\ncommand = []\n");
        assert!(err.contains("evaluator.command is empty"), "{err}");
        let err = load_err("[evaluator]\ncommand = [\"a\"]\n[evaluator.warm]\npreload = [\"numpy\", \"no-such\"]\n");
        assert!(err.contains("evaluator.warm.preload: `no-such`"), "{err}");
        let err = load_err("[evaluator]\ncommand = [\"a\"]\n[evaluator.warm]\npreloads = []\n");
        assert!(err.contains("preloads"), "{err}");
    }
}
