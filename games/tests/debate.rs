//! Debate: the generated propositions re-verified independently, the flow of turns, text limits,
//! the judge's forgiving verdict parser, returns, hidden truth, JSONL sets and replay.

mod common;

use common::game;
use games::conformance::{Config, check};
use games::debate::{Proposition, generate, load_jsonl, propositions::KINDS};
use games::{Error, GameRecord, Information, InputKind, Move, Spec, State, Turn, Utility, record_of, returns};

// ---------------------------------------------------------------------------------------------
// Helpers.

/// A new file under the temporary directory holding `text`, named after `name`; removed when the
/// returned path is dropped.
fn temp_file(name: &str, text: &str) -> tempfile::TempPath {
    let file = tempfile::Builder::new()
        .prefix(&format!("games-debate-{name}-"))
        .suffix(".jsonl")
        .tempfile()
        .unwrap_or_else(|e| panic!("a temporary file: {e}"));
    std::fs::write(file.path(), text).unwrap_or_else(|e| panic!("{}: {e}", file.path().display()));
    file.into_temp_path()
}

/// The spec of a debate over the file at `path`, with extra arguments.
fn file_spec(path: &std::path::Path, extra: &[(&str, &str)]) -> String {
    let mut spec = Spec::new("debate").with("propositions", path.display());
    for (key, value) in extra {
        spec = spec.with(*key, value);
    }
    spec.to_string()
}

fn error_of<T: std::fmt::Debug>(result: games::Result<T>) -> String {
    match result {
        Ok(value) => panic!("expected an error, got {value:?}"),
        Err(e) => e.to_string(),
    }
}

fn ok<T>(result: games::Result<T>) -> T {
    result.unwrap_or_else(|e| panic!("{e}"))
}

/// Plays a debate from `state`: the draw, then `rounds` rounds of utterances, then (if given) the verdict.
fn play(state: &mut dyn State, proposition: u32, rounds: usize, verdict: Option<&str>) {
    ok(state.apply(proposition));
    for round in 1..=rounds {
        assert_eq!(state.input_kind(), InputKind::Text);
        ok(state.apply_text(&format!("  Pro argument for round {round}.\nSecond line.  ")));
        ok(state.apply_text(&format!("Con rebuttal {round}.")));
    }
    if let Some(verdict) = verdict {
        assert_eq!(state.turn(), Turn::Player(2));
        assert_eq!(state.input_kind(), InputKind::Discrete);
        ok(state.apply_text(verdict));
    }
    assert!(state.is_terminal(), "{}", state.render());
}

/// The index of the first generated item (seed 0, `items`) with the given truth.
fn index_with_truth(items: usize, truth: bool) -> u32 {
    let set = generate(0, items);
    set.iter().position(|p| p.truth == truth).unwrap_or_else(|| panic!("no item with truth {truth}")) as u32
}

// ---------------------------------------------------------------------------------------------
// Independent checks of the generated propositions.

fn int(text: &str) -> i64 {
    text.trim().parse().unwrap_or_else(|e| panic!("`{text}` is not an integer: {e}"))
}

fn list(text: &str) -> Vec<i64> {
    text.split(',').map(int).collect()
}

/// Splits `text` at the first `sep`, failing the test if it is missing.
fn split<'a>(text: &'a str, sep: &str) -> (&'a str, &'a str) {
    text.split_once(sep).unwrap_or_else(|| panic!("`{text}` has no `{sep}`"))
}

/// `a + b`, `a - b`, `a × b`.
fn arithmetic(expr: &str) -> i64 {
    let words: Vec<&str> = expr.split_whitespace().collect();
    let [a, op, b] = words[..] else { panic!("`{expr}` is not `a op b`") };
    match op {
        "+" => int(a) + int(b),
        "-" => int(a) - int(b),
        "×" => int(a) * int(b),
        _ => panic!("unknown operator in `{expr}`"),
    }
}

