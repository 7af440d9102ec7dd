use std::io::IsTerminal;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::{Context, Result, bail};
use clap::{Parser, Subcommand};

use asi_evolve::ablation::{self, CellOutcome};
use asi_evolve::campaign::{self, Campaign, Comparison};
use asi_evolve::config::{CampaignConfig, SamplerKind};
use asi_evolve::config_layers;
use asi_evolve::engineer::Engineer;
use asi_evolve::node::Status;
use asi_evolve::suite::Suite;

mod cli;

#[derive(Parser)]
#[command(name = "asi-evolve", version, about = "Reproducible ASI-Evolve campaigns, ablations and reports")]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Run a campaign on a suite (a name under suites/ or a suite folder).
    Run {
        suite: Option<String>,
        /// Continue a campaign whose controller stopped or was killed.
        #[arg(long, value_name = "RUN_DIR", conflicts_with_all = ["suite", "config", "rounds", "seed", "sampler", "out", "llm"])]
        resume: Option<PathBuf>,
        /// Campaign config (TOML); command-line flags override its values.
        #[arg(long)]
        config: Option<PathBuf>,
        #[arg(long)]
        rounds: Option<u64>,
        #[arg(long)]
        seed: Option<u64>,
        #[arg(long)]
        workers: Option<usize>,
        /// greedy, random, ucb1, map-elites or islands.
        #[arg(long)]
        sampler: Option<SamplerKind>,
        /// Run directory (must not already hold a campaign).
        #[arg(long)]
        out: Option<PathBuf>,
        /// `replay:<run-dir-or-db>`: serve every model call from a recorded campaign instead of
        /// calling servers.
        #[arg(long, value_name = "replay:PATH")]
        llm: Option<String>,
    },
    /// Summarise a run directory: best node, lineage, references, per-round table.
    Show { run_dir: PathBuf },
    /// Run a recorded campaign again from its stored config, seed and model replies, and check
    /// that it stores the same node table.
    Rerun {
        run_dir: PathBuf,
        /// Where the rerun goes (default: `<run-dir>-rerun-<utc time>`).
        #[arg(long)]
        out: Option<PathBuf>,
    },
    /// Run an ablation matrix: one campaign per arm and seed in `<out>/<arm>/seed<k>`.
    /// Finished campaigns are skipped and interrupted ones resumed.
    Ablate {
        suite: String,
        /// Comma-separated: full, no-analyzer, no-cognition, no-llm, sampler=<kind>.
        #[arg(long, default_value = "full,no-analyzer,no-cognition,sampler=greedy,sampler=map-elites")]
        arms: String,
        /// A range (0..3) or a list (0,4,7).
        #[arg(long, default_value = "0..3")]
        seeds: String,
        #[arg(long)]
        rounds: Option<u64>,
        /// Campaigns run at the same time.
        #[arg(long, default_value_t = 1)]
        parallel: usize,
        /// Base config the arms modify.
        #[arg(long)]
        config: Option<PathBuf>,
        #[arg(long, default_value = "runs/ablation")]
        out: PathBuf,
    },
    /// Aggregate campaigns (run directories, or folders holding them) into CSV/Parquet tables,
    /// figures and Markdown/HTML reports with the paper's numbers beside ours.
    Report {
        #[arg(required = true)]
        runs: Vec<PathBuf>,
        #[arg(long)]
        out: PathBuf,
        /// Score thresholds for "rounds to reach" (repeatable).
        #[arg(long = "threshold")]
        thresholds: Vec<f64>,
        /// The arm every other is compared with, seed by seed (default: `full`, else the first).
        #[arg(long)]
        reference_arm: Option<String>,
    },
    /// Evaluate one program with a suite's evaluator and print the results
    /// (exit 0 valid, 1 invalid or failed, 2 could not evaluate).
    Evaluate {
        suite: String,
        program: PathBuf,
        /// Working directory for the evaluation: a folder that does not exist yet or is empty,
        /// kept afterwards (default: a temporary one, removed afterwards). A folder with anything
        /// in it is refused, so nothing of the user's is ever overwritten or deleted.
        #[arg(long)]
        workdir: Option<PathBuf>,
        /// Keep the temporary working directory (without --workdir).
        #[arg(long)]
        keep: bool,
    },
    /// Validate and score a circle packing at zero tolerance; used by the circle-packing suites
    /// (exit 0 valid, 1 invalid, 2 could not read or write).
    ValidatePacking {
        /// Number of circles the packing must have.
        #[arg(long, value_parser = clap::value_parser!(u64).range(1..))]
        n: u64,
        /// packing.json: {"centers": [[x, y], ...], "radii": [...], "reported_sum": s}.
        packing: PathBuf,
        /// Where to write the results (default: stdout).
        #[arg(long)]
        results: Option<PathBuf>,
    },
    /// Re-evaluate recorded designs (designs.toml); exit 1 if any scores below its record.
    Verify {
        designs: PathBuf,
        /// Also write a JUnit XML report to this file.
        #[arg(long)]
        junit: Option<PathBuf>,
    },
    /// Re-evaluate the seed and the best valid nodes of a campaign at another scale of the same
    /// task, and report how their ranking carries over (the campaign's own database is not touched).
    Promote {
        run_dir: PathBuf,
        /// The other scale's suite (a name under suites/ or a suite folder).
        #[arg(long)]
        to: String,
        /// How many of the best valid nodes besides the seed.
        #[arg(long, default_value_t = 5)]
        top: usize,
        /// Evaluation seeds at the other scale (`ASI_EVOLVE_SEED`): a range (0..3) or a list.
        #[arg(long, default_value = "0")]
        seeds: String,
        /// Where results go (default: `<run-dir>/promote/<suite>`).
        #[arg(long)]
        out: Option<PathBuf>,
    },
    /// Inside a Slurm job: run one evaluator stage and record how it ended (the slurm executor's launcher).
    #[command(hide = true)]
    SlurmStage {
        #[arg(long)]
        status: PathBuf,
        #[command(flatten)]
        limits: StageLimits,
        #[arg(required = true, last = true)]
        command: Vec<String>,
    },
}

