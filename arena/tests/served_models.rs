//! Language models over HTTP on a tiny GGUF the tests write: `arena serve-model` answers like the
//! model in process and refuses bad requests clearly; `openai(...)` agents play, judge and debate
//! through it as `llm(...)` agents do; a server that dies mid-tournament costs games, not the run.

mod common;

use std::path::{Path, PathBuf};
use std::time::Duration;

use agents::llm::tiny::{TinyConfig, write_tiny_llama};
use agents::llm::{LlmModel, SamplingParams};
use agents::{AgentFactory, AgentRng, ChatMessage, Reply, View};
use arena::engine::runner::{EndKind, FaultKind};
use arena::serve_model::{ModelServer, ServeModelConfig};
use arena::store::Store;
use arena_tests::fake_http::{Answer, FakeServer};
use common::{json, run_ok};
use rand::{Rng, SeedableRng};
use serde_json::{Value, json};

fn ok<T, E: std::fmt::Display>(result: Result<T, E>) -> T {
    result.unwrap_or_else(|e| panic!("{e}"))
}

fn tiny_model(dir: &Path) -> PathBuf {
    let path = dir.join("tiny.gguf");
    ok(write_tiny_llama(&path, &TinyConfig { context: 2048, ..TinyConfig::default() }, 11));
    path
}

fn serve(model: &Path, tweak: impl FnOnce(&mut ServeModelConfig)) -> ModelServer {
    let mut config =
        ServeModelConfig { port: 0, name: Some("tiny".to_string()), batch: 4, ..ServeModelConfig::new(model) };
    tweak(&mut config);
    ok(ModelServer::start(&config, |_| {}))
}

fn http() -> ureq::Agent {
    ureq::Agent::config_builder().http_status_as_error(false).build().into()
}

/// Posts `body` (raw text) to `url`: the status, the JSON reply, and its `Retry-After`.
fn post(url: &str, body: &str) -> (u16, Value, Option<String>) {
    let mut response = ok(http().post(url).header("Content-Type", "application/json").send(body));
    let status = response.status().as_u16();
    let retry = response.headers().get("retry-after").and_then(|v| v.to_str().ok()).map(str::to_string);
    let text = ok(response.body_mut().read_to_string());
    (status, serde_json::from_str(&text).unwrap_or_else(|e| panic!("{e}: {text}")), retry)
}

fn post_ok(url: &str, body: &Value) -> Value {
    let (status, reply, _) = post(url, &body.to_string());
    assert_eq!(status, 200, "{reply}");
    reply
}

