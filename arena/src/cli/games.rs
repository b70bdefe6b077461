//! The game commands: `arena games`, `arena perft`, `arena show` and `arena check`.

use std::io::Write;
use std::time::Instant;

use anyhow::{Context, Result, bail};
use arena::Progress;
use games::perft::{EndedGames, perft as count_moves};
use games::{Registry, State, Turn, apply_move_list, record_of};
use serde_json::json;

/// Arguments of `arena games`.
#[derive(Debug, clap::Args)]
pub struct GamesArgs {
    /// Print JSON instead of a table.
    #[arg(long)]
    pub json: bool,
}

/// Lists the registered games with their facts and parameters.
pub fn games(args: &GamesArgs, registry: &Registry, out: &mut dyn Write) -> Result<()> {
    let mut listed = Vec::new();
    // A game process has no defaults to load: it is listed with its parameters only.
    let processes: Vec<_> = registry.games().iter().filter(|r| r.name == games::process::PROC).collect();
    for registration in registry.games().iter().filter(|r| r.name != games::process::PROC) {
        let game = registry
            .load(registration.name)
            .with_context(|| format!("loading `{}` with its defaults", registration.name))?;
        listed.push((registration, game));
    }
    if args.json {
        let items: Vec<_> = listed
            .iter()
            .map(|(registration, game)| {
                json!({
                    "name": registration.name,
                    "summary": registration.summary,
                    "default_spec": game.spec().to_string(),
                    "facts": game.facts(),
                    "parameters": registration.params.iter().map(|p| json!({
                        "name": p.name, "default": p.default, "doc": p.doc, "description": p.describe(),
                    })).collect::<Vec<_>>(),
                })
            })
            .chain(processes.iter().map(|registration| {
                json!({
                    "name": registration.name,
                    "summary": registration.summary,
                    "parameters": registration.params.iter().map(|p| json!({
                        "name": p.name, "default": p.default, "doc": p.doc, "description": p.describe(),
                    })).collect::<Vec<_>>(),
                })
            }))
            .collect();
        writeln!(out, "{}", serde_json::to_string_pretty(&items)?)?;
        return Ok(());
    }
    for (registration, game) in &listed {
        let facts = game.facts();
        writeln!(out, "{}  —  {}", registration.name, registration.summary)?;
        writeln!(
            out,
            "    {} players, {}, {} information, {}, {} actions, at most {} moves, observation {:?}",
            facts.players,
            if facts.chance { "chance" } else { "no chance" },
            format!("{:?}", facts.information).to_lowercase(),
            if facts.utility == games::Utility::ZeroSum { "zero-sum" } else { "general-sum" },
            facts.num_distinct_actions,
            facts.max_game_length,
            facts.observation_shape,
        )?;
        for param in registration.params {
            writeln!(out, "    {}", param.describe())?;
        }
    }
    for registration in processes {
        writeln!(out, "{}  —  {}", registration.name, registration.summary)?;
        for param in registration.params {
            writeln!(out, "    {}", param.describe())?;
        }
    }
    Ok(())
}

/// Arguments of `arena perft`.
#[derive(Debug, clap::Args)]
pub struct PerftArgs {
    /// The game, e.g. `connect_four` or `hex(size=4)`.
    #[arg(long)]
    pub game: String,
    /// Number of moves to count to.
    #[arg(long)]
    pub depth: u32,
    /// Moves to play first (as for `arena show`).
    #[arg(long, default_value = "")]
    pub moves: String,
    /// Count a game that ended early as one leaf at deeper depths (Othello's published tables).
    #[arg(long)]
    pub count_ended_games: bool,
    /// Also print the count below each first move (to find where two move generators differ).
    #[arg(long)]
    pub divide: bool,
    /// Print JSON.
    #[arg(long)]
    pub json: bool,
}

/// Counts move sequences to a depth and reports the speed.
pub fn perft(args: &PerftArgs, registry: &Registry, out: &mut dyn Write) -> Result<()> {
    let game = registry.load(&args.game)?;
    let mut state = game.new_initial_state();
    apply_move_list(state.as_mut(), &args.moves).with_context(|| format!("--moves `{}`", args.moves))?;
    let ended = if args.count_ended_games { EndedGames::CountedAsLeaf } else { EndedGames::NotCounted };
    let started = Instant::now();
    let mut divided = Vec::new();
    let count = survive_game(&args.game, || {
        if args.divide && args.depth > 0 && state.turn() != Turn::Terminal {
            let mut total = 0;
            for (text, child) in children(state.as_ref()) {
                let n = count_moves(child.as_ref(), args.depth - 1, ended);
                divided.push((text, n));
                total += n;
            }
            total
        } else {
            count_moves(state.as_ref(), args.depth, ended)
        }
    })?;
    let seconds = started.elapsed().as_secs_f64();
    let nodes_per_s = count as f64 / seconds.max(1e-9);
    if args.json {
        let divide: serde_json::Map<_, _> = divided.iter().map(|(t, n)| (t.clone(), json!(n))).collect();
        let mut value = json!({
            "game": game.spec().to_string(), "depth": args.depth, "count": count,
            "seconds": seconds, "nodes_per_s": nodes_per_s,
        });
        if args.divide {
            value["divide"] = serde_json::Value::Object(divide);
        }
        writeln!(out, "{value}")?;
    } else {
        for (text, n) in &divided {
            writeln!(out, "{text}: {n}")?;
        }
        writeln!(out, "perft({}) of {} = {count}", args.depth, game.spec())?;
        writeln!(out, "{seconds:.3} s, {} nodes/s", human(nodes_per_s))?;
    }
    Ok(())
}

