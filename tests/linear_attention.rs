//! End to end: the linear-attention suite's cascade evaluator, at its `ci` scale. Stage 1
//! rejects each kind of broken mixer with a reason naming the check and the number, and the
//! same program evaluated twice scores the same bit for bit. Needs PyTorch on `python3`
//! (`bash scripts/setup.sh --ml`, then `source scripts/env.sh`); without it these tests fail.

mod common;

use std::path::Path;

use common::*;

const SUITE: &str = "linear-attention-ci";

fn require_torch() {
    let probe = std::process::Command::new("python3").args(["-c", "import torch"]).output();
    assert!(
        matches!(&probe, Ok(o) if o.status.success()),
        "PyTorch is not importable by `python3` on PATH: run `bash scripts/setup.sh --ml`, then `source scripts/env.sh`"
    );
}

/// `asi-evolve evaluate linear-attention-ci PROGRAM`: its exit code and printed evaluation.
fn evaluate(dir: &Path, name: &str, code: &str) -> (Option<i32>, serde_json::Value) {
    require_torch();
    let program = dir.join(format!("{name}.py"));
    std::fs::write(&program, code).unwrap();
    let workdir = dir.join(format!("work-{name}"));
    let o = asi_evolve(&["evaluate", SUITE, program.to_str().unwrap(), "--workdir", workdir.to_str().unwrap()]);
    let value = serde_json::from_slice(&o.stdout).unwrap_or_else(|e| {
        panic!("{name}: no evaluation printed ({e})\nstdout:\n{}\nstderr:\n{}", stdout(&o), stderr(&o))
    });
    (o.status.code(), value)
}

/// A mixer: one linear map of the input, with `body` as its forward's return expression and
/// `extra` added to `__init__`.
fn mixer(extra: &str, body: &str) -> String {
    format!(
        "import torch\nfrom torch import nn\n\n# EVOLVE-BLOCK-START\nclass Mixer(nn.Module):\n    \
         def __init__(self, d_model, n_heads, **kw):\n        super().__init__()\n        \
         self.proj = nn.Linear(d_model, d_model)\n        {extra}\n\n    def forward(self, x):\n        \
         return {body}\n# EVOLVE-BLOCK-END\n"
    )
}

fn assert_rejected_at_stage_1(dir: &Path, name: &str, code: &str, check: &str, number: &str) {
    let (status, e) = evaluate(dir, name, code);
    assert_eq!(status, Some(1), "{name}: an invalid program exits 1: {e}");
    assert_eq!(e["failure"], "invalid_result", "{name}: {e}");
    assert_eq!(e["metrics"]["stage"].as_f64(), Some(1.0), "{name}: stopped at stage 1: {e}");
    let reason = e["reason"].as_str().unwrap_or_default();
    assert!(reason.starts_with("stage 1 of 3: "), "{name}: {reason}");
    assert!(reason.contains(&format!("check `{check}`")), "{name}: the reason does not name `{check}`: {reason}");
    assert!(reason.contains(number), "{name}: the reason does not give `{number}`: {reason}");
}

#[test]
fn stage_1_rejects_each_broken_mixer_naming_the_check() {
    let tmp = tempfile::tempdir().unwrap();
    let d = tmp.path();
    // Reversing time makes position 0 read the last token.
    assert_rejected_at_stage_1(
        d,
        "future",
        &mixer("", "self.proj(x.flip(1))"),
        "causality",
        "positions <= 0 changed by",
    );
    assert_rejected_at_stage_1(d, "nan", &mixer("", "self.proj(x) * float('nan')"), "finite", "non-finite values");
    // 64 x 6400 unused weights: far past 1.25x the ci model's 133,888 parameters.
    assert_rejected_at_stage_1(
        d,
        "budget",
        &mixer("self.unused = nn.Linear(d_model, 100 * d_model)", "self.proj(x)"),
        "parameter budget",
        "x the seed's 133888",
    );
    assert_rejected_at_stage_1(d, "shape", &mixer("", "self.proj(x)[:, :-1]"), "shape", "output shape [2, 63, 64]");
}

