//! End to end: the Engineer under faults (memory limit, a flood of output, garbage, NaN, a
//! failing exit), cascade evaluation and the static check (the peers' layouts are in
//! tests/peers.rs). Every campaign must complete, each failing node must say why, and no
//! evaluator process may outlive its campaign.

mod common;

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use asi_evolve::database::Database;
use asi_evolve::node::{FailureClass, Node, Status};
use common::*;

const SEED: &str = "# EVOLVE-BLOCK-START\nx = 1.5\n# EVOLVE-BLOCK-END\n";

/// A suite whose `[evaluator]` table is `evaluator` and whose extra files are `files`.
fn suite(dir: &Path, evaluator: &str, files: &[(&str, &str)]) -> PathBuf {
    let suite = dir.join("suite");
    std::fs::create_dir_all(&suite).unwrap();
    std::fs::write(
        suite.join("suite.toml"),
        format!("name = \"faults\"\ntask = \"task.md\"\nseed_program = \"seed.py\"\n[evaluator]\n{evaluator}"),
    )
    .unwrap();
    std::fs::write(suite.join("task.md"), "# Maximise x\n").unwrap();
    std::fs::write(suite.join("seed.py"), SEED).unwrap();
    for (name, text) in files {
        std::fs::write(suite.join(name), text).unwrap();
    }
    suite
}

/// A one-command suite running `script` with bash.
fn script(dir: &Path, script: &str, extra: &str) -> PathBuf {
    let evaluator = format!("command = [\"bash\", \"{{suite_dir}}/evaluate.sh\"]\ntimeout_s = 60\n{extra}");
    suite(dir, &evaluator, &[("evaluate.sh", script)])
}

/// Runs a campaign to completion and returns its nodes, after checking that no process it
/// started is still alive.
fn campaign(suite: &Path, rounds: u32, out: &Path) -> Vec<Node> {
    assert_ok(&asi_evolve(&[
        "run",
        suite.to_str().unwrap(),
        "--rounds",
        &rounds.to_string(),
        "--out",
        out.to_str().unwrap(),
    ]));
    let left = left_behind(out);
    assert!(left.is_empty(), "processes outlived the campaign: {left:?}");
    Database::open(out).unwrap().nodes().unwrap()
}

/// Live processes whose working directory is inside `dir`: evaluators run in their node's
/// folder, so any such process is one that escaped.
fn left_behind(dir: &Path) -> Vec<i32> {
    let dir = dir.canonicalize().unwrap();
    std::fs::read_dir("/proc")
        .unwrap()
        .filter_map(|e| e.ok()?.file_name().to_str()?.parse::<i32>().ok())
        .filter(|pid| {
            let cwd = std::fs::read_link(format!("/proc/{pid}/cwd"));
            let zombie = std::fs::read_to_string(format!("/proc/{pid}/stat"))
                .map(|s| s.rsplit(')').next().and_then(|r| r.split_whitespace().next()) == Some("Z"))
                .unwrap_or(true);
            cwd.is_ok_and(|c| c.starts_with(&dir)) && !zombie
        })
        .collect()
}

fn assert_all_failed(nodes: &[Node], failure: FailureClass, reason: &str) {
    assert!(!nodes.is_empty());
    for n in nodes.iter().filter(|n| n.failure != Some(FailureClass::Duplicate)) {
        assert_eq!((n.status, n.failure), (Status::Failed, Some(failure)), "node #{}: {:?}", n.id, n.reason);
        let why = n.reason.as_deref().unwrap_or_default();
        assert!(why.contains(reason), "node #{} should say `{reason}`: {why}", n.id);
    }
}

/// Node folders of `run` holding a file called `name`: evaluators may write only into their own
/// node's folder, so that is where they leave a trace of having run.
fn ran(run: &Path, name: &str) -> usize {
    std::fs::read_dir(run.join("nodes"))
        .map_or(0, |entries| entries.filter(|e| e.as_ref().is_ok_and(|e| e.path().join(name).is_file())).count())
}

#[test]
fn an_evaluator_past_its_memory_limit_fails_with_memory_error() {
    let tmp = tempfile::tempdir().unwrap();
    let suite = script(
        tmp.path(),
        "exec python3 -c 'bytearray(2_000_000_000)'\n",
        "[evaluator.limits]\naddress_space_mb = 500\n",
    );
    let nodes = campaign(&suite, 2, &tmp.path().join("run"));
    assert_all_failed(&nodes, FailureClass::Crash, "MemoryError");
}

