//! End to end: a recorded experiment cannot silently change, and nothing a user owns is deleted.
//! Resume and rerun refuse a campaign whose suite files (its folder's and those it runs from
//! outside it) or evaluator environment differ from what it recorded, naming what differs;
//! `evaluate --workdir` refuses a folder with anything in it.

mod common;

use std::path::Path;
use std::process::{Command, Output};

use common::*;

/// A suite whose evaluator lives outside its folder, as `{suite_dir}/../shared/evaluate.sh`.
fn suite_running_a_shared_evaluator(root: &Path) -> std::path::PathBuf {
    let suite = script_suite(root, "", 30.0);
    std::fs::remove_file(suite.join("evaluate.sh")).unwrap();
    let manifest = std::fs::read_to_string(suite.join("suite.toml")).unwrap();
    std::fs::write(
        suite.join("suite.toml"),
        manifest.replace("{suite_dir}/evaluate.sh", "{suite_dir}/../shared/evaluate.sh"),
    )
    .unwrap();
    std::fs::create_dir_all(root.join("shared")).unwrap();
    std::fs::write(
        root.join("shared/evaluate.sh"),
        "echo \"{\\\"score\\\": 1.0, \\\"valid\\\": true, \\\"metrics\\\": {\\\"scale\\\": \\\"${ASI_EVOLVE_SCALE:-none}\\\"}}\" > \"$ASI_EVOLVE_RESULTS\"\n",
    )
    .unwrap();
    suite
}

fn with_scale(args: &[&str], scale: Option<&str>) -> Output {
    let mut command = Command::new(bin());
    command.args(args).env_remove("ASI_EVOLVE_SCALE");
    if let Some(scale) = scale {
        command.env("ASI_EVOLVE_SCALE", scale);
    }
    command.output().unwrap()
}

#[test]
fn a_changed_file_the_suite_runs_from_outside_its_folder_makes_resume_and_rerun_refuse_naming_it() {
    let tmp = tempfile::tempdir().unwrap();
    let suite = suite_running_a_shared_evaluator(tmp.path());
    let run = tmp.path().join("run");
    assert_ok(&asi_evolve(&["run", suite.to_str().unwrap(), "--rounds", "2", "--out", run.to_str().unwrap()]));
    let manifest = std::fs::read_to_string(run.join("manifest.toml")).unwrap();
    assert!(manifest.contains("../shared/evaluate.sh"), "the manifest lists the shared evaluator:\n{manifest}");
    // Unchanged, both go on.
    assert_ok(&asi_evolve(&["run", "--resume", run.to_str().unwrap()]));

    let shared = tmp.path().join("shared/evaluate.sh");
    let original = std::fs::read_to_string(&shared).unwrap();
    std::fs::write(&shared, format!("{original}# one more line\n")).unwrap();
    for args in [
        vec!["run", "--resume", run.to_str().unwrap()],
        vec!["rerun", run.to_str().unwrap(), "--out", tmp.path().join("again").to_str().unwrap()],
    ] {
        let o = asi_evolve(&args);
        assert!(!o.status.success(), "{args:?} went on with a changed evaluator:\n{}", stdout(&o));
        assert!(stderr(&o).contains("../shared/evaluate.sh (changed)"), "{args:?}: {}", stderr(&o));
    }
    assert!(!tmp.path().join("again").join("campaign.db").exists());

    std::fs::write(&shared, &original).unwrap();
    std::fs::write(tmp.path().join("shared/helper.sh"), "true\n").unwrap();
    let o = asi_evolve(&["run", "--resume", run.to_str().unwrap()]);
    assert!(stderr(&o).contains("../shared/helper.sh (added)"), "{}", stderr(&o));
    std::fs::remove_file(tmp.path().join("shared/helper.sh")).unwrap();
    std::fs::remove_file(suite.join("task.md")).unwrap();
    std::fs::write(suite.join("task2.md"), "# Maximise x\n").unwrap();
    let manifest = std::fs::read_to_string(suite.join("suite.toml")).unwrap();
    std::fs::write(suite.join("suite.toml"), manifest.replace("task.md", "task2.md")).unwrap();
    let o = asi_evolve(&["run", "--resume", run.to_str().unwrap()]);
    let err = stderr(&o);
    assert!(
        err.contains("task.md (removed)") && err.contains("task2.md (added)") && err.contains("suite.toml (changed)"),
        "{err}"
    );
}

