//! Quiz: the generated answers re-derived independently from the questions' text, reading replies
//! as answers, the flow of a game, returns, hidden answers, task files and replay.

mod common;

use common::game;
use games::quiz::tasks::{parse_kinds, read_number, read_yes_no};
use games::quiz::{Answer, KINDS, Quiz, generate, load_jsonl};
use games::{GameRecord, Information, InputKind, Spec, Turn, Utility, record_of};

fn ok<T>(result: games::Result<T>) -> T {
    result.unwrap_or_else(|e| panic!("{e}"))
}

fn error_of<T: std::fmt::Debug>(result: games::Result<T>) -> String {
    match result {
        Ok(value) => panic!("expected an error, got {value:?}"),
        Err(e) => e.to_string(),
    }
}

/// The whole numbers in `text`, in order.
fn numbers_in(text: &str) -> Vec<i64> {
    text.split(|c: char| !c.is_ascii_digit()).filter(|w| !w.is_empty()).map(|w| w.parse().expect("digits")).collect()
}

/// The answer to a generated question, worked out from its text alone.
fn solve(kind: &str, question: &str) -> Answer {
    let n = numbers_in(question);
    match kind {
        "addition" => Answer::Number(n[0] + n[1]),
        "subtraction" => Answer::Number(n[0] - n[1]),
        "multiplication" => Answer::Number(n[0] * n[1]),
        "comparison" => Answer::YesNo(n[0] * n[1] > n[2]),
        "largest" => Answer::Number(*n.iter().max().expect("numbers")),
        "even_count" => Answer::Number(n.iter().filter(|&&x| x % 2 == 0).count() as i64),
        "letter_count" => {
            let quoted: Vec<&str> = question.split('"').collect();
            let (letter, word) = (quoted[1], quoted[3]);
            Answer::Number(word.matches(letter).count() as i64)
        }
        other => panic!("unknown kind {other}"),
    }
}

#[test]
fn generated_answers_match_the_questions_and_every_kind_appears() {
    let all: Vec<&str> = KINDS.iter().map(|(k, _)| *k).collect();
    let set = generate(0, 700, &all);
    for task in &set {
        assert_eq!(task.answer, solve(&task.kind, &task.question), "{task:?}");
    }
    for (kind, example) in KINDS {
        let count = set.iter().filter(|t| t.kind == *kind).count();
        assert!(count > 50, "{kind}: {count} of 700");
        // The documented example is itself a question of its kind with a derivable answer.
        let _ = solve(kind, example);
    }
    let yes = set.iter().filter(|t| t.answer == Answer::YesNo(true)).count();
    let no = set.iter().filter(|t| t.answer == Answer::YesNo(false)).count();
    assert!(yes > 20 && no > 20, "comparisons: {yes} yes, {no} no");
    // A larger set extends a smaller one; another seed is another set.
    assert_eq!(generate(0, 50, &all), set[..50]);
    assert_ne!(generate(1, 50, &all), set[..50]);
    // Only the chosen kinds.
    let kinds = parse_kinds("multiplication+addition").expect("kinds");
    assert!(generate(3, 100, &kinds).iter().all(|t| t.kind == "multiplication" || t.kind == "addition"));
    assert!(parse_kinds("addition+division").is_err_and(|e| e.contains("unknown kind `division`")));
}

#[test]
fn replies_are_read_as_numbers_and_yes_or_no() {
    for (reply, expected) in [
        ("42", 42),
        ("  56.", 56),
        ("7 × 8 = 56", 56),
        ("6 × 7 = 42\n\nSo, 6 ×", 42),
        ("17 + 25 = 32. Then 32 = 31 + 1", 31),
        ("The letter \"s\" appears 4 times.", 4),
        ("It appears twice in the word.", 2),
        ("The answer is -3", -3),
        ("5-3", 5),
    ] {
        assert_eq!(read_number(reply).unwrap_or_else(|e| panic!("{reply}: {e}")), expected, "{reply}");
    }
    assert!(error_of(read_number("I am not sure.")).contains("has no number"));
    assert!(error_of(read_number("99999999999999999999999")).contains("too large"));
    for (reply, expected) in [("Yes", true), ("no.", false), ("True.", true), ("That is not true", false)] {
        assert_eq!(read_yes_no(reply).unwrap_or_else(|e| panic!("{reply}: {e}")), expected, "{reply}");
    }
    assert!(error_of(read_yes_no("yes and no")).contains("yes or no"));
    assert!(error_of(read_yes_no("Maybe")).contains("yes or no"));
}

