//! The command used as a careless or hostile user would: misconfigured agents refused before the
//! first game, faults explained, values that make no sense refused, outputs that would destroy an
//! input refused, damaged stores named, terminal output stripped of control characters.

mod common;

use std::path::Path;

use common::{arena, json};

fn refused(args: &[&str]) -> String {
    let (ok, out, err) = arena(args);
    assert!(!ok, "accepted: arena {args:?}\n{out}");
    assert!(!err.contains("panicked"), "{err}");
    err
}

#[test]
fn agents_that_cannot_fill_their_seat_are_refused_before_the_first_game() {
    for (args, expected) in [
        (vec!["--game", "kuhn_poker", "--agents", "mcts(sims=10)", "random"], vec!["mcts", "imperfect information"]),
        (
            vec!["--game", "debate(judge=oracle)", "--agents", "random", "first"],
            vec!["`random`", "free text", "seat 0"],
        ),
        (
            vec!["--game", "debate(judge=seat)", "--agents", "jury(a=random,b=first)", "random", "--judge", "first"],
            vec!["jury", "free text"],
        ),
    ] {
        let mut full = vec!["play"];
        full.extend(args.iter().copied());
        full.extend(["--games", "2"]);
        let err = refused(&full);
        for word in expected {
            assert!(err.contains(word), "{full:?}: {err}");
        }
        assert!(err.contains("cannot play seat"), "{err}");
    }
    // A judge is asked about the judge seat, which takes a verdict: `first` may judge.
    let (ok, out, err) = arena(&[
        "play",
        "--game",
        "debate(judge=seat,rounds=1)",
        "--agents",
        "cmd(program=\"python3 ../examples/random_bot.py\")",
        "cmd(program=\"python3 ../examples/random_bot.py\")",
        "--judge",
        "first",
        "--games",
        "2",
        "--json",
    ]);
    assert!(ok, "{err}");
    assert_eq!(json(&out)["games"], 2);
    // A checkpoint trained for another game.
    let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
    let net = dir.path().join("ttt");
    let net_text = net.to_string_lossy().to_string();
    let (ok, _, err) =
        arena(&["checkpoint", "init", "--game", "tic_tac_toe", "--arch", "mlp(hidden=8,layers=1)", "--out", &net_text]);
    assert!(ok, "{err}");
    let spec = format!("checkpoint(path=\"{net_text}\",sims=2)");
    let err = refused(&["play", "--game", "connect_four", "--agents", &spec, "random", "--games", "2"]);
    assert!(err.contains("is for game `tic_tac_toe") && err.contains("connect_four"), "{err}");
}

/// A bot that crashes in some games and answers garbage in others.
fn unreliable_bot(dir: &Path) -> String {
    let path = dir.join("unreliable.py");
    let script = r#"import json, sys
moves = 0
for line in sys.stdin:
    m = json.loads(line)
    if m["type"] != "move":
        continue
    moves += 1
    if m["seed"] % 3 == 0:
        print("\x1b[31mbanana", flush=True)
    elif m["seed"] % 3 == 1:
        sys.stderr.write("something broke\n")
        sys.exit(4)
    else:
        print(json.dumps({"id": m["legal"][0]["id"]}), flush=True)
"#;
    std::fs::write(&path, script).unwrap_or_else(|e| panic!("{e}"));
    format!("cmd(program=\"python3 {}\")", path.display())
}

