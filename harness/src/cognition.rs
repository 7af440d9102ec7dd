//! The cognition base: a suite's prior knowledge as markdown items, retrieved by BM25 against
//! what the sampled nodes taught (their lessons, else their motivations).

use std::collections::BTreeMap;
use std::path::Path;
use std::sync::Arc;

use asi_evolve_embedder::{Embedder, EmbedderError};

use thiserror::Error;

use crate::config::{CognitionConfig, RetrievalConfig};
use crate::llm::{CallLog, EmbedModel, ReplayError, cosine};
use crate::node::Retrieved;
use crate::suite::{CognitionSource, Suite};

mod minilm;

#[derive(Debug, Error)]
pub enum CognitionError {
    #[error("cannot read cognition folder {path}: {source}")]
    Read { path: String, source: std::io::Error },
    #[error("cognition item {path} has no title: its first non-empty line must be `# Title`")]
    NoTitle { path: String },
    #[error("cognition retrieval with all-MiniLM-L6-v2: {0}")]
    Embedder(#[from] EmbedderError),
}

#[derive(Debug, Clone, PartialEq)]
pub struct CognitionItem {
    pub title: String,
    /// File name inside the suite's cognition folder.
    pub file: String,
    pub text: String,
}

/// BM25 parameters (Robertson & Zaragoza's usual defaults).
const K1: f64 = 1.2;
const B: f64 = 0.75;

pub struct CognitionBase {
    items: Vec<CognitionItem>,
    /// Term frequencies per item.
    terms: Vec<BTreeMap<String, u32>>,
    lengths: Vec<f64>,
    average_length: f64,
    document_frequency: BTreeMap<String, u32>,
    /// Item embeddings, when retrieval is by embeddings.
    vectors: Option<Vec<Vec<f32>>>,
    /// The in-process model that embedded the items, when retrieval is by all-MiniLM-L6-v2.
    embedder: Option<Arc<Embedder>>,
}

impl CognitionBase {
    /// Loads every `*.md` file of `dir`, in file-name order. A missing folder is an empty base.
    pub fn load(dir: &Path) -> Result<Self, CognitionError> {
        if !dir.exists() {
            return Ok(Self::new(Vec::new()));
        }
        let read_err = |source| CognitionError::Read { path: dir.display().to_string(), source };
        let mut files: Vec<_> = std::fs::read_dir(dir)
            .map_err(read_err)?
            .collect::<Result<Vec<_>, _>>()
            .map_err(read_err)?
            .into_iter()
            .map(|e| e.path())
            .filter(|p| p.extension().is_some_and(|e| e == "md"))
            .collect();
        files.sort();
        let mut items = Vec::with_capacity(files.len());
        for path in files {
            let text = std::fs::read_to_string(&path)
                .map_err(|source| CognitionError::Read { path: path.display().to_string(), source })?;
            let title = text
                .lines()
                .find(|l| !l.trim().is_empty())
                .and_then(|l| l.trim().strip_prefix('#'))
                .map(|t| t.trim_start_matches('#').trim().to_string())
                .filter(|t| !t.is_empty())
                .ok_or_else(|| CognitionError::NoTitle { path: path.display().to_string() })?;
            let file = path.file_name().expect("a listed file has a name").to_string_lossy().into_owned();
            items.push(CognitionItem { title, file, text });
        }
        Ok(Self::new(items))
    }

    /// The items of a suite, wherever they come from.
    pub fn for_suite(suite: &Suite) -> Result<Self, CognitionError> {
        match &suite.cognition {
            CognitionSource::Folder(dir) => Self::load(dir),
            CognitionSource::Items(items) => Ok(Self::from_items(items)),
        }
    }

    /// Items given as (title, text), numbered in order as `001.md`, `002.md`, ….
    pub fn from_items(items: &[(String, String)]) -> Self {
        Self::new(
            items
                .iter()
                .enumerate()
                .map(|(i, (title, text))| CognitionItem {
                    title: title.clone(),
                    file: format!("{:03}.md", i + 1),
                    text: format!("# {title}\n\n{text}"),
                })
                .collect(),
        )
    }

