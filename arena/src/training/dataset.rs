//! Training data from self-play: per position the observation, the search policy (visit shares)
//! and the game's outcome for the player to move — filtered for quality and saved as safetensors.
//!
//! Quality filters, each reported with how much it removed: games lost by a fault or stopped at
//! the move limit are dropped (their outcome says nothing about the position); repeated positions
//! are merged (targets averaged), so early, common positions do not swamp the set; the seats are
//! balanced (the majority seat is subsampled, seeded), so the value head does not learn "the first
//! player wins" from a skewed sample.
//!
//! More from each game ([`Targets`]): the game's symmetries add each position's images (connect
//! four's mirror doubles the data for free); the value target can mix the game's result with the
//! search's own root value, which is less noisy than one game's outcome (a won game still contains
//! the loser's good moves); and the result can be discounted per move before the end, so near wins
//! count more than far ones.

use std::collections::HashMap;
use std::path::Path;

use crate::error::{Context, Error, Result, bail};
use games::{Move, Symmetry};
use rand::SeedableRng;
use rand::seq::SliceRandom;
use rand_xoshiro::Xoshiro256PlusPlus;
use safetensors::{Dtype, SafeTensors, tensor::TensorView};
use serde::{Deserialize, Serialize};

use crate::engine::runner::{EndReason, MatchResult};

/// Positions with their training targets, stored row-major.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Dataset {
    pub observation_size: usize,
    pub actions: usize,
    /// `len × observation_size`.
    pub observations: Vec<f32>,
    /// `len × actions`: the search's visit shares (zero off the legal moves).
    pub policies: Vec<f32>,
    /// The outcome for the player to move, in [-1, 1].
    pub values: Vec<f32>,
}

/// One distinct position with its summed targets.
struct Merged {
    observation: Vec<f32>,
    policy_sum: Vec<f64>,
    value_sum: f64,
    count: usize,
    /// The player to move.
    seat: usize,
}

/// How self-play positions become training targets.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Targets {
    pub observation_size: usize,
    pub actions: usize,
    /// The share of the value target taken from the search's root value (the rest is the game's
    /// result): 0 trains on results only. Positions whose agent reported no value use the result.
    pub value_mix: f64,
    /// Each position is also added through each symmetry (merged when its image was seen too).
    pub symmetries: Vec<Symmetry>,
    /// The game's result counts `(1 - result_discount)^k` in a position `k` moves before the end,
    /// so the network learns that a near win is worth more than a far one (and a far loss less
    /// bad than a near one): play that wins sooner and resists longer. 0: no discount.
    pub result_discount: f64,
}

impl Targets {
    /// Targets for `game`'s shapes, results only, without symmetries.
    pub fn plain(observation_size: usize, actions: usize) -> Self {
        Targets { observation_size, actions, ..Targets::default() }
    }
}

/// What the filters did.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct DatasetStats {
    pub games: usize,
    pub dropped_faults: usize,
    pub dropped_max_length: usize,
    pub positions_seen: usize,
    /// Positions without a policy (a fast search of playout cap randomisation, an agent that
    /// reports none) are skipped.
    pub positions_without_policy: usize,
    /// Images of kept positions added through the game's symmetries (before merging).
    pub symmetric_images: usize,
    /// The value target's share of the search's root value.
    pub value_mix: f64,
    /// The per-move discount of the result's weight.
    pub result_discount: f64,
    pub duplicates_merged: usize,
    pub dropped_for_seat_balance: usize,
    pub positions: usize,
    /// Positions kept per seat of the player to move.
    pub positions_by_seat: Vec<usize>,
    /// Mean value target: near 0 when outcomes are balanced.
    pub mean_value: f64,
    /// Share of kept positions whose value target is a win (> 0), a draw (0), a loss (< 0).
    pub wins_draws_losses: [f64; 3],
}

impl Dataset {
    pub fn len(&self) -> usize {
        self.values.len()
    }

    pub fn is_empty(&self) -> bool {
        self.values.is_empty()
    }

