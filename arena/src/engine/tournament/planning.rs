//! Planning a tournament: checks before the first game, the store's tournament (new or resumed),
//! the schedule extended round by round from the results so far, and the final tally.

use std::time::{Duration, Instant};

use games::Game;

use super::content::{share_files, tournament_files};
use super::leased::{LeaseSettings, LeasedPlayer};
use super::workers::Batch;
use super::{AgentEntry, RunOptions, StopRule, TournamentConfig, TournamentOutcome};
use crate::engine::openings::Openings;
use crate::engine::runner::MatchResult;
use crate::engine::schedule::{Pairing, ScheduleKind, ScheduleSpec, plan};
use crate::engine::seeds::match_seed;
use crate::engine::tally::{FaultExample, Tally};
use crate::error::{Context, Result, bail};
use crate::progress::Progress;
use crate::resources::Resources;
use crate::store::{AgentRow, ScheduledMatch, Store, TournamentFile};

/// Builds, checks and plays a tournament with the games and models of `resources`.
pub fn run_tournament(
    config: &TournamentConfig,
    resources: &Resources,
    options: &RunOptions,
    progress: &dyn Progress,
) -> Result<TournamentOutcome> {
    let game = resources.load_game(&config.game)?;
    check_seats(game.as_ref(), config)?;
    if config.agents.len() < 2 {
        bail!("a tournament needs at least two agents, got {}", config.agents.len());
    }
    if config.games_per_pairing == 0 {
        bail!("games_per_pairing must be at least 1");
    }
    check_limits(config)?;
    for (i, entry) in config.agents.iter().enumerate() {
        if config.agents[..i].iter().any(|other| other.name == entry.name) {
            bail!("two agents are named `{}`: names identify agents in standings and the store", entry.name);
        }
    }
    // Players take seats 0 and 1 in turn; judges sit in seat 2.
    let rows = agent_rows(resources, game.as_ref(), &config.agents, &[0, 1], "agent")?;
    let judge_rows = agent_rows(resources, game.as_ref(), &config.judges, &[2], "judge")?;
    let files = tournament_files(resources, config)?;
    let openings = Openings::resolve(&config.openings, game.as_ref(), config.seed)?;
    let spec = ScheduleSpec {
        kind: config.schedule,
        agents: config.agents.len(),
        games_per_pairing: config.games_per_pairing,
        rounds: config.rounds,
    };
    let names: Vec<String> = config.agents.iter().map(|a| a.name.clone()).collect();
    let threads = options.threads.max(1);
    let pool = rayon::ThreadPoolBuilder::new()
        .num_threads(threads)
        .thread_name(|i| format!("arena-worker-{i}"))
        .build()
        .map_err(|e| crate::error::Error::Invalid(format!("cannot start {threads} worker threads: {e}")))?;

    let shared_store = options.db.as_ref().is_some_and(|db| db.is_shared());
    let person_via = |channel| {
        config.agents.iter().chain(&config.judges).find(|e| agents::human::person_channel(&e.agent) == Some(channel))
    };
    if options.db.is_none()
        && let Some(person) = person_via(agents::human::Channel::Web)
    {
        bail!(
            "`{}` is a person on the web, whose decisions wait in a store for `arena serve`'s judge page: \
             give the tournament a store (--db FILE)",
            person.name
        );
    }
    if shared_store && let Some(person) = person_via(agents::human::Channel::Terminal) {
        bail!(
            "`{}` is a person at this terminal, who cannot play a shared store's matches (workers elsewhere \
             would wait for them): play it on a file (--db FILE) or with no store",
            person.name
        );
    }
    if options.workers_only && !shared_store {
        bail!("--workers-only needs a store that workers share: --db postgres://...");
    }
    let (mut store, tournament_id) = open_store(config, game.as_ref(), options, &rows, &judge_rows, &files)?;
    let mut shared = match (options.db.as_ref(), store.as_ref(), tournament_id) {
        (Some(location), Some(store), Some(id)) if shared_store => {
            share_files(store, &files, progress)?;
            let player = if options.workers_only {
                None
            } else {
                let settings = LeaseSettings::new(options.worker_name.clone(), threads, None);
                Some(LeasedPlayer::new(resources, location, settings)?)
            };
            let finished_before = store.finished_count(id)?;
            Some(SharedRun { player, last_seen: None, finished_before, agents: config.agents.len(), refusals_seen: 0 })
        }
        _ => None,
    };
    let mut tally = Tally::new(config.agents.len());
    let mut scores: Vec<Option<f64>> = Vec::new();
    // Matches parked until a person decides (a debate's verdict on `arena serve`).
    let mut awaiting: Vec<u64> = Vec::new();
    if let (Some(store), Some(id)) = (store.as_ref(), tournament_id) {
        for finished in store.finished(id)? {
            let index = finished.index as usize;
            if scores.len() <= index {
                scores.resize(index + 1, None);
            }
            scores[index] = Some(finished.score0);
        }
        awaiting = store.awaiting(id)?;
        // Matches an earlier run's game could not play are tried again.
        store.retry_broken(id)?;
    }
    let mut decided_by_people = false;
    // Matches the game's own code stopped: not played; the tournament stays open for them.
    let mut broken: Vec<(u64, String)> = Vec::new();

    let started = Instant::now();
    progress.begin("games", 0);
    let mut played_now = 0;
    let mut stopped = None;
    let mut planned: Vec<Pairing> = Vec::new();
    let mut collected: Vec<(u64, MatchResult)> = Vec::new();
    loop {
        let next = plan(&spec, &scores);
        if next.len() < planned.len() || next[..planned.len()] != planned[..] {
            bail!("internal error: the schedule changed its earlier matches");
        }
        let new = &next[planned.len()..];
        if let (Some(store), Some(id)) = (store.as_mut(), tournament_id) {
            let rows: Vec<_> = new
                .iter()
                .enumerate()
                .map(|(k, pairing)| {
                    let index = (planned.len() + k) as u64;
                    ScheduledMatch {
                        index,
                        pairing: *pairing,
                        seed: match_seed(config.seed, index),
                        opening: openings.get(game.as_ref(), pairing.opening),
                        judge: config.judge_of(pairing),
                    }
                })
                .collect();
            store.schedule(id, &rows)?;
        }
        planned = next;
        scores.resize(planned.len().max(scores.len()), None);
        let pending: Vec<u64> = (0..planned.len() as u64)
            .filter(|&i| scores[i as usize].is_none() && !awaiting.contains(&i) && !broken.iter().any(|(b, _)| *b == i))
            .collect();
        let mut done_total = planned.len() as u64 - pending.len() as u64 - awaiting.len() as u64;
        progress.set_total(planned.len() as u64);
        progress.set_done(done_total);
        if pending.is_empty() && awaiting.is_empty() {
            break;
        }
        if pending.is_empty() && !broken.is_empty() && config.schedule != ScheduleKind::RoundRobin {
            // A later round is planned from every result of this one: it cannot be planned.
            break;
        }
        if pending.is_empty()
            && let (Some(store), Some(id)) = (store.as_ref(), tournament_id)
        {
            // Only decisions that people make are left: wait for them (a later round may need them).
            wait_for_people(store, id, &mut awaiting, &mut scores, progress)?;
            decided_by_people = true;
            tally = tally_from_store(store, id, config.agents.len())?;
            if let Some(reason) = options.stop_when.as_ref().and_then(|stop| stop(&tally)) {
                stopped = Some(reason);
                break;
            }
            continue;
        }
        if let (Some(shared), Some(store), Some(id)) = (shared.as_mut(), store.as_ref(), tournament_id) {
            let followed =
                shared.follow(store, id, planned.len() as u64, progress, options.stop_when.as_ref(), started)?;
            played_now = followed.played_now;
            for finished in store.finished(id)? {
                if let Some(score) = scores.get_mut(finished.index as usize) {
                    *score = Some(finished.score0);
                }
            }
            awaiting = store.awaiting(id)?;
            broken = store.broken(id)?;
            if let Some(reason) = followed.stopped {
                stopped = Some(reason);
                break;
            }
            continue;
        }
        let batch = Batch {
            game: &game,
            config,
            resources,
            planned: &planned,
            openings: &openings,
            keep_results: options.collect_results,
        };
        let round = batch.play(
            &pool,
            &pending,
            threads,
            store.as_mut().zip(tournament_id),
            &mut collected,
            &mut awaiting,
            &mut broken,
            &mut |results, chunk_tally| {
                for &(index, score) in results {
                    scores[index as usize] = Some(score);
                }
                played_now += results.len() as u64;
                done_total += results.len() as u64;
                tally.merge(chunk_tally);
                progress.set_done(done_total);
                let rate = played_now as f64 / started.elapsed().as_secs_f64().max(1e-9);
                progress.status(&format!("{rate:.0} games/s"));
                options.stop_when.as_ref().and_then(|stop| stop(&tally))
            },
        )?;
        if let Some(reason) = round {
            stopped = Some(reason);
            break;
        }
    }
    progress.end();
    if let (Some(store), Some(id)) = (store.as_mut(), tournament_id) {
        // Resumed runs count the earlier games too; a shared store's games were played elsewhere.
        if shared.is_some() || decided_by_people || played_now as usize != scores.iter().filter(|s| s.is_some()).count()
        {
            tally = tally_from_store(store, id, config.agents.len())?;
        }
        // A tournament stopped early with decisions still awaited, or with matches its game
        // could not play, stays open for them (`--resume` plays them).
        if awaiting.is_empty() && broken.is_empty() {
            store.finish_tournament(id)?;
        }
        // Workers played the games: their results (trajectories included) come from the store.
        if (shared.is_some() || decided_by_people) && options.collect_results {
            collected = store.stored_results(id)?;
        }
    }
    collected.sort_by_key(|(index, _)| *index);
    if let Some((index, message)) = broken.first().filter(|_| !options.report_broken) {
        bail!("{} matches could not be played; match {index}: {message}", broken.len());
    }
    Ok(TournamentOutcome {
        game: game.spec().to_string(),
        names,
        tally,
        tournament_id,
        played_now,
        seconds: started.elapsed().as_secs_f64(),
        stopped,
        results: collected,
        planned,
        broken,
    })
}

