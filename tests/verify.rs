//! End to end: `asi-evolve verify` re-evaluates recorded designs with their suites' evaluators,
//! passes the shipped ones, and fails — with the reason in its table and JUnit report — a design
//! that no longer validates, one recorded above what it achieves, and one whose program is gone.

mod common;

use std::path::{Path, PathBuf};
use std::process::Output;

use common::*;

fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("..")
}

/// The n = 26 seed program and its score, as shipped in designs/.
const SEED: &str = "suites/circle-packing/initial_program.py";
const SEED_SCORE: &str = "0.9597642169962064";

/// Runs `asi-evolve verify DESIGNS --junit FILE` and returns the output and the JUnit XML.
fn verify(designs: &Path, dir: &Path) -> (Output, String) {
    let junit = dir.join("junit.xml");
    let o = asi_evolve(&["verify", designs.to_str().unwrap(), "--junit", junit.to_str().unwrap()]);
    assert!(!stderr(&o).contains("panicked"), "{}", stderr(&o));
    // Failing designs keep their evaluation folders for inspection; tests tidy them away.
    if let Some(kept) = stdout(&o).lines().find_map(|l| l.split_once("are kept under ")).map(|(_, d)| d.to_owned()) {
        std::fs::remove_dir_all(kept.trim()).unwrap();
    }
    let xml = std::fs::read_to_string(&junit)
        .unwrap_or_else(|e| panic!("no JUnit report ({e})\nstdout:\n{}\nstderr:\n{}", stdout(&o), stderr(&o)));
    (o, xml)
}

fn design(name: &str, program: &str, score: &str) -> String {
    format!(
        "[[design]]\nname = \"{name}\"\nsuite = \"circle-packing\"\nprogram = \"{program}\"\nscore = {score}\ntolerance = 1e-9\n\n"
    )
}

/// The `<testcase>` element of `name`, up to its end.
fn testcase<'a>(xml: &'a str, name: &str) -> &'a str {
    let start = xml.find(&format!("<testcase name=\"{name}\"")).unwrap_or_else(|| panic!("no testcase {name}\n{xml}"));
    let rest = &xml[start..];
    let open = rest.find('>').unwrap() + 1;
    if rest[..open].ends_with("/>") {
        return &rest[..open];
    }
    &rest[..rest.find("</testcase>").unwrap() + "</testcase>".len()]
}

