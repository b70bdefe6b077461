//! Self-training and rejection sampling on planted answers: the samples read from stored quiz
//! matches, the verifier's and the majority's labels, the pseudo-labels' accuracy against the
//! hidden truth, the data lines; and the honesty flags on planted generations.

use agents::ChatMessage;
use arena::evolve::GenerationSummary;
use arena::evolve::flags::{FlagKind, flags, significantly_lower};
use arena::evolve::language::{HeldOut, LanguageData, LanguageGeneration};
use arena::suite::Share;
use arena::text_data::answers::{
    AnswerStats, LabelReport, Labels, Sample, label, write_label_preference, write_label_sft,
};
use arena::text_data::text_filter::{FilterConfig, FilterReport, TextFilter};
use games::quiz::{Answer, Quiz};

fn quiz() -> Quiz {
    Quiz::from_spec("quiz(items=10,seed=3,kinds=addition)").unwrap_or_else(|e| panic!("{e}"))
}

fn truth(quiz: &Quiz, task: u32) -> i64 {
    match quiz.tasks()[task as usize].answer {
        Answer::Number(n) => n,
        Answer::YesNo(_) => panic!("an addition has a number"),
    }
}

/// A sample of `task` answering `reply` (None: a forfeit).
fn sample(quiz: &Quiz, task: u32, reply: Option<String>) -> Sample {
    let question = &quiz.tasks()[task as usize];
    let answer = reply.as_deref().and_then(|r| question.read(r).ok());
    Sample {
        task,
        kind: question.kind.clone(),
        agent: "g0".to_string(),
        prompt: vec![ChatMessage::user(question.question.clone())],
        correct: answer == Some(question.answer),
        answer,
        reply,
    }
}

/// Task 0: three right, one wrong. Task 1: three agree on a wrong answer, one right. Task 2: a
/// tie between two wrong answers. Task 3: one right, one wrong, two forfeits.
fn planted(quiz: &Quiz) -> Vec<Sample> {
    let right = |t: u32| Some(format!("It is {}.", truth(quiz, t)));
    let wrong = |t: u32, by: i64| Some(format!("{}", truth(quiz, t) + by));
    vec![
        sample(quiz, 0, right(0)),
        sample(quiz, 0, Some(format!("{0} + 0 = {0}", truth(quiz, 0)))),
        sample(quiz, 0, wrong(0, 1)),
        sample(quiz, 0, right(0)),
        sample(quiz, 1, wrong(1, 10)),
        sample(quiz, 1, wrong(1, 10)),
        sample(quiz, 1, right(1)),
        sample(quiz, 1, wrong(1, 10)),
        sample(quiz, 2, wrong(2, 1)),
        sample(quiz, 2, wrong(2, 2)),
        sample(quiz, 3, right(3)),
        sample(quiz, 3, wrong(3, 5)),
        sample(quiz, 3, None),
        sample(quiz, 3, None),
    ]
}