#[derive(clap::Args)]
struct StageLimits {
    #[arg(long)]
    address_space_mb: Option<u64>,
    #[arg(long)]
    cpu_seconds: Option<u64>,
    #[arg(long)]
    file_size_mb: Option<u64>,
    #[arg(long)]
    open_files: Option<u64>,
}

fn main() -> ExitCode {
    // A closed pipe (`asi-evolve show run | head`) ends the program quietly, as for other
    // command-line tools; sockets are unaffected (Rust sends with MSG_NOSIGNAL).
    // SAFETY: setting a signal's disposition to the default before any thread starts.
    unsafe {
        libc::signal(libc::SIGPIPE, libc::SIG_DFL);
    }
    match run(Cli::parse()) {
        Ok(code) => code,
        Err(e) => {
            eprintln!("error: {}", describe(&e));
            ExitCode::from(cli::COULD_NOT_RUN)
        }
    }
}

/// The error and its causes, leaving out a cause whose text a message already carries (most
/// library errors name their source in their own message).
fn describe(e: &anyhow::Error) -> String {
    let mut message = e.to_string();
    for cause in e.chain().skip(1) {
        let text = cause.to_string();
        if !message.contains(&text) {
            message = format!("{message}: {text}");
        }
    }
    message
}

fn run(cli: Cli) -> Result<ExitCode> {
    match cli.command {
        Command::Run { resume: Some(run_dir), workers, .. } => {
            let bin = std::env::current_exe().context("cannot locate the asi-evolve executable")?;
            finish_campaign(Campaign::resume(&run_dir, bin, workers)?)
        }
        Command::Run { resume: None, suite, config, rounds, seed, workers, sampler, out, llm } => {
            if suite.is_none() && config.is_none() {
                bail!("name a suite (e.g. `asi-evolve run circle-packing`) or pass --config");
            }
            let mut c = config_layers::load(config.as_deref(), suite.as_deref())?;
            c.rounds = rounds.unwrap_or(c.rounds);
            c.seed = seed.unwrap_or(c.seed);
            c.workers = workers.unwrap_or(c.workers);
            c.out = out.or(c.out);
            if let Some(kind) = sampler {
                c.sampler.set_kind(kind);
            }
            if let Some(source) = llm {
                let Some(path) = source.strip_prefix("replay:") else {
                    bail!("--llm takes `replay:<run-dir-or-db>`; endpoints are configured in the config file");
                };
                c.replay = Some(PathBuf::from(path));
            }
            run_campaign(c)
        }
        Command::Show { run_dir } => {
            print!("{}", asi_evolve_reports::show(&run_dir)?);
            Ok(ExitCode::SUCCESS)
        }
        Command::Rerun { run_dir, out } => rerun(&run_dir, out),
        Command::Ablate { suite, arms, seeds, rounds, parallel, config, out } => {
            let mut base = config_layers::load(config.as_deref(), Some(&suite))?;
            base.rounds = rounds.unwrap_or(base.rounds);
            base.validate()?;
            let arms = arms.split(',').map(ablation::Arm::parse).collect::<Result<Vec<_>, _>>()?;
            ablation::check_distinct(&base, &arms)?;
            let seeds = ablation::parse_seeds(&seeds)?;
            ablate(&base, &arms, &seeds, &out, parallel)
        }
        Command::Report { runs, out, thresholds, reference_arm } => {
            let runs = collect_runs(&runs)?;
            let options = asi_evolve_reports::ReportOptions { thresholds, reference_arm, ..Default::default() };
            let summary = asi_evolve_reports::report(&runs, &out, &options)?;
            println!("report of {} campaigns in {}:", runs.len(), out.display());
            for file in &summary.files {
                println!("  {}", file.display());
            }
            Ok(ExitCode::SUCCESS)
        }
        Command::Evaluate { suite, program, workdir, keep } => evaluate(&suite, &program, workdir, keep),
        Command::Verify { designs, junit } => cli::verify::run(&designs, junit.as_deref()),
        Command::Promote { run_dir, to, top, seeds, out } => promote(&run_dir, &to, top, &seeds, out),
        Command::SlurmStage { status, limits: l, command } => {
            let limits = asi_evolve::suite::Limits {
                address_space_mb: l.address_space_mb,
                cpu_seconds: l.cpu_seconds,
                file_size_mb: l.file_size_mb,
                open_files: l.open_files,
            };
            let code =
                asi_evolve::engineer::executor::slurm::launch::run_stage(&status, &limits, &command[0], &command[1..]);
            Ok(ExitCode::from(code.clamp(0, 255) as u8))
        }
        Command::ValidatePacking { n, packing, results } => validate_packing(n as usize, &packing, results.as_deref()),
    }
}

