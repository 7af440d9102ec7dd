//! Where an evaluator stage runs. The Engineer prepares the node's folder, the command and its
//! environment; an executor runs that one command and reports how it ended, its output tails
//! and how long it took. `local` is a sandboxed child process (`sandbox`), `slurm` one batch
//! job per stage. Both report the same `Exit` for the same outcome, so a deterministic
//! evaluator gives the same node table through either.

mod local;
pub mod slurm;

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

pub use crate::config::executor::{ExecutorConfig, SlurmConfig};
pub use local::{Local, finished};
pub use slurm::Slurm;

pub use super::sandbox::Captured;
use crate::suite::Limits;

/// One stage to run: `program args` in `cwd` with exactly `env`; its records (process group,
/// job id, the job's output files) go into `workdir`, the node's folder. `cwd` is the node's
/// folder too, except for peers' layouts that run inside it (`steps/step_N`).
#[derive(Debug, Clone)]
pub struct StageJob {
    pub program: String,
    pub args: Vec<String>,
    pub workdir: PathBuf,
    pub cwd: PathBuf,
    pub env: Vec<(String, String)>,
    /// The stage's number, from 1 (names its job and files).
    pub stage: usize,
    pub timeout: Duration,
    pub output_cap: usize,
    pub limits: Limits,
    /// The only folders the stage may write into: its node folder and private TMPDIR
    /// (enforced by the local executor, see `confine`).
    pub writable: Vec<PathBuf>,
}

/// How a stage ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Exit {
    Code(i32),
    Signal(i32),
    /// It ran past its timeout and was stopped (process group killed, or job cancelled).
    TimedOut,
    /// The scheduler ended it for a reason of its own (cancelled, node failure, out of
    /// memory, preempted, pending too long); the text names the scheduler's state.
    Lost(String),
}

#[derive(Debug, Clone)]
pub struct Finished {
    pub exit: Exit,
    pub stdout: Captured,
    pub stderr: Captured,
    pub elapsed: Duration,
}

pub trait Executor: Send + Sync {
    /// Runs one stage to its end; nothing it started is left running when this returns.
    fn run(&self, job: &StageJob) -> std::io::Result<Finished>;

    /// Stops whatever a controller that died left running for the node folder `workdir`
    /// (a process group, or batch jobs), so the folder can be reused.
    fn clear_stale(&self, workdir: &Path);

    /// True when a stage runs as a process on this machine, so the Engineer may run it through
    /// a warm fork server instead (same guarantees, same outcome).
    fn runs_here(&self) -> bool {
        false
    }
}

/// The executor a campaign's `[executor]` section asks for; `bin` is the `asi-evolve`
/// executable (the Slurm job's launcher).
pub fn build(config: &ExecutorConfig, bin: &Path) -> Arc<dyn Executor> {
    match config {
        ExecutorConfig::Local {} => Arc::new(Local),
        ExecutorConfig::Slurm(c) => Arc::new(Slurm::new(SlurmConfig::clone(c), bin.to_owned())),
    }
}
