//! Evaluators may write only into their node's folder and a private temporary folder: the
//! suite folder (whose content hash `--resume` and `rerun` check), the run directory's other
//! nodes, the user's home and the rest of the file system are read-only to them.
//!
//! Enforced with Landlock (Linux 5.13+ with `landlock` among the active security modules):
//! the rules are built in the controller and applied between fork and exec, so they bind the
//! evaluator and everything it starts, and cannot be lifted from inside. Only write-type
//! rights are restricted — reading, executing and device ioctls (GPU drivers) are left alone —
//! and `/dev` stays writable for `/dev/null` and shared-memory semaphores. On a kernel without
//! Landlock evaluations run unconfined, exactly as before: `status()` says so, the campaign
//! prints a warning and stores it in its manifest (`evaluator_confinement`).

use std::path::{Path, PathBuf};
use std::sync::OnceLock;

use landlock::{
    ABI, AccessFs, CompatLevel, Compatible, Ruleset, RulesetAttr, RulesetCreated, RulesetCreatedAttr,
    path_beneath_rules,
};

/// The newest Landlock ABI whose write rights are restricted (V3 adds truncation). Later ABIs
/// add device ioctls and Unix-socket resolution, which evaluators keep.
const HANDLED_ABI: ABI = ABI::V3;
/// Written to besides the node's folders: device files (`/dev/null`) and POSIX shared memory.
const DEVICE_DIRS: &[&str] = &["/dev", "/dev/shm"];

/// Whether this kernel can confine evaluators.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Support {
    Landlock { abi: i32 },
    Unavailable { why: String },
}

impl Support {
    pub fn describe(&self) -> String {
        match self {
            Self::Landlock { abi } => {
                format!("landlock (ABI {abi}): writes only into the node folder and a private temporary folder")
            }
            Self::Unavailable { why } => format!("none: {why}; evaluators can write wherever the user can"),
        }
    }
}

/// Probes the kernel once per process.
pub fn status() -> &'static Support {
    static SUPPORT: OnceLock<Support> = OnceLock::new();
    SUPPORT.get_or_init(|| {
        const LANDLOCK_CREATE_RULESET_VERSION: libc::c_uint = 1;
        // SAFETY: with this flag the call only returns the ABI version; no memory is passed.
        let abi = unsafe {
            libc::syscall(
                libc::SYS_landlock_create_ruleset,
                std::ptr::null::<libc::c_void>(),
                0usize,
                LANDLOCK_CREATE_RULESET_VERSION,
            )
        };
        if abi >= 1 {
            return Support::Landlock { abi: abi as i32 };
        }
        let why = match std::io::Error::last_os_error().raw_os_error() {
            Some(libc::ENOSYS) => "this kernel has no Landlock (it needs Linux 5.13 or newer)".to_owned(),
            Some(libc::EOPNOTSUPP) => {
                "Landlock is built into this kernel but not enabled (add `landlock` to the lsm= boot parameter)"
                    .to_owned()
            }
            other => format!("Landlock is unavailable (error {other:?})"),
        };
        Support::Unavailable { why }
    })
}

/// A warning for the user when evaluators cannot be confined here.
pub fn warning() -> Option<String> {
    match status() {
        Support::Landlock { .. } => None,
        Support::Unavailable { why } => Some(format!("evaluators are not confined to their node folder: {why}")),
    }
}

/// A ruleset ready to apply in the child; `None` where the kernel has no Landlock.
pub fn rules(writable: &[PathBuf]) -> std::io::Result<Option<RulesetCreated>> {
    if !matches!(status(), Support::Landlock { .. }) {
        return Ok(None);
    }
    let build = || -> Result<RulesetCreated, landlock::RulesetError> {
        let write = AccessFs::from_write(HANDLED_ABI);
        let device = AccessFs::WriteFile | AccessFs::Truncate;
        Ruleset::default()
            .set_compatibility(CompatLevel::BestEffort)
            .handle_access(write)?
            .create()?
            .add_rules(path_beneath_rules(writable, write))?
            .add_rules(path_beneath_rules(&DEVICE_DIRS[..1], device))?
            .add_rules(path_beneath_rules(&DEVICE_DIRS[1..], write))
    };
    build().map(Some).map_err(std::io::Error::other)
}

/// Applies `rules` to the calling process. Runs between fork and exec: no allocation, even on
/// failure.
pub fn apply(rules: &mut Option<RulesetCreated>) -> std::io::Result<()> {
    match rules.take() {
        Some(r) => r.restrict_self().map(drop).map_err(|_| std::io::Error::from_raw_os_error(libc::EPERM)),
        None => Ok(()),
    }
}

/// A private temporary folder for one evaluation (its `TMPDIR`), removed when dropped.
pub struct Scratch(tempfile::TempDir);

