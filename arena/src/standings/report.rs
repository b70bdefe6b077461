//! The ratings report of `arena ratings`: Bradley–Terry (with Hessian or bootstrap intervals,
//! rank intervals and LOS) or an incremental method (Elo, Glicko-2, TrueSkill, Weng-Lin) over
//! the games of a results file or a store.

use ratings::bradley_terry::{self, Anchor, DrawModel};
use ratings::pair_counts::PlayerTotals;
use ratings::rank::rank_intervals;
use ratings::sequential::{self, elo, glicko2, trueskill, weng_lin};
use ratings::{GameResult, PairCounts, fisher};
use serde::Serialize;

use super::results::Results;
use super::{IntervalMethod, fit_with_intervals};
use crate::error::{Context, Error, Result, bail};

/// A rating method.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Method {
    /// Bradley–Terry maximum likelihood, on the Elo scale.
    Bt,
    /// Incremental Elo (K = 32, start 1000).
    Elo,
    /// Incremental Glicko-2 (start 1500 ± 350).
    Glicko2,
    /// Incremental TrueSkill (μ 25, σ 25/3).
    TrueSkill,
    /// Incremental Weng-Lin / OpenSkill (μ 25, σ 25/3).
    WengLin,
}

impl Method {
    /// Every method with its name on the command line.
    pub const NAMES: [(&'static str, Method); 5] = [
        ("bt", Method::Bt),
        ("elo", Method::Elo),
        ("glicko2", Method::Glicko2),
        ("trueskill", Method::TrueSkill),
        ("weng-lin", Method::WengLin),
    ];
}

/// Bradley–Terry's draw models by their names on the command line.
pub const DRAW_MODELS: [(&str, DrawModel); 2] = [("half-win", DrawModel::HalfWin), ("davidson", DrawModel::Davidson)];

/// What to compute.
#[derive(Debug, Clone, PartialEq)]
pub struct RatingsRequest {
    pub method: Method,
    /// How Bradley–Terry counts draws (bt only).
    pub draw_model: DrawModel,
    /// `NAME=VALUE` texts fixing players' ratings (several for bt, at most one otherwise).
    pub anchors: Vec<String>,
    /// Bootstrap replicates for the intervals (bt only; 0: from the Hessian).
    pub bootstrap: usize,
    pub seed: u64,
    /// The likelihood of superiority of each player over each other (bt only).
    pub los: bool,
}

impl Default for RatingsRequest {
    fn default() -> Self {
        RatingsRequest {
            method: Method::Bt,
            draw_model: DrawModel::HalfWin,
            anchors: Vec::new(),
            bootstrap: 0,
            seed: 0,
            los: false,
        }
    }
}

/// One player's line of the report (the JSON object of `--json`).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct PlayerRating {
    /// 1 + the number of players rated higher.
    pub rank: usize,
    /// Best rank the confidence intervals allow (none without intervals).
    pub rank_low: Option<usize>,
    /// Worst rank the confidence intervals allow.
    pub rank_high: Option<usize>,
    /// The player's name.
    pub name: String,
    /// The rating, on the method's scale (Elo for bt).
    pub rating: f64,
    /// Lower end of the 95% confidence interval.
    pub ci_low: Option<f64>,
    /// Upper end of the 95% confidence interval.
    pub ci_high: Option<f64>,
    /// Standard error (bt: from the Hessian or the bootstrap) or the method's σ.
    pub se: Option<f64>,
    /// Games played.
    pub games: u64,
    /// Points per game, 0 to 1.
    pub score: f64,
    /// Share of games drawn, 0 to 1.
    pub draws: f64,
    /// With `--los`: the probability this player is stronger than each other player, by name.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub los: Option<std::collections::BTreeMap<String, f64>>,
}

/// The ratings of a results set, with a one-line description of how they were computed.
#[derive(Debug, Clone)]
pub struct Report {
    /// What was fitted, how many games, where the intervals come from.
    pub summary: String,
    /// Players, best first.
    pub players: Vec<PlayerRating>,
}

