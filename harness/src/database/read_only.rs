//! Opening a campaign database without changing it, and publishing a new one atomically.
//!
//! Readers (`rerun`'s original, a replayed recording, the first look `--resume` takes) open the
//! file read-only: they never create it, never write a schema into a file that is not a
//! campaign, and a command that fails leaves the file as it was. A new campaign's database is
//! built under a staging name and renamed to `campaign.db` only once its config is stored, so
//! a folder holding `campaign.db` always holds a campaign that `--resume` accepts.

use std::path::{Path, PathBuf};

use super::{DB_FILE, Database, DatabaseError, STAGING_DB_FILE};

impl Database {
    /// Opens an existing campaign database read-only: the file must exist and hold this
    /// version's schema.
    pub fn open_read_only(path: &Path) -> Result<Self, DatabaseError> {
        let conn = asi_evolve_store::open_campaign_read_only(path)?;
        Ok(Self { conn, path: path.to_owned() })
    }

    /// Opens the staging database of a new campaign in `run_dir`, removing what a controller
    /// killed while creating one there left behind.
    pub fn create_staging(run_dir: &Path) -> Result<Self, DatabaseError> {
        for suffix in ["", "-wal", "-shm", "-journal"] {
            let leftover = run_dir.join(format!("{STAGING_DB_FILE}{suffix}"));
            if leftover.exists() {
                std::fs::remove_file(&leftover)
                    .map_err(|source| DatabaseError::Io { path: leftover.clone(), source })?;
            }
        }
        Self::open_file(&run_dir.join(STAGING_DB_FILE))
    }

    /// Moves a staging database to `campaign.db` in its folder and reopens it there. The
    /// journal is folded into the file first, so the rename carries everything written.
    pub fn publish(self) -> Result<Self, DatabaseError> {
        let from = self.path.clone();
        let to: PathBuf = from.with_file_name(DB_FILE);
        self.conn.pragma_update(None, "journal_mode", "DELETE").map_err(|e| self.sqlite(e))?;
        self.conn.close().map_err(|(_, source)| DatabaseError::Sqlite { path: from.clone(), source })?;
        std::fs::rename(&from, &to).map_err(|source| DatabaseError::Io { path: to.clone(), source })?;
        Self::open_file(&to)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_read_only_open_never_creates_or_writes_the_file() {
        let dir = tempfile::tempdir().unwrap();
        let absent = dir.path().join(DB_FILE);
        assert!(matches!(Database::open_read_only(&absent), Err(DatabaseError::NotACampaign { .. })));
        assert!(!absent.exists());
        std::fs::write(&absent, b"").unwrap();
        assert!(matches!(Database::open_read_only(&absent), Err(DatabaseError::NotACampaign { .. })));
        assert_eq!(std::fs::metadata(&absent).unwrap().len(), 0);
    }

    #[test]
    fn a_published_database_keeps_what_the_staging_one_held() {
        let dir = tempfile::tempdir().unwrap();
        let staging = Database::create_staging(dir.path()).unwrap();
        staging.set_meta("config", "x").unwrap();
        assert!(!dir.path().join(DB_FILE).exists());
        let db = staging.publish().unwrap();
        assert_eq!(db.meta("config").unwrap().as_deref(), Some("x"));
        assert!(!dir.path().join(STAGING_DB_FILE).exists());
        drop(db);
        let reader = Database::open_read_only(&dir.path().join(DB_FILE)).unwrap();
        assert_eq!(reader.meta("config").unwrap().as_deref(), Some("x"));
    }
}
