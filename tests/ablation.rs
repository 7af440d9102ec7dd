//! End to end: an ablation matrix from one command, resumable, turned into a report.

mod common;
#[path = "support/fake_llm.rs"]
mod fake_llm;

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
    // Labels are the arms asked for; the manifest says what each resolved to (the base is
    // offline, no LLM, with the greedy sampler).
    for arm in ["full", "no-analyzer", "no-cognition", "sampler=ucb1", "sampler=map-elites"] {
        assert!(md.contains(&format!("| {arm} |")), "the report lacks arm {arm}:\n{md}");
    }
    assert_eq!(stored(&out.join("full/seed0"), "arm_resolved"), "no-llm,sampler=greedy");
    assert_eq!(stored(&out.join("no-analyzer/seed0"), "arm_resolved"), "no-llm,no-analyzer,sampler=greedy");
    assert!(md.contains("2.635983") && md.contains("OpenEvolve"), "the paper's numbers are missing");
}

/// A key of a run directory's manifest.
fn stored(run_dir: &std::path::Path, key: &str) -> String {
    let manifest: toml::Table = std::fs::read_to_string(run_dir.join("manifest.toml")).unwrap().parse().unwrap();
    manifest[key].as_str().unwrap().to_owned()
}

#[test]
fn five_arms_that_differ_only_in_what_was_named_stay_five_arms_and_identical_ones_are_refused() {
    let tmp = tempfile::tempdir().unwrap();
    let out = tmp.path().join("ablation");
    // The command: with the offline base, `full`, `no-llm` and `sampler=greedy` are one
    // campaign, and were stored under one label.
    let same = asi_evolve(&[
        "ablate",
        "circle-packing",
        "--arms",
        "full,no-llm,no-analyzer,sampler=greedy,sampler=ucb1",
        "--seeds",
        "0..2",
        "--rounds",
        "2",
        "--out",
        out.to_str().unwrap(),
    ]);
    assert_eq!(same.status.code(), Some(2), "{}", stdout(&same));
    assert!(stderr(&same).contains("arms `full` and `no-llm` would run the same campaign"), "{}", stderr(&same));
    assert!(!out.exists(), "nothing is run when arms are refused");

    // A base with a (fake) model and a third sampler makes the five arms five campaigns.
    let seed = std::fs::read_to_string(
        std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../suites/circle-packing/initial_program.py"),
    )
    .unwrap();
    let server = fake_llm::FakeLlm::start(move |_| {
        fake_llm::Response::chat(format!("<name>same</name><motivation>m</motivation><code>\n{seed}\n</code>"))
    });
    let config = tmp.path().join("llm.toml");
    std::fs::write(
        &config,
        format!(
            "[sampler]\nkind = \"random\"\n[researcher]\nkind = \"llm\"\nmode = \"full\"\n[researcher.llm]\nbase_url = \"{}\"\nmodel = \"fake\"\nmax_retries = 0\n",
            server.base_url()
        ),
    )
    .unwrap();
    let arms = ["full", "no-llm", "no-analyzer", "sampler=greedy", "sampler=ucb1"];
    let o = asi_evolve(&[
        "ablate",
        "circle-packing",
        "--arms",
        &arms.join(","),
        "--seeds",
        "0..2",
        "--rounds",
        "2",
        "--config",
        config.to_str().unwrap(),
        "--out",
        out.to_str().unwrap(),
    ]);
    assert_ok(&o);
    for arm in arms {
        for seed in 0..2 {
            assert_eq!(stored(&out.join(arm.replace('=', "-")).join(format!("seed{seed}")), "arm"), arm);
        }
    }
    let report = out.join("report");
    assert_ok(&asi_evolve(&["report", out.to_str().unwrap(), "--out", report.to_str().unwrap()]));
    let md = std::fs::read_to_string(report.join("report.md")).unwrap();
    for arm in arms {
        assert!(md.contains(&format!("| {arm} |")), "the report lacks arm {arm}:\n{md}");
    }
    assert!(!md.contains("4 seeds"), "no arm took another's runs:\n{md}");
}

#[test]
fn ablate_stores_the_arm_asked_for_and_resolves_it_as_run_labels_the_same_config() {
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
        let cell = ablation.join("full").join("seed0");
        assert_eq!(stored(&cell, "arm"), "full");
        assert_eq!(stored(&run_dir, "arm"), stored(&cell, "arm_resolved"), "sampler {sampler}");
        assert_eq!(stored(&run_dir, "arm"), stored(&run_dir, "arm_resolved"));
    }
}
