//! The Slurm executor: each stage is one batch job. The node's folder must be on a filesystem
//! the compute nodes share, at the same path, and so must the `asi-evolve` executable (the
//! job runs it as the stage's launcher) and whatever the evaluator runs.
//!
//! A stage: write `slurm.stage<i>.sh`; record the job's name in `slurm.job` (so a controller
//! killed during `sbatch` still leaves something to cancel by), submit it, record its id;
//! wait on the shared `squeue` poll; cancel it if it pends longer than `max_pending_s` or runs
//! longer than the stage's timeout (counted from when it was first seen started); once it has
//! ended — its processes gone — read the launcher's status and the job's output files, and
//! remove the record. Any way out of `run` before the end cancels the job.

mod cli;
pub mod launch;
mod monitor;
mod script;
pub(crate) mod state;

use std::io::{Read, Seek, SeekFrom};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant};

use sha2::{Digest, Sha256};

use self::cli::JobId;
use self::monitor::Monitor;
use self::state::{Cancelled, Ending, Phase};
use super::{Captured, Executor, Exit, Finished, SlurmConfig, StageJob};

/// In the node's folder while a job may be queued or running: `name <job name>` and, once
/// submitted, `id <job id>`.
pub const JOB_FILE: &str = "slurm.job";
/// How long a cancelled job gets to end before the harness gives up waiting for it.
const CANCEL_WAIT: Duration = Duration::from_secs(120);
/// How often an unanswered `scancel` is sent again while waiting.
const CANCEL_RETRY: Duration = Duration::from_secs(10);

pub struct Slurm {
    config: SlurmConfig,
    /// The `asi-evolve` executable the job runs as the stage's launcher.
    launcher: PathBuf,
    monitor: Arc<Monitor>,
}

/// Files of stage `i` in the node's folder.
struct StageFiles {
    script: String,
    stdout: String,
    stderr: String,
    status: String,
}

impl StageFiles {
    fn of(stage: usize) -> Self {
        let base = format!("slurm.stage{stage}");
        Self {
            script: format!("{base}.sh"),
            stdout: format!("{base}.out"),
            stderr: format!("{base}.err"),
            status: format!("{base}.status"),
        }
    }
}

/// The job name of every stage run in `workdir`: unique to the folder, so the jobs a dead
/// controller left can be found by name even when their id was never recorded.
pub fn job_name(workdir: &Path) -> String {
    let hash = format!("{:x}", Sha256::digest(workdir.to_string_lossy().as_bytes()));
    let node = workdir.file_name().map_or_else(String::new, |n| format!("{}-", n.to_string_lossy()));
    format!("asi-evolve-{node}{}", &hash[..10])
}

/// Cancels the job on every way out of `run` that did not see it end.
struct CancelOnDrop(Option<JobId>);

impl Drop for CancelOnDrop {
    fn drop(&mut self) {
        if let Some(id) = self.0 {
            cli::scancel(&[id]).ok();
        }
    }
}

impl Slurm {
    pub fn new(config: SlurmConfig, launcher: PathBuf) -> Self {
        let monitor = Monitor::new(Duration::from_secs_f64(config.poll_interval_s));
        Self { config, launcher, monitor }
    }

    fn sbatch_options(&self, job: &StageJob, name: &str, files: &StageFiles) -> Vec<String> {
        let c = &self.config;
        let minutes = (job.timeout.as_secs_f64() / 60.0).ceil().max(1.0) as u64;
        let mut o = vec![
            format!("--job-name={name}"),
            format!("--chdir={}", job.cwd.display()),
            format!("--output={}", job.workdir.join(&files.stdout).display()),
            format!("--error={}", job.workdir.join(&files.stderr).display()),
            // sbatch's default: the controller's environment (so what the login node loaded
            // carries over), under the stage's variables the script exports. `NIL`/`NONE` make
            // slurmd rebuild the user's login environment, over 2 s per job.
            "--export=ALL".into(),
            // Never rerun behind the harness's back (a requeued job would run the stage twice).
            "--no-requeue".into(),
            format!("--time={}", c.time_limit.clone().unwrap_or_else(|| minutes.to_string())),
        ];
        let optional = [
            ("--partition", &c.partition),
            ("--mem", &c.mem),
            ("--gres", &c.gres),
            ("--account", &c.account),
            ("--qos", &c.qos),
        ];
        o.extend(optional.iter().filter_map(|(flag, v)| v.as_ref().map(|v| format!("{flag}={v}"))));
        if let Some(n) = c.cpus_per_task {
            o.push(format!("--cpus-per-task={n}"));
        }
        o.extend(c.extra_args.iter().cloned());
        o
    }

