//! An OpenEvolve example folder, read as it is: `initial_program.py` is the seed and
//! `evaluator.py` the evaluator, run through `harness/support/openevolve_driver.py`, which calls
//! `evaluate(program_path)` — or, with `cascade_evaluation`, `evaluate_stage1..3` gated exactly
//! as OpenEvolve's own `evaluator.py` gates them — and converts what it returns into the
//! results protocol. The config is `config.yaml`, else the first `config*.yaml` by name (an
//! example such as circle_packing ships `config_phase_1.yaml`, `config_phase_2.yaml`).

use std::path::{Path, PathBuf};

use serde::Deserialize;

use super::asi_config::put;
use super::{CognitionSource, Evaluator, Layout, Limits, Stage, Suite, SuiteError, Workspace, peer_yaml, read};

/// Written into each node's folder and run there.
pub(super) const DRIVER_FILE: &str = "openevolve_driver.py";
const DRIVER: &str = include_str!("../../support/openevolve_driver.py");
/// OpenEvolve's own defaults for the settings read from the config.
const TIMEOUT_S: f64 = 300.0;
const CASCADE_THRESHOLDS: [f64; 3] = [0.5, 0.75, 0.9];
const FEATURE_DIMENSIONS: [&str; 2] = ["complexity", "diversity"];
/// OpenEvolve stops at a third stage.
const MAX_STAGES: usize = 3;
/// Time the driver gets beyond its stages' own timeouts (Python start-up, the import).
const DRIVER_GRACE_S: f64 = 10.0;

