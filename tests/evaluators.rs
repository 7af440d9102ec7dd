//! End to end: the zero-tolerance circle-packing judge through the CLI, failing candidates,
//! and evaluators that leave processes behind.

mod common;

use std::path::Path;

use asi_evolve::database::Database;
use asi_evolve::node::{FailureClass, Status};
use common::*;

/// Writes a packing and judges it with `asi-evolve validate-packing`, returning results.json.
fn judge(dir: &Path, n: usize, packing: &str) -> serde_json::Value {
    let input = dir.join("packing.json");
    let results = dir.join("results.json");
    std::fs::write(&input, packing).unwrap();
    let o = asi_evolve(&[
        "validate-packing",
        "--n",
        &n.to_string(),
        input.to_str().unwrap(),
        "--results",
        results.to_str().unwrap(),
    ]);
    let results: serde_json::Value = serde_json::from_str(&std::fs::read_to_string(results).unwrap()).unwrap();
    // As `evaluate`: 0 valid, 1 invalid; the results are written either way.
    let expected = if results["valid"] == true { 0 } else { 1 };
    assert_eq!(o.status.code(), Some(expected), "{results}\n{}", stderr(&o));
    results
}

fn assert_rejected(results: &serde_json::Value, offence: &str) {
    assert_eq!(results["valid"], false, "{results}");
    assert!(results["score"].is_null(), "{results}");
    let feedback = results["feedback"].as_str().unwrap();
    assert!(feedback.contains(offence), "feedback does not name `{offence}`: {feedback}");
}

#[test]
fn the_judge_rejects_each_offence_by_name() {
    let tmp = tempfile::tempdir().unwrap();
    // Two circles of radius 0.25 touching at (0.5, 0.5): valid at zero tolerance.
    let touching = r#"{"centers": [[0.25, 0.5], [0.75, 0.5]], "radii": [0.25, 0.25], "reported_sum": 0.5}"#;
    let ok = judge(tmp.path(), 2, touching);
    assert_eq!(ok["valid"], true, "{ok}");
    assert_eq!(ok["score"], 0.5);

    let overlap =
        r#"{"centers": [[0.25, 0.5], [0.75, 0.5]], "radii": [0.25, 0.250000001], "reported_sum": 0.500000001}"#;
    assert_rejected(&judge(tmp.path(), 2, overlap), "overlap");

    let lying = r#"{"centers": [[0.25, 0.5], [0.75, 0.5]], "radii": [0.25, 0.25], "reported_sum": 0.6}"#;
    assert_rejected(&judge(tmp.path(), 2, lying), "reported sum");

    let nan = r#"{"centers": [[0.25, 0.5], [0.75, 0.5]], "radii": [0.25, "nan"]}"#;
    assert_rejected(&judge(tmp.path(), 2, nan), "NaN");

    // x + r = 0.75 + 0.250000000001 > 1 by about 1e-12.
    let outside = r#"{"centers": [[0.75, 0.5]], "radii": [0.250000000001]}"#;
    assert_rejected(&judge(tmp.path(), 1, outside), "right edge");
}

fn evaluate_program(code: &str) -> serde_json::Value {
    let tmp = tempfile::tempdir().unwrap();
    let program = tmp.path().join("p.py");
    std::fs::write(&program, code).unwrap();
    let o = asi_evolve(&[
        "evaluate",
        "circle-packing",
        program.to_str().unwrap(),
        "--workdir",
        tmp.path().join("w").to_str().unwrap(),
    ]);
    assert_eq!(o.status.code(), Some(1), "an invalid program exits 1\n{}", stderr(&o));
    serde_json::from_slice(&o.stdout).unwrap()
}

#[test]
fn failing_candidates_are_classified_with_their_reason() {
    let nan = evaluate_program(
        "import numpy as np\ndef run_packing():\n    c = np.full((26, 2), 0.5)\n    r = np.full(26, np.nan)\n    return c, r, float('nan')\n",
    );
    assert_eq!(nan["failure"], "invalid_result");
    assert!(nan["reason"].as_str().unwrap().contains("NaN"), "{nan}");

    let syntax = evaluate_program("def run_packing(:\n    pass\n");
    assert_eq!(syntax["failure"], "syntax_error", "{syntax}");

    let crash = evaluate_program("def run_packing():\n    return 1 / 0\n");
    assert_eq!(crash["failure"], "crash");
    assert!(crash["reason"].as_str().unwrap().contains("ZeroDivisionError"), "{crash}");
}

fn pids(run: &Path) -> Vec<i32> {
    let mut pids = Vec::new();
    for entry in std::fs::read_dir(run.join("nodes")).unwrap() {
        if let Ok(text) = std::fs::read_to_string(entry.unwrap().path().join("child.pid")) {
            pids.push(text.trim().parse().unwrap());
        }
    }
    pids
}

fn alive(pid: i32) -> bool {
    std::fs::read_to_string(format!("/proc/{pid}/stat"))
        .is_ok_and(|s| s.rsplit(')').next().and_then(|r| r.split_whitespace().next()) != Some("Z"))
}

#[test]
fn evaluators_that_fork_sleeping_children_leave_nothing_behind() {
    let tmp = tempfile::tempdir().unwrap();
    let suite = script_suite(
        tmp.path(),
        "sleep 300 &\necho $! > \"$ASI_EVOLVE_WORKDIR/child.pid\"\necho '{\"score\": 1.0}' > \"$ASI_EVOLVE_RESULTS\"\n",
        30.0,
    );
    let out = tmp.path().join("run");
    assert_ok(&asi_evolve(&["run", suite.to_str().unwrap(), "--rounds", "3", "--out", out.to_str().unwrap()]));
    let pids = pids(&out);
    assert_eq!(pids.len(), 4);
    for pid in pids {
        assert!(!alive(pid), "the evaluator's child {pid} survived the campaign");
    }
}

#[test]
fn a_timed_out_evaluation_is_killed_with_its_children_and_the_campaign_goes_on() {
    let tmp = tempfile::tempdir().unwrap();
    let suite = script_suite(
        tmp.path(),
        "bash -c 'sleep 300' &\necho $! > \"$ASI_EVOLVE_WORKDIR/child.pid\"\nsleep 300\n",
        0.5,
    );
    let out = tmp.path().join("run");
    assert_ok(&asi_evolve(&["run", suite.to_str().unwrap(), "--rounds", "2", "--out", out.to_str().unwrap()]));
    let nodes = Database::open(&out).unwrap().nodes().unwrap();
    assert_eq!(nodes.len(), 3);
    for n in &nodes {
        assert_eq!((n.status, n.failure), (Status::Failed, Some(FailureClass::Timeout)));
        assert!(n.lesson.as_deref().unwrap().contains("timeout"), "{:?}", n.lesson);
    }
    for pid in pids(&out) {
        assert!(!alive(pid), "child {pid} of a timed-out evaluator survived");
    }
}