    /// Waits for job `id` to end, cancelling it when it pends or runs too long.
    fn wait(&self, id: JobId, job: &StageJob) -> (String, Option<Cancelled>) {
        let submitted = Instant::now();
        let poll = Duration::from_secs_f64(self.config.poll_interval_s);
        let mut started: Option<Instant> = None;
        let mut cancelled: Option<(Cancelled, Instant, Instant)> = None;
        loop {
            let seen = self.monitor.next(id, poll.saturating_mul(2));
            let now = Instant::now();
            let phase = if seen.state.is_empty() { Phase::Queued } else { state::phase(&seen.state) };
            match phase {
                Phase::Ended => return (seen.state, cancelled.map(|c| c.0)),
                Phase::Started => {
                    let since = *started.get_or_insert(now);
                    if cancelled.is_none() && now.duration_since(since) >= job.timeout {
                        cli::scancel(&[id]).ok();
                        cancelled = Some((Cancelled::Timeout, now, now));
                    }
                }
                Phase::Queued => {
                    if let Some(limit) = self.config.max_pending_s
                        && cancelled.is_none()
                        && now.duration_since(submitted).as_secs_f64() >= limit
                    {
                        cli::scancel(&[id]).ok();
                        let slurm_reason = if seen.reason.is_empty() { "none given".into() } else { seen.reason };
                        cancelled = Some((Cancelled::Pending { limit_s: limit, slurm_reason }, now, now));
                    }
                }
            }
            if let Some((_, at, last_sent)) = &mut cancelled {
                if now.duration_since(*at) >= CANCEL_WAIT {
                    return ("CANCELLED".into(), cancelled.map(|c| c.0));
                }
                if now.duration_since(*last_sent) >= CANCEL_RETRY {
                    cli::scancel(&[id]).ok();
                    *last_sent = now;
                }
            }
        }
    }
}

/// The last `cap` bytes of a job's output file and how long it is.
fn tail(path: &Path, cap: usize) -> Captured {
    let Ok(mut file) = std::fs::File::open(path) else { return Captured::default() };
    let total = file.metadata().map_or(0, |m| m.len());
    let start = total.saturating_sub(cap as u64);
    let mut tail = Vec::new();
    if file.seek(SeekFrom::Start(start)).is_ok() {
        file.read_to_end(&mut tail).ok();
    }
    Captured { tail, total }
}

fn record(workdir: &Path, name: &str, id: Option<JobId>) -> std::io::Result<()> {
    let staging = workdir.join(format!(".{JOB_FILE}"));
    let id = id.map_or_else(String::new, |id| format!("id {id}\n"));
    std::fs::write(&staging, format!("name {name}\n{id}"))?;
    std::fs::rename(staging, workdir.join(JOB_FILE))
}

impl Executor for Slurm {
    fn run(&self, job: &StageJob) -> std::io::Result<Finished> {
        let started = Instant::now();
        let files = StageFiles::of(job.stage);
        for stale in [&files.stdout, &files.stderr, &files.status] {
            std::fs::remove_file(job.workdir.join(stale)).ok();
        }
        // Absolute: the script runs in `cwd`, which need not be the node's folder.
        let status_file = job.workdir.join(&files.status).to_string_lossy().into_owned();
        let text = script::Script {
            launcher: &self.launcher,
            cwd: &job.cwd,
            env: &job.env,
            setup: &self.config.setup,
            limits: job.limits,
            status_file: &status_file,
            program: &job.program,
            args: &job.args,
        }
        .render()
        .map_err(std::io::Error::other)?;
        let script_path = job.workdir.join(&files.script);
        std::fs::write(&script_path, text)?;
        let name = job_name(&job.workdir);
        record(&job.workdir, &name, None)?;
        let id = match cli::sbatch(&self.sbatch_options(job, &name, &files), &script_path) {
            Ok(id) => id,
            Err(refused) => {
                std::fs::remove_file(job.workdir.join(JOB_FILE)).ok();
                return Ok(Finished {
                    exit: Exit::Lost(format!("sbatch refused the job: {refused}")),
                    stdout: Captured::default(),
                    stderr: Captured::default(),
                    elapsed: started.elapsed(),
                });
            }
        };
        let mut guard = CancelOnDrop(Some(id));
        record(&job.workdir, &name, Some(id))?;
        self.monitor.watch(id);
        let (final_state, cancelled) = self.wait(id, job);
        self.monitor.unwatch(id);
        guard.0 = None;

        let details = cli::show_job(id).unwrap_or_default();
        let status = std::fs::read_to_string(job.workdir.join(&files.status)).ok();
        let stdout = tail(&job.workdir.join(&files.stdout), job.output_cap);
        let stderr = tail(&job.workdir.join(&files.stderr), job.output_cap);
        std::fs::remove_file(job.workdir.join(JOB_FILE)).ok();
        if cancelled.is_none()
            && let Some(launch_error) = status.as_deref().and_then(|s| s.strip_prefix("error "))
        {
            // The command could not be started: the same error a local spawn reports.
            return Err(std::io::Error::other(launch_error.trim().to_owned()));
        }
        let stderr_text = String::from_utf8_lossy(&stderr.tail).into_owned();
        let ending = Ending {
            state: &final_state,
            reason: details.get("Reason").map_or("", String::as_str),
            exit_code: details.get("ExitCode").map_or("", String::as_str),
            status: status.as_deref(),
            stderr: &stderr_text,
        };
        let exit = state::outcome(&ending, cancelled.as_ref());
        Ok(Finished { exit, stdout, stderr, elapsed: started.elapsed() })
    }

