//! Games played by external programs (`proc(program=...)`): the shipped examples pass the
//! conformance kit and count their moves exactly; programs that die, hang, write garbage or
//! contradict themselves stop with a message naming the program and what went wrong.

mod common;

use std::path::{Path, PathBuf};

use games::conformance::{Config, check};
use games::{GameRef, Turn, load_game};

/// The folder of the example game programs.
fn examples() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("..").join("examples").join("games")
}

fn nim(heaps: &str) -> String {
    format!("proc(program=\"python3 {}\",heaps={heaps})", examples().join("nim.py").display())
}

/// Move sequences of nim from `heaps`, counted directly: every way to take 1..=size from a heap.
fn nim_perft(heaps: &mut Vec<u32>, depth: u32) -> u64 {
    if depth == 0 {
        return 1;
    }
    let mut total = 0;
    for h in 0..heaps.len() {
        for take in 1..=heaps[h] {
            heaps[h] -= take;
            total += nim_perft(heaps, depth - 1);
            heaps[h] += take;
        }
    }
    total
}

#[test]
fn nim_passes_the_conformance_kit_counts_its_moves_and_names_them() {
    let spec = nim("3-4-5");
    let game = common::game(&spec);
    assert_eq!((game.facts().name, game.facts().players, game.facts().num_distinct_actions), ("nim", 2, 15));
    let report = check(game.as_ref(), &Config { playouts: 300, seed: 3 }).unwrap_or_else(|v| panic!("{v}"));
    assert_eq!(report.playouts, 300);
    for depth in 0..=3 {
        let expected = nim_perft(&mut vec![3, 4, 5], depth);
        assert_eq!(
            games::perft::perft(game.new_initial_state().as_ref(), depth, games::perft::EndedGames::NotCounted),
            expected,
            "depth {depth}"
        );
    }
    // Names both ways; parameters reach the program; the winner takes the last object.
    let mut state = game.new_initial_state();
    let action = state.parse_action("3:5").unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(state.action_to_string(action), "3:5");
    assert!(state.parse_action("9:9").is_err());
    for text in ["3:5", "2:4", "1:2"] {
        state.apply_text(text).unwrap_or_else(|e| panic!("{text}: {e}"));
    }
    assert_eq!(state.turn(), Turn::Player(1));
    state.apply_text("1:1").unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(state.turn(), Turn::Terminal);
    assert_eq!((state.player_return(0), state.player_return(1)), (-1.0, 1.0), "player 1 took the last object");
    // A refused move leaves the state as it was.
    let mut state = game.new_initial_state();
    assert!(state.apply(4).is_err(), "heap 1 holds 3, not 5");
    assert_eq!(state.history().len(), 0);
    let small = common::game(&nim("1-2"));
    assert_eq!(small.facts().num_distinct_actions, 4);
}

#[test]
fn an_imperfect_information_program_with_chance_passes_the_kit() {
    let spec = format!("proc(program=\"python3 {}\",cards=4)", examples().join("one_card_poker.py").display());
    let game = common::game(&spec);
    let facts = game.facts();
    assert_eq!((facts.information, facts.chance, facts.max_chance_outcomes), (games::Information::Imperfect, true, 4));
    check(game.as_ref(), &Config { playouts: 300, seed: 5 }).unwrap_or_else(|v| panic!("{v}"));
    let mut state = game.new_initial_state();
    let mut outcomes = Vec::new();
    state.chance_outcomes(&mut outcomes);
    assert_eq!(outcomes, [(0, 0.25), (1, 0.25), (2, 0.25), (3, 0.25)]);
    state.apply(3).unwrap_or_else(|e| panic!("{e}"));
    state.apply(1).unwrap_or_else(|e| panic!("{e}"));
    // Each player sees their own card only.
    assert!(state.observation_string(0).contains("your card: 3"), "{}", state.observation_string(0));
    assert!(!state.observation_string(1).contains('3'), "{}", state.observation_string(1));
    for action in [1, 1] {
        state.apply(action).unwrap_or_else(|e| panic!("{e}"));
    }
    assert_eq!((state.player_return(0), state.player_return(1)), (2.0, -2.0), "a bet called; the 3 beats the 1");
}

