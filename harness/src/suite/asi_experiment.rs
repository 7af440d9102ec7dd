//! An ASI-Evolve experiment folder, read as it is: `input.md` is the task, `initial_program`
//! (any extension or none) the seed, and `eval.sh` the evaluator. As the reference framework's
//! `pipeline/engineer` does, `eval.sh` runs with bash in the step folder
//! `<experiment>/steps/step_N` (the seed in `steps/step_0_initial`) — here a view of the
//! experiment inside the node's folder — with the candidate in `code` there, and writes
//! `results.json` there (`eval_score`, `success`). `config.yaml` gives the settings we have.

use std::path::{Path, PathBuf};

use super::asi_config::AsiConfig;
use super::{
    CognitionSource, Evaluator, Layout, Limits, Stage, Suite, SuiteError, Workspace, cognition_items, peer_yaml, read,
};

/// `pipeline.engineer_timeout` when the experiment's config gives none: the reference
/// framework's 3600 s is longer than any demo needs, so ours is 300 s (a campaign's
/// `[engineer] timeout_s` overrides either).
const TIMEOUT_S: f64 = 300.0;
/// Where the candidate goes in the step folder: `eval.sh` reads `code`.
const CANDIDATE_FILE: &str = "code";
/// What the reference demo's `eval.sh` logs into the step folder.
const LOG_FILES: [&str; 1] = ["eval.log"];

pub(super) fn load(dir: PathBuf) -> Result<Suite, SuiteError> {
    let seed_path = seed_program(&dir)?;
    let config_path = dir.join("config.yaml");
    let config: AsiConfig = peer_yaml::load(&config_path)?;
    let settings = config.settings().map_err(|message| SuiteError::Manifest { path: config_path.clone(), message })?;
    let timeout_s = match config.pipeline.engineer_timeout {
        Some(t) if t > 0.0 && t.is_finite() => t,
        Some(t) => {
            return Err(SuiteError::Manifest {
                path: config_path,
                message: format!("pipeline.engineer_timeout = {t} is not a positive number of seconds"),
            });
        }
        None => TIMEOUT_S,
    };
    let command = vec!["bash".to_owned(), "{suite_dir}/eval.sh".to_owned()];
    Ok(Suite {
        name: super::folder_name(&dir),
        description: format!("ASI-Evolve experiment {}", dir.display()),
        layout: Layout::AsiEvolveExperiment,
        task: read(&dir.join("input.md"))?,
        seed_program: read(&seed_path)?,
        candidate_file: CANDIDATE_FILE.into(),
        cognition: cognition(&dir)?,
        evaluator: Evaluator {
            timeout_s,
            env: Vec::new(),
            stages: vec![Stage { command, timeout_s, threshold: None }],
            static_check: None,
            warm: None,
            limits: Limits::default(),
            support_files: Vec::new(),
            log_files: LOG_FILES.map(String::from).to_vec(),
            cache: false,
        },
        references: Vec::new(),
        workspace: Workspace::AsiSteps,
        primary_metric: None,
        settings,
        dir,
    })
}

/// `initial_program`, else the first `initial_program.*` in name order.
fn seed_program(dir: &Path) -> Result<PathBuf, SuiteError> {
    let bare = dir.join("initial_program");
    if bare.is_file() {
        return Ok(bare);
    }
    let entries = std::fs::read_dir(dir).map_err(|source| SuiteError::Read { path: dir.to_owned(), source })?;
    let mut found: Vec<PathBuf> = entries
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.is_file() && p.file_stem().is_some_and(|s| s == "initial_program"))
        .collect();
    found.sort();
    found.into_iter().next().ok_or_else(|| SuiteError::Read {
        path: bare,
        source: std::io::Error::new(std::io::ErrorKind::NotFound, "an experiment needs initial_program[.ext]"),
    })
}

/// A `cognition/` folder of markdown items if the experiment has one; else the items of
/// `init_cognition.json` or `init_cognition.py`.
fn cognition(dir: &Path) -> Result<CognitionSource, SuiteError> {
    let own = dir.join("cognition");
    if !own.is_dir() {
        for name in ["init_cognition.json", "init_cognition.py"] {
            let path = dir.join(name);
            if path.is_file() {
                return Ok(CognitionSource::Items(cognition_items::items(&path)?));
            }
        }
    }
    Ok(CognitionSource::Folder(own))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_an_experiment_folder_as_it_is() {
        let dir = tempfile::tempdir().unwrap();
        let d = dir.path();
        std::fs::write(d.join("input.md"), "# Maximise x").unwrap();
        std::fs::write(d.join("initial_program.py"), "x = 1.0\n").unwrap();
        std::fs::write(d.join("eval.sh"), "echo '{\"eval_score\": 1}' > results.json\n").unwrap();
        std::fs::write(d.join("init_cognition.py"), "ITEMS = [{'title': 'Grow x', 'content': 'Bigger is better.'}]\n")
            .unwrap();
        let s = Suite::resolve(d.to_str().unwrap()).unwrap();
        assert_eq!(s.layout, Layout::AsiEvolveExperiment);
        assert_eq!(
            (s.task.as_str(), s.seed_program.as_str(), s.candidate_file.as_str()),
            ("# Maximise x", "x = 1.0\n", "code")
        );
        assert_eq!(s.evaluator.stages[0].command[1], "{suite_dir}/eval.sh");
        let base = crate::cognition::CognitionBase::for_suite(&s).unwrap();
        assert_eq!(base.len(), 1);
    }

    #[test]
    fn a_missing_seed_is_named() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("input.md"), "t").unwrap();
        std::fs::write(dir.path().join("eval.sh"), "true").unwrap();
        let err = Suite::load(dir.path()).unwrap_err().to_string();
        assert!(err.contains("initial_program"), "{err}");
    }
}
