//! Self-play datasets: each quality filter does what it says, and a dataset survives a save and load.

use arena::engine::runner::{EndReason, FaultKind, MatchResult, Step};
use arena::training::dataset::{Dataset, Targets};
use games::Move;

fn step(player: usize, observation: f32, action: u32) -> Step {
    Step {
        player,
        observation: vec![observation, 0.0],
        action: Move::Action(action),
        policy: Some(vec![(action, 1.0)]),
        value: None,
    }
}

fn game(end: EndReason, returns: [f64; 2], steps: Vec<Step>) -> MatchResult {
    MatchResult {
        returns: returns.to_vec(),
        end,
        length: steps.len(),
        moves: Vec::new(),
        move_micros: Vec::new(),
        trajectory: steps,
        turns: Vec::new(),
    }
}

#[test]
fn filters_drop_faults_and_move_limits_merge_duplicates_and_balance_seats() {
    let games = vec![
        // Player 0 wins; its two positions and one of player 1.
        game(EndReason::Normal, [1.0, -1.0], vec![step(0, 1.0, 0), step(1, 2.0, 1), step(0, 3.0, 0)]),
        // The same first position again, with the other target: merged, targets averaged.
        game(EndReason::Normal, [-1.0, 1.0], vec![step(0, 1.0, 1), step(1, 4.0, 0)]),
        game(
            EndReason::Fault { seat: 0, kind: FaultKind::Crash, detail: "x".into() },
            [-1.0, 1.0],
            vec![step(0, 9.0, 0)],
        ),
        game(EndReason::MaxLength, [0.0, 0.0], vec![step(0, 8.0, 0)]),
    ];
    let (dataset, stats) = Dataset::from_games(&games, &Targets::plain(2, 2), 7);
    assert_eq!((stats.games, stats.dropped_faults, stats.dropped_max_length), (4, 1, 1));
    assert_eq!(stats.positions_seen, 5);
    assert_eq!(stats.duplicates_merged, 1);
    // Distinct positions: player 0 has two (1.0 and 3.0), player 1 has two (2.0 and 4.0): balanced.
    assert_eq!(stats.dropped_for_seat_balance, 0);
    assert_eq!(stats.positions_by_seat, vec![2, 2]);
    let merged = (0..dataset.len()).find(|&i| dataset.observations[2 * i] == 1.0).unwrap_or_else(|| panic!("kept"));
    assert_eq!(&dataset.policies[2 * merged..2 * merged + 2], &[0.5, 0.5], "policy targets averaged");
    assert_eq!(dataset.values[merged], 0.0, "one win and one loss average to 0");

    // One more player-0 position unbalances the seats: one position of the majority seat goes.
    let mut more = games.clone();
    more.push(game(EndReason::Normal, [1.0, -1.0], vec![step(0, 5.0, 1)]));
    let (_, stats) = Dataset::from_games(&more, &Targets::plain(2, 2), 7);
    assert_eq!((stats.dropped_for_seat_balance, stats.positions), (1, 4));

    let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
    let path = dir.path().join("d.safetensors");
    dataset.save(&path, &stats).unwrap_or_else(|e| panic!("{e:#}"));
    let (loaded, loaded_stats) = Dataset::load(&path).unwrap_or_else(|e| panic!("{e:#}"));
    assert_eq!((loaded, loaded_stats), (dataset, stats));
    std::fs::write(&path, b"not a dataset").unwrap_or_else(|e| panic!("{e}"));
    let error = format!("{:#}", Dataset::load(&path).err().unwrap_or_else(|| panic!("garbage is refused")));
    assert!(error.contains("d.safetensors"), "{error}");
}