/// Computes the ratings `request` asks for over `results`.
pub fn report(results: &Results, request: &RatingsRequest) -> Result<Report> {
    let (label, rate): (&str, IncrementalMethod) = match request.method {
        Method::Bt => return bt_report(request, results),
        Method::Elo => ("Elo (K = 32), in file order", |n, games| elo::ratings(n, games, &elo::Config::default())),
        Method::Glicko2 => {
            ("Glicko-2, in file order", |n, games| glicko2::ratings(n, games, &glicko2::Config::default()))
        }
        Method::TrueSkill => {
            ("TrueSkill, in file order", |n, games| trueskill::ratings(n, games, &trueskill::Config::default()))
        }
        Method::WengLin => {
            ("Weng-Lin, in file order", |n, games| weng_lin::ratings(n, games, &weng_lin::Config::default()))
        }
    };
    sequential_report(request, label, rate, results)
}

/// An incremental rating method over `players` and the games in order.
type IncrementalMethod = fn(usize, &[GameResult]) -> ratings::Result<Vec<sequential::Rating>>;

/// `--anchor NAME=VALUE` options as (player index, rating).
fn parse_anchors(request: &RatingsRequest, results: &Results) -> Result<Vec<Anchor>> {
    let mut anchors: Vec<Anchor> = Vec::new();
    for spec in &request.anchors {
        let Some((name, value)) = spec.rsplit_once('=') else {
            bail!("--anchor '{spec}': expected NAME=VALUE, e.g. --anchor random=0");
        };
        let rating: f64 = value
            .trim()
            .parse()
            .ok()
            .filter(|v: &f64| v.is_finite())
            .with_context(|| format!("--anchor '{spec}': '{value}' is not a finite number"))?;
        let Some(player) = results.roster.get(name.trim()) else {
            bail!("--anchor '{spec}': no player named '{}' in {}", name.trim(), results.source.display());
        };
        if anchors.iter().any(|a| a.player == player) {
            bail!("--anchor '{spec}': '{}' is anchored twice", name.trim());
        }
        anchors.push(Anchor { player, rating });
    }
    Ok(anchors)
}

fn bt_report(request: &RatingsRequest, results: &Results) -> Result<Report> {
    let names = results.roster.names();
    let counts = PairCounts::from_games(names.len(), &results.games)
        .map_err(|e| e.with_names(names))
        .with_context(|| format!("{}", results.source.display()))?;
    let config = bradley_terry::Config {
        draw_model: request.draw_model,
        anchors: parse_anchors(request, results)?,
        ..bradley_terry::Config::default()
    };
    let named = |e: ratings::Error| Error::Ratings(e.with_names(names));
    let method = match request.bootstrap {
        0 => IntervalMethod::Hessian,
        replicates => IntervalMethod::Bootstrap { replicates, seed: request.seed },
    };
    let rated = fit_with_intervals(&counts, &config, method)
        .map_err(named)
        .with_context(|| format!("cannot fit ratings to {}", results.source.display()))?;
    let source = match method {
        IntervalMethod::Hessian => "95% CI: rating ± 1.96 SE from the Hessian".to_owned(),
        IntervalMethod::Bootstrap { replicates, seed } => {
            let failed = match rated.failed_replicates {
                0 => String::new(),
                failed => format!(", {failed} failed replicates left out"),
            };
            format!("95% CI: bootstrap percentiles, {replicates} replicates, seed {seed}{failed}")
        }
    };
    let fit = &rated.fit;
    let model = match fit.draw_parameter {
        Some(nu) => format!("Bradley–Terry, Davidson draws (ν = {nu:.4})"),
        None => "Bradley–Terry, draws as half wins".to_owned(),
    };
    let summary = format!(
        "{model}; {} games, {} players; {}; {source}",
        results.games.len(),
        names.len(),
        anchor_text(&config.anchors, names)
    );
    let mut players = rows(
        names,
        &counts,
        &fit.ratings,
        Some(&rated.intervals),
        &rated.standard_errors.iter().copied().map(Some).collect::<Vec<_>>(),
    );
    if request.los {
        let covariance = fisher::covariance(&counts, &config, fit).map_err(named)?;
        let los = ratings::los::matrix(&fit.ratings, &covariance);
        let n = names.len();
        for player in &mut players {
            let Some(i) = results.roster.get(&player.name) else { continue };
            player.los = Some((0..n).filter(|&j| j != i).map(|j| (names[j].clone(), los[i * n + j])).collect());
        }
    }
    Ok(Report { summary, players })
}

