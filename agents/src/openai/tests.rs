//! The `openai` agent against a scripted server: requests, replies, faults and limits.

use std::sync::Arc;
use std::time::{Duration, Instant};

use arena_tests::fake_http::{Answer, FakeServer, Recorded};
use games::load_game;
use rand::SeedableRng;
use serde_json::{Value, json};

use super::*;
use crate::agent::{AgentRng, Reply, View};

fn ok<T, E: std::fmt::Display>(result: Result<T, E>) -> T {
    result.unwrap_or_else(|e| panic!("{e}"))
}

/// A chat completion saying `text`.
fn chat_reply(text: &str) -> Answer {
    Answer::ok(json!({
        "id": "x", "object": "chat.completion", "model": "served-name", "system_fingerprint": "fp1",
        "choices": [{ "index": 0, "message": { "role": "assistant", "content": text }, "finish_reason": "stop" }],
        "usage": { "prompt_tokens": 40, "completion_tokens": 3, "total_tokens": 43 }
    }))
}

fn agent(spec_tail: &str, server: &FakeServer, factory: &AgentFactory) -> Box<dyn Agent> {
    ok(factory.build(&format!("openai(url=\"{}\",model=m{spec_tail})", server.url)))
}

/// The agent's first move of tic-tac-toe, with an optional deadline.
fn first_move(agent: &mut dyn Agent, deadline: Option<Instant>) -> Result<Decision, AgentError> {
    let game = ok(load_game("tic_tac_toe"));
    let state = game.new_initial_state();
    let mut legal = Vec::new();
    state.legal_actions(&mut legal);
    let view = View::new(game.as_ref(), state.as_ref(), 0, &legal).with_deadline(deadline);
    agent.act(&view, &mut AgentRng::seed_from_u64(7))
}

fn crash_message(result: Result<Decision, AgentError>) -> String {
    match result {
        Err(AgentError::Crashed(message)) => message,
        other => panic!("expected a crash, got {other:?}"),
    }
}

#[test]
fn a_chat_move_is_read_back_and_its_request_kept_without_the_key() {
    let server = FakeServer::start(|_, _| chat_reply("I will play b2."));
    // The variable is this test's own: no other test reads or sets it.
    unsafe_free_set_var("ARENA_TEST_KEY_A", "sekret-123");
    let factory = AgentFactory::new();
    let mut agent = agent(",api_key_env=ARENA_TEST_KEY_A,temperature=0.5,move_tokens=9,seed=3", &server, &factory);
    let decision = ok(first_move(agent.as_mut(), None));
    assert_eq!(decision.reply, Reply::Action(4));

    let requests = server.requests();
    assert_eq!(requests.len(), 1);
    let request = &requests[0];
    assert_eq!((request.method.as_str(), request.path.as_str()), ("POST", "/v1/chat/completions"));
    assert_eq!(request.header("authorization"), Some("Bearer sekret-123"));
    let body = request.json();
    assert_eq!(body["model"], "m");
    assert_eq!(body["max_tokens"], 9);
    assert_eq!(body["temperature"], 0.5);
    assert_eq!(body["cache_prompt"], false);
    let seed = body["seed"].as_u64().unwrap_or_else(|| panic!("no seed sent: {body}"));
    let messages = body["messages"].as_array().cloned().unwrap_or_default();
    assert_eq!(messages.len(), 2);
    assert!(messages[1]["content"].as_str().unwrap_or("").contains("Choose one of these moves: a1, b1, c1, a2"));

    let trace = decision.trace.unwrap_or_else(|| panic!("no trace"));
    assert_eq!(trace.completion, "I will play b2.");
    let served = trace.request.clone().unwrap_or_else(|| panic!("no request kept"));
    assert_eq!(served.url, server.url);
    assert_eq!(served.endpoint, "chat/completions");
    assert_eq!((served.model.as_str(), served.served_model.as_deref()), ("m", Some("served-name")));
    assert_eq!((served.seed, served.cache_prompt, served.requests), (Some(seed), Some(false), 1));
    assert_eq!((served.prompt_tokens, served.completion_tokens), (40, 3));
    assert_eq!(served.system_fingerprint.as_deref(), Some("fp1"));
    assert_eq!(served.finish_reason.as_deref(), Some("stop"));
    // The same engine seed asks with the same seed again.
    ok(first_move(agent.as_mut(), None));
    assert_eq!(server.requests()[1].json()["seed"].as_u64(), Some(seed));
    // The key is nowhere but in the header.
    let stored = ok(serde_json::to_string(&trace));
    assert!(!stored.contains("sekret") && !format!("{agent:?}").contains("sekret"), "{stored}");
}