#[test]
fn symmetric_images_join_the_data_and_merge_with_positions_already_seen() {
    // A two-cell "board" whose mirror swaps the cells and the two actions.
    let mirror = games::Symmetry { name: "mirror", observation_source: vec![1, 0], actions: vec![1, 0] };
    let targets = Targets { symmetries: vec![mirror], ..Targets::plain(2, 2) };
    let at = |player, observation: [f32; 2], action| Step {
        player,
        observation: observation.to_vec(),
        action: Move::Action(action),
        policy: Some(vec![(action, 1.0)]),
        value: None,
    };
    let games = vec![
        // (1, 0) and its image (0, 1) for player 0; (2, 0) and (0, 2) for player 1.
        game(EndReason::Normal, [1.0, -1.0], vec![at(0, [1.0, 0.0], 0), at(1, [2.0, 0.0], 1)]),
        // (0, 1) itself: merged with the image of (1, 0).
        game(EndReason::Normal, [1.0, -1.0], vec![at(0, [0.0, 1.0], 1)]),
    ];
    let (dataset, stats) = Dataset::from_games(&games, &targets, 3);
    assert_eq!(stats.symmetric_images, 3);
    assert_eq!(stats.duplicates_merged, 2, "(0, 1) and its image (1, 0) were both seen already");
    assert_eq!(stats.positions_by_seat, vec![2, 2]);
    let row = |observation: [f32; 2]| {
        (0..dataset.len())
            .find(|&i| dataset.observations[2 * i..2 * i + 2] == observation)
            .unwrap_or_else(|| panic!("{observation:?} is in the data"))
    };
    // The image of (2, 0) playing action 1 is (0, 2) playing action 0.
    let image = row([0.0, 2.0]);
    assert_eq!(&dataset.policies[2 * image..2 * image + 2], &[1.0, 0.0]);
    assert_eq!(dataset.values[image], -1.0);
}

#[test]
fn value_targets_mix_the_result_with_the_search_value() {
    let searched = |value| Step {
        player: 0,
        observation: vec![1.0, 0.0],
        action: Move::Action(0),
        policy: Some(vec![(0, 1.0)]),
        value,
    };
    let won = |value| game(EndReason::Normal, [1.0, -1.0], vec![searched(value), step(1, 5.0, 0)]);
    let targets = Targets { value_mix: 0.25, ..Targets::plain(2, 2) };
    let (dataset, stats) = Dataset::from_games(&[won(Some(-0.6))], &targets, 1);
    assert_eq!(stats.value_mix, 0.25);
    let first = (0..dataset.len()).find(|&i| dataset.observations[2 * i] == 1.0).unwrap_or_else(|| panic!("kept"));
    // 0.75 * 1 (the win) + 0.25 * -0.6 (the search's view).
    assert!((dataset.values[first] - 0.6).abs() < 1e-6, "{}", dataset.values[first]);
    // No search value: the result alone.
    let (dataset, _) = Dataset::from_games(&[won(None)], &targets, 1);
    let first = (0..dataset.len()).find(|&i| dataset.observations[2 * i] == 1.0).unwrap_or_else(|| panic!("kept"));
    assert_eq!(dataset.values[first], 1.0);
}

#[test]
fn a_discounted_result_counts_less_the_further_the_position_is_from_the_end() {
    // Player 1 wins with the fourth move: the first position is three moves from the end.
    let steps = vec![step(0, 1.0, 0), step(1, 2.0, 1), step(0, 3.0, 0), step(1, 4.0, 1)];
    let won = game(EndReason::Normal, [-1.0, 1.0], steps);
    let targets = Targets { result_discount: 0.1, ..Targets::plain(2, 2) };
    let (dataset, stats) = Dataset::from_games(&[won], &targets, 1);
    assert_eq!(stats.result_discount, 0.1);
    let value = |observation: f32| {
        let row = (0..dataset.len()).find(|&i| dataset.observations[2 * i] == observation);
        dataset.values[row.unwrap_or_else(|| panic!("{observation} kept"))]
    };
    assert!((value(1.0) + 0.729).abs() < 1e-6, "{}", value(1.0));
    assert!((value(2.0) - 0.81).abs() < 1e-6, "{}", value(2.0));
    assert!((value(3.0) + 0.9).abs() < 1e-6, "{}", value(3.0));
    assert_eq!(value(4.0), 1.0, "the winning move itself");
}