#[test]
fn a_hundred_megabytes_on_stdout_are_capped_quickly_in_bounded_memory() {
    let tmp = tempfile::tempdir().unwrap();
    let suite = script(
        tmp.path(),
        "head -c 100000000 /dev/zero | tr '\\0' x\necho\necho '{\"score\": 1.0}' > \"$ASI_EVOLVE_RESULTS\"\n",
        "",
    );
    let started = Instant::now();
    let nodes = campaign(&suite, 2, &tmp.path().join("run"));
    assert!(started.elapsed() < Duration::from_secs(60), "{:?}", started.elapsed());
    for n in &nodes {
        assert_eq!(n.status, Status::Valid, "{:?}", n.reason);
        assert!(n.stdout_tail.len() < 128 * 1024, "{} bytes kept", n.stdout_tail.len());
        assert!(n.stdout_tail.starts_with("[... "), "the tail says what was dropped");
    }
    // The largest process this test (and any other of this file) waited for, descendants
    // included: far below the 100 MB each evaluator printed.
    // SAFETY: getrusage fills in the struct we own.
    let mut usage: libc::rusage = unsafe { std::mem::zeroed() };
    assert_eq!(unsafe { libc::getrusage(libc::RUSAGE_CHILDREN, &mut usage) }, 0);
    assert!(usage.ru_maxrss < 80 * 1024, "max RSS {} KiB", usage.ru_maxrss);
}

#[test]
fn garbage_instead_of_json_is_bad_output() {
    let tmp = tempfile::tempdir().unwrap();
    let suite = script(tmp.path(), "echo 'score: high' > \"$ASI_EVOLVE_RESULTS\"\n", "");
    assert_all_failed(&campaign(&suite, 2, &tmp.path().join("run")), FailureClass::BadOutput, "not valid JSON");
}

#[test]
fn a_nan_score_is_bad_output_that_says_so() {
    let tmp = tempfile::tempdir().unwrap();
    let suite = script(tmp.path(), "echo '{\"score\": NaN, \"valid\": true}' > \"$ASI_EVOLVE_RESULTS\"\n", "");
    assert_all_failed(&campaign(&suite, 2, &tmp.path().join("run")), FailureClass::BadOutput, "NaN");
}

#[test]
fn a_non_zero_exit_is_a_crash_with_the_last_error_line() {
    let tmp = tempfile::tempdir().unwrap();
    let suite = script(tmp.path(), "echo 'warming up'\necho 'fatal: no device found' >&2\nexit 3\n", "");
    assert_all_failed(
        &campaign(&suite, 2, &tmp.path().join("run")),
        FailureClass::Crash,
        "exit status 3: fatal: no device found",
    );
}

#[test]
fn a_node_folder_keeps_the_evaluators_output_and_no_log_for_a_silent_stream() {
    let tmp = tempfile::tempdir().unwrap();
    let suite =
        script(tmp.path(), "echo \"scored $ASI_EVOLVE_SEED\"\necho '{\"score\": 1}' > \"$ASI_EVOLVE_RESULTS\"\n", "");
    let out = tmp.path().join("run");
    let nodes = campaign(&suite, 3, &out);
    for n in &nodes {
        let dir = out.join("nodes").join(format!("{:05}", n.id));
        assert_eq!(n.status, Status::Valid, "node #{}: {:?}", n.id, n.reason);
        assert!(n.stdout_tail.starts_with("scored "), "node #{}: {:?}", n.id, n.stdout_tail);
        assert_eq!(std::fs::read_to_string(dir.join("stdout.log")).unwrap(), n.stdout_tail);
        assert_eq!(n.stderr_tail, "");
        assert!(!dir.join("stderr.log").exists(), "node #{}: a log of nothing", n.id);
    }
}