fn run_campaign(config: CampaignConfig) -> Result<ExitCode> {
    let bin = std::env::current_exe().context("cannot locate the asi-evolve executable")?;
    finish_campaign(Campaign::create(config, bin)?)
}

fn finish_campaign(campaign: Campaign) -> Result<ExitCode> {
    for warning in campaign.warnings() {
        eprintln!("warning: {warning}");
    }
    println!("researcher: {}", campaign.researcher_description());
    println!("run directory: {}", campaign.run_dir().display());
    if !std::io::stdout().is_terminal() {
        println!("running (progress is shown on a terminal only)");
    }
    let summary = campaign.run()?;
    let best = summary.best.map_or("no valid node".into(), |(id, s)| format!("{s:.10} (node #{id})"));
    let seed = summary.seed_score.map_or("invalid".into(), |s| format!("{s:.10}"));
    println!(
        "finished {} rounds in {:.1} s: best {best}, seed {seed}, {} failed or invalid",
        summary.rounds,
        summary.elapsed.as_secs_f64(),
        summary.failures
    );
    if summary.tokens > 0 || summary.cost_usd > 0.0 {
        println!("model usage: {} tokens, ${:.4}", summary.tokens, summary.cost_usd);
    }
    if let Some(reason) = &summary.stop_reason {
        println!("stopped early: {reason}");
    }
    println!("inspect it with: asi-evolve show {}", summary.run_dir.display());
    Ok(ExitCode::SUCCESS)
}

