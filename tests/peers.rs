//! End to end: the peers' task folders, as fixtures of our own that reproduce each peer's
//! contract — ASI-Evolve's experiment (eval.sh run in `<experiment>/steps/step_N`, finding its
//! evaluator two folders up), OpenEvolve's example (its cascade gates) and ShinkaEvolve's
//! example (evaluate.py with `run_shinka_eval`, metrics.json and correct.json) — each run for a
//! few rounds with every node of the seed valid, and `asi-evolve evaluate circle-packing` on
//! the peers' program shapes.

mod common;

use std::path::{Path, PathBuf};

use asi_evolve::database::Database;
use asi_evolve::node::{FailureClass, Node, Status};
use common::*;

fn fixture(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../tests/fixtures").join(name)
}

fn campaign(suite: &Path, rounds: u32, out: &Path, extra: &[&str]) -> Vec<Node> {
    let rounds = rounds.to_string();
    let mut args = vec!["run", suite.to_str().unwrap(), "--rounds", &rounds, "--out", out.to_str().unwrap()];
    args.extend_from_slice(extra);
    assert_ok(&asi_evolve(&args));
    Database::open(out).unwrap().nodes().unwrap()
}

fn all_valid(nodes: &[Node]) {
    assert!(nodes.iter().all(|n| n.status == Status::Valid || n.failure == Some(FailureClass::Duplicate)), "{nodes:?}");
}

fn stored_config(run: &Path) -> toml::Table {
    toml::from_str(&std::fs::read_to_string(run.join("config.toml")).unwrap()).unwrap()
}

fn evaluate(suite: &Path, program: &str, dir: &Path) -> (Option<i32>, serde_json::Value) {
    let path = dir.join("program.py");
    std::fs::write(&path, program).unwrap();
    // A fresh folder each time: `--workdir` refuses one that holds an earlier evaluation.
    let workdir = tempfile::Builder::new().prefix("work-").tempdir_in(dir).unwrap().keep();
    let o = asi_evolve(&[
        "evaluate",
        suite.to_str().unwrap(),
        path.to_str().unwrap(),
        "--workdir",
        workdir.to_str().unwrap(),
    ]);
    let report = serde_json::from_slice(&o.stdout).unwrap_or_else(|_| panic!("{}\n{}", stdout(&o), stderr(&o)));
    (o.status.code(), report)
}

#[test]
fn an_asi_evolve_experiment_runs_in_its_step_folders_with_its_config() {
    let tmp = tempfile::tempdir().unwrap();
    let run = tmp.path().join("run");
    let nodes = campaign(&fixture("asi-evolve-experiment"), 4, &run, &[]);
    assert_eq!(nodes.len(), 5);
    all_valid(&nodes);
    assert_eq!(nodes[0].score, Some(-6.25));
    // Upstream's layout: the seed in steps/step_0_initial, round N in steps/step_N, inside a
    // view of the experiment where eval.sh finds evaluator.py two folders up.
    let seed = run.join("nodes/00000");
    assert!(seed.join("steps/step_0_initial/code").is_file() && seed.join("steps/step_0_initial/eval.log").is_file());
    assert!(run.join("nodes/00003/steps/step_3/results.json").is_file());
    assert!(seed.join("evaluator.py").is_symlink(), "the experiment is linked, not copied");
    assert_eq!(nodes[0].metrics["x"].as_f64(), Some(0.5));

    // config.yaml's settings, beneath the campaign's own.
    let c = stored_config(&run);
    assert_eq!((c["parents"].as_integer(), c["pool_size"].as_integer()), (Some(2), Some(50)));
    assert_eq!(c["sampler"]["kind"].as_str(), Some("islands"));
    assert_eq!(
        (c["sampler"]["islands"].as_integer(), c["sampler"]["migration_interval"].as_integer()),
        (Some(2), Some(3))
    );
    assert_eq!(
        (
            c["cognition"]["top_k"].as_integer(),
            c["cognition"]["retrieval"]["kind"].as_str(),
            c["cognition"]["retrieval"]["min_similarity"].as_float()
        ),
        (Some(1), Some("minilm"), Some(0.4))
    );
    assert_eq!(c["judge"]["ratio"].as_float(), Some(0.2));
    assert!(nodes.iter().all(|n| n.parents.len() <= 2));
    let manifest = std::fs::read_to_string(run.join("manifest.toml")).unwrap();
    assert!(manifest.contains("timeout") || manifest.contains("eval.sh"), "{manifest}");

    let suite = asi_evolve::suite::Suite::resolve(fixture("asi-evolve-experiment").to_str().unwrap()).unwrap();
    assert_eq!(suite.evaluator.timeout_s, 60.0, "pipeline.engineer_timeout");
    let items = asi_evolve::suite::cognition_items::items(&suite.dir.join("init_cognition.py")).unwrap();
    assert_eq!(items.len(), 2, "init_cognition.py's items, read by Python's ast without running it");
    assert!(items[0].1.contains("past it.\nIts maximum"), "octal escape: {:?}", items[0].1);
    assert!(items[1].1.contains("0 – a step"), "named escape: {:?}", items[1].1);
}