#[test]
fn a_changed_evaluator_variable_makes_resume_and_rerun_refuse_naming_it() {
    let tmp = tempfile::tempdir().unwrap();
    let suite = suite_running_a_shared_evaluator(tmp.path());
    let run = tmp.path().join("run");
    let o = with_scale(&["run", suite.to_str().unwrap(), "--rounds", "2", "--out", run.to_str().unwrap()], Some("ci"));
    assert_ok(&o);
    let manifest = std::fs::read_to_string(run.join("manifest.toml")).unwrap();
    assert!(manifest.contains("ASI_EVOLVE_SCALE=ci"), "{manifest}");
    assert_ok(&with_scale(&["run", "--resume", run.to_str().unwrap()], Some("ci")));

    let o = with_scale(&["run", "--resume", run.to_str().unwrap()], Some("cpu"));
    assert!(!o.status.success());
    assert!(stderr(&o).contains("ASI_EVOLVE_SCALE was `ci`, now `cpu`"), "{}", stderr(&o));
    let again = tmp.path().join("again");
    let o = with_scale(&["rerun", run.to_str().unwrap(), "--out", again.to_str().unwrap()], None);
    assert!(!o.status.success());
    assert!(stderr(&o).contains("ASI_EVOLVE_SCALE was `ci`, now unset"), "{}", stderr(&o));
    let o =
        with_scale(&["rerun", run.to_str().unwrap(), "--out", tmp.path().join("again2").to_str().unwrap()], Some("ci"));
    assert_ok(&o);
    assert!(stdout(&o).contains("reproduced"), "{}", stdout(&o));
}

#[test]
fn evaluate_refuses_a_workdir_with_anything_in_it_and_leaves_it_as_it_was() {
    let tmp = tempfile::tempdir().unwrap();
    let seed = Path::new(env!("CARGO_MANIFEST_DIR")).join("../suites/circle-packing/initial_program.py");
    let mine = tmp.path().join("mine");
    std::fs::create_dir_all(mine.join("sub")).unwrap();
    std::fs::write(mine.join("notes.txt"), "my notes").unwrap();
    let o = asi_evolve(&["evaluate", "circle-packing", seed.to_str().unwrap(), "--workdir", mine.to_str().unwrap()]);
    assert_eq!(o.status.code(), Some(2), "{}", stderr(&o));
    assert!(stderr(&o).contains("is not empty") && stderr(&o).contains("nothing in it was touched"), "{}", stderr(&o));
    assert_eq!(std::fs::read_to_string(mine.join("notes.txt")).unwrap(), "my notes");
    assert!(mine.join("sub").is_dir());

    let file = tmp.path().join("a-file");
    std::fs::write(&file, "x").unwrap();
    let o = asi_evolve(&["evaluate", "circle-packing", seed.to_str().unwrap(), "--workdir", file.to_str().unwrap()]);
    assert_eq!(o.status.code(), Some(2));
    assert_eq!(std::fs::read_to_string(&file).unwrap(), "x");

    // A new folder and an empty one are evaluated in, and kept.
    for dir in [tmp.path().join("new"), {
        let d = tmp.path().join("empty");
        std::fs::create_dir(&d).unwrap();
        d
    }] {
        let o = asi_evolve(&["evaluate", "circle-packing", seed.to_str().unwrap(), "--workdir", dir.to_str().unwrap()]);
        assert_ok(&o);
        assert!(dir.join("results.json").is_file(), "{}", dir.display());
    }
    // Without --workdir the temporary folder is removed again.
    let o = asi_evolve(&["evaluate", "circle-packing", seed.to_str().unwrap()]);
    assert_ok(&o);
    let said = stderr(&o);
    let dir = said.split("evaluated in ").nth(1).and_then(|s| s.split(" (removed").next()).unwrap();
    assert!(!Path::new(dir).exists(), "{said}");
}