/// The text between the first pair of double quotes after `from`.
fn quoted(text: &str, from: usize) -> &str {
    let rest = &text[from..];
    let start = rest.find('"').unwrap_or_else(|| panic!("no quote in `{text}`")) + 1;
    let len = rest[start..].find('"').unwrap_or_else(|| panic!("unclosed quote in `{text}`"));
    &rest[start..start + len]
}

/// Evaluates a boolean expression with the usual precedence (not > and > or), by recursive descent.
fn eval_bool(text: &str) -> bool {
    let spaced = text.replace('(', " ( ").replace(')', " ) ");
    let tokens: Vec<&str> = spaced.split_whitespace().collect();
    fn or(t: &[&str], i: &mut usize) -> bool {
        let mut v = and(t, i);
        while t.get(*i) == Some(&"or") {
            *i += 1;
            let r = and(t, i);
            v = v || r;
        }
        v
    }
    fn and(t: &[&str], i: &mut usize) -> bool {
        let mut v = not(t, i);
        while t.get(*i) == Some(&"and") {
            *i += 1;
            let r = not(t, i);
            v = v && r;
        }
        v
    }
    fn not(t: &[&str], i: &mut usize) -> bool {
        *i += 1;
        match t[*i - 1] {
            "not" => !not(t, i),
            "true" => true,
            "false" => false,
            "(" => {
                let v = or(t, i);
                assert_eq!(t[*i], ")", "unbalanced expression");
                *i += 1;
                v
            }
            other => panic!("unexpected token `{other}`"),
        }
    }
    let mut i = 0;
    let v = or(&tokens, &mut i);
    assert_eq!(i, tokens.len(), "trailing tokens in `{text}`");
    v
}

/// Recomputes a generated proposition's truth from its text alone.
fn verify(p: &Proposition) -> bool {
    let t = p.text.as_str();
    match p.kind.as_str() {
        "addition" | "subtraction" | "multiplication" => {
            let (expr, claimed) = split(t, " = ");
            arithmetic(expr) == int(claimed)
        }
        "comparison" => {
            let (expr, rest) = split(t, " is ");
            let value = arithmetic(expr);
            if let Some(threshold) = rest.strip_prefix("greater than ") {
                value > int(threshold)
            } else if let Some(threshold) = rest.strip_prefix("less than ") {
                value < int(threshold)
            } else {
                panic!("unknown comparison `{t}`")
            }
        }
        "letter_count" => {
            let word = quoted(t, 0);
            let after_word = t.find(word).unwrap_or(0) + word.len() + 1;
            let letter = quoted(t, after_word);
            let letter = letter.chars().next().unwrap_or_else(|| panic!("empty letter in `{t}`"));
            let (_, count) = split(t, "exactly ");
            let count = int(count.trim_end_matches(" times").trim_end_matches(" time"));
            word.chars().filter(|&c| c == letter).count() as i64 == count
        }
        "number_count" => {
            let rest =
                t.strip_prefix("There is ").or_else(|| t.strip_prefix("There are ")).unwrap_or_else(|| panic!("{t}"));
            let (count, rest) = split(rest, " ");
            let (property, numbers) = split(rest, " in ");
            let numbers = list(numbers);
            let test: Box<dyn Fn(i64) -> bool> = if property.starts_with("even") {
                Box::new(|n| n % 2 == 0)
            } else if property.starts_with("odd") {
                Box::new(|n| n % 2 == 1)
            } else if property.starts_with("multiple") {
                Box::new(|n| n % 3 == 0)
            } else {
                let k = int(split(property, "greater than ").1);
                Box::new(move |n| n > k)
            };
            numbers.iter().filter(|&&n| test(n)).count() as i64 == int(count)
        }
        "ordering" => {
            let rest = t.strip_prefix("Sorted from ").unwrap_or_else(|| panic!("{t}"));
            let (direction, rest) = split(rest, ", ");
            let (numbers, claimed) = split(rest, " gives ");
            let mut numbers = list(numbers);
            numbers.sort();
            match direction {
                "smallest to largest" => {}
                "largest to smallest" => numbers.reverse(),
                _ => panic!("unknown direction in `{t}`"),
            }
            numbers == list(claimed)
        }
        "syllogism" => {
            // "If every|no A is a B and N is a C, then N must|cannot be a D": the classic table.
            let words: Vec<&str> = t.split_whitespace().map(|w| w.trim_end_matches(',')).collect();
            let [_, quantifier, a, _, _, b, _, name, _, _, c, _, name2, modal, _, _, d] = words[..] else {
                panic!("unexpected syllogism `{t}`")
            };
            assert_eq!(name, name2, "{t}");
            assert!(a != b && ((c == a && d == b) || (c == b && d == a)), "{t}");
            let member_of_subject = c == a;
            match (quantifier, member_of_subject, modal) {
                // Every A is a B; N is an A: N must be a B.
                ("every", true, "must") => true,
                ("every", true, "cannot") => false,
                // Every A is a B; N is a B: nothing follows about A.
                ("every", false, _) => false,
                // No A is a B; N is either: N cannot be the other.
                ("no", _, "cannot") => true,
                ("no", _, "must") => false,
                _ => panic!("unexpected syllogism `{t}`"),
            }
        }
        "boolean" => {
            let rest = t.strip_prefix("The expression ").unwrap_or_else(|| panic!("{t}"));
            let (expr, claimed) = split(rest, " evaluates to ");
            eval_bool(expr) == (claimed == "true")
        }
        other => panic!("unknown kind `{other}`"),
    }
}

