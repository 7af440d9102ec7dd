//! The Engineer: writes a candidate into its own working directory, runs the suite's static
//! check and evaluator stages there, each in a sandboxed process group, and turns what came
//! back into an `Evaluation`.

pub(crate) mod caps;
pub(crate) mod cascade;
mod classify;
pub mod confine;
pub mod executor;
mod explain;
pub(crate) mod interpreter;
mod limits;
mod reaper;
pub(crate) mod results;
pub(crate) mod sandbox;
mod stale;
mod static_check;
pub(crate) mod warm;

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use serde_json::{Map, Value};

pub use classify::classify;
pub use stale::{PGID_FILE, kill_stale_group};

use crate::node::{FailureClass, Status};
use crate::suite::Suite;
use executor::{Executor, Exit, StageJob};
use interpreter::Interpreter;
use sandbox::RunOutput;
use warm::WarmPool;

/// Results file name of a one-stage evaluator inside the working directory (also passed as
/// `ASI_EVOLVE_RESULTS`); stage i of a cascade writes `results.stage<i>.json`.
pub const RESULTS_FILE: &str = "results.json";
/// `ASI_EVOLVE_RESULTS` while the static check runs; never read.
const CHECK_RESULTS_FILE: &str = "results.static_check.json";
/// Host variables an evaluator may need to find its interpreter; nothing else is inherited
/// (`TMPDIR` is the evaluation's own private folder).
const PASSTHROUGH: &[&str] = &[
    "PATH",
    "HOME",
    "LANG",
    "LC_ALL",
    "PYENV_ROOT",
    "PYENV_VERSION",
    "VIRTUAL_ENV",
    "PYTHONPATH",
    "OPENBLAS_CORETYPE",
    "OPENBLAS_L2_SIZE",
    // which size of experiment an AI-research suite runs (cpu, ci, gpu); the suite reports it
    "ASI_EVOLVE_SCALE",
    // a machine without Landlock scores linear-attention candidates only when told to
    "ASI_EVOLVE_UNCONFINED_OK",
];
/// Single-threaded numerics: reproducible results and fair timing next to other workers.
const FIXED_ENV: &[(&str, &str)] = &[
    ("OMP_NUM_THREADS", "1"),
    ("OPENBLAS_NUM_THREADS", "1"),
    ("MKL_NUM_THREADS", "1"),
    ("PYTHONHASHSEED", "0"),
    ("PYTHONDONTWRITEBYTECODE", "1"),
];

#[derive(Debug, Clone, PartialEq)]
pub struct Evaluation {
    pub status: Status,
    pub failure: Option<FailureClass>,
    pub reason: Option<String>,
    pub score: Option<f64>,
    pub metrics: Map<String, Value>,
    pub feedback: String,
    pub stdout_tail: String,
    pub stderr_tail: String,
    pub seconds: f64,
}

impl Evaluation {
    /// A round that never reached the evaluator.
    pub fn not_run(failure: FailureClass, reason: String) -> Self {
        Self {
            status: Status::Failed,
            failure: Some(failure),
            reason: Some(reason),
            score: None,
            metrics: Map::new(),
            feedback: String::new(),
            stdout_tail: String::new(),
            stderr_tail: String::new(),
            seconds: 0.0,
        }
    }
}

pub struct Engineer {
    suite: Suite,
    /// The `asi-evolve` executable, for evaluators that call back into it (`{bin}`).
    bin: PathBuf,
    /// One per stage: the stage's own timeout, or the campaign's override for all of them.
    timeouts: Vec<Duration>,
    output_cap: usize,
    /// Where the stages run; the static check always runs locally (it is cheap and needs no
    /// cluster resources).
    executor: Arc<dyn Executor>,
    /// The suite's cache folder (`[evaluator] cache = true`), writable to every evaluation.
    cache_dir: Option<PathBuf>,
    /// Bare interpreter names in the suite's commands, resolved once for the campaign.
    interpreters: Vec<Interpreter>,
    /// Fork servers for the suite's Python commands, when it asks for them.
    warm: Option<WarmPool>,
    /// The evaluations' private temporary folders.
    scratch: confine::ScratchPool,
}