#[test]
fn majority_labels_are_scored_against_the_hidden_truth() {
    let quiz = quiz();
    let samples = planted(&quiz);
    let stats = AnswerStats::of(&samples);
    assert_eq!((stats.accuracy.hits, stats.accuracy.positions), (5, 14));
    assert_eq!((stats.tasks, stats.solved_tasks, stats.forfeits), (4, 3, 2));

    // Majority: task 0 right, task 1 wrong (3 of 4 agree on it), task 2 a tie, task 3 below half.
    let majority = label(&samples, &quiz, Labels::Majority, 0.5);
    let labeled: Vec<(u32, bool)> = majority.iter().map(|l| (l.task, l.correct)).collect();
    assert_eq!(labeled, [(0, true), (1, false)]);
    assert_eq!(majority[1].answer, Answer::Number(truth(&quiz, 1) + 10));
    assert!((majority[1].agreement - 0.75).abs() < 1e-12);
    let report = LabelReport::new(Labels::Majority, &samples, &majority);
    assert_eq!((report.label_accuracy.hits, report.label_accuracy.positions), (1, 2));
    assert_eq!(report.labeled_tasks, 2);
    // With no agreement needed, task 3's answers (one right, one wrong) tie and stay unlabeled.
    assert_eq!(label(&samples, &quiz, Labels::Majority, 0.0).len(), 2);
    // Both labels have 3 of 4 samples behind them: a bar above 0.75 drops both.
    assert_eq!(label(&samples, &quiz, Labels::Majority, 0.8).len(), 0);

    // The verifier labels every task some sample got right, always with the truth.
    let verified = label(&samples, &quiz, Labels::Verifier, 0.5);
    let tasks: Vec<u32> = verified.iter().map(|l| l.task).collect();
    assert_eq!(tasks, [0, 1, 3]);
    assert!(verified.iter().all(|l| l.correct && l.answer == Answer::Number(truth(&quiz, l.task))));
    assert!(label(&samples, &quiz, Labels::Games, 0.5).is_empty());
}

fn lines(bytes: Vec<u8>) -> Vec<serde_json::Value> {
    String::from_utf8(bytes)
        .unwrap_or_else(|e| panic!("{e}"))
        .lines()
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("{e}")))
        .collect()
}

#[test]
fn label_data_is_written_as_sft_lines_and_pairs() {
    let quiz = quiz();
    let samples = planted(&quiz);
    let verified = label(&samples, &quiz, Labels::Verifier, 0.5);
    let filter = TextFilter::default();

    // SFT, canonical: one line per label, the label's text as the reply.
    let mut out = Vec::new();
    let report = write_label_sft(&samples, &verified, true, &filter, &mut out).unwrap_or_else(|e| panic!("{e}"));
    let sft = lines(out);
    assert_eq!(sft.len(), 3);
    assert_eq!(report.written, 3);
    assert_eq!(report.total, 12, "every readable reply is checked by the filter");
    for (line, l) in sft.iter().zip(&verified) {
        assert_eq!(line["messages"][1]["content"], serde_json::json!(truth(&quiz, l.task).to_string()));
        assert_eq!(line["meta"]["task"], serde_json::json!(l.task));
    }
    // As written: the first agreeing reply.
    let mut out = Vec::new();
    write_label_sft(&samples, &verified, false, &filter, &mut out).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(lines(out)[0]["messages"][1]["content"], serde_json::json!(format!("It is {}.", truth(&quiz, 0))));

    // Preference: agreeing replies zipped with disagreeing ones; task 0 gives one pair (one wrong
    // reply), task 1 one (one right against three wrong), task 3 one.
    let mut out = Vec::new();
    write_label_preference(&samples, &verified, true, &filter, &mut out).unwrap_or_else(|e| panic!("{e}"));
    let pairs = lines(out);
    assert_eq!(pairs.len(), 3);
    for pair in &pairs {
        let task = pair["meta"]["task"].as_u64().unwrap_or(99) as u32;
        assert_eq!(pair["chosen"][0]["content"], serde_json::json!(truth(&quiz, task).to_string()));
        assert_ne!(pair["rejected"][0]["content"], pair["chosen"][0]["content"]);
    }

    // A filter that removes every reply leaves no line, and says so.
    let config = FilterConfig::from_toml("min_chars = 100", "a test").unwrap_or_else(|e| panic!("{e}"));
    let strict = TextFilter::new(config, std::path::Path::new(".")).unwrap_or_else(|e| panic!("{e}"));
    let mut out = Vec::new();
    let report = write_label_sft(&samples, &verified, true, &strict, &mut out).unwrap_or_else(|e| panic!("{e}"));
    assert!(out.is_empty());
    assert_eq!((report.total, report.kept), (12, 0));
}

// ---------------------------------------------------------------------------------------------
// Honesty flags on planted generations.

fn share(hits: u64, of: u64) -> Share {
    Share::of(hits, of)
}

