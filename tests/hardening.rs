//! End to end: the hardening of issue 12 — one controller per run directory, run directories
//! that survive any early kill, commands that fail leave their input as it was, bounded
//! evaluator output and proposals, confined evaluators, and the small command-line fixes.

mod common;
#[path = "support/fake_llm.rs"]
mod fake_llm;

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use common::*;

fn spawn(args: &[&str]) -> Child {
    Command::new(bin())
        .args(args)
        .current_dir(Path::new(env!("CARGO_MANIFEST_DIR")).join(".."))
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap()
}

fn wait_for(what: &str, mut ready: impl FnMut() -> bool) {
    let started = Instant::now();
    while !ready() {
        assert!(started.elapsed() < Duration::from_secs(60), "timed out waiting for {what}");
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// A suite whose evaluator reports score = x after `sleep_s`.
fn slow_suite(dir: &Path, sleep_s: f64) -> PathBuf {
    script_suite(
        dir,
        &format!(
            "sleep {sleep_s}\nx=$(grep -o 'x = [-0-9.e]*' \"$ASI_EVOLVE_CANDIDATE\" | cut -d' ' -f3)\n\
             printf '{{\"score\": %s}}' \"$x\" > \"$ASI_EVOLVE_RESULTS\"\n"
        ),
        30.0,
    )
}

/// The stored score of every node of the campaign in `run`, in node order.
fn node_scores(run: &Path) -> Vec<f64> {
    rusqlite::Connection::open(run.join("campaign.db"))
        .unwrap()
        .prepare("SELECT score FROM nodes ORDER BY id")
        .unwrap()
        .query_map([], |r| r.get(0))
        .unwrap()
        .map(Result::unwrap)
        .collect()
}

fn files_in(dir: &Path) -> Vec<String> {
    let mut names: Vec<String> = std::fs::read_dir(dir)
        .map(|entries| entries.filter_map(|e| e.ok()).map(|e| e.file_name().to_string_lossy().into_owned()).collect())
        .unwrap_or_default();
    names.sort();
    names
}

#[test]
fn a_second_controller_on_a_live_run_directory_is_refused_naming_the_holder_and_readers_still_read() {
    let tmp = tempfile::tempdir().unwrap();
    let suite = slow_suite(tmp.path(), 0.2);
    let run = tmp.path().join("run");
    let (suite_arg, run_arg) = (suite.to_str().unwrap(), run.to_str().unwrap());
    let mut first = spawn(&["run", suite_arg, "--rounds", "40", "--workers", "2", "--out", run_arg]);
    let pid = first.id().to_string();
    wait_for("the first controller to hold the run", || {
        std::fs::read_to_string(run.join("controller.lock")).is_ok_and(|t| t.trim() == pid)
            && run.join("campaign.db").is_file()
    });
    let rerun_out = tmp.path().join("rerun");
    for args in [
        vec!["run", "--resume", run_arg],
        vec!["run", "--resume", run_arg, "--workers", "3"],
        vec!["rerun", run_arg, "--out", rerun_out.to_str().unwrap()],
        vec!["run", suite_arg, "--rounds", "40", "--out", run_arg],
    ] {
        let started = Instant::now();
        let o = asi_evolve(&args);
        assert!(!o.status.success(), "{args:?} was not refused");
        assert!(stderr(&o).contains(&format!("pid {pid}")), "{args:?}: {}", stderr(&o));
        assert!(started.elapsed() < Duration::from_secs(5), "{args:?} was not refused at once");
    }
    assert!(!rerun_out.exists(), "a refused rerun created its output folder");
    assert_ok(&asi_evolve(&["show", run_arg]));
    assert!(first.try_wait().unwrap().is_none(), "the first controller was disturbed");
    first.kill().unwrap();
    first.wait().unwrap();
    // The lock died with its holder: the campaign resumes and finishes.
    let resumed = asi_evolve(&["run", "--resume", run_arg, "--workers", "4"]);
    assert_ok(&resumed);
    assert!(stdout(&resumed).contains("finished 40 rounds"), "{}", stdout(&resumed));
}

/// Starts a campaign, kills it with SIGKILL after `delay`, and reports whether the folder left
/// behind is accepted by `--resume` (true) or, failing that, by `run --out` (false). Panics if
/// neither takes it.
fn kill_early_then_recover(suite: &Path, run: &Path, delay: Duration) -> bool {
    let mut child = spawn(&["run", suite.to_str().unwrap(), "--rounds", "2", "--out", run.to_str().unwrap()]);
    std::thread::sleep(delay);
    child.kill().unwrap();
    child.wait().unwrap();
    let resumed = asi_evolve(&["run", "--resume", run.to_str().unwrap()]);
    if resumed.status.success() {
        return true;
    }
    let rerun = asi_evolve(&["run", suite.to_str().unwrap(), "--rounds", "2", "--out", run.to_str().unwrap()]);
    assert!(
        rerun.status.success(),
        "killed after {delay:?}: neither --resume ({}) nor run --out ({}) accepts the folder",
        stderr(&resumed).trim(),
        stderr(&rerun).trim()
    );
    false
}

#[test]
fn a_controller_killed_in_its_first_milliseconds_leaves_a_folder_resume_or_run_out_accepts() {
    let tmp = tempfile::tempdir().unwrap();
    let suite = slow_suite(tmp.path(), 0.0);
    let mut resumed = 0;
    let delays = [0u64, 2, 5, 10, 15, 20, 30, 45, 70, 100];
    for (i, ms) in delays.iter().enumerate() {
        let run = tmp.path().join(format!("run{i}"));
        resumed += usize::from(kill_early_then_recover(&suite, &run, Duration::from_millis(*ms)));
    }
    eprintln!("{resumed} of {} early kills resumed, the rest started again with run --out", delays.len());
}

#[test]
fn a_folder_with_a_half_created_database_is_not_a_campaign_and_run_out_takes_it() {
    let tmp = tempfile::tempdir().unwrap();
    let suite = slow_suite(tmp.path(), 0.0);
    let run = tmp.path().join("run");
    std::fs::create_dir(&run).unwrap();
    // What a controller killed while building its database leaves: the staging file.
    std::fs::write(run.join("campaign.db.creating"), b"").unwrap();
    std::fs::write(run.join("config.toml"), "rounds = 2\n").unwrap();
    let o = asi_evolve(&["run", "--resume", run.to_str().unwrap()]);
    assert!(!o.status.success() && stderr(&o).contains("holds no campaign"), "{}", stderr(&o));
    assert_ok(&asi_evolve(&["run", suite.to_str().unwrap(), "--rounds", "2", "--out", run.to_str().unwrap()]));
    assert!(!run.join("campaign.db.creating").exists());
    assert_ok(&asi_evolve(&["show", run.to_str().unwrap()]));
}

#[test]
fn rerun_of_an_empty_folder_fails_without_creating_a_database() {
    let tmp = tempfile::tempdir().unwrap();
    let empty = tmp.path().join("empty");
    std::fs::create_dir(&empty).unwrap();
    let o = asi_evolve(&["rerun", empty.to_str().unwrap(), "--out", tmp.path().join("out").to_str().unwrap()]);
    assert!(!o.status.success());
    assert!(stderr(&o).contains("holds no campaign"), "{}", stderr(&o));
    assert_eq!(files_in(&empty), Vec::<String>::new());
    assert!(!tmp.path().join("out").exists());
}

#[test]
fn resume_of_an_empty_database_file_fails_and_leaves_it_empty() {
    let tmp = tempfile::tempdir().unwrap();
    let run = tmp.path().join("run");
    std::fs::create_dir(&run).unwrap();
    std::fs::write(run.join("campaign.db"), b"").unwrap();
    let o = asi_evolve(&["run", "--resume", run.to_str().unwrap()]);
    assert!(!o.status.success());
    assert!(stderr(&o).contains("holds no campaign"), "{}", stderr(&o));
    assert_eq!(std::fs::metadata(run.join("campaign.db")).unwrap().len(), 0);
    assert_eq!(files_in(&run), vec!["campaign.db".to_owned()]);
    let show = asi_evolve(&["show", run.to_str().unwrap()]);
    assert!(!show.status.success(), "show read an empty file as a campaign: {}", stdout(&show));
}

#[test]
fn an_evaluator_writing_into_the_suite_is_refused_and_the_campaign_still_reruns() {
    if cannot_confine() {
        return;
    }
    let tmp = tempfile::tempdir().unwrap();
    let outside = tmp.path().join("outside");
    std::fs::create_dir(&outside).unwrap();
    // Score 1 when both writes were refused; the evaluation itself must still succeed.
    let suite = script_suite(
        tmp.path(),
        &format!(
            "refused=1\n\
             echo evil > \"$ASI_EVOLVE_SUITE_DIR/seed.py\" 2>/dev/null && refused=0\n\
             echo evil > {o}/planted 2>/dev/null && refused=0\n\
             echo scratch > \"$TMPDIR/ok\" || refused=0\n\
             printf '{{\"score\": %s}}' \"$refused\" > \"$ASI_EVOLVE_RESULTS\"\n",
            o = outside.display()
        ),
        30.0,
    );
    let seed_before = std::fs::read_to_string(suite.join("seed.py")).unwrap();
    let run = tmp.path().join("run");
    let o = asi_evolve(&["run", suite.to_str().unwrap(), "--rounds", "3", "--out", run.to_str().unwrap()]);
    assert_ok(&o);
    let scores = node_scores(&run);
    assert_eq!(scores, vec![1.0; 4], "a write outside the node folder was allowed");
    assert_eq!(std::fs::read_to_string(suite.join("seed.py")).unwrap(), seed_before);
    assert_eq!(files_in(&outside), Vec::<String>::new());
    let rerun = asi_evolve(&["rerun", run.to_str().unwrap(), "--out", tmp.path().join("rerun").to_str().unwrap()]);
    assert_ok(&rerun);
    assert!(stdout(&rerun).contains("reproduced"), "{}", stdout(&rerun));
}

#[test]
fn a_suite_with_a_cache_may_write_only_its_cache_folder_besides_the_node_folder() {
    if cannot_confine() {
        return;
    }
    let tmp = tempfile::tempdir().unwrap();
    let cache_root = tmp.path().join("cache");
    // Score 1 when the cache write held and the write beside the cache folder was refused.
    let suite = script_suite(
        tmp.path(),
        "ok=1
         echo kept >> \"$ASI_EVOLVE_CACHE_DIR/entries\" || ok=0
         echo evil > \"$ASI_EVOLVE_CACHE_DIR/../planted\" 2>/dev/null && ok=0
         printf '{\"score\": %s}' \"$ok\" > \"$ASI_EVOLVE_RESULTS\"\n",
        30.0,
    );
    let manifest = std::fs::read_to_string(suite.join("suite.toml")).unwrap();
    std::fs::write(suite.join("suite.toml"), manifest.replace("[evaluator]\n", "[evaluator]\ncache = true\n")).unwrap();
    let run = tmp.path().join("run");
    let o = Command::new(common::bin())
        .args(["run", suite.to_str().unwrap(), "--rounds", "2", "--out", run.to_str().unwrap()])
        .env("ASI_EVOLVE_CACHE", &cache_root)
        .output()
        .unwrap();
    assert_ok(&o);
    let scores = node_scores(&run);
    assert_eq!(scores, vec![1.0; 3], "the cache was not writable, or its parent was");
    let cache = cache_root.join("suites").join("script");
    assert_eq!(std::fs::read_to_string(cache.join("entries")).unwrap(), "kept\n".repeat(3));
    assert!(!cache_root.join("suites").join("planted").exists());
}

#[test]
fn a_two_megabyte_program_from_the_model_is_a_failed_proposal_and_prompts_stay_small() {
    let seed = std::fs::read_to_string(
        Path::new(env!("CARGO_MANIFEST_DIR")).join("../suites/circle-packing/initial_program.py"),
    )
    .unwrap();
    let calls = std::sync::atomic::AtomicUsize::new(0);
    let server = fake_llm::FakeLlm::start(move |_| {
        let n = calls.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
        // Every other reply is huge; the small ones are valid, distinct programs.
        let pad = if n.is_multiple_of(2) { "x".repeat(2 * 1024 * 1024) } else { "y".repeat(40 * 1024) };
        let program =
            seed.replacen("# EVOLVE-BLOCK-START\n", &format!("# EVOLVE-BLOCK-START\n_pad = \"{n}{pad}\"\n"), 1);
        fake_llm::Response::chat(format!("<name>padded {n}</name><motivation>m</motivation><code>\n{program}\n</code>"))
    });
    let tmp = tempfile::tempdir().unwrap();
    let config = tmp.path().join("big.toml");
    std::fs::write(
        &config,
        format!(
            "suite = \"circle-packing\"\nworkers = 1\nwindow = 1\n[researcher]\nkind = \"llm\"\nmode = \"full\"\n\
             [researcher.llm]\nbase_url = \"{}\"\nmodel = \"fake\"\nmax_retries = 0\n[engineer]\nmax_program_bytes = 102400\n",
            server.base_url()
        ),
    )
    .unwrap();
    let run = tmp.path().join("run");
    assert_ok(&asi_evolve(&[
        "run",
        "--config",
        config.to_str().unwrap(),
        "--rounds",
        "6",
        "--out",
        run.to_str().unwrap(),
    ]));
    let db = asi_evolve::database::Database::open_read_only(&run.join("campaign.db")).unwrap();
    let nodes = db.nodes().unwrap();
    for node in &nodes[1..] {
        let n: usize = node.name["padded ".len()..].parse().unwrap();
        if n.is_multiple_of(2) {
            assert_eq!(node.failure, Some(asi_evolve::node::FailureClass::Proposal), "{}", node.name);
            let reason = node.reason.as_deref().unwrap();
            assert!(
                reason.contains("engineer.max_program_bytes = 102400") && reason.contains("not evaluated"),
                "{reason}"
            );
            assert!(node.code.is_empty());
        } else {
            assert!(node.is_valid(), "{}: {:?}", node.name, node.reason);
        }
    }
    for e in db.exchanges().unwrap() {
        // Three parents of up to 40 KiB each, never a 2 MB program.
        assert!(e.prompt.len() < 3 * 64 * 1024, "round {} prompt is {} bytes", e.round, e.prompt.len());
        assert!(!e.request.contains("EVOLVE-BLOCK"), "the prompt is stored again inside the request");
        assert!(e.request.contains("\"model\":\"fake\""), "{}", e.request);
    }
}

#[test]
fn oversized_results_files_feedback_and_metric_tables_are_bounded() {
    let tmp = tempfile::tempdir().unwrap();
    let body = |json: &str| format!("python3 -c '{json}' > \"$ASI_EVOLVE_RESULTS\"\n");
    for (name, script, expect) in [
        (
            "big-file",
            body("import json; print(json.dumps({\"score\": 1, \"feedback\": \"f\" * 20_000_000}))"),
            "more than the 4194304-byte limit",
        ),
        (
            "many-metrics",
            body("import json; print(json.dumps({\"score\": 1, \"metrics\": {f\"m{i}\": i for i in range(1000)}}))"),
            "1000 metrics",
        ),
        ("long-feedback", body("import json; print(json.dumps({\"score\": 1, \"feedback\": \"f\" * 1_000_000}))"), ""),
    ] {
        let suite = script_suite(&tmp.path().join(name), &script, 60.0);
        let o = asi_evolve(&["evaluate", suite.to_str().unwrap(), suite.join("seed.py").to_str().unwrap()]);
        let report: serde_json::Value = serde_json::from_str(&stdout(&o)).unwrap();
        if expect.is_empty() {
            assert_eq!(report["status"], "valid", "{report}");
            let feedback = report["feedback"].as_str().unwrap();
            assert!(
                feedback.len() < 70 * 1024 && feedback.ends_with("1000000 bytes in all, the first 65536 kept ...]")
            );
        } else {
            assert_eq!(report["failure"], "bad_output", "{name}: {report}");
            assert!(report["reason"].as_str().unwrap().contains(expect), "{name}: {report}");
        }
    }
}

fn packing_json(dir: &Path, name: &str, text: &str) -> PathBuf {
    let path = dir.join(name);
    std::fs::write(&path, text).unwrap();
    path
}

#[test]
fn validate_packing_exit_status_says_valid_invalid_or_error_and_names_the_real_file() {
    let tmp = tempfile::tempdir().unwrap();
    let valid = packing_json(tmp.path(), "good.json", r#"{"centers": [[0.5, 0.5]], "radii": [0.5]}"#);
    let overlap = packing_json(tmp.path(), "bad.json", r#"{"centers": [[0.5, 0.5], [0.5, 0.5]], "radii": [0.1, 0.1]}"#);
    let nan = packing_json(tmp.path(), "mine.json", r#"{"centers": [[0.5, 0.5]], "radii": [NaN]}"#);
    let arg = |p: &Path| p.to_str().unwrap().to_owned();
    assert_eq!(asi_evolve(&["validate-packing", "--n", "1", &arg(&valid)]).status.code(), Some(0));
    assert_eq!(asi_evolve(&["validate-packing", "--n", "2", &arg(&overlap)]).status.code(), Some(1));
    let o = asi_evolve(&["validate-packing", "--n", "1", &arg(&nan)]);
    assert_eq!(o.status.code(), Some(1));
    let feedback = stdout(&o);
    assert!(feedback.contains("mine.json is not valid JSON") && !feedback.contains("packing.json"), "{feedback}");
    assert!(feedback.contains("JSON has no NaN or Infinity"), "{feedback}");
    let missing = asi_evolve(&["validate-packing", "--n", "1", &arg(&tmp.path().join("absent.json"))]);
    assert_eq!(missing.status.code(), Some(2));
    assert!(stderr(&missing).contains("absent.json"), "{}", stderr(&missing));
    let zero = asi_evolve(&["validate-packing", "--n", "0", &arg(&valid)]);
    assert!(!zero.status.success() && stderr(&zero).contains("--n"), "{}", stderr(&zero));
}

#[test]
fn evaluate_removes_its_temporary_folder_unless_told_to_keep_it() {
    let tmp = tempfile::tempdir().unwrap();
    let suite = slow_suite(tmp.path(), 0.0);
    let seed = suite.join("seed.py");
    let folder_of = |o: &std::process::Output| {
        let line = stderr(o).lines().find(|l| l.starts_with("evaluated in ")).unwrap().to_owned();
        PathBuf::from(line["evaluated in ".len()..].split(" (").next().unwrap())
    };
    let o = asi_evolve(&["evaluate", suite.to_str().unwrap(), seed.to_str().unwrap()]);
    assert_ok(&o);
    assert!(!folder_of(&o).exists(), "{} was left behind", folder_of(&o).display());
    let kept = asi_evolve(&["evaluate", suite.to_str().unwrap(), seed.to_str().unwrap(), "--keep"]);
    assert_ok(&kept);
    assert!(folder_of(&kept).join("results.json").is_file());
    std::fs::remove_dir_all(folder_of(&kept)).unwrap();
}

#[test]
fn a_suite_without_cognition_or_markers_is_warned_about_and_broken_markers_are_refused() {
    let tmp = tempfile::tempdir().unwrap();
    let suite = slow_suite(tmp.path(), 0.0);
    std::fs::write(suite.join("seed.py"), "x = 1.5\n").unwrap();
    let o =
        asi_evolve(&["run", suite.to_str().unwrap(), "--rounds", "1", "--out", tmp.path().join("a").to_str().unwrap()]);
    assert_ok(&o);
    assert!(stderr(&o).contains("warning: suite script has no cognition folder"), "{}", stderr(&o));
    assert!(stderr(&o).contains("has no EVOLVE-BLOCK-START / EVOLVE-BLOCK-END markers"), "{}", stderr(&o));
    std::fs::write(suite.join("seed.py"), "# EVOLVE-BLOCK-START\nx = 1.5\n").unwrap();
    let out = tmp.path().join("b");
    let o = asi_evolve(&["run", suite.to_str().unwrap(), "--rounds", "1", "--out", out.to_str().unwrap()]);
    assert!(!o.status.success());
    assert!(stderr(&o).contains("broken EVOLVE markers") && stderr(&o).contains("line 1"), "{}", stderr(&o));
    assert!(!out.exists());
}

#[test]
fn a_candidate_that_deletes_its_own_folder_gets_an_honest_reason() {
    let tmp = tempfile::tempdir().unwrap();
    let suite = script_suite(tmp.path(), "rm -rf \"$ASI_EVOLVE_WORKDIR\" 2>/dev/null; exit 0\n", 30.0);
    let o = asi_evolve(&["evaluate", suite.to_str().unwrap(), suite.join("seed.py").to_str().unwrap()]);
    let report: serde_json::Value = serde_json::from_str(&stdout(&o)).unwrap();
    let reason = report["reason"].as_str().unwrap();
    assert!(!reason.contains("could not run the evaluator"), "{reason}");
    assert!(reason.contains("deleted"), "{reason}");
}

#[test]
fn huge_scores_print_compactly_in_show() {
    let tmp = tempfile::tempdir().unwrap();
    let suite = script_suite(tmp.path(), "echo '{\"score\": 1e308}' > \"$ASI_EVOLVE_RESULTS\"\n", 30.0);
    let run = tmp.path().join("run");
    assert_ok(&asi_evolve(&["run", suite.to_str().unwrap(), "--rounds", "1", "--out", run.to_str().unwrap()]));
    let o = asi_evolve(&["show", run.to_str().unwrap()]);
    assert_ok(&o);
    assert!(stdout(&o).contains("1.0000000000e308"), "{}", stdout(&o));
    let longest = stdout(&o).lines().map(str::len).max().unwrap();
    assert!(longest < 200, "a line of {longest} characters:\n{}", stdout(&o));
}

#[test]
fn the_shipped_circle_packing_suite_stops_a_memory_hog_at_its_limit_not_its_timeout() {
    let tmp = tempfile::tempdir().unwrap();
    let hog = tmp.path().join("hog.py");
    let seed = std::fs::read_to_string(
        Path::new(env!("CARGO_MANIFEST_DIR")).join("../suites/circle-packing/initial_program.py"),
    )
    .unwrap();
    std::fs::write(&hog, seed.replacen("    n = 26\n", "    n = 26\n    hog = np.ones(8 * 1024**3 // 8)\n", 1))
        .unwrap();
    let started = Instant::now();
    let o = asi_evolve(&["evaluate", "circle-packing", hog.to_str().unwrap()]);
    assert_eq!(o.status.code(), Some(1));
    let report: serde_json::Value = serde_json::from_str(&stdout(&o)).unwrap();
    assert_eq!(report["failure"], "crash", "{report}");
    assert!(report["reason"].as_str().unwrap().contains("MemoryError"), "{report}");
    assert!(started.elapsed() < Duration::from_secs(60), "{:?}", started.elapsed());
}
