//! Runs one evaluator command in its own process group with a timeout and resource limits.
//! The command runs below a reaper (see `reaper`) that leads the group; when the command
//! ends, by itself or by the timeout, every descendant of the reaper — those that left the
//! group too — and then the whole group are killed before the reaper is reaped, so nothing it
//! started survives and the group id cannot have been reused in between. Output is read as it
//! comes and only a bounded tail is kept, however much the command prints.

use std::io::Read;
use std::os::unix::process::CommandExt;
use std::path::PathBuf;
use std::process::{Command, Stdio};
use std::sync::mpsc;
use std::thread;
use std::time::{Duration, Instant};

use super::confine;
use super::limits::Prepared;
use super::reaper;
use super::stale;
use crate::suite::Limits;

/// Time a process group gets between SIGTERM and SIGKILL.
pub(super) const TERM_GRACE: Duration = Duration::from_secs(1);
/// Time the output readers get after the group is dead; a process that left the group
/// (setsid) could otherwise hold a pipe open forever.
pub(super) const READER_GRACE: Duration = Duration::from_secs(2);

#[derive(Debug, Clone)]
pub struct RunSpec {
    pub program: String,
    pub args: Vec<String>,
    pub cwd: PathBuf,
    pub env: Vec<(String, String)>,
    pub timeout: Duration,
    pub output_cap: usize,
    pub limits: Limits,
    /// A folder to keep `evaluator.pgid` in while the group may be alive (see `stale`).
    pub record_group_in: Option<PathBuf>,
    /// The only folders the command may write into (see `confine`); empty: unconfined.
    pub writable: Vec<PathBuf>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Exit {
    Code(i32),
    Signal(i32),
    TimedOut,
}

/// The last `output_cap` bytes of a stream and how many bytes it wrote in all.
#[derive(Debug, Clone, Default)]
pub struct Captured {
    pub tail: Vec<u8>,
    pub total: u64,
}

impl Captured {
    /// Adds what was read; the tail is trimmed in batches (at twice the cap), not per read.
    pub(super) fn push(&mut self, bytes: &[u8], cap: usize) {
        self.total += bytes.len() as u64;
        self.tail.extend_from_slice(bytes);
        if self.tail.len() > 2 * cap {
            self.trim(cap);
        }
    }

    /// Keeps only the last `cap` bytes.
    pub(super) fn trim(&mut self, cap: usize) {
        if self.tail.len() > cap {
            let drop = self.tail.len() - cap;
            self.tail.drain(..drop);
        }
    }

    /// What a stream gives when its reader is abandoned.
    pub(super) fn abandoned() -> Self {
        Self {
            tail: b"[output reader abandoned: a process outside the evaluator's group kept the pipe open]".to_vec(),
            total: 0,
        }
    }

