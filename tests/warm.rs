//! Campaigns through warm fork servers (`[evaluator.warm]`): the same config and seed give the
//! same node table warm and cold, failures included, and the manifest records the resolved
//! interpreter.

mod common;

use std::path::{Path, PathBuf};

use asi_evolve::database::Database;
use asi_evolve::node::{FailureClass, Status};
use common::*;

/// Scores the candidate's `x`; some candidates write garbage, some exit without a word, and
/// one in a few wrecks the interpreter it was forked with.
const EVALUATOR: &str = r#"import json, os, sys
ns = {}
exec(open(os.environ["ASI_EVOLVE_CANDIDATE"]).read(), ns)
x = float(ns["x"])
bucket = int(abs(x) * 10) % 5
print("x =", x)
if bucket == 1:
    open(os.environ["ASI_EVOLVE_RESULTS"], "w").write("score: high")
elif bucket == 2:
    os._exit(4)
else:
    if bucket == 3:
        json.dumps = None
        sys.modules.pop("os")
    out = {"score": -abs(x - 3.0), "metrics": {"bucket": bucket}}
    open(os.environ["ASI_EVOLVE_RESULTS"], "w").write(__import__("json").JSONEncoder().encode(out))
"#;

fn suite(dir: &Path, warm: bool) -> PathBuf {
    let suite = dir.join(if warm { "warm" } else { "cold" });
    std::fs::create_dir_all(&suite).unwrap();
    let warm = if warm { "[evaluator.warm]\npreload = [\"json\"]\n" } else { "" };
    std::fs::write(
        suite.join("suite.toml"),
        format!(
            "name = \"warm\"\ntask = \"task.md\"\nseed_program = \"seed.py\"\n[evaluator]\n\
             command = [\"python3\", \"{{suite_dir}}/evaluate.py\"]\ntimeout_s = 30\n\
             static_check = [\"python3\", \"-c\", \"import sys; p = sys.argv[1]; compile(open(p).read(), p, 'exec')\", \"{{candidate}}\"]\n\
             {warm}"
        ),
    )
    .unwrap();
    std::fs::write(suite.join("task.md"), "# Bring x to 3\n").unwrap();
    std::fs::write(suite.join("seed.py"), "# EVOLVE-BLOCK-START\nx = 1.5\n# EVOLVE-BLOCK-END\n").unwrap();
    std::fs::write(suite.join("evaluate.py"), EVALUATOR).unwrap();
    suite
}

fn run(suite: &Path, out: &Path, workers: &str) {
    let o = asi_evolve(&[
        "run",
        suite.to_str().unwrap(),
        "--rounds",
        "16",
        "--seed",
        "5",
        "--workers",
        workers,
        "--out",
        out.to_str().unwrap(),
    ]);
    assert_ok(&o);
    assert!(!stderr(&o).contains("fork server"), "the warm path fell back: {}", stderr(&o));
}

#[test]
fn the_same_seed_gives_the_same_node_table_warm_and_cold() {
    let tmp = tempfile::tempdir().unwrap();
    let (cold, warm) = (tmp.path().join("cold-run"), tmp.path().join("warm-run"));
    run(&suite(tmp.path(), false), &cold, "1");
    run(&suite(tmp.path(), true), &warm, "2");
    let table = node_table(&cold);
    assert_eq!(table.len(), 17);
    assert_eq!(table, node_table(&warm), "the warm path changed the node table");

    let nodes = Database::open(&warm).unwrap().nodes().unwrap();
    let failed = |f| nodes.iter().any(|n| n.failure == Some(f));
    assert!(nodes.iter().any(|n| n.status == Status::Valid), "no valid node");
    assert!(failed(FailureClass::BadOutput) || failed(FailureClass::Crash), "no failure was exercised");
    let manifest = std::fs::read_to_string(warm.join("manifest.toml")).unwrap();
    assert!(manifest.contains("python3 = /") && manifest.contains("warm: /"), "{manifest}");
}

/// Scores 1 when, warm, the cache folder and TMPDIR were writable and the suite folder and the
/// cache folder's parent were not.
const CONFINED_EVALUATOR: &str = r#"import json, os
def refused(path):
    try:
        open(path, "w").write("evil")
    except PermissionError:
        return True
    return False
ok = refused(os.path.join(os.environ["ASI_EVOLVE_SUITE_DIR"], "seed.py"))
ok = ok and refused(os.path.join(os.environ["ASI_EVOLVE_CACHE_DIR"], "..", "planted"))
open(os.path.join(os.environ["ASI_EVOLVE_CACHE_DIR"], "entries"), "a").write("kept\n")
open(os.path.join(os.environ["TMPDIR"], "scratch"), "w").write("ok")
open(os.environ["ASI_EVOLVE_RESULTS"], "w").write(json.dumps({"score": 1.0 if ok else 0.0}))
"#;

#[test]
fn a_warm_evaluation_is_confined_like_a_cold_one_writing_only_its_folders_and_the_cache() {
    if cannot_confine() {
        return;
    }
    let tmp = tempfile::tempdir().unwrap();
    let suite = suite(tmp.path(), true);
    std::fs::write(suite.join("evaluate.py"), CONFINED_EVALUATOR).unwrap();
    let manifest = std::fs::read_to_string(suite.join("suite.toml")).unwrap();
    std::fs::write(suite.join("suite.toml"), manifest.replace("[evaluator]\n", "[evaluator]\ncache = true\n")).unwrap();
    let seed_before = std::fs::read_to_string(suite.join("seed.py")).unwrap();
    let (cache_root, out) = (tmp.path().join("cache"), tmp.path().join("run"));
    let o = std::process::Command::new(common::bin())
        .args(["run", suite.to_str().unwrap(), "--rounds", "2", "--out", out.to_str().unwrap()])
        .env("ASI_EVOLVE_CACHE", &cache_root)
        .output()
        .unwrap();
    assert_ok(&o);
    assert!(!stderr(&o).contains("fork server"), "the warm path fell back: {}", stderr(&o));
    let nodes = Database::open(&out).unwrap().nodes().unwrap();
    let scores: Vec<Option<f64>> = nodes.iter().map(|n| n.score).collect();
    assert_eq!(scores, vec![Some(1.0); 3], "a warm evaluation wrote outside its folders: {nodes:?}");
    assert_eq!(std::fs::read_to_string(suite.join("seed.py")).unwrap(), seed_before);
    let cache = cache_root.join("suites").join("warm");
    assert_eq!(std::fs::read_to_string(cache.join("entries")).unwrap(), "kept\n".repeat(3));
    assert!(!cache_root.join("suites").join("planted").exists());
}
