//! `asi-evolve slurm-stage`: what a stage's batch job runs. It starts the command in its own
//! process group with the suite's limits (the same `setrlimit` code as the local sandbox),
//! its output going to the job's files, waits for it, kills whatever it left in its group,
//! and writes how it ended to the status file — `code N` or `signal N`, the distinction a
//! shell's `$?` loses — so the controller reports the same `Exit` as for a local run.

use std::os::unix::process::{CommandExt, ExitStatusExt};
use std::path::Path;
use std::process::{Command, Stdio};

use crate::engineer::limits::Prepared;
use crate::suite::Limits;

/// Runs the stage's command; returns the exit code the job itself should end with.
pub fn run_stage(status_file: &Path, limits: &Limits, program: &str, args: &[String]) -> i32 {
    let mut command = Command::new(program);
    command.args(args).stdin(Stdio::null()).process_group(0);
    let prepared = Prepared::new(limits);
    if !prepared.is_empty() {
        // SAFETY: the closure runs between fork and exec and makes only setrlimit calls on
        // data prepared before the fork (no allocation, no locks).
        unsafe {
            command.pre_exec(move || prepared.apply());
        }
    }
    let (status, code) = match command.spawn() {
        Err(e) => (format!("error {e}"), 127),
        Ok(mut child) => {
            let pid = child.id() as libc::pid_t;
            let waited = child.wait();
            // Grandchildren the command left in its group die with it, as in the local sandbox.
            // SAFETY: killpg only sends a signal; ESRCH (group already gone) is fine.
            unsafe {
                libc::killpg(pid, libc::SIGKILL);
            }
            match waited {
                Err(e) => (format!("error waiting for the command: {e}"), 125),
                Ok(s) => match (s.code(), s.signal()) {
                    (Some(c), _) => (format!("code {c}"), c),
                    (None, Some(sig)) => (format!("signal {sig}"), 128 + sig),
                    (None, None) => ("signal 0".into(), 128),
                },
            }
        }
    };
    let staging = status_file.with_extension("status.tmp");
    if std::fs::write(&staging, format!("{status}\n")).and_then(|()| std::fs::rename(&staging, status_file)).is_err() {
        eprintln!("asi-evolve slurm-stage: cannot write {}", status_file.display());
        return 125;
    }
    code
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::engineer::executor::Exit;
    use crate::engineer::executor::slurm::state::parse_status;

    fn launch(script: &str, limits: Limits) -> (i32, String) {
        let dir = tempfile::tempdir().unwrap();
        let status = dir.path().join("s.status");
        let code = run_stage(&status, &limits, "bash", &["-c".into(), script.into()]);
        (code, std::fs::read_to_string(status).unwrap())
    }

    #[test]
    fn codes_and_signals_are_told_apart() {
        assert_eq!(launch("exit 3", Limits::default()), (3, "code 3\n".into()));
        assert_eq!(launch("exit 137", Limits::default()), (137, "code 137\n".into()));
        let (code, status) = launch("kill -9 $$", Limits::default());
        assert_eq!((code, parse_status(&status)), (137, Some(Exit::Signal(9))));
        let (_, status) = launch("test \"$(ulimit -t)\" = 7", Limits { cpu_seconds: Some(7), ..Default::default() });
        assert_eq!(status, "code 0\n");
        let dir = tempfile::tempdir().unwrap();
        let status = dir.path().join("s.status");
        assert_eq!(run_stage(&status, &Limits::default(), "/no/such/program", &[]), 127);
        assert!(std::fs::read_to_string(status).unwrap().starts_with("error "));
    }
}
