//! `arena report`: the HTML report of a store and of an evolve run, with untrusted names escaped.

mod common;

use agents::AgentConfig;
use arena::engine::tournament::{AgentEntry, RunOptions, TournamentConfig, run_tournament};
use common::{evolve_command, run_ok};

const PLANTED: &str = "<script>alert(1)</script>\" onload=\"alert(2)";

#[test]
fn a_store_report_escapes_every_planted_name_and_shows_standings_and_a_crosstable() {
    let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
    let db = dir.path().join("store.db");
    let agents = vec![
        AgentEntry::new(PLANTED, AgentConfig::Random),
        AgentEntry::new("first", AgentConfig::First),
        AgentEntry::new("mcts", agents::AgentConfig::parse("mcts(sims=20)").unwrap_or_else(|e| panic!("{e}"))),
    ];
    let config = TournamentConfig { games_per_pairing: 10, ..TournamentConfig::new("tic_tac_toe", agents) };
    let options = RunOptions { threads: 1, db: Some(db.clone().into()), ..RunOptions::default() };
    run_tournament(&config, &arena::Resources::new(), &options, &arena::Silent).unwrap_or_else(|e| panic!("{e}"));
    let out = dir.path().join("store.html");
    let said = run_ok(&["report", "--db", &db.display().to_string(), "--out", &out.display().to_string()]);
    assert!(said.contains("Standings, Crosstable") && said.contains("30 games"), "{said}");
    let page = std::fs::read_to_string(&out).unwrap_or_else(|e| panic!("{e}"));
    let (markup, data) = page.split_once("id=\"report-data\">").unwrap_or_else(|| panic!("no data: {page}"));
    assert!(!markup.contains("<script>alert") && !markup.contains("\" onload"), "a planted name is live markup");
    // In the data, JSON's own escapes keep the quote inside its string and no `<` is left.
    let data = data.split("</script>").next().unwrap_or_default();
    assert!(!data.contains('<') && data.contains("\\\" onload=\\\""), "{data}");
    assert!(page.contains("&lt;script&gt;alert(1)&lt;/script&gt;&quot; onload=&quot;alert(2)"), "escaped name shown");
    // Two script elements: the embedded data (JSON, which reads back) and the viewer's own code,
    // which holds no stored text.
    assert_eq!(page.matches("<script").count(), 2);
    assert!(!arena::report::viewer::SCRIPT.contains("alert"));
    let data: serde_json::Value = serde_json::from_str(data).unwrap_or_else(|e| panic!("{e}: {data}"));
    let names: Vec<&str> =
        data["standings"].as_array().into_iter().flatten().filter_map(|p| p["name"].as_str()).collect();
    assert!(names.contains(&PLANTED), "the data keeps the name as it is: {names:?}");
    // The viewer: matches spread over the tournament, each replayed from the start to its end.
    let viewer = data["viewer"].as_array().cloned().unwrap_or_default();
    assert_eq!(viewer.len(), 30, "all 30 games (fewer than the most a report carries)");
    for m in &viewer {
        let frames = m["frames"].as_array().map_or(0, Vec::len);
        assert!((6..=10).contains(&frames), "start and 5 to 9 tic-tac-toe moves: {m}");
        assert_eq!(m["board"]["rows"], 3);
        let last = m["frames"][frames - 1]["cells"].as_str().unwrap_or_default();
        assert_eq!(last.matches(['0', '1']).count(), frames - 1, "one piece per move: {m}");
        assert!(m["replay_error"].is_null(), "{m}");
    }
    // Three agents, each met by two others: six cells with games, each with its hover text.
    assert_eq!(page.matches("<g class=\"cell\">").count(), 6);
    assert!(page.contains("of 10 games</title>"));
    // The page never replaces the store it reports on.
    let (ok, _, stderr) =
        common::arena(&["report", "--db", &db.display().to_string(), "--out", &db.display().to_string()]);
    assert!(!ok && stderr.contains("store.db"), "{stderr}");
    assert!(arena::store::Store::open(&db).is_ok_and(|s| s.tournaments().is_ok_and(|t| t.len() == 1)));
}

