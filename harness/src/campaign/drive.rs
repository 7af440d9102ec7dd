//! The driving loop: rebuild the state a previous controller left, dispatch rounds to workers as
//! their horizon becomes available, and commit results in round order.

use asi_evolve_store::meta;
use std::collections::BTreeMap;
use std::sync::mpsc;
use std::sync::{Arc, Mutex};
use std::time::Instant;

use indicatif::ProgressBar;

use super::job::{RoundJob, assemble_round};
use super::layout::in_flight_dirs;
use super::progress::{Tracker, progress_bar};
use super::round::RoundOutput;
use super::{Campaign, CampaignError, Summary};
use crate::llm::{CallLog, EmbedModel, Exchange, Replay};
use crate::node::Node;
use crate::sampler::Sampler;
use crate::seeds::{Stream, round_rng};

/// The committed rounds, in round order, and what they add up to.
#[derive(Default)]
struct Ledger {
    nodes: Vec<Node>,
    tracker: Tracker,
}

/// Where the dispatcher is: which nodes the sampler has seen and which round goes next.
struct Cursor {
    observed: usize,
    best_observed: Option<f64>,
    next: u64,
}

impl Cursor {
    /// Shows the sampler every node up to round `horizon`, in round order.
    fn reveal(&mut self, sampler: &mut dyn Sampler, nodes: &[Node], horizon: u64) {
        while self.observed as u64 <= horizon {
            let node = &nodes[self.observed];
            sampler.observe(node);
            if let Some(s) = node.score.filter(|_| node.is_valid()) {
                self.best_observed = Some(self.best_observed.map_or(s, |b| b.max(s)));
            }
            self.observed += 1;
        }
    }
}

/// The dispatcher's ends of the worker channels.
struct Channels<'a> {
    jobs: &'a mpsc::Sender<RoundJob>,
    done: &'a mpsc::Receiver<(u64, Result<RoundOutput, CampaignError>)>,
}

impl Campaign {
    /// Runs the campaign from wherever its database stands (nothing yet, or the rounds a killed
    /// controller committed) to its last round.
    pub fn run(mut self) -> Result<Summary, CampaignError> {
        let started = Instant::now();
        self.db.set_meta(meta::STATUS, "running")?;
        let workers = self.config.workers.min(self.config.rounds.max(1) as usize);
        self.roles.engineer.prestart(workers);
        let mut ledger = Ledger { nodes: self.db.nodes()?, tracker: Tracker::default() };
        let stored = self.db.exchanges()?;
        for node in &ledger.nodes {
            let of_round: Vec<Exchange> = stored.iter().filter(|e| e.round == node.round).cloned().collect();
            ledger.tracker.record(node, &of_round);
            self.roles.novelty.insert(node);
        }
        let mut seed_calls = CallLog::new(self.config.seed, 0);
        if let (Some(base), Some(model)) = (self.cognition.as_mut(), &self.embeddings) {
            // The items were embedded in round 0: a resumed campaign reuses those vectors.
            let recorded =
                Replay::new("this campaign".into(), stored.iter().filter(|e| e.round == 0).cloned().collect());
            let source: &dyn EmbedModel = if ledger.nodes.is_empty() { model.as_ref() } else { &recorded };
            if let Some(problem) = base.embed_items(source, &mut seed_calls)? {
                self.db
                    .set_meta(meta::COGNITION_RETRIEVAL, &format!("bm25 (embedding the items failed: {problem})"))?;
            }
        }
        if ledger.nodes.is_empty() {
            let seed = self.roles.execute_seed(self.sampler.grid(), seed_calls)?;
            self.commit(&mut ledger, seed)?;
        }

        // Evaluations a killed controller left running (process groups, Slurm jobs) would write
        // into folders we reuse: they are stopped, and their rounds run again.
        for dir in in_flight_dirs(&self.roles.run_dir, ledger.nodes.len() as u64) {
            self.roles.engineer.clear_stale(&dir);
        }
        let mut cursor = self.rebuild_sampler(&ledger.nodes)?;

        let progress = progress_bar(self.config.rounds);
        progress.set_position(ledger.nodes.len() as u64 - 1);
        let (job_tx, job_rx) = mpsc::channel::<RoundJob>();
        let job_rx = Arc::new(Mutex::new(job_rx));
        let (done_tx, done_rx) = mpsc::channel::<(u64, Result<RoundOutput, CampaignError>)>();
        let result = std::thread::scope(|scope| {
            for _ in 0..workers {
                let (jobs, done, roles) = (Arc::clone(&job_rx), done_tx.clone(), Arc::clone(&self.roles));
                scope.spawn(move || {
                    loop {
                        let job = jobs.lock().expect("no worker panics holding the job queue").recv();
                        let Ok(job) = job else { break };
                        let round = job.round;
                        if done.send((round, roles.execute_round(job))).is_err() {
                            break;
                        }
                    }
                });
            }
            drop(done_tx);
            let channels = Channels { jobs: &job_tx, done: &done_rx };
            let outcome = self.drive(&mut ledger, &mut cursor, channels, &progress);
            drop(job_tx);
            outcome
        });
        progress.finish_and_clear();
        let stop_reason = result?;
        if let Some(reason) = &stop_reason {
            self.db.set_meta(meta::STOP_REASON, reason)?;
        }
        self.db.set_meta(meta::STATUS, if stop_reason.is_some() { "stopped" } else { "finished" })?;
        self.db.set_meta(meta::FINISHED_AT, &chrono::Utc::now().to_rfc3339())?;
        let Ledger { nodes, tracker } = ledger;
        Ok(Summary {
            run_dir: self.roles.run_dir.clone(),
            rounds: nodes.len() as u64 - 1,
            best: tracker.best,
            seed_score: nodes[0].score,
            failures: tracker.failures,
            tokens: tracker.tokens,
            cost_usd: tracker.cost_usd,
            stop_reason,
            elapsed: started.elapsed(),
        })
    }

