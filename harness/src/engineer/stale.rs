//! `<workdir>/evaluator.pgid`: the process group of the evaluator running in a node's folder.
//! It is written just after the spawn (a controller killed within that instant leaves no
//! record) and emptied once the group is dead, so a controller that was killed outright
//! (SIGKILL, power loss) leaves it filled, and whoever resumes the campaign can kill the
//! evaluator's orphaned processes with `kill_stale_group`. An empty file is no record.
//!
//! Written in place with one small write, and emptied rather than removed: a file created and
//! deleted per evaluation leaves ext4 (without a journal) thousands of recently deleted inodes,
//! which it scans past on every file it creates afterwards, so every round's files cost more
//! the longer the campaign ran. A few bytes in one write(2) cannot be left half written by a
//! killed controller.
//!
//! Pid reuse: the file holds the group id and the start time of its leader. A group is killed
//! only if its leader is the same process (same start time), or if the leader is gone and
//! processes of that group remain. The second case has one blind spot: were the group id
//! reused by a new group whose own leader has also exited, that group would be killed. That
//! takes the pid space wrapping around while the controller was down, and is accepted.

use std::path::Path;
use std::thread;
use std::time::Duration;

pub use asi_evolve_store::layout::PGID_FILE;

/// How long a group killed with SIGKILL gets to disappear before the file goes anyway: by
/// then no member can run user code again, whatever state the kernel still shows.
const DEATH_WAIT: Duration = Duration::from_secs(1);

/// Records `pgid` and the start time of its leader.
pub(super) fn record(workdir: &Path, pgid: i32) -> std::io::Result<()> {
    let start = start_time(pgid).map_or_else(String::new, |t| format!(" {t}"));
    std::fs::write(workdir.join(PGID_FILE), format!("{pgid}{start}\n"))
}

/// Waits (briefly) until no live process of the killed group `pgid` remains, then empties the
/// record.
pub(super) fn clear(workdir: &Path, pgid: i32) {
    wait_until_gone(pgid);
    std::fs::OpenOptions::new().write(true).truncate(true).open(workdir.join(PGID_FILE)).ok();
}

/// Whether `workdir` holds the record of a group (an empty file holds none).
#[cfg(test)]
pub(crate) fn has_record(workdir: &Path) -> bool {
    std::fs::metadata(workdir.join(PGID_FILE)).is_ok_and(|m| m.len() > 0)
}

/// Kills (SIGKILL) the evaluator process group recorded in `workdir`, if it still runs, and
/// removes the record. Returns whether a group was killed. See the module notes on pid reuse.
pub fn kill_stale_group(workdir: &Path) -> bool {
    let path = workdir.join(PGID_FILE);
    let Ok(text) = std::fs::read_to_string(&path) else { return false };
    let mut words = text.split_whitespace();
    let pgid = words.next().and_then(|w| w.parse::<i32>().ok()).filter(|&p| p > 1);
    let recorded_start = words.next().and_then(|w| w.parse::<u64>().ok());
    let killed = match pgid {
        Some(pgid) if is_ours(pgid, recorded_start) => {
            // The group's leader is the evaluation's reaper: what left the group is below it.
            super::reaper::kill_tree(pgid);
            // SAFETY: killpg only sends a signal.
            unsafe { libc::killpg(pgid, libc::SIGKILL) };
            wait_until_gone(pgid);
            true
        }
        _ => false,
    };
    std::fs::remove_file(&path).ok();
    killed
}

fn is_ours(pgid: i32, recorded_start: Option<u64>) -> bool {
    match (start_time(pgid), recorded_start) {
        (Some(now), Some(then)) => now == then && group_of(pgid) == Some(pgid),
        (Some(_), None) => group_of(pgid) == Some(pgid),
        (None, _) => !live_members(pgid).is_empty(),
    }
}

fn wait_until_gone(pgid: i32) {
    let step = Duration::from_millis(10);
    let mut waited = Duration::ZERO;
    while waited < DEATH_WAIT && !group_is_empty(pgid) && !live_members(pgid).is_empty() {
        thread::sleep(step);
        waited += step;
    }
}