#[test]
fn serve_model_answers_as_the_model_does_in_process() {
    let dir = ok(tempfile::tempdir());
    let path = tiny_model(dir.path());
    let server = serve(&path, |_| {});
    let url = server.url();
    let model = ok(LlmModel::load(&path));

    let mut models = ok(http().get(format!("{url}/models")).call());
    let listed: Value = ok(serde_json::from_str(&ok(models.body_mut().read_to_string())));
    assert_eq!(listed["data"][0]["id"], "tiny");

    // Greedy and seeded chat answers are the model's own.
    let messages = [ChatMessage::system("Be brief."), ChatMessage::user("Name a colour.")];
    for (temperature, seed) in [(0.0f32, 0u64), (1.0, 5)] {
        let reply = post_ok(
            &format!("{url}/chat/completions"),
            &json!({ "model": "tiny", "messages": messages, "max_tokens": 12, "temperature": temperature, "top_p": 1,
                     "seed": seed, "logprobs": true }),
        );
        let params = SamplingParams { temperature, top_p: 1.0, max_tokens: 12, seed, ignore_stop: false };
        let expected = ok(model.generate(&messages, &params));
        assert_eq!(reply["choices"][0]["message"]["content"], expected.text.as_str());
        assert_eq!(reply["usage"]["prompt_tokens"], expected.prompt_tokens);
        assert_eq!(reply["usage"]["completion_tokens"], expected.tokens.len());
        let logprobs: Vec<f64> = reply["choices"][0]["logprobs"]["content"]
            .as_array()
            .map(|tokens| tokens.iter().filter_map(|t| t["logprob"].as_f64()).collect())
            .unwrap_or_default();
        let kept = expected.tokens.iter().filter(|t| !model.tokenizer().stop_tokens().contains(t)).count();
        assert_eq!(logprobs.len(), kept);
        for (got, want) in logprobs.iter().zip(&expected.logprobs) {
            assert!((got - *want as f64).abs() < 1e-6, "{logprobs:?} against {:?}", expected.logprobs);
        }
    }

    // Echoed log-probabilities of a prompt are the model's scores of its tokens.
    let prompt = "<|im_start|>user\nPick a cell<|im_end|>\n<|im_start|>assistant\nb2<|im_end|>";
    let reply = post_ok(
        &format!("{url}/completions"),
        &json!({ "prompt": prompt, "max_tokens": 0, "echo": true, "logprobs": 0 }),
    );
    let choice = &reply["choices"][0];
    assert_eq!(choice["text"], prompt);
    let tokens = ok(model.tokenizer().encode(prompt));
    let scored = ok(model.score_tokens(tokens[..1].to_vec(), vec![tokens[1..].to_vec()]));
    let echoed = choice["logprobs"]["token_logprobs"].as_array().cloned().unwrap_or_default();
    assert_eq!(echoed.len(), tokens.len());
    assert!(echoed[0].is_null());
    for (got, want) in echoed[1..].iter().zip(&scored[0].logprobs) {
        assert!((got.as_f64().unwrap_or(f64::NAN) - *want as f64).abs() < 1e-6, "{echoed:?}");
    }
    let offsets = choice["logprobs"]["text_offset"].as_array().cloned().unwrap_or_default();
    let strings = choice["logprobs"]["tokens"].as_array().cloned().unwrap_or_default();
    let rebuilt: String = strings.iter().filter_map(Value::as_str).collect();
    assert_eq!(rebuilt, prompt, "the echoed tokens spell the prompt");
    assert_eq!(offsets.last().and_then(Value::as_u64), Some((prompt.len() - "<|im_end|>".len()) as u64));

    // A completion continues the prompt's tokens; stop strings cut it.
    let greedy = ok(model.generate_tokens(tokens.clone(), &SamplingParams::greedy(6)));
    let reply = post_ok(&format!("{url}/completions"), &json!({ "prompt": prompt, "max_tokens": 6, "temperature": 0 }));
    assert_eq!(reply["choices"][0]["text"], greedy.text.as_str());
    if let Some(stop) = greedy.text.chars().nth(2).filter(|c| !c.is_whitespace()) {
        let reply = post_ok(
            &format!("{url}/completions"),
            &json!({ "prompt": prompt, "max_tokens": 6, "temperature": 0, "stop": stop.to_string() }),
        );
        let text = reply["choices"][0]["text"].as_str().unwrap_or("").to_string();
        assert!(greedy.text.starts_with(&text) && !text.contains(stop), "{text} of {}", greedy.text);
        assert_eq!(reply["choices"][0]["finish_reason"], "stop");
    }
    server.stop();
}

