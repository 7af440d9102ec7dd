//! One fork server: a Python process that has imported the suite's preloads and forks one
//! child per request (`fork_server.py`). The controller talks to it over a seqpacket socket: a
//! request (one or two steps, with each step's stdout and stderr pipes, the progress pipe of a
//! chain and the Landlock ruleset as SCM_RIGHTS), then the child's pid and, once the child has
//! exited and the server has killed its group, reaped it and killed what it orphaned, the wait
//! status. At a timeout the controller asks the server to signal the group: the server is the
//! child's parent, so while it has not reaped the child the group id cannot have been reused.
//! The child's pipes, the progress pipe and the socket are polled together in the calling
//! thread.

use std::os::fd::{AsRawFd, FromRawFd, OwnedFd, RawFd};
use std::os::unix::net::UnixStream;
use std::os::unix::process::CommandExt;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::{Value, json};

use crate::engineer::confine;
use crate::engineer::limits::Prepared;
use crate::engineer::sandbox::{self, Captured, Exit, RunOutput, RunSpec};
use crate::engineer::stale;

pub(super) const SOURCE: &str = include_str!("fork_server.py");
/// The descriptor the control socket has inside the server.
const CONTROL_FD: RawFd = 3;
/// How long the server may take to import its preloads.
const START_TIMEOUT: Duration = Duration::from_secs(120);
/// How long any answer that does not wait on the evaluation may take.
const ANSWER_TIMEOUT: Duration = Duration::from_secs(30);

/// Why a server could not do its part; the evaluation is then run again by a fresh server or
/// cold, so the outcome never depends on it.
#[derive(Debug, thiserror::Error)]
pub(super) enum ServerError {
    #[error("the fork server could not start: {0}")]
    Start(String),
    #[error("the fork server broke off: {0}")]
    Broken(String),
}

pub(super) struct Server {
    process: Child,
    control: UnixStream,
}

/// How far a request got before the server failed, so the caller knows what to clean up.
pub(super) enum Failure {
    /// No child was started.
    BeforeChild(ServerError),
    /// A child was started (its group is killed before this is returned).
    AfterChild(ServerError),
}

impl Server {
    /// Starts `python` with `env` in `dir`, importing `preload`.
    pub(super) fn start(
        python: &Path,
        preload: &[String],
        env: &[(String, String)],
        dir: &Path,
    ) -> Result<Self, ServerError> {
        let (ours, theirs) = seqpacket_pair().map_err(|e| ServerError::Start(e.to_string()))?;
        let their_fd = theirs.as_raw_fd();
        let mut command = Command::new(python);
        command
            .arg("-c")
            .arg(SOURCE)
            .arg(CONTROL_FD.to_string())
            .args(preload)
            .current_dir(dir)
            .env_clear()
            .envs(env.iter().map(|(k, v)| (k, v)))
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .process_group(0);
        // SAFETY: dup2 is async-signal-safe; it gives the server its end at a known number
        // (without close-on-exec).
        unsafe {
            command.pre_exec(move || {
                if libc::dup2(their_fd, CONTROL_FD) < 0 {
                    return Err(std::io::Error::last_os_error());
                }
                Ok(())
            });
        }
        let process = command.spawn().map_err(|e| ServerError::Start(format!("{}: {e}", python.display())))?;
        drop(theirs);
        let mut server = Self { process, control: UnixStream::from(ours) };
        match server.receive(START_TIMEOUT) {
            Ok(m) if m.get("ready").is_some() => Ok(server),
            Ok(m) => Err(ServerError::Start(m.get("error").and_then(Value::as_str).unwrap_or("no answer").to_owned())),
            Err(e) => Err(ServerError::Start(e.to_string())),
        }
    }