#[test]
fn the_shipped_designs_pass() {
    let tmp = tempfile::tempdir().unwrap();
    let designs = root().join("designs/designs.toml");
    let (o, xml) = verify(&designs, tmp.path());
    assert_ok(&o);
    let out = stdout(&o);
    assert!(!xml.contains("<failure"), "{xml}");
    assert!(xml.contains(r#"<testsuite name="asi-evolve verify""#) && xml.contains(r#"failures="0""#), "{xml}");
    let text = std::fs::read_to_string(&designs).unwrap();
    let count = text.matches("[[design]]").count();
    assert!(count >= 4, "{text}");
    assert_eq!(xml.matches("<testcase ").count(), count, "{xml}");
    assert_eq!(out.lines().filter(|l| l.contains(" PASS ")).count(), count, "{out}");
    assert!(out.contains(&format!("{count} designs verified")), "{out}");
}

#[test]
fn a_design_whose_circles_overlap_fails_with_the_judges_reason() {
    let tmp = tempfile::tempdir().unwrap();
    // The shipped seed, edited so that circle 1 sits on circle 0's centre: inside the square,
    // overlapping circle 0 and nothing else.
    let mut program = std::fs::read_to_string(root().join(SEED)).unwrap();
    program.push_str(
        "\n\n_run_packing = run_packing\n\n\ndef run_packing():\n    centers, radii, _ = _run_packing()\n    \
         centers[1] = centers[0]\n    radii[1] = min(radii[0], radii[1])\n    return centers, radii, float(np.sum(radii))\n",
    );
    std::fs::write(tmp.path().join("overlap.py"), program).unwrap();
    let designs = tmp.path().join("designs.toml");
    std::fs::write(&designs, design("overlapping-seed", "overlap.py", SEED_SCORE)).unwrap();

    let (o, xml) = verify(&designs, tmp.path());
    assert_eq!(o.status.code(), Some(1), "a design that fails verification exits 1: {}", stdout(&o));
    let out = stdout(&o);
    assert!(out.contains("FAIL") && out.contains("circles 0 and 1 overlap"), "{out}");
    assert!(out.contains("1 of 1 design FAILED"), "{out}");
    assert!(xml.contains(r#"failures="1""#), "{xml}");
    let case = testcase(&xml, "overlapping-seed");
    assert!(case.contains("<failure message=\"no longer validates (invalid_result): "), "{case}");
    assert!(case.contains("circles 0 and 1 overlap"), "{case}");
}

#[test]
fn a_recorded_score_above_what_the_program_reaches_fails_with_the_delta() {
    let tmp = tempfile::tempdir().unwrap();
    std::fs::copy(root().join(SEED), tmp.path().join("seed.py")).unwrap();
    let designs = tmp.path().join("designs.toml");
    // 0.9597642169962064 recorded as 0.9697642169962064: 1e-2 more than the seed reaches.
    std::fs::write(
        &designs,
        design("honest-seed", "seed.py", SEED_SCORE) + &design("inflated-seed", "seed.py", "0.9697642169962064"),
    )
    .unwrap();

    let (o, xml) = verify(&designs, tmp.path());
    assert_eq!(o.status.code(), Some(1), "a design that fails verification exits 1: {}", stdout(&o));
    let out = stdout(&o);
    let row = |name: &str| out.lines().find(|l| l.starts_with(name)).unwrap_or_else(|| panic!("{out}")).to_owned();
    assert!(row("honest-seed").contains("PASS"), "{out}");
    let inflated = row("inflated-seed");
    assert!(inflated.contains("FAIL") && inflated.contains(SEED_SCORE) && inflated.contains("-1.000e-2"), "{out}");
    assert!(xml.contains(r#"tests="2""#) && xml.contains(r#"failures="1""#), "{xml}");
    assert!(!testcase(&xml, "honest-seed").contains("<failure"), "{xml}");
    let case = testcase(&xml, "inflated-seed");
    assert!(
        case.contains(&format!("<failure message=\"scores {SEED_SCORE} &lt; recorded 0.9697642169962064")),
        "{case}"
    );
    assert!(case.contains("delta -1.000e-2") && case.contains("tolerance 1.0e-9"), "{case}");
}

#[test]
fn a_missing_program_fails_by_name_and_the_rest_still_run() {
    let tmp = tempfile::tempdir().unwrap();
    std::fs::copy(root().join(SEED), tmp.path().join("seed.py")).unwrap();
    let designs = tmp.path().join("designs.toml");
    std::fs::write(
        &designs,
        design("gone", "lost/program.py", "1.0") + &design("seed-after-the-missing-one", "seed.py", SEED_SCORE),
    )
    .unwrap();

    let (o, xml) = verify(&designs, tmp.path());
    assert_eq!(o.status.code(), Some(1), "a design that fails verification exits 1: {}", stdout(&o));
    let out = stdout(&o);
    let missing = tmp.path().join("lost/program.py");
    let gone = out.lines().find(|l| l.starts_with("gone")).unwrap_or_else(|| panic!("{out}"));
    assert!(gone.contains("FAIL") && gone.contains(&format!("cannot read program {}", missing.display())), "{out}");
    assert!(out.lines().any(|l| l.starts_with("seed-after-the-missing-one") && l.contains("PASS")), "{out}");
    let case = testcase(&xml, "gone");
    assert!(case.contains("<failure message=\"cannot read program ") && case.contains("lost/program.py"), "{case}");
}

#[test]
fn a_malformed_designs_file_is_an_error_naming_file_and_key() {
    let tmp = tempfile::tempdir().unwrap();
    let designs = tmp.path().join("designs.toml");
    std::fs::write(&designs, design("typo", "seed.py", SEED_SCORE).replace("tolerance", "tolerence")).unwrap();
    let o = asi_evolve(&["verify", designs.to_str().unwrap()]);
    assert_eq!(o.status.code(), Some(2), "a designs file that cannot be read exits 2");
    let err = stderr(&o);
    assert!(err.contains(&designs.display().to_string()) && err.contains("tolerence"), "{err}");

    std::fs::write(&designs, design("no-score", "seed.py", SEED_SCORE).replace(&format!("score = {SEED_SCORE}\n"), ""))
        .unwrap();
    let err = stderr(&asi_evolve(&["verify", designs.to_str().unwrap()]));
    assert!(err.contains(&designs.display().to_string()) && err.contains("needs `score`"), "{err}");
}