#[test]
fn bad_requests_get_a_clear_4xx_and_the_server_goes_on() {
    let dir = ok(tempfile::tempdir());
    let server = serve(&tiny_model(dir.path()), |c| c.max_body_bytes = 2000);
    let chat = format!("{}/chat/completions", server.url());
    let completions = format!("{}/completions", server.url());
    let embeddings = format!("{}/embeddings", server.url());
    let message = json!([{ "role": "user", "content": "hi" }]);
    let cases: Vec<(&str, String, u16, &str)> = vec![
        (&chat, "{not json".to_string(), 400, "not JSON"),
        (
            &chat,
            json!({ "messages": [{ "role": "user", "content": "x".repeat(3000) }] }).to_string(),
            413,
            "over 2000 bytes",
        ),
        (&chat, json!({ "model": "gpt-9", "messages": message }).to_string(), 404, "serves `tiny`"),
        (&chat, json!({ "messages": message, "stream": true }).to_string(), 400, "streaming"),
        (&chat, json!({ "messages": message, "n": 2 }).to_string(), 400, "more than one choice"),
        (&chat, json!({ "messages": message, "grammar": "root ::= \"a\"" }).to_string(), 400, "grammar"),
        (&chat, json!({ "messages": message, "temperature": 9 }).to_string(), 400, "temperature"),
        (&chat, json!({ "messages": message, "top_logprobs": 3 }).to_string(), 400, "top_logprobs"),
        (&chat, json!({ "messages": [] }).to_string(), 400, "messages"),
        (&chat, json!({ "messages": [{ "role": "wizard", "content": "x" }] }).to_string(), 400, "role"),
        (
            &chat,
            json!({ "messages": [{ "role": "user", "content": [{ "type": "image_url" }] }] }).to_string(),
            400,
            "text parts",
        ),
        (&completions, json!({ "prompt": "hi", "logprobs": 3 }).to_string(), 400, "logprobs=0"),
        (&completions, json!({ "prompt": {} }).to_string(), 400, "prompt"),
        (&completions, json!({ "max_tokens": 3 }).to_string(), 400, "`prompt` is required"),
        (&completions, json!({ "prompt": [999999] }).to_string(), 400, "outside the vocabulary"),
        (&embeddings, "{}".to_string(), 404, "no such endpoint"),
    ];
    for (url, body, status, expected) in cases {
        let (got, reply, _) = post(url, &body);
        let message = reply["error"]["message"].as_str().unwrap_or("").to_string();
        assert_eq!(got, status, "{url} {}: {reply}", &body[..body.len().min(80)]);
        assert!(message.contains(expected), "{message} does not say {expected}");
    }
    let mut wrong_method = ok(http().get(&chat).call());
    assert_eq!(wrong_method.status().as_u16(), 405);
    drop(wrong_method.body_mut().read_to_string());
    // The server still answers.
    post_ok(&chat, &json!({ "messages": message, "max_tokens": 2 }));
}

#[test]
fn a_full_queue_is_answered_busy_with_retry_after() {
    let dir = ok(tempfile::tempdir());
    let server = serve(&tiny_model(dir.path()), |c| {
        c.handlers = 1;
        c.max_queue = 1;
    });
    let url = format!("{}/completions", server.url());
    let body = json!({ "prompt": "count", "max_tokens": 400, "temperature": 1, "seed": 1 }).to_string();
    let threads: Vec<_> = (0..6)
        .map(|_| {
            let (url, body) = (url.clone(), body.clone());
            std::thread::spawn(move || post(&url, &body))
        })
        .collect();
    let replies: Vec<(u16, Value, Option<String>)> =
        threads.into_iter().map(|t| t.join().unwrap_or_else(|_| panic!("a client panicked"))).collect();
    let busy: Vec<_> = replies.iter().filter(|(status, _, _)| *status == 503).collect();
    assert!(!busy.is_empty() && busy.len() < 6, "{:?}", replies.iter().map(|r| r.0).collect::<Vec<_>>());
    for (_, reply, retry) in &busy {
        assert_eq!(retry.as_deref(), Some("1"));
        assert!(reply["error"]["message"].as_str().unwrap_or("").contains("busy"));
    }
    assert!(replies.iter().all(|(status, _, _)| *status == 200 || *status == 503));
}

