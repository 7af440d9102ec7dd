//! The database's tables and their columns. The version changes whenever a table or column
//! does, so a reader never misreads a file written by another version.

/// The version this crate reads and writes, stored under [`crate::meta::SCHEMA_VERSION`].
pub const SCHEMA_VERSION: &str = "2";

/// The campaign's metadata: one row per key (see [`crate::meta`]).
pub const CAMPAIGN_TABLE: &str = "campaign";
/// One row per node; `id` equals `round`.
pub const NODES_TABLE: &str = "nodes";
/// Every model call of every round, with its prompt, reply and usage.
pub const EXCHANGES_TABLE: &str = "llm_exchanges";

/// Creates the tables a campaign database holds; a no-op on one that has them.
pub const SCHEMA: &str = "
CREATE TABLE IF NOT EXISTS campaign (
    key   TEXT PRIMARY KEY,
    value TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS nodes (
    id               INTEGER PRIMARY KEY,
    round            INTEGER NOT NULL UNIQUE,
    parents          TEXT NOT NULL,
    name             TEXT NOT NULL,
    motivation       TEXT NOT NULL,
    code             TEXT NOT NULL,
    researcher       TEXT NOT NULL,
    status           TEXT NOT NULL,
    failure          TEXT,
    reason           TEXT,
    score            REAL,
    metrics          TEXT NOT NULL,
    feedback         TEXT NOT NULL,
    lesson           TEXT,
    cognition        TEXT NOT NULL,
    island           INTEGER,
    cell             TEXT,
    stdout_tail      TEXT NOT NULL,
    stderr_tail      TEXT NOT NULL,
    propose_seconds  REAL NOT NULL,
    evaluate_seconds REAL NOT NULL,
    analyze_seconds  REAL NOT NULL,
    committed_at     TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS llm_exchanges (
    id                INTEGER PRIMARY KEY AUTOINCREMENT,
    node_id           INTEGER NOT NULL,
    round             INTEGER NOT NULL,
    role              TEXT NOT NULL,
    seq               INTEGER NOT NULL,
    endpoint          TEXT NOT NULL,
    prompt            TEXT NOT NULL,
    request           TEXT NOT NULL,
    reply             TEXT,
    prompt_tokens     INTEGER NOT NULL,
    completion_tokens INTEGER NOT NULL,
    cost_usd          REAL,
    latency_seconds   REAL NOT NULL,
    attempts          INTEGER NOT NULL,
    attempt_log       TEXT NOT NULL,
    error             TEXT,
    created_at        TEXT NOT NULL,
    UNIQUE (round, role, seq)
);
CREATE INDEX IF NOT EXISTS llm_exchanges_node ON llm_exchanges(node_id);
";

/// The columns of the `nodes` table.
pub mod node_column {
    pub const ID: &str = "id";
    pub const ROUND: &str = "round";
    /// JSON array of node ids, the derived-from parent first.
    pub const PARENTS: &str = "parents";
    pub const NAME: &str = "name";
    pub const MOTIVATION: &str = "motivation";
    pub const CODE: &str = "code";
    pub const RESEARCHER: &str = "researcher";
    /// A [`crate::Status`] as its string.
    pub const STATUS: &str = "status";
    /// A [`crate::FailureClass`] as its string, null for a valid node.
    pub const FAILURE: &str = "failure";
    pub const REASON: &str = "reason";
    pub const SCORE: &str = "score";
    /// JSON object of the evaluator's metrics.
    pub const METRICS: &str = "metrics";
    pub const FEEDBACK: &str = "feedback";
    pub const LESSON: &str = "lesson";
    /// JSON array of the cognition items retrieved for the round.
    pub const COGNITION: &str = "cognition";
    pub const ISLAND: &str = "island";
    pub const CELL: &str = "cell";
    pub const STDOUT_TAIL: &str = "stdout_tail";
    pub const STDERR_TAIL: &str = "stderr_tail";
    pub const PROPOSE_SECONDS: &str = "propose_seconds";
    pub const EVALUATE_SECONDS: &str = "evaluate_seconds";
    pub const ANALYZE_SECONDS: &str = "analyze_seconds";
    pub const COMMITTED_AT: &str = "committed_at";

    /// Every column, in table order.
    pub const ALL: [&str; 23] = [
        ID,
        ROUND,
        PARENTS,
        NAME,
        MOTIVATION,
        CODE,
        RESEARCHER,
        STATUS,
        FAILURE,
        REASON,
        SCORE,
        METRICS,
        FEEDBACK,
        LESSON,
        COGNITION,
        ISLAND,
        CELL,
        STDOUT_TAIL,
        STDERR_TAIL,
        PROPOSE_SECONDS,
        EVALUATE_SECONDS,
        ANALYZE_SECONDS,
        COMMITTED_AT,
    ];
}

/// The columns of the `llm_exchanges` table that reports total.
pub mod exchange_column {
    pub const PROMPT_TOKENS: &str = "prompt_tokens";
    pub const COMPLETION_TOKENS: &str = "completion_tokens";
    pub const COST_USD: &str = "cost_usd";
}

/// Columns that hold wall-clock measurements; everything else is a function of config and seed.
pub const WALL_CLOCK_COLUMNS: &[&str] = &[
    node_column::PROPOSE_SECONDS,
    node_column::EVALUATE_SECONDS,
    node_column::ANALYZE_SECONDS,
    node_column::COMMITTED_AT,
];

#[cfg(test)]
mod tests {
    use super::*;

    fn columns(conn: &rusqlite::Connection, table: &str) -> Vec<String> {
        conn.prepare(&format!("SELECT name FROM pragma_table_info('{table}')"))
            .and_then(|mut s| s.query_map([], |r| r.get(0))?.collect())
            .unwrap()
    }

    #[test]
    fn the_named_tables_and_columns_are_the_schemas() {
        let conn = rusqlite::Connection::open_in_memory().unwrap();
        conn.execute_batch(SCHEMA).unwrap();
        assert_eq!(columns(&conn, NODES_TABLE), node_column::ALL);
        assert_eq!(columns(&conn, CAMPAIGN_TABLE), ["key", "value"]);
        let exchanges = columns(&conn, EXCHANGES_TABLE);
        for c in [exchange_column::PROMPT_TOKENS, exchange_column::COMPLETION_TOKENS, exchange_column::COST_USD] {
            assert!(exchanges.iter().any(|e| e == c), "{c} is not a column of {EXCHANGES_TABLE}");
        }
    }
}