#[test]
fn generated_set_is_deterministic_balanced_mixed_and_verified_independently() {
    let set = generate(0, 2000);
    // The best of a few runs, so a busy machine does not fail the test.
    let mut elapsed = std::time::Duration::MAX;
    let mut again = Vec::new();
    for _ in 0..5 {
        let start = std::time::Instant::now();
        again = generate(0, 2000);
        elapsed = elapsed.min(start.elapsed());
    }
    assert_eq!(set.len(), 2000);
    assert_eq!(again, set, "the same seed gives the same set");
    assert_eq!(generate(0, 100)[..], set[..100], "a smaller set is a prefix of a larger one");
    assert_ne!(generate(1, 2000), set, "another seed gives another set");
    eprintln!("generating 2000 propositions took {elapsed:?}");
    assert!(elapsed.as_millis() < 500, "generating 2000 items took {elapsed:?}");

    let true_count = set.iter().filter(|p| p.truth).count();
    assert!((800..=1200).contains(&true_count), "{true_count} of 2000 are true");
    for (kind, example) in KINDS {
        let of_kind: Vec<&Proposition> = set.iter().filter(|p| p.kind == *kind).collect();
        assert!(of_kind.len() > 100, "kind {kind}: only {} items", of_kind.len());
        let trues = of_kind.iter().filter(|p| p.truth).count();
        assert!(trues > 0 && trues < of_kind.len(), "kind {kind}: {trues} of {} true", of_kind.len());
        // The documented example parses the same way as the generated items.
        let _ = verify(&Proposition { text: example.to_string(), truth: true, kind: kind.to_string() });
    }
    for seed in [0, 1, 42] {
        for p in generate(seed, 2000) {
            assert!(KINDS.iter().any(|(k, _)| *k == p.kind), "unknown kind {}", p.kind);
            assert_eq!(verify(&p), p.truth, "seed {seed}: `{}` ({}) is marked {}", p.text, p.kind, p.truth);
        }
    }
}