#[test]
fn faults_are_reported_by_kind_with_an_example_with_or_without_a_store() {
    let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
    let bot = unreliable_bot(dir.path());
    let db = dir.path().join("t.db");
    let db_text = db.to_string_lossy().to_string();
    for store in [None, Some(db_text.as_str())] {
        let mut args = vec!["play", "--game", "tic_tac_toe", "--agents", "random", &bot, "--games", "12"];
        if let Some(db) = store {
            args.extend(["--db", db]);
        }
        let (ok, out, err) = arena(&args);
        assert!(ok, "{err}");
        assert!(out.contains("endings:"), "{out}");
        let unreadable = out.lines().find(|l| l.contains("unreadable answer in")).unwrap_or_else(|| panic!("{out}"));
        assert!(unreadable.contains("e.g. match") && unreadable.contains("banana"), "{unreadable}");
        // The escape sequence the bot wrote reaches the terminal escaped, not raw.
        assert!(!out.contains('\u{1b}') && unreadable.contains("\\u{1b}"), "{unreadable}");
        let crash = out.lines().find(|l| l.contains("crash in")).unwrap_or_else(|| panic!("{out}"));
        assert!(crash.contains("exited") && crash.contains("something broke"), "{crash}");

        let mut json_args = args.clone();
        json_args.push("--json");
        if store.is_some() {
            json_args.push("--resume");
        }
        let (ok, out, err) = arena(&json_args);
        assert!(ok, "{err}");
        let report = json(&out);
        let faults = &report["faults"];
        assert!(faults["unparseable"]["games"].as_u64().is_some_and(|n| n > 0), "{report}");
        assert!(faults["crash"]["example"]["detail"].as_str().is_some_and(|d| d.contains("exited")), "{report}");
        assert_eq!(faults["crash"]["example"]["agent"].as_str(), Some(bot.as_str()), "{report}");
    }
}

#[test]
fn values_that_make_no_sense_are_refused() {
    let play = ["play", "--game", "tic_tac_toe", "--agents", "random", "first"];
    for (extra, expected) in [
        (vec!["--threads", "0"], "at least 1"),
        (vec!["--time-per-move-ms", "0"], "at least 1"),
        (vec!["--max-moves", "0"], "at least 1"),
        (vec!["--games", "0"], "at least 1"),
    ] {
        let mut args = play.to_vec();
        args.extend(extra.iter().copied());
        let err = refused(&args);
        assert!(err.contains(expected), "{args:?}: {err}");
    }
    let tournament = ["tournament", "--game", "tic_tac_toe", "--agents", "random", "first", "random"];
    for (extra, expected) in [
        (vec!["--rounds", "0"], "at least 1"),
        (vec!["--schedule", "gauntlet", "--rounds", "2"], "rounds is a setting of the swiss schedule"),
        (vec!["--schedule", "swiss", "--rounds", "5"], "at most 3 rounds without a repeated pairing"),
        (vec!["--threads", "0"], "at least 1"),
    ] {
        let mut args = tournament.to_vec();
        args.extend(extra.iter().copied());
        let err = refused(&args);
        assert!(err.contains(expected), "{args:?}: {err}");
    }
    let (ok, out, err) = arena(&[
        "tournament",
        "--game",
        "tic_tac_toe",
        "--agents",
        "random",
        "first",
        "random",
        "--schedule",
        "swiss",
        "--rounds",
        "3",
        "--games-per-pairing",
        "2",
    ]);
    assert!(ok, "{err}");
    assert!(out.contains("swiss tournament"), "{out}");
}

#[test]
fn score_lines_agree_with_the_results_and_unbounded_elo_is_said_in_words() {
    // Three games: one pair and a half; the score is the games' own.
    let (ok, out, err) = arena(&["play", "--game", "tic_tac_toe", "--agents", "random", "first", "--games", "3"]);
    assert!(ok, "{err}");
    let report =
        json(&arena(&["play", "--game", "tic_tac_toe", "--agents", "random", "first", "--games", "3", "--json"]).1);
    let (w, d, l) = (report["wins"].as_f64(), report["draws"].as_f64(), report["losses"].as_f64());
    let expected = w.zip(d).zip(l).map(|((w, d), l)| (w + d / 2.0) / (w + d + l)).unwrap_or(f64::NAN);
    assert!(report["score"].as_f64().is_some_and(|s| (s - expected).abs() < 1e-12), "{report}");
    assert_eq!(report["intervals_from"], "games", "{report}");
    assert!(out.contains(&format!("score {:.1}%", 100.0 * expected)), "{out}");

    // `first` against itself-like weakness: mcts wins every game of tic-tac-toe against `first`.
    let (ok, out, err) =
        arena(&["play", "--game", "tic_tac_toe", "--agents", "mcts(sims=400)", "first", "--games", "6"]);
    assert!(ok, "{err}");
    if out.contains("losses 0") && out.contains("draws 0") {
        assert!(out.contains("elo above +") && out.contains("won every game"), "{out}");
    }
    assert!(!out.contains("inf") && !out.contains("NaN"), "{out}");
    let report = json(
        &arena(&["play", "--game", "tic_tac_toe", "--agents", "first", "mcts(sims=400)", "--games", "6", "--json"]).1,
    );
    if report["wins"] == 0 && report["draws"] == 0 {
        assert!(
            report["elo"].is_null() && report["elo_bound_95"]["below"].as_f64().is_some_and(|b| b < 0.0),
            "{report}"
        );
    }
}

