//! `arena ratings` end to end: results files in, the reference fit out, clear errors for bad input.

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};

use serde_json::Value;

type BoxResult<T> = Result<T, Box<dyn std::error::Error>>;
type TestResult = BoxResult<()>;

const NAMES: [&str; 8] = ["random", "alpha", "beta", "gamma", "delta", "epsilon", "zeta", "eta"];

/// A fresh directory for one test's files.
fn temp_dir(test: &str) -> BoxResult<PathBuf> {
    static COUNTER: AtomicUsize = AtomicUsize::new(0);
    let dir = std::env::temp_dir().join(format!(
        "arena-ratings-cli-{}-{}-{test}",
        std::process::id(),
        COUNTER.fetch_add(1, Ordering::Relaxed)
    ));
    std::fs::create_dir_all(&dir)?;
    Ok(dir)
}

fn reference() -> BoxResult<Value> {
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/../ratings/testdata/bradley_terry_small.json");
    Ok(serde_json::from_str(&std::fs::read_to_string(path)?)?)
}

/// The reference games as `(first, second, result from first's side)` with result "1", "0.5", "0".
fn reference_games(data: &Value) -> BoxResult<Vec<(usize, usize, &'static str)>> {
    let mut games = Vec::new();
    for pair in data["pairs"].as_array().ok_or("pairs")? {
        let get = |k: &str| pair[k].as_u64().map(|v| v as usize).ok_or(format!("{k} missing"));
        let (first, second) = (get("first")?, get("second")?);
        for (key, result) in [("wins", "1"), ("draws", "0.5"), ("losses", "0")] {
            games.extend(std::iter::repeat_n((first, second, result), get(key)?));
        }
    }
    Ok(games)
}

fn write_reference_csv(dir: &Path) -> BoxResult<PathBuf> {
    let mut text = String::from("white,black,result\n");
    for (first, second, result) in reference_games(&reference()?)? {
        text.push_str(&format!("{},{},{result}\n", NAMES[first], NAMES[second]));
    }
    let path = dir.join("reference.csv");
    std::fs::write(&path, text)?;
    Ok(path)
}

/// What `arena ratings ARGS` prints, or what it printed on stderr (the full chain of causes).
fn ratings_output(args: &[&str]) -> Result<String, String> {
    let binary = Path::new(env!("CARGO_BIN_EXE_arena"));
    let args: Vec<&str> = std::iter::once("ratings").chain(args.iter().copied()).collect();
    let output = arena_tests::run_program(binary, &args);
    if output.success { Ok(output.stdout) } else { Err(output.stderr) }
}

/// `--json` output as name → player object.
fn by_name(json: &str) -> BoxResult<std::collections::HashMap<String, Value>> {
    let players: Vec<Value> = serde_json::from_str(json)?;
    Ok(players.into_iter().map(|p| (p["name"].as_str().unwrap_or_default().to_owned(), p)).collect())
}

#[test]
fn reference_csv_reproduces_the_reference_fit() -> TestResult {
    let dir = temp_dir("reference")?;
    let csv = write_reference_csv(&dir)?;
    let csv = csv.to_str().ok_or("path")?;
    let players = by_name(&ratings_output(&["--results", csv, "--anchor", "random=0", "--json"])?)?;
    let data = reference()?;
    for (index, name) in NAMES.iter().enumerate() {
        let player = players.get(*name).ok_or(format!("{name} missing"))?;
        let want = data["mle_ratings"][index].as_f64().ok_or("mle_ratings")?;
        let got = player["rating"].as_f64().ok_or("rating")?;
        assert!((got - want).abs() < 1e-6, "{name}: {got} vs {want}");
        for key in ["ci_low", "ci_high", "games", "score", "draws", "rank", "rank_low", "rank_high"] {
            assert!(!player[key].is_null(), "{name} lacks {key}");
        }
        assert!(player["ci_low"].as_f64() <= Some(got) && Some(got) <= player["ci_high"].as_f64());
    }
    assert_eq!(players["zeta"]["rank"], 1, "zeta has the highest reference rating");
    assert_eq!(players["random"]["ci_low"], 0.0, "the anchor has no uncertainty");
    std::fs::remove_dir_all(dir)?;
    Ok(())
}

