//! The workers: a batch of pending matches split into chunks over a rayon pool; each worker keeps
//! its own agents (built once, rebuilt after a crash) and buffers; results reach the collector
//! (the store and the caller's tally) chunk by chunk.

use std::sync::atomic::{AtomicBool, Ordering};

use agents::Agent;
use games::GameRef;
use rayon::prelude::*;

use super::{AgentEntry, TournamentConfig};
use crate::engine::openings::Openings;
use crate::engine::runner::{
    AwaitedMatch, EndReason, FaultKind, Keep, MatchError, MatchResult, MatchScratch, MatchSetup, play_match_with,
};
use crate::engine::schedule::Pairing;
use crate::engine::seeds::match_seed;
use crate::engine::tally::{FaultExample, Tally, score_of_seat0};
use crate::error::{Context, Error, Result};
use crate::resources::Resources;
use crate::store::Store;

/// Receives each chunk's (index, seat-0 score) pairs and tally; may stop the run with a reason.
pub(super) type Collector<'a> = &'a mut dyn FnMut(&[(u64, f64)], Tally) -> Option<String>;

/// The fixed inputs of one batch of matches.
pub(super) struct Batch<'a> {
    pub game: &'a GameRef,
    pub config: &'a TournamentConfig,
    pub resources: &'a Resources,
    pub planned: &'a [Pairing],
    pub openings: &'a Openings,
    /// Whether the caller wants every result (besides the store, which gets them anyway).
    pub keep_results: bool,
}

/// Results of one chunk of matches, sent from a worker to the collector.
struct ChunkDone {
    scores: Vec<(u64, f64)>,
    results: Vec<(u64, MatchResult)>,
    /// Matches stopped where a person's decision is awaited (parked in the store).
    awaited: Vec<(u64, AwaitedMatch)>,
    /// Matches the game's own code stopped (a game process that died, hung or contradicted
    /// itself), with the message: not played, the others go on.
    broken: Vec<(u64, String)>,
    tally: Tally,
    error: Option<Error>,
}

impl Batch<'_> {
    /// Plays `pending` matches on `pool`; `collect` sees each chunk's scores and tally (after the
    /// chunk is stored) and may stop the run by returning a reason. Matches that stop where a
    /// person's decision is awaited are parked in the store and added to `awaiting`.
    #[allow(clippy::too_many_arguments)]
    pub(super) fn play(
        &self,
        pool: &rayon::ThreadPool,
        pending: &[u64],
        threads: usize,
        mut store: Option<(&mut Store, i64)>,
        collected: &mut Vec<(u64, MatchResult)>,
        awaiting: &mut Vec<u64>,
        broken: &mut Vec<(u64, String)>,
        collect: Collector<'_>,
    ) -> Result<Option<String>> {
        // Chunks big enough to make the hand-off cheap, small enough to spread work and save often.
        let chunk = (pending.len() / (threads * 64)).clamp(1, 512);
        let stop = AtomicBool::new(false);
        let keep_results = store.is_some() || self.keep_results;
        let (sender, receiver) = crossbeam_channel::unbounded::<ChunkDone>();
        let mut outcome: Result<Option<String>> = Ok(None);
        std::thread::scope(|scope| {
            let stop = &stop;
            let worker = scope.spawn(move || {
                pool.install(|| {
                    pending.par_chunks(chunk).for_each_init(
                        || AgentSet::new(self.resources, &self.config.agents, &self.config.judges),
                        |agents, indices| {
                            if stop.load(Ordering::Relaxed) {
                                return;
                            }
                            let done = self.play_chunk(agents, indices, keep_results);
                            let _ = sender.send(done);
                        },
                    )
                });
                drop(sender);
            });
            for done in receiver.iter() {
                if outcome.as_ref().is_ok_and(|o| o.is_none()) {
                    broken.extend(done.broken.iter().cloned());
                    outcome = self.absorb(done, &mut store, collected, awaiting, collect);
                    if !matches!(outcome, Ok(None)) {
                        stop.store(true, Ordering::Relaxed);
                    }
                }
            }
            let _ = worker.join();
        });
        outcome
    }

    fn absorb(
        &self,
        done: ChunkDone,
        store: &mut Option<(&mut Store, i64)>,
        collected: &mut Vec<(u64, MatchResult)>,
        awaiting: &mut Vec<u64>,
        collect: Collector<'_>,
    ) -> Result<Option<String>> {
        if let Some(error) = done.error {
            return Err(error);
        }
        if let Some((store, id)) = store.as_mut() {
            store.record(*id, &done.results)?;
            store.park(*id, &done.awaited, None)?;
            // Marked with their messages; a resumed run puts them back to be played.
            store.mark_broken(*id, &done.broken, None)?;
        } else if let Some((index, awaited)) = done.awaited.first() {
            return Err(Error::Context {
                context: format!("match {index}"),
                source: Box::new(Error::Match(MatchError::Awaited(Box::new(awaited.clone())))),
            });
        }
        awaiting.extend(done.awaited.iter().map(|(index, _)| *index));
        let stop = collect(&done.scores, done.tally);
        if self.keep_results {
            collected.extend(done.results);
        }
        Ok(stop)
    }

    fn play_chunk(&self, agents: &mut AgentSet<'_>, indices: &[u64], keep_results: bool) -> ChunkDone {
        let mut done = ChunkDone {
            scores: Vec::with_capacity(indices.len()),
            results: Vec::new(),
            awaited: Vec::new(),
            broken: Vec::new(),
            tally: Tally::new(self.config.agents.len()),
            error: None,
        };
        let keep = if keep_results { self.config.keep } else { Keep::Outcome };
        for &index in indices {
            let pairing = self.planned[index as usize];
            let opening = self.openings.get(self.game.as_ref(), pairing.opening);
            let setup = MatchSetup {
                game: self.game,
                seed: match_seed(self.config.seed, index),
                opening: &opening,
                limits: self.config.limits(),
                keep,
            };
            let result = match agents.play(&setup, pairing.seats, self.config.judge_of(&pairing)) {
                Ok(Played::Finished(result)) => result,
                Ok(Played::Awaited(awaited)) => {
                    done.awaited.push((index, *awaited));
                    continue;
                }
                Err(Error::Match(MatchError::GamePanicked(message))) => {
                    done.broken.push((index, message));
                    continue;
                }
                Err(error) => {
                    done.error = Some(Error::Context { context: format!("match {index}"), source: Box::new(error) });
                    return done;
                }
            };
            let score = score_of_seat0(&result.returns);
            done.tally.add(pairing.seats, score, result.end.kind(), result.end.fault_seat(), pairing.opening);
            if let EndReason::Fault { seat, detail, .. } = &result.end {
                let example = FaultExample {
                    match_index: index,
                    seat: *seat,
                    agent: pairing.seats.get(*seat).copied(),
                    judge: self.config.judge_of(&pairing).filter(|_| *seat == 2),
                    detail: detail.clone(),
                };
                done.tally.note_fault(result.end.kind(), example);
            }
            done.scores.push((index, score));
            if keep_results {
                done.results.push((index, result));
            }
        }
        done
    }
}

