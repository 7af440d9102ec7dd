//! Retrieval by all-MiniLM-L6-v2 embeddings computed in-process: cosine similarity of the
//! query's embedding with each item's, the best `top_k` at or above the threshold.

use std::sync::Arc;

use asi_evolve_embedder::Embedder;

use super::{CognitionBase, CognitionError, CognitionItem};
use crate::llm::cosine;
use crate::node::Retrieved;

impl CognitionBase {
    /// Embeds every item (its whole text, title line included) with `embedder`; each distinct
    /// text is computed once per process, whatever the number of campaigns asking.
    pub fn embed_items_locally(&mut self, embedder: Arc<Embedder>) -> Result<(), CognitionError> {
        let vectors =
            self.items.iter().map(|i| embedder.embed(&i.text).map(|v| v.to_vec())).collect::<Result<Vec<_>, _>>()?;
        self.vectors = Some(vectors);
        self.embedder = Some(embedder);
        Ok(())
    }

    pub fn has_local_embedder(&self) -> bool {
        self.embedder.is_some()
    }

    /// The best `top_k` items by cosine similarity with `query`, at least `min_similarity`,
    /// best first (ties by file name). Empty unless the items were embedded locally.
    pub fn retrieve_by_minilm(
        &self,
        query: &str,
        top_k: usize,
        min_similarity: f64,
    ) -> Result<Vec<(&CognitionItem, Retrieved)>, CognitionError> {
        let (Some(embedder), Some(vectors)) = (&self.embedder, &self.vectors) else { return Ok(Vec::new()) };
        let q = embedder.embed(query)?;
        Ok(rank_by_cosine(&self.items, vectors, &q, top_k, min_similarity))
    }
}

/// Items ranked by cosine similarity with `query`: a plain sort, so equal inputs give an equal
/// ranking bit for bit.
fn rank_by_cosine<'a>(
    items: &'a [CognitionItem],
    vectors: &[Vec<f32>],
    query: &[f32],
    top_k: usize,
    min_similarity: f64,
) -> Vec<(&'a CognitionItem, Retrieved)> {
    let mut scored: Vec<(usize, f64)> =
        vectors.iter().map(|v| cosine(query, v)).enumerate().filter(|&(_, s)| s >= min_similarity).collect();
    scored.sort_by(|a, b| b.1.total_cmp(&a.1).then(items[a.0].file.cmp(&items[b.0].file)));
    scored
        .into_iter()
        .take(top_k)
        .map(|(i, score)| {
            let item = &items[i];
            (item, Retrieved { title: item.title.clone(), file: item.file.clone(), score })
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn item(file: &str) -> CognitionItem {
        CognitionItem { title: file.into(), file: file.into(), text: String::new() }
    }

    #[test]
    fn ranks_by_similarity_then_file_and_applies_threshold_and_top_k() {
        let items = [item("a.md"), item("b.md"), item("c.md"), item("d.md")];
        let vectors = vec![vec![0.0, 1.0], vec![1.0, 0.0], vec![1.0, 0.0], vec![1.0, 1.0]];
        let ranked = rank_by_cosine(&items, &vectors, &[1.0, 0.0], 10, 0.4);
        let files: Vec<&str> = ranked.iter().map(|(i, _)| i.file.as_str()).collect();
        assert_eq!(files, ["b.md", "c.md", "d.md"]);
        assert!((ranked[2].1.score - std::f64::consts::FRAC_1_SQRT_2).abs() < 1e-12);
        assert_eq!(rank_by_cosine(&items, &vectors, &[1.0, 0.0], 1, 0.4).len(), 1);
    }
}