    /// Replays every committed round's selection, which must give the parents stored for it.
    fn rebuild_sampler(&mut self, nodes: &[Node]) -> Result<Cursor, CampaignError> {
        let mut cursor = Cursor { observed: 0, best_observed: None, next: 1 };
        for round in 1..nodes.len() as u64 {
            cursor.reveal(self.sampler.as_mut(), nodes, round.saturating_sub(self.config.window));
            let selection = self.sampler.select(
                round,
                self.config.parents,
                &mut round_rng(self.config.seed, round, Stream::Sampler),
            );
            if selection.parents != nodes[round as usize].parents {
                return Err(CampaignError::ReplayDiverged { round });
            }
        }
        cursor.next = nodes.len() as u64;
        Ok(cursor)
    }

    /// Stores a finished round; the only way a node enters the database.
    fn commit(&mut self, ledger: &mut Ledger, output: RoundOutput) -> Result<(), CampaignError> {
        self.db.insert_round(&output.node, &output.exchanges)?;
        ledger.tracker.record(&output.node, &output.exchanges);
        self.roles.novelty.insert(&output.node);
        ledger.nodes.push(output.node);
        Ok(())
    }

    /// Dispatches rounds as their horizon becomes available and commits results in round order.
    /// Returns why it stopped early, if it did.
    fn drive(
        &mut self,
        ledger: &mut Ledger,
        cursor: &mut Cursor,
        channels: Channels<'_>,
        progress: &ProgressBar,
    ) -> Result<Option<String>, CampaignError> {
        let workers = self.config.workers as u64;
        let mut last = self.config.rounds;
        let mut stop_reason = None;
        let mut pending = BTreeMap::new();
        while (ledger.nodes.len() as u64) <= last {
            let committed = ledger.nodes.len() as u64;
            while cursor.next <= last && cursor.next < committed + workers {
                let next = cursor.next;
                let horizon = next.saturating_sub(self.config.window);
                if horizon >= committed {
                    break;
                }
                // The budget is judged on the rounds this round can see, so where a campaign stops
                // depends on its config and seed alone.
                if let Some(reason) = self.over_budget(ledger.tracker.spent_through(horizon)) {
                    last = next - 1;
                    stop_reason = Some(reason);
                    break;
                }
                cursor.reveal(self.sampler.as_mut(), &ledger.nodes, horizon);
                let job = assemble_round(
                    self.sampler.as_mut(),
                    self.cognition.as_ref(),
                    self.embeddings.as_deref(),
                    &self.config,
                    next,
                    &ledger.nodes,
                    cursor.best_observed,
                )?;
                channels.jobs.send(job).expect("workers outlive the dispatcher");
                cursor.next += 1;
            }
            if (ledger.nodes.len() as u64) > last {
                break;
            }
            let (round, result) = channels.done.recv().expect("a worker answers every dispatched round");
            pending.insert(round, result);
            // A round that failed fatally stops the campaign in its turn, so every earlier round
            // is still stored.
            while let Some(result) = pending.remove(&(ledger.nodes.len() as u64)) {
                self.commit(ledger, result?)?;
                progress.inc(1);
                progress.set_message(ledger.tracker.message());
            }
        }
        Ok(stop_reason)
    }

    fn over_budget(&self, (tokens, cost): (u64, f64)) -> Option<String> {
        let b = &self.config.budget;
        if let Some(max) = b.max_tokens
            && tokens >= max
        {
            return Some(format!("token budget reached: {tokens} of {max} tokens used"));
        }
        if let Some(max) = b.max_cost_usd
            && cost >= max
        {
            return Some(format!("cost budget reached: ${cost:.4} of ${max:.4} spent"));
        }
        None
    }
}