/// The node being evaluated: what every command's placeholders and environment refer to.
struct Node<'a> {
    candidate: &'a Path,
    /// Where the candidate, results and logs are (the node's folder, or the peer's round
    /// folder inside it).
    workdir: &'a Path,
    cwd: &'a Path,
    /// The node's folder, which holds the record of a running evaluator group.
    node_dir: &'a Path,
    /// The evaluation's private temporary folder (its `TMPDIR`).
    scratch: &'a Path,
    seed: u64,
}

impl Engineer {
    pub fn new(suite: Suite, bin: PathBuf, timeout_override: Option<f64>, output_cap: usize) -> Self {
        let timeouts = suite
            .evaluator
            .stages
            .iter()
            .map(|stage| Duration::from_secs_f64(timeout_override.unwrap_or(stage.timeout_s)))
            .collect();
        let cache_dir = suite.cache_dir();
        let base_env = base_environment(&suite);
        let mut interpreters: Vec<Interpreter> = Vec::new();
        let evaluator = &suite.evaluator;
        let programs = evaluator.static_check.iter().chain(evaluator.stages.iter().map(|s| &s.command));
        let named = programs.filter_map(|c| c.first()).chain(evaluator.warm.iter().map(|w| &w.python));
        for name in named {
            if interpreter::is_python_name(name)
                && !interpreters.iter().any(|i| &i.requested == name)
                && let Some(found) = interpreter::resolve(name, &base_env)
            {
                interpreters.push(found);
            }
        }
        let warm = evaluator.warm.as_ref().map(|w| {
            let python = interpreters
                .iter()
                .find(|i| i.requested == w.python)
                .map_or_else(|| PathBuf::from(&w.python), |i| i.path.clone());
            WarmPool::new(python, w.preload.clone(), base_env.clone(), suite.dir.clone())
        });
        Self {
            suite,
            bin,
            timeouts,
            output_cap,
            executor: Arc::new(executor::Local),
            cache_dir,
            interpreters,
            warm,
            scratch: confine::ScratchPool::default(),
        }
    }

    /// What the campaign's manifest records about how commands are run: each resolved
    /// interpreter (`python3 = /path (3.12.3)`) and the warm servers, if any.
    pub fn describe_interpreters(&self) -> String {
        let mut parts: Vec<String> = self
            .interpreters
            .iter()
            .map(|i| format!("{} = {} ({})", i.requested, i.path.display(), i.version))
            .collect();
        if let Some(warm) = &self.warm {
            parts.push(format!("warm: {}", warm.describe()));
        }
        parts.join("; ")
    }

    /// The environment every evaluator command gets, one sorted `KEY=VALUE` line each, but
    /// PATH and HOME, which only locate programs and files (the interpreters they resolve to are
    /// [`Self::describe_interpreters`]): what a campaign records to refuse a changed experiment.
    pub fn describe_environment(&self) -> String {
        let env: std::collections::BTreeMap<String, String> =
            base_environment(&self.suite).into_iter().filter(|(k, _)| k != "PATH" && k != "HOME").collect();
        env.iter().map(|(k, v)| format!("{k}={v}\n")).collect()
    }

    /// Starts the warm servers `workers` will use in the background, so their first
    /// evaluations need not each wait for the preloads (no-op without `[evaluator.warm]`).
    pub fn prestart(&self, workers: usize) {
        if let Some(pool) = &self.warm {
            pool.prestart(workers);
        }
    }

    /// The same Engineer running its stages through `executor`.
    pub fn with_executor(self, executor: Arc<dyn Executor>) -> Self {
        Self { executor, ..self }
    }

    /// Stops whatever a dead controller left running for `workdir` (the static check's process
    /// group, the executor's processes or jobs).
    pub fn clear_stale(&self, workdir: &Path) {
        kill_stale_group(workdir);
        self.executor.clear_stale(workdir);
    }

