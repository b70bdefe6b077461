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
        let options = RunOptions { threads: 1, db: Some(db.clone().into()), ..RunOptions::default() };
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

/// Runs a one-bot tournament (random against `program`, 4 games of tic-tac-toe, stored) and
/// returns the outcome and every stored fault detail.
fn hostile(dir: &Path, name: &str, program: &str) -> (TournamentOutcome, Vec<String>) {
    let spec = format!("cmd(program=\"{}\",timeout_ms=2000)", program.replace('\\', "\\\\").replace('"', "\\\""));
    let config = config("tic_tac_toe", &["random".to_string(), spec], 4);
    let db = dir.join(format!("{name}.db"));
    let options = RunOptions { threads: 1, db: Some(db.clone().into()), ..RunOptions::default() };
    let outcome = run_tournament(&config, &options).unwrap_or_else(|e| panic!("{name}: {e:#}"));
    let details = rusqlite::Connection::open(&db)
        .and_then(|c| {
            c.prepare("SELECT fault_detail FROM matches WHERE fault_seat IS NOT NULL ORDER BY idx")?
                .query_map([], |r| r.get::<_, String>(0))?
                .collect::<rusqlite::Result<Vec<_>>>()
        })
        .unwrap_or_else(|e| panic!("{e}"));
    (outcome, details)
}

#[test]
fn hostile_programs_lose_their_game_within_bounds_and_the_run_goes_on() {
    use arena::engine::runner::FaultKind;
    let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
    for (name, behaviour, kind, detail) in [
        // Bytes without a newline, forever: cut at the cap, never buffered whole.
        (
            "flood",
            "            while True: sys.stdout.write('x' * 65536); sys.stdout.flush()",
            FaultKind::TooLong,
            "answer too long: over 65536 bytes",
        ),
        // A 5 MB line: the same fault; what is stored is an excerpt.
        ("huge", "            print('y' * 5_000_000, flush=True); continue", FaultKind::TooLong, "yyyy"),
        // 60 KB of garbage, under the cap: unreadable, and the stored detail is bounded.
        ("garbage", "            print('z' * 60_000, flush=True); continue", FaultKind::Unparseable, "bytes in all"),
        // Bytes that are not UTF-8: said so, while the program keeps running.
        (
            "binary",
            "            sys.stdout.buffer.write(b'\\xff\\xfe\\n'); sys.stdout.flush(); continue",
            FaultKind::Unparseable,
            "not UTF-8",
        ),
    ] {
        let bot = faulty_bot(dir.path(), name, behaviour);
        let (outcome, details) = hostile(dir.path(), name, &format!("python3 {}", bot.display()));
        assert_eq!(outcome.tally.games(), 4, "{name}");
        assert_eq!(ended(&outcome, EndKind::Fault(kind)), 1, "{name}: {:?}", outcome.tally.end_reasons());
        assert_eq!(ended(&outcome, EndKind::Normal), 3, "{name}");
        assert_eq!(details.len(), 1, "{name}");
        assert!(details[0].contains(detail), "{name}: {}", &details[0][..details[0].len().min(300)]);
        assert!(details[0].len() <= 2048 + 64, "{name}: {} bytes stored", details[0].len());
    }
}

#[test]
fn the_program_line_runs_in_a_shell_with_the_arena_s_directory_and_environment() {
    let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
    let bots = dir.path().join("bots");
    std::fs::create_dir(&bots).unwrap_or_else(|e| panic!("{e}"));
    std::fs::write(
        bots.join("picky.py"),
        r#"import json, os, sys
ok = os.environ.get("BOT_MOOD") == "calm" and os.path.basename(os.getcwd()) == "bots"
for line in sys.stdin:
    m = json.loads(line)
    if m["type"] == "move":
        print(json.dumps({"id": m["legal"][0]["id"]}) if ok else "wrong place", flush=True)
"#,
    )
    .unwrap_or_else(|e| panic!("{e}"));
    // `cd DIR && VAR=value program`, and a pipeline: the shell runs the line as written.
    for program in [
        format!("cd {} && BOT_MOOD=calm python3 picky.py", bots.display()),
        format!("cd {} && BOT_MOOD=calm python3 picky.py | cat", bots.display()),
    ] {
        let (outcome, details) = hostile(dir.path(), "picky", &program);
        assert_eq!(ended(&outcome, EndKind::Normal), 4, "{program}: {details:?}");
        std::fs::remove_file(dir.path().join("picky.db")).unwrap_or_else(|e| panic!("{e}"));
    }
}

#[test]
fn what_a_program_starts_in_the_background_ends_with_it() {
    let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
    let pids = dir.path().join("pids");
    let bot = dir.path().join("spawner.py");
    arena_tests::write_spawning_bot(&bot, &pids, "        if m[\"seed\"] % 4 == 0:\n            time.sleep(30)");
    // Also through a shell line that starts something itself.
    let program = format!("sleep 1000 & echo $! >> {} && python3 {}", pids.display(), bot.display());
    let spec = format!("cmd(program=\"{}\",timeout_ms=300)", program.replace('"', "\\\""));
    let config = config("tic_tac_toe", &["random".to_string(), spec], 6);
    let outcome = run_tournament(&config, &RunOptions { threads: 1, ..RunOptions::default() })
        .unwrap_or_else(|e| panic!("{e:#}"));
    assert_eq!(outcome.tally.games(), 6);
    let started = std::fs::read_to_string(&pids).unwrap_or_default();
    let started: Vec<&str> = started.lines().collect();
    assert!(started.len() >= 2, "{started:?}");
    // Every process any of the program's runs started is gone once the tournament is over (the
    // ones of a timed-out run already when it timed out).
    let alive = arena_tests::still_running(&started);
    assert!(alive.is_empty(), "still running: {alive:?}");
}
