//! What a Slurm job state means for a stage: still queued, started, or ended — and how it
//! ended. Pure, so every state is tested without a cluster.

use crate::engineer::executor::Exit;

/// Where a job stands, as far as the harness's clocks are concerned.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Phase {
    /// Not started yet: counts against `max_pending_s`, not against the stage's timeout.
    Queued,
    /// Started (or being torn down): counts against the stage's timeout.
    Started,
    /// Ended; its processes are gone.
    Ended,
}

/// The phase of a `squeue` `%T` state. An unknown state counts as started, so the stage's
/// timeout still bounds it.
pub(crate) fn phase(state: &str) -> Phase {
    match state {
        "PENDING" | "CONFIGURING" | "REQUEUED" | "REQUEUE_HOLD" | "REQUEUE_FED" | "RESV_DEL_HOLD" => Phase::Queued,
        "RUNNING" | "COMPLETING" | "SUSPENDED" | "SIGNALING" | "STAGE_OUT" | "RESIZING" | "STOPPED" => Phase::Started,
        "COMPLETED" | "FAILED" | "TIMEOUT" | "CANCELLED" | "NODE_FAIL" | "PREEMPTED" | "OUT_OF_MEMORY"
        | "BOOT_FAIL" | "DEADLINE" | "REVOKED" | "SPECIAL_EXIT" => Phase::Ended,
        // Our own marker for a job Slurm no longer knows (purged after MinJobAge).
        VANISHED => Phase::Ended,
        _ => Phase::Started,
    }
}

/// The state recorded for a job that disappeared from `squeue` without being seen to end.
pub(crate) const VANISHED: &str = "VANISHED";

/// Why the harness cancelled a job, if it did.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Cancelled {
    /// It ran past the stage's timeout.
    Timeout,
    /// It stayed queued longer than `max_pending_s`; Slurm's pending reason.
    Pending { limit_s: f64, slurm_reason: String },
}

/// What the ended job left: its final state, Slurm's reason and exit code (`scontrol`), the
/// command's own exit (`slurm.stage<i>.status`, written by the launcher inside the job) and
/// the job's stderr, where `slurmstepd` reports what it killed.
#[derive(Debug, Clone, Default)]
pub(crate) struct Ending<'a> {
    pub state: &'a str,
    pub reason: &'a str,
    pub exit_code: &'a str,
    pub status: Option<&'a str>,
    pub stderr: &'a str,
}

/// How the stage ended.
pub(crate) fn outcome(ending: &Ending<'_>, cancelled: Option<&Cancelled>) -> Exit {
    match cancelled {
        Some(Cancelled::Timeout) => return Exit::TimedOut,
        Some(Cancelled::Pending { limit_s, slurm_reason }) => {
            return Exit::Lost(format!(
                "the Slurm job was still PENDING after {limit_s:.0} s (max_pending_s; Slurm's reason: {slurm_reason}) and was cancelled"
            ));
        }
        None => {}
    }
    let reason = match ending.reason {
        "" | "None" => String::new(),
        r => format!(" (Slurm's reason: {r})"),
    };
    let memory = ending.stderr.lines().rev().find(|l| l.contains("memory limit")).map(str::trim);
    match ending.state {
        "TIMEOUT" => Exit::TimedOut,
        "COMPLETED" | "FAILED" if ending.status.and_then(parse_status).is_some() => {
            ending.status.and_then(parse_status).expect("checked")
        }
        "OUT_OF_MEMORY" => Exit::Lost(format!("the Slurm job ended OUT_OF_MEMORY: it exceeded its memory{reason}")),
        "FAILED" if memory.is_some() => Exit::Lost(format!(
            "the Slurm job ended FAILED: Slurm killed it for exceeding its memory limit ({}){reason}",
            memory.expect("checked")
        )),
        "CANCELLED" => {
            Exit::Lost(format!("the Slurm job was CANCELLED, not by the harness (by hand or by the cluster){reason}"))
        }
        "NODE_FAIL" => Exit::Lost(format!("the Slurm job ended NODE_FAIL: its node failed{reason}")),
        "PREEMPTED" => {
            Exit::Lost(format!("the Slurm job was PREEMPTED by a higher-priority job and is not resubmitted{reason}"))
        }
        VANISHED => Exit::Lost(
            "the Slurm job disappeared from squeue before it was seen to end, and left no exit status".into(),
        ),
        state => Exit::Lost(format!(
            "the Slurm job ended {state} before the command finished (exit code {}){reason}",
            if ending.exit_code.is_empty() { "unknown" } else { ending.exit_code }
        )),
    }
}

