//! The PostgreSQL store and `arena worker` processes, against a real server: tournaments played
//! by several workers (one killed with SIGKILL, or the server restarted, mid-run) end with every
//! match finished once and results identical, match for match, to the same tournament on SQLite
//! in one process; `arena store copy` moves a store there and back; passwords never show.
//!
//! The server is `ARENA_TEST_POSTGRES` (a URL whose user may create databases; `.ci/run` starts a
//! throwaway cluster with `scripts/throwaway-postgres.sh`), and `ARENA_TEST_POSTGRES_DIR` its
//! folder, for the restart. Skipped with a note where unset, unless `ARENA_REQUIRE_POSTGRES=1`
//! (set by CI) makes that a failure.

mod common;

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::Mutex;
use std::time::{Duration, Instant};

use agents::llm::tiny::{TinyConfig, write_tiny_llama};
use arena::store::{ContentKind, Store, StoreLocation};
use common::{arena, evolve_decisions, json, run_ok};

/// Tests that restart the server, or count on it, run one at a time.
static SERVER: Mutex<()> = Mutex::new(());

/// The server's URL, or `None` with a note (a failure under `ARENA_REQUIRE_POSTGRES=1`).
fn server() -> Option<String> {
    match std::env::var("ARENA_TEST_POSTGRES") {
        Ok(url) if !url.is_empty() => Some(url),
        _ => {
            assert!(
                std::env::var("ARENA_REQUIRE_POSTGRES").as_deref() != Ok("1"),
                "ARENA_REQUIRE_POSTGRES=1 but ARENA_TEST_POSTGRES (a PostgreSQL server's URL) is not set"
            );
            eprintln!("skipped: ARENA_TEST_POSTGRES (a PostgreSQL server's URL) is not set");
            None
        }
    }
}

/// A new, empty database `name` on the server; its URL.
fn fresh_database(server: &str, name: &str) -> String {
    let mut client =
        postgres::Client::connect(server, postgres::NoTls).unwrap_or_else(|e| panic!("cannot reach {server}: {e}"));
    // One statement each: CREATE DATABASE cannot run in a transaction block.
    for statement in [format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)"), format!("CREATE DATABASE {name}")] {
        client.batch_execute(&statement).unwrap_or_else(|e| panic!("{statement}: {e:?}"));
    }
    let base = server.split('?').next().unwrap_or(server);
    let (host, _) = base.rsplit_once('/').unwrap_or_else(|| panic!("{server} has no database name"));
    format!("{host}/{name}")
}

/// A background `arena` process, killed if the test ends first.
struct Spawned {
    child: Child,
    log: PathBuf,
}

impl Spawned {
    fn start(args: &[&str], log: &Path) -> Spawned {
        Spawned::start_with(args, log, &[])
    }

    fn start_with(args: &[&str], log: &Path, env: &[(&str, &Path)]) -> Spawned {
        Spawned::start_in(None, args, log, env)
    }

    /// Started in the folder `cwd` (relative paths in its arguments name files there).
    fn start_in(cwd: Option<&Path>, args: &[&str], log: &Path, env: &[(&str, &Path)]) -> Spawned {
        let file = std::fs::File::create(log).unwrap_or_else(|e| panic!("{e}"));
        let err = file.try_clone().unwrap_or_else(|e| panic!("{e}"));
        let mut command = Command::new(env!("CARGO_BIN_EXE_arena"));
        if let Some(cwd) = cwd {
            command.current_dir(cwd);
        }
        let child = command
            .args(args)
            .envs(env.iter().copied())
            .stdout(Stdio::from(file))
            .stderr(Stdio::from(err))
            .spawn()
            .unwrap_or_else(|e| panic!("cannot start arena: {e}"));
        Spawned { child, log: log.to_path_buf() }
    }

    fn output(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }

    /// Waits for the process to end by itself; fails the test if it does not, or fails.
    fn finish(self, within: Duration) -> String {
        let (success, output) = self.end(within);
        assert!(success, "arena failed:\n{output}");
        output
    }

    /// Waits for the process to end by itself (failing the test if it does not): whether it
    /// succeeded, and its output.
    fn end(mut self, within: Duration) -> (bool, String) {
        let started = Instant::now();
        loop {
            if let Some(status) = self.child.try_wait().unwrap_or_else(|e| panic!("{e}")) {
                return (status.success(), self.output());
            }
            assert!(started.elapsed() < within, "arena still running after {within:?}:\n{}", self.output());
            std::thread::sleep(Duration::from_millis(100));
        }
    }

    /// SIGKILL: the process gets no chance to give back its leases.
    fn kill(&mut self) {
        assert!(
            self.child.try_wait().unwrap_or_else(|e| panic!("{e}")).is_none(),
            "the worker ended before it could be killed:\n{}",
            self.output()
        );
        self.child.kill().unwrap_or_else(|e| panic!("{e}"));
        let _ = self.child.wait();
    }
}

