//! Read-only access to a run directory's `campaign.db`, by the names the store crate gives
//! its tables and columns.

use std::path::{Path, PathBuf};

use asi_evolve_store::layout::DB_FILE;
use asi_evolve_store::schema::{EXCHANGES_TABLE, NODES_TABLE, node_column as c};
use asi_evolve_store::{FailureClass, OpenError, Status};
use rusqlite::Connection;

use crate::error::ReportError;

/// One node as reports need it.
#[derive(Debug, Clone, PartialEq)]
pub struct NodeRow {
    pub id: u64,
    pub round: u64,
    pub parents: Vec<u64>,
    pub name: String,
    pub status: Status,
    pub failure: Option<FailureClass>,
    pub reason: Option<String>,
    pub score: Option<f64>,
    pub propose_seconds: f64,
    pub evaluate_seconds: f64,
    pub analyze_seconds: f64,
    pub committed_at: String,
    /// The evaluator's metrics (a JSON object; empty when the node has none).
    pub metrics: serde_json::Map<String, serde_json::Value>,
}

/// What the LLM exchanges of a run cost. All zero for the offline researcher, whose runs have
/// no exchanges, and for databases written before a column existed.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct LlmUsage {
    pub exchanges: u64,
    pub prompt_tokens: u64,
    pub completion_tokens: u64,
    pub cost_usd: f64,
}

pub struct CampaignDb {
    conn: Connection,
    path: PathBuf,
    pub run_dir: PathBuf,
}

/// The node columns a [`NodeRow`] holds, in the order `nodes` reads them.
const NODE_ROW_COLUMNS: [&str; 13] = [
    c::ID,
    c::ROUND,
    c::PARENTS,
    c::NAME,
    c::STATUS,
    c::FAILURE,
    c::REASON,
    c::SCORE,
    c::PROPOSE_SECONDS,
    c::EVALUATE_SECONDS,
    c::ANALYZE_SECONDS,
    c::COMMITTED_AT,
    c::METRICS,
];

impl CampaignDb {
    /// Opens a run directory's database read-only, whatever schema version wrote it (a column
    /// a report needs and an older file lacks is an error naming it when read).
    pub fn open(run_dir: &Path) -> Result<Self, ReportError> {
        let path = run_dir.join(DB_FILE);
        let conn = asi_evolve_store::open_read_only(&path).map_err(|e| match e {
            OpenError::Missing { .. } => ReportError::NotARun(run_dir.to_owned()),
            OpenError::Sqlite { path, source } => ReportError::Sqlite { path, source },
            other => ReportError::BadRun { run: run_dir.to_owned(), message: other.to_string() },
        })?;
        Ok(Self { conn, path, run_dir: run_dir.to_owned() })
    }

    fn err(&self, source: rusqlite::Error) -> ReportError {
        ReportError::Sqlite { path: self.path.clone(), source }
    }

    /// A value of the campaign's metadata (keys in `asi_evolve_store::meta`).
    pub fn meta(&self, key: &str) -> Result<Option<String>, ReportError> {
        asi_evolve_store::read_meta(&self.conn, key).map_err(|e| self.err(e))
    }

    /// Nodes in round order.
    pub fn nodes(&self) -> Result<Vec<NodeRow>, ReportError> {
        let sql = format!("SELECT {} FROM {NODES_TABLE} ORDER BY {}", NODE_ROW_COLUMNS.join(", "), c::ROUND);
        let mut stmt = self.conn.prepare(&sql).map_err(|e| self.err(e))?;
        let rows = stmt
            .query_map([], |r| {
                let parents: String = r.get(2)?;
                let metrics: Option<String> = r.get(12)?;
                Ok(NodeRow {
                    id: r.get::<_, i64>(0)? as u64,
                    round: r.get::<_, i64>(1)? as u64,
                    parents: serde_json::from_str(&parents).unwrap_or_default(),
                    name: r.get(3)?,
                    status: r.get(4)?,
                    failure: r.get(5)?,
                    reason: r.get(6)?,
                    score: r.get(7)?,
                    propose_seconds: r.get(8)?,
                    evaluate_seconds: r.get(9)?,
                    analyze_seconds: r.get(10)?,
                    committed_at: r.get(11)?,
                    metrics: metrics.and_then(|m| serde_json::from_str(&m).ok()).unwrap_or_default(),
                })
            })
            .map_err(|e| self.err(e))?;
        rows.collect::<Result<_, _>>().map_err(|e| self.err(e))
    }