    pub fn text(&self) -> String {
        let text = String::from_utf8_lossy(&self.tail);
        if self.total as usize > self.tail.len() {
            format!("[... {} earlier bytes dropped ...]\n{text}", self.total as usize - self.tail.len())
        } else {
            text.into_owned()
        }
    }
}

#[derive(Debug)]
pub struct RunOutput {
    pub exit: Exit,
    pub stdout: Captured,
    pub stderr: Captured,
    pub elapsed: Duration,
}

pub(crate) fn run(spec: &RunSpec) -> std::io::Result<RunOutput> {
    let started = Instant::now();
    let mut command = Command::new(&spec.program);
    command
        .args(&spec.args)
        .current_dir(&spec.cwd)
        .env_clear()
        .envs(spec.env.iter().map(|(k, v)| (k, v)))
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .process_group(0);
    let limits = Prepared::new(&spec.limits);
    if !limits.is_empty() {
        // SAFETY: the closure runs between fork and exec and makes only setrlimit calls on
        // data prepared before the fork (no allocation, no locks).
        unsafe {
            command.pre_exec(move || limits.apply());
        }
    }
    if !spec.writable.is_empty() {
        let mut rules = confine::rules(&spec.writable)?;
        if rules.is_some() {
            // SAFETY: applying a ruleset built before the fork makes two system calls
            // (prctl, landlock_restrict_self) and allocates nothing.
            unsafe {
                command.pre_exec(move || confine::apply(&mut rules));
            }
        }
    }
    let (mut status_pipe, hook) = reaper::pipe()?;
    // SAFETY: become_reaper makes only async-signal-safe system calls on integers prepared
    // before the fork; it is registered last, so the limits above bind the reaper too.
    unsafe {
        command.pre_exec(move || hook.become_reaper());
    }
    let mut child = command.spawn()?;
    status_pipe.spawned();
    let pid = child.id() as libc::pid_t;
    if let Some(dir) = &spec.record_group_in
        && let Err(e) = stale::record(dir, pid)
    {
        reaper::kill_tree(pid);
        kill_group(pid, libc::SIGKILL);
        child.wait().ok();
        stale::clear(dir, pid);
        return Err(e);
    }
    let stdout = spawn_reader(child.stdout.take().expect("stdout is piped"), spec.output_cap);
    let stderr = spawn_reader(child.stderr.take().expect("stderr is piped"), spec.output_cap);

    let (exited_tx, exited_rx) = mpsc::channel();
    thread::spawn(move || {
        exited_tx.send(status_pipe.wait_evaluator()).ok();
    });
    let (timed_out, evaluator) = match exited_rx.recv_timeout(spec.timeout) {
        Ok(status) => (false, status),
        Err(_) => {
            kill_group(pid, libc::SIGTERM);
            if exited_rx.recv_timeout(TERM_GRACE).is_err() {
                reaper::kill_tree(pid);
                exited_rx.recv().ok();
            }
            (true, None)
        }
    };
    // The reaper is alive until the group kill: every orphan is still below it, and the group
    // id is still ours, so this reaches all of our processes and only ours.
    reaper::kill_tree(pid);
    kill_group(pid, libc::SIGKILL);
    let status = child.wait();
    if let Some(dir) = &spec.record_group_in {
        stale::clear(dir, pid);
    }
    let status = status?;
    let stdout = collect(stdout);
    let stderr = collect(stderr);
    let exit = if timed_out {
        Exit::TimedOut
    } else {
        use std::os::unix::process::ExitStatusExt;
        // The evaluator's own status; the reaper's only if it died without reporting one.
        let (code, signal) = match evaluator {
            Some(w) => (w.code(), w.signal()),
            None => (status.code(), status.signal()),
        };
        match (code, signal) {
            (Some(code), _) => Exit::Code(code),
            (None, Some(sig)) => Exit::Signal(sig),
            (None, None) => Exit::Signal(0),
        }
    };
    Ok(RunOutput { exit, stdout, stderr, elapsed: started.elapsed() })
}

pub(super) fn kill_group(pgid: libc::pid_t, signal: libc::c_int) {
    // SAFETY: killpg only sends a signal; ESRCH (group already gone) is fine to ignore.
    unsafe {
        libc::killpg(pgid, signal);
    }
}

pub(super) fn spawn_reader(mut stream: impl Read + Send + 'static, cap: usize) -> mpsc::Receiver<Captured> {
    let (tx, rx) = mpsc::channel();
    thread::spawn(move || {
        let mut captured = Captured::default();
        let mut buf = [0u8; 16 * 1024];
        loop {
            match stream.read(&mut buf) {
                Ok(0) | Err(_) => break,
                Ok(n) => captured.push(&buf[..n], cap),
            }
        }
        captured.trim(cap);
        tx.send(captured).ok();
    });
    rx
}

pub(super) fn collect(rx: mpsc::Receiver<Captured>) -> Captured {
    rx.recv_timeout(READER_GRACE).unwrap_or_else(|_| Captured::abandoned())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn spec(script: &str, timeout_ms: u64) -> RunSpec {
        RunSpec {
            program: "bash".into(),
            args: vec!["-c".into(), script.into()],
            cwd: std::env::temp_dir(),
            env: vec![("PATH".into(), std::env::var("PATH").unwrap_or_default())],
            timeout: Duration::from_millis(timeout_ms),
            output_cap: 1024,
            limits: Limits::default(),
            record_group_in: None,
            writable: Vec::new(),
        }
    }

    #[test]
    fn captures_exit_code_and_output() {
        let out = run(&spec("echo hello; echo oops >&2; exit 3", 5000)).unwrap();
        assert_eq!(out.exit, Exit::Code(3));
        assert_eq!(out.stdout.text(), "hello\n");
        assert_eq!(out.stderr.text(), "oops\n");
    }

    #[test]
    fn keeps_the_tail_of_long_output() {
        let out = run(&spec("for i in $(seq 1 5000); do echo line$i; done", 10000)).unwrap();
        assert_eq!(out.stdout.tail.len(), 1024);
        assert!(out.stdout.text().ends_with("line5000\n"));
        assert!(out.stdout.text().starts_with("[... "));
        assert!(out.stdout.total > 1024);
    }

    #[test]
    fn timeout_is_reported() {
        let started = Instant::now();
        let out = run(&spec("sleep 30", 200)).unwrap();
        assert_eq!(out.exit, Exit::TimedOut);
        assert!(started.elapsed() < Duration::from_secs(10));
    }

    #[test]
    fn a_hundred_megabytes_of_output_keep_only_a_bounded_tail() {
        let started = Instant::now();
        let out = run(&spec("head -c 100000000 /dev/zero | tr '\\0' x; echo; echo end", 60_000)).unwrap();
        assert_eq!(out.exit, Exit::Code(0));
        assert_eq!(out.stdout.total, 100_000_000 + 1 + 4);
        assert!(out.stdout.text().ends_with("x\nend\n"));
        // The buffer's capacity is the most it ever held: a few caps and one read, never the stream.
        assert!(out.stdout.tail.capacity() <= 4 * 1024 + 64 * 1024, "{}", out.stdout.tail.capacity());
        assert!(started.elapsed() < Duration::from_secs(30), "{:?}", started.elapsed());
    }

    #[test]
    fn limits_apply_to_the_command_and_its_children() {
        let mut s = spec("ulimit -v; ulimit -t; ulimit -n; bash -c 'ulimit -f'", 5000);
        s.limits =
            Limits { address_space_mb: Some(512), cpu_seconds: Some(7), file_size_mb: Some(1), open_files: Some(64) };
        let out = run(&s).unwrap();
        assert_eq!(out.stdout.text(), format!("{}\n7\n64\n{}\n", 512 * 1024, 1024));
    }

    #[test]
    fn the_group_is_recorded_while_it_runs() {
        let dir = tempfile::tempdir().unwrap();
        let mut s = spec("sleep 0.3; cat evaluator.pgid", 5000);
        s.cwd = dir.path().to_owned();
        s.record_group_in = Some(dir.path().to_owned());
        let out = run(&s).unwrap();
        let recorded: i32 = out.stdout.text().split_whitespace().next().unwrap().parse().unwrap();
        assert!(recorded > 1);
        assert!(!stale::has_record(dir.path()), "the record outlived the group");
    }

    #[test]
    fn the_environment_is_only_what_was_given() {
        let mut s = spec("echo \"[$HOME][$ONLY]\"", 5000);
        s.env.push(("ONLY".into(), "this".into()));
        assert_eq!(run(&s).unwrap().stdout.text(), "[][this]\n");
    }
}

#[cfg(test)]
pub(crate) mod process_checks {
    use std::path::{Path, PathBuf};
    use std::time::{Duration, Instant};