    pub fn suite(&self) -> &Suite {
        &self.suite
    }

    /// Evaluates `code` on its own (not as a campaign's round) in `workdir`; see `evaluate_round`.
    pub fn evaluate(&self, code: &str, workdir: &Path, seed: u64) -> Evaluation {
        self.evaluate_round(code, workdir, seed, None)
    }

    /// Evaluates `code` as round `round` in `node_dir`, which is emptied first so nothing stale
    /// is read back (an evaluator group still recorded there, from a controller that died, is
    /// killed). The round names the peer's round folder in a view (`steps/step_N`, `gen_N`).
    pub fn evaluate_round(&self, code: &str, node_dir: &Path, seed: u64, round: Option<u64>) -> Evaluation {
        match self.try_evaluate(code, node_dir, seed, round) {
            Ok(e) => e,
            // The folder is made before anything runs (a failure there is not NotFound), so a
            // folder missing afterwards was removed by what ran in it.
            Err(e) if e.kind() == std::io::ErrorKind::NotFound && !node_dir.exists() => Evaluation::not_run(
                FailureClass::Crash,
                format!(
                    "the candidate deleted its own node folder during the evaluation, taking its output with it ({e})"
                ),
            ),
            Err(e) => Evaluation::not_run(
                FailureClass::Crash,
                format!("could not run the evaluator in {}: {e}", node_dir.display()),
            ),
        }
    }

    fn try_evaluate(&self, code: &str, node_dir: &Path, seed: u64, round: Option<u64>) -> std::io::Result<Evaluation> {
        if node_dir.exists() {
            self.clear_stale(node_dir);
            std::fs::remove_dir_all(node_dir)?;
        }
        std::fs::create_dir_all(node_dir)?;
        let node_dir = node_dir.canonicalize()?;
        let placement = self.suite.workspace.prepare(&node_dir, &self.suite.dir, round)?;
        let workdir = placement.workdir;
        let candidate = workdir.join(&self.suite.candidate_file);
        if let Some(parent) = candidate.parent() {
            std::fs::create_dir_all(parent)?;
        }
        std::fs::write(&candidate, code)?;
        for (name, contents) in &self.suite.evaluator.support_files {
            let path = workdir.join(name);
            if let Some(parent) = path.parent() {
                std::fs::create_dir_all(parent)?;
            }
            std::fs::write(path, contents)?;
        }
        let scratch = self.scratch.lease()?;
        if let Some(cache) = &self.cache_dir {
            std::fs::create_dir_all(cache)?;
        }
        let node = Node {
            candidate: &candidate,
            workdir: &workdir,
            cwd: &placement.cwd,
            node_dir: &node_dir,
            scratch: scratch.path(),
            seed,
        };

        let stages = &self.suite.evaluator.stages;
        let n = stages.len();
        let stage_job = |i: usize| {
            let results_path = workdir.join(&cascade::stage_files(i, n)[0]);
            self.job(&stages[i - 1].command, &node, i, &results_path, self.timeouts[i - 1])
        };
        let mut check_seconds = 0.0;
        // Stage 1's output when it ran in the static check's warm child.
        let mut first_stage = None;
        if let Some(check) = &self.suite.evaluator.static_check {
            let timeout = static_check::MAX_TIMEOUT.min(self.timeouts[0]);
            // Its own results path, so nothing it writes can pass for the evaluator's results.
            let check = self.job(check, &node, 0, &workdir.join(CHECK_RESULTS_FILE), timeout);
            let out = if self.executor.runs_here() {
                let (out, stage) = self.run_check_and_first_stage(&check, &stage_job(1))?;
                first_stage = stage;
                out
            } else {
                self.run_here(&check)?
            };
            if let Some(failed) = static_check::verdict(&out, timeout) {
                write_log(&workdir.join("stdout.log"), &failed.stdout_tail)?;
                write_log(&workdir.join("stderr.log"), &failed.stderr_tail)?;
                return Ok(failed);
            }
            check_seconds = out.elapsed.as_secs_f64();
        }

        let mut evaluation = cascade::run(stages, |i, _| {
            let [results_name, stdout_name, stderr_name] = cascade::stage_files(i, n);
            let results_path = workdir.join(&results_name);
            let timeout = self.timeouts[i - 1];
            let chained = if i == 1 { first_stage.take() } else { None };
            let out = match chained {
                Some(out) => executor::finished(out),
                None if self.executor.runs_here() => self.run_here(&stage_job(i)).map(executor::finished)?,
                None => self.executor.run(&stage_job(i))?,
            };
            let stdout_tail = out.stdout.text();
            let stderr_tail = out.stderr.text();
            write_log(&workdir.join(stdout_name), &stdout_tail)?;
            write_log(&workdir.join(stderr_name), &stderr_tail)?;
            let results = if out.exit == Exit::TimedOut { Ok(None) } else { caps::read_results(&results_path) };
            let mut e = match results {
                Ok(results) => caps::bound(
                    classify(out.exit, results.as_deref(), &results_name, &stderr_tail, timeout),
                    &results_name,
                ),
                Err(why) => Evaluation::not_run(FailureClass::BadOutput, format!("{results_name}: {why}")),
            };
            explain::rejection(&mut e, &workdir, &self.suite.evaluator.log_files, &stdout_tail, &stderr_tail);
            e.stdout_tail = stdout_tail;
            e.stderr_tail = stderr_tail;
            e.seconds = out.elapsed.as_secs_f64();
            Ok::<_, std::io::Error>(e)
        })?;
        if n > 1 {
            write_log(&workdir.join("stdout.log"), &evaluation.stdout_tail)?;
            write_log(&workdir.join("stderr.log"), &evaluation.stderr_tail)?;
        }
        evaluation.seconds += check_seconds;
        if !candidate.exists() && evaluation.status != Status::Valid {
            let reason = evaluation.reason.take().unwrap_or_default();
            evaluation.reason = Some(format!("{reason} (the candidate file was deleted during the evaluation)"));
        }
        Ok(evaluation)
    }