#[test]
fn an_output_that_is_an_input_or_not_a_plain_file_is_refused_and_the_input_survives() {
    let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
    let db = dir.path().join("t.db");
    let db_text = db.to_string_lossy().to_string();
    let (ok, _, err) =
        arena(&["play", "--game", "tic_tac_toe", "--agents", "random", "first", "--games", "4", "--db", &db_text]);
    assert!(ok, "{err}");
    let before = std::fs::read(&db).unwrap_or_default();
    let spelled = format!("{}/./t.db", dir.path().display());
    for out in [db_text.as_str(), spelled.as_str()] {
        let err = refused(&["export", "--db", &db_text, "--format", "battles", "--out", out]);
        assert!(err.contains("is the input"), "{err}");
    }
    let link = dir.path().join("link.jsonl");
    std::os::unix::fs::symlink(dir.path().join("elsewhere.jsonl"), &link).unwrap_or_else(|e| panic!("{e}"));
    let err = refused(&["export", "--db", &db_text, "--format", "battles", "--out", &link.to_string_lossy()]);
    assert!(err.contains("symbolic link"), "{err}");
    assert!(!dir.path().join("elsewhere.jsonl").exists());
    assert_eq!(std::fs::read(&db).unwrap_or_default(), before, "the store was changed");
    // `-` is standard output, not a file named `-`.
    let (ok, out, err) = arena(&["export", "--db", &db_text, "--format", "battles", "--out", "-"]);
    assert!(ok, "{err}");
    assert_eq!(out.lines().count(), 4, "{out}");
    assert!(out.lines().all(|l| serde_json::from_str::<serde_json::Value>(l).is_ok()), "{out}");
    assert!(!Path::new("-").exists());
    // A model converted onto itself.
    let model = dir.path().join("m.gguf");
    std::fs::write(&model, b"not really a model").unwrap_or_else(|e| panic!("{e}"));
    let model_text = model.to_string_lossy().to_string();
    let err = refused(&["convert-model", &model_text, &model_text]);
    assert!(err.contains("is the input"), "{err}");
    assert_eq!(std::fs::read(&model).unwrap_or_default(), b"not really a model");
}

#[test]
fn a_damaged_store_is_named_as_damaged() {
    let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
    let db = dir.path().join("t.db");
    let db_text = db.to_string_lossy().to_string();
    let (ok, _, err) = arena(&[
        "tournament",
        "--game",
        "connect_four",
        "--agents",
        "random",
        "first",
        "--games-per-pairing",
        "300",
        "--db",
        &db_text,
    ]);
    assert!(ok, "{err}");
    // Fold the WAL into the file, then overwrite a page in the middle with garbage.
    let conn = rusqlite::Connection::open(&db).unwrap_or_else(|e| panic!("{e}"));
    conn.execute_batch("PRAGMA wal_checkpoint(TRUNCATE); PRAGMA journal_mode=DELETE;")
        .unwrap_or_else(|e| panic!("{e}"));
    drop(conn);
    let mut bytes = std::fs::read(&db).unwrap_or_default();
    let pages = bytes.len() / 4096;
    assert!(pages > 4, "{pages} pages");
    let middle = (pages / 2) * 4096;
    for (i, byte) in bytes[middle..middle + 4096].iter_mut().enumerate() {
        *byte = (i * 37 % 251) as u8;
    }
    std::fs::write(&db, &bytes).unwrap_or_else(|e| panic!("{e}"));
    for args in
        [vec!["export", "--db", &db_text, "--format", "battles", "--out", "-"], vec!["ratings", "--db", &db_text]]
    {
        let err = refused(&args);
        assert!(err.contains("is damaged"), "{args:?}: {err}");
    }
}

