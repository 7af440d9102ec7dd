//! Slurm's command-line tools, the only way the harness talks to Slurm: `sbatch --parsable`,
//! `squeue`, `scontrol show job -o` and `scancel`. No `sacct` (clusters without accounting
//! exist) and no `sbatch --wait` (it polls at 2, 8, 32 s).

use std::collections::HashMap;
use std::path::Path;
use std::process::{Command, Output, Stdio};

pub(super) type JobId = u64;

fn output(program: &str, args: &[String]) -> Result<Output, String> {
    Command::new(program)
        .args(args)
        .stdin(Stdio::null())
        .output()
        .map_err(|e| format!("cannot run `{program}` (is Slurm's client installed and on PATH?): {e}"))
}

fn failure(program: &str, out: &Output) -> String {
    let said = String::from_utf8_lossy(&out.stderr).trim().to_owned();
    format!("`{program}` failed ({}): {}", out.status, if said.is_empty() { "no message" } else { &said })
}

/// Submits `script` with `options`; the job's id.
pub(super) fn sbatch(options: &[String], script: &Path) -> Result<JobId, String> {
    let mut args = vec!["--parsable".to_owned()];
    args.extend(options.iter().cloned());
    args.push(script.to_string_lossy().into_owned());
    let out = output("sbatch", &args)?;
    if !out.status.success() {
        return Err(failure("sbatch", &out));
    }
    let text = String::from_utf8_lossy(&out.stdout);
    parse_parsable(&text).ok_or_else(|| format!("`sbatch --parsable` printed no job id: {text:?}"))
}

/// `--parsable` prints `id` or `id;cluster`.
pub(super) fn parse_parsable(text: &str) -> Option<JobId> {
    text.trim().split(';').next()?.trim().parse().ok()
}

/// One `squeue` line: id, state, reason.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct Queued {
    pub id: JobId,
    pub state: String,
    pub reason: String,
}

/// The state of each of `ids` that Slurm still knows, finished jobs included. Ids it has
/// forgotten are absent.
pub(super) fn squeue(ids: &[JobId]) -> Result<Vec<Queued>, String> {
    let list = ids.iter().map(JobId::to_string).collect::<Vec<_>>().join(",");
    let args = ["-h", "-t", "all", "-j", &list, "-o", "%i|%T|%r"].map(str::to_owned);
    let out = output("squeue", &args)?;
    if !out.status.success() {
        // Every id forgotten: squeue says so and fails.
        if String::from_utf8_lossy(&out.stderr).contains("Invalid job id") {
            return Ok(Vec::new());
        }
        return Err(failure("squeue", &out));
    }
    Ok(parse_squeue(&String::from_utf8_lossy(&out.stdout)))
}

pub(super) fn parse_squeue(text: &str) -> Vec<Queued> {
    text.lines()
        .filter_map(|line| {
            let mut parts = line.trim().splitn(3, '|');
            let id = parts.next()?.trim().parse().ok()?;
            let state = parts.next()?.trim().to_owned();
            let reason = parts.next().unwrap_or("").trim().to_owned();
            Some(Queued { id, state, reason })
        })
        .collect()
}

/// Ids of the jobs named `name` that are queued or running.
pub(super) fn active_named(name: &str) -> Result<Vec<JobId>, String> {
    let args =
        ["-h", "-n", name, "-t", "PENDING,RUNNING,SUSPENDED,COMPLETING,CONFIGURING", "-o", "%i"].map(str::to_owned);
    let out = output("squeue", &args)?;
    if !out.status.success() {
        return Err(failure("squeue", &out));
    }
    Ok(String::from_utf8_lossy(&out.stdout).lines().filter_map(|l| l.trim().parse().ok()).collect())
}

/// `scontrol show job -o ID` as key/value pairs; `None` if Slurm no longer knows the job.
pub(super) fn show_job(id: JobId) -> Option<HashMap<String, String>> {
    let out = output("scontrol", &["show".into(), "job".into(), "-o".into(), id.to_string()]).ok()?;
    out.status.success().then(|| parse_show_job(&String::from_utf8_lossy(&out.stdout)))
}

/// `Key=Value Key=Value …` on one line. Only the values read here (JobState, Reason, ExitCode)
/// matter, and none of them holds a space.
pub(super) fn parse_show_job(text: &str) -> HashMap<String, String> {
    text.split_whitespace().filter_map(|word| word.split_once('=')).map(|(k, v)| (k.to_owned(), v.to_owned())).collect()
}

/// Cancels the jobs `ids`; Slurm's complaint if it refused.
pub(super) fn scancel(ids: &[JobId]) -> Result<(), String> {
    if ids.is_empty() {
        return Ok(());
    }
    let out = output("scancel", &ids.iter().map(JobId::to_string).collect::<Vec<_>>())?;
    // A job that already ended is not an error worth reporting.
    if out.status.success() || String::from_utf8_lossy(&out.stderr).contains("already completing or completed") {
        Ok(())
    } else {
        Err(failure("scancel", &out))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_what_the_tools_print() {
        assert_eq!(parse_parsable("1234\n"), Some(1234));
        assert_eq!(parse_parsable("77;cluster-a\n"), Some(77));
        assert_eq!(parse_parsable("Submitted batch job 5\n"), None);
        assert_eq!(
            parse_squeue("12|RUNNING|None\n13|PENDING|Resources\nnoise\n"),
            vec![
                Queued { id: 12, state: "RUNNING".into(), reason: "None".into() },
                Queued { id: 13, state: "PENDING".into(), reason: "Resources".into() },
            ]
        );
        let job = parse_show_job("JobId=3 JobName=x JobState=FAILED Reason=JobLaunchFailure ExitCode=0:9 Power=\n");
        assert_eq!((job["JobState"].as_str(), job["ExitCode"].as_str()), ("FAILED", "0:9"));
        assert_eq!(job["Power"], "");
    }
}