    /// Each node's numeric metrics, by node id (a metric that is not a number is left out).
    pub fn metrics(&self) -> Result<std::collections::BTreeMap<u64, Vec<(String, f64)>>, ReportError> {
        let sql = format!("SELECT {}, {} FROM {NODES_TABLE} ORDER BY {}", c::ID, c::METRICS, c::ID);
        let mut stmt = self.conn.prepare(&sql).map_err(|e| self.err(e))?;
        let rows = stmt
            .query_map([], |r| Ok((r.get::<_, i64>(0)? as u64, r.get::<_, Option<String>>(1)?)))
            .map_err(|e| self.err(e))?;
        let mut out = std::collections::BTreeMap::new();
        for row in rows {
            let (id, text) = row.map_err(|e| self.err(e))?;
            let map: serde_json::Map<String, serde_json::Value> =
                text.and_then(|t| serde_json::from_str(&t).ok()).unwrap_or_default();
            out.insert(id, map.into_iter().filter_map(|(k, v)| v.as_f64().map(|f| (k, f))).collect());
        }
        Ok(out)
    }

    /// The metrics column of one node as stored (a JSON object).
    pub fn metrics_text(&self, id: u64) -> Result<String, ReportError> {
        let sql = format!("SELECT {} FROM {NODES_TABLE} WHERE {} = ?1", c::METRICS, c::ID);
        self.conn.query_row(&sql, [id as i64], |r| r.get(0)).map_err(|e| self.err(e))
    }

    /// Token and cost totals of the run's LLM exchanges (a call without a price costs 0).
    pub fn llm_usage(&self) -> Result<LlmUsage, ReportError> {
        use asi_evolve_store::schema::exchange_column::{COMPLETION_TOKENS, COST_USD, PROMPT_TOKENS};
        let sql = format!(
            "SELECT COUNT(*), COALESCE(SUM({PROMPT_TOKENS}), 0), COALESCE(SUM({COMPLETION_TOKENS}), 0),
                COALESCE(SUM({COST_USD}), 0.0)
             FROM {EXCHANGES_TABLE}"
        );
        self.conn
            .query_row(&sql, [], |r| {
                Ok(LlmUsage {
                    exchanges: r.get::<_, i64>(0)? as u64,
                    prompt_tokens: r.get::<_, i64>(1)? as u64,
                    completion_tokens: r.get::<_, i64>(2)? as u64,
                    cost_usd: r.get(3)?,
                })
            })
            .map_err(|e| self.err(e))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_reader_waits_for_the_controllers_write_lock_instead_of_failing() {
        let dir = tempfile::tempdir().unwrap();
        let writer = Connection::open(dir.path().join(DB_FILE)).unwrap();
        writer
            .execute_batch(
                "PRAGMA journal_mode = WAL; CREATE TABLE campaign (key TEXT PRIMARY KEY, value TEXT NOT NULL);
                 INSERT INTO campaign VALUES ('suite', 'x');",
            )
            .unwrap();
        // An exclusive lock held for a while, as a controller closing its database takes one.
        writer
            .execute_batch("PRAGMA locking_mode = EXCLUSIVE; BEGIN EXCLUSIVE; UPDATE campaign SET value = 'y';")
            .unwrap();
        let release = std::thread::spawn(move || {
            std::thread::sleep(std::time::Duration::from_millis(300));
            writer.execute_batch("COMMIT").unwrap();
            drop(writer);
        });
        let db = CampaignDb::open(dir.path()).unwrap();
        assert_eq!(db.meta("suite").unwrap().as_deref(), Some("y"));
        release.join().unwrap();
    }

    #[test]
    fn statuses_read_as_the_stores_types_and_an_unknown_one_is_named() {
        let dir = tempfile::tempdir().unwrap();
        let writer = Connection::open(dir.path().join(DB_FILE)).unwrap();
        writer.execute_batch(asi_evolve_store::schema::SCHEMA).unwrap();
        let insert = |id: i64, status: &str, failure: Option<&str>| {
            writer
                .execute(
                    "INSERT INTO nodes VALUES (?1, ?1, '[]', 'n', '', '', 'r', ?2, ?3, NULL, NULL, '{}', '', NULL,
                        '[]', NULL, NULL, '', '', 0, 0, 0, 't')",
                    rusqlite::params![id, status, failure],
                )
                .unwrap()
        };
        insert(0, "valid", None);
        insert(1, "failed", Some("timeout"));
        let nodes = CampaignDb::open(dir.path()).unwrap().nodes().unwrap();
        assert_eq!((nodes[0].status, nodes[0].failure), (Status::Valid, None));
        assert_eq!((nodes[1].status, nodes[1].failure), (Status::Failed, Some(FailureClass::Timeout)));
        insert(2, "vaild", None);
        let err = CampaignDb::open(dir.path()).unwrap().nodes().unwrap_err().to_string();
        assert!(err.contains("unknown status `vaild`"), "{err}");
    }
}
