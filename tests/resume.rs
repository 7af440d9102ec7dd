//! End to end: reproducibility across worker counts, crash-safe resume after SIGKILL, rerun.

mod common;

use std::path::Path;
use std::process::{Command, Stdio};
use std::time::Duration;

use common::*;

/// A deterministic stream of delays (splitmix64), so the kill points are the same every run.
struct Delays(u64);

impl Delays {
    fn next_ms(&mut self, low: u64, high: u64) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        low + (z ^ (z >> 31)) % (high - low)
    }
}

fn has_campaign(dir: &Path) -> bool {
    rusqlite::Connection::open(dir.join("campaign.db"))
        .and_then(|c| c.query_row("SELECT COUNT(*) FROM campaign WHERE key = 'config'", [], |r| r.get::<_, i64>(0)))
        .is_ok_and(|n| n == 1)
}

/// Runs a campaign whole, and again killed with SIGKILL at `kills` seeded points and resumed
/// after each; the two node tables must be identical.
fn killed_and_resumed_equals_uninterrupted(sampler: &str, kills: usize, delay_seed: u64) {
    let tmp = tempfile::tempdir().unwrap();
    let args = ["--rounds", "30", "--seed", "5", "--workers", "2", "--sampler", sampler];
    let whole = tmp.path().join("whole");
    let mut first = vec!["run", "circle-packing", "--out", whole.to_str().unwrap()];
    first.extend(args);
    assert_ok(&asi_evolve(&first));

    let killed = tmp.path().join("killed");
    let mut delays = Delays(delay_seed);
    for _ in 0..kills {
        let mut command = Command::new(bin());
        command.current_dir(Path::new(env!("CARGO_MANIFEST_DIR")).join(".."));
        if has_campaign(&killed) {
            command.args(["run", "--resume", killed.to_str().unwrap(), "--workers", "2"]);
        } else {
            // Killed before the campaign was set up: start it again from nothing.
            std::fs::remove_dir_all(&killed).ok();
            command.args(["run", "circle-packing", "--out", killed.to_str().unwrap()]).args(args);
        }
        let mut child = command.stdout(Stdio::null()).stderr(Stdio::null()).spawn().unwrap();
        std::thread::sleep(Duration::from_millis(delays.next_ms(100, 700)));
        child.kill().unwrap();
        child.wait().unwrap();
    }
    let resumed = asi_evolve(&["run", "--resume", killed.to_str().unwrap(), "--workers", "3"]);
    assert_ok(&resumed);
    assert_eq!(
        node_table(&killed),
        node_table(&whole),
        "{sampler}: the resumed campaign differs from the uninterrupted one"
    );
}

#[test]
fn a_ucb1_campaign_killed_at_ten_points_and_resumed_ends_as_if_never_interrupted() {
    killed_and_resumed_equals_uninterrupted("ucb1", 10, 2026);
}

#[test]
fn island_and_map_elites_state_survives_kills() {
    killed_and_resumed_equals_uninterrupted("islands", 3, 7);
    killed_and_resumed_equals_uninterrupted("map-elites", 3, 8);
}

#[test]
fn four_workers_and_random_evaluation_times_commit_in_round_order_with_the_same_table() {
    let tmp = tempfile::tempdir().unwrap();
    // Score = x; each evaluation sleeps a random 0–0.25 s, so they finish out of order.
    let suite = script_suite(
        tmp.path(),
        "sleep 0.$((RANDOM % 25))\nx=$(grep -o 'x = [0-9.]*' \"$ASI_EVOLVE_CANDIDATE\" | cut -d' ' -f3)\necho \"{\\\"score\\\": $x}\" > \"$ASI_EVOLVE_RESULTS\"\n",
        30.0,
    );
    let table = |name: &str, workers: &str| {
        let out = tmp.path().join(name);
        assert_ok(&asi_evolve(&[
            "run",
            suite.to_str().unwrap(),
            "--rounds",
            "16",
            "--workers",
            workers,
            "--out",
            out.to_str().unwrap(),
        ]));
        out
    };
    let (one, four) = (table("one", "1"), table("four", "4"));
    assert_eq!(node_table(&one), node_table(&four));
    let conn = rusqlite::Connection::open(four.join("campaign.db")).unwrap();
    let committed: Vec<(i64, String)> = conn
        .prepare("SELECT round, committed_at FROM nodes ORDER BY rowid")
        .unwrap()
        .query_map([], |r| Ok((r.get(0)?, r.get(1)?)))
        .unwrap()
        .map(Result::unwrap)
        .collect();
    assert_eq!(committed.iter().map(|c| c.0).collect::<Vec<_>>(), (0..=16).collect::<Vec<_>>());
    assert!(committed.windows(2).all(|w| w[0].1 <= w[1].1), "commit times out of round order: {committed:?}");
}

#[test]
fn rerun_reproduces_a_campaign_and_the_manifest_says_how() {
    let tmp = tempfile::tempdir().unwrap();
    let original = tmp.path().join("original");
    assert_ok(&asi_evolve(&[
        "run",
        "circle-packing",
        "--rounds",
        "8",
        "--seed",
        "11",
        "--out",
        original.to_str().unwrap(),
    ]));
    let manifest = std::fs::read_to_string(original.join("manifest.toml")).unwrap();
    for key in
        ["config", "seed", "suite_hash", "suite_files", "evaluator_env", "evaluator", "harness_version", "git_revision"]
    {
        assert!(manifest.contains(&format!("{key} = ")), "manifest lacks {key}:\n{manifest}");
    }
    let again = tmp.path().join("again");
    let o = asi_evolve(&["rerun", original.to_str().unwrap(), "--out", again.to_str().unwrap()]);
    assert_ok(&o);
    assert!(stdout(&o).contains("reproduced: all 9 nodes identical"), "{}", stdout(&o));
    assert_eq!(node_table(&again), node_table(&original));
}