/// Sets an environment variable that only the calling test reads.
#[allow(unsafe_code)]
fn unsafe_free_set_var(name: &str, value: &str) {
    // SAFETY: the variable's name is the test's own; no other thread reads or writes it.
    unsafe { std::env::set_var(name, value) }
}

#[test]
fn a_missing_key_variable_is_named_and_nothing_is_sent() {
    let server = FakeServer::start(|_, _| chat_reply("a1"));
    let factory = AgentFactory::new();
    let error = factory
        .build(&format!("openai(url=\"{}\",api_key_env=ARENA_TEST_KEY_UNSET)", server.url))
        .err()
        .map(|e| e.to_string())
        .unwrap_or_default();
    assert!(error.contains("ARENA_TEST_KEY_UNSET") && error.contains("not set"), "{error}");
    let error = factory
        .build(&format!("openai(url=\"{}\",api_key_env=\"sk-abc def\")", server.url))
        .err()
        .map(|e| e.to_string())
        .unwrap_or_default();
    assert!(error.contains("environment variable"), "{error}");
    assert!(server.requests().is_empty());
}

#[test]
fn settings_that_cannot_work_are_refused_when_built() {
    let factory = AgentFactory::new();
    let error = |spec: &str| factory.build(spec).err().map(|e| e.to_string()).unwrap_or_default();
    assert!(error("openai(url=localhost:8080)").contains("scheme"));
    assert!(error("openai(url=http://x/v1,choice=scored)").contains("mode=completion"));
    assert!(error("openai(url=http://x/v1,mode=stream)").contains("`chat` or `completion`"));
    assert!(error("openai(url=http://x/v1,on_down=retry)").contains("`forfeit` or `wait`"));
    assert!(error("openai(url=http://u:pw@x/v1,mode=x)").contains("mode"));
    assert!(!error("openai(url=u:pw@x/v1)").contains("pw"), "a password in a bad URL is not repeated");
}

#[test]
fn the_model_defaults_to_the_first_the_server_lists() {
    let server = FakeServer::start(|request, _| {
        if request.path == "/v1/models" {
            Answer::ok(json!({ "object": "list", "data": [{ "id": "first-model" }, { "id": "second" }] }))
        } else {
            chat_reply("c3")
        }
    });
    let factory = AgentFactory::new();
    let mut agent = ok(factory.build(&format!("openai(url=\"{}/\")", server.url)));
    assert_eq!(ok(first_move(agent.as_mut(), None)).reply, Reply::Action(8));
    ok(first_move(agent.as_mut(), None));
    let paths: Vec<String> = server.requests().iter().map(|r| r.path.clone()).collect();
    assert_eq!(paths, ["/v1/models", "/v1/chat/completions", "/v1/chat/completions"]);
    assert_eq!(server.requests()[1].json()["model"], "first-model");
}

#[test]
fn server_errors_and_rate_limits_are_retried_and_counted() {
    let server = FakeServer::start(|_, index| match index {
        0 => Answer::error(500, "busy"),
        1 => Answer::Json {
            status: 429,
            body: json!({ "error": { "message": "slow down" } }).to_string(),
            headers: vec![("Retry-After".to_string(), "0".to_string())],
        },
        2 => Answer::Raw("HTTP/1.1 200 OK\r\nContent-Length: 9\r\nConnection: close\r\n\r\n{not json".to_string()),
        3 => Answer::Close,
        _ => chat_reply("a3"),
    });
    let factory = AgentFactory::new();
    let mut agent = agent(",http_retries=4", &server, &factory);
    let decision = ok(first_move(agent.as_mut(), None));
    assert_eq!(decision.reply, Reply::Action(6));
    let served = decision.trace.and_then(|t| t.request).unwrap_or_else(|| panic!("no request"));
    assert_eq!(served.requests, 5);
    assert_eq!(server.requests().len(), 5);
}