fn sequential_report(
    request: &RatingsRequest,
    label: &str,
    rate: IncrementalMethod,
    results: &Results,
) -> Result<Report> {
    if request.bootstrap > 0 {
        bail!("--bootstrap needs --method bt (incremental methods depend on the game order)");
    }
    if request.draw_model != DrawModel::HalfWin {
        bail!("--draw-model applies to --method bt only");
    }
    if request.los {
        bail!("--los needs --method bt (it comes from the Bradley–Terry fit's covariance)");
    }
    let names = results.roster.names();
    let n = names.len();
    let games = &results.games;
    let rated: Vec<sequential::Rating> =
        rate(n, games).map_err(|e| e.with_names(names)).with_context(|| format!("{}", results.source.display()))?;
    let anchors = parse_anchors(request, results)?;
    let shift = match anchors.as_slice() {
        [] => 0.0,
        [anchor] => anchor.rating - rated[anchor.player].rating,
        _ => bail!(
            "--method {} takes at most one --anchor (it shifts all ratings)",
            Method::NAMES.iter().find(|(_, m)| *m == request.method).map_or("", |(name, _)| name)
        ),
    };
    let ratings: Vec<f64> = rated.iter().map(|r| r.rating + shift).collect();
    let standard_errors: Vec<Option<f64>> = rated.iter().map(|r| r.uncertainty).collect();
    let intervals: Option<Vec<(f64, f64)>> = standard_errors
        .iter()
        .zip(&ratings)
        .map(|(se, r)| se.map(|se| (r - ratings::normal::Z_95 * se, r + ratings::normal::Z_95 * se)))
        .collect();
    let counts = PairCounts::from_games(n, games).map_err(|e| e.with_names(names))?;
    let source = if intervals.is_some() { "95% CI: rating ± 1.96 σ" } else { "no confidence intervals" };
    let anchor = if anchors.is_empty() { "unanchored".to_owned() } else { anchor_text(&anchors, names) };
    let summary = format!("{label}; {} games, {n} players; {anchor}; {source}", games.len());
    Ok(Report { summary, players: rows(names, &counts, &ratings, intervals.as_deref(), &standard_errors) })
}

fn anchor_text(anchors: &[Anchor], names: &[String]) -> String {
    if anchors.is_empty() {
        return "ratings have mean 0".to_owned();
    }
    let list: Vec<String> = anchors.iter().map(|a| format!("{} = {}", names[a.player], a.rating)).collect();
    format!("anchored: {}", list.join(", "))
}

/// Players' lines, best first (ties by name).
fn rows(
    names: &[String],
    counts: &PairCounts,
    ratings: &[f64],
    intervals: Option<&[(f64, f64)]>,
    standard_errors: &[Option<f64>],
) -> Vec<PlayerRating> {
    let ranks = match intervals {
        Some(intervals) => rank_intervals(ratings, intervals)
            .into_iter()
            .map(|r| (r.rank, Some(r.best), Some(r.worst)))
            .collect::<Vec<_>>(),
        None => ratings::rank::ranks(ratings).into_iter().map(|r| (r, None, None)).collect(),
    };
    let mut players: Vec<PlayerRating> = (0..names.len())
        .map(|p| {
            let totals: PlayerTotals = counts.totals(p);
            PlayerRating {
                rank: ranks[p].0,
                rank_low: ranks[p].1,
                rank_high: ranks[p].2,
                name: names[p].clone(),
                rating: ratings[p],
                ci_low: intervals.map(|i| i[p].0),
                ci_high: intervals.map(|i| i[p].1),
                se: standard_errors[p],
                games: totals.games(),
                score: totals.score(),
                draws: totals.draw_rate(),
                los: None,
            }
        })
        .collect();
    players.sort_by(|a, b| b.rating.total_cmp(&a.rating).then_with(|| a.name.cmp(&b.name)));
    players
}
