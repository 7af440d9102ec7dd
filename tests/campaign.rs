//! End to end: circle-packing campaigns from the command line.

mod common;

use asi_evolve::database::Database;
use asi_evolve::node::Status;
use common::*;

const SEED_SCORE: f64 = 0.9597642169962064;

#[test]
fn a_thirty_round_campaign_improves_on_the_seed_and_its_bests_revalidate() {
    let tmp = tempfile::tempdir().unwrap();
    let out = tmp.path().join("run");
    let run = asi_evolve(&["run", "circle-packing", "--rounds", "30", "--seed", "1", "--out", out.to_str().unwrap()]);
    assert_ok(&run);
    assert!(stdout(&run).contains("no LLM"), "the output must say the researcher is offline:\n{}", stdout(&run));

    let nodes = Database::open(&out).unwrap().nodes().unwrap();
    assert_eq!(nodes.len(), 31);
    assert_eq!(nodes[0].score, Some(SEED_SCORE), "seed: {:?}", nodes[0].reason);
    assert!(nodes.iter().all(|n| n.lesson.is_some()));
    assert!(nodes[1..].iter().all(|n| !n.cognition.is_empty()), "every round retrieves cognition items");

    // Every node that was the best so far re-validates, at zero tolerance, to the stored score.
    let mut best = f64::NEG_INFINITY;
    let mut bests = 0;
    for node in nodes.iter().filter(|n| n.status == Status::Valid) {
        let score = node.score.unwrap();
        if score <= best {
            continue;
        }
        best = score;
        bests += 1;
        let program = out.join("nodes").join(format!("{:05}", node.id)).join("candidate.py");
        let again = asi_evolve(&["evaluate", "circle-packing", program.to_str().unwrap()]);
        assert_ok(&again);
        let report: serde_json::Value = serde_json::from_slice(&again.stdout).unwrap();
        assert_eq!(report["status"], "valid");
        assert_eq!(report["score"].as_f64(), Some(score), "node #{} re-scored differently", node.id);
    }
    assert!(best > SEED_SCORE, "best {best} does not improve on the seed");
    assert!(bests >= 2);

    let show = asi_evolve(&["show", out.to_str().unwrap()]);
    assert_ok(&show);
    let text = stdout(&show);
    assert!(text.contains(&format!("score {best:.10}")), "{text}");
    assert!(text.contains("lineage") && text.contains("#0 0.959764"), "{text}");
    assert!(text.contains("best known") && text.contains("2.6359830000"), "{text}");
    assert_eq!(text.lines().filter(|l| l.trim_start().starts_with(char::is_numeric)).count(), 31, "{text}");
}

#[test]
fn the_same_seed_gives_the_same_node_table_whatever_the_worker_count() {
    let tmp = tempfile::tempdir().unwrap();
    let table = |name: &str, workers: &str| {
        let out = tmp.path().join(name);
        let o = asi_evolve(&[
            "run",
            "circle-packing",
            "--rounds",
            "12",
            "--seed",
            "7",
            "--workers",
            workers,
            "--out",
            out.to_str().unwrap(),
        ]);
        assert_ok(&o);
        node_table(&out)
    };
    let first = table("a", "1");
    assert_eq!(first.len(), 13);
    assert_eq!(first, table("b", "1"), "two runs with one worker differ");
    assert_eq!(first, table("c", "3"), "three workers changed the node table");
    let other_seed = {
        let out = tmp.path().join("d");
        assert_ok(&asi_evolve(&[
            "run",
            "circle-packing",
            "--rounds",
            "12",
            "--seed",
            "8",
            "--workers",
            "2",
            "--out",
            out.to_str().unwrap(),
        ]));
        node_table(&out)
    };
    assert_ne!(first, other_seed, "the seed has no effect");
}

#[test]
fn a_bad_config_is_named_and_an_existing_run_is_never_overwritten() {
    let tmp = tempfile::tempdir().unwrap();
    let config = tmp.path().join("c.toml");
    std::fs::write(&config, "suite = \"circle-packing\"\nrounds = 2\n[cognition]\ntop_kk = 3\n").unwrap();
    let o = asi_evolve(&["run", "--config", config.to_str().unwrap()]);
    assert!(!o.status.success());
    assert!(stderr(&o).contains("top_kk") && stderr(&o).contains("c.toml"), "{}", stderr(&o));

    let out = tmp.path().join("run");
    assert_ok(&asi_evolve(&["run", "circle-packing", "--rounds", "1", "--out", out.to_str().unwrap()]));
    let before = node_table(&out);
    let again = asi_evolve(&["run", "circle-packing", "--rounds", "1", "--out", out.to_str().unwrap()]);
    assert!(!again.status.success());
    assert!(stderr(&again).contains("already holds a campaign"), "{}", stderr(&again));
    assert_eq!(node_table(&out), before);

    let unknown = asi_evolve(&["run", "no-such-suite", "--rounds", "1"]);
    assert!(stderr(&unknown).contains("no suite `no-such-suite`"), "{}", stderr(&unknown));
    let not_a_run = asi_evolve(&["show", tmp.path().to_str().unwrap()]);
    assert!(stderr(&not_a_run).contains("campaign.db"), "{}", stderr(&not_a_run));
}