/// A language-model generation: the champion's rating, its held-out accuracy and reply length,
/// and what the filter removed from its data.
fn generation(
    number: u32,
    rating: f64,
    accuracy: (u64, u64),
    chars: f64,
    removed: (usize, usize),
) -> GenerationSummary {
    let filter = FilterReport { total: removed.1, kept: removed.1 - removed.0, ..FilterReport::default() };
    let stats = AnswerStats {
        accuracy: share(accuracy.0, accuracy.1),
        tasks: 50,
        solved_tasks: 0,
        forfeits: 0,
        mean_chars: chars,
        by_kind: Vec::new(),
    };
    let held_out = HeldOut {
        champion: format!("g{number}"),
        game: "quiz".to_string(),
        scores: Vec::new(),
        judge: None,
        accuracy: Some(stats),
        mean_reply_chars: Some(chars),
    };
    let data = LanguageData {
        path: String::new(),
        kind: "sft".to_string(),
        filter,
        kept: 0,
        canonical_answers: 0,
        labels: None,
        held_out_overlap: 0,
        kind_weights: None,
        proposals: None,
        proposed_scores: Vec::new(),
        tournaments: Vec::new(),
    };
    GenerationSummary {
        generation: number,
        champion: format!("g{number}"),
        champion_rating: rating,
        champion_ci: (rating - 50.0, rating + 50.0),
        champion_vs_anchors: Vec::new(),
        ratings: Vec::new(),
        tournament_games: 0,
        tournament_id: None,
        parents: Vec::new(),
        dataset: None,
        training: Vec::new(),
        gates: Vec::new(),
        population: Vec::new(),
        seconds: Vec::new(),
        language: Some(LanguageGeneration {
            data: Some(data),
            held_out: Some(held_out),
            ..LanguageGeneration::default()
        }),
        suite: None,
        flags: Vec::new(),
        pfsp: Vec::new(),
    }
}

fn kinds(previous: &GenerationSummary, current: &GenerationSummary) -> Vec<FlagKind> {
    flags(previous, current).iter().map(|f| f.kind).collect()
}

#[test]
fn flags_fire_on_planted_runs_and_stay_quiet_on_clean_ones() {
    let before = generation(1, 0.0, (100, 200), 30.0, (20, 200));
    // Clean: the rating rises with the held-out accuracy, replies as long, the filter as busy.
    assert!(kinds(&before, &generation(2, 120.0, (130, 200), 31.0, (22, 200))).is_empty());
    // Noise: a small dip in accuracy, a little longer, a few more removals — within chance.
    assert!(kinds(&before, &generation(2, 60.0, (92, 200), 36.0, (27, 200))).is_empty());
    // A falling rating with falling accuracy is a worse model, not a dishonest measure.
    assert!(kinds(&before, &generation(2, -80.0, (60, 200), 30.0, (20, 200))).is_empty());

    // Planted: the rating rises while held-out accuracy falls from 50% to 35%.
    assert_eq!(kinds(&before, &generation(2, 150.0, (70, 200), 30.0, (20, 200))), [FlagKind::RatingUpHeldOutDown]);
    // Replies twice as long, accuracy flat.
    let longer = flags(&before, &generation(2, 50.0, (104, 200), 60.0, (20, 200)));
    assert_eq!(longer.iter().map(|f| f.kind).collect::<Vec<_>>(), [FlagKind::LengthExploitation]);
    assert!(longer[0].detail.contains("from 30 to 60 characters"), "{}", longer[0].detail);
    // Longer and significantly more accurate: not flagged.
    assert!(kinds(&before, &generation(2, 50.0, (140, 200), 60.0, (20, 200))).is_empty());
    // The filter removes 30% instead of 10%.
    let degenerate = flags(&before, &generation(2, 50.0, (100, 200), 30.0, (60, 200)));
    assert_eq!(degenerate.iter().map(|f| f.kind).collect::<Vec<_>>(), [FlagKind::Degeneration]);
    assert!(degenerate[0].detail.contains("30.0% (60 of 200)"), "{}", degenerate[0].detail);
    // All three at once.
    assert_eq!(
        kinds(&before, &generation(2, 150.0, (60, 200), 80.0, (80, 200))),
        [FlagKind::RatingUpHeldOutDown, FlagKind::LengthExploitation, FlagKind::Degeneration]
    );
}

