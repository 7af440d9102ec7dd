//! Every process an evaluation starts ends with it, including those that left its process
//! group (`setsid`) and were orphaned by a double fork, which a group kill cannot reach.
//!
//! The process the sandbox spawns is not the evaluator itself: between fork and exec it makes
//! itself a child subreaper (`PR_SET_CHILD_SUBREAPER`), forks the evaluator and stays behind.
//! Every descendant orphaned inside the evaluation is then re-parented to this reaper instead
//! of init, so the whole tree remains below the reaper's pid for as long as the reaper lives.
//! The reaper reports the evaluator's wait status through a pipe and keeps reaping; when the
//! evaluation ends (exit or timeout) the controller kills every descendant of the reaper
//! (`kill_tree`) and then the reaper. A per-process setting, so it works unprivileged and on
//! any cgroup layout; Linux only (PR_SET_CHILD_SUBREAPER, Linux 3.4).

use std::fs::File;
use std::io::Read;
use std::os::fd::{FromRawFd, OwnedFd, RawFd};
use std::time::Duration;

/// The descriptor the status pipe has inside the reaper (0–2 are closed there).
const STATUS_FD: RawFd = 3;
/// Rounds of "find the descendants, kill them" before giving up on a tree that keeps forking.
const KILL_ROUNDS: usize = 200;
const KILL_PAUSE: Duration = Duration::from_millis(5);

/// The controller's ends of the reaper's status pipe.
pub(super) struct ReaperPipe {
    read: File,
    /// Closed once the spawn returned, so a dead reaper reads as end of file.
    write: Option<OwnedFd>,
}

/// What the closure between fork and exec needs: plain integers, no allocation.
#[derive(Clone, Copy)]
pub(super) struct ReaperHook {
    write_fd: RawFd,
}

/// How the evaluator ended, as `waitpid` reported it to the reaper.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) struct WaitStatus(pub i32);

impl WaitStatus {
    pub(super) fn code(self) -> Option<i32> {
        libc::WIFEXITED(self.0).then(|| libc::WEXITSTATUS(self.0))
    }

    pub(super) fn signal(self) -> Option<i32> {
        libc::WIFSIGNALED(self.0).then(|| libc::WTERMSIG(self.0))
    }
}

pub(super) fn pipe() -> std::io::Result<(ReaperPipe, ReaperHook)> {
    let mut fds = [0 as RawFd; 2];
    // SAFETY: pipe2 fills the two descriptors, which are then owned here.
    if unsafe { libc::pipe2(fds.as_mut_ptr(), libc::O_CLOEXEC) } != 0 {
        return Err(std::io::Error::last_os_error());
    }
    // SAFETY: both descriptors were just created and are owned by nothing else.
    let (read, write) = unsafe { (File::from_raw_fd(fds[0]), OwnedFd::from_raw_fd(fds[1])) };
    Ok((ReaperPipe { read, write: Some(write) }, ReaperHook { write_fd: fds[1] }))
}

impl ReaperPipe {
    /// Call once the spawn has returned: the reaper holds its own copy of the write end.
    pub(super) fn spawned(&mut self) {
        self.write = None;
    }

    /// Blocks until the evaluator has exited; None if the reaper died without saying (it was
    /// killed, e.g. with the whole group at a timeout).
    pub(super) fn wait_evaluator(mut self) -> Option<WaitStatus> {
        let mut bytes = [0u8; 4];
        self.read.read_exact(&mut bytes).ok().map(|()| WaitStatus(i32::from_ne_bytes(bytes)))
    }
}

impl ReaperHook {
    /// Runs in the spawned child between fork and exec. Returns (in the evaluator, which goes
    /// on to exec the command) or never returns (in the reaper). Only async-signal-safe calls.
    ///
    /// # Safety
    /// Must be called in a freshly forked child, before exec, as `CommandExt::pre_exec` does.
    pub(super) unsafe fn become_reaper(self) -> std::io::Result<()> {
        // SAFETY (whole body): raw system calls on integers prepared before the fork.
        unsafe {
            if libc::prctl(libc::PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0) != 0 {
                return Err(std::io::Error::last_os_error());
            }
            // A raw clone, not glibc's fork(): that one runs atfork handlers and takes malloc's
            // locks, which another thread of the controller may have held at the first fork,
            // and would then deadlock this child forever.
            let evaluator = libc::syscall(libc::SYS_clone, libc::SIGCHLD as libc::c_ulong, 0, 0, 0, 0) as libc::pid_t;
            if evaluator < 0 {
                return Err(std::io::Error::last_os_error());
            }
            if evaluator == 0 {
                return Ok(());
            }
            // The reaper: the group's SIGTERM at a timeout is for the evaluator, and a status
            // nobody reads any more must not kill it before it has reaped everything.
            libc::signal(libc::SIGTERM, libc::SIG_IGN);
            libc::signal(libc::SIGINT, libc::SIG_IGN);
            libc::signal(libc::SIGHUP, libc::SIG_IGN);
            libc::signal(libc::SIGPIPE, libc::SIG_IGN);
            // Hold no descriptor but the status pipe: not the output pipes (their readers wait
            // for every writer) and not the spawn's own error pipe (the spawn waits for it).
            if self.write_fd != STATUS_FD {
                libc::dup2(self.write_fd, STATUS_FD);
            }
            if libc::syscall(libc::SYS_close_range, STATUS_FD + 1, libc::c_uint::MAX, 0) != 0 {
                for fd in STATUS_FD + 1..4096 {
                    libc::close(fd);
                }
            }
            for fd in 0..STATUS_FD {
                libc::close(fd);
            }
            loop {
                let mut status = 0;
                let pid = libc::waitpid(-1, &mut status, 0);
                if pid == evaluator {
                    let bytes = status.to_ne_bytes();
                    libc::write(STATUS_FD, bytes.as_ptr().cast(), bytes.len());
                } else if pid < 0 && *libc::__errno_location() != libc::EINTR {
                    // ECHILD: nothing below the reaper is left.
                    libc::_exit(0);
                }
            }
        }
    }
}