#[test]
fn campaign_config_and_flags_override_an_experiments_config() {
    let tmp = tempfile::tempdir().unwrap();
    let config = tmp.path().join("c.toml");
    std::fs::write(&config, "parents = 1\n[sampler]\nkind = \"greedy\"\n[cognition]\ntop_k = 3\n").unwrap();
    let dir = fixture("asi-evolve-experiment");
    let c = asi_evolve::config_layers::load(Some(&config), dir.to_str()).unwrap();
    assert_eq!((c.parents, c.pool_size, c.cognition.top_k), (1, 50, 3));
    assert_eq!(c.sampler, asi_evolve::config::SamplerConfig::Greedy {}, "the islands' settings are not inherited");
    std::fs::write(&config, "parents = 1\nparentz = 2\n").unwrap();
    let err = asi_evolve::config_layers::load(Some(&config), dir.to_str()).unwrap_err().to_string();
    assert!(err.contains("c.toml") && err.contains("parentz"), "{err}");
}

#[test]
fn an_experiment_that_rejects_silently_says_why_from_its_eval_log() {
    let tmp = tempfile::tempdir().unwrap();
    let (code, report) = evaluate(&fixture("asi-evolve-experiment"), "x = float('nan')\n", tmp.path());
    assert_eq!(code, Some(1), "{report}");
    assert_eq!(report["failure"], "invalid_result", "{report}");
    let reason = report["reason"].as_str().unwrap();
    assert!(reason.contains("eval.log:") && reason.contains("ValueError: x is not finite: nan"), "{reason}");
}

#[test]
fn an_openevolve_example_runs_with_its_cascade_and_config() {
    let tmp = tempfile::tempdir().unwrap();
    let run = tmp.path().join("run");
    let report = tmp.path().join("report.toml");
    std::fs::write(&report, "[report]\nprimary_metric = \"x\"\n").unwrap();
    let nodes = campaign(&fixture("openevolve-example"), 4, &run, &["--config", report.to_str().unwrap()]);
    assert_eq!(nodes.len(), 5);
    all_valid(&nodes);
    let seed = &nodes[0];
    assert_eq!(seed.score, Some(1.0 / (1.0 + 2.5 * 2.5)));
    assert_eq!((seed.metrics["stage"].as_f64(), seed.metrics["stages"].as_f64()), (Some(2.0), Some(2.0)));
    assert_eq!((seed.metrics["x"].as_f64(), seed.metrics["runs"].as_f64()), (Some(0.5), Some(1.0)));
    assert!(seed.feedback.contains("x = 0.5"), "artifacts become feedback: {}", seed.feedback);
    let c = stored_config(&run);
    assert_eq!(
        (c["seed"].as_integer(), c["pool_size"].as_integer()),
        (Some(5), Some(40)),
        "random_seed, population_size"
    );
    assert_eq!((c["sampler"]["kind"].as_str(), c["sampler"]["islands"].as_integer()), (Some("islands"), Some(2)));

    let shown = stdout(&asi_evolve(&["show", run.to_str().unwrap()]));
    let header = shown.lines().find(|l| l.trim_start().starts_with("round")).unwrap();
    assert!(header.contains(" x ") || header.contains(" x  "), "primary metric column: {header}");
    assert!(header.contains("stage"), "{header}");
    assert!(shown.contains("    2/2  "), "{shown}");
    assert!(shown.contains("  x 0.5") || shown.lines().any(|l| l.starts_with("best") && l.contains(" x ")), "{shown}");
}

