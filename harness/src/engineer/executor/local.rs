//! The local executor: the stage is a child process in its own process group on this machine
//! (`sandbox`), its group recorded in the node's folder while it runs (`stale`).

use std::path::Path;

use super::{Executor, Exit, Finished, StageJob};
use crate::engineer::sandbox::{self, RunSpec};
use crate::engineer::stale;

#[derive(Debug, Clone, Copy, Default)]
pub struct Local;

impl StageJob {
    /// The sandbox's description of this job, its group recorded in the node's folder.
    pub fn sandbox_spec(&self) -> RunSpec {
        RunSpec {
            program: self.program.clone(),
            args: self.args.clone(),
            cwd: self.cwd.clone(),
            env: self.env.clone(),
            timeout: self.timeout,
            output_cap: self.output_cap,
            limits: self.limits,
            record_group_in: Some(self.workdir.clone()),
            writable: self.writable.clone(),
        }
    }
}

/// How a command run on this machine (sandbox or warm fork server) ended, as an executor says it.
pub fn finished(out: sandbox::RunOutput) -> Finished {
    let exit = match out.exit {
        sandbox::Exit::Code(c) => Exit::Code(c),
        sandbox::Exit::Signal(s) => Exit::Signal(s),
        sandbox::Exit::TimedOut => Exit::TimedOut,
    };
    Finished { exit, stdout: out.stdout, stderr: out.stderr, elapsed: out.elapsed }
}

impl Executor for Local {
    fn run(&self, job: &StageJob) -> std::io::Result<Finished> {
        sandbox::run(&job.sandbox_spec()).map(finished)
    }

    /// The Engineer may run the stage itself, through a warm fork server (`engineer::warm`).
    fn runs_here(&self) -> bool {
        true
    }

    fn clear_stale(&self, workdir: &Path) {
        stale::kill_stale_group(workdir);
    }
}
