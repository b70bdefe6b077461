//! What decides a tournament's games: the game, the agents (named), the schedule, openings, seed,
//! limits and what is kept of each game. Two runs with equal configs play the same games.

use std::path::Path;
use std::time::Duration;

use agents::AgentConfig;
use serde::{Deserialize, Serialize};

use crate::engine::openings::OpeningSource;
use crate::engine::runner::{Keep, Limits};
use crate::engine::schedule::{Pairing, ScheduleKind};
use crate::error::{Context, Result, read_text};

/// An agent of a tournament: a display name and the typed config that builds it. In files it is
/// a spec string (`"random"`) or a `{ name = "...", spec = "..." }` table.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct AgentEntry {
    pub name: String,
    #[serde(rename = "spec")]
    pub agent: AgentConfig,
}

impl AgentEntry {
    pub fn new(name: impl Into<String>, agent: AgentConfig) -> Self {
        AgentEntry { name: name.into(), agent }
    }

    /// Entries from spec strings, named by their specs as written (repeats get `#2`, `#3`, ...);
    /// the error names the spec that does not parse.
    pub fn from_specs(specs: &[String]) -> Result<Vec<AgentEntry>> {
        let configs = specs
            .iter()
            .map(|spec| {
                let agent = AgentConfig::parse(spec).with_context(|| format!("agent `{spec}`"))?;
                Ok((Some(spec.trim().to_string()), agent))
            })
            .collect::<Result<Vec<_>>>()?;
        Ok(name_agents(configs))
    }
}

/// Everything that decides a tournament's games. Two runs with equal configs play the same games
/// (threads, the store and progress display are not part of it).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TournamentConfig {
    /// The game spec, e.g. `connect_four`.
    pub game: String,
    /// Agent specs (`"random"`) or `{ name = "...", spec = "..." }` tables.
    #[serde(deserialize_with = "agent_entries")]
    pub agents: Vec<AgentEntry>,
    #[serde(default)]
    pub schedule: ScheduleKind,
    #[serde(default = "default_games_per_pairing")]
    pub games_per_pairing: u32,
    /// Swiss rounds (default ceil(log2(agents)) + 1).
    #[serde(default)]
    pub rounds: Option<u32>,
    #[serde(default)]
    pub openings: OpeningSource,
    #[serde(default)]
    pub seed: u64,
    /// Games reaching this many moves are stopped and scored as they stand (a draw in board games).
    #[serde(default)]
    pub max_moves: Option<usize>,
    /// A decision taking longer loses the game.
    #[serde(default)]
    pub time_per_move_ms: Option<u64>,
    /// What is kept of each game besides its result.
    #[serde(default)]
    pub keep: Keep,
    /// Agents for the judge seat of games that have one (debates): each game pair gets one, in turn.
    /// Judges are not rated with the players; they get a report of their own.
    #[serde(default, deserialize_with = "agent_entries", skip_serializing_if = "Vec::is_empty")]
    pub judges: Vec<AgentEntry>,
}

fn default_games_per_pairing() -> u32 {
    2
}

fn agent_entries<'de, D: serde::Deserializer<'de>>(deserializer: D) -> Result<Vec<AgentEntry>, D::Error> {
    #[derive(Deserialize)]
    #[serde(untagged)]
    enum Entry {
        Spec(String),
        Named { name: String, spec: String },
    }
    let entries = Vec::<Entry>::deserialize(deserializer)?;
    let configs = entries
        .into_iter()
        .map(|e| {
            // A bare spec names its agent as written.
            let (name, spec) = match e {
                Entry::Spec(spec) => (Some(spec.trim().to_string()), spec),
                Entry::Named { name, spec } => (Some(name), spec),
            };
            // Parsed here, not by an untagged variant, so the error says what is wrong.
            let agent =
                AgentConfig::parse(&spec).map_err(|e| serde::de::Error::custom(format!("agent `{spec}`: {e}")))?;
            Ok((name, agent))
        })
        .collect::<Result<Vec<_>, D::Error>>()?;
    Ok(name_agents(configs))
}

/// Names agents: a given name, else the canonical spec; repeated names get `#2`, `#3`, ...
pub fn name_agents(configs: Vec<(Option<String>, AgentConfig)>) -> Vec<AgentEntry> {
    let mut entries: Vec<AgentEntry> = Vec::with_capacity(configs.len());
    for (name, agent) in configs {
        let base = name.unwrap_or_else(|| agent.to_string());
        let mut name = base.clone();
        let mut k = 2;
        while entries.iter().any(|e| e.name == name) {
            name = format!("{base}#{k}");
            k += 1;
        }
        entries.push(AgentEntry { name, agent });
    }
    entries
}

impl TournamentConfig {
    /// A round robin of `agents` at `game` with the defaults: two games per pairing (seats
    /// swapped), no openings, seed 0, no limits, moves kept, no judges. Change fields from there.
    pub fn new(game: impl Into<String>, agents: Vec<AgentEntry>) -> Self {
        TournamentConfig {
            game: game.into(),
            agents,
            schedule: ScheduleKind::RoundRobin,
            games_per_pairing: default_games_per_pairing(),
            rounds: None,
            openings: OpeningSource::None,
            seed: 0,
            max_moves: None,
            time_per_move_ms: None,
            keep: Keep::Moves,
            judges: Vec::new(),
        }
    }

    /// Reads a TOML config file; errors name the file and the problem.
    pub fn from_toml_file(path: &Path) -> Result<Self> {
        let text = read_text(path)?;
        toml::from_str(&text).with_context(|| format!("config {}", path.display()))
    }

    /// The canonical text stored with the tournament and compared on resume.
    pub fn canonical(&self) -> String {
        serde_json::to_string(self).unwrap_or_else(|e| unreachable!("a config always serializes: {e}"))
    }

    /// The judge (an index into `judges`) of a scheduled game: both games of a pair share one.
    pub fn judge_of(&self, pairing: &Pairing) -> Option<usize> {
        (!self.judges.is_empty()).then(|| (pairing.opening % self.judges.len() as u64) as usize)
    }

    pub fn limits(&self) -> Limits {
        Limits { max_moves: self.max_moves, time_per_move: self.time_per_move_ms.map(Duration::from_millis) }
    }
}