/// How often a tournament that waits for people's decisions looks at the store.
const PEOPLE_POLL: Duration = Duration::from_secs(1);

/// Waits until at least one of the `awaiting` matches is decided (on `arena serve`'s judge page),
/// and moves the decided ones into `scores`.
fn wait_for_people(
    store: &Store,
    id: i64,
    awaiting: &mut Vec<u64>,
    scores: &mut [Option<f64>],
    progress: &dyn Progress,
) -> Result<()> {
    progress.log(&format!(
        "{} matches of tournament {id} wait for a person's decision: `arena serve --db {}`, page /judge",
        awaiting.len(),
        store.location()
    ));
    loop {
        let still = store.awaiting(id)?;
        if still.len() < awaiting.len() {
            for finished in store.finished(id)? {
                if let Some(score) = scores.get_mut(finished.index as usize) {
                    *score = Some(finished.score0);
                }
            }
            *awaiting = still;
            progress.set_done(scores.iter().filter(|s| s.is_some()).count() as u64);
            return Ok(());
        }
        progress.status(&format!("{} await a person's decision", awaiting.len()));
        std::thread::sleep(PEOPLE_POLL);
    }
}

/// A tournament whose matches workers play from a shared store: this process plays some too
/// (unless `--workers-only`) and follows everyone's progress through the store.
struct SharedRun<'a> {
    player: Option<LeasedPlayer<'a>>,
    /// Finished matches when last looked at.
    last_seen: Option<u64>,
    /// Finished matches when this run started (a resumed tournament has some).
    finished_before: u64,
    /// The tournament's agents.
    agents: usize,
    /// Workers' refusals already shown.
    refusals_seen: usize,
}

