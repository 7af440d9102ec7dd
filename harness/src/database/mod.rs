//! The campaign database: one SQLite file per run directory, in WAL mode so that a reader
//! (`asi-evolve show`, a notebook) can open it while the campaign writes.

mod read_only;

pub use asi_evolve_store::READER_BUSY_TIMEOUT;
pub use asi_evolve_store::layout::{DB_FILE, STAGING_DB_FILE};
pub use asi_evolve_store::schema::WALL_CLOCK_COLUMNS;

use std::path::{Path, PathBuf};

use asi_evolve_store::schema::{SCHEMA, SCHEMA_VERSION};
use asi_evolve_store::{OpenError, meta};
use rusqlite::{Connection, params};
use thiserror::Error;

use crate::llm::Exchange;
use crate::node::{FailureClass, Node, NodeId, Retrieved, Status, Timings};

#[derive(Debug, Error)]
pub enum DatabaseError {
    #[error("database {path}: {source}")]
    Sqlite { path: PathBuf, source: rusqlite::Error },
    #[error("database {path} has schema version {found}, this asi-evolve reads version {SCHEMA_VERSION}")]
    Schema { path: PathBuf, found: String },
    #[error("database {path}: node {id} has a malformed `{column}` column: {message}")]
    Corrupt { path: PathBuf, id: i64, column: &'static str, message: String },
    #[error("database {path}: node {id} is already stored; a campaign never overwrites a node")]
    Duplicate { path: PathBuf, id: NodeId },
    #[error("{path} holds no campaign (not an asi-evolve database with a stored config)")]
    NotACampaign { path: PathBuf },
    #[error("{path}: {source}")]
    Io { path: PathBuf, source: std::io::Error },
}

impl From<OpenError> for DatabaseError {
    fn from(e: OpenError) -> Self {
        match e {
            OpenError::Missing { path } | OpenError::NotACampaign { path } => Self::NotACampaign { path },
            OpenError::Schema { path, found } => Self::Schema { path, found },
            OpenError::Sqlite { path, source } => Self::Sqlite { path, source },
        }
    }
}

pub struct Database {
    conn: Connection,
    path: PathBuf,
}

impl Database {
    /// Opens (creating if needed) the database of a run directory.
    pub fn open(run_dir: &Path) -> Result<Self, DatabaseError> {
        Self::open_file(&run_dir.join(DB_FILE))
    }