#[test]
fn an_evolve_run_writes_its_report_every_generation() {
    let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
    let config = dir.path().join("tiny.toml");
    let text = "game = \"tic_tac_toe\"\ngenerations = 1\narchitecture = \"mlp(hidden=16,layers=1)\"\nanchor_sims = 10\nanchor_ladder = []\n\
                anchor_calibration_games = 10\ntournament_games_per_pairing = 4\ntournament_sims = 4\nselfplay_games = 20\n\
                selfplay_sims = 4\ngate_games = 10\nbootstrap = 10\n";
    std::fs::write(&config, text).unwrap_or_else(|e| panic!("{e}"));
    let run = dir.path().join("run");
    let output = evolve_command(&config, &run, false).output().unwrap_or_else(|e| panic!("{e}"));
    assert!(output.status.success(), "{}", String::from_utf8_lossy(&output.stderr));
    assert!(String::from_utf8_lossy(&output.stdout).contains("report.html"));
    let page = std::fs::read_to_string(run.join("report.html")).unwrap_or_else(|e| panic!("{e}"));
    for section in ["id=\"ratings\"", "id=\"standings\"", "id=\"crosstable\"", "id=\"lineage\"", "id=\"generations\""] {
        assert!(page.contains(section), "{section}");
    }
    // The rating chart has a point per generation (2: one generation and the final rating).
    let chart = page.split("id=\"ratings\"").nth(1).unwrap_or("");
    assert_eq!(chart.split("</svg>").next().unwrap_or("").matches("<circle").count(), 2);
    assert!(page.contains("<g class=\"node"), "the lineage has its nodes");
    // The gate's SPRT trace (one point per batch of 10 games, after the origin) between its
    // bounds, and the child's loss per epoch (policy and value).
    let summary: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(run.join("generations/gen-1.json")).unwrap_or_default())
            .unwrap_or_else(|e| panic!("{e}"));
    let gate = &summary["gates"][0];
    let batches = gate["trace"].as_array().map_or(0, Vec::len);
    assert!(batches >= 1 && gate["trace"][batches - 1][0] == gate["games"], "{gate}");
    assert!(gate["bounds"][0].as_f64() < Some(0.0) && gate["bounds"][1].as_f64() > Some(0.0), "{gate}");
    let epochs = summary["training"][0][1]["epoch_losses"].as_array().map_or(0, Vec::len);
    assert_eq!(epochs, 3, "the trainer's three epochs: {}", summary["training"]);
    let chart = |title: &str| {
        let rest = page.split_once(title).map_or("", |(_, rest)| rest);
        rest.split("</svg>").next().unwrap_or_default().to_string()
    };
    let sprt = chart("Each gate&#39;s SPRT");
    assert_eq!(sprt.matches("<circle").count(), batches + 1, "{sprt}");
    assert!(sprt.contains(">accept H0</text>") && sprt.contains(">accept H1</text>"));
    let losses = chart("Training loss per epoch");
    assert_eq!(losses.matches("<circle").count(), 2 * epochs, "policy and value per epoch");
    // `arena report --run` writes the same page.
    let again = dir.path().join("again.html");
    run_ok(&["report", "--run", &run.display().to_string(), "--out", &again.display().to_string()]);
    assert_eq!(std::fs::read_to_string(&again).unwrap_or_default(), page);
}