/// How following a round ended.
struct Followed {
    /// Games finished since this run started, by any worker.
    played_now: u64,
    /// Why the stop rule ended the tournament, if it did.
    stopped: Option<String>,
}

/// How often a process with nothing to play looks at the store.
const POLL: Duration = Duration::from_millis(250);

impl SharedRun<'_> {
    /// Plays (or waits for) the scheduled matches until none of the `total` is left to play (each
    /// finished, waiting for a person, or broken by its game) or the stop rule, looking at the
    /// store's tally after each change, ends the tournament.
    fn follow(
        &mut self,
        store: &Store,
        id: i64,
        total: u64,
        progress: &dyn Progress,
        stop_when: Option<&StopRule>,
        started: Instant,
    ) -> Result<Followed> {
        loop {
            let mut claimed = 0;
            if let Some(player) = self.player.as_mut() {
                let report = player.play_batch(store, Some(id))?;
                if let Some((_, reason)) = report.refused.first() {
                    bail!("this process cannot play its own tournament: {reason}");
                }
                if report.outcome.faults > 0 {
                    progress.log(&format!(
                        "{} matches played again came out differently from the stored result: recorded as faults",
                        report.outcome.faults
                    ));
                }
                claimed = report.claimed;
            }
            // A worker that will not play this tournament says why here too: if none can, the
            // reason is on the screen of whoever waits for it.
            let refusals = store.refusals(id)?;
            for (worker, reason) in refusals.iter().skip(self.refusals_seen) {
                progress.log(&format!("worker {worker} does not play tournament {id}: {reason}"));
            }
            self.refusals_seen = refusals.len();
            let finished = store.finished_count(id)?;
            let played_now = finished.saturating_sub(self.finished_before);
            progress.set_done(finished);
            let rate = played_now as f64 / started.elapsed().as_secs_f64().max(1e-9);
            let people = store.awaiting(id)?.len() as u64;
            let broken = store.broken(id)?.len() as u64;
            let mut status = format!("{rate:.0} games/s, all workers");
            if people > 0 {
                status += &format!("; {people} await a person's decision");
            }
            if broken > 0 {
                status += &format!("; {broken} broken by the game");
            }
            progress.status(&status);
            if self.last_seen != Some(finished) {
                self.last_seen = Some(finished);
                if let Some(stop) = stop_when
                    && let Some(reason) = stop(&tally_from_store(store, id, self.agents)?)
                {
                    return Ok(Followed { played_now, stopped: Some(reason) });
                }
            }
            // Every match finished, waiting for a person or broken: the caller decides what next.
            if finished + people + broken >= total {
                return Ok(Followed { played_now, stopped: None });
            }
            if claimed == 0 {
                std::thread::sleep(POLL);
            }
        }
    }
}