/// Fields of `/proc/<pid>/stat` after the command name: index 0 is the state (field 3).
fn stat_fields(pid: i32) -> Option<Vec<String>> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    Some(stat.rsplit_once(')')?.1.split_whitespace().map(str::to_owned).collect())
}

/// The start time (clock ticks since boot, field 22) of a live, non-zombie process.
fn start_time(pid: i32) -> Option<u64> {
    let fields = stat_fields(pid)?;
    if fields.first().map(String::as_str) == Some("Z") {
        return None;
    }
    fields.get(19)?.parse().ok()
}

fn group_of(pid: i32) -> Option<i32> {
    stat_fields(pid)?.get(2)?.parse().ok()
}

/// True when no process at all, not even a zombie, is in group `pgid`: the usual case once an
/// evaluation's group was killed and reaped, answered by one system call instead of a scan of
/// every process (`live_members`, which also sees through zombies).
fn group_is_empty(pgid: i32) -> bool {
    // SAFETY: signal 0 sends nothing; it only asks whether the group has a member.
    unsafe { libc::killpg(pgid, 0) != 0 && *libc::__errno_location() == libc::ESRCH }
}

/// Live (non-zombie) processes whose process group is `pgid`. Zombies are skipped: they run
/// nothing, and an orphan's zombie may wait long for a reaper in a container.
fn live_members(pgid: i32) -> Vec<i32> {
    let Ok(entries) = std::fs::read_dir("/proc") else { return Vec::new() };
    entries
        .filter_map(|e| e.ok()?.file_name().to_str()?.parse::<i32>().ok())
        .filter(|&pid| {
            stat_fields(pid).is_some_and(|f| {
                f.first().map(String::as_str) != Some("Z") && f.get(2).and_then(|g| g.parse().ok()) == Some(pgid)
            })
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use std::os::unix::process::CommandExt;
    use std::process::Command;

    use super::*;

    fn alive(pid: i32) -> bool {
        start_time(pid).is_some()
    }

    #[test]
    fn an_empty_group_is_told_apart_by_one_call_as_the_scan_tells_it() {
        let mut leader = Command::new("sleep").arg("300").process_group(0).spawn().unwrap();
        let pgid = leader.id() as i32;
        assert!(!group_is_empty(pgid) && !live_members(pgid).is_empty());
        // SAFETY: kill only sends a signal to our own child.
        unsafe { libc::kill(pgid, libc::SIGKILL) };
        while start_time(pgid).is_some() {
            thread::sleep(Duration::from_millis(5));
        }
        // A zombie is still a member: the fast check says "not empty" and the scan decides.
        assert!(!group_is_empty(pgid) && live_members(pgid).is_empty());
        leader.wait().unwrap();
        assert!(group_is_empty(pgid) && live_members(pgid).is_empty());
    }

    #[test]
    fn a_recorded_group_is_killed_and_forgotten() {
        let dir = tempfile::tempdir().unwrap();
        let mut leader = Command::new("bash").args(["-c", "sleep 300 & wait"]).process_group(0).spawn().unwrap();
        let pgid = leader.id() as i32;
        record(dir.path(), pgid).unwrap();
        let text = std::fs::read_to_string(dir.path().join(PGID_FILE)).unwrap();
        assert_eq!(text.split_whitespace().count(), 2, "{text}");
        assert!(kill_stale_group(dir.path()));
        leader.wait().unwrap();
        assert!(live_members(pgid).is_empty());
        assert!(!dir.path().join(PGID_FILE).exists());
        assert!(!kill_stale_group(dir.path()), "nothing left to kill");
    }

    #[test]
    fn a_reused_pid_is_left_alone() {
        let dir = tempfile::tempdir().unwrap();
        let mut other = Command::new("sleep").arg("300").process_group(0).spawn().unwrap();
        let pid = other.id() as i32;
        let start = start_time(pid).unwrap();
        std::fs::write(dir.path().join(PGID_FILE), format!("{pid} {}\n", start + 1)).unwrap();
        assert!(!kill_stale_group(dir.path()));
        assert!(alive(pid));
        assert!(!dir.path().join(PGID_FILE).exists());
        other.kill().unwrap();
        other.wait().unwrap();
    }
}