    /// Runs `job` on this machine: warm when the suite asks for it and the command is one a
    /// fork server can run, else in the sandbox.
    fn run_here(&self, job: &StageJob) -> std::io::Result<RunOutput> {
        self.run_spec_here(&job.sandbox_spec())
    }

    fn run_spec_here(&self, spec: &sandbox::RunSpec) -> std::io::Result<RunOutput> {
        if let Some(pool) = &self.warm
            && pool.accepts(&spec.program, &spec.args)
        {
            if let Some(outputs) = pool.run(&[spec]) {
                return outputs.map(|mut o| o.remove(0));
            }
            forget_results(spec);
        }
        sandbox::run(spec)
    }

    /// Runs the static check and, when it passes, stage 1 in the same warm child where both
    /// can (one fork instead of two); else the check alone. Stage 1's output when it ran.
    fn run_check_and_first_stage(
        &self,
        check: &StageJob,
        stage: &StageJob,
    ) -> std::io::Result<(RunOutput, Option<RunOutput>)> {
        let (check_spec, stage_spec) = (check.sandbox_spec(), stage.sandbox_spec());
        let Some(pool) = self.warm.as_ref().filter(|p| p.chains(&check_spec, &stage_spec)) else {
            return Ok((self.run_spec_here(&check_spec)?, None));
        };
        match pool.run(&[&check_spec, &stage_spec]) {
            Some(outputs) => {
                let mut outputs = outputs?.into_iter();
                let check = outputs.next().expect("a chain reports its first step");
                Ok((check, outputs.next()))
            }
            None => {
                forget_results(&check_spec);
                forget_results(&stage_spec);
                Ok((sandbox::run(&check_spec)?, None))
            }
        }
    }