    pub fn open_file(path: &Path) -> Result<Self, DatabaseError> {
        let err = |source| DatabaseError::Sqlite { path: path.to_owned(), source };
        let conn = Connection::open(path).map_err(err)?;
        conn.busy_timeout(std::time::Duration::from_secs(10)).map_err(err)?;
        conn.pragma_update(None, "journal_mode", "WAL").map_err(err)?;
        conn.pragma_update(None, "synchronous", "NORMAL").map_err(err)?;
        conn.execute_batch(SCHEMA).map_err(err)?;
        let db = Self { conn, path: path.to_owned() };
        match db.meta(meta::SCHEMA_VERSION)? {
            None => db.set_meta(meta::SCHEMA_VERSION, SCHEMA_VERSION)?,
            Some(v) if v == SCHEMA_VERSION => {}
            Some(found) => return Err(DatabaseError::Schema { path: path.to_owned(), found }),
        }
        Ok(db)
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    fn sqlite(&self, source: rusqlite::Error) -> DatabaseError {
        DatabaseError::Sqlite { path: self.path.clone(), source }
    }

    pub fn set_meta(&self, key: &str, value: &str) -> Result<(), DatabaseError> {
        self.conn
            .execute("INSERT OR REPLACE INTO campaign (key, value) VALUES (?1, ?2)", params![key, value])
            .map(drop)
            .map_err(|e| self.sqlite(e))
    }

    pub fn meta(&self, key: &str) -> Result<Option<String>, DatabaseError> {
        asi_evolve_store::read_meta(&self.conn, key).map_err(|e| self.sqlite(e))
    }

    /// Stores a node in one transaction: it is there whole or not at all.
    pub fn insert_node(&mut self, node: &Node) -> Result<(), DatabaseError> {
        self.insert_nodes(std::slice::from_ref(node))
    }

    /// Stores a node with the LLM exchanges of its round, in one transaction.
    pub fn insert_round(&mut self, node: &Node, exchanges: &[Exchange]) -> Result<(), DatabaseError> {
        let path = self.path.clone();
        let sqlite = |source| DatabaseError::Sqlite { path: path.clone(), source };
        let tx = self.conn.transaction().map_err(sqlite)?;
        insert(&tx, node).map_err(|e| duplicate_or(e, &path, node.id))?;
        for e in exchanges {
            insert_exchange(&tx, node.id, e).map_err(sqlite)?;
        }
        tx.commit().map_err(sqlite)
    }

    /// Every stored exchange, in round, role and call order.
    pub fn exchanges(&self) -> Result<Vec<Exchange>, DatabaseError> {
        let mut stmt = self
            .conn
            .prepare(
                "SELECT round, role, seq, endpoint, prompt, request, reply, prompt_tokens, completion_tokens, cost_usd,
                    latency_seconds, attempts, attempt_log, error
                 FROM llm_exchanges ORDER BY round, role, seq",
            )
            .map_err(|e| self.sqlite(e))?;
        let rows = stmt
            .query_map([], |r| {
                Ok(Exchange {
                    round: r.get::<_, i64>(0)? as u64,
                    role: r.get(1)?,
                    seq: r.get(2)?,
                    endpoint: r.get(3)?,
                    prompt: r.get(4)?,
                    request: r.get(5)?,
                    reply: r.get(6)?,
                    prompt_tokens: r.get::<_, i64>(7)? as u64,
                    completion_tokens: r.get::<_, i64>(8)? as u64,
                    cost_usd: r.get(9)?,
                    latency_s: r.get(10)?,
                    attempts: r.get(11)?,
                    attempt_log: r.get(12)?,
                    error: r.get(13)?,
                })
            })
            .map_err(|e| self.sqlite(e))?;
        rows.collect::<Result<_, _>>().map_err(|e| self.sqlite(e))
    }

    /// Stores nodes in one transaction: all of them or none.
    pub fn insert_nodes(&mut self, nodes: &[Node]) -> Result<(), DatabaseError> {
        let path = self.path.clone();
        let sqlite = |source| DatabaseError::Sqlite { path: path.clone(), source };
        let tx = self.conn.transaction().map_err(sqlite)?;
        for node in nodes {
            insert(&tx, node).map_err(|e| duplicate_or(e, &path, node.id))?;
        }
        tx.commit().map_err(sqlite)
    }

    pub fn node_count(&self) -> Result<u64, DatabaseError> {
        self.conn
            .query_row("SELECT COUNT(*) FROM nodes", [], |r| r.get::<_, i64>(0))
            .map(|n| n as u64)
            .map_err(|e| self.sqlite(e))
    }

    /// Every node as one string of all its columns except the wall-clock ones, in round order:
    /// two campaigns reproduce each other exactly when these are equal.
    pub fn comparable_rows(&self) -> Result<Vec<String>, DatabaseError> {
        let columns: Vec<String> = self
            .conn
            .prepare("SELECT name FROM pragma_table_info('nodes')")
            .and_then(|mut s| s.query_map([], |r| r.get(0))?.collect())
            .map_err(|e| self.sqlite(e))?;
        let select = columns
            .iter()
            .filter(|c| !WALL_CLOCK_COLUMNS.contains(&c.as_str()))
            .map(|c| format!("quote({c})"))
            .collect::<Vec<_>>()
            .join(" || '|' || ");
        self.conn
            .prepare(&format!("SELECT {select} FROM nodes ORDER BY id"))
            .and_then(|mut s| s.query_map([], |r| r.get(0))?.collect())
            .map_err(|e| self.sqlite(e))
    }

    /// All nodes in round order.
    pub fn nodes(&self) -> Result<Vec<Node>, DatabaseError> {
        let mut stmt = self
            .conn
            .prepare(
                "SELECT id, round, parents, name, motivation, code, researcher, status, failure, reason, score,
                    metrics, feedback, lesson, cognition, island, cell, stdout_tail, stderr_tail,
                    propose_seconds, evaluate_seconds, analyze_seconds
                 FROM nodes ORDER BY round",
            )
            .map_err(|e| self.sqlite(e))?;
        let rows = stmt.query_map([], RawNode::from_row).map_err(|e| self.sqlite(e))?;
        let mut nodes = Vec::new();
        for raw in rows {
            nodes.push(raw.map_err(|e| self.sqlite(e))?.into_node(&self.path)?);
        }
        Ok(nodes)
    }
}

fn duplicate_or(e: rusqlite::Error, path: &Path, id: NodeId) -> DatabaseError {
    match e {
        rusqlite::Error::SqliteFailure(f, _) if f.code == rusqlite::ErrorCode::ConstraintViolation => {
            DatabaseError::Duplicate { path: path.to_owned(), id }
        }
        source => DatabaseError::Sqlite { path: path.to_owned(), source },
    }
}

fn insert_exchange(tx: &rusqlite::Transaction<'_>, node: NodeId, e: &Exchange) -> rusqlite::Result<()> {
    tx.prepare_cached(
        "INSERT INTO llm_exchanges (node_id, round, role, seq, endpoint, prompt, request, reply, prompt_tokens,
            completion_tokens, cost_usd, latency_seconds, attempts, attempt_log, error, created_at)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15, ?16)",
    )?
    .execute(params![
        node as i64,
        e.round as i64,
        e.role,
        e.seq,
        e.endpoint,
        e.prompt,
        e.request,
        e.reply,
        e.prompt_tokens as i64,
        e.completion_tokens as i64,
        e.cost_usd,
        e.latency_s,
        e.attempts,
        e.attempt_log,
        e.error,
        chrono::Utc::now().to_rfc3339(),
    ])
    .map(drop)
}

