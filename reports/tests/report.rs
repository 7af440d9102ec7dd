mod common;

use std::path::{Path, PathBuf};

use asi_evolve_reports::{References, ReportError, ReportOptions, TreeRuns, report};
use common::{FULL_S1, RunSpec, make_run, three_runs};

fn options() -> ReportOptions {
    ReportOptions { thresholds: vec![1.5, 2.2], ..Default::default() }
}

fn run_report(options: &ReportOptions) -> (tempfile::TempDir, PathBuf, asi_evolve_reports::ReportSummary) {
    let tmp = tempfile::tempdir().unwrap();
    let runs = three_runs(tmp.path());
    let out = tmp.path().join("report");
    let summary = report(&runs, &out, options).unwrap();
    (tmp, out, summary)
}

fn read(path: &Path) -> String {
    std::fs::read_to_string(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

fn close(a: f64, b: f64) -> bool {
    (a - b).abs() < 1e-12
}

#[test]
fn report_writes_every_file() {
    let (_tmp, out, summary) = run_report(&options());
    let mut expected: Vec<String> =
        ["nodes", "curves", "arm_curves", "runs", "arms", "thresholds", "failures", "intervals", "comparisons"]
            .iter()
            .flat_map(|s| [format!("{s}.csv"), format!("{s}.parquet")])
            .collect();
    expected.extend(
        [
            "convergence.png",
            "convergence.svg",
            "final_best.png",
            "final_best.svg",
            "intervals.png",
            "intervals.svg",
            "report.md",
            "report.html",
        ]
        .map(String::from),
    );
    expected.extend(["tree-full-full-s1.svg".to_string(), "tree-no-llm-no-llm-s1.svg".to_string()]);
    for name in &expected {
        let path = out.join(name);
        assert!(summary.files.contains(&path), "{name} not in the summary");
        let len = std::fs::metadata(&path).unwrap_or_else(|e| panic!("{name}: {e}")).len();
        assert!(len > 0, "{name} is empty");
    }
    assert_eq!(summary.files.len(), expected.len());
    let parquet = std::fs::read(out.join("arms.parquet")).unwrap();
    assert_eq!(&parquet[..4], b"PAR1");
    let csv = read(&out.join("arms.csv"));
    assert!(csv.starts_with("arm,suite,seeds,final_best_mean"), "{csv}");
}

#[test]
fn aggregates_match_a_hand_computed_case() {
    let (_tmp, out, summary) = run_report(&options());
    let full = &summary.arms[0];
    assert_eq!((full.arm.as_str(), full.seeds, full.rounds, full.nodes), ("full", 2, 3, 8));
    assert!(close(full.final_best_mean.unwrap(), 2.0));
    assert!(close(full.final_best_std.unwrap(), 0.5f64.sqrt()));
    assert_eq!((full.final_best_min, full.final_best_max), (Some(1.5), Some(2.5)));
    assert_eq!((full.valid, full.invalid, full.failed), (6, 1, 1));
    assert!(close(full.failure_rate, 0.25));
    assert_eq!((full.llm_exchanges, full.prompt_tokens, full.completion_tokens), (3, 150, 25));
    assert!(close(full.cost_usd, 0.03));
    assert!(close(full.compute_seconds, 8.0 * 3.5));
    assert!(close(full.wall_seconds_mean.unwrap(), 30.0));

    let nl = &summary.arms[1];
    assert_eq!((nl.arm.as_str(), nl.seeds), ("no-llm", 1));
    assert_eq!((nl.final_best_mean, nl.final_best_std, nl.final_best_max), (Some(1.1), None, Some(1.1)));
    assert!(close(nl.failure_rate, 0.5));
    assert_eq!((nl.llm_exchanges, nl.prompt_tokens, nl.cost_usd), (0, 0, 0.0));

    let reach: Vec<_> = summary.runs.iter().map(|r| (r.run.as_str(), r.reach.clone())).collect();
    assert_eq!(
        reach,
        [("full-s1", vec![Some(2), None]), ("full-s2", vec![Some(1), Some(3)]), ("no-llm-s1", vec![None, None])]
    );

    // The per-arm thresholds: medians over the runs that reached, and how many did.
    let thresholds = read(&out.join("thresholds.csv"));
    let lines: Vec<&str> = thresholds.lines().collect();
    assert_eq!(lines[0], "arm,threshold,median_round,reached,seeds");
    assert_eq!(&lines[1..], ["full,1.5,1.5,2,2", "no-llm,1.5,,0,1", "full,2.2,3.0,1,2", "no-llm,2.2,,0,1"]);

    // Failure classes as shares of the arm's nodes.
    let failures = read(&out.join("failures.csv"));
    let lines: Vec<&str> = failures.lines().collect();
    assert_eq!(lines[0], "arm,status,failure,nodes,arm_nodes,rate");
    assert_eq!(
        &lines[1..],
        [
            "full,failed,crash,1,8,0.125",
            "full,invalid,invalid_result,1,8,0.125",
            "no-llm,failed,syntax_error,1,4,0.25",
            "no-llm,failed,timeout,1,4,0.25"
        ]
    );

    // Best-so-far per round, and its mean/min/max over the seeds of an arm.
    let curves = read(&out.join("curves.csv"));
    let best: Vec<&str> = curves.lines().skip(1).map(|l| l.rsplit(',').next().unwrap()).collect();
    assert_eq!(best, ["1.0", "1.0", "1.5", "1.5", "1.0", "2.0", "2.0", "2.5", "1.0", "1.1", "1.1", "1.1"]);
    let arm_curves = read(&out.join("arm_curves.csv"));
    let lines: Vec<&str> = arm_curves.lines().collect();
    assert_eq!(lines[0], "arm,round,mean,min,max,seeds");
    assert_eq!(
        &lines[1..5],
        ["full,0,1.0,1.0,1.0,2", "full,1,1.5,1.0,2.0,2", "full,2,1.75,1.5,2.0,2", "full,3,2.0,1.5,2.5,2"]
    );
}

fn png_size(bytes: &[u8]) -> (u32, u32) {
    assert_eq!(&bytes[..8], b"\x89PNG\r\n\x1a\n", "not a PNG");
    assert_eq!(&bytes[12..16], b"IHDR");
    let be = |b: &[u8]| u32::from_be_bytes([b[0], b[1], b[2], b[3]]);
    (be(&bytes[16..20]), be(&bytes[20..24]))
}

#[test]
fn pngs_are_valid_and_non_trivial() {
    let (_tmp, out, _) = run_report(&options());
    for name in ["convergence.png", "final_best.png", "intervals.png"] {
        let bytes = std::fs::read(out.join(name)).unwrap();
        assert_eq!(png_size(&bytes), (1100, 650), "{name}");
        assert!(&bytes[bytes.len() - 8..bytes.len() - 4] == b"IEND", "{name} is truncated");
        assert!(bytes.len() > 20_000, "{name} is only {} bytes", bytes.len());
    }
}

#[test]
fn svg_figures_carry_axis_labels_and_legend() {
    let (_tmp, out, _) = run_report(&options());
    let convergence = read(&out.join("convergence.svg"));
    for text in ["round", "best score", "full — mean of 2 seeds, band min–max", "no-llm — mean of 1 seed, band min–max"]
    {
        assert!(convergence.contains(text), "convergence.svg lacks {text:?}");
    }
    // Our scores span 1.0–2.5: the seed reference (0.96) is inside the padded range, the paper's
    // 2.63597 is not and must not squash the curves.
    assert!(convergence.contains("reference: seed (two rings) 0.9597642169962064"));
    assert!(!convergence.contains("reference: ASI-Evolve"));
    let bars = read(&out.join("final_best.svg"));
    for text in ["arm", "final best score", "full", "no-llm", "2.0000 (n=2)"] {
        assert!(bars.contains(text), "final_best.svg lacks {text:?}");
    }
    let md = read(&out.join("report.md"));
    assert!(
        md.contains("References outside the plotted range, so not drawn: best known 2.635983; ASI-Evolve 2.63597"),
        "{md}"
    );
}

#[test]
fn references_all_widen_the_range_to_the_paper() {
    let (_tmp, out, _) = run_report(&ReportOptions { references: References::All, ..options() });
    let convergence = read(&out.join("convergence.svg"));
    assert!(convergence.contains("reference: ASI-Evolve 2.63597 (GPT-5-mini, 17 rounds)"));
    let (_tmp, out, _) = run_report(&ReportOptions { references: References::Off, ..options() });
    assert!(!read(&out.join("convergence.svg")).contains("reference:"));
}

#[test]
fn html_tree_has_one_element_per_node_and_marks_failures() {
    let (_tmp, out, _) = run_report(&ReportOptions { tree_runs: TreeRuns::FirstPerArm, ..options() });
    let html = read(&out.join("report.html"));
    assert!(html.starts_with("<!DOCTYPE html>"));
    assert!(!html.contains("<script"), "the report runs no script");
    assert!(!html.contains("<?xml"), "inline SVGs carry no XML prolog");
    // Two trees (first run of each arm), four nodes each.
    assert_eq!(html.matches("<figure class=\"tree-figure\"").count(), 2);
    assert_eq!(html.matches("class=\"node ").count(), 8);
    assert_eq!(html.matches("class=\"node failed failure\"").count(), 3);
    assert_eq!(html.matches("class=\"node valid best\"").count(), 2);
    assert!(
        html.contains("<title>#1 node-1 — failed (crash): synthetic crash &lt;reason&gt; &amp; more (round 1)</title>")
    );
    assert!(html.contains("<title>#2 node-2 — score 1.5 (round 2)</title>"));
    assert!(html.contains("linearGradient id=\"score-scale-0\""));
    // The figures are inline, not linked.
    assert!(html.contains("best score") && html.contains("final best score"));

    let (_tmp, out, _) = run_report(&ReportOptions { tree_runs: TreeRuns::BestPerArm, ..options() });
    let html = read(&out.join("report.html"));
    assert_eq!(html.matches("class=\"node invalid failure\"").count(), 1, "the best full run is seed 2");
}

#[test]
fn paper_table_lists_baselines_with_sources_and_says_what_produced_ours() {
    let (_tmp, out, _) = run_report(&options());
    let md = read(&out.join("report.md"));
    for b in asi_evolve_baselines::for_suite("circle-packing") {
        let row = md.lines().find(|l| l.starts_with(&format!("| {} |", b.system))).unwrap_or_else(|| panic!("{md}"));
        assert!(row.contains(&b.value.to_string()) && row.contains(&b.source), "{row}");
    }
    let asi = md.lines().find(|l| l.starts_with("| ASI-Evolve |")).unwrap();
    assert!(asi.contains("| GPT-5-mini | 17 |") && asi.contains("2.63597"), "{asi}");
    let ours = md.lines().find(|l| l.starts_with("| **ours: no-llm**")).unwrap();
    assert!(ours.contains("offline evolutionary researcher") && ours.contains("no LLM call recorded"), "{ours}");
    assert!(ours.contains("**1.100000**") && ours.contains("**3**"), "{ours}");
    let full = md.lines().find(|l| l.starts_with("| **ours: full**")).unwrap();
    assert!(full.contains("3 LLM exchanges, 150 prompt + 25 completion tokens, $0.03"), "{full}");

    let html = read(&out.join("report.html"));
    assert!(html.contains("<td>OpenEvolve&#39;s shipped best program</td>"));
    assert_eq!(html.matches("<tr class=\"ours\">").count(), 2);
}

#[test]
fn a_folder_that_is_not_a_run_is_named() {
    let tmp = tempfile::tempdir().unwrap();
    let mut runs = three_runs(tmp.path());
    let stray = tmp.path().join("not-a-run");
    std::fs::create_dir_all(&stray).unwrap();
    runs.push(stray.clone());
    let err = report(&runs, &tmp.path().join("out"), &options()).unwrap_err();
    assert!(matches!(&err, ReportError::NotARun(p) if *p == stray), "{err}");
    assert!(err.to_string().contains("not-a-run holds no campaign.db"), "{err}");
    assert!(matches!(report(&[], &tmp.path().join("out"), &options()), Err(ReportError::NoRuns)));
}

#[test]
fn runs_of_different_suites_are_refused() {
    let tmp = tempfile::tempdir().unwrap();
    let a = make_run(tmp.path(), &RunSpec::new("a", "full", 1, FULL_S1));
    let b = make_run(tmp.path(), &RunSpec { suite: "circle-packing-32", ..RunSpec::new("b", "full", 2, FULL_S1) });
    let err = report(&[a, b], &tmp.path().join("out"), &options()).unwrap_err().to_string();
    assert!(err.contains("circle-packing, circle-packing-32"), "{err}");
}

#[test]
fn an_empty_run_is_named() {
    let tmp = tempfile::tempdir().unwrap();
    let a = make_run(tmp.path(), &RunSpec::new("empty", "full", 1, &[]));
    let err = report(&[a], &tmp.path().join("out"), &options()).unwrap_err().to_string();
    assert!(err.contains("empty: the campaign has no nodes yet"), "{err}");
}

#[test]
fn arm_falls_back_to_the_sampler() {
    let tmp = tempfile::tempdir().unwrap();
    let a = make_run(tmp.path(), &RunSpec { arm: None, sampler: "random", ..RunSpec::new("a", "", 1, FULL_S1) });
    let summary = report(&[a], &tmp.path().join("out"), &ReportOptions::default()).unwrap();
    assert_eq!(summary.arms[0].arm, "random");
    assert!(!summary.files.iter().any(|f| f.ends_with("report.html") && read(f).contains("Rounds to reach")));
}

#[test]
fn tree_runs_must_be_among_the_reports_runs() {
    let tmp = tempfile::tempdir().unwrap();
    let runs = three_runs(tmp.path());
    let elsewhere = make_run(&tmp.path().join("x"), &RunSpec::new("other", "full", 9, FULL_S1));
    let options = ReportOptions { tree_runs: TreeRuns::Runs(vec![elsewhere.clone()]), ..options() };
    let err = report(&runs, &tmp.path().join("out"), &options).unwrap_err();
    assert!(matches!(&err, ReportError::BadRun { run, .. } if *run == elsewhere), "{err}");
    let options = ReportOptions { tree_runs: TreeRuns::Runs(vec![runs[1].clone()]), ..options };
    let summary = report(&runs, &tmp.path().join("out"), &options).unwrap();
    assert!(summary.files.iter().any(|f| f.ends_with("tree-full-full-s2.svg")));
    assert_eq!(summary.files.iter().filter(|f| f.to_string_lossy().contains("tree-")).count(), 1);
}

#[test]
fn interval_estimates_and_paired_comparisons_are_reported() {
    let (_tmp, out, summary) = run_report(&options());
    let stats = &summary.statistics;
    assert_eq!(stats.reference, "full");
    // full: final bests 1.5 and 2.5, IQM of two values = their mean; AUC = mean best-so-far over
    // rounds 0..3: (1 + 1 + 1.5 + 1.5) / 4 = 1.25 and (1 + 2 + 2 + 2.5) / 4 = 1.875.
    let full_auc = stats.estimates.iter().find(|e| e.arm == "full" && e.metric.key() == "auc").unwrap();
    assert!(close(full_auc.iqm.unwrap(), (1.25 + 1.875) / 2.0));
    let ci = full_auc.ci.unwrap();
    assert!(ci.low >= 1.25 && ci.high <= 1.875 && ci.low < ci.high, "{ci:?}");
    // no-llm-s1: (1 + 1.1 + 1.1 + 1.1) / 4.
    let auc: Vec<f64> = summary.runs.iter().map(|r| r.auc.unwrap()).collect();
    assert!(auc.iter().zip([1.25, 1.875, 1.075]).all(|(a, b)| close(*a, b)), "{auc:?}");
    // no-llm has one seed: a point, no interval; its seed 1 pairs with full's seed 1.
    let no_llm = stats.estimates.iter().find(|e| e.arm == "no-llm" && e.metric.key() == "final_best").unwrap();
    assert_eq!((no_llm.seeds, no_llm.iqm, no_llm.ci), (1, Some(1.1), None));
    let c = stats.comparisons.iter().find(|c| c.arm == "no-llm" && c.metric.key() == "final_best").unwrap();
    assert_eq!((c.pairs, c.p_improvement), (1, Some(0.0)));
    assert!(close(c.mean_difference.unwrap(), 1.1 - 1.5));

    let md = read(&out.join("report.md"));
    for text in [
        "## Interval estimates per arm",
        "## Paired comparison with `full`",
        "| full | AUC | 2 | 1.562500 |",
        "| no-llm | final best | 1 | -0.400000 | – | – | 0.000 | – | ⚠ undecided: one seed pair, no interval |",
        "2000 resamples",
        "(1/(R+1)) · Σ best_so_far(r) for r = 0..R",
        "⌈((1.960 + 0.842) · sd / |Δ|)²⌉",
        "![IQM and bootstrap 95% interval per arm](intervals.png)",
        "`intervals.csv`",
    ] {
        assert!(md.contains(text), "report.md lacks {text:?}:\n{md}");
    }
    let html = read(&out.join("report.html"));
    assert!(html.contains("<figure id=\"intervals\"><svg"));
    assert!(html.contains("Paired comparison with <code>full</code>"));
    let svg = read(&out.join("intervals.svg"));
    for text in ["final best score", "AUC: mean best-so-far over rounds", "full", "no-llm", "1.1000 (n=1)"] {
        assert!(svg.contains(text), "intervals.svg lacks {text:?}");
    }
    let csv = read(&out.join("comparisons.csv"));
    let lines: Vec<&str> = csv.lines().collect();
    assert_eq!(
        lines[0],
        "arm,reference,metric,pairs,mean_difference,difference_low,difference_high,difference_sd,p_improvement,\
         p_improvement_low,p_improvement_high,decision,seeds_needed"
    );
    assert!(lines[1].starts_with("no-llm,full,final_best,1,"), "{csv}");
    assert!(
        read(&out.join("intervals.csv"))
            .starts_with("arm,metric,seeds,iqm,ci_low,ci_high,mean\nfull,final_best,2,2.0,")
    );
}

#[test]
fn the_statistics_are_bit_identical_on_rerun() {
    let tmp = tempfile::tempdir().unwrap();
    let runs = three_runs(tmp.path());
    let (a, b) = (tmp.path().join("a"), tmp.path().join("b"));
    let first = report(&runs, &a, &options()).unwrap();
    let second = report(&runs, &b, &options()).unwrap();
    assert_eq!(first.statistics, second.statistics);
    for name in ["intervals.csv", "comparisons.csv", "intervals.svg", "report.md"] {
        assert_eq!(read(&a.join(name)), read(&b.join(name)), "{name} differs between two runs");
    }
}

#[test]
fn the_reference_arm_can_be_chosen_and_must_exist() {
    let options = ReportOptions { reference_arm: Some("no-llm".into()), ..options() };
    let (_tmp, out, summary) = run_report(&options);
    assert_eq!(summary.statistics.reference, "no-llm");
    assert!(summary.statistics.comparisons.iter().all(|c| c.arm == "full" && c.reference == "no-llm"));
    assert!(read(&out.join("report.md")).contains("## Paired comparison with `no-llm`"));

    let tmp = tempfile::tempdir().unwrap();
    let runs = three_runs(tmp.path());
    let options = ReportOptions { reference_arm: Some("nope".into()), ..options };
    let err = report(&runs, &tmp.path().join("out"), &options).unwrap_err().to_string();
    assert!(err.contains("`nope` is not among the report's arms (full, no-llm)"), "{err}");
}