/// The settings of an OpenEvolve config that this harness has; every other key is ignored.
#[derive(Debug, Default, Deserialize)]
#[serde(default)]
struct OpenEvolveConfig {
    random_seed: Option<u64>,
    prompt: PromptSection,
    evaluator: EvaluatorSection,
    database: DatabaseSection,
}

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
struct PromptSection {
    system_message: Option<String>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
struct EvaluatorSection {
    timeout: Option<f64>,
    cascade_evaluation: Option<bool>,
    cascade_thresholds: Option<Vec<f64>>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
struct DatabaseSection {
    population_size: Option<usize>,
    num_islands: Option<usize>,
    migration_interval: Option<u64>,
    migration_rate: Option<f64>,
    feature_dimensions: Option<Vec<String>>,
    feature_bins: Option<FeatureBins>,
}

#[derive(Debug, Deserialize)]
#[serde(untagged)]
enum FeatureBins {
    All(usize),
    PerDimension(std::collections::BTreeMap<String, usize>),
}

pub(super) fn load(dir: PathBuf) -> Result<Suite, SuiteError> {
    let config_path = config_file(&dir)?;
    let config: OpenEvolveConfig = match &config_path {
        Some(path) => peer_yaml::load(path)?,
        None => OpenEvolveConfig::default(),
    };
    let invalid = |message: String| SuiteError::Manifest {
        path: config_path.clone().unwrap_or_else(|| dir.join("config.yaml")),
        message,
    };
    let timeout_s = config.evaluator.timeout.unwrap_or(TIMEOUT_S);
    if !(timeout_s > 0.0 && timeout_s.is_finite()) {
        return Err(invalid(format!("evaluator.timeout = {timeout_s} is not a positive number of seconds")));
    }
    let thresholds = config.evaluator.cascade_thresholds.clone().unwrap_or_else(|| CASCADE_THRESHOLDS.to_vec());
    let cascade = config.evaluator.cascade_evaluation.unwrap_or(true);

    let evaluator_path = dir.join("evaluator.py");
    let source = read(&evaluator_path)?;
    let stages = stage_count(&source, cascade);
    if stages == 0 {
        return Err(SuiteError::Manifest {
            path: evaluator_path,
            message: "defines no top-level `def evaluate(program_path)` (nor `evaluate_stage1`)".into(),
        });
    }
    if cascade && stages > 1 && thresholds.is_empty() {
        return Err(invalid("evaluator.cascade_thresholds is empty: OpenEvolve's cascade needs one per gate".into()));
    }
    let features =
        config.database.feature_dimensions.clone().unwrap_or_else(|| FEATURE_DIMENSIONS.map(String::from).to_vec());
    let mut command = vec![
        "python3".into(),
        format!("{{workdir}}/{DRIVER_FILE}"),
        "{suite_dir}/evaluator.py".into(),
        "{candidate}".into(),
        "--timeout".into(),
        timeout_s.to_string(),
        "--features".into(),
        features.join(","),
    ];
    if cascade {
        command.push("--cascade".into());
        command.push(thresholds.iter().map(f64::to_string).collect::<Vec<_>>().join(","));
    }
    // The driver bounds each stage as OpenEvolve does; this bounds the whole cascade.
    let outer_timeout = timeout_s * stages as f64 + DRIVER_GRACE_S;
    Ok(Suite {
        name: super::folder_name(&dir),
        description: format!(
            "OpenEvolve example {}{}",
            dir.display(),
            config_path.as_ref().map(|p| format!(" with {}", p.display())).unwrap_or_default()
        ),
        layout: Layout::OpenEvolveExample,
        task: task(&config, &dir)?,
        seed_program: read(&dir.join("initial_program.py"))?,
        candidate_file: "candidate.py".into(),
        cognition: CognitionSource::Folder(dir.join("cognition")),
        evaluator: Evaluator {
            timeout_s: outer_timeout,
            env: Vec::new(),
            stages: vec![Stage { command, timeout_s: outer_timeout, threshold: None }],
            // OpenEvolve has no such check; compiling first only makes a syntax error a
            // `syntax_error` instead of whatever the example's evaluator reports for it.
            static_check: Some(
                ["python3", "-c", "import sys; p = sys.argv[1]; compile(open(p).read(), p, 'exec')", "{candidate}"]
                    .map(String::from)
                    .to_vec(),
            ),
            limits: Limits::default(),
            support_files: vec![(DRIVER_FILE.into(), DRIVER.into())],
            log_files: Vec::new(),
            cache: false,
            warm: None,
        },
        references: Vec::new(),
        workspace: Workspace::NodeFolder,
        primary_metric: None,
        settings: settings(&config).map_err(invalid)?,
        dir,
    })
}

/// `config.yaml`, else the first `config*.yaml` in name order, if any.
fn config_file(dir: &Path) -> Result<Option<PathBuf>, SuiteError> {
    let plain = dir.join("config.yaml");
    if plain.is_file() {
        return Ok(Some(plain));
    }
    let entries = std::fs::read_dir(dir).map_err(|source| SuiteError::Read { path: dir.to_owned(), source })?;
    let mut found: Vec<PathBuf> = entries
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| {
            p.is_file()
                && p.file_name()
                    .and_then(|n| n.to_str())
                    .is_some_and(|n| n.starts_with("config") && n.ends_with(".yaml"))
        })
        .collect();
    found.sort();
    Ok(found.into_iter().next())
}

/// The campaign-config keys the config gives: islands (or, without them, a MAP-Elites grid over
/// the feature dimensions), the population size as the sampling pool, and the seed.
fn settings(config: &OpenEvolveConfig) -> Result<toml::Table, String> {
    let db = &config.database;
    let mut top = toml::Table::new();
    put(&mut top, "seed", config.random_seed.map(|s| toml::Value::from(s as i64)));
    put(&mut top, "pool_size", db.population_size.map(|n| toml::Value::from(n as i64)));
    let mut sampler = toml::Table::new();
    if let Some(islands) = db.num_islands {
        sampler.insert("kind".into(), "islands".into());
        sampler.insert("islands".into(), (islands as i64).into());
        put(&mut sampler, "migration_interval", db.migration_interval.map(|n| toml::Value::from(n as i64)));
        put(&mut sampler, "migration_rate", db.migration_rate.map(toml::Value::from));
    } else if let Some(dimensions) = &db.feature_dimensions {
        sampler.insert("kind".into(), "map-elites".into());
        let mut axes: Vec<toml::Value> = Vec::new();
        for name in dimensions {
            let bins = match &db.feature_bins {
                None => 10,
                Some(FeatureBins::All(n)) => *n,
                Some(FeatureBins::PerDimension(map)) => map.get(name).copied().unwrap_or(10),
            };
            let axis = match name.as_str() {
                "complexity" => "code_length".to_owned(),
                "diversity" => "diversity".to_owned(),
                metric => format!("metric:{metric}"),
            };
            let mut t = toml::Table::new();
            t.insert("name".into(), axis.into());
            t.insert("bins".into(), (bins as i64).into());
            axes.push(t.into());
        }
        sampler.insert("features".into(), axes.into());
    }
    if !sampler.is_empty() {
        top.insert("sampler".into(), sampler.into());
    }
    Ok(top)
}

/// Stage functions OpenEvolve would call: `evaluate_stage1` and the consecutive later ones
/// with a cascade, else `evaluate`; 0 if neither is defined. Found as top-level `def` lines.
fn stage_count(source: &str, cascade: bool) -> usize {
    let defines = |name: &str| {
        source.lines().any(|l| {
            let l = l.strip_prefix("async ").unwrap_or(l);
            l.strip_prefix("def ")
                .and_then(|rest| rest.strip_prefix(name))
                .is_some_and(|r| r.trim_start().starts_with('('))
        })
    };
    if cascade && defines("evaluate_stage1") {
        (2..=MAX_STAGES).take_while(|n| defines(&format!("evaluate_stage{n}"))).count() + 1
    } else {
        usize::from(defines("evaluate"))
    }
}

/// The config's system message, else the folder's README, else a statement built from the files.
fn task(config: &OpenEvolveConfig, dir: &Path) -> Result<String, SuiteError> {
    if let Some(message) = config.prompt.system_message.as_deref().filter(|m| !m.trim().is_empty()) {
        return Ok(message.to_owned());
    }
    let readme = dir.join("README.md");
    if readme.is_file() {
        return read(&readme);
    }
    Ok("Improve the program so that evaluator.py's `evaluate(program_path)` gives it a higher combined_score.\n".into())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stage_functions_follow_openevolve() {
        let src =
            "def evaluate(p):\n    pass\ndef evaluate_stage1(p):\n    pass\nasync def evaluate_stage2 (p):\n    pass\n";
        assert_eq!(stage_count(src, true), 2);
        assert_eq!(stage_count(src, false), 1);
        assert_eq!(stage_count("def evaluate_all(p): pass\n", true), 0);
    }

    #[test]
    fn reads_an_example_folder_and_its_phase_config() {
        let dir = tempfile::tempdir().unwrap();
        let d = dir.path();
        std::fs::write(d.join("initial_program.py"), "x = 1.0\n").unwrap();
        std::fs::write(d.join("evaluator.py"), "def evaluate_stage1(p): pass\ndef evaluate_stage2(p): pass\n").unwrap();
        std::fs::write(d.join("config_phase_2.yaml"), "prompt:\n  system_message: \"phase 2\"\n").unwrap();
        std::fs::write(
            d.join("config_phase_1.yaml"),
            "random_seed: 7\nprompt:\n  system_message: |\n    Maximise x # not a comment.\n    Second line.\n\
             evaluator:\n  timeout: 20 # seconds\n  cascade_thresholds: [0.4, 0.8]\n\
             database:\n  population_size: 60\n  archive_size: 25\n  num_islands: 4\n  feature_dimensions: [\"complexity\", \"a, b\"]\n",
        )
        .unwrap();
        let s = Suite::resolve(d.to_str().unwrap()).unwrap();
        assert_eq!(
            (s.layout, s.task.as_str()),
            (Layout::OpenEvolveExample, "Maximise x # not a comment.\nSecond line.\n")
        );
        let command = &s.evaluator.stages[0].command;
        assert_eq!(command[4..], ["--timeout", "20", "--features", "complexity,a, b", "--cascade", "0.4,0.8"]);
        assert_eq!(s.evaluator.stages[0].timeout_s, 2.0 * 20.0 + DRIVER_GRACE_S);
        assert_eq!(s.evaluator.support_files[0].0, DRIVER_FILE);
        let expected: toml::Table =
            toml::from_str("seed = 7\npool_size = 60\n[sampler]\nkind = \"islands\"\nislands = 4\n").unwrap();
        assert_eq!(s.settings, expected);

        std::fs::write(d.join("config.yaml"), "evaluator:\n  timeout: soon\n").unwrap();
        let err = Suite::load(d).unwrap_err().to_string();
        assert!(err.contains("config.yaml") && err.contains("timeout"), "{err}");
        std::fs::write(d.join("config.yaml"), "evaluator:\n  cascade_thresholds: []\n").unwrap();
        assert!(Suite::load(d).unwrap_err().to_string().contains("cascade_thresholds is empty"));
    }

    #[test]
    fn without_islands_the_feature_dimensions_make_a_map_elites_grid() {
        let c: OpenEvolveConfig =
            peer_yaml::parse("database:\n  feature_dimensions: [complexity, score]\n  feature_bins: {score: 4}\n")
                .unwrap();
        let expected: toml::Table = toml::from_str(
            "[sampler]\nkind = \"map-elites\"\nfeatures = [{ name = \"code_length\", bins = 10 }, { name = \"metric:score\", bins = 4 }]\n",
        )
        .unwrap();
        assert_eq!(settings(&c).unwrap(), expected);
    }
}