#[test]
fn anchor_shifts_every_rating_by_the_same_amount() -> TestResult {
    let dir = temp_dir("anchor")?;
    let csv = write_reference_csv(&dir)?;
    let csv = csv.to_str().ok_or("path")?;
    let free = by_name(&ratings_output(&["--results", csv, "--json"])?)?;
    let anchored = by_name(&ratings_output(&["--results", csv, "--json", "--anchor", "beta=1000"])?)?;
    assert_eq!(anchored["beta"]["rating"], 1000.0);
    let shift = 1000.0 - free["beta"]["rating"].as_f64().ok_or("rating")?;
    for name in NAMES {
        let (a, f) = (anchored[name]["rating"].as_f64(), free[name]["rating"].as_f64());
        assert!((a.ok_or("a")? - f.ok_or("f")? - shift).abs() < 1e-9, "{name}");
    }
    std::fs::remove_dir_all(dir)?;
    Ok(())
}

#[test]
fn chatbot_arena_battles_give_the_same_fit_as_csv() -> TestResult {
    let dir = temp_dir("arena-battles")?;
    let csv = write_reference_csv(&dir)?;
    let mut lines = String::new();
    let mut array = Vec::new();
    for (first, second, result) in reference_games(&reference()?)? {
        let winner = match result {
            "1" => "model_a",
            "0" => "model_b",
            _ if first % 2 == 0 => "tie",
            _ => "tie (bothbad)",
        };
        let battle = serde_json::json!({
            "model_a": NAMES[first], "model_b": NAMES[second], "winner": winner, "judge": "someone", "turn": 1
        });
        lines.push_str(&battle.to_string());
        lines.push('\n');
        array.push(battle);
    }
    let jsonl = dir.join("battles.jsonl");
    std::fs::write(&jsonl, lines)?;
    let json = dir.join("battles.json");
    std::fs::write(&json, serde_json::to_string(&array)?)?;
    let from_csv = ratings_output(&["--results", csv.to_str().ok_or("path")?, "--json"])?;
    assert_eq!(ratings_output(&["--results", jsonl.to_str().ok_or("path")?, "--json"])?, from_csv);
    assert_eq!(ratings_output(&["--results", json.to_str().ok_or("path")?, "--json"])?, from_csv);
    std::fs::remove_dir_all(dir)?;
    Ok(())
}

#[test]
fn pgn_style_results_and_extra_columns_are_accepted() -> TestResult {
    let dir = temp_dir("pgn-style")?;
    let path = dir.join("games.txt");
    std::fs::write(&path, "round,black,white,result\n1,b,a,1-0\n2,a,b,1/2-1/2\n\n3,b,a,0-1\n4,a,b,1-0\r\n")?;
    let players = by_name(&ratings_output(&["--results", path.to_str().ok_or("path")?, "--json"])?)?;
    // a scores 1 + 0.5 + 0 + 0 = 1.5 of 4 against b.
    assert_eq!(players["a"]["games"], 4);
    assert_eq!(players["a"]["score"], 0.375);
    assert_eq!(players["a"]["draws"], 0.25);
    std::fs::remove_dir_all(dir)?;
    Ok(())
}

#[test]
fn quoted_names_may_hold_commas_and_quotes() -> TestResult {
    let dir = temp_dir("quoted")?;
    let path = dir.join("quoted.csv");
    std::fs::write(
        &path,
        "white,black,result\n\"smith, j\",\"the \"\"best\"\"\",1\n\"the \"\"best\"\"\",\"smith, j\",1\n",
    )?;
    let players = by_name(&ratings_output(&["--results", path.to_str().ok_or("path")?, "--json"])?)?;
    assert_eq!(players["smith, j"]["games"], 2);
    assert_eq!(players["the \"best\""]["score"], 0.5);
    std::fs::remove_dir_all(dir)?;
    Ok(())
}