#[test]
fn failures_that_last_crash_the_move_with_the_reason() {
    let cases: Vec<(Answer, &str)> = vec![
        (Answer::error(500, "the model fell over"), "HTTP 500: the model fell over"),
        (Answer::error(400, "bad request here"), "HTTP 400: bad request here"),
        (
            Answer::Raw("HTTP/1.1 200 OK\r\nContent-Length: 5\r\nConnection: close\r\n\r\n<html".into()),
            "unreadable reply",
        ),
        (Answer::Close, "cannot reach"),
        (Answer::Hang(Duration::from_secs(3)), "did not answer within"),
        (Answer::ok(json!({ "choices": [] })), "no choices[0]"),
    ];
    for (answer, expected) in cases {
        let replies = answer.clone();
        let server = FakeServer::start(move |_, _| replies.clone());
        let factory = AgentFactory::new();
        let mut agent = agent(",http_retries=1,timeout_ms=300", &server, &factory);
        let message = crash_message(first_move(agent.as_mut(), None));
        assert!(message.contains(expected) && message.contains(&server.url), "{answer:?}: {message}");
        // A client error is not asked again; the others are, once.
        let asked = server.requests().len();
        assert_eq!(asked, if expected.contains("400") || expected.contains("choices") { 1 } else { 2 }, "{answer:?}");
    }
}

#[test]
fn a_hanging_server_past_the_deadline_is_a_timeout() {
    let server = FakeServer::start(|_, _| Answer::Hang(Duration::from_secs(3)));
    let factory = AgentFactory::new();
    let mut agent = agent(",http_retries=5", &server, &factory);
    let started = Instant::now();
    let answer = first_move(agent.as_mut(), Some(Instant::now() + Duration::from_millis(300)));
    assert!(matches!(answer, Err(AgentError::Timeout(_))), "{answer:?}");
    assert!(started.elapsed() < Duration::from_secs(2), "waited {:?}", started.elapsed());
}

#[test]
fn a_server_that_is_down_forfeits_or_is_waited_for() {
    // A port nobody listens on: take one, then free it.
    let port = std::net::TcpListener::bind("127.0.0.1:0").and_then(|l| l.local_addr()).map(|a| a.port());
    let port = ok(port);
    let url = format!("http://127.0.0.1:{port}/v1");
    let factory = AgentFactory::new();
    let mut forfeit = ok(factory.build(&format!("openai(url=\"{url}\",model=m,http_retries=1)")));
    assert!(crash_message(first_move(forfeit.as_mut(), None)).contains("cannot reach"));

    // With on_down=wait, the move waits for the server to come back.
    let mut waiting = ok(factory.build(&format!("openai(url=\"{url}\",model=m,http_retries=0,on_down=wait)")));
    let back = std::thread::spawn(move || {
        std::thread::sleep(Duration::from_millis(700));
        FakeServer::start_on(port, |_, _| chat_reply("a2"))
    });
    let decision = ok(first_move(waiting.as_mut(), None));
    assert_eq!(decision.reply, Reply::Action(3));
    let served = decision.trace.and_then(|t| t.request).unwrap_or_else(|| panic!("no request"));
    assert!(served.requests >= 2, "{served:?}");
    drop(back.join());
}

#[test]
fn requests_in_flight_stay_within_the_shared_limit() {
    let server = FakeServer::start(|_, _| {
        std::thread::sleep(Duration::from_millis(150));
        chat_reply("a1")
    });
    let factory = Arc::new(AgentFactory::new());
    let threads: Vec<_> = (0..6)
        .map(|_| {
            let (factory, url) = (factory.clone(), server.url.clone());
            std::thread::spawn(move || {
                let mut agent = ok(factory.build(&format!("openai(url=\"{url}\",model=m,concurrency=2)")));
                for _ in 0..2 {
                    ok(first_move(agent.as_mut(), None));
                }
            })
        })
        .collect();
    for thread in threads {
        ok(thread.join().map_err(|_| "a game thread panicked"));
    }
    assert_eq!(server.requests().len(), 12);
    assert_eq!(server.max_in_flight(), 2, "the limit is shared and reached");
}