    pub fn new(items: Vec<CognitionItem>) -> Self {
        let terms: Vec<BTreeMap<String, u32>> = items.iter().map(|i| term_counts(&i.text)).collect();
        let lengths: Vec<f64> = terms.iter().map(|t| t.values().sum::<u32>() as f64).collect();
        let average_length = if lengths.is_empty() { 0.0 } else { lengths.iter().sum::<f64>() / lengths.len() as f64 };
        let mut document_frequency = BTreeMap::new();
        for t in &terms {
            for term in t.keys() {
                *document_frequency.entry(term.clone()).or_insert(0) += 1;
            }
        }
        Self { items, terms, lengths, average_length, document_frequency, vectors: None, embedder: None }
    }

    pub fn len(&self) -> usize {
        self.items.len()
    }

    pub fn is_empty(&self) -> bool {
        self.items.is_empty()
    }

    pub fn items(&self) -> &[CognitionItem] {
        &self.items
    }

    /// Embeds every item (title and text) for cosine retrieval; `calls` is round 0's. On
    /// failure retrieval stays BM25 and the reason is returned.
    pub fn embed_items(&mut self, model: &dyn EmbedModel, calls: &mut CallLog) -> Result<Option<String>, ReplayError> {
        if self.items.is_empty() {
            return Ok(None);
        }
        let texts: Vec<String> = self.items.iter().map(|i| i.text.clone()).collect();
        let result = calls.embed(model, &texts)?;
        match result {
            Ok(vectors) if vectors.len() == self.items.len() => {
                self.vectors = Some(vectors);
                Ok(None)
            }
            Ok(vectors) => Ok(Some(format!("{} embeddings came back for {} items", vectors.len(), self.items.len()))),
            Err(e) => Ok(Some(e)),
        }
    }

    pub fn has_embeddings(&self) -> bool {
        self.vectors.is_some()
    }

    /// The best `top_k` items by cosine similarity of their embedding with the query's, at
    /// least `min_similarity`. The query is embedded as a call of the round's `calls`; if
    /// that fails, BM25 with `min_score` answers instead.
    pub fn retrieve_by_embedding(
        &self,
        model: &dyn EmbedModel,
        query: &str,
        settings: &CognitionConfig,
        calls: &mut CallLog,
    ) -> Result<Vec<(&CognitionItem, Retrieved)>, ReplayError> {
        let top_k = settings.top_k;
        // Only the embeddings kind retrieves through an endpoint.
        let RetrievalConfig::Embeddings { min_similarity, min_score, .. } = settings.retrieval else {
            return Ok(Vec::new());
        };
        let Some(vectors) = &self.vectors else { return Ok(self.retrieve(query, top_k, min_score)) };
        let result = calls.embed(model, &[query.to_owned()])?;
        let Some(q) = result.ok().and_then(|mut v| v.pop()) else { return Ok(self.retrieve(query, top_k, min_score)) };
        let mut scored: Vec<(usize, f64)> =
            vectors.iter().map(|v| cosine(&q, v)).enumerate().filter(|&(_, s)| s >= min_similarity).collect();
        scored.sort_by(|a, b| b.1.total_cmp(&a.1).then(self.items[a.0].file.cmp(&self.items[b.0].file)));
        Ok(scored
            .into_iter()
            .take(top_k)
            .map(|(i, score)| {
                let item = &self.items[i];
                (item, Retrieved { title: item.title.clone(), file: item.file.clone(), score })
            })
            .collect())
    }