/// Builds every agent once before the first game, so a bad spec or model, or an agent that cannot
/// fill its `seats`, fails the run at once; the store's rows, with the content hash of checkpoint
/// agents' weights.
fn agent_rows(
    resources: &Resources,
    game: &dyn Game,
    entries: &[AgentEntry],
    seats: &[games::Player],
    role: &str,
) -> Result<Vec<AgentRow>> {
    entries
        .iter()
        .map(|entry| {
            let checkpoint_hash =
                resources.check_agent(&entry.agent, game, seats).with_context(|| format!("{role} `{}`", entry.name))?;
            Ok(AgentRow { name: entry.name.clone(), spec: entry.agent.to_string(), checkpoint_hash })
        })
        .collect()
}

/// Refuses settings that make no sense rather than running them: limits of zero (every game
/// lost on time, or over before it starts), rounds for a schedule that has none, or more Swiss
/// rounds than there are rounds without a repeated pairing.
fn check_limits(config: &TournamentConfig) -> Result<()> {
    if config.max_moves == Some(0) {
        bail!("max_moves must be at least 1 (leave it out for no limit)");
    }
    if config.time_per_move_ms == Some(0) {
        bail!("time_per_move_ms must be at least 1 (leave it out for no limit)");
    }
    let Some(rounds) = config.rounds else { return Ok(()) };
    if config.schedule != ScheduleKind::Swiss {
        bail!(
            "rounds is a setting of the swiss schedule; the {} schedule sets its own rounds (leave rounds out)",
            config.schedule.name()
        );
    }
    if rounds == 0 {
        bail!("rounds must be at least 1");
    }
    let agents = config.agents.len() as u32;
    // Every pairing once: agents − 1 rounds, or `agents` rounds with a bye each when odd.
    let most = if agents.is_multiple_of(2) { agents - 1 } else { agents };
    if rounds > most {
        bail!(
            "a swiss tournament of {agents} agents has at most {most} rounds without a repeated pairing; \
             {rounds} were asked (use round-robin to play every pairing more often)"
        );
    }
    Ok(())
}