    /// One command (the static check is stage 0) to run in the node's folder.
    fn job(&self, words: &[String], node: &Node<'_>, stage: usize, results: &Path, timeout: Duration) -> StageJob {
        let expand = |word: &str| {
            word.replace("{suite_dir}", &self.suite.dir.to_string_lossy())
                .replace("{candidate}", &node.candidate.to_string_lossy())
                .replace("{workdir}", &node.workdir.to_string_lossy())
                .replace("{bin}", &self.bin.to_string_lossy())
        };
        let mut words = words.iter().map(|w| expand(w));
        let program = words.next().expect("suite loading rejects an empty command");
        let program = match self.interpreters.iter().find(|i| i.requested == program) {
            Some(i) => i.path.to_string_lossy().into_owned(),
            None => program,
        };
        StageJob {
            program,
            args: words.collect(),
            workdir: node.node_dir.to_owned(),
            cwd: node.cwd.to_owned(),
            env: self.environment(node, results, stage),
            stage,
            timeout,
            output_cap: self.output_cap,
            limits: self.suite.evaluator.limits,
            writable: [node.node_dir, node.scratch]
                .into_iter()
                .chain(self.cache_dir.as_deref())
                .map(Path::to_owned)
                .collect(),
        }
    }

    fn environment(&self, node: &Node<'_>, results: &Path, stage: usize) -> Vec<(String, String)> {
        let mut env = host_environment();
        env.extend([
            ("ASI_EVOLVE_SEED".into(), node.seed.to_string()),
            ("ASI_EVOLVE_CANDIDATE".into(), node.candidate.to_string_lossy().into_owned()),
            ("ASI_EVOLVE_WORKDIR".into(), node.workdir.to_string_lossy().into_owned()),
            ("ASI_EVOLVE_RESULTS".into(), results.to_string_lossy().into_owned()),
            ("ASI_EVOLVE_SUITE_DIR".into(), self.suite.dir.to_string_lossy().into_owned()),
            ("ASI_EVOLVE_BIN".into(), self.bin.to_string_lossy().into_owned()),
            ("ASI_EVOLVE_STAGE".into(), stage.to_string()),
            ("ASI_EVOLVE_STAGES".into(), self.suite.evaluator.stages.len().to_string()),
            ("TMPDIR".into(), node.scratch.to_string_lossy().into_owned()),
        ]);
        if let Some(cache) = &self.cache_dir {
            env.push(("ASI_EVOLVE_CACHE_DIR".into(), cache.to_string_lossy().into_owned()));
        }
        env.extend(self.suite.evaluator.env.iter().cloned());
        env
    }
}

/// Writes an evaluator's output to its log in the node's folder or, when it wrote nothing, no
/// file at all (the store keeps the tails either way): most cheap evaluators are silent, and
/// creating a file is among the dearest steps of a cheap round (on ext4 without a journal, far
/// more so after many deletions).
fn write_log(path: &Path, text: &str) -> std::io::Result<()> {
    if !text.is_empty() {
        return std::fs::write(path, text);
    }
    match std::fs::remove_file(path) {
        Err(e) if e.kind() != std::io::ErrorKind::NotFound => Err(e),
        _ => Ok(()),
    }
}

/// Before a command that failed warm runs again cold: nothing the failed attempt wrote may pass
/// for this run's results.
fn forget_results(spec: &sandbox::RunSpec) {
    if let Some((_, results)) = spec.env.iter().find(|(k, _)| k == "ASI_EVOLVE_RESULTS") {
        std::fs::remove_file(results).ok();
    }
}

/// The host variables an evaluator inherits and the fixed ones it always gets.
fn host_environment() -> Vec<(String, String)> {
    let mut env: Vec<(String, String)> =
        PASSTHROUGH.iter().filter_map(|k| std::env::var(k).ok().map(|v| (k.to_string(), v))).collect();
    env.extend(FIXED_ENV.iter().map(|(k, v)| (k.to_string(), v.to_string())));
    env
}

/// Every evaluator's environment without what is specific to a node: what interpreters are
/// resolved and fork servers started with.
fn base_environment(suite: &Suite) -> Vec<(String, String)> {
    let mut env = host_environment();
    env.extend(suite.evaluator.env.iter().cloned());
    env
}