#[test]
fn the_thirty_two_circle_suite_runs() {
    let tmp = tempfile::tempdir().unwrap();
    let out = tmp.path().join("run");
    assert_ok(&asi_evolve(&["run", "circle-packing-32", "--rounds", "3", "--out", out.to_str().unwrap()]));
    let nodes = Database::open(&out).unwrap().nodes().unwrap();
    assert_eq!(nodes[0].status, Status::Valid, "{:?}", nodes[0].reason);
    assert_eq!(nodes[0].metrics["n"], 32);
}

#[test]
fn every_sampler_runs_a_campaign_from_the_command_line() {
    let tmp = tempfile::tempdir().unwrap();
    for sampler in ["greedy", "random", "ucb1", "map-elites", "islands"] {
        let out = tmp.path().join(sampler);
        let o = asi_evolve(&[
            "run",
            "circle-packing",
            "--rounds",
            "20",
            "--sampler",
            sampler,
            "--out",
            out.to_str().unwrap(),
        ]);
        assert_ok(&o);
        let nodes = Database::open(&out).unwrap().nodes().unwrap();
        assert_eq!(nodes.len(), 21, "{sampler}");
        assert!(nodes[1..].iter().all(|n| !n.parents.is_empty()), "{sampler}: a round without parents");
        assert!(nodes.iter().filter(|n| n.status == Status::Valid).count() > 10, "{sampler}");
        match sampler {
            "islands" => {
                let islands: Vec<Option<u32>> = nodes[1..6].iter().map(|n| n.island).collect();
                assert_eq!(islands, vec![Some(0), Some(1), Some(2), Some(3), Some(4)]);
            }
            "map-elites" => assert!(nodes.iter().any(|n| n.cell.is_some()), "no node was placed in a cell"),
            _ => assert!(nodes.iter().all(|n| n.island.is_none() && n.cell.is_none()), "{sampler}"),
        }
    }
}

#[test]
fn a_duplicate_candidate_is_rejected_without_running_the_evaluator() {
    let tmp = tempfile::tempdir().unwrap();
    // Evaluators write only into their node's folder, so each call leaves its results there.
    let suite = script_suite(
        tmp.path(),
        "x=$(grep -o 'x = [0-9]*' \"$ASI_EVOLVE_CANDIDATE\" | cut -d' ' -f3)\necho \"{\\\"score\\\": $x}\" > \"$ASI_EVOLVE_RESULTS\"\n",
        30.0,
    );
    // One small integer to perturb: the offline researcher soon proposes programs seen before.
    std::fs::write(suite.join("seed.py"), "# EVOLVE-BLOCK-START\nx = 3\n# EVOLVE-BLOCK-END\n").unwrap();
    let config = tmp.path().join("c.toml");
    std::fs::write(&config, "[researcher]\ninteger_weight = 1.0\ncrossover_rate = 0.0\n").unwrap();
    let out = tmp.path().join("run");
    assert_ok(&asi_evolve(&[
        "run",
        suite.to_str().unwrap(),
        "--config",
        config.to_str().unwrap(),
        "--rounds",
        "20",
        "--out",
        out.to_str().unwrap(),
    ]));
    let nodes = Database::open(&out).unwrap().nodes().unwrap();
    let duplicates: Vec<_> =
        nodes.iter().filter(|n| n.failure == Some(asi_evolve::node::FailureClass::Duplicate)).collect();
    assert!(!duplicates.is_empty(), "no duplicate in 20 rounds of one integer");
    for d in &duplicates {
        assert!(d.reason.as_deref().unwrap().contains("the same program as node #"), "{:?}", d.reason);
        assert!(d.metrics.is_empty() && d.stdout_tail.is_empty());
    }
    let evaluated = std::fs::read_dir(out.join("nodes"))
        .unwrap()
        .filter(|e| e.as_ref().unwrap().path().join("results.json").is_file())
        .count();
    assert_eq!(evaluated, nodes.len() - duplicates.len(), "the evaluator ran for a duplicate");
}