    /// Runs `steps` in one forked child, each step's interpreter arguments (`args`) with its
    /// own environment, timeout and output pipes; a step runs only after the one before it
    /// passed (exit code 0). The steps share the first one's working directory, limits,
    /// confinement and group record (`WarmPool::chains` checks that they agree). One output
    /// per step that ran to its end: fewer when one failed, or ended its process with code 0
    /// before the next could start (that one is then for the caller to run).
    pub(super) fn run(&mut self, steps: &[&RunSpec]) -> Result<Vec<RunOutput>, Failure> {
        let first = steps[0];
        let broken = |e: std::io::Error| Failure::BeforeChild(ServerError::Broken(e.to_string()));
        let mut streams = Vec::with_capacity(2 * steps.len());
        let mut fds = Vec::with_capacity(2 * steps.len() + 2);
        let mut write_ends = Vec::with_capacity(2 * steps.len() + 1);
        for step in steps {
            for _ in 0..2 {
                let (read, write) = pipe().map_err(broken)?;
                streams.push(Stream::new(read, step.output_cap));
                fds.push(write.as_raw_fd());
                write_ends.push(write);
            }
        }
        let progress = if steps.len() > 1 {
            let (read, write) = pipe().map_err(broken)?;
            fds.push(write.as_raw_fd());
            write_ends.push(write);
            Some(Stream::new(read, 16))
        } else {
            None
        };
        // The same Landlock ruleset the sandbox applies, built here and handed to the child,
        // which restricts itself with it before running anything (see `confine`).
        let ruleset: Option<OwnedFd> = if first.writable.is_empty() {
            None
        } else {
            confine::rules(&first.writable).map_err(broken)?.and_then(Into::into)
        };
        fds.extend(ruleset.as_ref().map(AsRawFd::as_raw_fd));
        let limits: Vec<Value> =
            Prepared::new(&first.limits).triples().map(|(name, soft, hard)| json!([name, soft, hard])).collect();
        let steps_json: Vec<Value> = steps
            .iter()
            .map(|step| {
                let env: serde_json::Map<String, Value> =
                    step.env.iter().map(|(k, v)| (k.clone(), Value::String(v.clone()))).collect();
                json!({"argv": step.args, "env": env})
            })
            .collect();
        let landlock = ruleset.as_ref().map(|_| libc::SYS_landlock_restrict_self);
        let request =
            json!({"steps": steps_json, "cwd": first.cwd, "limits": limits, "landlock": landlock}).to_string();
        let started = Instant::now();
        send_with_fds(self.control.as_raw_fd(), request.as_bytes(), &fds).map_err(broken)?;
        drop((write_ends, ruleset));
        let pid = match self.receive(ANSWER_TIMEOUT).map(|m| m.get("pid").and_then(Value::as_i64)) {
            Ok(Some(pid)) if pid > 1 => pid as libc::pid_t,
            Ok(_) => return Err(Failure::BeforeChild(ServerError::Broken("no child pid".into()))),
            Err(e) => return Err(broken(e)),
        };
        if let Some(dir) = &first.record_group_in {
            stale::record(dir, pid).ok();
        }
        let mut watch = Watch { control: self.control.as_raw_fd(), streams, progress };
        let result = watch.run(steps, started);
        if let Some(dir) = &first.record_group_in {
            stale::clear(dir, pid);
        }
        result.map_err(|e| {
            sandbox::kill_group(pid, libc::SIGKILL);
            Failure::AfterChild(ServerError::Broken(e.to_string()))
        })
    }

    fn receive(&mut self, timeout: Duration) -> std::io::Result<Value> {
        if !wait_readable(self.control.as_raw_fd(), timeout)? {
            return Err(std::io::Error::new(std::io::ErrorKind::TimedOut, "the server did not answer in time"));
        }
        read_message(self.control.as_raw_fd())
    }

    #[cfg(test)]
    pub(super) fn pid(&self) -> u32 {
        self.process.id()
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        self.process.kill().ok();
        self.process.wait().ok();
    }
}

/// One output pipe of the child, read as it comes; only a bounded tail is kept.
struct Stream {
    fd: OwnedFd,
    captured: Captured,
    cap: usize,
    open: bool,
}