#[test]
fn a_malformed_line_is_named_by_file_and_line_number() -> TestResult {
    let dir = temp_dir("malformed")?;
    let path = dir.join("bad.csv");
    std::fs::write(&path, "white,black,result\na,b,1\nb,a,0.5\na,b,win\nb,a,0\n")?;
    let error = ratings_output(&["--results", path.to_str().ok_or("path")?]).err().ok_or("no error")?;
    let message = format!("{error:#}");
    assert!(message.contains("bad.csv line 4"), "{message}");
    assert!(message.contains("'win'"), "{message}");
    std::fs::write(&path, "white,black,result\na,b,1\na,a,0\n")?;
    let message =
        format!("{:#}", ratings_output(&["--results", path.to_str().ok_or("path")?]).err().ok_or("no error")?);
    assert!(message.contains("line 3") && message.contains("same player 'a'"), "{message}");
    let jsonl = dir.join("bad.jsonl");
    std::fs::write(&jsonl, "{\"model_a\":\"x\",\"model_b\":\"y\",\"winner\":\"tie\"}\n{\"model_a\":\"x\"\n")?;
    let message =
        format!("{:#}", ratings_output(&["--results", jsonl.to_str().ok_or("path")?]).err().ok_or("no error")?);
    assert!(message.contains("bad.jsonl line 2"), "{message}");
    std::fs::remove_dir_all(dir)?;
    Ok(())
}

#[test]
fn a_missing_header_column_is_an_error() -> TestResult {
    let dir = temp_dir("header")?;
    let path = dir.join("nohead.csv");
    std::fs::write(&path, "a,b,1\nb,a,0\n")?;
    let message =
        format!("{:#}", ratings_output(&["--results", path.to_str().ok_or("path")?]).err().ok_or("no error")?);
    assert!(message.contains("line 1") && message.contains("white, black and result"), "{message}");
    std::fs::remove_dir_all(dir)?;
    Ok(())
}

#[test]
fn a_player_who_won_everything_is_named_in_the_error() -> TestResult {
    let dir = temp_dir("unbounded")?;
    let path = dir.join("games.csv");
    std::fs::write(&path, "white,black,result\nann,bob,1\nbob,ann,0.5\ncarl,ann,1\ncarl,bob,1\n")?;
    let message =
        format!("{:#}", ratings_output(&["--results", path.to_str().ok_or("path")?]).err().ok_or("no error")?);
    assert!(message.contains("'carl'") && message.contains("won every game"), "{message}");
    std::fs::remove_dir_all(dir)?;
    Ok(())
}

#[test]
fn bad_anchors_and_the_store_get_clear_errors() -> TestResult {
    let dir = temp_dir("errors")?;
    let csv = write_reference_csv(&dir)?;
    let csv = csv.to_str().ok_or("path")?;
    for (args, expected) in [
        (vec!["--results", csv, "--anchor", "nobody=0"], "no player named 'nobody'"),
        (vec!["--results", csv, "--anchor", "beta=high"], "'high' is not a finite number"),
        (vec!["--results", csv, "--anchor", "beta"], "expected NAME=VALUE"),
        (vec!["--db", "no-such-store.db"], "store no-such-store.db does not exist"),
        (vec!["--results", csv, "--method", "elo", "--bootstrap", "10"], "--bootstrap needs --method bt"),
    ] {
        let message = format!("{:#}", ratings_output(&args).err().ok_or("no error")?);
        assert!(message.contains(expected), "{args:?}: {message}");
    }
    std::fs::remove_dir_all(dir)?;
    Ok(())
}

#[test]
fn bootstrap_output_does_not_depend_on_the_thread_count() -> TestResult {
    let dir = temp_dir("threads")?;
    let csv = write_reference_csv(&dir)?;
    let csv = csv.to_str().ok_or("path")?;
    let one = ratings_output(&["--results", csv, "--bootstrap", "50", "--seed", "7", "--threads", "1", "--json"])?;
    let two = ratings_output(&["--results", csv, "--bootstrap", "50", "--seed", "7", "--threads", "3", "--json"])?;
    assert_eq!(one, two);
    std::fs::remove_dir_all(dir)?;
    Ok(())
}

