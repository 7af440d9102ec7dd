//! End to end: an ablation matrix from one command, resumable, turned into a report.

mod common;

use common::*;

#[test]
fn five_arms_by_three_seeds_run_from_one_command_and_become_a_report() {
    let tmp = tempfile::tempdir().unwrap();
    let out = tmp.path().join("ablation");
    let args = [
        "ablate",
        "circle-packing",
        "--arms",
        "full,no-analyzer,no-cognition,sampler=ucb1,sampler=map-elites",
        "--seeds",
        "0..3",
        "--rounds",
        "8",
        "--parallel",
        "2",
        "--out",
        out.to_str().unwrap(),
    ];
    let o = asi_evolve(&args);
    assert_ok(&o);
    for arm in ["full", "no-analyzer", "no-cognition", "sampler-ucb1", "sampler-map-elites"] {
        for seed in 0..3 {
            let run = out.join(arm).join(format!("seed{seed}"));
            assert_eq!(node_table(&run).len(), 9, "{}", run.display());
        }
    }
    // Again: every campaign is already finished and skipped.
    let again = asi_evolve(&args);
    assert_ok(&again);
    assert_eq!(stdout(&again).matches("already finished, skipped").count(), 15, "{}", stdout(&again));

    let report = out.join("report");
    let o = asi_evolve(&["report", out.to_str().unwrap(), "--out", report.to_str().unwrap(), "--threshold", "1.0"]);
    assert_ok(&o);
    assert!(stdout(&o).contains("report of 15 campaigns"), "{}", stdout(&o));
    for file in ["report.md", "report.html", "convergence.png", "convergence.svg", "final_best.png", "arms.csv"] {
        assert!(report.join(file).is_file(), "{file} missing");
    }
    let png = std::fs::read(report.join("convergence.png")).unwrap();
    assert_eq!(&png[..8], b"\x89PNG\r\n\x1a\n");
    let md = std::fs::read_to_string(report.join("report.md")).unwrap();
    // Labels come from the config: the base is offline (no LLM) with the greedy sampler.
    for arm in [
        "no-llm,sampler=greedy",
        "no-llm,no-analyzer,sampler=greedy",
        "no-llm,no-cognition,sampler=greedy",
        "no-llm,sampler=map-elites",
    ] {
        assert!(md.contains(arm), "the report lacks arm {arm}");
    }
    assert!(md.contains("2.635983") && md.contains("OpenEvolve"), "the paper's numbers are missing");
}

/// The arm label stored in a run directory's manifest.
fn stored_arm(run_dir: &std::path::Path) -> String {
    let manifest: toml::Table = std::fs::read_to_string(run_dir.join("manifest.toml")).unwrap().parse().unwrap();
    manifest["arm"].as_str().unwrap().to_owned()
}

#[test]
fn run_and_ablate_full_give_the_same_arm_label_for_the_same_config() {
    let tmp = tempfile::tempdir().unwrap();
    for sampler in ["greedy", "ucb1"] {
        let config = tmp.path().join(format!("{sampler}.toml"));
        std::fs::write(&config, format!("[sampler]\nkind = \"{sampler}\"\n")).unwrap();
        let config = config.to_str().unwrap();
        let run_dir = tmp.path().join(format!("run-{sampler}"));
        let o = asi_evolve(&[
            "run",
            "circle-packing",
            "--config",
            config,
            "--rounds",
            "1",
            "--out",
            run_dir.to_str().unwrap(),
        ]);
        assert_ok(&o);
        let ablation = tmp.path().join(format!("ablate-{sampler}"));
        let args = ["ablate", "circle-packing", "--arms", "full", "--seeds", "0", "--rounds", "1", "--config", config];
        let o = asi_evolve(&[&args[..], &["--out", ablation.to_str().unwrap()]].concat());
        assert_ok(&o);
        let (run, ablate) = (stored_arm(&run_dir), stored_arm(&ablation.join("full").join("seed0")));
        assert_eq!(run, ablate, "sampler {sampler}");
    }
}
