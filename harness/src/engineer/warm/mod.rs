//! Warm evaluator workers for Python evaluators (a suite's `[evaluator.warm]`): instead of
//! starting an interpreter per command, a command `python <script|-m mod|-c code> args...` is
//! run by a fork server that imported the suite's preloads once and forks a child for it (or
//! one child for the static check and then the first stage, see `Server::run`). The
//! child is set up as the sandbox sets up a fresh process (own process group, rlimits,
//! environment, working directory, capped output, timeout, the same Landlock confinement, the
//! whole tree killed when it ends), so a command gives the same outcome warm or cold. Servers
//! are kept idle between evaluations, one per worker that needed one; a server that fails is
//! dropped and its evaluation run again on a fresh one, or cold. Any other command keeps the
//! sandbox's path.

mod server;

use std::path::{Path, PathBuf};
use std::sync::{Arc, Condvar, Mutex, MutexGuard};

use super::sandbox::{RunOutput, RunSpec};
use server::{Failure, Server};

pub(crate) struct WarmPool {
    settings: Arc<Settings>,
    state: Arc<(Mutex<State>, Condvar)>,
}

/// How every server of the pool is started.
struct Settings {
    python: PathBuf,
    preload: Vec<String>,
    /// The evaluator's environment without anything specific to a node (the servers read
    /// variables such as `PYTHONHASHSEED` and `OMP_NUM_THREADS` when they start).
    env: Vec<(String, String)>,
    dir: PathBuf,
}

impl Settings {
    fn start(&self) -> Result<Server, server::ServerError> {
        Server::start(&self.python, &self.preload, &self.env, &self.dir)
    }
}

#[derive(Default)]
struct State {
    idle: Vec<Server>,
    /// Servers being started in the background (`prestart`).
    starting: usize,
    /// Set when a server could not start: every later command runs cold.
    unavailable: Option<String>,
}

impl State {
    fn could_not_start(&mut self, e: &server::ServerError) {
        if self.unavailable.is_none() {
            eprintln!("warning: {e}; evaluations run cold");
        }
        self.unavailable = Some(e.to_string());
    }
}

impl WarmPool {
    pub(crate) fn new(python: PathBuf, preload: Vec<String>, env: Vec<(String, String)>, dir: PathBuf) -> Self {
        Self {
            settings: Arc::new(Settings { python, preload, env, dir }),
            state: Arc::new((Mutex::new(State::default()), Condvar::new())),
        }
    }

    /// Starts `count` servers in the background, so the workers' first evaluations do not each
    /// wait for an interpreter to import the preloads (seconds for torch).
    pub(crate) fn prestart(&self, count: usize) {
        self.lock().starting += count;
        for _ in 0..count {
            let (settings, state) = (Arc::clone(&self.settings), Arc::clone(&self.state));
            std::thread::spawn(move || {
                let started = settings.start();
                let (lock, ready) = &*state;
                let mut state = lock.lock().expect("pool lock");
                state.starting -= 1;
                match started {
                    Ok(server) => state.idle.push(server),
                    Err(e) => state.could_not_start(&e),
                }
                ready.notify_all();
            });
        }
    }

    /// True when `program args` is this pool's interpreter running a script, `-m` or `-c`.
    pub(crate) fn accepts(&self, program: &str, args: &[String]) -> bool {
        Path::new(program) == self.settings.python
            && match args.first().map(String::as_str) {
                Some("-c" | "-m") => args.len() >= 2,
                Some(script) => !script.starts_with('-'),
                None => false,
            }
    }

    /// Whether `first` and then `second` can run as one chain in one child: both accepted, and
    /// the same working directory, limits, confinement and group record (what one process has).
    pub(crate) fn chains(&self, first: &RunSpec, second: &RunSpec) -> bool {
        self.accepts(&first.program, &first.args)
            && self.accepts(&second.program, &second.args)
            && first.cwd == second.cwd
            && first.limits == second.limits
            && first.writable == second.writable
            && first.record_group_in == second.record_group_in
    }

    /// Runs `steps` warm, in one child (see `Server::run`): one output per step that ran to
    /// its end. `None` when they have to run cold (no server could be started, or the server
    /// failed once the child had started).
    pub(crate) fn run(&self, steps: &[&RunSpec]) -> Option<std::io::Result<Vec<RunOutput>>> {
        for _ in 0..2 {
            let mut server = self.server()?;
            match server.run(steps) {
                Ok(outputs) => {
                    self.give_back(server);
                    return Some(Ok(outputs));
                }
                Err(Failure::BeforeChild(e)) => eprintln!("warning: {e}; starting another fork server"),
                Err(Failure::AfterChild(e)) => {
                    eprintln!("warning: {e}; running the command cold");
                    return None;
                }
            }
        }
        None
    }

    /// What the campaign's manifest says about the warm path.
    pub(crate) fn describe(&self) -> String {
        format!("{} preloading [{}]", self.settings.python.display(), self.settings.preload.join(", "))
    }

    fn lock(&self) -> MutexGuard<'_, State> {
        self.state.0.lock().expect("pool lock")
    }

    /// An idle server, one that is being started, or a new one; `None` once servers cannot start.
    fn server(&self) -> Option<Server> {
        let mut state = self.lock();
        loop {
            if let Some(server) = state.idle.pop() {
                return Some(server);
            }
            if state.unavailable.is_some() {
                return None;
            }
            if state.starting == 0 {
                break;
            }
            state = self.state.1.wait(state).expect("pool lock");
        }
        drop(state);
        match self.settings.start() {
            Ok(server) => Some(server),
            Err(e) => {
                self.lock().could_not_start(&e);
                None
            }
        }
    }

    fn give_back(&self, server: Server) {
        self.lock().idle.push(server);
    }

    /// Waits until no server is being started in the background.
    #[cfg(test)]
    fn wait_for_starts(&self) {
        let mut state = self.lock();
        while state.starting > 0 {
            state = self.state.1.wait(state).expect("pool lock");
        }
    }

    #[cfg(test)]
    fn idle_pids(&self) -> Vec<u32> {
        self.lock().idle.iter().map(Server::pid).collect()
    }
}

#[cfg(test)]
mod tests;