impl Stream {
    fn new(fd: OwnedFd, cap: usize) -> Self {
        Self { fd, captured: Captured::default(), cap, open: true }
    }

    /// Reads what is there (the caller polled it readable); closed at end of file.
    fn read(&mut self) {
        let mut buf = [0u8; 16 * 1024];
        // SAFETY: reads into a buffer of the length given, from a descriptor this owns.
        let n = unsafe { libc::read(self.fd.as_raw_fd(), buf.as_mut_ptr().cast(), buf.len()) };
        match n {
            n if n > 0 => self.captured.push(&buf[..n as usize], self.cap),
            n if n < 0 && std::io::Error::last_os_error().kind() == std::io::ErrorKind::Interrupted => {}
            _ => self.open = false,
        }
    }

    fn take(&mut self) -> Captured {
        let mut captured = std::mem::take(&mut self.captured);
        captured.trim(self.cap);
        captured
    }
}

/// The controller's side of one request while its child runs: the child's pipes, the
/// progress pipe of a chain and the control socket, polled together in the calling thread.
struct Watch {
    control: RawFd,
    /// Two per step: stdout, stderr.
    streams: Vec<Stream>,
    /// One byte each time a step of a chain passed.
    progress: Option<Stream>,
}

/// How far the timeout handling has gone for the running step.
#[derive(Clone, Copy, PartialEq)]
enum Phase {
    Running,
    /// SIGTERM asked for.
    Terminating,
    /// SIGKILL asked for.
    Killing,
}

impl Watch {
    fn run(&mut self, steps: &[&RunSpec], started: Instant) -> std::io::Result<Vec<RunOutput>> {
        let mut step = 0;
        let mut step_started = started;
        let mut passed: Vec<Duration> = Vec::new();
        let mut deadline = started + steps[0].timeout;
        let mut phase = Phase::Running;
        let status = loop {
            let now = Instant::now();
            if now >= deadline {
                let (signal, next, wait) = match phase {
                    Phase::Running => (libc::SIGTERM, Phase::Terminating, sandbox::TERM_GRACE),
                    Phase::Terminating => (libc::SIGKILL, Phase::Killing, ANSWER_TIMEOUT),
                    Phase::Killing => return Err(std::io::Error::other("no wait status after SIGKILL")),
                };
                self.ask_signal(signal)?;
                phase = next;
                deadline = now + wait;
                continue;
            }
            let mut fds = vec![pollfd(self.control)];
            let progress_open = self.progress.as_ref().is_some_and(|p| p.open);
            if let Some(p) = self.progress.as_ref().filter(|p| p.open) {
                fds.push(pollfd(p.fd.as_raw_fd()));
            }
            let open = self.open_streams();
            fds.extend(open.iter().map(|&i| pollfd(self.streams[i].fd.as_raw_fd())));
            poll(&mut fds, deadline - now)?;
            let mut rest = &fds[1..];
            if progress_open {
                if rest[0].revents != 0 {
                    let progress = self.progress.as_mut().expect("polled");
                    let before = progress.captured.total;
                    progress.read();
                    for _ in before..progress.captured.total {
                        // After the timeout a pass no longer counts: the step is being killed.
                        if phase == Phase::Running && step + 1 < steps.len() {
                            let now = Instant::now();
                            passed.push(now - step_started);
                            step += 1;
                            step_started = now;
                            deadline = now + steps[step].timeout;
                        }
                    }
                }
                rest = &rest[1..];
            }
            self.read_ready(rest, &open);
            if fds[0].revents != 0 {
                let message = read_message(self.control)?;
                match message.get("status").and_then(Value::as_i64) {
                    Some(status) => break status as i32,
                    None => return Err(std::io::Error::other(format!("unexpected answer {message}"))),
                }
            }
        };
        let ended = Instant::now();
        self.drain();
        let mut outputs: Vec<RunOutput> =
            passed.into_iter().enumerate().map(|(i, elapsed)| self.output(i, Exit::Code(0), elapsed)).collect();
        let exit = if phase != Phase::Running {
            Exit::TimedOut
        } else if libc::WIFEXITED(status) {
            Exit::Code(libc::WEXITSTATUS(status))
        } else if libc::WIFSIGNALED(status) {
            Exit::Signal(libc::WTERMSIG(status))
        } else {
            Exit::Signal(0)
        };
        // A step before the last that ended its process with code 0 (`os._exit(0)`) passed,
        // but the next one never started: the caller runs that one.
        outputs.push(self.output(step, exit, ended - step_started));
        Ok(outputs)
    }