fn insert(tx: &rusqlite::Transaction<'_>, node: &Node) -> rusqlite::Result<()> {
    tx.prepare_cached(
        "INSERT INTO nodes (id, round, parents, name, motivation, code, researcher, status, failure, reason,
            score, metrics, feedback, lesson, cognition, island, cell, stdout_tail, stderr_tail,
            propose_seconds, evaluate_seconds, analyze_seconds, committed_at)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15, ?16, ?17, ?18, ?19,
            ?20, ?21, ?22, ?23)",
    )?
    .execute(params![
        node.id as i64,
        node.round as i64,
        serde_json::to_string(&node.parents).expect("ids serialise"),
        node.name,
        node.motivation,
        node.code,
        node.researcher,
        node.status.as_str(),
        node.failure.map(FailureClass::as_str),
        node.reason,
        node.score,
        serde_json::to_string(&node.metrics).expect("metrics serialise"),
        node.feedback,
        node.lesson,
        serde_json::to_string(&node.cognition).expect("retrievals serialise"),
        node.island,
        node.cell,
        node.stdout_tail,
        node.stderr_tail,
        node.timings.propose,
        node.timings.evaluate,
        node.timings.analyze,
        chrono::Utc::now().to_rfc3339(),
    ])
    .map(drop)
}

/// A row as SQLite returns it, before the JSON columns are decoded.
struct RawNode {
    id: i64,
    round: i64,
    parents: String,
    name: String,
    motivation: String,
    code: String,
    researcher: String,
    status: String,
    failure: Option<String>,
    reason: Option<String>,
    score: Option<f64>,
    metrics: String,
    feedback: String,
    lesson: Option<String>,
    cognition: String,
    island: Option<u32>,
    cell: Option<String>,
    stdout_tail: String,
    stderr_tail: String,
    timings: Timings,
}

impl RawNode {
    fn from_row(r: &rusqlite::Row<'_>) -> rusqlite::Result<Self> {
        Ok(Self {
            id: r.get(0)?,
            round: r.get(1)?,
            parents: r.get(2)?,
            name: r.get(3)?,
            motivation: r.get(4)?,
            code: r.get(5)?,
            researcher: r.get(6)?,
            status: r.get(7)?,
            failure: r.get(8)?,
            reason: r.get(9)?,
            score: r.get(10)?,
            metrics: r.get(11)?,
            feedback: r.get(12)?,
            lesson: r.get(13)?,
            cognition: r.get(14)?,
            island: r.get(15)?,
            cell: r.get(16)?,
            stdout_tail: r.get(17)?,
            stderr_tail: r.get(18)?,
            timings: Timings { propose: r.get(19)?, evaluate: r.get(20)?, analyze: r.get(21)? },
        })
    }