#[test]
fn independent_checks_agree_with_hand_examples() {
    for (text, kind, truth) in [
        ("17 + 25 = 42", "addition", true),
        ("17 + 25 = 43", "addition", false),
        ("38 × 4 is greater than 150", "comparison", true),
        ("38 × 4 is less than 150", "comparison", false),
        ("The word \"banana\" contains the letter \"a\" exactly 3 times", "letter_count", true),
        ("There are 4 even numbers in 3, 8, 10, 7, 12, 14", "number_count", true),
        ("Sorted from smallest to largest, 41, 7, 23, 15 gives 7, 15, 23, 41", "ordering", true),
        ("Sorted from smallest to largest, 41, 7, 23, 15 gives 7, 23, 15, 41", "ordering", false),
        ("If every blicket is a dax and Tom is a blicket, then Tom must be a dax", "syllogism", true),
        ("If every blicket is a dax and Tom is a dax, then Tom must be a blicket", "syllogism", false),
        ("The expression (true and false) or not false evaluates to true", "boolean", true),
        ("The expression true or false and false evaluates to true", "boolean", true),
    ] {
        assert_eq!(verify(&Proposition { text: text.into(), truth, kind: kind.into() }), truth, "{text}");
    }
}

// ---------------------------------------------------------------------------------------------
// Facts, parameters and flow.

#[test]
fn facts_spec_and_parameters() {
    let seat = game("debate");
    assert_eq!(
        seat.spec().to_string(),
        "debate(rounds=2,judge=seat,propositions=generated,items=2000,seed=0,first=pro,max_chars=1200)"
    );
    let facts = seat.facts();
    assert_eq!((facts.name, facts.players, facts.chance), ("debate", 3, true));
    assert_eq!(
        (facts.information, facts.utility, facts.input),
        (Information::Imperfect, Utility::GeneralSum, InputKind::Text)
    );
    assert_eq!((facts.num_distinct_actions, facts.max_chance_outcomes, facts.max_game_length), (2, 2000, 6));
    assert_eq!((facts.min_return, facts.max_return), (-1.0, 1.0));
    assert_eq!(facts.observation_shape, vec![10]);

    let oracle = game("debate(judge=oracle,rounds=3,items=50)");
    let facts = oracle.facts();
    assert_eq!(
        (facts.players, facts.utility, facts.max_chance_outcomes, facts.max_game_length),
        (2, Utility::ZeroSum, 50, 7)
    );
    assert_eq!(game(&oracle.spec().to_string()).facts(), facts, "the canonical spec reloads the same game");

    for (spec, needle) in [
        ("debate(judge=crowd)", "seat"),
        ("debate(first=judge)", "`pro`, `con` or `random`"),
        ("debate(rounds=0)", "1..=10"),
        ("debate(rounds=11)", "1..=10"),
        ("debate(items=0)", "1..=100000"),
        ("debate(max_chars=0)", "max_chars"),
        ("debate(propositions=\"\")", "generated"),
        ("debate(topic=x)", "rounds"),
    ] {
        let text = error_of(games::load_game(spec));
        assert!(text.contains(needle), "{spec}: {text}");
    }
}

#[test]
fn turns_run_draw_then_pro_con_rounds_then_judge() {
    let game = game("debate(rounds=2,items=20)");
    let mut state = game.new_initial_state();
    assert_eq!(state.turn(), Turn::Chance);
    let mut outcomes = Vec::new();
    state.chance_outcomes(&mut outcomes);
    assert_eq!(outcomes.len(), 20);
    assert!(outcomes.iter().all(|&(_, p)| (p - 0.05).abs() < 1e-12));
    assert_eq!(state.action_to_string(7), "proposition 7");
    assert_eq!(state.parse_action("proposition 7").ok(), Some(7));
    assert_eq!(state.parse_action("#7").ok(), Some(7));
    ok(state.apply_text("proposition 7"));
    let mut legal = vec![99];
    for expected in [0, 1, 0, 1] {
        assert_eq!(state.turn(), Turn::Player(expected));
        assert_eq!(state.input_kind(), InputKind::Text);
        state.legal_actions(&mut legal);
        assert!(legal.is_empty());
        assert!(state.apply(0).is_err(), "a text turn takes no discrete action");
        assert!(state.parse_action("pro").is_err());
        ok(state.apply_text("An argument."));
    }
    assert_eq!(state.turn(), Turn::Player(2));
    state.legal_actions(&mut legal);
    assert_eq!(legal, vec![0, 1]);
    assert_eq!((state.action_to_string(0).as_str(), state.action_to_string(1).as_str()), ("pro", "con"));
    ok(state.apply(1));
    assert!(state.is_terminal());
    assert_eq!(state.history().len(), game.facts().max_game_length);
    assert_eq!(state.history()[1], Move::Text("An argument.".to_string()));
}

