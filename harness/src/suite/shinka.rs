//! A ShinkaEvolve example folder, read as it is: `initial.py` is the seed and `evaluate.py` the
//! evaluator. As ShinkaEvolve's local scheduler does, `evaluate.py --program_path gen_N/main.py
//! --results_dir gen_N/results` runs in the folder the example is launched from — here a view of
//! it in the node's folder — through `harness/support/shinka_driver.py`, which turns the
//! `metrics.json` and `correct.json` that `run_shinka_eval` saves into the results protocol.
//! When ShinkaEvolve is not installed, `shinka.core.run_shinka_eval` is our stand-in
//! (`harness/support/shinka_shim.py`). The task is the folder's README; the example's YAML
//! configs hold LLM and database settings this harness does not share.

use std::path::PathBuf;

use super::{CognitionSource, Evaluator, Layout, Limits, Stage, Suite, SuiteError, Workspace, read};

const DRIVER_FILE: &str = "shinka_driver.py";
const DRIVER: &str = include_str!("../../support/shinka_driver.py");
const SHIM_FILE: &str = "shinka_shim.py";
const SHIM: &str = include_str!("../../support/shinka_shim.py");
/// The examples' `LocalJobConfig(time="00:05:00")`.
const TIMEOUT_S: f64 = 300.0;
/// ShinkaEvolve's program file in a generation folder.
const CANDIDATE_FILE: &str = "main.py";

pub(super) fn load(dir: PathBuf) -> Result<Suite, SuiteError> {
    let command = vec![
        "python3".to_owned(),
        format!("{{workdir}}/{DRIVER_FILE}"),
        "{suite_dir}/evaluate.py".into(),
        "{candidate}".into(),
        "{workdir}/results".into(),
    ];
    let readme = dir.join("README.md");
    let task = if readme.is_file() {
        read(&readme)?
    } else {
        "Improve the program so that evaluate.py gives it a higher combined_score.\n".into()
    };
    Ok(Suite {
        name: super::folder_name(&dir),
        description: format!("ShinkaEvolve example {}", dir.display()),
        layout: Layout::ShinkaEvolveExample,
        task,
        seed_program: read(&dir.join("initial.py"))?,
        candidate_file: CANDIDATE_FILE.into(),
        cognition: CognitionSource::Folder(dir.join("cognition")),
        evaluator: Evaluator {
            timeout_s: TIMEOUT_S,
            // What ShinkaEvolve's local launcher adds to the evaluation's environment.
            env: vec![("PYTHONUNBUFFERED".into(), "1".into()), ("PYTHONIOENCODING".into(), "utf-8".into())],
            stages: vec![Stage { command, timeout_s: TIMEOUT_S, threshold: None }],
            static_check: None,
            limits: Limits::default(),
            support_files: vec![(DRIVER_FILE.into(), DRIVER.into()), (SHIM_FILE.into(), SHIM.into())],
            log_files: Vec::new(),
            cache: false,
            warm: None,
        },
        references: Vec::new(),
        workspace: Workspace::ShinkaGenerations,
        primary_metric: None,
        settings: toml::Table::new(),
        dir,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_an_example_folder_as_it_is() {
        let dir = tempfile::tempdir().unwrap();
        let d = dir.path();
        std::fs::write(d.join("initial.py"), "x = 1.0\n").unwrap();
        std::fs::write(d.join("evaluate.py"), "from shinka.core import run_shinka_eval\n").unwrap();
        let s = Suite::resolve(d.to_str().unwrap()).unwrap();
        assert_eq!((s.layout, s.candidate_file.as_str()), (Layout::ShinkaEvolveExample, "main.py"));
        assert_eq!(s.workspace, Workspace::ShinkaGenerations);
        assert_eq!(s.evaluator.stages[0].command[2..], ["{suite_dir}/evaluate.py", "{candidate}", "{workdir}/results"]);
    }
}