    fn into_node(self, path: &Path) -> Result<Node, DatabaseError> {
        let id = self.id;
        let corrupt = |column, message: String| DatabaseError::Corrupt { path: path.to_owned(), id, column, message };
        let parents: Vec<NodeId> =
            serde_json::from_str(&self.parents).map_err(|e| corrupt("parents", e.to_string()))?;
        let metrics = serde_json::from_str(&self.metrics).map_err(|e| corrupt("metrics", e.to_string()))?;
        let cognition: Vec<Retrieved> =
            serde_json::from_str(&self.cognition).map_err(|e| corrupt("cognition", e.to_string()))?;
        let status =
            Status::parse(&self.status).ok_or_else(|| corrupt("status", format!("unknown `{}`", self.status)))?;
        let failure = match self.failure {
            None => None,
            Some(f) => Some(FailureClass::parse(&f).ok_or_else(|| corrupt("failure", format!("unknown `{f}`")))?),
        };
        Ok(Node {
            id: id as NodeId,
            round: self.round as u64,
            parents,
            name: self.name,
            motivation: self.motivation,
            code: self.code,
            researcher: self.researcher,
            status,
            failure,
            reason: self.reason,
            score: self.score,
            metrics,
            feedback: self.feedback,
            lesson: self.lesson,
            cognition,
            island: self.island,
            cell: self.cell,
            stdout_tail: self.stdout_tail,
            stderr_tail: self.stderr_tail,
            timings: self.timings,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    pub(crate) fn node(id: NodeId, score: Option<f64>) -> Node {
        Node {
            id,
            round: id,
            parents: if id == 0 { vec![] } else { vec![id - 1] },
            name: format!("n{id}"),
            motivation: "m".into(),
            code: "print(1)".into(),
            researcher: "mutate".into(),
            status: if score.is_some() { Status::Valid } else { Status::Failed },
            failure: if score.is_some() { None } else { Some(FailureClass::Crash) },
            reason: None,
            score,
            metrics: serde_json::Map::new(),
            feedback: String::new(),
            lesson: Some("l".into()),
            cognition: vec![Retrieved { title: "t".into(), file: "t.md".into(), score: 1.5 }],
            island: None,
            cell: None,
            stdout_tail: String::new(),
            stderr_tail: "err".into(),
            timings: Timings { propose: 0.1, evaluate: 0.2, analyze: 0.0 },
        }
    }

    #[test]
    fn nodes_round_trip() {
        let dir = tempfile::tempdir().unwrap();
        let mut db = Database::open(dir.path()).unwrap();
        let a = node(0, Some(1.25));
        let b = node(1, None);
        db.insert_node(&a).unwrap();
        db.insert_node(&b).unwrap();
        assert_eq!(db.nodes().unwrap(), vec![a, b]);
    }

    #[test]
    fn exchanges_are_stored_with_their_node() {
        let dir = tempfile::tempdir().unwrap();
        let mut db = Database::open(dir.path()).unwrap();
        let e = Exchange {
            round: 0,
            role: "researcher".into(),
            seq: 1,
            endpoint: "llm:m@h".into(),
            prompt: "[]".into(),
            request: "{}".into(),
            reply: Some("<name>x</name>".into()),
            prompt_tokens: 10,
            completion_tokens: 5,
            cost_usd: Some(0.25),
            latency_s: 1.5,
            attempts: 2,
            attempt_log: "[]".into(),
            error: None,
        };
        db.insert_round(&node(0, Some(1.0)), std::slice::from_ref(&e)).unwrap();
        assert_eq!(db.exchanges().unwrap(), vec![e.clone()]);
        // A failed commit stores neither the node nor its exchanges.
        assert!(db.insert_round(&node(0, Some(2.0)), &[e]).is_err());
        assert_eq!(db.exchanges().unwrap().len(), 1);
    }

    #[test]
    fn a_node_is_never_overwritten() {
        let dir = tempfile::tempdir().unwrap();
        let mut db = Database::open(dir.path()).unwrap();
        db.insert_node(&node(0, Some(1.0))).unwrap();
        let err = db.insert_node(&node(0, Some(2.0))).unwrap_err();
        assert!(err.to_string().contains("already stored"), "{err}");
        assert_eq!(db.nodes().unwrap()[0].score, Some(1.0));
    }

    #[test]
    fn a_reader_sees_commits_while_the_writer_is_open() {
        let dir = tempfile::tempdir().unwrap();
        let mut writer = Database::open(dir.path()).unwrap();
        writer.insert_node(&node(0, Some(1.0))).unwrap();
        let reader = Database::open(dir.path()).unwrap();
        assert_eq!(reader.node_count().unwrap(), 1);
        writer.insert_node(&node(1, Some(2.0))).unwrap();
        assert_eq!(reader.node_count().unwrap(), 2);
    }
}