#[test]
fn with_first_con_con_opens_every_round_and_everyone_is_told() {
    let game = game("debate(rounds=2,items=20,first=con)");
    let mut state = game.new_initial_state();
    ok(state.apply(3));
    for (expected, text) in [(1, "Con opens."), (0, "Pro answers."), (1, "Con again."), (0, "Pro closes.")] {
        assert_eq!(state.turn(), Turn::Player(expected));
        let told = state.observation_string(expected);
        assert!(told.contains("Con speaks first, then Pro"), "{told}");
        ok(state.apply_text(text));
    }
    let judge_view = state.observation_string(2);
    assert!(judge_view.contains("Con speaks first, then Pro"), "{judge_view}");
    let con_line = judge_view.find("Con: Con opens.").unwrap_or(usize::MAX);
    let pro_line = judge_view.find("Pro: Pro answers.").unwrap_or(0);
    assert!(con_line < pro_line, "the transcript is in speaking order: {judge_view}");
    ok(state.apply_text("con"));
    assert_eq!(state.player_return(1), 1.0, "the verdict still scores by side, not by order");
    let default_view = {
        let mut state = games::load_game("debate(rounds=1,items=20)")
            .map(|g| g.new_initial_state())
            .unwrap_or_else(|e| panic!("{e}"));
        ok(state.apply(3));
        state.observation_string(0)
    };
    assert!(default_view.contains("Pro speaks first, then Con"), "{default_view}");
}

#[test]
fn with_first_random_the_order_follows_the_proposition_and_both_orders_occur() {
    use games::debate::FirstSpeaker;
    let game = game("debate(rounds=1,items=40,first=random)");
    let mut seen = [0usize; 2];
    for proposition in 0..40u32 {
        let mut state = game.new_initial_state();
        ok(state.apply(proposition as games::Action));
        let first = FirstSpeaker::Random.seat(u64::from(proposition));
        assert_eq!(state.turn(), Turn::Player(first), "proposition {proposition}");
        let words = if first == 0 { "Pro speaks first, then Con" } else { "Con speaks first, then Pro" };
        assert!(state.observation_string(2).contains(words));
        ok(state.apply_text("First."));
        assert_eq!(state.turn(), Turn::Player(1 - first));
        seen[first] += 1;
    }
    assert!(seen[0] >= 10 && seen[1] >= 10, "both orders are drawn: {seen:?}");
    assert!(games::load_game("debate(first=last)").is_err_and(|e| e.to_string().contains("random")));
}

// ---------------------------------------------------------------------------------------------
// Returns.

#[test]
fn verdicts_score_the_debaters_and_the_judge() {
    let game = game("debate(rounds=1,items=200)");
    let truth_true = index_with_truth(200, true);
    let truth_false = index_with_truth(200, false);
    for (index, verdict, expected) in [
        (truth_true, "pro", [1.0, -1.0, 1.0]),   // true, judge says true: right
        (truth_true, "con", [-1.0, 1.0, -1.0]),  // true, judge says false: wrong
        (truth_false, "con", [-1.0, 1.0, 1.0]),  // false, judge says false: right
        (truth_false, "pro", [1.0, -1.0, -1.0]), // false, judge says true: wrong
    ] {
        let mut state = game.new_initial_state();
        play(state.as_mut(), index, 1, Some(verdict));
        assert_eq!(returns(state.as_ref(), 3), expected, "item {index}, verdict {verdict}");
    }
    // Before the end, nobody has a return.
    let mut state = game.new_initial_state();
    ok(state.apply(truth_true));
    assert_eq!(returns(state.as_ref(), 3), vec![0.0; 3]);
}

