//! Resource limits (setrlimit) for the evaluator's processes. They are computed in the parent
//! and applied in the child between fork and exec, where only async-signal-safe calls are
//! allowed: `apply` makes nothing but setrlimit system calls on data prepared beforehand.

use crate::suite::Limits;

const MB: u64 = 1024 * 1024;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Resource {
    AddressSpace,
    Cpu,
    FileSize,
    OpenFiles,
}

/// The limits to set in the child, each clamped to the current hard limit (an unprivileged
/// process cannot raise it, and a failed setrlimit would fail the whole spawn).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(super) struct Prepared(Vec<(Resource, u64, u64)>);

impl Prepared {
    pub(super) fn new(limits: &Limits) -> Self {
        let wanted = [
            (Resource::AddressSpace, limits.address_space_mb.map(|mb| (mb.saturating_mul(MB), mb.saturating_mul(MB)))),
            // SIGXCPU at the soft limit; the hard limit a second later is SIGKILL for a
            // process that catches SIGXCPU.
            (Resource::Cpu, limits.cpu_seconds.map(|s| (s, s.saturating_add(1)))),
            (Resource::FileSize, limits.file_size_mb.map(|mb| (mb.saturating_mul(MB), mb.saturating_mul(MB)))),
            (Resource::OpenFiles, limits.open_files.map(|n| (n, n))),
        ];
        Self(
            wanted
                .into_iter()
                .filter_map(|(resource, limit)| {
                    let (soft, hard) = limit?;
                    let current_hard = current_hard(resource);
                    Some((resource, soft.min(current_hard), hard.min(current_hard)))
                })
                .collect(),
        )
    }

    /// (name, soft, hard) per limit, the name as in `RLIMIT_<name>`, for a process that sets
    /// them itself (a warm fork server's child).
    pub(super) fn triples(&self) -> impl Iterator<Item = (&'static str, u64, u64)> + '_ {
        self.0.iter().map(|&(resource, soft, hard)| {
            let name = match resource {
                Resource::AddressSpace => "AS",
                Resource::Cpu => "CPU",
                Resource::FileSize => "FSIZE",
                Resource::OpenFiles => "NOFILE",
            };
            (name, soft, hard)
        })
    }

    pub(super) fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// Sets the limits on the calling process. Async-signal-safe: only setrlimit calls.
    pub(super) fn apply(&self) -> std::io::Result<()> {
        for &(resource, soft, hard) in &self.0 {
            let limit = libc::rlimit { rlim_cur: soft, rlim_max: hard };
            // SAFETY: setrlimit reads the struct we pass and changes only this process.
            let rc = unsafe {
                match resource {
                    Resource::AddressSpace => libc::setrlimit(libc::RLIMIT_AS, &limit),
                    Resource::Cpu => libc::setrlimit(libc::RLIMIT_CPU, &limit),
                    Resource::FileSize => libc::setrlimit(libc::RLIMIT_FSIZE, &limit),
                    Resource::OpenFiles => libc::setrlimit(libc::RLIMIT_NOFILE, &limit),
                }
            };
            if rc != 0 {
                return Err(std::io::Error::last_os_error());
            }
        }
        Ok(())
    }
}

fn current_hard(resource: Resource) -> u64 {
    let mut limit = libc::rlimit { rlim_cur: 0, rlim_max: 0 };
    // SAFETY: getrlimit fills in the struct we own.
    let rc = unsafe {
        match resource {
            Resource::AddressSpace => libc::getrlimit(libc::RLIMIT_AS, &mut limit),
            Resource::Cpu => libc::getrlimit(libc::RLIMIT_CPU, &mut limit),
            Resource::FileSize => libc::getrlimit(libc::RLIMIT_FSIZE, &mut limit),
            Resource::OpenFiles => libc::getrlimit(libc::RLIMIT_NOFILE, &mut limit),
        }
    };
    if rc != 0 || limit.rlim_max == libc::RLIM_INFINITY { u64::MAX } else { limit.rlim_max }
}

/// The name of a signal the limits send, for a failure's reason.
pub(super) fn signal_meaning(signal: i32) -> Option<&'static str> {
    match signal {
        libc::SIGXCPU => Some("SIGXCPU: the cpu_seconds limit was reached"),
        libc::SIGXFSZ => Some("SIGXFSZ: the file_size_mb limit was reached"),
        libc::SIGKILL => Some("SIGKILL"),
        libc::SIGSEGV => Some("SIGSEGV"),
        libc::SIGABRT => Some("SIGABRT"),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_given_limits_are_set() {
        assert!(Prepared::new(&Limits::default()).is_empty());
        let p = Prepared::new(&Limits { address_space_mb: Some(500), cpu_seconds: Some(3), ..Limits::default() });
        assert_eq!(p.0.len(), 2);
        assert_eq!(p.0[0], (Resource::AddressSpace, 500 * MB, 500 * MB));
    }
}
