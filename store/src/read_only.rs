//! Opening a campaign database without changing it: a reader never creates the file, never
//! writes a schema into a file that is not a campaign, and waits for the controller's write
//! lock instead of failing.

use std::path::{Path, PathBuf};

use rusqlite::{Connection, OpenFlags, OptionalExtension};
use thiserror::Error;

use crate::schema::{CAMPAIGN_TABLE, SCHEMA_VERSION};

/// How long a reader waits for the controller's write lock before giving up.
pub const READER_BUSY_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(10);

#[derive(Debug, Error)]
pub enum OpenError {
    #[error("{path} does not exist or is not a file")]
    Missing { path: PathBuf },
    #[error("{path} holds no campaign (not an asi-evolve database with a stored config)")]
    NotACampaign { path: PathBuf },
    #[error("database {path} has schema version {found}, this asi-evolve reads version {SCHEMA_VERSION}")]
    Schema { path: PathBuf, found: String },
    #[error("database {path}: {source}")]
    Sqlite { path: PathBuf, source: rusqlite::Error },
}

/// Opens an existing database file read-only, whatever version wrote it.
pub fn open_read_only(path: &Path) -> Result<Connection, OpenError> {
    let err = |source| OpenError::Sqlite { path: path.to_owned(), source };
    if !path.is_file() {
        return Err(OpenError::Missing { path: path.to_owned() });
    }
    let conn = Connection::open_with_flags(path, OpenFlags::SQLITE_OPEN_READ_ONLY | OpenFlags::SQLITE_OPEN_NO_MUTEX)
        .map_err(err)?;
    // A reader that meets the controller's write lock (at a commit, or as it closes) waits
    // for it instead of failing with "database is locked".
    conn.busy_timeout(READER_BUSY_TIMEOUT).map_err(err)?;
    Ok(conn)
}

/// Checks that an open database is a campaign of this schema version.
pub fn check_campaign(conn: &Connection, path: &Path) -> Result<(), OpenError> {
    let err = |source| OpenError::Sqlite { path: path.to_owned(), source };
    let has_table = conn
        .query_row("SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = ?1", [CAMPAIGN_TABLE], |_| Ok(()))
        .optional()
        .map_err(err)?
        .is_some();
    if !has_table {
        return Err(OpenError::NotACampaign { path: path.to_owned() });
    }
    match read_meta(conn, crate::meta::SCHEMA_VERSION).map_err(err)? {
        Some(v) if v == SCHEMA_VERSION => Ok(()),
        Some(found) => Err(OpenError::Schema { path: path.to_owned(), found }),
        None => Err(OpenError::NotACampaign { path: path.to_owned() }),
    }
}

/// Opens an existing campaign database of this schema version read-only.
pub fn open_campaign_read_only(path: &Path) -> Result<Connection, OpenError> {
    let conn = open_read_only(path)?;
    check_campaign(&conn, path)?;
    Ok(conn)
}

/// Whether `e` says the file has a hot rollback journal: a writer was killed part-way through
/// a transaction, and only a connection that may write can roll it back before reading.
pub fn is_hot_journal(e: &rusqlite::Error) -> bool {
    matches!(e, rusqlite::Error::SqliteFailure(f, _) if f.extended_code == rusqlite::ffi::SQLITE_READONLY_ROLLBACK)
}

/// Rolls back the hot journal of the existing database at `path` (opening it read-write, never
/// creating it), which restores the last committed state as any writer would. Only for a
/// caller that holds the run directory's lock: no live controller may be writing.
pub fn roll_back_hot_journal(path: &Path) -> Result<(), OpenError> {
    let err = |source| OpenError::Sqlite { path: path.to_owned(), source };
    let conn = Connection::open_with_flags(path, OpenFlags::SQLITE_OPEN_READ_WRITE | OpenFlags::SQLITE_OPEN_NO_MUTEX)
        .map_err(err)?;
    conn.busy_timeout(READER_BUSY_TIMEOUT).map_err(err)?;
    conn.query_row("SELECT count(*) FROM sqlite_master", [], |r| r.get::<_, i64>(0)).map_err(err)?;
    conn.close().map_err(|(_, source)| err(source))
}

/// A value of the `campaign` table (keys in [`crate::meta`]).
pub fn read_meta(conn: &Connection, key: &str) -> rusqlite::Result<Option<String>> {
    conn.query_row(&format!("SELECT value FROM {CAMPAIGN_TABLE} WHERE key = ?1"), [key], |r| r.get(0)).optional()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_read_only_open_never_creates_or_writes_the_file() {
        let dir = tempfile::tempdir().unwrap();
        let absent = dir.path().join(crate::layout::DB_FILE);
        assert!(matches!(open_campaign_read_only(&absent), Err(OpenError::Missing { .. })));
        assert!(!absent.exists());
        std::fs::write(&absent, b"").unwrap();
        assert!(matches!(open_campaign_read_only(&absent), Err(OpenError::NotACampaign { .. })));
        assert_eq!(std::fs::metadata(&absent).unwrap().len(), 0);
    }

    #[test]
    fn a_hot_journal_is_told_apart_and_rolled_back_to_the_last_commit() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join(crate::layout::DB_FILE);
        // A writer killed inside a transaction, in rollback-journal mode (a campaign database
        // is in it while being published): another process, so its locks die with it.
        let script = "import os, sqlite3, sys\n\
            c = sqlite3.connect(sys.argv[1], isolation_level=None)\n\
            c.execute('PRAGMA journal_mode=DELETE'); c.execute('PRAGMA cache_size=1')\n\
            c.execute('CREATE TABLE t (x)'); c.execute(\"INSERT INTO t VALUES ('kept')\")\n\
            c.execute('BEGIN'); c.executemany('INSERT INTO t VALUES (?)', [('x' * 500,)] * 2000)\n\
            os._exit(0)\n";
        let status = std::process::Command::new("python3").args(["-c", script]).arg(&path).status().unwrap();
        assert!(status.success());
        assert!(dir.path().join(format!("{}-journal", crate::layout::DB_FILE)).exists());
        let reader = open_read_only(&path).unwrap();
        let e = reader.query_row("SELECT count(*) FROM t", [], |r| r.get::<_, i64>(0)).unwrap_err();
        assert!(is_hot_journal(&e), "{e}");
        drop(reader);
        roll_back_hot_journal(&path).unwrap();
        let reader = open_read_only(&path).unwrap();
        let rows: i64 = reader.query_row("SELECT count(*) FROM t", [], |r| r.get(0)).unwrap();
        assert_eq!(rows, 1, "the uncommitted rows are gone, the committed one kept");
    }

    #[test]
    fn only_this_schema_version_is_a_campaign() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join(crate::layout::DB_FILE);
        let writer = Connection::open(&path).unwrap();
        writer.execute_batch(crate::schema::SCHEMA).unwrap();
        assert!(matches!(open_campaign_read_only(&path), Err(OpenError::NotACampaign { .. })));
        writer.execute("INSERT INTO campaign VALUES ('schema_version', '1')", []).unwrap();
        let err = open_campaign_read_only(&path).unwrap_err();
        assert!(err.to_string().contains("schema version 1"), "{err}");
        writer.execute("UPDATE campaign SET value = ?1", [SCHEMA_VERSION]).unwrap();
        let reader = open_campaign_read_only(&path).unwrap();
        assert_eq!(read_meta(&reader, crate::meta::SCHEMA_VERSION).unwrap().as_deref(), Some(SCHEMA_VERSION));
        assert!(reader.execute("DELETE FROM campaign", []).is_err(), "a reader cannot write");
    }
}