#[test]
fn the_oracle_verdict_is_the_ground_truth() {
    let game = game("debate(rounds=2,items=200,judge=oracle)");
    for (truth, expected) in [(true, [1.0, -1.0]), (false, [-1.0, 1.0])] {
        let mut state = game.new_initial_state();
        play(state.as_mut(), index_with_truth(200, truth), 2, None);
        assert_eq!(returns(state.as_ref(), 2), expected, "truth {truth}");
        assert_eq!(state.history().len(), game.facts().max_game_length);
    }
}

// ---------------------------------------------------------------------------------------------
// Text: utterances and verdicts.

#[test]
fn utterances_are_trimmed_and_limited_with_actionable_errors() {
    let game = game("debate(max_chars=10,items=5)");
    let mut state = game.new_initial_state();
    ok(state.apply(0));
    for empty in ["", "   \n\t "] {
        let before = state.render();
        let text = error_of(state.apply_text(empty));
        assert!(text.contains("empty"), "{text}");
        assert_eq!(state.render(), before, "a rejected utterance leaves the state unchanged");
    }
    let text = error_of(state.apply_text("eleven chars"));
    assert!(text.contains("12 characters") && text.contains("limit is 10") && text.contains("at least 2"), "{text}");
    // Characters, not bytes; surrounding whitespace does not count.
    ok(state.apply_text("  éééééééééé  "));
    assert_eq!(state.history()[1], Move::Text("éééééééééé".to_string()));
    ok(state.apply_text("0123456789"));
    assert_eq!(state.turn(), Turn::Player(0));
}

#[test]
fn the_judge_verdict_is_read_forgivingly() {
    let game = game("debate(rounds=1,items=5)");
    let mut state = game.new_initial_state();
    play_to_judge(state.as_mut());
    for (text, expected) in [
        ("pro", 0),
        ("  PRO. ", 0),
        ("**Pro**", 0),
        ("Verdict: true", 0),
        ("Yes!", 0),
        ("The proposition is correct.", 0),
        ("I'm sure it is not false", 0),
        ("con", 1),
        ("Con.", 1),
        ("FALSE", 1),
        ("no", 1),
        ("Incorrect — the sum is wrong.", 1),
        ("It is not true.", 1),
        ("It isn't true", 1),
        ("No, that is false.", 1),
    ] {
        assert_eq!(state.parse_action(text).ok(), Some(expected), "{text:?}");
    }
    for (text, problem) in [
        ("pro or con", "both"),
        ("yes and no", "both"),
        ("maybe", "neither"),
        ("", "neither"),
        ("protest, untrue, contra", "neither"),
    ] {
        match state.parse_action(text) {
            Err(Error::ParseAction { reason, .. }) => {
                assert!(reason.contains(problem), "{text:?}: {reason}");
                for word in ["`pro`", "`con`", "true", "yes", "correct", "false", "no", "incorrect"] {
                    assert!(reason.contains(word), "{text:?}: {reason} does not list {word}");
                }
            }
            other => panic!("{text:?} gave {other:?}"),
        }
    }
    ok(state.apply_text("Verdict: **con**"));
    assert_eq!(state.history().last(), Some(&Move::Action(1)));
}

fn play_to_judge(state: &mut dyn State) {
    ok(state.apply(0));
    ok(state.apply_text("It holds."));
    ok(state.apply_text("It does not."));
}

// ---------------------------------------------------------------------------------------------
// Hidden information.