#[test]
fn a_three_stage_cascade_runs_the_last_stage_only_on_survivors() {
    let tmp = tempfile::tempdir().unwrap();
    // Each stage counts itself and checks its own results file. Stages 1 and 2 pass a quarter
    // and a half of the candidates, by the digits of x (so the seed, x = 1.5, fails stage 1);
    // stage 3 scores x.
    let stage = "echo run >> ran.stage$ASI_EVOLVE_STAGE\n\
         [[ $ASI_EVOLVE_STAGES == 3 && $ASI_EVOLVE_RESULTS == */results.stage$ASI_EVOLVE_STAGE.json ]] || exit 9\n\
         exec python3 - <<'PY'\n\
         import json, os\n\
         ns = {}\n\
         exec(open(os.environ['ASI_EVOLVE_CANDIDATE']).read(), ns)\n\
         stage, digits = int(os.environ['ASI_EVOLVE_STAGE']), round(ns['x'] * 1e6)\n\
         score = {1: float(digits % 4 == 1), 2: float(digits % 8 == 1), 3: ns['x']}[stage]\n\
         metrics = {f'seen_at_{stage}': 1}\n\
         json.dump({'score': score, 'metrics': metrics}, open(os.environ['ASI_EVOLVE_RESULTS'], 'w'))\n\
         PY\n";
    let evaluator = "timeout_s = 60\n\
        [[evaluator.stages]]\ncommand = [\"bash\", \"{suite_dir}/stage.sh\"]\nthreshold = 0.5\n\
        [[evaluator.stages]]\ncommand = [\"bash\", \"{suite_dir}/stage.sh\"]\nthreshold = 0.5\n\
        [[evaluator.stages]]\ncommand = [\"bash\", \"{suite_dir}/stage.sh\"]\ntimeout_s = 30\n";
    let suite = suite(tmp.path(), evaluator, &[("stage.sh", stage)]);
    let out = tmp.path().join("run");
    let nodes = campaign(&suite, 20, &out);

    let evaluated: Vec<&Node> = nodes.iter().filter(|n| n.metrics.contains_key("stage")).collect();
    let reached = |s: u64| evaluated.iter().filter(|n| n.metrics["stage"].as_u64().unwrap() >= s).count();
    assert!(evaluated.iter().all(|n| n.status == Status::Valid && n.metrics["stages"] == 3), "{evaluated:?}");
    assert_eq!(ran(&out, "ran.stage1"), evaluated.len());
    assert_eq!(ran(&out, "ran.stage2"), reached(2));
    assert_eq!(ran(&out, "ran.stage3"), reached(3));
    assert!(reached(3) >= 1, "no candidate survived to stage 3");
    assert!(evaluated.len() - reached(2) > evaluated.len() / 2, "stage 1 should reject most candidates");

    for n in &evaluated {
        let stage = n.metrics["stage"].as_u64().unwrap();
        assert!(n.metrics.contains_key(&format!("seen_at_{stage}")), "metrics of every stage run are kept");
        let dir = out.join("nodes").join(format!("{:05}", n.id));
        assert!(dir.join(format!("results.stage{stage}.json")).is_file());
        assert!(!dir.join(format!("results.stage{}.json", stage + 1)).exists());
        if stage < 3 {
            assert!(n.feedback.contains(&format!("stopped at stage {stage} of 3")), "{}", n.feedback);
        }
    }
    assert_eq!(nodes[0].metrics["stage"], 1, "the seed (x = 1.5) fails stage 1");
}

#[test]
fn a_failing_static_check_keeps_the_evaluator_from_running() {
    let tmp = tempfile::tempdir().unwrap();
    // The check rejects x < 1.5 the way a compiler reports a syntax error.
    let check = "python3 - \"$1\" <<'PY'\nimport sys\nns = {}\nexec(open(sys.argv[1]).read(), ns)\n\
        if ns['x'] < 1.5:\n    print('  File \"candidate.py\", line 2', file=sys.stderr)\n    \
        print('SyntaxError: x below 1.5', file=sys.stderr)\n    sys.exit(1)\nPY\n";
    let evaluate = "echo run >> ran.evaluate\necho '{\"score\": 1.0}' > \"$ASI_EVOLVE_RESULTS\"\n";
    let evaluator = "command = [\"bash\", \"{suite_dir}/evaluate.sh\"]\n\
        static_check = [\"bash\", \"{suite_dir}/check.sh\", \"{candidate}\"]\n";
    let suite = suite(tmp.path(), evaluator, &[("evaluate.sh", evaluate), ("check.sh", check)]);
    let nodes = campaign(&suite, 8, &tmp.path().join("run"));

    let rejected: Vec<&Node> = nodes.iter().filter(|n| n.failure == Some(FailureClass::SyntaxError)).collect();
    assert!(!rejected.is_empty(), "no candidate went below 1.5");
    for n in &rejected {
        assert_eq!(n.reason.as_deref(), Some("File \"candidate.py\", line 2 | SyntaxError: x below 1.5"));
    }
    assert_eq!(
        ran(&tmp.path().join("run"), "ran.evaluate"),
        nodes.iter().filter(|n| n.status == Status::Valid).count()
    );
}

#[test]
fn the_circle_packing_static_check_catches_a_syntax_error_before_the_evaluator() {
    let tmp = tempfile::tempdir().unwrap();
    let program = tmp.path().join("p.py");
    std::fs::write(&program, "def run_packing(:\n    pass\n").unwrap();
    let workdir = tmp.path().join("w");
    let o =
        asi_evolve(&["evaluate", "circle-packing", program.to_str().unwrap(), "--workdir", workdir.to_str().unwrap()]);
    assert_eq!(o.status.code(), Some(1), "{}", stderr(&o));
    let report: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(report["failure"], "syntax_error", "{report}");
    assert!(report["reason"].as_str().unwrap().contains("SyntaxError"), "{report}");
    assert!(!workdir.join("packing.json").exists() && !workdir.join("results.json").exists(), "the evaluator ran");
}