    /// The best `top_k` items scoring at least `min_score`, best first (ties by file name).
    pub fn retrieve(&self, query: &str, top_k: usize, min_score: f64) -> Vec<(&CognitionItem, Retrieved)> {
        let query_terms = term_counts(query);
        let n = self.items.len() as f64;
        let mut scored: Vec<(usize, f64)> = (0..self.items.len())
            .map(|i| {
                let score = query_terms
                    .keys()
                    .filter_map(|term| {
                        let tf = *self.terms[i].get(term)? as f64;
                        let df = self.document_frequency[term] as f64;
                        let idf = ((n - df + 0.5) / (df + 0.5) + 1.0).ln();
                        let norm = K1 * (1.0 - B + B * self.lengths[i] / self.average_length.max(1.0));
                        Some(idf * tf * (K1 + 1.0) / (tf + norm))
                    })
                    .sum::<f64>();
                (i, score)
            })
            .filter(|&(_, s)| s > 0.0 && s >= min_score)
            .collect();
        scored.sort_by(|a, b| b.1.total_cmp(&a.1).then(self.items[a.0].file.cmp(&self.items[b.0].file)));
        scored
            .into_iter()
            .take(top_k)
            .map(|(i, score)| {
                let item = &self.items[i];
                (item, Retrieved { title: item.title.clone(), file: item.file.clone(), score })
            })
            .collect()
    }
}

/// Ordered, so BM25 sums terms in the same order on every run (float addition is not
/// associative and the stored scores must be reproducible).
/// Lower-cased alphanumeric words of at least two characters, minus a few stop words.
fn term_counts(text: &str) -> BTreeMap<String, u32> {
    const STOP: &[&str] = &[
        "the", "and", "of", "to", "in", "is", "it", "at", "by", "for", "on", "an", "as", "be", "or", "with", "that",
        "this", "from", "are", "was", "its", "no", "not",
    ];
    let mut counts = BTreeMap::new();
    for word in text.split(|c: char| !c.is_alphanumeric()).filter(|w| w.len() >= 2) {
        let word = word.to_lowercase();
        if !STOP.contains(&word.as_str()) {
            *counts.entry(word).or_insert(0) += 1;
        }
    }
    counts
}

#[cfg(test)]
mod tests {
    use super::*;

    fn item(file: &str, text: &str) -> CognitionItem {
        CognitionItem { title: file.into(), file: file.into(), text: text.into() }
    }

    fn base() -> CognitionBase {
        CognitionBase::new(vec![
            item("lp.md", "# LP\nFor fixed centres the optimal radii solve a linear program."),
            item("hex.md", "# Hexagonal\nHexagonal lattices give dense starting centres."),
            item("slsqp.md", "# SLSQP\nPolish centres and radii jointly with SLSQP under overlap constraints."),
        ])
    }

    #[test]
    fn ranks_the_matching_item_first() {
        let base = base();
        let hits = base.retrieve("the radii could be computed by a linear program", 2, 0.0);
        assert_eq!(hits[0].1.file, "lp.md");
        assert!(hits.iter().all(|h| h.1.score > 0.0));
    }

    #[test]
    fn respects_top_k_and_threshold() {
        let b = base();
        assert_eq!(b.retrieve("centres radii", 1, 0.0).len(), 1);
        assert!(b.retrieve("centres radii", 5, 1e9).is_empty());
        assert!(b.retrieve("unrelated words entirely", 5, 0.0).is_empty());
    }

    #[test]
    fn items_from_another_format_are_retrievable() {
        let base = CognitionBase::from_items(&[("Hexagons".into(), "pack densely in rows".into())]);
        let hits = base.retrieve("dense rows", 5, 0.0);
        assert_eq!((hits[0].1.title.as_str(), hits[0].1.file.as_str()), ("Hexagons", "001.md"));
    }

    #[test]
    fn loads_titles_and_rejects_untitled_items() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("a.md"), "\n# Alpha item\nbody").unwrap();
        std::fs::write(dir.path().join("ignored.txt"), "x").unwrap();
        let b = CognitionBase::load(dir.path()).unwrap();
        assert_eq!(b.len(), 1);
        assert_eq!(b.items[0].title, "Alpha item");
        std::fs::write(dir.path().join("b.md"), "no title here").unwrap();
        let err = CognitionBase::load(dir.path()).err().unwrap();
        assert!(err.to_string().contains("b.md"), "{err}");
    }
}