#[test]
fn a_store_with_judged_debates_reports_its_judges() {
    let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
    let script = |name: &str, answer: &str| {
        let path = dir.path().join(name);
        let body =
            format!("while IFS= read -r line; do case \"$line\" in *'\"move\"'*) echo '{answer}';; esac; done\n");
        std::fs::write(&path, body).unwrap_or_else(|e| panic!("{e}"));
        AgentConfig::parse(&format!("cmd(program=\"sh {}\")", path.display())).unwrap_or_else(|e| panic!("{e}"))
    };
    let debaters = vec![
        AgentEntry::new("a", script("a.sh", r#"{"action": "It holds."}"#)),
        AgentEntry::new("b", script("b.sh", r#"{"action": "It does not."}"#)),
    ];
    // A judge that always says pro: right exactly when the proposition is true.
    let judge = AgentEntry::new(PLANTED, script("judge.sh", r#"{"action": "pro"}"#));
    let db = dir.path().join("judged.db");
    let config = TournamentConfig {
        games_per_pairing: 8,
        judges: vec![judge],
        ..TournamentConfig::new("debate(rounds=1,items=50)", debaters)
    };
    let options = RunOptions { threads: 1, db: Some(db.clone().into()), ..RunOptions::default() };
    run_tournament(&config, &arena::Resources::new(), &options, &arena::Silent).unwrap_or_else(|e| panic!("{e}"));
    let store = arena::store::Store::open(&db).unwrap_or_else(|e| panic!("{e}"));
    let judges = arena::text_data::judging::store_report(&store).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(judges.len(), 1);
    let always_pro = &judges[0];
    assert_eq!((always_pro.name.as_str(), always_pro.verdicts, always_pro.picked_pro), (PLANTED, 8, 1.0));
    assert!((always_pro.accuracy - always_pro.pro_true).abs() < 1e-12, "right exactly on the true ones");
    let out = dir.path().join("judged.html");
    let said = run_ok(&["report", "--db", &db.display().to_string(), "--out", &out.display().to_string()]);
    assert!(said.contains("Judges"), "{said}");
    let page = std::fs::read_to_string(&out).unwrap_or_default();
    let section = page.split_once("id=\"judges\"").map_or("", |(_, rest)| rest);
    let row = format!(
        "{:.0}% [{:.0}, {:.0}]",
        100.0 * always_pro.accuracy,
        100.0 * always_pro.accuracy_low,
        100.0 * always_pro.accuracy_high
    );
    assert!(section.contains(&row) && section.contains("&lt;script&gt;"), "{row}: {section}");
}

#[test]
fn a_store_with_an_unbeaten_agent_still_reports_finite_ratings() {
    let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
    let db = dir.path().join("sweep.db");
    let agents = vec![
        AgentEntry::new("first", AgentConfig::First),
        AgentEntry::new("mcts", AgentConfig::parse("mcts(sims=200)").unwrap_or_else(|e| panic!("{e}"))),
    ];
    let config = TournamentConfig { games_per_pairing: 4, ..TournamentConfig::new("connect_four", agents) };
    let options = RunOptions { threads: 1, db: Some(db.clone().into()), ..RunOptions::default() };
    run_tournament(&config, &arena::Resources::new(), &options, &arena::Silent).unwrap_or_else(|e| panic!("{e}"));
    // `arena ratings` refuses a sweep (the maximum-likelihood rating is infinite); the report
    // adds one virtual draw per pairing and says so.
    let (ok, _, stderr) = common::arena(&["ratings", "--db", &db.display().to_string()]);
    assert!(!ok && stderr.contains("every game"), "{stderr}");
    let out = dir.path().join("sweep.html");
    run_ok(&["report", "--db", &db.display().to_string(), "--out", &out.display().to_string()]);
    let page = std::fs::read_to_string(&out).unwrap_or_default();
    assert!(page.contains("one virtual draw per pairing"), "the page says how it rated");
    let data = page.split_once("id=\"report-data\">").map_or("", |(_, rest)| rest);
    let data: serde_json::Value =
        serde_json::from_str(data.split("</script>").next().unwrap_or_default()).unwrap_or_else(|e| panic!("{e}"));
    let ratings: Vec<f64> =
        data["standings"].as_array().into_iter().flatten().filter_map(|p| p["rating"].as_f64()).collect();
    assert!(ratings.len() == 2 && ratings.iter().all(|r| r.is_finite()) && ratings[0] > ratings[1], "{ratings:?}");
}
