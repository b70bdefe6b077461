//! Every parser of user input, fed arbitrary and mangled text: each answers a value or an error,
//! never a panic, and what it accepts reads back the same (property-based, with proptest).

use std::path::Path;

use agents::AgentConfig;
use arena::engine::openings::{OpeningSource, Openings};
use arena::engine::tournament::TournamentConfig;
use arena::evolve::EvolveConfig;
use arena::standings::results::{self, Format};
use arena::text_data::text_filter::FilterConfig;
use games::Spec;
use proptest::prelude::*;

/// Valid inputs of every kind, as mutation seeds.
const SEEDS: &[&str] = &[
    "connect_four(rows=6,columns=7,connect=4)",
    "hex(size=4,swap=true)",
    "debate(rounds=2,judge=seat,propositions=generated,first=random)",
    "mcts(sims=50,c=1.4,seed=3)",
    r#"cmd(program="python3 bot.py",timeout_ms=100)"#,
    "checkpoint(path=\"runs/g1 (final)\",sims=8,noise=true)",
    "jury(a=llm(model=m.gguf,choice=scored),b=random)",
    "llm(model=m.gguf,temperature=0.7,system=\"Be brief, \\\"really\\\".\")",
    "4 4 5 3 d c3 pass",
    "d3c5,f6 pass",
    "white,black,result\nA,B,1\nB,A,1/2-1/2\n\"C, d\",A,0-1\n",
    "{\"model_a\":\"x\",\"model_b\":\"y\",\"winner\":\"tie (bothbad)\"}\n",
    "[{\"model_a\":\"x\",\"model_b\":\"y\",\"winner\":\"model_a\"}]",
    "min_chars = 3\nmax_chars = 10\nblocklist = [\"x\"]\n",
    "game = \"tic_tac_toe\"\nagents = [\"random\", { name = \"b\", spec = \"first\" }]\nschedule = \"swiss\"\nrounds = 2\n",
    "game = \"connect_four\"\ngenerations = 2\npopulation = 3\n[llm]\nmodel = \"m.gguf\"\n",
];

/// Text of the characters parsers care about, including quotes, separators, control characters
/// and non-ASCII letters.
fn arbitrary_text() -> impl Strategy<Value = String> {
    proptest::string::string_regex("[a-z0-9_(),=\"'\\\\ .:#/\\-\\[\\]{}\n\t\u{1b}\u{e9}\u{2014}]{0,48}")
        .unwrap_or_else(|e| panic!("{e}"))
}

/// A valid input with a few characters inserted, deleted or replaced.
fn mangled() -> impl Strategy<Value = String> {
    (prop::sample::select(SEEDS), prop::collection::vec((any::<prop::sample::Index>(), 0u8..3, any::<char>()), 0..4))
        .prop_map(|(seed, edits)| {
            let mut chars: Vec<char> = seed.chars().collect();
            for (at, kind, c) in edits {
                let position = at.index(chars.len() + 1);
                match kind {
                    0 => chars.insert(position, c),
                    1 if position < chars.len() => {
                        chars.remove(position);
                    }
                    _ if position < chars.len() => chars[position] = c,
                    _ => chars.push(c),
                }
            }
            chars.into_iter().collect()
        })
}

fn input() -> impl Strategy<Value = String> {
    prop_oneof![arbitrary_text(), mangled(), prop::sample::select(SEEDS).prop_map(str::to_string)]
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 400, ..ProptestConfig::default() })]

    #[test]
    fn specs_parse_or_refuse_and_read_back(text in input()) {
        if let Ok(spec) = Spec::parse(&text) {
            let again = Spec::parse(&spec.to_string());
            prop_assert_eq!(again.ok(), Some(spec));
        }
        let _ = games::load_game(&text);
    }

    #[test]
    fn agent_specs_parse_or_refuse_and_read_back(text in input()) {
        if let Ok(config) = AgentConfig::parse(&text) {
            let again = AgentConfig::parse(&config.to_string());
            prop_assert_eq!(again.ok(), Some(config));
        }
    }

    #[test]
    fn move_lists_apply_or_refuse(text in input(), game in prop::sample::select(&["tic_tac_toe", "connect_four", "othello", "hex(size=5)", "kuhn_poker", "debate(judge=oracle)"][..])) {
        let game = games::load_game(game).unwrap_or_else(|e| panic!("{e}"));
        let mut state = game.new_initial_state();
        if let Ok(moves) = games::apply_move_list(state.as_mut(), &text) {
            prop_assert!(moves <= game.facts().max_game_length);
            prop_assert_eq!(state.history().len(), moves);
        }
    }

    #[test]
    fn results_files_parse_or_refuse(text in input()) {
        for format in [Format::Csv, Format::JsonLines, Format::JsonArray] {
            if let Ok(results) = results::parse(Path::new("r"), &text, format) {
                prop_assert!(results.games.iter().all(|g| (0.0..=1.0).contains(&g.score)));
            }
        }
    }

    #[test]
    fn configs_and_filters_parse_or_refuse(text in input()) {
        if let Ok(filter) = FilterConfig::from_toml(&text, "f.toml") {
            prop_assert!(filter.min_chars == 0 || filter.max_chars == 0 || filter.min_chars <= filter.max_chars);
        }
        let _ = toml::from_str::<TournamentConfig>(&text);
        let _ = toml::from_str::<EvolveConfig>(&text);
        let _ = OpeningSource::parse(&text);
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 64, ..ProptestConfig::default() })]

    #[test]
    fn openings_files_resolve_or_name_the_bad_line(lines in prop::collection::vec(input(), 0..6)) {
        let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
        let path = dir.path().join("openings.txt");
        std::fs::write(&path, lines.join("\n")).unwrap_or_else(|e| panic!("{e}"));
        let game = games::load_game("connect_four").unwrap_or_else(|e| panic!("{e}"));
        match Openings::resolve(&OpeningSource::File(path), game.as_ref(), 0) {
            Ok(Openings::Listed(openings)) => prop_assert!(!openings.is_empty()),
            Ok(_) => prop_assert!(false, "a file resolves to listed openings"),
            Err(e) => {
                let message = format!("{e:#}");
                prop_assert!(message.contains("openings.txt"), "{}", message);
            }
        }
    }
}