#[test]
fn every_method_prints_a_table() -> TestResult {
    let dir = temp_dir("methods")?;
    let csv = write_reference_csv(&dir)?;
    let csv = csv.to_str().ok_or("path")?;
    for method in ["bt", "elo", "glicko2", "trueskill", "weng-lin"] {
        let table = ratings_output(&["--results", csv, "--method", method])?;
        let lines: Vec<&str> = table.lines().collect();
        assert_eq!(lines.len(), 2 + NAMES.len(), "{method}:\n{table}");
        assert!(lines[1].starts_with("rank  name"), "{method}:\n{table}");
    }
    std::fs::remove_dir_all(dir)?;
    Ok(())
}

/// The `arena` binary cargo built for these tests.
fn arena_binary() -> Result<PathBuf, String> {
    Ok(PathBuf::from(env!("CARGO_BIN_EXE_arena")))
}

#[test]
fn the_arena_binary_prints_the_table_and_fails_cleanly() -> TestResult {
    let binary = arena_binary()?;
    let dir = temp_dir("binary")?;
    let csv = write_reference_csv(&dir)?;
    let output = std::process::Command::new(&binary).args(["ratings", "--results"]).arg(&csv).output()?;
    assert!(output.status.success(), "{}", String::from_utf8_lossy(&output.stderr));
    let stdout = String::from_utf8(output.stdout)?;
    assert!(stdout.lines().nth(2).is_some_and(|l| l.contains("zeta")), "{stdout}");
    let output = std::process::Command::new(&binary).args(["ratings", "--db", "x.db"]).output()?;
    assert!(!output.status.success());
    assert!(String::from_utf8(output.stderr)?.contains("error: store x.db does not exist"));
    std::fs::remove_dir_all(dir)?;
    Ok(())
}

#[test]
fn ratings_read_a_tournament_store() -> TestResult {
    let dir = temp_dir("store")?;
    let db = dir.join("t.db");
    let output = std::process::Command::new(arena_binary()?)
        .args([
            "tournament",
            "--game",
            "connect_four",
            "--agents",
            "random",
            "first",
            "random",
            "--games-per-pairing",
            "40",
        ])
        .arg("--db")
        .arg(&db)
        .output()?;
    assert!(output.status.success(), "{}", String::from_utf8_lossy(&output.stderr));
    let db_text = db.to_str().ok_or("path")?;
    let report: Value = serde_json::from_str(&ratings_output(&[
        "--db",
        db_text,
        "--tournament",
        "1",
        "--anchor",
        "random=0",
        "--json",
    ])?)?;
    let players = report.as_array().ok_or("array")?;
    assert_eq!(players.len(), 3);
    let games: u64 = players.iter().filter_map(|p| p["games"].as_u64()).sum();
    assert_eq!(games, 2 * 3 * 40, "every game counted once for each of its two players");
    // The likelihood of superiority is complementary: P(a > b) + P(b > a) = 1.
    let report: Value = serde_json::from_str(&ratings_output(&["--db", db_text, "--los", "--json"])?)?;
    let los =
        |a: &str, b: &str| -> Option<f64> { report.as_array()?.iter().find(|p| p["name"] == a)?["los"][b].as_f64() };
    let (ab, ba) = (los("first", "random").ok_or("los")?, los("random", "first").ok_or("los")?);
    assert!((ab + ba - 1.0).abs() < 1e-12 && ab > 0.5, "{ab} {ba}");
    let message = format!("{:#}", ratings_output(&["--db", db_text, "--tournament", "7"]).err().ok_or("no error")?);
    assert!(message.contains("no tournament 7"), "{message}");
    std::fs::remove_dir_all(dir)?;
    Ok(())
}