impl Scratch {
    pub fn new() -> std::io::Result<Self> {
        tempfile::Builder::new().prefix("asi-evolve-eval-").tempdir().map(Self)
    }

    pub fn path(&self) -> &Path {
        self.0.path()
    }

    /// Removes everything in the folder; false when something could not be removed.
    fn empty(&self) -> bool {
        let Ok(entries) = std::fs::read_dir(self.path()) else { return false };
        entries.into_iter().all(|entry| {
            entry.is_ok_and(|e| match e.file_type() {
                Ok(t) if t.is_dir() => std::fs::remove_dir_all(e.path()).is_ok(),
                Ok(_) => std::fs::remove_file(e.path()).is_ok(),
                Err(_) => false,
            })
        })
    }
}

/// Scratch folders handed out one evaluation at a time and emptied when it ends: the same few
/// folders serve a whole campaign. Creating and deleting one per evaluation would leave the
/// file system thousands of recently deleted inodes, which ext4 (without a journal) scans past
/// on every file it creates afterwards: that cost grew with the campaign's length.
#[derive(Default)]
pub struct ScratchPool(std::sync::Mutex<Vec<Scratch>>);

impl ScratchPool {
    /// An empty folder no running evaluation has; back to the pool when the lease is dropped.
    pub fn lease(&self) -> std::io::Result<ScratchLease<'_>> {
        let reused = self.0.lock().expect("scratch pool lock").pop();
        let scratch = match reused {
            Some(s) => s,
            None => Scratch::new()?,
        };
        Ok(ScratchLease { pool: self, scratch: Some(scratch) })
    }
}

pub struct ScratchLease<'a> {
    pool: &'a ScratchPool,
    scratch: Option<Scratch>,
}

impl ScratchLease<'_> {
    pub fn path(&self) -> &Path {
        self.scratch.as_ref().expect("held until dropped").path()
    }
}

impl Drop for ScratchLease<'_> {
    /// Empties the folder for the next evaluation; one that cannot be emptied is deleted.
    fn drop(&mut self) {
        if let Some(scratch) = self.scratch.take()
            && scratch.empty()
        {
            self.pool.0.lock().expect("scratch pool lock").push(scratch);
        }
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use std::time::Duration;

    use super::super::sandbox::{Exit, RunSpec, run};
    use super::*;
    use crate::suite::Limits;

    /// True (and says SKIPPED, with the reason) where this kernel cannot confine; in CI (`CI`
    /// set), which exists to show that confinement works, the test fails instead.
    pub(crate) fn cannot_confine() -> bool {
        let unavailable = !matches!(status(), Support::Landlock { .. });
        if unavailable {
            assert!(
                std::env::var_os("CI").is_none(),
                "CI must confine evaluators, and cannot: {}",
                status().describe()
            );
            eprintln!("SKIPPED: {}", status().describe());
        }
        unavailable
    }

    #[test]
    fn this_machine_reports_whether_it_can_confine() {
        // Printed so the CI log says what the machine supports.
        eprintln!("evaluator confinement: {}", status().describe());
    }

    #[test]
    fn a_confined_command_writes_its_folders_and_is_refused_elsewhere() {
        if cannot_confine() {
            return;
        }
        let node = tempfile::tempdir().unwrap();
        let scratch = Scratch::new().unwrap();
        let outside = tempfile::tempdir().unwrap();
        std::fs::write(outside.path().join("kept"), "original").unwrap();
        let script = format!(
            "echo a > ok.txt && echo b > \"$TMPDIR/ok.txt\" && echo c > /dev/null || exit 10; \
             echo d > {o}/new.txt 2>/dev/null && exit 11; \
             echo e > {o}/kept 2>/dev/null && exit 12; \
             rm -f {o}/kept 2>/dev/null; mkdir {o}/dir 2>/dev/null && exit 13; exit 0",
            o = outside.path().display()
        );
        let spec = RunSpec {
            program: "bash".into(),
            args: vec!["-c".into(), script],
            cwd: node.path().to_owned(),
            env: vec![
                ("PATH".into(), std::env::var("PATH").unwrap_or_default()),
                ("TMPDIR".into(), scratch.path().display().to_string()),
            ],
            timeout: Duration::from_secs(20),
            output_cap: 4096,
            limits: Limits::default(),
            record_group_in: None,
            writable: vec![node.path().to_owned(), scratch.path().to_owned()],
        };
        let out = run(&spec).unwrap();
        assert_eq!(out.exit, Exit::Code(0), "{}", out.stderr.text());
        assert!(node.path().join("ok.txt").is_file() && scratch.path().join("ok.txt").is_file());
        assert_eq!(std::fs::read_to_string(outside.path().join("kept")).unwrap(), "original");
        let mut left: Vec<_> = std::fs::read_dir(outside.path()).unwrap().map(|e| e.unwrap().file_name()).collect();
        left.sort();
        assert_eq!(left, vec!["kept"]);
    }
}