/// Kills (SIGKILL) every live descendant of `root`, again and again until none is left, so a
/// process forking while it is killed is caught too. `root` itself is left alive.
pub(super) fn kill_tree(root: libc::pid_t) {
    for _ in 0..KILL_ROUNDS {
        let descendants = live_descendants(root);
        if descendants.is_empty() {
            return;
        }
        for pid in descendants {
            // SAFETY: kill only sends a signal. A pid read from /proc could in principle have
            // been reused in between; it was our descendant a moment ago.
            unsafe {
                libc::kill(pid, libc::SIGKILL);
            }
        }
        std::thread::sleep(KILL_PAUSE);
    }
}

/// Descendants of `root` that are not yet zombies, from one scan of /proc.
pub(super) fn live_descendants(root: libc::pid_t) -> Vec<libc::pid_t> {
    let Ok(entries) = std::fs::read_dir("/proc") else { return Vec::new() };
    let table: Vec<(libc::pid_t, libc::pid_t, bool)> = entries
        .filter_map(|e| e.ok()?.file_name().to_str()?.parse::<libc::pid_t>().ok())
        .filter_map(|pid| {
            let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
            let mut fields = stat.rsplit_once(')')?.1.split_whitespace();
            let zombie = fields.next()? == "Z";
            let ppid = fields.next()?.parse().ok()?;
            Some((pid, ppid, zombie))
        })
        .collect();
    let mut found = vec![root];
    let mut i = 0;
    while i < found.len() {
        let parent = found[i];
        found.extend(table.iter().filter(|(_, ppid, _)| *ppid == parent).map(|(pid, _, _)| *pid));
        i += 1;
    }
    found.retain(|pid| *pid != root && table.iter().any(|(p, _, zombie)| p == pid && !zombie));
    found
}

#[cfg(test)]
mod tests {
    use std::time::Instant;

    use super::super::sandbox::process_checks::{bash_with_pidfile, gone_within, read_pid};
    use super::super::sandbox::{Exit, RunSpec, run};
    use super::*;
    use crate::suite::Limits;

    /// Runs `script` (PIDFILE replaced by a file the escapee writes its pid into).
    fn escaping(script: &str, timeout: Duration) -> (Exit, Duration, i32) {
        let dir = tempfile::tempdir().unwrap();
        let (spec, pidfile) = bash_with_pidfile(script, dir.path(), timeout);
        let started = Instant::now();
        let out = run(&spec).unwrap();
        let elapsed = started.elapsed();
        (out.exit, elapsed, read_pid(&pidfile))
    }

    /// How long a killed escapee may take to disappear.
    const GONE: Duration = Duration::from_secs(2);

    /// `setsid -f` forks, and the child starts a new session and execs: the grandchild is in
    /// another group and session, orphaned, and holds the evaluation's stdout open.
    const ESCAPE: &str = "setsid -f bash -c 'echo $$ > PIDFILE; exec sleep 300'; \
                          while [ ! -s PIDFILE ]; do sleep 0.01; done";

    #[test]
    fn a_setsid_double_forked_grandchild_is_killed_and_the_evaluation_ends_on_time() {
        let (exit, elapsed, pid) = escaping(&format!("{ESCAPE}; exit 0"), Duration::from_secs(30));
        assert_eq!(exit, Exit::Code(0));
        assert!(gone_within(pid, GONE), "the escaped grandchild {pid} survived its evaluation");
        assert!(elapsed < Duration::from_millis(1500), "the evaluation was held open for {elapsed:?}");
    }

    #[test]
    fn a_timeout_kills_an_escaped_grandchild_too() {
        let (exit, elapsed, pid) = escaping(&format!("{ESCAPE}; sleep 300"), Duration::from_millis(500));
        assert_eq!(exit, Exit::TimedOut);
        assert!(gone_within(pid, GONE), "the escaped grandchild {pid} survived the timeout");
        assert!(elapsed < Duration::from_secs(4), "{elapsed:?}");
    }

    #[test]
    fn the_evaluators_own_exit_status_and_signal_come_through_the_reaper() {
        let (exit, _, _) = escaping("echo $$ > PIDFILE; exit 7", Duration::from_secs(10));
        assert_eq!(exit, Exit::Code(7));
        let (exit, _, _) = escaping("echo $$ > PIDFILE; kill -SEGV $$", Duration::from_secs(10));
        assert_eq!(exit, Exit::Signal(libc::SIGSEGV));
    }

    #[test]
    fn a_program_that_cannot_be_started_is_an_error_not_a_hang() {
        let spec = RunSpec {
            program: "/nonexistent/evaluator".into(),
            args: vec![],
            cwd: std::env::temp_dir(),
            env: vec![],
            timeout: Duration::from_secs(10),
            output_cap: 1024,
            limits: Limits::default(),
            record_group_in: None,
            writable: Vec::new(),
        };
        let started = Instant::now();
        assert!(run(&spec).is_err());
        assert!(started.elapsed() < Duration::from_secs(5));
    }
}