/// An OpenEvolve example folder with `evaluator` as its evaluator.py.
fn openevolve(dir: &Path, evaluator: &str, config: &str) -> PathBuf {
    let d = dir.join("example");
    std::fs::create_dir_all(&d).unwrap();
    std::fs::write(d.join("initial_program.py"), "X = 0.5\n").unwrap();
    std::fs::write(d.join("evaluator.py"), evaluator).unwrap();
    std::fs::write(d.join("config.yaml"), config).unwrap();
    d
}

#[test]
fn openevolve_cascades_are_gated_as_openevolve_gates_them() {
    let tmp = tempfile::tempdir().unwrap();
    let stages = "def evaluate_stage1(p):\n    return {'combined_score': 0.6, 'a': 1}\n\
        def evaluate_stage2(p):\n    return {'b': 0.2, 'error': 'ignored once merged'}\n\
        def evaluate_stage3(p):\n    return {'combined_score': 0.95, 'c': 3}\n";
    // Stage 3 is gated on stages 1 and 2 merged: stage 1's combined_score 0.6 passes 0.55.
    let d = openevolve(tmp.path(), stages, "evaluator:\n  cascade_thresholds: [0.5, 0.55]\n");
    let (code, r) = evaluate(&d, "X = 1\n", tmp.path());
    assert_eq!(code, Some(0), "{r}");
    assert_eq!((r["score"].as_f64(), r["metrics"]["stage"].as_f64()), (Some(0.95), Some(3.0)), "{r}");
    assert_eq!(
        (r["metrics"]["a"].as_f64(), r["metrics"]["b"].as_f64(), r["metrics"]["c"].as_f64()),
        (Some(1.0), Some(0.2), Some(3.0))
    );
    // ... and stops before it when the merged metrics fall short; with one threshold there is no stage 3.
    for config in ["evaluator:\n  cascade_thresholds: [0.5, 0.61]\n", "evaluator:\n  cascade_thresholds: [0.5]\n"] {
        let d = openevolve(tmp.path(), stages, config);
        let (_, r) = evaluate(&d, "X = 1\n", tmp.path());
        assert_eq!((r["score"].as_f64(), r["metrics"]["stage"].as_f64()), (Some(0.6), Some(2.0)), "{config}: {r}");
        assert_eq!(r["status"], "valid", "the merged metrics have no `error`: {r}");
    }
    // Stage 1 below its threshold is the outcome, with stage 1's own metrics.
    let d = openevolve(tmp.path(), stages, "evaluator:\n  cascade_thresholds: [0.7]\n");
    let (_, r) = evaluate(&d, "X = 1\n", tmp.path());
    assert_eq!(
        (r["score"].as_f64(), r["metrics"]["stage"].as_f64(), r["metrics"]["stages"].as_f64()),
        (Some(0.6), Some(1.0), Some(3.0))
    );
    assert!(r["metrics"].get("b").is_none(), "{r}");
    // A later stage that raises keeps the earlier result, marked `stage2_passed: 0`.
    let raising = "def evaluate_stage1(p):\n    return {'combined_score': 0.6}\ndef evaluate_stage2(p):\n    raise RuntimeError('boom')\n";
    let d = openevolve(tmp.path(), raising, "evaluator:\n  cascade_thresholds: [0.5]\n");
    let (code, r) = evaluate(&d, "X = 1\n", tmp.path());
    assert_eq!(
        (code, r["score"].as_f64(), r["metrics"]["stage2_passed"].as_f64()),
        (Some(0), Some(0.6), Some(0.0)),
        "{r}"
    );
    assert!(r["feedback"].as_str().unwrap().contains("RuntimeError: boom"), "{r}");
    // Without the cascade, `evaluate` runs; without combined_score the fitness is the mean of
    // the numeric metrics that are not feature dimensions.
    let direct = "def evaluate(p):\n    return {'p': 0.2, 'q': 0.4, 'complexity': 99, 'flag': True}\ndef evaluate_stage1(p):\n    raise SystemExit(3)\n";
    let d = openevolve(tmp.path(), direct, "evaluator:\n  cascade_evaluation: false\n");
    let (_, r) = evaluate(&d, "X = 1\n", tmp.path());
    assert!((r["score"].as_f64().unwrap() - 0.3).abs() < 1e-12, "{r}");
}

