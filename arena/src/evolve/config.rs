//! What decides an evolve run: the game, the network, population and league sizes, tournament,
//! self-play, training and gate settings. Two runs with equal configs (and thread counts) end in
//! the same state.

use serde::{Deserialize, Serialize};

use super::language::LanguageConfig;
use crate::error::{Context, Result, bail};
use crate::training::TrainConfig;

/// Everything that decides an evolve run.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct EvolveConfig {
    pub game: String,
    pub generations: u32,
    /// The network of the first checkpoint, e.g. `mlp(hidden=256,layers=2)`. The default is an MLP:
    /// in measurements on connect four the small resnet's policy head barely learned within the
    /// time budget, while the MLP trained quickly and its search beat `mcts(sims=200)`.
    pub architecture: String,
    pub seed: u64,
    /// Checkpoints kept in the population.
    pub population: usize,
    /// Parents selected each generation (top by the lower end of the rating interval).
    pub parents: usize,
    pub children_per_parent: usize,
    /// Earlier champions kept in each tournament, so a generation cannot rise by beating itself.
    pub league: usize,
    /// The strength of the strongest `mcts(sims=N)` anchor.
    pub anchor_sims: u32,
    /// More `mcts` anchors between `random` and `mcts(sims=anchor_sims)`, by simulations: rungs
    /// of a ladder, so that a checkpoint's rating keeps telling strengths apart once it beats
    /// `random` in every game. Board-game runs only.
    pub anchor_ladder: Vec<u32>,
    /// Games per pairing of the anchors' calibration round robin, played once before generation
    /// 1: the anchors' ratings from it (`random` = 0) are held fixed in every generation's fit, so
    /// that ratings of different generations share one scale.
    pub anchor_calibration_games: u32,
    pub tournament_games_per_pairing: u32,
    /// PUCT simulations of checkpoints in tournaments and gates.
    pub tournament_sims: u32,
    /// Random plies of each tournament and gate opening.
    pub opening_plies: u32,
    /// Self-play games per parent.
    pub selfplay_games: u32,
    pub selfplay_sims: u32,
    /// Playout cap randomisation: when above 0, a self-play move searches `selfplay_sims` only
    /// with probability `selfplay_full_share`, else this many simulations, and only the full
    /// searches become policy targets. 0: every move searches `selfplay_sims`.
    pub selfplay_fast_sims: u32,
    pub selfplay_full_share: f64,
    /// Self-play keeps each search's subtree for the next move (tree reuse).
    pub selfplay_tree_reuse: bool,
    /// The run's searches (self-play, tournaments, gates, the suite) value a position exactly
    /// where the side to move wins at once (`checkpoint(win_check=true)`): a one-ply solver that
    /// finds wins and refutes moves allowing one without the network's help.
    pub search_win_check: bool,
    /// The run's searches discount a backed-up value by this share per ply
    /// (`checkpoint(discount=D)`): among winning moves they prefer the quickest, among losing
    /// ones the slowest. 0: off.
    pub search_discount: f64,
    /// When above 0, each self-play game pair starts after a number of uniformly random plies
    /// drawn evenly from 0..=N, so the data also holds positions (threats to see, blocks to make)
    /// that the parent's own games rarely reach.
    pub selfplay_random_plies: u32,
    pub selfplay_temperature: f64,
    /// Self-play moves use the temperature only for this many plies, then the most visited move.
    pub selfplay_temperature_plies: u32,
    /// Prioritised fictitious self-play: this share of each parent's `selfplay_games` is played
    /// against opponents of the generation's tournament instead of the parent's twin, each
    /// opponent getting games by how often it beat the parent there ([`super::pfsp`]); only the
    /// parent's own moves become training positions. 0: off (pure self-play).
    pub pfsp_share: f64,
    /// How an opponent's weight grows with its score against the parent.
    pub pfsp_weighting: super::pfsp::Weighting,
    /// Also draw PFSP opponents from the fixed anchors (the `mcts` ladder and `random`), not only
    /// from the population and the league. The anchors are then training opponents: the
    /// champion's score against them may rise by learning their habits, so the suite (solver
    /// truth no game trains on) is the run's honest measure.
    pub pfsp_anchors: bool,
    /// Generations of self-play data a child trains on.
    pub replay_window: u32,
    /// When above 0, the replay window holds at most this many positions, the newest first.
    pub replay_positions: usize,
    /// The share of each value target taken from the self-play search's root value (the rest
    /// from the game's result).
    pub value_mix: f64,
    /// The result's weight in a value target falls by this share per move before the end (a near
    /// win is worth more than a far one); 0: every position of a won game has target 1.
    pub result_discount: f64,
    /// Adds each training position's images under the game's symmetries (connect four's mirror).
    pub symmetries: bool,
    pub train: TrainConfig,
    /// Most games of a gate match (child against parent, seats alternated).
    pub gate_games: u32,
    /// The gate's SPRT, e.g. `elo0=0,elo1=50,alpha=0.1,beta=0.1`.
    pub gate_sprt: String,
    /// Score a child needs when the SPRT has not decided by `gate_games`.
    pub gate_threshold: f64,
    /// Bootstrap replicates for the rating intervals.
    pub bootstrap: usize,
    /// A language-model run: GGUF models fine-tuned on their own games instead of networks
    /// trained by self-play (`architecture`, `anchor_sims`, `anchor_ladder`,
    /// `anchor_calibration_games`, `tournament_sims`, `selfplay_*`, `replay_window` and `train`
    /// are then unused).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub llm: Option<LanguageConfig>,
    /// A solver-labelled position suite (`arena suite make`): every generation's champion is
    /// measured on it, with its raw policy and with its tournament search (board-game runs).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub suite: Option<std::path::PathBuf>,
}