#[test]
fn run_names_are_plain_names_and_resume_needs_something_to_resume() {
    let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
    for name in ["", "..", "../../escape", "a/b"] {
        let err = refused(&["evolve", "--name", name, "--generations", "1"]);
        assert!(err.contains("run name") && err.contains("plain name"), "{name}: {err}");
    }
    let run = dir.path().join("nothing-here");
    let err = refused(&["evolve", "--run", &run.to_string_lossy(), "--resume"]);
    assert!(err.contains("no run to resume"), "{err}");
    assert!(!run.exists());
    let db = dir.path().join("none.db");
    let err = refused(&[
        "play",
        "--game",
        "tic_tac_toe",
        "--agents",
        "random",
        "first",
        "--db",
        &db.to_string_lossy(),
        "--resume",
    ]);
    assert!(err.contains("no store") || err.contains("nothing to resume"), "{err}");
}

#[test]
fn duplicate_names_are_told_apart_and_names_reach_the_terminal_escaped() {
    let (ok, out, err) = arena(&[
        "tournament",
        "--game",
        "tic_tac_toe",
        "--agents",
        "random",
        "random",
        "first",
        "--games-per-pairing",
        "2",
    ]);
    assert!(ok, "{err}");
    assert!(out.contains("random#2"), "{out}");
    let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
    let results = dir.path().join("r.csv");
    std::fs::write(&results, "white,black,result\nrandom-long-name-a,random-long-name-b,1\nrandom-long-name-b,random-long-name-a,0.5\n\"evil\u{1b}[2J\",random-long-name-a,0\nrandom-long-name-b,\"evil\u{1b}[2J\",0\n")
        .unwrap_or_else(|e| panic!("{e}"));
    let (ok, out, err) = arena(&["ratings", "--results", &results.to_string_lossy(), "--los"]);
    assert!(ok, "{err}");
    assert!(!out.contains('\u{1b}'), "{out}");
    // The LOS matrix's columns are numbered like the rows, not cut-off names that collide.
    let header = out.lines().skip_while(|l| !l.starts_with("likelihood")).nth(1).unwrap_or_default();
    assert!(header.contains("#1") && header.contains("#2") && header.contains("#3"), "{out}");
    // Error messages too.
    std::fs::write(&results, "white,black,result\n\"evil\u{1b}[2J\",b,0\n").unwrap_or_else(|e| panic!("{e}"));
    let err = refused(&["ratings", "--results", &results.to_string_lossy()]);
    assert!(err.contains("evil\\u{1b}[2J") && !err.contains('\u{1b}'), "{err}");
}

#[test]
fn ctrl_c_ends_the_programs_the_bots_started() {
    let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
    let pids = dir.path().join("pids");
    let bot = dir.path().join("slow.py");
    arena_tests::write_spawning_bot(&bot, &pids, "        time.sleep(0.05)");
    let spec = format!("cmd(program=\"python3 {}\")", bot.display());
    let mut child = std::process::Command::new(env!("CARGO_BIN_EXE_arena"))
        .args(["play", "--game", "tic_tac_toe", "--agents", "random", &spec, "--games", "1000", "--threads", "1"])
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap_or_else(|e| panic!("{e}"));
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(30);
    while std::fs::read_to_string(&pids).unwrap_or_default().is_empty() && std::time::Instant::now() < deadline {
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
    let started = std::fs::read_to_string(&pids).unwrap_or_default();
    let sleeper = started.lines().next().unwrap_or_else(|| panic!("the bot never started")).to_string();
    let interrupted = std::process::Command::new("kill").args(["-INT", &child.id().to_string()]).status();
    assert!(interrupted.is_ok_and(|s| s.success()));
    let status = child.wait().unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(status.code(), Some(130), "{status:?}");
    assert!(
        arena_tests::still_running(&[&sleeper]).is_empty(),
        "the bot's background process {sleeper} outlived the arena"
    );
}