    /// Builds the training set of one generation from self-play games with trajectories.
    pub fn from_games(games: &[MatchResult], targets: &Targets, seed: u64) -> (Dataset, DatasetStats) {
        let (observation_size, actions) = (targets.observation_size, targets.actions);
        let mut stats = DatasetStats {
            games: games.len(),
            value_mix: targets.value_mix,
            result_discount: targets.result_discount,
            ..DatasetStats::default()
        };
        // Merge repeated positions: key = the observation's bits.
        let mut index: HashMap<Vec<u32>, usize> = HashMap::new();
        let mut merged: Vec<Merged> = Vec::new();
        let mut add = |observation: &[f32], policy: &mut dyn Iterator<Item = (usize, f32)>, value: f64, seat: usize| {
            let key: Vec<u32> = observation.iter().map(|x| x.to_bits()).collect();
            let slot = *index.entry(key).or_insert_with(|| {
                merged.push(Merged {
                    observation: observation.to_vec(),
                    policy_sum: vec![0.0; actions],
                    value_sum: 0.0,
                    count: 0,
                    seat,
                });
                merged.len() - 1
            });
            let entry = &mut merged[slot];
            let repeated = entry.count > 0;
            for (action, p) in policy {
                if let Some(target) = entry.policy_sum.get_mut(action) {
                    *target += p as f64;
                }
            }
            entry.value_sum += value;
            entry.count += 1;
            repeated
        };
        let mut image = Vec::with_capacity(observation_size);
        for game in games {
            match game.end {
                EndReason::Fault { .. } => {
                    stats.dropped_faults += 1;
                    continue;
                }
                EndReason::MaxLength => {
                    stats.dropped_max_length += 1;
                    continue;
                }
                EndReason::Normal => {}
            }
            let moves = game.trajectory.len();
            for (index, step) in game.trajectory.iter().enumerate() {
                stats.positions_seen += 1;
                let Some(policy) = &step.policy else {
                    stats.positions_without_policy += 1;
                    continue;
                };
                if step.observation.len() != observation_size || !matches!(step.action, Move::Action(_)) {
                    stats.positions_without_policy += 1;
                    continue;
                }
                let result = game.returns.get(step.player).copied().unwrap_or(0.0).clamp(-1.0, 1.0)
                    * (1.0 - targets.result_discount).powi((moves - index - 1) as i32);
                let value = match step.value {
                    Some(search) => {
                        (1.0 - targets.value_mix) * result + targets.value_mix * (search as f64).clamp(-1.0, 1.0)
                    }
                    None => result,
                };
                let mut plain = policy.iter().map(|&(a, p)| (a as usize, p));
                if add(&step.observation, &mut plain, value, step.player) {
                    stats.duplicates_merged += 1;
                }
                for symmetry in &targets.symmetries {
                    symmetry.transform_observation(&step.observation, &mut image);
                    let mut mapped = policy.iter().map(|&(a, p)| (symmetry.action(a) as usize, p));
                    stats.symmetric_images += 1;
                    if add(&image, &mut mapped, value, step.player) {
                        stats.duplicates_merged += 1;
                    }
                }
            }
        }
        // Balance the seats by subsampling the majority seat (seeded).
        let seats = merged.iter().map(|m| m.seat + 1).max().unwrap_or(0);
        let mut by_seat: Vec<Vec<usize>> = vec![Vec::new(); seats];
        for (i, m) in merged.iter().enumerate() {
            by_seat[m.seat].push(i);
        }
        let smallest = by_seat.iter().map(Vec::len).min().unwrap_or(0);
        let mut rng = Xoshiro256PlusPlus::seed_from_u64(seed);
        let mut keep: Vec<usize> = Vec::new();
        for rows in &mut by_seat {
            rows.shuffle(&mut rng);
            stats.dropped_for_seat_balance += rows.len() - smallest;
            keep.extend_from_slice(&rows[..smallest]);
        }
        keep.sort_unstable();
        let mut dataset = Dataset { observation_size, actions, ..Dataset::default() };
        stats.positions_by_seat = vec![0; seats];
        let mut outcome_counts = [0usize; 3];
        for &i in &keep {
            let m = &merged[i];
            let total: f64 = m.policy_sum.iter().sum();
            dataset.observations.extend_from_slice(&m.observation);
            dataset.policies.extend(m.policy_sum.iter().map(|p| if total > 0.0 { (p / total) as f32 } else { 0.0 }));
            let value = (m.value_sum / m.count as f64) as f32;
            dataset.values.push(value);
            stats.positions_by_seat[m.seat] += 1;
            outcome_counts[if value > 0.0 {
                0
            } else if value == 0.0 {
                1
            } else {
                2
            }] += 1;
        }
        stats.positions = dataset.len();
        let n = dataset.len().max(1) as f64;
        stats.mean_value = dataset.values.iter().map(|&v| v as f64).sum::<f64>() / n;
        stats.wins_draws_losses = outcome_counts.map(|c| c as f64 / n);
        (dataset, stats)
    }

