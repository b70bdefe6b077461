//! External programs as agents: they play through the line protocol, and one that crashes, hangs
//! or answers garbage loses only that game and is restarted for the next.

use std::path::{Path, PathBuf};

use arena::engine::runner::EndKind;
use arena::engine::tournament::{AgentEntry, RunOptions, TournamentConfig, TournamentOutcome};
use arena::{Resources, Silent};

fn example_bot() -> String {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("../examples/random_bot.py");
    format!("cmd(program=\"python3 {}\")", path.display())
}

/// Writes a Python bot that misbehaves once, at its first move ever (a marker file remembers it
/// across restarts), in the given way, and otherwise plays the first legal move.
fn faulty_bot(dir: &Path, name: &str, behaviour: &str) -> PathBuf {
    let path = dir.join(format!("{name}.py"));
    let marker = dir.join(format!("{name}.misbehaved"));
    let script = format!(
        r#"import json, os, sys, time
for line in sys.stdin:
    m = json.loads(line)
    if m["type"] == "move":
        if not os.path.exists({marker:?}):
            open({marker:?}, "w").close()
{behaviour}
        print(json.dumps({{"id": m["legal"][0]["id"]}}), flush=True)
"#
    );
    std::fs::write(&path, script).unwrap_or_else(|e| panic!("{e}"));
    path
}

fn config(game: &str, agents: &[String], games: u32) -> TournamentConfig {
    let agents = AgentEntry::from_specs(agents).unwrap_or_else(|e| panic!("{e}"));
    TournamentConfig { games_per_pairing: games, seed: 3, ..TournamentConfig::new(game, agents) }
}

fn run_tournament(config: &TournamentConfig, options: &RunOptions) -> arena::Result<TournamentOutcome> {
    arena::engine::tournament::run_tournament(config, &Resources::new(), options, &Silent)
}

/// How many games ended `kind`.
fn ended(outcome: &TournamentOutcome, kind: EndKind) -> u64 {
    outcome.tally.end_reasons().iter().find(|(k, _)| *k == kind).map_or(0, |(_, n)| *n)
}

#[test]
fn the_example_python_bot_plays_full_games() {
    let config = config("tic_tac_toe", &["random".to_string(), example_bot()], 10);
    let outcome = run_tournament(&config, &RunOptions { threads: 1, ..RunOptions::default() })
        .unwrap_or_else(|e| panic!("{e:#}"));
    assert_eq!(outcome.tally.games(), 10);
    assert_eq!(ended(&outcome, EndKind::Normal), 10);
}

#[test]
fn a_misbehaving_program_loses_that_game_and_is_restarted() {
    let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
    for (name, behaviour, reason, detail) in [
        ("exits", "            sys.exit(3)", "crash", "exited"),
        ("hangs", "            time.sleep(30)", "timeout", "within"),
        ("garbage", "            print('banana', flush=True); continue", "unparseable", "banana"),
        ("illegal", "            print(json.dumps({'id': 99}), flush=True); continue", "illegal_action", "not legal"),
    ] {
        let bot = faulty_bot(dir.path(), name, behaviour);
        let spec = format!("cmd(program=\"python3 {}\",timeout_ms=500)", bot.display());
        let config = config("tic_tac_toe", &["random".to_string(), spec], 4);
        let db = dir.path().join(format!("{name}.db"));
        let options = RunOptions { threads: 1, db: Some(db.clone()), ..RunOptions::default() };
        let outcome = run_tournament(&config, &options).unwrap_or_else(|e| panic!("{name}: {e:#}"));
        // Its first game (in one process) is lost with the reason; the process is started again
        // and the remaining games are played normally.
        assert_eq!(outcome.tally.games(), 4, "{name}");
        let kind = EndKind::from_label(reason).unwrap_or_else(|| panic!("{reason} is an end reason"));
        assert_eq!(ended(&outcome, kind), 1, "{name}: {:?}", outcome.tally.end_reasons());
        assert_eq!(outcome.tally.totals(1).faults, 1, "{name}");
        let store = arena::store::Store::open(&db).unwrap_or_else(|e| panic!("{e:#}"));
        let id = outcome.tournament_id.unwrap_or_else(|| panic!("stored"));
        let faulty: Vec<_> = store
            .finished(id)
            .unwrap_or_else(|e| panic!("{e:#}"))
            .into_iter()
            .filter(|m| m.fault_seat.is_some())
            .collect();
        assert_eq!(faulty.len(), 1);
        let detail_text = rusqlite::Connection::open(&db)
            .and_then(|c| {
                c.query_row("SELECT fault_detail FROM matches WHERE fault_seat IS NOT NULL", [], |r| {
                    r.get::<_, String>(0)
                })
            })
            .unwrap_or_else(|e| panic!("{e}"));
        assert!(detail_text.contains(detail), "{name}: {detail_text}");
    }
}

#[test]
fn an_unstartable_program_loses_its_games_with_the_reason() {
    let config = config("tic_tac_toe", &["random".to_string(), "cmd(program=\"/no/such/program\")".to_string()], 2);
    let outcome = run_tournament(&config, &RunOptions { threads: 1, ..RunOptions::default() })
        .unwrap_or_else(|e| panic!("{e:#}"));
    assert_eq!(ended(&outcome, EndKind::Fault(arena::engine::runner::FaultKind::Crash)), 2);
}
