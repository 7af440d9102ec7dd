//! One `squeue` poll for every job in flight, however many workers wait on them: a thread
//! that runs while jobs are watched, and a condition variable the waiters sleep on.

use std::collections::HashMap;
use std::sync::{Arc, Condvar, Mutex, MutexGuard};
use std::thread;
use std::time::{Duration, Instant};

use super::cli::{self, JobId};
use super::state::VANISHED;

/// Polls in a row a job may be missing from `squeue` before it counts as gone (a job is
/// briefly unlisted right after submission on some versions).
const MISSING_POLLS: u32 = 3;

#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(super) struct Seen {
    /// `squeue`'s `%T`, empty before the first poll answered.
    pub state: String,
    pub reason: String,
    missing: u32,
}

#[derive(Default)]
struct Watched {
    jobs: HashMap<JobId, Seen>,
    polling: bool,
}

pub(super) struct Monitor {
    interval: Duration,
    watched: Mutex<Watched>,
    polled: Condvar,
}

impl Monitor {
    pub(super) fn new(interval: Duration) -> Arc<Self> {
        Arc::new(Self { interval, watched: Mutex::default(), polled: Condvar::new() })
    }

    fn lock(&self) -> MutexGuard<'_, Watched> {
        self.watched.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    pub(super) fn watch(self: &Arc<Self>, id: JobId) {
        let mut w = self.lock();
        w.jobs.insert(id, Seen::default());
        if !w.polling {
            w.polling = true;
            let monitor = Arc::clone(self);
            thread::spawn(move || monitor.poll_while_watched());
        }
    }

    pub(super) fn unwatch(&self, id: JobId) {
        self.lock().jobs.remove(&id);
    }

    /// What the next poll that changed `id`'s state saw, or its state after `at_most`. A poll
    /// that fails (Slurm's controller unreachable) changes nothing: the job is asked about again.
    pub(super) fn next(&self, id: JobId, at_most: Duration) -> Seen {
        let deadline = Instant::now() + at_most;
        let w = self.lock();
        let before = w.jobs.get(&id).cloned();
        let (w, _) = self
            .polled
            .wait_timeout_while(w, deadline.saturating_duration_since(Instant::now()), |w| {
                w.jobs.get(&id).cloned() == before && Instant::now() < deadline
            })
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        w.jobs.get(&id).cloned().unwrap_or_default()
    }

    fn poll_while_watched(&self) {
        loop {
            let ids: Vec<JobId> = {
                let mut w = self.lock();
                if w.jobs.is_empty() {
                    w.polling = false;
                    return;
                }
                w.jobs.keys().copied().collect()
            };
            if let Ok(lines) = cli::squeue(&ids) {
                let mut w = self.lock();
                let by_id: HashMap<JobId, cli::Queued> = lines.into_iter().map(|q| (q.id, q)).collect();
                // Only the jobs this poll asked about: one watched since may not be listed yet.
                for id in &ids {
                    let Some(seen) = w.jobs.get_mut(id) else { continue };
                    match by_id.get(id) {
                        Some(q) => *seen = Seen { state: q.state.clone(), reason: q.reason.clone(), missing: 0 },
                        None => {
                            seen.missing += 1;
                            if seen.missing >= MISSING_POLLS {
                                seen.state = VANISHED.into();
                            }
                        }
                    }
                }
            }
            self.polled.notify_all();
            thread::sleep(self.interval);
        }
    }
}
