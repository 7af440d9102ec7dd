//! End to end: `asi-evolve promote` re-evaluates a campaign's seed and best nodes with another
//! scale of the same task, reports the rank agreement, and leaves the campaign untouched.

mod common;

use std::path::{Path, PathBuf};

use common::*;

/// A suite whose score is `factor` × the program's `x`, shifted by `shift`; every scale of it has
/// the same task text.
fn scale_suite(root: &Path, name: &str, factor: f64, shift: f64, task: &str) -> PathBuf {
    let dir = root.join(name);
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(
        dir.join("suite.toml"),
        format!(
            "name = \"{name}\"\ntask = \"task.md\"\nseed_program = \"seed.py\"\n[evaluator]\n\
             command = [\"python3\", \"{{suite_dir}}/evaluate.py\"]\ntimeout_s = 30\n\
             env = {{ FACTOR = \"{factor}\", SHIFT = \"{shift}\" }}\n"
        ),
    )
    .unwrap();
    std::fs::write(dir.join("task.md"), task).unwrap();
    std::fs::write(dir.join("seed.py"), "# EVOLVE-BLOCK-START\nx = 1.5\n# EVOLVE-BLOCK-END\n").unwrap();
    std::fs::write(
        dir.join("evaluate.py"),
        "import json, os, re\n\
         x = float(re.search(r'x = ([-0-9.eE+]+)', open(os.environ['ASI_EVOLVE_CANDIDATE']).read()).group(1))\n\
         score = float(os.environ['FACTOR']) * x + float(os.environ['SHIFT'])\n\
         json.dump({'score': score, 'valid': True}, open(os.environ['ASI_EVOLVE_RESULTS'], 'w'))\n",
    )
    .unwrap();
    dir
}

#[test]
fn promote_reports_how_a_campaigns_ranking_carries_over_and_leaves_the_campaign_as_it_was() {
    let tmp = tempfile::tempdir().unwrap();
    let task = "# Maximise x\n";
    let small = scale_suite(tmp.path(), "toy-small", 1.0, 0.0, task);
    // The larger scale keeps the order (a monotone map): every rank statistic is 1.
    let large = scale_suite(tmp.path(), "toy-large", 2.0, 1.0, task);
    let run = tmp.path().join("run");
    assert_ok(&asi_evolve(&[
        "run",
        small.to_str().unwrap(),
        "--rounds",
        "12",
        "--seed",
        "4",
        "--out",
        run.to_str().unwrap(),
    ]));
    let before = node_table(&run);
    let db_bytes = std::fs::read(run.join("campaign.db")).unwrap();

    let o = asi_evolve(&[
        "promote",
        run.to_str().unwrap(),
        "--to",
        large.to_str().unwrap(),
        "--top",
        "3",
        "--seeds",
        "0..2",
    ]);
    assert_ok(&o);
    let out = stdout(&o);
    assert!(out.contains("| Spearman ρ | +1.000") && out.contains("| Kendall τ-b | +1.000"), "{out}");
    let folder = run.join("promote").join("toy-large");
    for f in ["promotion.json", "promotion.md", "promotion.csv", "promotion.png", "promotion.svg"] {
        assert!(folder.join(f).is_file(), "{f} missing:\n{out}");
    }
    let json: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(folder.join("promotion.json")).unwrap()).unwrap();
    let nodes = json["nodes"].as_array().unwrap();
    assert!(nodes[0]["is_seed"].as_bool().unwrap());
    assert_eq!(nodes[0]["target_scores"], serde_json::json!([4.0, 4.0]), "2 × 1.5 + 1 for each of the two seeds");
    assert!((2..=4).contains(&nodes.len()), "the seed and up to three distinct best nodes: {json}");
    // Best first, each scored 2x + 1 at the larger scale.
    let sources: Vec<f64> = nodes[1..].iter().map(|n| n["source_score"].as_f64().unwrap()).collect();
    assert!(sources.windows(2).all(|w| w[0] >= w[1]), "{sources:?}");
    for n in nodes {
        let s = n["source_score"].as_f64().unwrap();
        assert_eq!(n["target_scores"][1].as_f64().unwrap(), 2.0 * s + 1.0, "{n}");
    }
    // The campaign is as it was.
    assert_eq!(node_table(&run), before);
    assert_eq!(std::fs::read(run.join("campaign.db")).unwrap(), db_bytes);

    // Its own suite, or a suite of another task, is refused.
    let o = asi_evolve(&["promote", run.to_str().unwrap(), "--to", small.to_str().unwrap()]);
    assert_eq!(o.status.code(), Some(2));
    assert!(stderr(&o).contains("the campaign's own suite"), "{}", stderr(&o));
    let other = scale_suite(tmp.path(), "toy-other", 1.0, 0.0, "# Minimise y\n");
    let o = asi_evolve(&["promote", run.to_str().unwrap(), "--to", other.to_str().unwrap()]);
    assert_eq!(o.status.code(), Some(2));
    assert!(stderr(&o).contains("is not another scale"), "{}", stderr(&o));
}