#[test]
fn the_proportion_test_matches_a_textbook_value() {
    // 40/100 against 55/100: pooled p = 0.475, se = 0.0706, z = 2.12 > 1.645.
    assert!(significantly_lower((40, 100), (55, 100)));
    // 45/100 against 55/100: z = 1.41, not significant at 5% one-sided.
    assert!(!significantly_lower((45, 100), (55, 100)));
    assert!(!significantly_lower((55, 100), (40, 100)));
    assert!(!significantly_lower((0, 0), (5, 10)));
    assert!(!significantly_lower((0, 10), (0, 10)), "no variance, no evidence");
}

// ---------------------------------------------------------------------------------------------
// Self-instruct: proposals validated before use.

#[test]
fn proposals_are_validated_and_each_bad_kind_is_rejected() {
    use arena::text_data::proposals::{Limits, Rejection, Target, TaskPool, extract_question, normalize, validate};
    let pool = TaskPool::new(["What is 23 + 18?", "How many even numbers are in this list: 3, 8, 10, 7, 12, 14?"]);
    let filter = TextFilter::default();
    let limits = Limits::default();
    let quiz = Target::QuizTasks;
    let check = |reply: &str| validate(reply, quiz, &pool, &filter, &limits);

    // Kept, with the arena's own answer (a wrong answer written by the model is ignored).
    let task = check("Question: What is 17 × 3?\nAnswer: 50").unwrap_or_else(|r| panic!("{r:?}"));
    assert_eq!(
        (task.text.as_str(), task.answer.as_str(), task.kind.as_str()),
        ("What is 17 × 3?", "51", "multiplication")
    );
    let task = check("\"Is 9 × 6 greater than 50?\"").unwrap_or_else(|r| panic!("{r:?}"));
    assert_eq!(task.answer, "yes");

    for (reply, rejection) in [
        ("I'm sorry, but I can't help with that.", Rejection::Filtered),
        ("   ", Rejection::Filtered),
        ("What 2?", Rejection::TooShort),
        (
            &format!(
                "How many times does the letter \"a\" appear in the word \"{}\"?",
                "abcdefghijklmnopqrstuvwxyz".repeat(7)
            ),
            Rejection::TooLong,
        ),
        ("What is the capital of France?", Rejection::Uncheckable),
        ("Write a question about numbers.", Rejection::Uncheckable),
        ("what is 23+18", Rejection::Duplicate),
        ("What is 23 + 18?", Rejection::Duplicate),
        ("  what is 23 + 18 ?? ", Rejection::Duplicate),
        ("How many even numbers are in this list: 3, 8, 10, 7, 12, 15?", Rejection::NearDuplicate),
    ] {
        assert_eq!(check(reply).map(|t| t.text), Err(rejection), "{reply}");
    }
    // Not near enough: other numbers in a short question share few word trigrams.
    assert!(check("What is 23 + 19?").is_ok());
    assert_eq!(normalize("What is 23 + 18?"), "what is 23 + 18");
    assert_eq!(extract_question("Sure!\nQ: What is 4 + 4? It is 8."), "What is 4 + 4?");

    // The examples the prompts show are in the pool proposals are checked against.
    let with_examples = TaskPool::for_proposals(quiz, ["What is 2 + 2?"]);
    for (_, example) in games::quiz::KINDS {
        assert_eq!(
            validate(example, quiz, &with_examples, &filter, &limits).map(|t| t.text),
            Err(Rejection::Duplicate)
        );
    }
    assert!(validate("What is 31 + 4?", quiz, &with_examples, &filter, &limits).is_ok());

    // A kept proposal joins the pool: proposing it again is a duplicate.
    let mut pool = pool.clone();
    pool.add("What is 17 × 3?");
    assert_eq!(validate("What is 17 × 3?", quiz, &pool, &filter, &limits).map(|t| t.text), Err(Rejection::Duplicate));
}

