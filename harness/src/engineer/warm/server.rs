//! One fork server: a Python process that has imported the suite's preloads and forks one
//! child per evaluation (`fork_server.py`). The controller talks to it over a seqpacket
//! socket: a request (with the child's stdout and stderr pipes as SCM_RIGHTS), then the
//! child's pid, "exited", the controller's "reap" once it has killed the child's group, and the
//! wait status. The group is killed before the child is reaped, as in `sandbox`, so the group
//! id cannot have been reused in between.

use std::io::{Read, Write};
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd, RawFd};
use std::os::unix::net::UnixStream;
use std::os::unix::process::CommandExt;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::{Value, json};

use crate::engineer::confine;
use crate::engineer::limits::Prepared;
use crate::engineer::sandbox::{self, Exit, RunOutput, RunSpec};
use crate::engineer::stale;

const SOURCE: &str = include_str!("fork_server.py");
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

    /// Runs `argv` (the interpreter's arguments) as `spec` describes, in a forked child.
    pub(super) fn run(&mut self, argv: &[String], spec: &RunSpec) -> Result<RunOutput, Failure> {
        let started = Instant::now();
        let broken = |e: std::io::Error| ServerError::Broken(e.to_string());
        let (out_read, out_write) = pipe().map_err(|e| Failure::BeforeChild(broken(e)))?;
        let (err_read, err_write) = pipe().map_err(|e| Failure::BeforeChild(broken(e)))?;
        let limits: Vec<Value> =
            Prepared::new(&spec.limits).triples().map(|(name, soft, hard)| json!([name, soft, hard])).collect();
        let env: serde_json::Map<String, Value> =
            spec.env.iter().map(|(k, v)| (k.clone(), Value::String(v.clone()))).collect();
        // The same Landlock ruleset the sandbox applies, built here and handed to the child,
        // which restricts itself with it before running anything (see `confine`).
        let ruleset: Option<OwnedFd> = if spec.writable.is_empty() {
            None
        } else {
            confine::rules(&spec.writable).map_err(|e| Failure::BeforeChild(broken(e)))?.and_then(Into::into)
        };
        let landlock = ruleset.as_ref().map(|_| libc::SYS_landlock_restrict_self);
        let request =
            json!({"argv": argv, "cwd": spec.cwd, "env": env, "limits": limits, "landlock": landlock}).to_string();
        let mut fds = vec![out_write.as_raw_fd(), err_write.as_raw_fd()];
        fds.extend(ruleset.as_ref().map(AsRawFd::as_raw_fd));
        send_with_fds(self.control.as_raw_fd(), request.as_bytes(), &fds)
            .map_err(|e| Failure::BeforeChild(broken(e)))?;
        drop((out_write, err_write, ruleset));
        let stdout = sandbox::spawn_reader(std::fs::File::from(out_read), spec.output_cap);
        let stderr = sandbox::spawn_reader(std::fs::File::from(err_read), spec.output_cap);
        let pid = match self.receive(ANSWER_TIMEOUT).map(|m| m.get("pid").and_then(Value::as_i64)) {
            Ok(Some(pid)) if pid > 1 => pid as libc::pid_t,
            Ok(_) => return Err(Failure::BeforeChild(ServerError::Broken("no child pid".into()))),
            Err(e) => return Err(Failure::BeforeChild(broken(e))),
        };
        if let Some(dir) = &spec.record_group_in {
            stale::record(dir, pid).ok();
        }
        let result = self.finish(pid, spec.timeout);
        if let Some(dir) = &spec.record_group_in {
            stale::clear(dir, pid);
        }
        let (status, timed_out) = result.map_err(|e| {
            sandbox::kill_group(pid, libc::SIGKILL);
            Failure::AfterChild(broken(e))
        })?;
        let exit = if timed_out {
            Exit::TimedOut
        } else if libc::WIFEXITED(status) {
            Exit::Code(libc::WEXITSTATUS(status))
        } else if libc::WIFSIGNALED(status) {
            Exit::Signal(libc::WTERMSIG(status))
        } else {
            Exit::Signal(0)
        };
        Ok(RunOutput {
            exit,
            stdout: sandbox::collect(stdout),
            stderr: sandbox::collect(stderr),
            elapsed: started.elapsed(),
        })
    }

    /// Waits for the child (killing its group at the timeout, as `sandbox` does), kills what is
    /// left of the group, lets the server reap it; the wait status and whether it timed out.
    fn finish(&mut self, pid: libc::pid_t, timeout: Duration) -> std::io::Result<(i32, bool)> {
        let timed_out = match self.receive(timeout) {
            Ok(_) => false,
            Err(e) if is_timeout(&e) => {
                sandbox::kill_group(pid, libc::SIGTERM);
                match self.receive(sandbox::TERM_GRACE) {
                    Ok(_) => {}
                    Err(e) if is_timeout(&e) => {
                        sandbox::kill_group(pid, libc::SIGKILL);
                        self.receive(ANSWER_TIMEOUT)?;
                    }
                    Err(e) => return Err(e),
                }
                true
            }
            Err(e) => return Err(e),
        };
        sandbox::kill_group(pid, libc::SIGKILL);
        self.control.write_all(b"reap")?;
        let status = self.receive(ANSWER_TIMEOUT)?.get("status").and_then(Value::as_i64);
        let status = status.ok_or_else(|| std::io::Error::other("no wait status"))?;
        Ok((status as i32, timed_out))
    }

    fn receive(&mut self, timeout: Duration) -> std::io::Result<Value> {
        self.control.set_read_timeout(Some(timeout.max(Duration::from_millis(1))))?;
        let mut buf = vec![0u8; 64 * 1024];
        let n = loop {
            match self.control.read(&mut buf) {
                Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
                other => break other?,
            }
        };
        if n == 0 {
            return Err(std::io::Error::new(std::io::ErrorKind::UnexpectedEof, "the server exited"));
        }
        serde_json::from_slice(&buf[..n]).map_err(|e| std::io::Error::other(format!("unreadable answer: {e}")))
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

fn is_timeout(e: &std::io::Error) -> bool {
    matches!(e.kind(), std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut)
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
