//! Read-only access to a run directory's `campaign.db`.

use std::path::{Path, PathBuf};

use rusqlite::{Connection, OpenFlags, OptionalExtension};

use crate::error::ReportError;

/// One node as reports need it.
#[derive(Debug, Clone, PartialEq)]
pub struct NodeRow {
    pub id: u64,
    pub round: u64,
    pub parents: Vec<u64>,
    pub name: String,
    pub status: String,
    pub failure: Option<String>,
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

impl CampaignDb {
    pub fn open(run_dir: &Path) -> Result<Self, ReportError> {
        let path = run_dir.join("campaign.db");
        if !path.is_file() {
            return Err(ReportError::NotARun(run_dir.to_owned()));
        }
        let conn = Connection::open_with_flags(&path, OpenFlags::SQLITE_OPEN_READ_ONLY)
            .map_err(|source| ReportError::Sqlite { path: path.clone(), source })?;
        // A reader that meets the controller's write lock (at a commit, or as it closes) waits
        // for it instead of failing with "database is locked".
        conn.busy_timeout(std::time::Duration::from_secs(10))
            .map_err(|source| ReportError::Sqlite { path: path.clone(), source })?;
        Ok(Self { conn, path, run_dir: run_dir.to_owned() })
    }

    fn err(&self, source: rusqlite::Error) -> ReportError {
        ReportError::Sqlite { path: self.path.clone(), source }
    }

    pub fn meta(&self, key: &str) -> Result<Option<String>, ReportError> {
        self.conn
            .query_row("SELECT value FROM campaign WHERE key = ?1", [key], |r| r.get(0))
            .optional()
            .map_err(|e| self.err(e))
    }

    /// Nodes in round order.
    pub fn nodes(&self) -> Result<Vec<NodeRow>, ReportError> {
        let mut stmt = self
            .conn
            .prepare(
                "SELECT id, round, parents, name, status, failure, reason, score, propose_seconds,
                        evaluate_seconds, analyze_seconds, committed_at, metrics
                 FROM nodes ORDER BY round",
            )
            .map_err(|e| self.err(e))?;
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
        let mut stmt = self.conn.prepare("SELECT id, metrics FROM nodes ORDER BY id").map_err(|e| self.err(e))?;
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

    /// Token and cost totals of the run's LLM exchanges (a call without a price costs 0).
    pub fn llm_usage(&self) -> Result<LlmUsage, ReportError> {
        self.conn
            .query_row(
                "SELECT COUNT(*), COALESCE(SUM(prompt_tokens), 0), COALESCE(SUM(completion_tokens), 0),
                    COALESCE(SUM(cost_usd), 0.0)
                 FROM llm_exchanges",
                [],
                |r| {
                    Ok(LlmUsage {
                        exchanges: r.get::<_, i64>(0)? as u64,
                        prompt_tokens: r.get::<_, i64>(1)? as u64,
                        completion_tokens: r.get::<_, i64>(2)? as u64,
                        cost_usd: r.get(3)?,
                    })
                },
            )
            .map_err(|e| self.err(e))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_reader_waits_for_the_controllers_write_lock_instead_of_failing() {
        let dir = tempfile::tempdir().unwrap();
        let writer = Connection::open(dir.path().join("campaign.db")).unwrap();
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
}