fn rerun(run_dir: &Path, out: Option<PathBuf>) -> Result<ExitCode> {
    let bin = std::env::current_exe().context("cannot locate the asi-evolve executable")?;
    let out = out.unwrap_or_else(|| {
        let stamp = chrono::Utc::now().format("%Y%m%d-%H%M%S");
        PathBuf::from(format!("{}-rerun-{stamp}", run_dir.display()))
    });
    let (summary, comparison) = campaign::rerun(run_dir, out, bin)?;
    println!(
        "rerun in {} ({} rounds, {:.1} s)",
        summary.run_dir.display(),
        summary.rounds,
        summary.elapsed.as_secs_f64()
    );
    match comparison {
        Comparison::Identical { nodes } => {
            println!("reproduced: all {nodes} nodes identical (every column but wall-clock timings)");
            Ok(ExitCode::SUCCESS)
        }
        Comparison::Differs { round, original, rerun } => {
            println!("NOT reproduced: node {round} differs");
            println!("  original: {}", original.as_deref().unwrap_or("(absent)"));
            println!("  rerun:    {}", rerun.as_deref().unwrap_or("(absent)"));
            Ok(cli::answer(false))
        }
    }
}

fn ablate(
    base: &CampaignConfig,
    arms: &[ablation::Arm],
    seeds: &[u64],
    out: &Path,
    parallel: usize,
) -> Result<ExitCode> {
    let bin = std::env::current_exe().context("cannot locate the asi-evolve executable")?;
    println!(
        "ablation: {} arms × {} seeds = {} campaigns in {}",
        arms.len(),
        seeds.len(),
        arms.len() * seeds.len(),
        out.display()
    );
    for arm in arms {
        let mut config = base.clone();
        arm.apply(&mut config);
        println!("  arm {:<20} runs {}", arm.label(), config.resolved_arm_label());
    }
    let cells = ablation::run(base, arms, seeds, out, parallel, &bin, |cell| {
        let what = match &cell.outcome {
            CellOutcome::Ran(s) => {
                format!("best {}", s.best.map_or("none".into(), |(id, score)| format!("{score:.10} (#{id})")))
            }
            CellOutcome::Skipped => "already finished, skipped".into(),
            CellOutcome::Failed(e) => format!("FAILED: {e}"),
        };
        println!("  {:<22} seed {:<3} {what}", cell.arm.label(), cell.seed);
    });
    let failed = cells.iter().filter(|c| matches!(c.outcome, CellOutcome::Failed(_))).count();
    println!("report it with: asi-evolve report {} --out {}", out.display(), out.join("report").display());
    Ok(cli::answer(failed == 0))
}

fn promote(run_dir: &Path, to: &str, top: usize, seeds: &str, out: Option<PathBuf>) -> Result<ExitCode> {
    let seeds = ablation::parse_seeds(seeds)?;
    let target = Suite::resolve(to)?;
    let out = out.unwrap_or_else(|| run_dir.join("promote").join(&target.name));
    let bin = std::env::current_exe().context("cannot locate the asi-evolve executable")?;
    println!("promoting the seed and the best {top} valid nodes of {} to {}", run_dir.display(), target.name);
    let promotion = asi_evolve::promote::promote(run_dir, target, top, &seeds, &out, &bin, |p, i| {
        let score = p.target_scores[i].map_or_else(
            || format!("not valid: {}", p.target_reasons[i].as_deref().unwrap_or("?")),
            |s| format!("{s:.6}"),
        );
        println!("  node #{:<5} seed {:<3} {score}", p.node, seeds[i]);
    })?;
    let rows: Vec<_> = promotion
        .nodes
        .iter()
        .map(|p| asi_evolve_reports::promotion::PromotionRow {
            node: p.node,
            name: p.name.clone(),
            is_seed: p.is_seed,
            source: p.source_score,
            target: p.target_mean(),
            reason: p.target_reasons.iter().flatten().next().cloned(),
        })
        .collect();
    let (md, files) = asi_evolve_reports::promotion::write(
        &rows,
        &promotion.source_suite,
        &promotion.target_suite,
        &promotion.seeds,
        &out,
    )?;
    println!("\n{md}");
    println!("written: {}", files.iter().map(|f| f.display().to_string()).collect::<Vec<_>>().join(", "));
    Ok(ExitCode::SUCCESS)
}

