//! The rl-algorithm suite end to end: stage 1 rejects broken objectives with their reason
//! before any RL runs, the source screen keeps candidates away from the evaluator, and an
//! evaluation is a function of the candidate (same program, same score, bit for bit).
//! Everything runs at the `ci` scale (the `rl-algorithm-ci` suite).

mod common;

use common::{asi_evolve, stderr};

const SEED: &str = include_str!("../suites/rl-algorithm/initial_program.py");

/// The seed with `policy_loss`'s last line replaced.
fn seed_with_loss(last_line: &str) -> String {
    let old = "    return per_sequence.mean()\n";
    assert!(SEED.contains(old), "the seed's policy_loss ends differently");
    SEED.replace(old, &format!("{last_line}\n"))
}

fn evaluate(code: &str) -> (Option<i32>, serde_json::Value) {
    let tmp = tempfile::tempdir().unwrap();
    let program = tmp.path().join("candidate.py");
    std::fs::write(&program, code).unwrap();
    let work = tmp.path().join("w");
    let o =
        asi_evolve(&["evaluate", "rl-algorithm-ci", program.to_str().unwrap(), "--workdir", work.to_str().unwrap()]);
    let report = serde_json::from_slice(&o.stdout).unwrap_or_else(|e| panic!("{e}\n{}", stderr(&o)));
    (o.status.code(), report)
}

/// Stage 1 stopped the candidate, invalid, with a reason containing `want`.
fn assert_stage_one_rejects(code: &str, want: &str) {
    let (exit, r) = evaluate(code);
    assert_eq!(exit, Some(1), "{r}");
    assert_eq!(r["status"], "invalid", "{r}");
    assert_eq!(r["metrics"]["stage"], 1, "stopped at stage 1: {r}");
    let reason = r["reason"].as_str().unwrap_or_default();
    assert!(reason.contains("stage 1 of 3") && reason.contains(want), "reason {reason:?} should say {want:?}\n{r}");
}

#[test]
fn stage_one_rejects_a_nan_loss() {
    assert_stage_one_rejects(
        &seed_with_loss("    return per_sequence.mean() * float('nan')"),
        "`policy_loss` returned NaN values",
    );
}

#[test]
fn stage_one_rejects_a_loss_of_the_wrong_shape() {
    assert_stage_one_rejects(
        &seed_with_loss("    return per_sequence"),
        "`policy_loss` returned shape [32]; it must return a scalar (shape [])",
    );
}

#[test]
fn stage_one_rejects_a_constant_loss() {
    // Depends on logp (so it has a graph) but its value and gradient never change.
    assert_stage_one_rejects(
        &seed_with_loss("    return (logp * 0.0).sum() + 1.0"),
        "the gradient with respect to `logp` is zero everywhere (a constant loss trains nothing)",
    );
    // No graph at all.
    assert_stage_one_rejects(&seed_with_loss("    return torch.tensor(0.5)"), "no gradient path to `logp`");
}

#[test]
fn the_screen_rejects_candidates_that_reach_for_the_evaluator() {
    assert_stage_one_rejects(
        &SEED.replace("import torch\n", "import torch\nimport sys\n"),
        "`import sys`: only `torch` and `math` may be imported",
    );
    assert_stage_one_rejects(
        &seed_with_loss("    model = logp.grad_fn\n    return per_sequence.mean()"),
        "the attribute `.grad_fn` is not allowed",
    );
}

#[test]
fn the_same_candidate_and_seed_give_the_identical_score_twice() {
    let (exit, first) = evaluate(SEED);
    assert_eq!(exit, Some(0), "{first}");
    let (_, second) = evaluate(SEED);
    assert_eq!(first["metrics"]["stage"], 3, "the full cascade ran: {first}");
    assert_eq!(first["metrics"]["scale"], "ci");
    let score = first["score"].as_f64().unwrap();
    assert_eq!(second["score"].as_f64(), Some(score), "{first}\n{second}");
    // Not only the mean: every seed's run is the same, down to its training statistics.
    let strip = |r: &serde_json::Value| {
        let mut m = r["metrics"].as_object().unwrap().clone();
        m.retain(|k, _| !k.ends_with("seconds"));
        m
    };
    assert_eq!(strip(&first), strip(&second));
    assert!(score > first["metrics"]["warmup_accuracy"].as_f64().unwrap(), "RL improves on the warm-up: {first}");
}
