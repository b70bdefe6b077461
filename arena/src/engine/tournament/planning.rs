//! Planning a tournament: checks before the first game, the store's tournament (new or resumed),
//! the schedule extended round by round from the results so far, and the final tally.

use std::time::Instant;

use games::Game;

use super::workers::Batch;
use super::{AgentEntry, RunOptions, TournamentConfig, TournamentOutcome};
use crate::engine::openings::Openings;
use crate::engine::runner::MatchResult;
use crate::engine::schedule::{Pairing, ScheduleKind, ScheduleSpec, plan};
use crate::engine::seeds::match_seed;
use crate::engine::tally::{FaultExample, Tally};
use crate::error::{Context, Result, bail};
use crate::progress::Progress;
use crate::resources::Resources;
use crate::store::{AgentRow, ScheduledMatch, Store};

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

    let (mut store, tournament_id) = open_store(config, game.as_ref(), options, &rows, &judge_rows)?;
    let mut tally = Tally::new(config.agents.len());
    let mut scores: Vec<Option<f64>> = Vec::new();
    if let (Some(store), Some(id)) = (store.as_ref(), tournament_id) {
        for finished in store.finished(id)? {
            let index = finished.index as usize;
            if scores.len() <= index {
                scores.resize(index + 1, None);
            }
            scores[index] = Some(finished.score0);
        }
    }

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
        let pending: Vec<u64> = (0..planned.len() as u64).filter(|&i| scores[i as usize].is_none()).collect();
        let mut done_total = planned.len() as u64 - pending.len() as u64;
        progress.set_total(planned.len() as u64);
        progress.set_done(done_total);
        if pending.is_empty() {
            break;
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
        // Resumed runs count the earlier games too.
        if played_now as usize != scores.iter().filter(|s| s.is_some()).count() {
            tally = tally_from_store(store, id, config.agents.len())?;
        }
        store.finish_tournament(id)?;
    }
    collected.sort_by_key(|(index, _)| *index);
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
    })
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
                store.path().display(),
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
) -> Result<(Option<Store>, Option<i64>)> {
    let Some(path) = options.db.as_ref() else {
        if options.resume {
            bail!("--resume needs --db FILE: the results to resume from are in a store");
        }
        return Ok((None, None));
    };
    if options.resume && !options.start_if_missing && !path.exists() {
        bail!(
            "--resume: there is no store {} to resume from (nothing to resume); run without --resume",
            path.display()
        );
    }
    let mut store = Store::open(path)?;
    let canonical = config.canonical();
    let existing = store.tournaments()?;
    if options.resume {
        if existing.is_empty() && !options.start_if_missing {
            bail!("--resume: store {} holds no tournament (nothing to resume); run without --resume", path.display());
        }
        if let Some(found) = existing.iter().rev().find(|t| t.config == canonical) {
            return Ok((Some(store), Some(found.id)));
        }
        if let Some(other) = existing.last().filter(|_| !options.start_if_missing) {
            bail!(
                "--resume: store {} holds tournament {} ({}) with a different config; start a new store or run without --resume\nstored: {}\nasked:  {}",
                path.display(),
                other.id,
                other.game,
                other.config,
                canonical
            );
        }
    }
    let id = store
        .create_tournament(&game.spec().to_string(), &canonical, agents, judges)
        .with_context(|| format!("store {}", path.display()))?;
    Ok((Some(store), Some(id)))
}