#[test]
fn a_scored_openai_agent_chooses_as_the_same_model_in_process() {
    let dir = ok(tempfile::tempdir());
    let path = tiny_model(dir.path());
    let server = serve(&path, |_| {});
    let factory = AgentFactory::new();
    let mut served =
        ok(factory.build(&format!("openai(url={},mode=completion,choice=scored,temperature=0)", server.url())));
    // All moves in one request: the server scores their shared prompt once.
    let mut batched = ok(factory.build(&format!(
        "openai(url={},mode=completion,choice=scored,temperature=0,batch_prompts=true)",
        server.url()
    )));
    let mut local = ok(factory.build(&format!("llm(model=\"{}\",choice=scored,temperature=0)", path.display())));
    let game = ok(games::load_game("connect_four"));
    let mut legal = Vec::new();
    for seed in 0..6u64 {
        let mut rng = AgentRng::seed_from_u64(seed);
        let mut state = game.new_initial_state();
        for _ in 0..seed * 2 {
            state.legal_actions(&mut legal);
            let action = legal[rng.random_range(0..legal.len())];
            ok(state.apply(action));
        }
        state.legal_actions(&mut legal);
        let player = state.current_player().unwrap_or(0);
        let view = View::new(game.as_ref(), state.as_ref(), player, &legal);
        let a = ok(served.act(&view, &mut AgentRng::seed_from_u64(seed)));
        let b = ok(local.act(&view, &mut AgentRng::seed_from_u64(seed)));
        let c = ok(batched.act(&view, &mut AgentRng::seed_from_u64(seed)));
        assert_eq!(a.reply, b.reply, "position {seed}");
        assert_eq!(c.reply, b.reply, "position {seed}, batched");
        assert_eq!(c.policy, a.policy, "the shared prefix changes no score");
        let requests = c.trace.as_ref().and_then(|t| t.request.as_ref()).map(|r| r.requests);
        assert_eq!(requests, Some(1));
        let (pa, pb) = (a.policy.unwrap_or_default(), b.policy.unwrap_or_default());
        assert_eq!(pa.len(), pb.len());
        for ((action_a, p), (action_b, q)) in pa.iter().zip(&pb) {
            assert_eq!(action_a, action_b);
            assert!((p - q).abs() < 1e-4, "{pa:?} against {pb:?}");
        }
        assert!(matches!(a.reply, Reply::Action(_)));
    }
}

#[test]
fn openai_agents_play_and_judge_through_serve_model_with_their_requests_stored() {
    let dir = ok(tempfile::tempdir());
    let server = serve(&tiny_model(dir.path()), |_| {});
    let url = server.url();
    let db = dir.path().join("served.db");
    let chat = format!("openai(url={url},temperature=0.7,move_tokens=6,max_tokens=12)");
    let scored = format!("openai(url={url},mode=completion,choice=scored,temperature=0)");
    let report = json(&run_ok(&[
        "tournament",
        "--game",
        "tic_tac_toe",
        "--agents",
        &chat,
        &scored,
        "random",
        "--games-per-pairing",
        "2",
        "--threads",
        "2",
        "--db",
        db.to_str().unwrap_or_default(),
        "--json",
    ]));
    assert_eq!(report["games"], 6, "{report}");
    let store = ok(Store::open(&db));
    let finished = ok(store.finished(1));
    assert_eq!(finished.len(), 6);
    // The scored agent never forfeits; every stored turn keeps its request.
    for game in &finished {
        if let Some(seat) = game.fault_seat {
            assert_ne!(game.seats[seat], 1, "the scored agent forfeited: {:?}", game.fault_detail);
        }
    }
    let turns = ok(store.turns(1));
    let requests: Vec<_> = turns.values().flatten().filter_map(|t| t.trace.request.clone()).collect();
    assert!(requests.len() >= 6, "{} requests", requests.len());
    assert!(requests.iter().all(|r| r.url == url && r.served_model.as_deref() == Some("tiny")));
    assert!(requests.iter().any(|r| r.choice == "scored" && r.requests == 9), "a first move scores all 9 cells");
    assert!(requests.iter().any(|r| r.choice == "text" && r.seed.is_some() && r.cache_prompt == Some(false)));

    // A debate: served debaters, a served judge scoring `pro` and `con`.
    let db = dir.path().join("debate.db");
    let judge = format!("openai(url={url},mode=completion,choice=scored,temperature=0)");
    let report = json(&run_ok(&[
        "tournament",
        "--game",
        "debate(rounds=1,items=20)",
        "--agents",
        &chat,
        &format!("openai(url={url},mode=completion,max_tokens=12,seed=2)"),
        "--judge",
        &judge,
        "--games-per-pairing",
        "2",
        "--db",
        db.to_str().unwrap_or_default(),
        "--json",
    ]));
    assert_eq!(report["games"], 2, "{report}");
    let store = ok(Store::open(&db));
    let finished = ok(store.finished(1));
    assert!(finished.iter().all(|g| g.end == EndKind::Normal), "{finished:?}");
    let turns = ok(store.turns(1));
    for game in turns.values() {
        let verdict = game.iter().find(|t| t.seat == games::debate::JUDGE_SEAT).unwrap_or_else(|| panic!("no verdict"));
        assert!(["pro", "con"].contains(&verdict.trace.completion.as_str()));
        assert_eq!(verdict.trace.request.as_ref().map(|r| r.requests), Some(2));
        assert!(game.iter().filter(|t| t.seat != games::debate::JUDGE_SEAT).all(|t| t.trace.request.is_some()));
    }
}

