//! The report in a real browser: the system Chromium (headless), driven over the DevTools
//! protocol, opens a store's report and a run's report, which must load with no console error or
//! exception; the plots, tables and game viewer must be there, the viewer must step forward and
//! back, and no planted markup may ever run. Screenshots are kept in the test's target directory.

mod common;

use std::path::{Path, PathBuf};

use agents::AgentConfig;
use arena::engine::tournament::{AgentEntry, RunOptions, TournamentConfig, run_tournament};
use arena::report::{Source, write_report};
use common::browser::Browser;
use serde_json::json;

/// Markup that would set `window.__pwned` if it ever ran: as a tag, an attribute and a script.
const PLANTED: &str =
    "<img src=x onerror=\"window.__pwned=1\"><script>window.__pwned=2</script>\" onload=\"window.__pwned=3";

/// Where screenshots are kept.
fn artifact(name: &str) -> PathBuf {
    Path::new(env!("CARGO_TARGET_TMPDIR")).join(name)
}

#[test]
fn reports_load_cleanly_in_chromium_and_the_viewer_steps_through_games() {
    let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
    // A store whose agent names are planted markup.
    let db = dir.path().join("store.db");
    let agents = vec![
        AgentEntry::new(PLANTED, AgentConfig::Random),
        AgentEntry::new("mcts", AgentConfig::parse("mcts(sims=20)").unwrap_or_else(|e| panic!("{e}"))),
    ];
    let config = TournamentConfig { games_per_pairing: 8, ..TournamentConfig::new("connect_four", agents) };
    let options = RunOptions { threads: 1, db: Some(db.clone().into()), ..RunOptions::default() };
    run_tournament(&config, &arena::Resources::new(), &options, &arena::Silent).unwrap_or_else(|e| panic!("{e}"));
    let store_page = dir.path().join("store.html");
    write_report(&Source::Store(db.into()), &store_page).unwrap_or_else(|e| panic!("{e}"));

    let mut browser = Browser::launch();
    browser.open(&store_page);
    assert_eq!(browser.eval("document.querySelectorAll('svg.heatmap g.cell').length"), json!(2));
    assert_eq!(browser.eval("document.querySelectorAll('table.standings tbody tr').length"), json!(2));
    assert_eq!(browser.eval("document.getElementById('viewer-match').options.length"), json!(8));
    // The planted name is shown as text, in the table and in the match list.
    let shown = browser.eval("document.querySelector('table.standings').textContent");
    assert!(shown.as_str().is_some_and(|t| t.contains("onerror=\"window.__pwned=1\"")), "{shown}");
    let option = browser.eval("document.getElementById('viewer-match').options[0].textContent");
    assert!(option.as_str().is_some_and(|t| t.contains("<script>window.__pwned=2</script>")), "{option}");
    // Step forward and back: one disc per move, on a 6 × 7 board.
    let discs = "document.querySelectorAll('#viewer-board circle.piece').length";
    let position = "document.getElementById('viewer-position').textContent";
    assert_eq!(browser.eval("document.querySelectorAll('#viewer-board rect.cell').length"), json!(42));
    assert_eq!(browser.eval(discs), json!(0));
    assert!(browser.eval(position).as_str().is_some_and(|t| t.starts_with("move 0 of ")));
    for expected in [1, 2, 3] {
        browser.eval("document.getElementById('viewer-forward').click()");
        assert_eq!(browser.eval(discs), json!(expected));
    }
    browser.eval("document.getElementById('viewer-back').click()");
    assert_eq!(browser.eval(discs), json!(2));
    assert!(browser.eval(position).as_str().is_some_and(|t| t.starts_with("move 2 of ")));
    browser.eval("document.getElementById('viewer-last').click()");
    let last = browser.eval(position);
    let moves = browser.eval("document.querySelectorAll('#viewer-moves li').length");
    assert!(last.as_str().is_some_and(|t| t.starts_with(&format!("move {moves} of {moves}"))), "{last} / {moves}");
    assert_eq!(browser.eval(discs), moves, "every move left a disc");
    // Another match starts from its first position.
    browser.eval(
        "const s = document.getElementById('viewer-match'); s.value = '3'; s.dispatchEvent(new Event('change'));",
    );
    assert_eq!(browser.eval(discs), json!(0));
    browser.screenshot(&artifact("report-store.png"));
    assert_eq!(browser.eval("typeof window.__pwned"), json!("undefined"), "planted markup ran");

    // A large store stays small in the page: 30,000 matches, at most 40 of them in the viewer.
    let large = dir.path().join("large.db");
    let agents = ["random", "first", "mcts(sims=2)"]
        .map(|spec| AgentEntry::new(spec, AgentConfig::parse(spec).unwrap_or_else(|e| panic!("{e}"))))
        .to_vec();
    let config = TournamentConfig { games_per_pairing: 10_000, ..TournamentConfig::new("tic_tac_toe", agents) };
    let options = RunOptions { threads: 2, db: Some(large.clone().into()), ..RunOptions::default() };
    run_tournament(&config, &arena::Resources::new(), &options, &arena::Silent).unwrap_or_else(|e| panic!("{e}"));
    let large_page = dir.path().join("large.html");
    let written = write_report(&Source::Store(large.into()), &large_page).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(written.games, 30_000);
    assert!(written.bytes < 200_000, "{} bytes", written.bytes);
    browser.open(&large_page);
    assert_eq!(browser.eval("document.getElementById('viewer-match').options.length"), json!(40));
    assert_eq!(browser.eval("document.querySelectorAll('svg.heatmap g.cell').length"), json!(6));

    // A debate whose proposition and utterances are planted markup: the viewer shows them as text.
    let debate_db = dir.path().join("debate.db");
    let propositions = dir.path().join("propositions.jsonl");
    let claim = "<script>window.__pwned=4</script>\" onload=\"window.__pwned=4 2 + 2 = 4";
    std::fs::write(&propositions, serde_json::json!({ "proposition": claim, "truth": true }).to_string() + "\n")
        .unwrap_or_else(|e| panic!("{e}"));
    let bot = dir.path().join("bot.sh");
    let utterance = r#"{"action": "<script>window.__pwned=5</script>\" onload=\"window.__pwned=5 It is true."}"#;
    std::fs::write(
        &bot,
        format!("while IFS= read -r line; do case \"$line\" in *'\"move\"'*) echo '{utterance}';; esac; done\n"),
    )
    .unwrap_or_else(|e| panic!("{e}"));
    let debater = |name: &str| {
        let spec = format!("cmd(program=\"sh {}\")", bot.display());
        AgentEntry::new(name, AgentConfig::parse(&spec).unwrap_or_else(|e| panic!("{spec}: {e}")))
    };
    let game = format!("debate(rounds=1,judge=oracle,propositions={})", propositions.display());
    let config =
        TournamentConfig { games_per_pairing: 2, ..TournamentConfig::new(game, vec![debater(PLANTED), debater("b")]) };
    let options = RunOptions { threads: 1, db: Some(debate_db.clone().into()), ..RunOptions::default() };
    run_tournament(&config, &arena::Resources::new(), &options, &arena::Silent).unwrap_or_else(|e| panic!("{e}"));
    let debate_page = dir.path().join("debate.html");
    write_report(&Source::Store(debate_db.into()), &debate_page).unwrap_or_else(|e| panic!("{e}"));
    let html = std::fs::read_to_string(&debate_page).unwrap_or_default();
    let markup = html.split("id=\"report-data\"").next().unwrap_or_default();
    assert!(!markup.contains("<script>window") && !markup.contains("\" onload"), "planted markup in the page");
    browser.open(&debate_page);
    browser.eval("document.getElementById('viewer-last').click()");
    let moves = browser.eval("document.getElementById('viewer-moves').textContent");
    let said = "<script>window.__pwned=5</script>\" onload=\"window.__pwned=5 It is true.";
    assert!(moves.as_str().is_some_and(|t| t.contains(said)), "{moves}");
    let position = browser.eval("document.getElementById('viewer-final').textContent");
    assert!(position.as_str().is_some_and(|t| t.contains(claim)), "the proposition is shown as text: {position}");
    browser.screenshot(&artifact("report-debate.png"));
    assert_eq!(browser.eval("typeof window.__pwned"), json!("undefined"), "planted markup ran");

    // A language model's answers (stored turns) that are planted markup: the transcript shows
    // them as text.
    let turns_db = dir.path().join("turns.db");
    let answer = "<script>window.__pwned=6</script>\" onload=\"window.__pwned=6 so 42";
    {
        use arena::engine::runner::{EndReason, MatchResult, TextTurn};
        use arena::engine::schedule::Pairing;
        use arena::store::{AgentRow, ScheduledMatch, Store};
        let mut store = Store::open(&turns_db).unwrap_or_else(|e| panic!("{e}"));
        let row = |name: &str| AgentRow { name: name.into(), spec: "llm(model=m.gguf)".into(), checkpoint_hash: None };
        let game = "quiz(items=3,kinds=addition)";
        let id =
            store.create_tournament(game, "{}", &[row(PLANTED), row("b")], &[], &[]).unwrap_or_else(|e| panic!("{e}"));
        let pairing = Pairing { round: 1, seats: [0, 1], opening: 0 };
        let scheduled = ScheduledMatch { index: 0, pairing, seed: 1, opening: vec![], judge: None };
        store.schedule(id, &[scheduled]).unwrap_or_else(|e| panic!("{e}"));
        let trace = |text: &str| agents::TextTrace {
            messages: vec![agents::ChatMessage::user(PLANTED)],
            completion: text.into(),
            tokens: vec![],
            logprobs: vec![],
            request: None,
        };
        let result = MatchResult {
            returns: vec![-1.0, -1.0],
            end: EndReason::Normal,
            length: 3,
            moves: vec![games::Move::Action(0), games::Move::Text(answer.into()), games::Move::Text("7".into())],
            move_micros: vec![0, 0, 0],
            trajectory: vec![],
            turns: vec![
                TextTurn { seat: 0, ply: 1, trace: trace(answer), rejected: false },
                TextTurn { seat: 1, ply: 2, trace: trace("7"), rejected: false },
            ],
        };
        store.record(id, &[(0, result)]).unwrap_or_else(|e| panic!("{e}"));
    }
    let turns_page = dir.path().join("turns.html");
    write_report(&Source::Store(turns_db.into()), &turns_page).unwrap_or_else(|e| panic!("{e}"));
    browser.open(&turns_page);
    let transcript = browser.eval("document.getElementById('viewer-turns').textContent");
    assert!(transcript.as_str().is_some_and(|t| t.contains(answer)), "{transcript}");
    assert_eq!(browser.eval("document.querySelectorAll('#viewer-turns pre').length"), json!(2));
    browser.screenshot(&artifact("report-turns.png"));
    assert_eq!(browser.eval("typeof window.__pwned"), json!("undefined"), "planted markup ran");

    // A run's report: the rating chart, the accuracy chart is absent without measurements, the
    // lineage and the generations table.
    let config = dir.path().join("tiny.toml");
    let text = "game = \"tic_tac_toe\"\ngenerations = 2\narchitecture = \"mlp(hidden=16,layers=1)\"\nanchor_sims = 10\n\
                anchor_ladder = []\nanchor_calibration_games = 10\ntournament_games_per_pairing = 4\ntournament_sims = 4\n\
                selfplay_games = 20\nselfplay_sims = 4\ngate_games = 10\nbootstrap = 10\n";
    std::fs::write(&config, text).unwrap_or_else(|e| panic!("{e}"));
    let run = dir.path().join("run");
    let output = common::evolve_command(&config, &run, false).output().unwrap_or_else(|e| panic!("{e}"));
    assert!(output.status.success(), "{}", String::from_utf8_lossy(&output.stderr));
    browser.open(&run.join("report.html"));
    assert_eq!(browser.eval("document.querySelectorAll('#ratings svg.chart circle').length"), json!(3));
    assert_eq!(browser.eval("document.querySelectorAll('#ratings table tbody tr').length"), json!(3));
    assert!(browser.eval("document.querySelectorAll('#lineage g.node').length").as_u64().is_some_and(|n| n >= 2));
    assert_eq!(browser.eval("document.querySelectorAll('#generations table tbody tr').length"), json!(3));
    assert!(browser.eval("document.getElementById('viewer-match').options.length").as_u64().is_some_and(|n| n > 0));
    browser.eval("document.getElementById('viewer-forward').click()");
    assert_eq!(browser.eval("document.querySelectorAll('#viewer-board text.mark').length"), json!(1));
    browser.screenshot(&artifact("report-run.png"));
    assert!(browser.errors.is_empty(), "console errors: {:?}", browser.errors);
}
