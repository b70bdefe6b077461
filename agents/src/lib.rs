//! Agents that play games: the `Agent` trait and its implementations (random, MCTS, checkpoints, language models). Not written yet: see the issues.
