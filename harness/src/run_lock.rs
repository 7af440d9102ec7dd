//! One controller per run directory. `run`, `run --resume` and `rerun` take an exclusive
//! `flock` on `<run-dir>/controller.lock` for their whole life and write their pid into it; a
//! second controller on the same folder is refused at once with the holder's pid. The kernel
//! drops the lock when the holder's file descriptor closes, so a controller that dies in any
//! way (SIGKILL included) leaves nothing to clean up. The descriptor is close-on-exec, so no
//! evaluator inherits the lock. Readers (`show`, `report`) never take it.

use std::fs::{File, OpenOptions};
use std::io::{Read, Seek, Write};
use std::os::fd::AsRawFd;
use std::path::{Path, PathBuf};

use thiserror::Error;

pub(crate) const LOCK_FILE: &str = "controller.lock";

#[derive(Debug, Error)]
pub enum RunLockError {
    #[error(
        "{dir} is in use by another asi-evolve controller (pid {pid}); wait for it to finish or stop it before running, resuming or rerunning this campaign"
    )]
    Held { dir: PathBuf, pid: String },
    #[error("cannot lock run directory {dir}: {source}")]
    Io { dir: PathBuf, source: std::io::Error },
}

/// Held for as long as this value lives.
#[derive(Debug)]
pub(crate) struct RunLock {
    _file: File,
}

impl RunLock {
    /// Takes the lock of `run_dir` (which must exist) without waiting.
    pub(crate) fn acquire(run_dir: &Path) -> Result<Self, RunLockError> {
        let io = |source| RunLockError::Io { dir: run_dir.to_owned(), source };
        let mut file = OpenOptions::new()
            .read(true)
            .write(true)
            .create(true)
            .truncate(false)
            .open(run_dir.join(LOCK_FILE))
            .map_err(io)?;
        // SAFETY: flock only acts on the descriptor, which `file` owns.
        if unsafe { libc::flock(file.as_raw_fd(), libc::LOCK_EX | libc::LOCK_NB) } != 0 {
            let error = std::io::Error::last_os_error();
            if error.raw_os_error() != Some(libc::EWOULDBLOCK) {
                return Err(io(error));
            }
            let mut pid = String::new();
            file.read_to_string(&mut pid).ok();
            let pid = pid.trim();
            let pid = if pid.is_empty() { "unknown, still starting".to_owned() } else { pid.to_owned() };
            return Err(RunLockError::Held { dir: run_dir.to_owned(), pid });
        }
        file.set_len(0).map_err(io)?;
        file.rewind().map_err(io)?;
        writeln!(file, "{}", std::process::id()).map_err(io)?;
        Ok(Self { _file: file })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_second_holder_is_refused_with_the_first_ones_pid_until_it_lets_go() {
        let dir = tempfile::tempdir().unwrap();
        let first = RunLock::acquire(dir.path()).unwrap();
        // flock locks belong to the open file description, so a second open in the same
        // process conflicts just as another process would.
        match RunLock::acquire(dir.path()) {
            Err(RunLockError::Held { pid, .. }) => assert_eq!(pid, std::process::id().to_string()),
            other => panic!("expected Held, got {other:?}"),
        }
        drop(first);
        RunLock::acquire(dir.path()).unwrap();
    }
}
