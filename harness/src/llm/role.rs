//! The roles that call models: adding one is adding a variant here.

/// Who makes a model call. The string form is stored with every exchange and keys replay, so a
/// variant's name never changes once recordings carry it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum CallRole {
    /// The researcher's proposal; its second call is the follow-up asking for a whole program.
    Researcher,
    /// A fix of a crashed candidate, one call per attempt.
    Debug,
    Judge,
    Analyzer,
    /// Cognition embeddings: the items in round 0, the retrieval query in later rounds.
    Embedding,
}

impl CallRole {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Researcher => "researcher",
            Self::Debug => "debug",
            Self::Judge => "judge",
            Self::Analyzer => "analyzer",
            Self::Embedding => "embedding",
        }
    }
}

impl std::fmt::Display for CallRole {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}