#[test]
fn a_shinkaevolve_example_runs_in_its_generation_folders() {
    let tmp = tempfile::tempdir().unwrap();
    let run = tmp.path().join("run");
    let nodes = campaign(&fixture("shinkaevolve-example"), 4, &run, &[]);
    assert_eq!(nodes.len(), 5);
    all_valid(&nodes);
    let seed = &nodes[0];
    assert_eq!(seed.score, Some(1.0 / (1.0 + 2.5 * 2.5)));
    assert_eq!((seed.metrics["x"].as_f64(), seed.metrics["distance"].as_f64()), (Some(0.5), Some(2.5)));
    assert_eq!(
        (seed.metrics["num_valid_runs"].as_f64(), seed.metrics["num_invalid_runs"].as_f64()),
        (Some(2.0), Some(0.0))
    );
    assert!(seed.feedback.contains("summary: x = 0.5"), "{}", seed.feedback);
    let generation = run.join("nodes/00000/gen_0");
    assert!(generation.join("main.py").is_file());
    let correct: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(generation.join("results/correct.json")).unwrap()).unwrap();
    assert_eq!(correct, serde_json::json!({"correct": true, "error": null}));
    assert!(generation.join("results/metrics.json").is_file());
    assert!(run.join("nodes/00002/target.txt").is_symlink(), "evaluate.py runs in a view of the example");

    let (code, r) =
        evaluate(&fixture("shinkaevolve-example"), "def run_guess(seed):\n    return float('inf')\n", tmp.path());
    assert_eq!((code, r["failure"].as_str()), (Some(1), Some("invalid_result")), "{r}");
    assert!(r["reason"].as_str().unwrap().contains("Validation failed: run_guess returned inf"), "{r}");
}

#[test]
fn the_circle_packing_judge_takes_the_peers_program_shapes() {
    let tmp = tempfile::tempdir().unwrap();
    let suite = Path::new(env!("CARGO_MANIFEST_DIR")).join("../suites/circle-packing");
    // Sixteen touching circles of radius 1/8 and ten of radius 0 on the bottom edge: every
    // coordinate is exact in binary, so the packing is valid at zero tolerance.
    let grid = "import numpy as np\n\
        def layout():\n    c = [(0.125 + 0.25 * (i % 4), 0.125 + 0.25 * (i // 4)) for i in range(16)]\n    \
        c += [(k / 16, 0.0) for k in range(10)]\n    return np.array(c), np.array([0.125] * 16 + [0.0] * 10)\n";
    // ASI-Evolve's programs define construct_packing() returning (centers, radii, sum_radii).
    let asi = format!("{grid}def construct_packing():\n    c, r = layout()\n    return c, r, float(np.sum(r))\n");
    let (code, r) = evaluate(&suite, &asi, tmp.path());
    assert_eq!((code, r["status"].as_str()), (Some(0), Some("valid")), "{r}");
    assert_eq!(r["score"].as_f64(), Some(2.0), "{r}");
    // OpenEvolve's and ShinkaEvolve's define run_packing(), which wins when both exist.
    let both =
        format!("{asi}def run_packing():\n    c, r = layout()\n    r[0] = 0.0625\n    return c, r, float(np.sum(r))\n");
    let (_, r) = evaluate(&suite, &both, tmp.path());
    assert_eq!(r["score"].as_f64(), Some(1.9375), "{r}");
    let (code, r) = evaluate(&suite, "def packing():\n    pass\n", tmp.path());
    assert_eq!(code, Some(1));
    assert!(r["reason"].as_str().unwrap().contains("construct_packing"), "{r}");
}

#[test]
fn a_peer_folders_node_table_does_not_depend_on_workers_or_where_the_run_lives() {
    let tmp = tempfile::tempdir().unwrap();
    let (one, three) = (tmp.path().join("one"), tmp.path().join("elsewhere/three"));
    let dir = fixture("asi-evolve-experiment");
    campaign(&dir, 4, &one, &["--workers", "1"]);
    campaign(&dir, 4, &three, &["--workers", "3"]);
    assert_eq!(node_table(&one), node_table(&three));
}