/// The launcher's status file: `code N` or `signal N`.
pub(crate) fn parse_status(text: &str) -> Option<Exit> {
    let mut words = text.split_whitespace();
    let kind = words.next()?;
    let n: i32 = words.next()?.parse().ok()?;
    match kind {
        "code" => Some(Exit::Code(n)),
        "signal" => Some(Exit::Signal(n)),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ended(state: &str) -> Ending<'_> {
        Ending { state, reason: "None", exit_code: "0:9", ..Default::default() }
    }

    fn lost(exit: Exit) -> String {
        match exit {
            Exit::Lost(why) => why,
            other => panic!("not lost: {other:?}"),
        }
    }

    #[test]
    fn phases() {
        assert_eq!(phase("PENDING"), Phase::Queued);
        assert_eq!(phase("RUNNING"), Phase::Started);
        assert_eq!(phase("COMPLETING"), Phase::Started, "its processes may still run");
        assert_eq!(phase("COMPLETED"), Phase::Ended);
        assert_eq!(phase(VANISHED), Phase::Ended);
        assert_eq!(phase("SOMETHING_NEW"), Phase::Started);
    }

    #[test]
    fn the_command_status_decides_a_job_that_ran_to_its_end() {
        let e = Ending { status: Some("code 3\n"), ..ended("FAILED") };
        assert_eq!(outcome(&e, None), Exit::Code(3));
        let e = Ending { status: Some("signal 9\n"), ..ended("COMPLETED") };
        assert_eq!(outcome(&e, None), Exit::Signal(9));
        let e = Ending { status: Some("code 0"), ..ended("COMPLETED") };
        assert_eq!(outcome(&e, None), Exit::Code(0));
    }

    #[test]
    fn slurm_faults_name_the_state() {
        assert_eq!(outcome(&ended("TIMEOUT"), None), Exit::TimedOut);
        for state in ["CANCELLED", "NODE_FAIL", "OUT_OF_MEMORY", "PREEMPTED", "BOOT_FAIL", "DEADLINE"] {
            let why = lost(outcome(&ended(state), None));
            assert!(why.contains(state), "{state}: {why}");
        }
        let why = lost(outcome(&ended("FAILED"), None));
        assert!(why.contains("FAILED") && why.contains("0:9"), "{why}");
        let oom = Ending {
            stderr: "slurmstepd-vm: error: Exceeded job memory limit\nslurmstepd-vm: error: *** JOB 3 CANCELLED ***\n",
            ..ended("FAILED")
        };
        let why = lost(outcome(&oom, None));
        assert!(why.contains("FAILED") && why.contains("memory limit"), "{why}");
        let reasoned = Ending { reason: "NodeDown", ..ended("NODE_FAIL") };
        assert!(lost(outcome(&reasoned, None)).contains("NodeDown"));
    }

    #[test]
    fn what_the_harness_cancelled_is_reported_as_why_it_did() {
        assert_eq!(outcome(&ended("CANCELLED"), Some(&Cancelled::Timeout)), Exit::TimedOut);
        let pending = Cancelled::Pending { limit_s: 60.0, slurm_reason: "Resources".into() };
        let why = lost(outcome(&ended("CANCELLED"), Some(&pending)));
        assert!(why.contains("PENDING") && why.contains("60 s") && why.contains("Resources"), "{why}");
    }

    #[test]
    fn status_files() {
        assert_eq!(parse_status("code 0\n"), Some(Exit::Code(0)));
        assert_eq!(parse_status("signal 15"), Some(Exit::Signal(15)));
        assert_eq!(parse_status(""), None);
        assert_eq!(parse_status("code x"), None);
        assert_eq!(parse_status("exit 1"), None);
    }
}
