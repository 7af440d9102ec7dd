//! The novelty filter: a candidate whose normalised program equals a node the round can see, or
//! is at least `similarity` alike to one of its parents, is rejected before any evaluation is
//! paid for.
//!
//! "Can see" is the round's horizon (rounds ≤ r − window), as for sampling, so whether a
//! candidate counts as a duplicate never depends on which evaluations happened to finish first.
//! A duplicate of a node from the last `window` rounds is therefore not caught.

use std::collections::HashMap;
use std::hash::{Hash, Hasher};
use std::sync::RwLock;

use similar::TextDiff;

use crate::node::{Node, NodeId};

/// Programs that differ only in trailing whitespace, blank lines or whole-line `#` comments are
/// the same program.
pub(crate) fn normalise(code: &str) -> String {
    code.lines()
        .map(str::trim_end)
        .filter(|l| !l.is_empty() && !l.trim_start().starts_with('#'))
        .collect::<Vec<_>>()
        .join("\n")
}

fn fingerprint(code: &str) -> u64 {
    let mut h = std::collections::hash_map::DefaultHasher::new();
    normalise(code).hash(&mut h);
    h.finish()
}

/// Every stored program's fingerprint with the first node that had it. Written by the
/// controller as nodes are committed, read by the workers.
#[derive(Default)]
pub(crate) struct NoveltyIndex {
    first: RwLock<HashMap<u64, NodeId>>,
}

impl NoveltyIndex {
    pub(crate) fn insert(&self, node: &Node) {
        if node.code.is_empty() {
            return;
        }
        self.first.write().expect("no writer panics").entry(fingerprint(&node.code)).or_insert(node.id);
    }

    /// Why `code` is not new for a round whose horizon is `horizon`, if it is not.
    pub(crate) fn duplicate(
        &self,
        code: &str,
        horizon: u64,
        parents: &[Node],
        similarity: Option<f64>,
    ) -> Option<String> {
        if let Some(&id) = self.first.read().expect("no writer panics").get(&fingerprint(code))
            && id <= horizon
        {
            return Some(format!("the same program as node #{id} (after normalising whitespace and comments)"));
        }
        let threshold = similarity?;
        let normalised = normalise(code);
        parents.iter().find_map(|p| {
            let ratio = f64::from(TextDiff::from_lines(&normalise(&p.code), &normalised).ratio());
            (ratio >= threshold).then(|| {
                format!("{:.1}% alike to parent #{} (threshold {:.1}%)", ratio * 100.0, p.id, threshold * 100.0)
            })
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sampler::testing::node;

    fn with_code(id: NodeId, code: &str) -> Node {
        Node { code: code.into(), ..node(id, Some(1.0)) }
    }

    #[test]
    fn whitespace_and_comments_do_not_make_a_program_new() {
        let index = NoveltyIndex::default();
        index.insert(&with_code(3, "x = 1\ny = 2\n"));
        let why = index.duplicate("x = 1   \n\n# a comment\ny = 2", 5, &[], None).unwrap();
        assert!(why.contains("#3"), "{why}");
        assert!(index.duplicate("x = 1\ny = 3\n", 5, &[], None).is_none());
    }

    #[test]
    fn nodes_beyond_the_horizon_do_not_count() {
        let index = NoveltyIndex::default();
        index.insert(&with_code(7, "x = 1\n"));
        assert!(index.duplicate("x = 1\n", 6, &[], None).is_none());
        assert!(index.duplicate("x = 1\n", 7, &[], None).is_some());
    }

    #[test]
    fn near_copies_of_a_parent_are_rejected_above_the_threshold() {
        let index = NoveltyIndex::default();
        let parent = with_code(2, &(0..100).map(|i| format!("line{i} = {i}\n")).collect::<String>());
        let near = parent.code.replace("line5 = 5", "line5 = 6");
        assert!(index.duplicate(&near, 9, std::slice::from_ref(&parent), Some(0.98)).unwrap().contains("#2"));
        assert!(index.duplicate(&near, 9, std::slice::from_ref(&parent), None).is_none());
        assert!(index.duplicate(&near, 9, &[parent], Some(0.999)).is_none());
    }
}