impl Default for EvolveConfig {
    fn default() -> Self {
        EvolveConfig {
            game: "connect_four".to_string(),
            // 10 generations of 3200 self-play games: the raw policy reaches 67.0% on the suite
            // in 12.7 minutes on 2 cores, where 15 generations of 1600 games reached 60.9% in 9.6.
            generations: 10,
            architecture: "mlp(hidden=256,layers=2)".to_string(),
            seed: 0,
            population: 2,
            parents: 1,
            children_per_parent: 1,
            league: 2,
            // mcts(sims=200) is beaten in 88-100% of games from generation 4 on, which says
            // nothing more; against mcts(sims=1000) the champion's score keeps rising (0% to 70-82%).
            anchor_sims: 1000,
            // Measured on connect four (200 games each): mcts(sims=20) scores 87.5% against
            // random, mcts(sims=100) 9.8% against mcts(sims=1000); with one rung every few hundred
            // Elo a champion's rating moves with every rung it passes.
            anchor_ladder: vec![20, 100],
            anchor_calibration_games: 100,
            tournament_games_per_pairing: 20,
            // The champion's search is what the run is measured by: with 64 simulations the
            // default run's final champion chose an optimal move in 78.0% of the suite's
            // positions, with 200 in 80.7%; the run still takes under 13 minutes on 2 cores.
            tournament_sims: 200,
            opening_plies: 2,
            // With the AVX2 search kernels self-play runs 2.6 times as fast: 1600 games reached
            // 58.1% raw by generation 8 against 52.4% with 800, and 3200 reached 66.2%.
            selfplay_games: 3200,
            selfplay_sims: 96,
            selfplay_fast_sims: 0,
            selfplay_full_share: 0.25,
            selfplay_tree_reuse: true,
            selfplay_random_plies: 0,
            search_win_check: true,
            // On a fixed network 0.05 lifted the search's share on the suite from 73.9% to 75.3%
            // (0.1: 75.6%), choosing quicker wins and slower losses; in the loop it was level
            // with no discount within the intervals.
            search_discount: 0.05,
            selfplay_temperature: 1.0,
            selfplay_temperature_plies: 10,
            pfsp_share: 0.0,
            pfsp_weighting: super::pfsp::Weighting::Hard,
            pfsp_anchors: false,
            replay_window: 4,
            replay_positions: 0,
            value_mix: 0.5,
            result_discount: 0.02,
            symmetries: true,
            // The trainer's defaults: three epochs over the replay window, a cosine schedule.
            train: TrainConfig::default(),
            gate_games: 60,
            gate_sprt: "elo0=0,elo1=60,alpha=0.1,beta=0.1".to_string(),
            gate_threshold: 0.55,
            bootstrap: 200,
            llm: None,
            suite: None,
        }
    }
}

/// Rejects settings that cannot run, before any work starts.
pub fn check_config(config: &EvolveConfig) -> Result<()> {
    if config.generations == 0 {
        bail!("generations must be at least 1");
    }
    if config.tournament_games_per_pairing == 0 || config.selfplay_games == 0 || config.gate_games == 0 {
        bail!("tournament_games_per_pairing, selfplay_games and gate_games must be at least 1");
    }
    if config.llm.is_none() {
        if config.anchor_calibration_games == 0 {
            bail!("anchor_calibration_games must be at least 1: the anchors' fixed ratings come from those games");
        }
        if config.anchor_sims == 0 || config.anchor_ladder.contains(&0) {
            bail!("anchor_sims and every anchor_ladder entry must be at least 1 simulation");
        }
    }
    config.gate_test()?;
    let shares = [config.value_mix, config.selfplay_full_share, config.result_discount, config.pfsp_share];
    if !shares.iter().all(|share| (0.0..=1.0).contains(share)) {
        bail!("value_mix, selfplay_full_share, result_discount and pfsp_share are shares: each must lie in 0..=1");
    }
    if !(0.0..=0.5).contains(&config.search_discount) {
        bail!("search_discount must lie in 0..=0.5 (a share lost per ply; 0 is off)");
    }
    if let Some(language) = &config.llm {
        language.check()?;
        language.check_game(&config.game)?;
        if config.pfsp_share > 0.0 {
            bail!(
                "pfsp_share is not supported yet for language-model runs: their curriculum weights task kinds instead (`[llm] curriculum = true`, quiz runs)"
            );
        }
        if config.suite.is_some() {
            bail!("suite is for board-game runs: a language-model run is measured by its held-out evaluation");
        }
    }
    Ok(())
}

impl EvolveConfig {
    /// Reads a TOML config (every field optional; the defaults fill the rest); errors name the file.
    pub fn from_toml_file(path: &std::path::Path) -> Result<Self> {
        let text = crate::error::read_text(path)?;
        toml::from_str(&text).with_context(|| format!("config {}", path.display()))
    }

    /// The gate's sequential test.
    pub fn gate_test(&self) -> Result<ratings::sprt::Config> {
        ratings::sprt::Config::parse(&self.gate_sprt).with_context(|| format!("gate_sprt `{}`", self.gate_sprt))
    }
}