    use super::RunSpec;
    use crate::suite::Limits;

    /// True while `pid` is a live process (a zombie awaiting its reaper counts as gone).
    pub(crate) fn alive(pid: i32) -> bool {
        match std::fs::read_to_string(format!("/proc/{pid}/stat")) {
            Ok(stat) => stat.rsplit(')').next().and_then(|rest| rest.split_whitespace().next()) != Some("Z"),
            Err(_) => false,
        }
    }

    /// Whether `pid` is gone within `wait` (checked every 20 ms).
    pub(crate) fn gone_within(pid: i32, wait: Duration) -> bool {
        let deadline = Instant::now() + wait;
        loop {
            if !alive(pid) {
                return true;
            }
            if Instant::now() >= deadline {
                return false;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// `bash -c script` in `dir`, with PIDFILE in the script replaced by the path returned
    /// beside the spec (where a process the script starts writes its pid).
    pub(crate) fn bash_with_pidfile(script: &str, dir: &Path, timeout: Duration) -> (RunSpec, PathBuf) {
        let pidfile = dir.join("pid");
        let spec = RunSpec {
            program: "bash".into(),
            args: vec!["-c".into(), script.replace("PIDFILE", pidfile.to_str().unwrap())],
            cwd: dir.to_owned(),
            env: vec![("PATH".into(), std::env::var("PATH").unwrap_or_default())],
            timeout,
            output_cap: 1024,
            limits: Limits::default(),
            record_group_in: None,
            writable: Vec::new(),
        };
        (spec, pidfile)
    }

    /// The pid a script wrote into `pidfile`.
    pub(crate) fn read_pid(pidfile: &Path) -> i32 {
        std::fs::read_to_string(pidfile).unwrap().trim().parse().unwrap()
    }
}

#[cfg(test)]
mod group_tests {
    use super::process_checks::{bash_with_pidfile, gone_within, read_pid};
    use super::*;

    /// How long a killed descendant may take to disappear.
    const GONE: Duration = Duration::from_secs(2);

    fn forking(script: &str, timeout_ms: u64) -> (RunOutput, i32) {
        let dir = tempfile::tempdir().unwrap();
        let (spec, pidfile) = bash_with_pidfile(script, dir.path(), Duration::from_millis(timeout_ms));
        let out = run(&spec).unwrap();
        (out, read_pid(&pidfile))
    }

    #[test]
    fn a_grandchild_left_behind_by_a_clean_exit_is_killed() {
        let (out, pid) = forking("sleep 300 & echo $! > PIDFILE; exit 0", 10_000);
        assert_eq!(out.exit, Exit::Code(0));
        assert!(gone_within(pid, GONE), "grandchild {pid} survived");
    }

    #[test]
    fn a_timeout_kills_the_whole_tree() {
        let (out, pid) = forking("bash -c 'sleep 300' & echo $! > PIDFILE; sleep 300", 300);
        assert_eq!(out.exit, Exit::TimedOut);
        assert!(gone_within(pid, GONE), "grandchild {pid} survived");
    }
}