#[test]
fn no_observation_reveals_the_truth() {
    let yes = temp_file("truth-yes", "{\"proposition\": \"The moon is made of cheese\", \"truth\": true}\n");
    let no = temp_file("truth-no", "{\"proposition\": \"The moon is made of cheese\", \"truth\": false}\n");
    for judge in ["seat", "oracle"] {
        let args = [("judge", judge), ("rounds", "1")];
        let games = [game(&file_spec(&yes, &args)), game(&file_spec(&no, &args))];
        let players = games[0].facts().players;
        let size = games[0].facts().observation_size();
        let mut states: Vec<Box<dyn State>> = games.iter().map(|g| g.new_initial_state()).collect();
        let mut moves = vec![Some("proposition 0"), Some("Cheese is plausible."), Some("It is rock.")];
        if judge == "seat" {
            moves.push(Some("pro"));
        }
        moves.push(None);
        for mv in moves {
            for player in 0..players {
                let seen: Vec<(String, String, Vec<f32>)> = states
                    .iter()
                    .map(|s| {
                        let mut tensor = vec![0.0; size];
                        s.observation_tensor(player, &mut tensor);
                        (s.observation_string(player), s.information_state_string(player), tensor)
                    })
                    .collect();
                assert_eq!(seen[0], seen[1], "judge={judge}, player {player} can tell the truth apart");
                assert!(!seen[0].0.contains("ground truth:"), "{}", seen[0].0);
            }
            if let Some(mv) = mv {
                for state in &mut states {
                    ok(state.apply_text(mv));
                }
            }
        }
        assert!(states.iter().all(|s| s.is_terminal()));
        assert!(states[0].render().contains("ground truth: TRUE"), "{}", states[0].render());
        assert!(states[1].render().contains("ground truth: FALSE"), "{}", states[1].render());
    }
}

#[test]
fn observations_show_the_role_the_round_and_the_transcript() {
    let game = game("debate(rounds=2,items=30)");
    let set = generate(0, 30);
    let mut state = game.new_initial_state();
    assert!(state.observation_string(0).contains("not drawn yet"));
    ok(state.apply(3));
    ok(state.apply_text("First pro.\nWith a second line."));
    let (pro, con, judge) = (state.observation_string(0), state.observation_string(1), state.observation_string(2));
    for text in [&pro, &con, &judge] {
        assert!(text.contains(&format!("Proposition: \"{}\"", set[3].text)), "{text}");
        assert!(text.contains("Round 1 of 2") && text.contains("Pro: First pro.\n    With a second line."), "{text}");
    }
    assert!(pro.contains("argue that the proposition is TRUE") && pro.contains("Con is to speak"), "{pro}");
    assert!(con.contains("argue that the proposition is FALSE") && con.contains("Your turn"), "{con}");
    assert!(con.contains("at most 1200 characters"), "{con}");
    assert!(judge.contains("You are the judge") && judge.contains("Con is to speak"), "{judge}");
    let mut tensor = [0.0f32; 10];
    state.observation_tensor(1, &mut tensor);
    assert_eq!(tensor, [0.0, 0.0, 1.0, 0.0, 0.0, 0.0, 1.0, 0.0, 0.0, 1.0]);
    ok(state.apply_text("First con."));
    ok(state.apply_text("Second pro."));
    ok(state.apply_text("Second con."));
    let judge = state.observation_string(2);
    assert!(
        judge.contains("Con: First con.") && judge.contains("[Round 2]") && judge.contains("answer `pro`"),
        "{judge}"
    );
    state.observation_tensor(2, &mut tensor);
    assert_eq!(tensor, [0.0, 0.0, 0.0, 1.0, 0.0, 0.0, 0.0, 1.0, 1.0, 1.0]);
    ok(state.apply_text("con"));
    assert!(state.observation_string(0).contains("The judge's verdict: con"), "{}", state.observation_string(0));
}

// ---------------------------------------------------------------------------------------------
// User proposition files.

#[test]
fn jsonl_sets_load_with_optional_kind_and_blank_lines() {
    let path = temp_file(
        "good",
        "{\"proposition\": \" Paris is in France \", \"truth\": true, \"kind\": \"geography\"}\n\n\
         {\"proposition\": \"2 + 2 = 5\", \"truth\": false, \"source\": \"ignored\"}\n   \n",
    );
    let set = ok(load_jsonl(&path));
    assert_eq!(
        set,
        vec![
            Proposition { text: "Paris is in France".into(), truth: true, kind: "geography".into() },
            Proposition { text: "2 + 2 = 5".into(), truth: false, kind: "custom".into() },
        ]
    );
    let game = game(&file_spec(&path, &[]));
    assert_eq!(game.facts().max_chance_outcomes, 2);
    let mut state = game.new_initial_state();
    play(state.as_mut(), 1, 2, Some("con"));
    assert_eq!(returns(state.as_ref(), 3), vec![-1.0, 1.0, 1.0]);
}