impl Drop for Spawned {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Finished matches of tournament 1 (0 while the planner has not written it yet).
fn finished(url: &str) -> u64 {
    Store::connect(&StoreLocation::parse(url)).and_then(|s| s.finished_count(1)).unwrap_or(0)
}

fn wait_until(what: &str, within: Duration, mut done: impl FnMut() -> bool) {
    let started = Instant::now();
    while !done() {
        assert!(started.elapsed() < within, "waited {within:?} for {what}");
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// Tournament 1 of both stores: every scheduled match finished once, none twice with different
/// results, and the same results and moves, match for match.
fn assert_same_tournament(reference: &Path, url: &str) -> usize {
    let sqlite = Store::open(reference).unwrap_or_else(|e| panic!("{e:#}"));
    let shared = Store::connect(&StoreLocation::parse(url)).unwrap_or_else(|e| panic!("{e:#}"));
    let expected = sqlite.finished(1).unwrap_or_else(|e| panic!("{e:#}"));
    let got = shared.finished(1).unwrap_or_else(|e| panic!("{e:#}"));
    assert_eq!(got.len(), expected.len(), "finished matches");
    for (a, b) in expected.iter().zip(&got) {
        assert_eq!(a, b, "match {} differs", a.index);
    }
    assert_eq!(shared.match_moves(1).ok(), sqlite.match_moves(1).ok());
    assert_eq!(shared.scheduled_count(1).ok(), sqlite.scheduled_count(1).ok());
    assert!(shared.faults(1).unwrap_or_else(|e| panic!("{e:#}")).is_empty(), "no match came out twice differently");
    assert!(shared.tournament(1).unwrap_or_else(|e| panic!("{e:#}")).finished_at.is_some());
    got.len()
}

fn with_args<'a>(head: &[&'a str], tail: &[&'a str]) -> Vec<&'a str> {
    head.iter().chain(tail).copied().collect()
}

/// A test's share of the server: alone on it, a folder, and a new database `name`.
fn setup(name: &str) -> Option<(std::sync::MutexGuard<'static, ()>, tempfile::TempDir, String)> {
    let server = server()?;
    let alone = SERVER.lock().unwrap_or_else(|e| e.into_inner());
    let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
    let url = fresh_database(&server, name);
    Some((alone, dir, url))
}

/// The tournament of `games` (flags) played in one process on SQLite; the store's path.
fn sqlite_reference(dir: &Path, games: &[&str]) -> PathBuf {
    let reference = dir.join("reference.db");
    let text = reference.to_string_lossy().into_owned();
    run_ok(&with_args(&["tournament", "--threads", "1", "--db", &text], games));
    reference
}

/// `count` workers named `{prefix}0`, `{prefix}1`, ... on `url` with one thread each, printing
/// JSON, started in the folder `cwd` (else this one); `extra` flags added (`--idle-exit 3` unless
/// they set it).
fn start_workers(
    cwd: Option<&Path>,
    url: &str,
    dir: &Path,
    prefix: &str,
    count: usize,
    extra: &[&str],
    env: &[(&str, &Path)],
) -> Vec<Spawned> {
    let idle: &[&str] = if extra.contains(&"--idle-exit") { &[] } else { &["--idle-exit", "3"] };
    (0..count)
        .map(|k| {
            let name = format!("{prefix}{k}");
            let args = with_args(&["worker", "--db", url, "--threads", "1", "--name", &name, "--json"], idle);
            Spawned::start_in(cwd, &with_args(&args, extra), &dir.join(format!("{name}.log")), env)
        })
        .collect()
}

#[test]
fn three_workers_one_killed_play_the_sqlite_tournament_exactly() {
    let Some((_alone, dir, url)) = setup("arena_test_kill") else { return };
    let games: Vec<&str> =
        "--game connect_four --agents random mcts(sims=5000) mcts(sims=10000) --games-per-pairing 30 --seed 5"
            .split(' ')
            .collect();
    let reference = sqlite_reference(dir.path(), &games);
    let planner = Spawned::start(
        &with_args(&["tournament", "--db", &url, "--workers-only"], &games),
        &dir.path().join("planner.log"),
    );
    let mut workers = start_workers(None, &url, dir.path(), "w", 3, &["--batch", "2", "--lease-secs", "2"], &[]);
    wait_until("a fifth of the games", Duration::from_secs(120), || finished(&url) >= 18);
    workers[0].kill();
    let killed_at = finished(&url);
    // It died holding leases (it claims its next batch as soon as it stores one): those matches
    // must go to the others once the leases run out.
    let mut client = postgres::Client::connect(&url, postgres::NoTls).unwrap_or_else(|e| panic!("{e}"));
    let orphaned: i64 = client
        .query_one("SELECT count(*) FROM matches WHERE lease_owner LIKE 'w0/%' AND finished = 0", &[])
        .map(|row| row.get(0))
        .unwrap_or_else(|e| panic!("{e}"));
    assert!(orphaned > 0, "the killed worker held no lease");
    let planner_output = planner.finish(Duration::from_secs(300));
    assert!(planner_output.contains("stored as tournament 1"), "{planner_output}");
    let mut stored_by_survivors = 0;
    for worker in workers.drain(..).skip(1) {
        let report = json(worker.finish(Duration::from_secs(60)).lines().last().unwrap_or_default());
        assert_eq!(report["faults"], 0);
        stored_by_survivors += report["games"].as_u64().unwrap_or(0);
    }
    let total = assert_same_tournament(&reference, &url);
    assert_eq!(total, 90);
    assert!(killed_at < 90, "the worker was killed before the end");
    // Every game is stored by the worker that played it; the survivors finished what w0 left.
    let shared = Store::connect(&StoreLocation::parse(&url)).unwrap_or_else(|e| panic!("{e:#}"));
    let by_worker = shared.match_workers(1).unwrap_or_else(|e| panic!("{e:#}"));
    let by_survivors = by_worker.iter().filter(|(_, w)| matches!(w.as_deref(), Some("w1" | "w2"))).count() as u64;
    assert_eq!(by_survivors, stored_by_survivors);
    assert!(by_worker.iter().all(|(_, w)| matches!(w.as_deref(), Some("w0" | "w1" | "w2"))), "{by_worker:?}");
}

#[test]
fn a_game_program_failing_on_a_worker_stops_only_its_matches_and_resume_plays_them() {
    let Some((_alone, dir, url)) = setup("arena_test_broken") else { return };
    let crashy = common::write_crashy_nim(dir.path());
    let game = format!("proc(program=\"python3 {}\",heaps=3-4-5)", crashy.display());
    let tournament = [
        "tournament",
        "--db",
        &url,
        "--workers-only",
        "--game",
        &game,
        "--agents",
        "random",
        "first",
        "--games-per-pairing",
        "12",
    ];
    let planner = Spawned::start(&tournament, &dir.path().join("planner.log"));
    let workers = start_workers(None, &url, dir.path(), "b", 2, &[], &[]);
    // The workers store what they can and mark the rest; the tournament's process ends with
    // the failures named, leaving the tournament open.
    let (success, planner_output) = planner.end(Duration::from_secs(120));
    assert!(!success, "{planner_output}");
    assert!(
        planner_output.contains("matches could not be played") && planner_output.contains("heap two ran low"),
        "{planner_output}"
    );
    let mut broken_by_workers = 0;
    for worker in workers {
        let output = worker.finish(Duration::from_secs(60));
        broken_by_workers += json(output.lines().last().unwrap_or_default())["broken"].as_u64().unwrap_or(0);
        assert!(!output.contains("skipping tournament"), "a broken match does not refuse the tournament:\n{output}");
    }
    let shared = Store::connect(&StoreLocation::parse(&url)).unwrap_or_else(|e| panic!("{e:#}"));
    let broken = shared.broken(1).unwrap_or_else(|e| panic!("{e:#}"));
    let stored = shared.finished_count(1).unwrap_or_else(|e| panic!("{e:#}"));
    assert!(!broken.is_empty() && stored > 0, "{stored} stored, {broken:?}");
    assert_eq!(broken.len() as u64, broken_by_workers);
    assert_eq!(stored + broken.len() as u64, 12);
    assert!(broken.iter().all(|(_, message)| message.contains("heap two ran low")), "{broken:?}");
    assert!(shared.tournament(1).unwrap_or_else(|e| panic!("{e:#}")).finished_at.is_none());

    // Mended, the program plays them: resumed, the tournament's process hands the broken
    // matches out again and a worker finishes them.
    common::mend_crashy_nim(&crashy);
    let resumed = Spawned::start(&with_args(&tournament, &["--resume"]), &dir.path().join("resumed.log"));
    let worker = start_workers(None, &url, dir.path(), "m", 1, &[], &[]).pop();
    resumed.finish(Duration::from_secs(120));
    let report =
        json(worker.map(|w| w.finish(Duration::from_secs(60))).unwrap_or_default().lines().last().unwrap_or_default());
    assert_eq!(report["games"].as_u64(), Some(broken.len() as u64));
    assert_eq!(shared.finished_count(1).unwrap_or_else(|e| panic!("{e:#}")), 12);
    assert!(shared.broken(1).unwrap_or_else(|e| panic!("{e:#}")).is_empty());
    assert!(shared.tournament(1).unwrap_or_else(|e| panic!("{e:#}")).finished_at.is_some());
}

#[test]
fn a_server_restart_mid_swiss_tournament_loses_nothing() {
    let Ok(cluster) = std::env::var("ARENA_TEST_POSTGRES_DIR") else {
        assert!(
            std::env::var("ARENA_REQUIRE_POSTGRES").as_deref() != Ok("1"),
            "ARENA_REQUIRE_POSTGRES=1 but ARENA_TEST_POSTGRES_DIR (the cluster to restart) is not set"
        );
        eprintln!("skipped: ARENA_TEST_POSTGRES_DIR (the throwaway cluster to restart) is not set");
        return;
    };
    let Some((_alone, dir, url)) = setup("arena_test_restart") else { return };
    // Swiss: each round's pairings depend on the last round's results.
    let games: Vec<&str> = "--game connect_four --agents random mcts(sims=4000) mcts(sims=8000) mcts(sims=16000) \
                            --schedule swiss --games-per-pairing 10 --seed 11"
        .split_whitespace()
        .collect();
    let reference = sqlite_reference(dir.path(), &games);
    // The planner plays too (no --workers-only), beside two workers.
    let planner = Spawned::start(
        &with_args(&["tournament", "--db", &url, "--threads", "1"], &games),
        &dir.path().join("planner.log"),
    );
    let workers = start_workers(None, &url, dir.path(), "r", 2, &["--batch", "2"], &[]);
    wait_until("the first games", Duration::from_secs(120), || finished(&url) >= 6);
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("../scripts/throwaway-postgres.sh");
    let status =
        Command::new("bash").arg(script).args(["restart", &cluster]).status().unwrap_or_else(|e| panic!("{e}"));
    assert!(status.success(), "pg_ctl restart failed");
    let before_end = finished(&url);
    let output = planner.finish(Duration::from_secs(300));
    assert!(output.contains("stored as tournament 1"), "{output}");
    for worker in workers {
        let report = json(worker.finish(Duration::from_secs(60)).lines().last().unwrap_or_default());
        assert_eq!(report["faults"], 0);
    }
    let total = assert_same_tournament(&reference, &url);
    assert!(before_end < total as u64, "the restart came before the end ({before_end} of {total})");
}

#[test]
fn a_store_copied_to_postgres_and_back_is_the_same_and_passwords_never_show() {
    let Some(server) = server() else { return };
    let _alone = SERVER.lock().unwrap_or_else(|e| e.into_inner());
    let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
    let url = fresh_database(&server, "arena_test_copy");
    let original = dir.path().join("original.db");
    let back = dir.path().join("back.db");
    let (original_text, back_text) = (original.to_string_lossy().into_owned(), back.to_string_lossy().into_owned());
    for seed in ["1", "2"] {
        run_ok(&[
            "tournament",
            "--game",
            "tic_tac_toe",
            "--agents",
            "random",
            "mcts(sims=20)",
            "--games-per-pairing",
            "6",
            "--seed",
            seed,
            "--db",
            &original_text,
        ]);
    }
    let there = run_ok(&["store", "copy", "--from", &original_text, "--to", &url]);
    assert!(there.contains("tournaments 2") && there.contains("matches 12"), "{there}");
    run_ok(&["store", "copy", "--from", &url, "--to", &back_text]);
    let stores = [
        Store::open(&original).unwrap_or_else(|e| panic!("{e:#}")),
        Store::connect(&StoreLocation::parse(&url)).unwrap_or_else(|e| panic!("{e:#}")),
        Store::open(&back).unwrap_or_else(|e| panic!("{e:#}")),
    ];
    let summary = |store: &Store| {
        let tournaments = store.tournaments().unwrap_or_else(|e| panic!("{e:#}"));
        let games: Vec<_> = tournaments
            .iter()
            .map(|t| (store.finished(t.id).ok(), store.match_moves(t.id).ok(), store.agents(t.id).ok()))
            .collect();
        let configs: Vec<_> =
            tournaments.iter().map(|t| (t.id, t.game.clone(), t.config.clone(), t.created_at.clone())).collect();
        (configs, games)
    };
    assert_eq!(summary(&stores[1]), summary(&stores[0]));
    assert_eq!(summary(&stores[2]), summary(&stores[0]));
    // Ratings read the same from either store.
    let from_file = run_ok(&["ratings", "--db", &original_text, "--json"]);
    assert_eq!(run_ok(&["ratings", "--db", &url, "--json"]), from_file);
    // New tournaments continue after the copied ids.
    let third = run_ok(&[
        "tournament",
        "--game",
        "tic_tac_toe",
        "--agents",
        "random",
        "random",
        "--games-per-pairing",
        "2",
        "--db",
        &url,
    ]);
    assert!(third.contains("stored as tournament 3"), "{third}");
    // Copying into a store that holds something is refused.
    let (ok, _, stderr) = arena(&["store", "copy", "--from", &original_text, "--to", &url]);
    assert!(!ok && stderr.contains("is not empty"), "{stderr}");

    // A password in the URL never appears in what the command prints.
    let secret = "Sup3rSecretPw";
    let bad = format!("postgres://arena:{secret}@127.0.0.1:1/nowhere");
    let (ok, stdout, stderr) = arena(&["ratings", "--db", &bad]);
    assert!(!ok);
    assert!(!stdout.contains(secret) && !stderr.contains(secret), "{stderr}");
    assert!(stderr.contains("postgres://arena:***@127.0.0.1:1/nowhere"), "{stderr}");
    // A database holding another program's tables is refused, untouched.
    let foreign = fresh_database(&server, "arena_test_foreign");
    let mut client = postgres::Client::connect(&foreign, postgres::NoTls).unwrap_or_else(|e| panic!("{e}"));
    client.batch_execute("CREATE TABLE invoices (id INT)").unwrap_or_else(|e| panic!("{e}"));
    let (ok, _, stderr) = arena(&["ratings", "--db", &foreign]);
    assert!(!ok && stderr.contains("another program"), "{stderr}");
}

/// The weights hash tournament 1's first agent was planned with.
fn shared_planned_hash(url: &str) -> String {
    Store::connect(&StoreLocation::parse(url))
        .and_then(|s| s.agents(1))
        .unwrap_or_else(|e| panic!("{e:#}"))
        .remove(0)
        .checkpoint_hash
        .unwrap_or_else(|| panic!("the checkpoint agent has a hash"))
}

#[test]
fn workers_fetch_checkpoints_by_content_and_never_play_other_weights() {
    let Some((_alone, dir, url)) = setup("arena_test_checkpoints") else { return };
    let net = dir.path().join("net");
    let net_text = net.to_string_lossy().into_owned();
    let init = |seed: &str| {
        run_ok(&[
            "checkpoint",
            "init",
            "--game",
            "tic_tac_toe",
            "--arch",
            "mlp(hidden=16,layers=1)",
            "--seed",
            seed,
            "--out",
            &net_text,
        ])
    };
    init("1");
    let agent = format!("checkpoint(path={net_text},sims=8)");
    let games = ["--game", "tic_tac_toe", "--agents", &agent, "random", "--games-per-pairing", "40", "--seed", "3"];
    let reference = sqlite_reference(dir.path(), &games);

    let planner = Spawned::start(
        &with_args(&["tournament", "--db", &url, "--workers-only"], &games),
        &dir.path().join("planner.log"),
    );
    wait_until("the plan", Duration::from_secs(60), || {
        Store::connect(&StoreLocation::parse(&url)).and_then(|s| s.scheduled_count(1)).unwrap_or(0) > 0
    });
    let planned_with = shared_planned_hash(&url);
    // The worker's machine has other weights at that path: it must play the planned ones.
    std::fs::remove_dir_all(&net).unwrap_or_else(|e| panic!("{e}"));
    init("2");
    let cache = dir.path().join("cache");
    let worker = start_workers(None, &url, dir.path(), "c", 1, &[], &[("ARENA_CACHE", &cache)]).remove(0);
    let report = json(worker.finish(Duration::from_secs(120)).lines().last().unwrap_or_default());
    assert_eq!(report["games"], 40);
    planner.finish(Duration::from_secs(60));
    assert_same_tournament(&reference, &url);
    let fetched = cache.join("checkpoints").join(&planned_with);
    assert!(fetched.join("model.safetensors").is_file(), "fetched into {}", fetched.display());

    // Without the store's copy, a worker with other weights refuses the tournament (plays none
    // of it), and the process following the tournament shows why.
    let url = fresh_database(&std::env::var("ARENA_TEST_POSTGRES").unwrap_or_default(), "arena_test_refusal");
    let planner = Spawned::start(
        &with_args(&["tournament", "--db", &url, "--workers-only"], &games),
        &dir.path().join("refusal-planner.log"),
    );
    wait_until("the plan", Duration::from_secs(60), || {
        Store::connect(&StoreLocation::parse(&url)).and_then(|s| s.scheduled_count(1)).unwrap_or(0) > 0
    });
    let mut client = postgres::Client::connect(&url, postgres::NoTls).unwrap_or_else(|e| panic!("{e}"));
    client.batch_execute("DELETE FROM content_parts").unwrap_or_else(|e| panic!("{e}"));
    let refused = shared_planned_hash(&url);
    std::fs::remove_dir_all(&net).unwrap_or_else(|e| panic!("{e}"));
    init("3");
    let worker = start_workers(
        None,
        &url,
        dir.path(),
        "x",
        1,
        &["--idle-exit", "1"],
        &[("ARENA_CACHE", &dir.path().join("empty"))],
    )
    .remove(0);
    let output = worker.finish(Duration::from_secs(60));
    assert_eq!(json(output.lines().last().unwrap_or_default())["games"], 0, "{output}");
    assert!(output.contains("skipping tournament 1") && output.contains(&refused), "{output}");
    wait_until("the planner to show the refusal", Duration::from_secs(30), || {
        planner.output().contains("worker x0 does not play tournament 1") && planner.output().contains("no copy")
    });
}

/// [`evolve_decisions`] without the store's tournament ids (a shared store also keeps the
/// self-play tournaments, so its ids run further).
fn decisions_without_ids(run: &Path) -> (Vec<serde_json::Value>, serde_json::Value) {
    let (mut summaries, lineage) = evolve_decisions(run);
    for summary in &mut summaries {
        summary["tournament_id"] = serde_json::Value::Null;
    }
    (summaries, lineage)
}

#[test]
fn an_evolve_run_whose_games_workers_play_decides_as_the_local_run() {
    let Some((_alone, dir, url)) = setup("arena_test_evolve") else { return };
    let config = dir.path().join("tiny.toml");
    std::fs::write(
        &config,
        "game = \"tic_tac_toe\"\ngenerations = 2\narchitecture = \"mlp(hidden=32,layers=2)\"\nanchor_sims = 20\n\
         tournament_games_per_pairing = 6\ntournament_sims = 8\nselfplay_games = 60\nselfplay_sims = 8\ngate_games = 20\n\
         bootstrap = 20\n[train]\nlearning_rate = 0.002\nweight_decay = 0.0001\nbatch_size = 32\nepochs = 3\nvalue_weight = 1.0\n",
    )
    .unwrap_or_else(|e| panic!("{e}"));
    let config_text = config.to_string_lossy().into_owned();
    let (local, shared) = (dir.path().join("local"), dir.path().join("shared"));
    let (local_text, shared_text) = (local.to_string_lossy().into_owned(), shared.to_string_lossy().into_owned());
    run_ok(&["evolve", "--quiet", "--threads", "2", "--config", &config_text, "--run-dir", &local_text]);

    // Workers in another folder: the run's checkpoints reach them through the store.
    let elsewhere = dir.path().join("elsewhere");
    std::fs::create_dir_all(&elsewhere).unwrap_or_else(|e| panic!("{e}"));
    let workers = start_workers(None, &url, dir.path(), "e", 2, &["--idle-exit", "8"], &[("ARENA_CACHE", &elsewhere)]);
    run_ok(&[
        "evolve",
        "--quiet",
        "--threads",
        "1",
        "--config",
        &config_text,
        "--run-dir",
        &shared_text,
        "--db",
        &url,
        "--workers-only",
    ]);
    let mut played = 0;
    for worker in workers {
        let report = json(worker.finish(Duration::from_secs(120)).lines().last().unwrap_or_default());
        assert_eq!(report["faults"], 0);
        played += report["games"].as_u64().unwrap_or(0);
    }
    assert!(played > 0, "the workers played the run's games");
    assert_eq!(
        decisions_without_ids(&shared),
        decisions_without_ids(&local),
        "the same generations and lineage, bit for bit"
    );
    // The run's store on the server holds its lineage and generations.
    let store = Store::connect(&StoreLocation::parse(&url)).unwrap_or_else(|e| panic!("{e:#}"));
    assert_eq!(store.generations().map(|g| g.len()).ok(), Some(3));
}

/// Runs `arena ARGS` in the folder `cwd`, failing the test with its output unless it succeeds.
fn run_in(cwd: &Path, args: &[&str]) {
    let output = Command::new(env!("CARGO_BIN_EXE_arena"))
        .current_dir(cwd)
        .args(args)
        .output()
        .unwrap_or_else(|e| panic!("cannot start arena: {e}"));
    assert!(
        output.status.success(),
        "arena {args:?} failed:\n{}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
}

/// A folder `plan` holding a tiny language model (`tiny.gguf`, its tokenizer a token per byte)
/// and, beside it, an empty folder `elsewhere` (a worker's machine, which has neither).
fn model_folders(dir: &Path) -> (PathBuf, PathBuf) {
    let (plan, elsewhere) = (dir.join("plan"), dir.join("elsewhere"));
    for folder in [&plan, &elsewhere] {
        std::fs::create_dir_all(folder).unwrap_or_else(|e| panic!("{e}"));
    }
    write_tiny_llama(&plan.join("tiny.gguf"), &TinyConfig { context: 2048, ..TinyConfig::default() }, 11)
        .unwrap_or_else(|e| panic!("{e}"));
    (plan, elsewhere)
}

#[test]
fn workers_fetch_language_models_and_game_data_by_content() {
    let Some((_alone, dir, url)) = setup("arena_test_models") else { return };
    let (plan, elsewhere) = model_folders(dir.path());
    let tasks: Vec<String> = (0..5)
        .map(|i| {
            serde_json::json!({"question": format!("What is {i} + 1?"), "answer": i + 1, "kind": "addition"})
                .to_string()
        })
        .collect();
    std::fs::write(plan.join("tasks.jsonl"), tasks.join("\n") + "\n").unwrap_or_else(|e| panic!("{e}"));
    // Relative paths: the worker, started in another folder, finds neither file under them.
    let games = [
        "--game",
        "quiz(tasks=tasks.jsonl)",
        "--agents",
        "llm(model=tiny.gguf,temperature=1,max_tokens=6)",
        "llm(model=tiny.gguf,temperature=0.7,max_tokens=6)",
        "--games-per-pairing",
        "6",
        "--seed",
        "3",
    ];
    let reference = dir.path().join("reference.db");
    let reference_text = reference.to_string_lossy().into_owned();
    run_in(&plan, &with_args(&["tournament", "--threads", "1", "--db", &reference_text], &games));

    let planner = Spawned::start_in(
        Some(&plan),
        &with_args(&["tournament", "--db", &url, "--workers-only"], &games),
        &dir.path().join("planner.log"),
        &[],
    );
    wait_until("the plan", Duration::from_secs(60), || {
        Store::connect(&StoreLocation::parse(&url)).and_then(|s| s.scheduled_count(1)).unwrap_or(0) > 0
    });
    let cache = dir.path().join("cache");
    let worker = start_workers(Some(&elsewhere), &url, dir.path(), "m", 1, &[], &[("ARENA_CACHE", &cache)]).remove(0);
    let report = json(worker.finish(Duration::from_secs(120)).lines().last().unwrap_or_default());
    assert_eq!(report["games"], 6, "{report}");
    planner.finish(Duration::from_secs(60));
    assert_same_tournament(&reference, &url);
    let shared = Store::connect(&StoreLocation::parse(&url)).unwrap_or_else(|e| panic!("{e:#}"));
    let sqlite = Store::open(&reference).unwrap_or_else(|e| panic!("{e:#}"));
    let turns = shared.turns(1).unwrap_or_else(|e| panic!("{e:#}"));
    assert_eq!(turns.len(), 6, "every game's answers are stored");
    assert_eq!(turns, sqlite.turns(1).unwrap_or_else(|e| panic!("{e:#}")), "the same answers, token for token");

    // Both stores list what the tournament read, by content; the worker's copies have it.
    let files = shared.tournament_files(1).unwrap_or_else(|e| panic!("{e:#}"));
    assert_eq!(files, sqlite.tournament_files(1).unwrap_or_else(|e| panic!("{e:#}")));
    let kinds: Vec<(ContentKind, &str)> = files.iter().map(|f| (f.kind, f.path.as_str())).collect();
    assert_eq!(
        kinds,
        [(ContentKind::Model, "tiny.gguf"), (ContentKind::Model, "tiny.gguf"), (ContentKind::Data, "tasks.jsonl")]
    );
    let model = files.iter().find(|f| f.kind == ContentKind::Model).map(|f| f.hash.clone()).unwrap_or_default();
    let data = files.iter().find(|f| f.kind == ContentKind::Data).map(|f| f.hash.clone()).unwrap_or_default();
    let copies = cache.join("checkpoints");
    assert_eq!(
        std::fs::read(copies.join(&model).join("model.gguf")).ok(),
        std::fs::read(plan.join("tiny.gguf")).ok(),
        "the model was fetched whole"
    );
    assert_eq!(
        std::fs::read(copies.join(&data).join("tasks.jsonl")).ok(),
        std::fs::read(plan.join("tasks.jsonl")).ok(),
        "the tasks were fetched whole"
    );
}

#[test]
fn a_language_model_evolve_run_whose_games_workers_play_decides_as_the_local_run() {
    let Some((_alone, dir, url)) = setup("arena_test_evolve_llm") else { return };
    let (plan, elsewhere) = model_folders(dir.path());
    // One generation of tic-tac-toe with scored moves: the base model and its fine-tuned
    // children (merged models in the run directory) reach the workers only through the store.
    let config = "game = \"tic_tac_toe\"\ngenerations = 1\npopulation = 2\nleague = 1\ntournament_games_per_pairing = 4\n\
         opening_plies = 1\nselfplay_games = 6\ngate_games = 4\nbootstrap = 20\n[llm]\nmodel = \"tiny.gguf\"\n\
         agent = \"llm(choice=scored,temperature=1)\"\nmethod = \"sft\"\nlora_rank = 4\nlora_targets = \"q,v\"\nepochs = 2\n\
         learning_rate = 0.002\nbatch_tokens = 4096\nmax_len = 2048\nmax_examples = 12\nheldout_games = 4\n\
         heldout_opponents = [\"base\", \"random\"]\n";
    std::fs::write(plan.join("llm.toml"), config).unwrap_or_else(|e| panic!("{e}"));
    let evolve = ["evolve", "--quiet", "--threads", "1", "--config", "llm.toml"];
    run_in(&plan, &with_args(&evolve, &["--run-dir", "local"]));

    let cache = dir.path().join("cache");
    let workers =
        start_workers(Some(&elsewhere), &url, dir.path(), "w", 2, &["--idle-exit", "600"], &[("ARENA_CACHE", &cache)]);
    run_in(&plan, &with_args(&evolve, &["--run-dir", "shared", "--db", &url, "--workers-only"]));
    assert_eq!(
        decisions_without_ids(&plan.join("shared")),
        decisions_without_ids(&plan.join("local")),
        "generation summaries and lineage (model hashes included)"
    );
    // Every game of the run was played by the workers, none twice differently.
    let shared = Store::connect(&StoreLocation::parse(&url)).unwrap_or_else(|e| panic!("{e:#}"));
    let tournaments = shared.tournaments().unwrap_or_else(|e| panic!("{e:#}"));
    assert!(tournaments.len() >= 4, "rating, self-play, held-out and gate tournaments: {}", tournaments.len());
    for tournament in &tournaments {
        let played = shared.match_workers(tournament.id).unwrap_or_else(|e| panic!("{e:#}"));
        assert!(!played.is_empty(), "tournament {} was played", tournament.id);
        for (index, worker) in played {
            assert!(
                worker.as_deref().is_some_and(|w| w.starts_with('w')),
                "match {index} of {}: {worker:?}",
                tournament.id
            );
        }
        assert!(shared.faults(tournament.id).unwrap_or_else(|e| panic!("{e:#}")).is_empty());
    }
    // The children were fetched by the hash of their merged model.
    let lineage: serde_json::Value = serde_json::from_str(
        &std::fs::read_to_string(plan.join("shared").join("lineage.json")).unwrap_or_else(|e| panic!("{e}")),
    )
    .unwrap_or_else(|e| panic!("{e}"));
    let children: Vec<String> = lineage["nodes"]
        .as_array()
        .into_iter()
        .flatten()
        .filter(|c| c["generation"] == 1)
        .filter_map(|c| c["hash"].as_str().map(str::to_string))
        .collect();
    assert!(!children.is_empty(), "{lineage}");
    for hash in children {
        assert!(cache.join("checkpoints").join(&hash).join("model.gguf").is_file(), "child {hash} fetched");
    }
    drop(workers);
}

#[test]
fn debates_parked_by_workers_wait_for_verdicts_given_on_the_served_shared_store() {
    let Some((_alone, dir, url)) = setup("arena_test_verdicts") else { return };
    let (plan, _) = model_folders(dir.path());
    let games = [
        "--game",
        "debate(rounds=1,max_chars=400)",
        "--agents",
        "llm(model=tiny.gguf,max_tokens=12,temperature=0)",
        "llm(model=tiny.gguf,max_tokens=10,temperature=0)",
        "--judge",
        "human(via=web)",
    ];
    let planner = Spawned::start_in(
        Some(&plan),
        &with_args(&["tournament", "--db", &url, "--workers-only"], &games),
        &dir.path().join("planner.log"),
        &[],
    );
    let worker = start_workers(Some(&plan), &url, dir.path(), "v", 1, &["--idle-exit", "600"], &[]).remove(0);
    let location = StoreLocation::parse(&url);
    wait_until("both debates parked", Duration::from_secs(120), || {
        Store::connect(&location).and_then(|s| s.awaiting(1)).map(|a| a.len() == 2).unwrap_or(false)
    });
    let shared = Store::connect(&location).unwrap_or_else(|e| panic!("{e:#}"));
    let workers = shared.match_workers(1).unwrap_or_else(|e| panic!("{e:#}"));
    assert!(workers.is_empty(), "no debate is finished before its verdict: {workers:?}");
    assert_eq!(shared.finished_count(1).ok(), Some(0));

    let config = arena::serve::ServeConfig { db: location.clone(), run: None, host: "127.0.0.1".into(), port: 0 };
    let server = arena::serve::WebServer::start(&config, |_| {}).unwrap_or_else(|e| panic!("{e:#}"));
    let http: ureq::Agent = ureq::Agent::config_builder().http_status_as_error(false).max_redirects(0).build().into();
    for index in 0..2 {
        let page_url = format!("{}judge/1/{index}", server.url());
        let mut page = http.get(&page_url).call().unwrap_or_else(|e| panic!("{e}"));
        let page = page.body_mut().read_to_string().unwrap_or_else(|e| panic!("{e}"));
        let form = format!("token={}&verdict=pro&name=dee", common::form_token(&page));
        let posted = http
            .post(&page_url)
            .header("Content-Type", "application/x-www-form-urlencoded")
            .send(&form)
            .unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(posted.status().as_u16(), 303, "{page}");
    }
    let output = planner.finish(Duration::from_secs(60));
    assert!(output.contains("stored as tournament 1"), "{output}");
    let shared = Store::connect(&location).unwrap_or_else(|e| panic!("{e:#}"));
    let finished = shared.finished(1).unwrap_or_else(|e| panic!("{e:#}"));
    let returns: Vec<&[f64]> = finished.iter().map(|m| &m.returns[..2]).collect();
    assert_eq!(returns, [[1.0, -1.0], [1.0, -1.0]], "each verdict `pro` gives Pro the debate");
    let verdicts: Vec<String> = (0..2)
        .filter_map(|i| shared.verdict(1, i).unwrap_or_else(|e| panic!("{e:#}")))
        .map(|v| format!("{}:{}", v.verdict, v.person))
        .collect();
    assert_eq!(verdicts, ["pro:dee", "pro:dee"]);
    let by_worker = shared.match_workers(1).unwrap_or_else(|e| panic!("{e:#}"));
    assert!(by_worker.iter().all(|(_, w)| w.as_deref() == Some("v0")), "the worker played both: {by_worker:?}");
    assert_eq!(shared.match_moves(1).map(|m| m.len()).ok(), Some(2));
    drop(worker);
}