    /// Cancels the jobs recorded in `workdir` (by id, and by the folder's job name for one
    /// whose id was never recorded) and waits until they have ended.
    fn clear_stale(&self, workdir: &Path) {
        let path = workdir.join(JOB_FILE);
        let Ok(text) = std::fs::read_to_string(&path) else { return };
        let mut ids: Vec<JobId> = text.lines().filter_map(|l| l.strip_prefix("id ")?.trim().parse().ok()).collect();
        if let Some(name) = text.lines().find_map(|l| l.strip_prefix("name ")) {
            ids.extend(cli::active_named(name.trim()).unwrap_or_default());
        }
        ids.sort_unstable();
        ids.dedup();
        let give_up = Instant::now() + CANCEL_WAIT;
        let poll = Duration::from_secs_f64(self.config.poll_interval_s).min(Duration::from_millis(500));
        while !ids.is_empty() && Instant::now() < give_up {
            cli::scancel(&ids).ok();
            std::thread::sleep(poll);
            let alive = cli::squeue(&ids).unwrap_or_default();
            ids.retain(|id| alive.iter().any(|q| q.id == *id && state::phase(&q.state) != Phase::Ended));
        }
        std::fs::remove_file(path).ok();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn job_names_are_unique_to_the_folder_and_readable() {
        let a = job_name(Path::new("/runs/a/nodes/00003"));
        assert!(a.starts_with("asi-evolve-00003-"), "{a}");
        assert_ne!(a, job_name(Path::new("/runs/b/nodes/00003")));
        assert_eq!(a, job_name(Path::new("/runs/a/nodes/00003")));
    }

    #[test]
    fn tails_are_bounded_like_the_sandbox_s() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("out");
        std::fs::write(&path, "0123456789").unwrap();
        let t = tail(&path, 4);
        assert_eq!((t.tail.as_slice(), t.total), (&b"6789"[..], 10));
        assert_eq!(t.text(), "[... 6 earlier bytes dropped ...]\n6789");
        assert_eq!(tail(&dir.path().join("none"), 4).total, 0);
    }

    #[test]
    fn sbatch_gets_the_configured_resources() {
        let config = SlurmConfig {
            partition: Some("gpu".into()),
            gres: Some("gpu:1".into()),
            cpus_per_task: Some(8),
            extra_args: vec!["--constraint=a100".into()],
            ..Default::default()
        };
        let slurm = Slurm::new(config, "/bin/asi-evolve".into());
        let job = StageJob {
            program: "python3".into(),
            args: vec![],
            workdir: "/runs/r/nodes/00001".into(),
            cwd: "/runs/r/nodes/00001".into(),
            env: vec![],
            stage: 1,
            timeout: Duration::from_secs(61),
            output_cap: 1024,
            limits: Default::default(),
            writable: vec![],
        };
        let o = slurm.sbatch_options(&job, "n", &StageFiles::of(1));
        for want in
            ["--time=2", "--partition=gpu", "--gres=gpu:1", "--cpus-per-task=8", "--constraint=a100", "--no-requeue"]
        {
            assert!(o.iter().any(|x| x == want), "{want} missing from {o:?}");
        }
        assert!(o.contains(&"--output=/runs/r/nodes/00001/slurm.stage1.out".to_string()), "{o:?}");
    }
}