/// Two players, or two players and a judge seat (seat 2) that the config's judges fill.
fn check_seats(game: &dyn Game, config: &TournamentConfig) -> Result<()> {
    let players = game.facts().players;
    match (players, config.judges.is_empty()) {
        (2, true) | (3, false) => Ok(()),
        (2, false) => {
            bail!("{} has no judge seat; judges (--judge) are for games with one, such as debate", game.spec())
        }
        (3, true) => bail!(
            "{} has a judge seat (seat 2): name the agent that judges with --judge SPEC (or `judges` in the config), \
             or let the rules decide with judge=oracle",
            game.spec()
        ),
        _ => {
            bail!("tournaments of {players}-player games are not supported yet ({} has {players} players)", game.spec())
        }
    }
}

/// Sums every finished match of a stored tournament.
pub fn tally_from_store(store: &Store, tournament: i64, agents: usize) -> Result<Tally> {
    let mut tally = Tally::new(agents);
    for m in store.finished(tournament)? {
        if m.seats.iter().any(|&s| s >= agents) {
            bail!(
                "store {}: match {} seats agent {:?}, but the tournament has {agents}",
                store.location(),
                m.index,
                m.seats
            );
        }
        tally.add(m.seats, m.score0, m.end, m.fault_seat, m.pair);
        if let Some(seat) = m.fault_seat {
            let example = FaultExample {
                match_index: m.index,
                seat,
                agent: m.seats.get(seat).copied(),
                judge: m.judge.filter(|_| seat == 2),
                detail: m.fault_detail.clone().unwrap_or_default(),
            };
            tally.note_fault(m.end, example);
        }
    }
    Ok(tally)
}

/// The store and the tournament in it: the one to resume, or a new one.
fn open_store(
    config: &TournamentConfig,
    game: &dyn Game,
    options: &RunOptions,
    agents: &[AgentRow],
    judges: &[AgentRow],
    files: &[TournamentFile],
) -> Result<(Option<Store>, Option<i64>)> {
    let Some(location) = options.db.as_ref() else {
        if options.resume {
            bail!("--resume needs --db FILE: the results to resume from are in a store");
        }
        return Ok((None, None));
    };
    if options.resume && !options.start_if_missing && !location.exists() {
        bail!("--resume: there is no store {location} to resume from (nothing to resume); run without --resume");
    }
    let mut store = Store::connect(location)?;
    let canonical = config.canonical();
    let existing = store.tournaments()?;
    if options.resume {
        if existing.is_empty() && !options.start_if_missing {
            bail!("--resume: store {location} holds no tournament (nothing to resume); run without --resume");
        }
        if let Some(found) = existing.iter().rev().find(|t| t.config == canonical) {
            return Ok((Some(store), Some(found.id)));
        }
        if let Some(other) = existing.last().filter(|_| !options.start_if_missing) {
            bail!(
                "--resume: store {} holds tournament {} ({}) with a different config; start a new store or run without --resume\nstored: {}\nasked:  {}",
                location,
                other.id,
                other.game,
                other.config,
                canonical
            );
        }
    }
    let id = store
        .create_tournament(&game.spec().to_string(), &canonical, agents, judges, files)
        .with_context(|| format!("store {location}"))?;
    Ok((Some(store), Some(id)))
}