    /// The last `rows` positions (all of them when there are fewer).
    pub fn last_rows(&self, rows: usize) -> Dataset {
        let start = self.len() - rows.min(self.len());
        Dataset {
            observation_size: self.observation_size,
            actions: self.actions,
            observations: self.observations[start * self.observation_size..].to_vec(),
            policies: self.policies[start * self.actions..].to_vec(),
            values: self.values[start..].to_vec(),
        }
    }

    /// Appends another dataset with the same shapes (a replay window of recent generations).
    pub fn extend(&mut self, other: &Dataset) -> Result<()> {
        if self.is_empty() && self.observation_size == 0 {
            *self = other.clone();
            return Ok(());
        }
        if (other.observation_size, other.actions) != (self.observation_size, self.actions) {
            bail!(
                "datasets differ in shape: observations {} vs {}, actions {} vs {}",
                self.observation_size,
                other.observation_size,
                self.actions,
                other.actions
            );
        }
        self.observations.extend_from_slice(&other.observations);
        self.policies.extend_from_slice(&other.policies);
        self.values.extend_from_slice(&other.values);
        Ok(())
    }

    /// Writes `observations` [N, obs], `policies` [N, actions], `values` [N] as safetensors, with
    /// the stats in the metadata; written to a temporary file and renamed, so a kill leaves either
    /// the old file or the new one.
    pub fn save(&self, path: &Path, stats: &DatasetStats) -> Result<()> {
        let n = self.len();
        let bytes = |v: &[f32]| v.iter().flat_map(|x| x.to_le_bytes()).collect::<Vec<u8>>();
        let (o, p, v) = (bytes(&self.observations), bytes(&self.policies), bytes(&self.values));
        let tensors = [
            ("observations", TensorView::new(Dtype::F32, vec![n, self.observation_size], &o)?),
            ("policies", TensorView::new(Dtype::F32, vec![n, self.actions], &p)?),
            ("values", TensorView::new(Dtype::F32, vec![n], &v)?),
        ];
        let metadata = HashMap::from([("stats".to_string(), serde_json::to_string(stats)?)]);
        let data = safetensors::tensor::serialize(tensors, Some(metadata))?;
        crate::files::write_atomically(path, &data)
    }

    /// Reads a dataset written by [`Dataset::save`]; errors name the file and the tensor.
    pub fn load(path: &Path) -> Result<(Dataset, DatasetStats)> {
        let data = std::fs::read(path).map_err(|e| Error::io("cannot read dataset", path, e))?;
        let tensors = SafeTensors::deserialize(&data)
            .with_context(|| format!("dataset {} is not a safetensors file", path.display()))?;
        let read = |name: &str| -> Result<(Vec<usize>, Vec<f32>)> {
            let tensor =
                tensors.tensor(name).with_context(|| format!("dataset {} has no tensor `{name}`", path.display()))?;
            if tensor.dtype() != Dtype::F32 {
                bail!("dataset {}: tensor `{name}` is {:?}, expected F32", path.display(), tensor.dtype());
            }
            let values = tensor.data().chunks_exact(4).map(|b| f32::from_le_bytes([b[0], b[1], b[2], b[3]])).collect();
            Ok((tensor.shape().to_vec(), values))
        };
        let (o_shape, observations) = read("observations")?;
        let (p_shape, policies) = read("policies")?;
        let (v_shape, values) = read("values")?;
        let (Some(&n), Some(&obs), Some(&actions)) = (v_shape.first(), o_shape.get(1), p_shape.get(1)) else {
            bail!("dataset {}: tensors have the wrong rank", path.display());
        };
        if o_shape[0] != n || p_shape[0] != n {
            bail!(
                "dataset {}: {} observations, {} policies and {n} values differ",
                path.display(),
                o_shape[0],
                p_shape[0]
            );
        }
        let (_, metadata) = SafeTensors::read_metadata(&data)?;
        let stats = metadata
            .metadata()
            .as_ref()
            .and_then(|m| m.get("stats"))
            .map(|s| serde_json::from_str(s))
            .transpose()
            .with_context(|| format!("dataset {}: unreadable stats", path.display()))?
            .unwrap_or_default();
        Ok((Dataset { observation_size: obs, actions, observations, policies, values }, stats))
    }
}