#[test]
fn the_same_program_scores_the_same_twice() {
    let tmp = tempfile::tempdir().unwrap();
    let seed = std::fs::read_to_string(
        Path::new(env!("CARGO_MANIFEST_DIR")).join("../suites/linear-attention/initial_program.py"),
    )
    .unwrap();
    let (first_status, first) = evaluate(tmp.path(), "first", &seed);
    let (second_status, second) = evaluate(tmp.path(), "second", &seed);
    assert_eq!(first_status, Some(0), "{first}");
    assert_eq!(second_status, Some(0), "{second}");
    assert_eq!(first["metrics"]["stage"].as_f64(), Some(3.0), "every stage ran: {first}");
    for key in ["params", "mqar_accuracy", "val_loss", "lm_quality"] {
        assert!(first["metrics"][key].is_number(), "metric {key} missing: {first}");
    }
    // Bit for bit: serde_json keeps every digit of an f64.
    assert_eq!(first["score"], second["score"]);
    assert_eq!(first["metrics"], second["metrics"]);
}

/// A stand-in for the ci suite under its name (the report keys its Table 1 on the suite name):
/// its evaluator reports fixed metrics instantly, so the table can be checked without training.
fn stand_in_suite(dir: &Path) -> std::path::PathBuf {
    let suite = dir.join("linear-attention-ci");
    std::fs::create_dir_all(&suite).unwrap();
    std::fs::write(
        suite.join("suite.toml"),
        "name = \"linear-attention-ci\"\ntask = \"task.md\"\nseed_program = \"seed.py\"\n[evaluator]\n\
         command = [\"bash\", \"{suite_dir}/evaluate.sh\"]\ntimeout_s = 30\n",
    )
    .unwrap();
    std::fs::write(suite.join("task.md"), "# stand-in\n").unwrap();
    std::fs::write(suite.join("seed.py"), "# EVOLVE-BLOCK-START\nx = 1.5\n# EVOLVE-BLOCK-END\n").unwrap();
    std::fs::write(
        suite.join("evaluate.sh"),
        "echo '{\"score\": 0.9876, \"valid\": true, \"metrics\": {\"val_loss\": 1.2345, \"mqar_accuracy\": 0.875}}' \
         > \"$ASI_EVOLVE_RESULTS\"\n",
    )
    .unwrap();
    suite
}

#[test]
fn the_report_has_the_table_1_shape_with_each_rows_scale() {
    let tmp = tempfile::tempdir().unwrap();
    let suite = stand_in_suite(tmp.path());
    let run = tmp.path().join("run");
    assert_ok(&asi_evolve(&["run", suite.to_str().unwrap(), "--rounds", "1", "--out", run.to_str().unwrap()]));
    let out = tmp.path().join("report");
    assert_ok(&asi_evolve(&["report", run.to_str().unwrap(), "--out", out.to_str().unwrap()]));
    let md = std::fs::read_to_string(out.join("report.md")).unwrap();
    let section = &md[md.find("## Table 1 shape").unwrap_or_else(|| panic!("no Table 1 section:\n{md}"))..];
    let section = &section[..section[3..].find("\n## ").map_or(section.len(), |i| i + 3)];
    let row = |start: &str| {
        section
            .lines()
            .find(|l| l.starts_with(&format!("| {start}")))
            .unwrap_or_else(|| panic!("no row {start}:\n{section}"))
    };
    // The paper's rows, at their scale.
    assert!(row("DeltaNet |").contains("| 55.76 | 44.74 | 51.04 |"), "{section}");
    assert!(row("Mamba2").contains("51.38") && row("Gated DeltaNet |").contains("50.46"), "{section}");
    assert!(row("best discovered (HierGateNet)").contains("1.3B parameters, 100B tokens | 57.28 | 44.99 | 52.01"));
    // Our baselines, measured at the suite's scale, the ceiling labelled as such.
    let ours = row("linear attention (ELU+1)");
    assert!(ours.contains("ours: baseline design, measured") && ours.contains("| ci ("), "{ours}");
    assert!(row("softmax attention").contains("quadratic ceiling"), "{section}");
    // The best node the run found, with the metrics its score is made of.
    let best = row("**ours, arm");
    assert!(best.contains("ci (this suite)") && best.contains("1.2345") && best.contains("0.8750"), "{best}");
    assert!(best.contains("0.987600"), "{best}");
}