    /// Reads the pipes to their end: the group and its orphans are dead, so only a process
    /// that escaped both could hold one open, and it is abandoned after `READER_GRACE`.
    fn drain(&mut self) {
        let until = Instant::now() + sandbox::READER_GRACE;
        loop {
            let open = self.open_streams();
            let now = Instant::now();
            if open.is_empty() || now >= until {
                for &i in &open {
                    self.streams[i].captured = Captured::abandoned();
                    self.streams[i].open = false;
                }
                return;
            }
            let mut fds: Vec<libc::pollfd> = open.iter().map(|&i| pollfd(self.streams[i].fd.as_raw_fd())).collect();
            if poll(&mut fds, until - now).is_err() {
                continue;
            }
            self.read_ready(&fds, &open);
        }
    }

    /// The streams not yet at end of file.
    fn open_streams(&self) -> Vec<usize> {
        (0..self.streams.len()).filter(|&i| self.streams[i].open).collect()
    }

    /// Reads each of the streams `open` names whose poll slot (`slots`, in the same order)
    /// says it is readable.
    fn read_ready(&mut self, slots: &[libc::pollfd], open: &[usize]) {
        for (slot, &i) in slots.iter().zip(open) {
            if slot.revents != 0 {
                self.streams[i].read();
            }
        }
    }

    fn output(&mut self, step: usize, exit: Exit, elapsed: Duration) -> RunOutput {
        let stdout = self.streams[2 * step].take();
        let stderr = self.streams[2 * step + 1].take();
        RunOutput { exit, stdout, stderr, elapsed }
    }

    /// Asks the server to signal the child's group: only the server knows the child is not
    /// yet reaped, so only it can be sure the group id is still the child's.
    fn ask_signal(&self, signal: libc::c_int) -> std::io::Result<()> {
        // `{"signal":N}`: the server tells it from a request by how it starts.
        let message = json!({ "signal": signal }).to_string();
        send_with_fds(self.control, message.as_bytes(), &[])
    }
}

fn pollfd(fd: RawFd) -> libc::pollfd {
    libc::pollfd { fd, events: libc::POLLIN, revents: 0 }
}

/// Polls `fds` for at most `timeout`, retrying when interrupted; how many are ready.
fn poll(fds: &mut [libc::pollfd], timeout: Duration) -> std::io::Result<usize> {
    // Rounded up, so a deadline a fraction of a millisecond away is not busy-waited for.
    let ms = timeout.as_micros().div_ceil(1000).min(i32::MAX as u128) as i32;
    loop {
        // SAFETY: `fds` is a valid slice of pollfd for the length given.
        let n = unsafe { libc::poll(fds.as_mut_ptr(), fds.len() as libc::nfds_t, ms) };
        if n >= 0 {
            return Ok(n as usize);
        }
        let e = std::io::Error::last_os_error();
        if e.kind() != std::io::ErrorKind::Interrupted {
            return Err(e);
        }
    }
}

fn wait_readable(fd: RawFd, timeout: Duration) -> std::io::Result<bool> {
    Ok(poll(&mut [pollfd(fd)], timeout)? > 0)
}