/// A nim program that misbehaves as `body` (Python, run before each request is answered, with
/// `request` the parsed request and `applied` the count of `apply` requests so far).
fn misbehaving(dir: &Path, name: &str, body: &str) -> String {
    let script = format!(
        "import json, sys, time\nsys.path.insert(0, {examples:?})\nimport arena_game\nfrom nim import Nim\n\
         applied = 0\nreal_stdin = sys.stdin\nclass Watch:\n    def __iter__(self):\n        global applied\n\
         \x20       for line in real_stdin:\n            request = json.loads(line)\n\
         \x20           if request.get('cmd') == 'apply':\n                applied += 1\n{body}\n            yield line\n\
         sys.stdin = Watch()\narena_game.serve(Nim)\n",
        examples = examples().display().to_string(),
        body = body.lines().map(|l| format!("            {l}")).collect::<Vec<_>>().join("\n"),
    );
    let path = dir.join(name);
    std::fs::write(&path, script).unwrap_or_else(|e| panic!("{e}"));
    format!("proc(program=\"python3 {}\",heaps=3-4-5,timeout_ms=1500)", path.display())
}

/// Plays the first legal move until the end; the panic message if the game stopped it.
fn play_through(game: &GameRef) -> Option<String> {
    let game = game.clone();
    let played = std::panic::catch_unwind(std::panic::AssertUnwindSafe(move || {
        let mut state = game.new_initial_state();
        let mut legal = Vec::new();
        while state.turn() != Turn::Terminal {
            state.legal_actions(&mut legal);
            state.apply_unchecked(legal[0]);
        }
    }));
    played.err().map(|panic| {
        panic
            .downcast_ref::<String>()
            .cloned()
            .or_else(|| panic.downcast_ref::<&str>().map(|s| s.to_string()))
            .unwrap_or_default()
    })
}

#[test]
fn programs_that_die_hang_babble_or_contradict_themselves_stop_with_the_reason() {
    let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
    let cases = [
        (
            "dies.py",
            "if applied == 2:\n    sys.stderr.write('boom: out of cheese\\n'); sys.exit(3)",
            vec!["exited", "boom: out of cheese"],
        ),
        ("hangs.py", "if applied == 2:\n    time.sleep(30)", vec!["no answer within 1500 ms"]),
        (
            "babbles.py",
            "if applied == 2:\n    sys.stdout.write('hello there\\n'); sys.stdout.flush(); continue",
            vec!["`hello there` is not a JSON object"],
        ),
        (
            "contradicts.py",
            "if applied == 2:\n    sys.stdout.write(json.dumps({'error': 'no'}) + '\\n'); sys.stdout.flush(); continue",
            vec!["refused action", "listed as legal: no"],
        ),
    ];
    for (name, body, expected) in cases {
        let spec = misbehaving(dir.path(), name, body);
        let game = load_game(&spec).unwrap_or_else(|e| panic!("{name}: {e}"));
        let message = play_through(&game).unwrap_or_else(|| panic!("{name}: the game went through"));
        assert!(message.contains(name) && message.contains("failed after 1 moves"), "{name}: {message}");
        for part in expected {
            assert!(message.contains(part), "{name}: `{part}` not in: {message}");
        }
    }
    // A program that cannot start, or states nonsense facts, is refused when loading.
    let missing =
        load_game("proc(program=\"python3 no/such/game.py\")").err().map(|e| e.to_string()).unwrap_or_default();
    assert!(missing.contains("python3 no/such/game.py") && missing.contains("exited"), "{missing}");
    let empty = load_game("proc(timeout_ms=10)").err().map(|e| e.to_string()).unwrap_or_default();
    assert!(empty.contains("program"), "{empty}");
    let bad_facts = dir.path().join("bad_facts.py");
    std::fs::write(&bad_facts, "import sys, json\nfor line in sys.stdin:\n    print(json.dumps({'facts': {'name': 'x y', 'players': 2}, 'state': {}}), flush=True)\n")
        .unwrap_or_else(|e| panic!("{e}"));
    let refused = load_game(&format!("proc(program=\"python3 {}\")", bad_facts.display()))
        .err()
        .map(|e| e.to_string())
        .unwrap_or_default();
    assert!(refused.contains("facts"), "{refused}");
}