#[test]
fn a_server_that_dies_mid_tournament_costs_its_games_not_the_tournament() {
    // Names every cell, so the first legal one is read as the move; then the server is gone.
    let server = FakeServer::start(|_, index| {
        if index < 6 {
            let text = "a1 b1 c1 a2 b2 c2 a3 b3 c3";
            Answer::ok(
                json!({ "model": "m", "choices": [{ "index": 0, "message": { "role": "assistant", "content": text } }] }),
            )
        } else {
            Answer::Close
        }
    });
    let dir = ok(tempfile::tempdir());
    let db = dir.path().join("dies.db");
    let agent = format!("openai(url={},model=m,http_retries=1)", server.url);
    let report = json(&run_ok(&[
        "play",
        "--game",
        "tic_tac_toe",
        "--agents",
        &agent,
        "first",
        "--games",
        "6",
        "--threads",
        "1",
        "--db",
        db.to_str().unwrap_or_default(),
        "--json",
    ]));
    assert_eq!(report["games"], 6, "{report}");
    let store = ok(Store::open(&db));
    let finished = ok(store.finished(1));
    assert_eq!(finished.len(), 6, "every game has a result");
    let crashed: Vec<_> = finished.iter().filter(|g| g.end == EndKind::Fault(FaultKind::Crash)).collect();
    assert!(!crashed.is_empty() && crashed.len() < 6, "{finished:?}");
    for game in crashed {
        let detail = game.fault_detail.clone().unwrap_or_default();
        assert!(detail.contains("cannot reach") && detail.contains(&server.url), "{detail}");
    }
}

#[test]
fn the_serve_model_command_prints_its_address_and_serves() {
    use std::io::BufRead;
    let dir = ok(tempfile::tempdir());
    let path = tiny_model(dir.path());
    let mut child = ok(std::process::Command::new(env!("CARGO_BIN_EXE_arena"))
        .args(["serve-model", "--model", path.to_str().unwrap_or_default(), "--port", "0", "--threads", "1", "--quiet"])
        .stdout(std::process::Stdio::piped())
        .spawn());
    let stdout = child.stdout.take().unwrap_or_else(|| panic!("no stdout"));
    let mut line = String::new();
    ok(std::io::BufReader::new(stdout).read_line(&mut line));
    let url =
        line.split_whitespace().find(|w| w.starts_with("http://")).unwrap_or_else(|| panic!("{line}")).to_string();
    assert!(line.starts_with("serving tiny at http://127.0.0.1:"), "{line}");
    let mut reply =
        ok(http().get(format!("{url}/models")).config().timeout_global(Some(Duration::from_secs(10))).build().call());
    let listed = ok(reply.body_mut().read_to_string());
    ok(child.kill());
    drop(child.wait());
    assert!(listed.contains("\"id\":\"tiny\""), "{listed}");
}