/// One message from the server: a JSON object in one seqpacket datagram.
fn read_message(fd: RawFd) -> std::io::Result<Value> {
    let mut buf = vec![0u8; 64 * 1024];
    let n = loop {
        // SAFETY: reads into a buffer of the length given.
        let n = unsafe { libc::recv(fd, buf.as_mut_ptr().cast(), buf.len(), 0) };
        if n >= 0 {
            break n as usize;
        }
        let e = std::io::Error::last_os_error();
        if e.kind() != std::io::ErrorKind::Interrupted {
            return Err(e);
        }
    };
    if n == 0 {
        return Err(std::io::Error::new(std::io::ErrorKind::UnexpectedEof, "the server exited"));
    }
    serde_json::from_slice(&buf[..n]).map_err(|e| std::io::Error::other(format!("unreadable answer: {e}")))
}

fn seqpacket_pair() -> std::io::Result<(OwnedFd, OwnedFd)> {
    let mut fds = [0 as RawFd; 2];
    // SAFETY: socketpair fills the two descriptors, which are then owned here.
    if unsafe { libc::socketpair(libc::AF_UNIX, libc::SOCK_SEQPACKET | libc::SOCK_CLOEXEC, 0, fds.as_mut_ptr()) } != 0 {
        return Err(std::io::Error::last_os_error());
    }
    // SAFETY: both were just created and belong to nothing else.
    Ok(unsafe { (OwnedFd::from_raw_fd(fds[0]), OwnedFd::from_raw_fd(fds[1])) })
}

fn pipe() -> std::io::Result<(OwnedFd, OwnedFd)> {
    let mut fds = [0 as RawFd; 2];
    // SAFETY: pipe2 fills the two descriptors, which are then owned here.
    if unsafe { libc::pipe2(fds.as_mut_ptr(), libc::O_CLOEXEC) } != 0 {
        return Err(std::io::Error::last_os_error());
    }
    // SAFETY: both were just created and belong to nothing else.
    Ok(unsafe { (OwnedFd::from_raw_fd(fds[0]), OwnedFd::from_raw_fd(fds[1])) })
}

/// Sends one message carrying `fds` (SCM_RIGHTS); the receiver gets its own copies.
fn send_with_fds(socket: RawFd, bytes: &[u8], fds: &[RawFd]) -> std::io::Result<()> {
    if fds.is_empty() {
        // SAFETY: sends from a buffer of the length given.
        if unsafe { libc::send(socket, bytes.as_ptr().cast(), bytes.len(), libc::MSG_NOSIGNAL) } < 0 {
            return Err(std::io::Error::last_os_error());
        }
        return Ok(());
    }
    let payload = std::mem::size_of_val(fds);
    // SAFETY: CMSG_SPACE/CMSG_LEN are pure arithmetic.
    let (space, len) = unsafe { (libc::CMSG_SPACE(payload as u32) as usize, libc::CMSG_LEN(payload as u32)) };
    // u64 words keep the control buffer aligned for cmsghdr.
    let mut control = vec![0u64; space.div_ceil(8)];
    let mut iov = libc::iovec { iov_base: bytes.as_ptr() as *mut libc::c_void, iov_len: bytes.len() };
    // SAFETY: msghdr is a plain C struct; every pointer in it refers to buffers that outlive
    // the sendmsg call, and the header written through CMSG_FIRSTHDR lies inside `control`.
    unsafe {
        let mut msg: libc::msghdr = std::mem::zeroed();
        msg.msg_iov = &mut iov;
        msg.msg_iovlen = 1;
        msg.msg_control = control.as_mut_ptr().cast();
        msg.msg_controllen = space as _;
        let header = libc::CMSG_FIRSTHDR(&msg);
        (*header).cmsg_level = libc::SOL_SOCKET;
        (*header).cmsg_type = libc::SCM_RIGHTS;
        (*header).cmsg_len = len as _;
        std::ptr::copy_nonoverlapping(fds.as_ptr().cast::<u8>(), libc::CMSG_DATA(header), payload);
        if libc::sendmsg(socket, &msg, libc::MSG_NOSIGNAL) < 0 {
            return Err(std::io::Error::last_os_error());
        }
    }
    Ok(())
}
