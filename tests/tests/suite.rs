//! Position suites: reading (errors name the line), scoring agents (the solver is always right,
//! answers do not depend on threads) and making them (no duplicates, labels that agree).

use std::collections::HashSet;

use agents::AgentConfig;
use arena::suite::{MakeOptions, SuiteLine, make_suite, read_suite, run_suite};
use arena::{Resources, Silent};

fn write(dir: &std::path::Path, name: &str, lines: &[String]) -> std::path::PathBuf {
    let path = dir.join(name);
    std::fs::write(&path, lines.join("\n")).unwrap_or_else(|e| panic!("{e}"));
    path
}

fn made_on(game: &str, positions: usize, plies: (usize, usize), seed: u64, threads: usize) -> Vec<SuiteLine> {
    let game = games::load_game(game).unwrap_or_else(|e| panic!("{e}"));
    make_suite(&game, &MakeOptions { positions, plies, seed, threads }, &Silent).unwrap_or_else(|e| panic!("{e:#}"))
}

fn made(game: &str, positions: usize, plies: (usize, usize), seed: u64) -> Vec<SuiteLine> {
    made_on(game, positions, plies, seed, 2)
}

#[test]
fn made_suites_are_distinct_consistent_and_in_range() {
    for (game, plies) in [("connect_four", (18, 24)), ("tic_tac_toe", (1, 5))] {
        let lines = made(game, 20, plies, 4);
        assert_eq!(lines.len(), 20, "{game}");
        let mut seen = HashSet::new();
        for line in &lines {
            let moves = line.moves.split_whitespace().count();
            assert!((plies.0..=plies.1).contains(&moves), "{game}: {} plies", moves);
            assert!(seen.insert(line.moves.clone()), "{game}: repeated {}", line.moves);
            let values = line.values.as_ref().unwrap_or_else(|| panic!("values"));
            let top = values.values().copied().fold(f64::NEG_INFINITY, f64::max);
            let best: HashSet<&String> = values.iter().filter(|(_, v)| **v == top).map(|(m, _)| m).collect();
            assert_eq!(best, line.best.iter().collect::<HashSet<_>>(), "{game}: {}", line.moves);
        }
        // Reproducible from the seed, labelled on any number of threads.
        assert_eq!(made_on(game, 20, plies, 4, 1), lines, "{game}");
        assert_eq!(made_on(game, 20, plies, 4, 3), lines, "{game}");
    }
    // No position is the mirror image of another (connect four columns reversed).
    let lines = made("connect_four", 30, (16, 18), 9);
    let game = games::load_game("connect_four").unwrap_or_else(|e| panic!("{e}"));
    let boards: Vec<String> = lines
        .iter()
        .map(|l| {
            let mut state = game.new_initial_state();
            games::apply_move_list(state.as_mut(), &l.moves).unwrap_or_else(|e| panic!("{e}"));
            state.render()
        })
        .collect();
    for board in &boards {
        let rows: Vec<&str> = board.lines().filter(|l| !l.chars().all(|c| c.is_ascii_digit())).collect();
        let mirror: Vec<String> = rows.iter().map(|r| r.chars().rev().collect()).collect();
        let mirrored = boards.iter().filter(|other| {
            let theirs: Vec<&str> = other.lines().filter(|l| !l.chars().all(|c| c.is_ascii_digit())).collect();
            theirs.iter().map(|s| s.to_string()).collect::<Vec<_>>() == mirror
                && mirror.iter().map(String::as_str).collect::<Vec<_>>() != rows
        });
        assert_eq!(mirrored.count(), 0);
    }
}

#[test]
fn the_solver_finds_every_optimal_move_and_answers_do_not_depend_on_threads() {
    let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
    let lines: Vec<String> =
        made("connect_four", 24, (18, 26), 2).iter().map(|l| serde_json::to_string(l).unwrap_or_default()).collect();
    let path = write(dir.path(), "suite.jsonl", &lines);
    let game = games::load_game("connect_four").unwrap_or_else(|e| panic!("{e}"));
    let positions = read_suite(&path, game.as_ref()).unwrap_or_else(|e| panic!("{e:#}"));
    let resources = Resources::new();
    let run = |agent: &str, threads: usize| {
        let agent = AgentConfig::parse(agent).unwrap_or_else(|e| panic!("{e}"));
        run_suite(&game, &positions, &agent, &resources, threads, 7, &Silent).unwrap_or_else(|e| panic!("{e:#}"))
    };
    let perfect = run("solver", 2);
    assert_eq!(perfect.overall.optimal.hits, 24);
    assert_eq!(perfect.overall.keeps_value.map(|s| s.hits), Some(24));
    let random = run("random", 1);
    assert!(random.overall.optimal.hits < 24, "{:?}", random.overall);
    assert_eq!(run("random", 2).answers, random.answers, "answers depend on the thread count");
    assert_eq!(random.stages.iter().map(|s| s.optimal.positions).sum::<u64>(), 24);
}

#[test]
fn bad_suite_lines_are_named() {
    let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
    let game = games::load_game("tic_tac_toe").unwrap_or_else(|e| panic!("{e}"));
    for (line, expected) in [
        (r#"{"moves": "a1 b1", "best": ["a1"]}"#, "not legal"),
        (r#"{"moves": "a1 b1", "best": []}"#, "`best` is empty"),
        (r#"{"moves": "a1 b1 a2 b2 a3", "best": ["c3"]}"#, "not a player's decision"),
        (r#"{"moves": "a1 zz", "best": ["c3"]}"#, "zz"),
        (r#"{"moves": "a1", "best": ["b2"], "values": {"b2": 0}}"#, "gives 1 of the 8 legal moves"),
        (r#"{"moves": "a1", "best": ["b2"], "bestest": 1}"#, "bestest"),
        ("not json", "line 2"),
    ] {
        let path =
            write(dir.path(), "bad.jsonl", &[r#"{"moves": "", "best": ["b2", "a1"]}"#.to_string(), line.to_string()]);
        let error = read_suite(&path, game.as_ref()).map(|p| p.len()).map_err(|e| format!("{e:#}"));
        let message = error.err().unwrap_or_else(|| panic!("accepted: {line}"));
        assert!(message.contains("bad.jsonl line 2") && message.contains(expected), "{line}: {message}");
    }
}