/// Each move from `state` (chance outcomes included) with its text and the resulting state.
fn children(state: &dyn State) -> Vec<(String, Box<dyn State>)> {
    let mut actions = Vec::new();
    if state.turn() == Turn::Chance {
        let mut outcomes = Vec::new();
        state.chance_outcomes(&mut outcomes);
        actions.extend(outcomes.iter().map(|&(a, _)| a));
    } else {
        state.legal_actions(&mut actions);
    }
    actions
        .into_iter()
        .map(|action| {
            let mut child = state.clone_box();
            child.apply_unchecked(action);
            (state.action_to_string(action), child)
        })
        .collect()
}

fn human(x: f64) -> String {
    match x {
        x if x >= 1e9 => format!("{:.2}G", x / 1e9),
        x if x >= 1e6 => format!("{:.2}M", x / 1e6),
        x if x >= 1e3 => format!("{:.1}k", x / 1e3),
        x => format!("{x:.0}"),
    }
}

/// Arguments of `arena show`.
#[derive(Debug, clap::Args)]
pub struct ShowArgs {
    /// The game, e.g. `othello`.
    #[arg(long)]
    pub game: String,
    /// Moves from the start: `"4 4 5"`, `"d3,c5"` or compact `"4453"`.
    #[arg(long, default_value = "")]
    pub moves: String,
    /// Show what this player sees (its observation text) instead of the whole position.
    #[arg(long)]
    pub player: Option<usize>,
    /// Print JSON.
    #[arg(long)]
    pub json: bool,
}

/// Renders the position after a list of moves.
pub fn show(args: &ShowArgs, registry: &Registry, out: &mut dyn Write) -> Result<()> {
    let game = registry.load(&args.game)?;
    let facts = game.facts();
    if let Some(player) = args.player.filter(|&p| p >= facts.players) {
        bail!("--player {player}: {} has players 0..{}", facts.name, facts.players - 1);
    }
    let mut state = game.new_initial_state();
    apply_move_list(state.as_mut(), &args.moves).with_context(|| format!("--moves `{}`", args.moves))?;
    let legal: Vec<String> = children(state.as_ref()).into_iter().map(|(text, _)| text).collect();
    let turn = match state.turn() {
        Turn::Player(p) => format!("player {p} to move"),
        Turn::Chance => "chance to move".to_string(),
        Turn::Terminal => {
            let returns = games::returns(state.as_ref(), facts.players);
            format!("game over, returns {returns:?}")
        }
    };
    let view = match args.player {
        Some(p) => state.observation_string(p),
        None => state.render(),
    };
    if args.json {
        let value = json!({
            "record": record_of(game.as_ref(), state.as_ref()),
            "turn": turn,
            "legal": legal,
            "view": view,
            "returns": state.is_terminal().then(|| games::returns(state.as_ref(), facts.players)),
        });
        writeln!(out, "{value}")?;
    } else {
        writeln!(out, "{}", game.spec())?;
        write!(out, "{view}")?;
        if !view.ends_with('\n') {
            writeln!(out)?;
        }
        writeln!(out, "{turn}")?;
        if !legal.is_empty() {
            writeln!(out, "moves: {}", legal.join(" "))?;
        }
    }
    Ok(())
}

/// Arguments of `arena check`.
#[derive(Debug, clap::Args)]
pub struct CheckArgs {
    /// The game to check, e.g. `hex(size=7,swap=true)`.
    #[arg(long)]
    pub game: String,
    /// Number of random games to play through.
    #[arg(long, default_value_t = 2000)]
    pub playouts: usize,
    /// Seed of the first playout.
    #[arg(long, default_value_t = 0)]
    pub seed: u64,
    /// Print JSON.
    #[arg(long)]
    pub json: bool,
}

/// Runs `work` on a game; a panic in the game's code (a game process that died, hung or answered
/// nonsense) is an error naming the game and what went wrong, not a crash.
pub(crate) fn survive_game<T>(game: &str, work: impl FnOnce() -> T) -> Result<T> {
    std::panic::catch_unwind(std::panic::AssertUnwindSafe(work)).map_err(|panic| {
        let text = panic
            .downcast_ref::<&str>()
            .map(|s| s.to_string())
            .or_else(|| panic.downcast_ref::<String>().cloned())
            .unwrap_or_else(|| "unknown panic payload".to_string());
        anyhow::anyhow!("game `{game}` stopped: {text}")
    })
}

/// Runs the conformance kit on a game.
pub fn check(args: &CheckArgs, registry: &Registry, out: &mut dyn Write) -> Result<()> {
    let game = registry.load(&args.game)?;
    let config = games::conformance::Config { playouts: args.playouts, seed: args.seed };
    let started = Instant::now();
    let bars = super::Bars::new(!args.json);
    bars.begin("playouts", args.playouts as u64);
    // Reporting every playout would cost more than a fast game's playout.
    let step = (args.playouts / 200).max(1);
    let report = survive_game(&args.game, || {
        games::conformance::check_with_progress(game.as_ref(), &config, &mut |done| {
            if done % step == 0 {
                bars.set_done(done as u64);
            }
        })
    });
    bars.end();
    let report = report??;
    let seconds = started.elapsed().as_secs_f64();
    if args.json {
        writeln!(out, "{}", serde_json::to_string(&report)?)?;
    } else {
        writeln!(out, "{}: conformance passed ({} checks in {seconds:.2} s)", report.game, report.checks)?;
        writeln!(
            out,
            "{} playouts, mean length {:.1}, longest {}, wins by player {:?}, ties {}",
            report.playouts,
            report.mean_length(),
            report.longest_game,
            report.wins_by_player,
            report.ties
        )?;
    }
    Ok(())
}