#[test]
fn proposed_debate_claims_are_checked_by_the_arena_and_each_bad_kind_is_rejected() {
    use arena::text_data::proposals::{Limits, Rejection, Target, TaskPool, extract_claim, validate};
    let debate = Target::DebatePropositions;
    let pool = TaskPool::for_proposals(debate, ["12 + 30 = 42", "There are 3 even numbers in 2, 4, 6, 7, 9, 11"]);
    let filter = TextFilter::default();
    let limits = Limits::default();
    let check = |reply: &str| validate(reply, debate, &pool, &filter, &limits);

    // Kept with the arena's truth, whatever the model says about it.
    let claim = check("Claim: 17 × 3 = 50 (this is true)\n").map(|c| (c.text, c.answer, c.kind));
    assert_eq!(claim, Err(Rejection::Uncheckable), "trailing words make the text uncheckable");
    let claim = check("Claim: \"17 × 3 = 50.\"\nThis claim is true.").unwrap_or_else(|r| panic!("{r:?}"));
    assert_eq!(
        (claim.text.as_str(), claim.answer.as_str(), claim.kind.as_str()),
        ("17 × 3 = 50.", "false", "multiplication")
    );
    let claim =
        check("If every zorp is a mib and Ana is a zorp, then Ana must be a mib").unwrap_or_else(|r| panic!("{r:?}"));
    assert_eq!((claim.answer.as_str(), claim.kind.as_str()), ("true", "syllogism"));
    assert_eq!(
        check("The word \"coffee\" contains the letter \"f\" exactly 2 times").map(|c| c.answer),
        Ok("true".into())
    );

    for (reply, rejection) in [
        ("I'm sorry, but I can't help with that.", Rejection::Filtered),
        ("2+2=4", Rejection::TooShort),
        (
            &format!("There are 3 even numbers in {}", (1..=60).map(|n| n.to_string()).collect::<Vec<_>>().join(", ")),
            Rejection::TooLong,
        ),
        ("The moon is made of cheese", Rejection::Uncheckable),
        ("12 + 30 = 42", Rejection::Duplicate),
        ("17 + 25 = 42", Rejection::Duplicate),
        ("Subtraction: 83 - 27 = 56", Rejection::Duplicate),
        ("38 × 4 > 150", Rejection::Duplicate),
        ("There are 3 even numbers in 2, 4, 6, 7, 9, 13", Rejection::NearDuplicate),
    ] {
        assert_eq!(check(reply).map(|c| c.text), Err(rejection), "{reply}");
    }
    assert_eq!(extract_claim("\n  Proposition: **41 - 9 = 32**\nwhy"), "41 - 9 = 32");
    // A short label before a colon goes; a colon after a digit is the claim's own.
    assert_eq!(extract_claim("Subtraction: 83 - 21 = 62"), "83 - 21 = 62");
    assert_eq!(extract_claim("**The new claim is:** \"6 × 7 = 42\""), "6 × 7 = 42");
    assert_eq!(extract_claim("In 2024: 5 + 5 = 10"), "In 2024: 5 + 5 = 10");
    assert_eq!(
        extract_claim("Here is a claim that I think is true: 2 + 2 = 4"),
        "Here is a claim that I think is true: 2 + 2 = 4"
    );
    // Every example the debate prompts show is checkable (and a duplicate of the pool).
    for (kind, example) in games::debate::propositions::KINDS {
        assert!(games::debate::check_claim(example).is_some_and(|(_, k)| k == *kind), "{example}");
    }
}