/// How a match played by an [`AgentSet`] came out.
pub(super) enum Played {
    Finished(MatchResult),
    /// Stopped where a person's decision is awaited.
    Awaited(Box<AwaitedMatch>),
}

/// One worker's agents (the players, then the judges), built lazily from their specs; an agent
/// that crashed is rebuilt.
pub(super) struct AgentSet<'a> {
    resources: &'a Resources,
    entries: Vec<AgentEntry>,
    players: usize,
    agents: Vec<Option<Box<dyn Agent>>>,
    scratch: MatchScratch,
}

impl<'a> AgentSet<'a> {
    pub(super) fn new(resources: &'a Resources, players: &[AgentEntry], judges: &[AgentEntry]) -> Self {
        let entries: Vec<AgentEntry> = players.iter().chain(judges).cloned().collect();
        let agents = (0..entries.len()).map(|_| None).collect();
        AgentSet { resources, entries, players: players.len(), agents, scratch: MatchScratch::default() }
    }

    fn take(&mut self, index: usize) -> Result<Box<dyn Agent>> {
        match self.agents[index].take() {
            Some(agent) => Ok(agent),
            None => {
                let entry = &self.entries[index];
                self.resources.build_agent(&entry.agent).with_context(|| format!("agent `{}`", entry.name))
            }
        }
    }

    /// Plays one match: `seats` are player indices, `judge` an index into the judges.
    pub(super) fn play(&mut self, setup: &MatchSetup<'_>, seats: [usize; 2], judge: Option<usize>) -> Result<Played> {
        let judge = judge.map(|j| self.players + j);
        let mut first = self.take(seats[0])?;
        let mut second = self.take(seats[1])?;
        let mut third = judge.map(|index| self.take(index)).transpose()?;
        let result = match third.as_mut() {
            Some(judge) => {
                play_match_with(setup, &mut [first.as_mut(), second.as_mut(), judge.as_mut()], &mut self.scratch)
            }
            None => play_match_with(setup, &mut [first.as_mut(), second.as_mut()], &mut self.scratch),
        };
        let crashed = match &result {
            Ok(MatchResult { end: EndReason::Fault { seat, kind: FaultKind::Crash, .. }, .. }) => Some(*seat),
            _ => None,
        };
        // A crashed agent may be in any state: the next game gets a fresh one.
        if crashed != Some(0) {
            self.agents[seats[0]] = Some(first);
        }
        if crashed != Some(1) {
            self.agents[seats[1]] = Some(second);
        }
        if let (Some(index), Some(agent)) = (judge, third)
            && crashed != Some(2)
        {
            self.agents[index] = Some(agent);
        }
        match result {
            Ok(result) => Ok(Played::Finished(result)),
            Err(MatchError::Awaited(awaited)) => Ok(Played::Awaited(awaited)),
            Err(error) => Err(error.into()),
        }
    }
}
