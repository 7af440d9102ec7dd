//! Helpers shared by the end-to-end tests: they drive the `asi-evolve` binary as a user would.

#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use rusqlite::Connection;

pub(crate) fn bin() -> PathBuf {
    PathBuf::from(env!("CARGO_BIN_EXE_asi-evolve"))
}

/// Runs `asi-evolve ARGS` from the workspace root, so `suites/` resolves as for a user there.
pub(crate) fn asi_evolve(args: &[&str]) -> Output {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
    Command::new(bin()).args(args).current_dir(root).output().expect("the asi-evolve binary runs")
}

/// True (and says SKIPPED, with the reason) where this kernel cannot confine evaluators; in CI
/// (`CI` set), where a confining kernel is what these tests exist for, the test fails instead.
pub(crate) fn cannot_confine() -> bool {
    let confinement = asi_evolve::engineer::confine::status();
    let unavailable = !matches!(confinement, asi_evolve::engineer::confine::Support::Landlock { .. });
    if unavailable {
        assert!(std::env::var_os("CI").is_none(), "CI must confine evaluators, and cannot: {}", confinement.describe());
        eprintln!("SKIPPED: {}", confinement.describe());
    }
    unavailable
}

pub(crate) fn stdout(o: &Output) -> String {
    String::from_utf8_lossy(&o.stdout).into_owned()
}

pub(crate) fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

pub(crate) fn assert_ok(o: &Output) {
    assert!(o.status.success(), "asi-evolve failed\nstdout:\n{}\nstderr:\n{}", stdout(o), stderr(o));
}

/// Every node column except the wall-clock ones, one string per node, in round order.
pub(crate) fn node_table(run_dir: &Path) -> Vec<String> {
    let conn = Connection::open(run_dir.join("campaign.db")).unwrap();
    let columns: Vec<String> = conn
        .prepare("SELECT name FROM pragma_table_info('nodes')")
        .unwrap()
        .query_map([], |r| r.get(0))
        .unwrap()
        .map(Result::unwrap)
        .filter(|c: &String| !asi_evolve::database::WALL_CLOCK_COLUMNS.contains(&c.as_str()))
        .collect();
    assert!(columns.len() > 10, "{columns:?}");
    let select = columns.iter().map(|c| format!("quote({c})")).collect::<Vec<_>>().join(" || '|' || ");
    conn.prepare(&format!("SELECT {select} FROM nodes ORDER BY id"))
        .unwrap()
        .query_map([], |r| r.get(0))
        .unwrap()
        .map(Result::unwrap)
        .collect()
}

/// Writes a tiny suite whose evaluator is the given bash script body.
pub(crate) fn script_suite(dir: &Path, evaluator: &str, timeout_s: f64) -> PathBuf {
    let suite = dir.join("suite");
    std::fs::create_dir_all(&suite).unwrap();
    std::fs::write(
        suite.join("suite.toml"),
        format!(
            "name = \"script\"\ntask = \"task.md\"\nseed_program = \"seed.py\"\n[evaluator]\ncommand = [\"bash\", \"{{suite_dir}}/evaluate.sh\"]\ntimeout_s = {timeout_s}\n"
        ),
    )
    .unwrap();
    std::fs::write(suite.join("task.md"), "# Maximise x\n").unwrap();
    std::fs::write(suite.join("seed.py"), "# EVOLVE-BLOCK-START\nx = 1.5\n# EVOLVE-BLOCK-END\n").unwrap();
    std::fs::write(suite.join("evaluate.sh"), evaluator).unwrap();
    suite
}