#[test]
fn jsonl_errors_name_the_file_the_line_and_the_problem() {
    for (name, text, needles) in [
        (
            "bad-json",
            "{\"proposition\": \"a\", \"truth\": true}\n\n{\"proposition\": \"b\", truth: true}\n",
            &["line 3", "bad JSON"][..],
        ),
        ("no-truth", "{\"proposition\": \"a\"}\n", &["line 1", "missing field \"truth\""][..]),
        (
            "no-text",
            "{\"proposition\": \"a\", \"truth\": true}\n{\"truth\": false}\n",
            &["line 2", "missing field \"proposition\""][..],
        ),
        ("empty-text", "{\"proposition\": \"  \", \"truth\": true}\n", &["line 1", "empty"][..]),
        ("string-truth", "{\"proposition\": \"a\", \"truth\": \"yes\"}\n", &["line 1", "JSON boolean"][..]),
        ("not-object", "[1, 2]\n", &["line 1", "JSON object"][..]),
        ("bad-kind", "{\"proposition\": \"a\", \"truth\": true, \"kind\": 3}\n", &["line 1", "kind"][..]),
        ("empty-file", "\n  \n", &["no propositions"][..]),
    ] {
        let path = temp_file(name, text);
        let shown = path.display().to_string();
        for error in [error_of(load_jsonl(&path)), error_of(games::load_game(&file_spec(&path, &[])))] {
            assert!(error.contains(&shown), "{name}: {error}");
            for needle in needles {
                assert!(error.contains(needle), "{name}: {error}");
            }
        }
    }
    let missing = std::env::temp_dir().join("games-debate-no-such-file.jsonl");
    let error = error_of(load_jsonl(&missing));
    assert!(error.contains("cannot read") && error.contains(&missing.display().to_string()), "{error}");
}

// ---------------------------------------------------------------------------------------------
// Records and the conformance kit.

#[test]
fn a_full_debate_replays_from_its_record() {
    for spec in ["debate(rounds=3,items=100,seed=9)", "debate(judge=oracle,rounds=1)"] {
        let game = game(spec);
        let mut state = game.new_initial_state();
        let rounds = if spec.contains("rounds=3") { 3 } else { 1 };
        let verdict = (game.facts().players == 3).then_some("It is TRUE.");
        play(state.as_mut(), 42, rounds, verdict);
        let record = record_of(game.as_ref(), state.as_ref());
        let json = record.to_json();
        assert!(json.contains("\"Pro argument for round 1.\\nSecond line.\""), "{json}");
        let (replayed_game, replayed) = ok(GameRecord::from_json(&json).and_then(|r| r.replay()));
        assert_eq!(replayed_game.spec(), game.spec());
        assert_eq!(replayed.render(), state.render());
        assert_eq!(replayed.history(), state.history());
        let players = game.facts().players;
        assert_eq!(returns(replayed.as_ref(), players), returns(state.as_ref(), players));
    }
}

#[test]
fn debate_edge_variants_pass_the_conformance_kit() {
    for spec in [
        "debate(judge=seat,items=300)",
        "debate(judge=oracle,items=300)",
        "debate(rounds=1,judge=oracle,items=1)",
        "debate(rounds=3,judge=oracle,items=300,max_chars=40)",
    ] {
        let game = game(spec);
        let report = check(game.as_ref(), &Config { playouts: 300, seed: 3 }).unwrap_or_else(|v| panic!("{spec}: {v}"));
        assert_eq!(report.longest_game, game.facts().max_game_length, "{spec}");
        if game.facts().players == 2 {
            assert_eq!(report.ties, 0, "{spec}: a debate without a judge seat always has a winner");
        }
    }
}