/// An echoed completion of `prompt` as llama.cpp's Python server gives it: special tokens
/// written as nothing, other text one token per character, each with log-probability -1 except
/// those of a reply starting `c3` (-0.01), and one generated token.
fn echo_reply(request: &Recorded) -> Answer {
    let prompt = request.json()["prompt"].as_str().unwrap_or("").to_string();
    let reply_start = prompt.rfind("assistant\n").map_or(0, |i| i + "assistant\n".len());
    let favoured = prompt[reply_start..].starts_with("c3");
    let (mut tokens, mut logprobs) = (Vec::new(), Vec::new());
    let mut rest = prompt.as_str();
    while !rest.is_empty() {
        let in_reply = prompt.len() - rest.len() >= reply_start;
        let special = ["<|im_start|>", "<|im_end|>"].into_iter().find(|s| rest.starts_with(s));
        let length = special.map_or_else(|| rest.chars().next().map_or(1, char::len_utf8), str::len);
        tokens.push(if special.is_some() { String::new() } else { rest[..length].to_string() });
        logprobs.push(if in_reply && favoured { json!(-0.01) } else { json!(-1.0) });
        rest = &rest[length..];
    }
    logprobs[0] = Value::Null;
    tokens.push("X".to_string());
    logprobs.push(json!(-50.0));
    Answer::ok(json!({
        "model": "served", "object": "text_completion",
        "choices": [{ "index": 0, "text": format!("{prompt}X"), "finish_reason": "length",
            "logprobs": { "tokens": tokens, "token_logprobs": logprobs, "top_logprobs": null } }],
        "usage": { "prompt_tokens": 100, "completion_tokens": 1, "total_tokens": 101 }
    }))
}

#[test]
fn a_scored_choice_plays_the_move_the_served_model_scores_highest() {
    let server = FakeServer::start(|request, _| echo_reply(request));
    let factory = AgentFactory::new();
    let mut agent = agent(",mode=completion,choice=scored,temperature=0", &server, &factory);
    let decision = ok(first_move(agent.as_mut(), None));
    assert_eq!(decision.reply, Reply::Action(8), "c3 is the likeliest");
    let requests = server.requests();
    assert_eq!(requests.len(), 9, "one request per legal move");
    for request in &requests {
        let body = request.json();
        assert_eq!(request.path, "/v1/completions");
        assert_eq!((body["echo"].as_bool(), body["logprobs"].as_u64()), (Some(true), Some(0)));
        let prompt = body["prompt"].as_str().unwrap_or("");
        assert!(prompt.starts_with("<|im_start|>system\n") && prompt.ends_with("<|im_end|>"), "{prompt}");
    }
    // Every other move scores its 2 characters and `<|im_end|>` at -1 each; c3 at -0.01 each.
    let policy = decision.policy.unwrap_or_default();
    let total: f32 = policy.iter().map(|&(_, p)| p).sum();
    assert!((total - 1.0).abs() < 1e-5);
    let trace = decision.trace.unwrap_or_else(|| panic!("no trace"));
    assert_eq!(trace.completion, "c3");
    assert_eq!(trace.logprobs.len(), 3, "c, 3 and the end of turn; the generated token is not counted");
    assert!(trace.logprobs.iter().all(|&l| (l + 0.01).abs() < 1e-6));
    let served = trace.request.unwrap_or_else(|| panic!("no request"));
    assert_eq!((served.choice.as_str(), served.requests, served.prompt_tokens), ("scored", 9, 900));
}

#[test]
fn a_server_without_echoed_logprobs_is_named_as_the_reason() {
    let server = FakeServer::start(|_, _| {
        Answer::ok(json!({ "choices": [{ "index": 0, "text": "x", "logprobs": null, "finish_reason": "length" }] }))
    });
    let factory = AgentFactory::new();
    let mut agent = agent(",mode=completion,choice=scored", &server, &factory);
    let message = crash_message(first_move(agent.as_mut(), None));
    assert!(message.contains("echo") && message.contains("logprobs"), "{message}");
}