/// Run directories named directly, or found up to three folders below a named folder.
fn collect_runs(paths: &[PathBuf]) -> Result<Vec<PathBuf>> {
    fn walk(dir: &Path, depth: usize, out: &mut Vec<PathBuf>) {
        if dir.join(asi_evolve_store::layout::DB_FILE).is_file() {
            out.push(dir.to_owned());
            return;
        }
        if depth == 0 {
            return;
        }
        let Ok(entries) = std::fs::read_dir(dir) else { return };
        let mut dirs: Vec<PathBuf> = entries.filter_map(|e| e.ok().map(|e| e.path())).filter(|p| p.is_dir()).collect();
        dirs.sort();
        for d in dirs {
            walk(&d, depth - 1, out);
        }
    }
    let mut runs = Vec::new();
    for path in paths {
        let before = runs.len();
        walk(path, 3, &mut runs);
        if runs.len() == before {
            bail!("{} holds no campaign (no campaign.db in it or up to three folders below)", path.display());
        }
    }
    Ok(runs)
}

fn evaluate(suite: &str, program: &PathBuf, workdir: Option<PathBuf>, keep: bool) -> Result<ExitCode> {
    let suite = Suite::resolve(suite)?;
    let code =
        std::fs::read_to_string(program).with_context(|| format!("cannot read program {}", program.display()))?;
    let bin = std::env::current_exe().context("cannot locate the asi-evolve executable")?;
    let engineer = Engineer::new(suite, bin, None, 64 * 1024);
    let (dir, temporary) = match workdir {
        Some(dir) => {
            refuse_non_empty(&dir)?;
            (dir, None)
        }
        None => {
            let t = tempfile::Builder::new()
                .prefix("asi-evolve-evaluate-")
                .tempdir()
                .context("cannot create a temporary folder")?;
            // The engineer makes the folder it evaluates in; it is given one that does not exist yet.
            (t.path().join("node"), Some(t))
        }
    };
    let e = engineer.evaluate(&code, &dir, 0);
    match temporary {
        Some(t) if keep => eprintln!("evaluated in {}", t.keep().join("node").display()),
        Some(t) => {
            eprintln!("evaluated in {} (removed; --keep keeps it)", dir.display());
            drop(t);
        }
        None => eprintln!("evaluated in {}", dir.display()),
    }
    let report = serde_json::json!({
        "status": e.status.as_str(),
        "failure": e.failure.map(|f| f.as_str()),
        "reason": e.reason,
        "score": e.score,
        "metrics": e.metrics,
        "feedback": e.feedback,
        "seconds": e.seconds,
    });
    println!("{}", serde_json::to_string_pretty(&report)?);
    Ok(cli::answer(e.status == Status::Valid))
}

/// `--workdir` may name a folder that does not exist yet or is empty: the evaluation empties the
/// folder it runs in, and nothing the user put there may be lost.
fn refuse_non_empty(dir: &Path) -> Result<()> {
    match std::fs::read_dir(dir) {
        Ok(mut entries) => {
            if let Some(entry) = entries.next() {
                let name = entry.map_or_else(|_| "?".into(), |e| e.file_name().to_string_lossy().into_owned());
                bail!(
                    "--workdir {} is not empty (it holds `{name}`): name a new or empty folder; nothing in it was touched",
                    dir.display()
                );
            }
            Ok(())
        }
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
        Err(e) if e.kind() == std::io::ErrorKind::NotADirectory => {
            bail!("--workdir {} is a file, not a folder: name a new or empty folder", dir.display())
        }
        Err(e) => Err(e).with_context(|| format!("cannot read --workdir {}", dir.display())),
    }
}

/// `validate-packing`: the results go to `results` (or stdout) whatever the verdict, and the exit
/// status says it, as for `evaluate`.
fn validate_packing(n: usize, packing: &Path, results: Option<&Path>) -> Result<ExitCode> {
    let text =
        std::fs::read_to_string(packing).with_context(|| format!("cannot read packing file {}", packing.display()))?;
    let name = packing.file_name().map_or_else(|| packing.display().to_string(), |f| f.to_string_lossy().into_owned());
    let evaluation = asi_evolve_packing_judge::evaluate_file(&text, n, &name);
    let json = serde_json::to_string_pretty(&evaluation)?;
    match results {
        Some(path) => {
            std::fs::write(path, json + "\n").with_context(|| format!("cannot write results to {}", path.display()))?
        }
        None => println!("{json}"),
    }
    Ok(cli::answer(evaluation.valid))
}