#[test]
fn a_game_scores_each_answer_and_hides_the_answer_and_the_other_reply() {
    let quiz = game("quiz(items=100,seed=4,kinds=multiplication)");
    let facts = quiz.facts();
    assert_eq!((facts.players, facts.information, facts.utility), (2, Information::Imperfect, Utility::GeneralSum));
    assert_eq!(quiz.spec().to_string(), "quiz(tasks=generated,items=100,seed=4,kinds=multiplication,max_chars=200)");
    let concrete = ok(Quiz::from_spec("quiz(items=100,seed=4,kinds=multiplication)"));
    let task = &concrete.tasks()[7];
    let Answer::Number(right) = task.answer else { panic!("a number: {task:?}") };

    let mut state = quiz.new_initial_state();
    assert_eq!(state.turn(), Turn::Chance);
    ok(state.apply_text("task 7"));
    assert_eq!((state.turn(), state.input_kind()), (Turn::Player(0), InputKind::Text));
    let prompt = state.observation_string(0);
    assert!(prompt.contains(&task.question) && prompt.contains("whole number"), "{prompt}");
    // A reply that reads as no answer, or is too long, is refused and changes nothing.
    assert!(error_of(state.apply_text("I do not know")).contains("no number"));
    assert!(error_of(state.apply_text(&"9".repeat(201))).contains("201 characters"));
    assert_eq!(state.turn(), Turn::Player(0));
    ok(state.apply_text(&format!("{} × {} = {right}", right, 1)));
    assert_eq!(state.turn(), Turn::Player(1));
    // Seat 1 sees the question, not seat 0's reply or the answer.
    let seen = state.observation_string(1);
    assert!(!seen.contains(&format!("= {right}")) && !seen.contains("read as"), "{seen}");
    assert_eq!(state.player_return(0), 0.0);
    ok(state.apply_text(&format!("{}", right + 1)));
    assert!(state.is_terminal());
    assert_eq!((state.player_return(0), state.player_return(1)), (1.0, -1.0));
    assert!(state.render().contains(&format!("answer: {right}")));
    assert!(state.observation_string(1).contains(&format!("read as {}", right + 1)));

    // The record replays to the same returns; two right answers draw.
    let record = record_of(quiz.as_ref(), state.as_ref());
    let (_, replayed) = ok(GameRecord::from_json(&record.to_json()).and_then(|r| r.replay()));
    assert_eq!(replayed.player_return(0), 1.0);
    let mut both = quiz.new_initial_state();
    ok(both.apply(7));
    ok(both.apply_text(&right.to_string()));
    ok(both.apply_text(&format!("It is {right}.")));
    assert_eq!((both.player_return(0), both.player_return(1)), (1.0, 1.0));
}

#[test]
fn task_files_are_read_and_bad_ones_name_the_line() {
    let dir = tempfile::tempdir().expect("a temporary directory");
    let path = dir.path().join("tasks.jsonl");
    std::fs::write(
        &path,
        "{\"question\": \"What is 2 + 2?\", \"answer\": 4}\n\n{\"question\": \"Is the sky green?\", \"answer\": \"no\", \"kind\": \"world\"}\n{\"question\": \"Big?\", \"answer\": \"12\"}\n",
    )
    .expect("written");
    let tasks = ok(load_jsonl(&path));
    assert_eq!(tasks.len(), 3);
    assert_eq!((tasks[0].answer, tasks[0].kind.as_str()), (Answer::Number(4), "custom"));
    assert_eq!((tasks[1].answer, tasks[1].kind.as_str()), (Answer::YesNo(false), "world"));
    assert_eq!(tasks[2].answer, Answer::Number(12));
    let spec = Spec::new("quiz").with("tasks", path.display()).to_string();
    let quiz = game(&spec);
    let mut state = quiz.new_initial_state();
    ok(state.apply(1));
    assert!(error_of(state.apply_text("42")).contains("yes or no"));
    ok(state.apply_text("No, it is not."));

    for (line, problem) in [
        ("{\"answer\": 4}", "missing field \"question\""),
        ("{\"question\": \"Q?\"}", "missing field \"answer\""),
        ("{\"question\": \"Q?\", \"answer\": 2.5}", "whole number or yes/no"),
        ("{\"question\": \"Q?\", \"answer\": \"many\"}", "whole number or yes/no"),
        ("{\"question\": \" \", \"answer\": 1}", "the question is empty"),
        ("[1]", "expected a JSON object"),
    ] {
        std::fs::write(&path, format!("{{\"question\": \"ok?\", \"answer\": 1}}\n{line}\n")).expect("written");
        let message = error_of(load_jsonl(&path));
        assert!(message.contains("line 2") && message.contains(problem), "{line}: {message}");
    }
    std::fs::write(&path, "\n").expect("written");
    assert!(error_of(load_jsonl(&path)).contains("has no tasks"));
    assert!(error_of(games::load_game("quiz(kinds=division)")).contains("unknown kind"));
    assert!(error_of(Quiz::from_spec("debate")).contains("not a quiz"));
}

#[test]
fn the_arena_solves_questions_in_the_generated_forms_itself() {
    use games::quiz::tasks::solve;
    // Every generated question is solved to its generated answer and kind.
    let all: Vec<&str> = KINDS.iter().map(|(k, _)| *k).collect();
    for task in generate(11, 300, &all) {
        assert_eq!(solve(&task.question), Some((task.answer, kind_static(&task.kind))), "{task:?}");
    }
    for (question, answer) in [
        ("What is (3 + 4) × 5?", Answer::Number(35)),
        ("what is 2 + 3 * 4", Answer::Number(14)),
        ("What is 10 - 2 - 3?", Answer::Number(5)),
        ("What is 7 x 6?", Answer::Number(42)),
        ("Is 12 - 5 less than 8?", Answer::YesNo(true)),
        ("What is the smallest of these numbers: 9, 4, 12?", Answer::Number(4)),
        ("How many odd numbers are in this list: 1, 2, 3?", Answer::Number(2)),
    ] {
        assert_eq!(solve(question).map(|(a, _)| a), Some(answer), "{question}");
    }
    for unreadable in [
        "What is the capital of France?",
        "What is 2 + ?",
        "What is (2 + 3?",
        "What is 99999999999 × 99999999999?",
        "How many times does the letter \"ab\" appear in the word \"abba\"?",
        "Is the sky blue?",
        "What is the largest of these numbers: 5?",
        "Tell me a joke.",
    ] {
        assert_eq!(solve(unreadable), None, "{unreadable}");
    }
}

/// The static name of a generated kind.
fn kind_static(kind: &str) -> &'static str {
    KINDS.iter().map(|(k, _)| *k).find(|k| *k == kind).unwrap_or("unknown")
}