#[test]
fn grammar_choices_allow_only_the_legal_moves() {
    let server = FakeServer::start(|request, _| {
        if request.path.ends_with("/completions") && !request.path.contains("chat") {
            Answer::ok(json!({ "model": "m", "choices": [{ "index": 0, "text": "a2", "finish_reason": "stop" }] }))
        } else {
            chat_reply("a2")
        }
    });
    let factory = AgentFactory::new();
    for mode in ["chat", "completion"] {
        let mut agent = agent(&format!(",mode={mode},choice=grammar"), &server, &factory);
        assert_eq!(ok(first_move(agent.as_mut(), None)).reply, Reply::Action(3));
    }
    let requests = server.requests();
    for request in &requests {
        let grammar = request.json()["grammar"].as_str().unwrap_or("").to_string();
        assert_eq!(grammar, r#"root ::= "a1" | "b1" | "c1" | "a2" | "b2" | "c2" | "a3" | "b3" | "c3""#);
    }
    let completion = requests[1].json();
    assert_eq!(completion["stop"], json!(["<|im_end|>"]));
    assert!(completion["prompt"].as_str().unwrap_or("").ends_with("<|im_start|>assistant\n"));
}

#[test]
fn a_rejected_answer_is_quoted_back_in_the_next_request() {
    let server = FakeServer::start(|_, index| chat_reply(if index == 0 { "z9" } else { "a1" }));
    let factory = AgentFactory::new();
    let mut agent = agent("", &server, &factory);
    let game = ok(load_game("tic_tac_toe"));
    let state = game.new_initial_state();
    let mut legal = Vec::new();
    state.legal_actions(&mut legal);
    let view = View::new(game.as_ref(), state.as_ref(), 0, &legal);
    let first = ok(agent.act(&view, &mut AgentRng::seed_from_u64(1)));
    assert!(matches!(first.reply, Reply::Text(_)), "{first:?}");
    let retry = view.with_feedback(Some("not a move"));
    assert_eq!(ok(agent.act(&retry, &mut AgentRng::seed_from_u64(2))).reply, Reply::Action(0));
    let messages = server.requests()[1].json()["messages"].as_array().cloned().unwrap_or_default();
    assert_eq!(messages.len(), 4);
    assert_eq!(messages[2], json!({ "role": "assistant", "content": "z9" }));
    assert!(messages[3]["content"].as_str().unwrap_or("").contains("not a move"));
}

#[test]
fn echoed_reply_tokens_are_found_from_the_end_whatever_the_server_spells() {
    // As llama.cpp's Python server answered (special tokens written as nothing, one generated).
    let prompt = "<|im_start|>user\nSay hi<|im_end|>\n<|im_start|>assistant\n";
    let llama = json!({
        "choices": [{ "text": format!("{prompt}hi<|im_end|>\n"), "logprobs": {
            "text_offset": [0, 4, 5, 8, 11, 11, 12, 15, 21, 22, 24, 24],
            "token_logprobs": [null, -3.3, -9.5, -6.1, -8.8, -0.1, -0.01, -0.0, -0.001, -7.1, -7.2, -0.03],
            "tokens": ["user", "\n", "Say", " hi", "", "\n", "ass", "istant", "\n", "hi", "", "\n"] } }],
        "usage": { "prompt_tokens": 12, "completion_tokens": 1 }
    });
    assert_eq!(ok(echoed_choice_logprobs(&llama["choices"][0], Some(1), prompt, "hi")), [-7.1, -7.2]);
    // Spelled special tokens, nothing generated, no usage.
    let spelled = json!({
        "choices": [{ "text": format!("{prompt}a10<|im_end|>"), "logprobs": {
            "token_logprobs": [null, -1.0, -2.0, -0.5, -0.25, -0.125],
            "tokens": ["<|im_start|>", "assistant", "\n", "a", "10", "<|im_end|>"] } }]
    });
    assert_eq!(ok(echoed_choice_logprobs(&spelled["choices"][0], None, prompt, "a10")), [-0.5, -0.25, -0.125]);
    // A token that straddles the prompt and the reply cannot be split: an error, not a guess.
    let merged = json!({
        "choices": [{ "logprobs": { "token_logprobs": [null, -1.0, -0.5], "tokens": ["x", "\na1", ""] } }],
        "usage": { "completion_tokens": 0 }
    });
    let error = echoed_choice_logprobs(&merged["choices"][0], Some(0), prompt, "a1").err().unwrap_or_default();
    assert!(error.contains("not separate"), "{error}");
    let unended = json!({
        "choices": [{ "logprobs": { "token_logprobs": [null, -1.0], "tokens": ["x", "a1"] } }],
        "usage": { "completion_tokens": 0 }
    });
    assert!(
        echoed_choice_logprobs(&unended["choices"][0], Some(0), prompt, "a1")
            .err()
            .unwrap_or_default()
            .contains("end of turn")
    );
}
