//! `arena report`: one self-contained HTML file that shows what a run (or a store) did — ratings
//! over generations against the fixed anchors, the measured accuracies, standings, a crosstable
//! heatmap, the lineage graph and each generation's data, gates, training and time — with plots
//! in inline SVG ([`svg`]), every untrusted text escaped ([`html`]) and the data embedded as
//! JSON; nothing is fetched when the page is viewed.

pub mod html;
pub mod svg;
pub mod viewer;

use std::path::{Path, PathBuf};

use serde_json::json;

use crate::error::{Result, bail};
use crate::evolve::lineage::Lineage;
use crate::evolve::{GenerationSummary, history};
use crate::files::write_atomically;
use crate::standings::report::{RatingsRequest, report};
use crate::standings::results::{Results, from_store};
use html::{Cell, Section, escape, table};
use svg::{LineChart, Series};

/// What a report shows.
#[derive(Clone, Debug)]
pub enum Source {
    /// An evolve run directory: its generations, lineage and store.
    Run(PathBuf),
    /// A store: every finished game in it.
    Store(crate::store::StoreLocation),
}

/// What was written.
#[derive(Clone, Debug, PartialEq)]
pub struct Written {
    pub path: PathBuf,
    pub bytes: usize,
    pub sections: Vec<String>,
    pub games: usize,
}

/// Builds the report of `source` and writes it to `out` (atomically).
pub fn write_report(source: &Source, out: &Path) -> Result<Written> {
    // The page never replaces what it reports on (`--out arena.db`).
    let store = match source {
        Source::Run(dir) => Some(dir.join("arena.db")),
        Source::Store(db) => db.file().map(Path::to_path_buf),
    };
    crate::files::check_output_file(out, &store.iter().map(PathBuf::as_path).collect::<Vec<_>>())?;
    let (page, sections, games) = render(source)?;
    write_atomically(out, page.as_bytes())?;
    Ok(Written { path: out.to_path_buf(), bytes: page.len(), sections, games })
}

/// The page, its section titles and the games it rates.
pub fn render(source: &Source) -> Result<(String, Vec<String>, usize)> {
    let (title, subtitle, sections, data, games) = match source {
        Source::Run(dir) => run_sections(dir)?,
        Source::Store(db) => store_sections(db)?,
    };
    let names = sections.iter().map(|s| s.title.clone()).collect();
    let script = if data.get("viewer").is_some_and(|v| v.as_array().is_some_and(|a| !a.is_empty())) {
        viewer::SCRIPT
    } else {
        ""
    };
    Ok((html::page(&title, &subtitle, &sections, &data, script), names, games))
}

/// An evolve run's sections.
#[allow(clippy::type_complexity)]
fn run_sections(dir: &Path) -> Result<(String, String, Vec<Section>, serde_json::Value, usize)> {
    let summaries = history(dir)?;
    let calibration = crate::evolve::anchors::read(dir)?;
    let lineage = Lineage::load(dir)?;
    let db = dir.join("arena.db");
    let last_tournament = summaries.iter().rev().find_map(|s| s.tournament_id);
    let results = match (last_tournament, db.exists()) {
        (Some(id), true) => Some(from_store(&db.as_path().into(), Some(id))?),
        _ => None,
    };
    let mut sections = vec![Section {
        id: "ratings",
        title: "Ratings over generations".into(),
        html: ratings_section(&summaries, calibration.as_ref()),
    }];
    if let Some(html) = measures_section(&summaries) {
        sections.push(Section { id: "measures", title: "Measured against the truth".into(), html });
    }
    if let Some(last) = summaries.last() {
        sections.push(Section {
            id: "standings",
            title: format!("Standings of generation {}", last.generation),
            html: generation_standings(last),
        });
    }
    let games = results.as_ref().map_or(0, |r| r.games.len());
    if let Some(results) = &results {
        let (names, cells) = crosstable(results);
        sections.push(Section {
            id: "crosstable",
            title: "Crosstable of the last tournament".into(),
            html: format!(
                "<p class=\"muted\">The row's score against the column; hover a cell for the games.</p>{}",
                svg::heatmap(&names, &cells)
            ),
        });
    }
    sections.push(Section { id: "lineage", title: "Lineage".into(), html: lineage_section(&lineage) });
    if let Some(html) = contexts_section(&summaries) {
        sections.push(Section { id: "contexts", title: "Contexts".into(), html });
    }
    sections.push(Section { id: "generations", title: "Generations".into(), html: generations_section(&summaries) });
    let store = if db.exists() { Some(crate::store::Store::open(&db)?) } else { None };
    if let Some(html) = store.as_ref().map(judges_section).transpose()?.flatten() {
        sections.push(Section { id: "judges", title: "Judges".into(), html });
    }
    let viewed = match (last_tournament, &store) {
        (Some(id), Some(store)) => viewer::sample(store, id)?,
        _ => Vec::new(),
    };
    if !viewed.is_empty() {
        sections.push(games_section(viewed.len()));
    }
    let title = format!("Arena run {}", dir.file_name().map(|n| n.to_string_lossy().to_string()).unwrap_or_default());
    let subtitle = format!(
        "{} · {} generation{} · {} agents in the last tournament",
        dir.display(),
        summaries.len(),
        if summaries.len() == 1 { "" } else { "s" },
        summaries.last().map_or(0, |s| s.ratings.len())
    );
    let data = json!({
        "source": dir.display().to_string(),
        "generations": summaries,
        "anchors": calibration,
        "lineage": serde_json::from_str::<serde_json::Value>(&lineage.to_json())?,
        "viewer": viewed,
    });
    Ok((title, subtitle, sections, data, games))
}

/// A store's sections: the ratings of every finished game in it and their crosstable.
#[allow(clippy::type_complexity)]
fn store_sections(
    db: &crate::store::StoreLocation,
) -> Result<(String, String, Vec<Section>, serde_json::Value, usize)> {
    let results = from_store(db, None)?;
    if results.games.is_empty() {
        bail!("store {db} has no finished game to report");
    }
    let (summary, players): (String, Vec<Standing>) = match report(&results, &RatingsRequest::default()) {
        Ok(rated) => (
            rated.summary.clone(),
            rated
                .players
                .iter()
                .map(|p| (p.name.clone(), p.rating, p.ci_low.zip(p.ci_high), p.games, p.score))
                .collect(),
        ),
        // An agent that won or lost every game has no finite maximum-likelihood rating: one
        // virtual draw per pairing (BayesElo's prior, as evolve runs use) keeps the page whole.
        Err(error) => {
            let (n, names) = (results.roster.len(), results.roster.names());
            let mut tally = crate::engine::tally::Tally::new(n);
            for (index, game) in results.games.iter().enumerate() {
                let normal = crate::engine::runner::EndKind::Normal;
                tally.add([game.first, game.second], game.score, normal, None, index as u64);
            }
            let fit = crate::standings::fit_with_intervals(
                &tally.pair_counts_with_virtual_draws(1),
                &crate::standings::anchored_at_zero(None),
                crate::standings::IntervalMethod::Hessian,
            )?;
            let mut players: Vec<Standing> = (0..n)
                .map(|i| {
                    let totals = tally.totals(i);
                    let score = totals.points / totals.games.max(1) as f64;
                    (names[i].clone(), fit.ratings()[i], Some(fit.intervals[i]), totals.games, score)
                })
                .collect();
            players.sort_by(|a, b| b.1.total_cmp(&a.1));
            (
                format!(
                    "Bradley–Terry with one virtual draw per pairing, ratings of mean 0, 95% intervals from the Hessian ({error})"
                ),
                players,
            )
        }
    };
    let rows = standing_rows(&players);
    let standings = format!(
        "<p class=\"muted\">{}</p>{}",
        escape(&summary),
        table("standings", &["rank", "agent", "rating", "95% interval", "games", "score"], &rows)
    );
    let (names, cells) = crosstable(&results);
    let mut sections = vec![
        Section { id: "standings", title: "Standings".into(), html: standings },
        Section { id: "crosstable", title: "Crosstable".into(), html: svg::heatmap(&names, &cells) },
    ];
    let store = crate::store::Store::connect(db)?;
    if let Some(html) = judges_section(&store)? {
        sections.push(Section { id: "judges", title: "Judges".into(), html });
    }
    let viewed = match store.tournaments()?.last() {
        Some(last) => viewer::sample(&store, last.id)?,
        None => Vec::new(),
    };
    if !viewed.is_empty() {
        sections.push(games_section(viewed.len()));
    }
    let standings: Vec<serde_json::Value> = players
        .iter()
        .map(|(name, rating, interval, games, score)| {
            json!({ "name": name, "rating": rating, "interval": interval, "games": games, "score": score })
        })
        .collect();
    let data = json!({ "source": db.to_string(), "standings": standings, "viewer": viewed });
    let subtitle = format!("{} · {} finished games", db, results.games.len());
    Ok(("Arena store".into(), subtitle, sections, data, results.games.len()))
}

/// Every judge of the store's debates: accuracy against the truth, its lean to pro and to the
/// first speaker, and whether it gave the same verdict with the debaters swapped; `None` when no
/// game was judged.
fn judges_section(store: &crate::store::Store) -> Result<Option<String>> {
    let judges = crate::text_data::judging::store_report(store)?;
    if judges.is_empty() {
        return Ok(None);
    }
    let points = |x: f64| format!("{:+.0}", 100.0 * x);
    let rows: Vec<Vec<Cell>> = judges
        .iter()
        .map(|j| {
            vec![
                Cell::Text(j.name.clone()),
                Cell::Number(j.verdicts.to_string()),
                Cell::Number(format!(
                    "{:.0}% [{:.0}, {:.0}]",
                    100.0 * j.accuracy,
                    100.0 * j.accuracy_low,
                    100.0 * j.accuracy_high
                )),
                Cell::Number(format!(
                    "{} points [{}, {}] ({:.0}% pro, {:.0}% true)",
                    points(j.pro_bias),
                    points(j.pro_bias_interval.0),
                    points(j.pro_bias_interval.1),
                    100.0 * j.picked_pro,
                    100.0 * j.pro_true
                )),
                Cell::Number(format!("{} points", points(j.first_bias))),
                Cell::Number(if j.pairs == 0 {
                    "—".into()
                } else {
                    format!(
                        "{:.0}% [{:.0}, {:.0}] of {} pairs",
                        100.0 * j.consistent,
                        100.0 * j.consistent_interval.0,
                        100.0 * j.consistent_interval.1,
                        j.pairs
                    )
                }),
            ]
        })
        .collect();
    Ok(Some(format!(
        "<p class=\"muted\">Accuracy with its 95% Wilson interval; a lean is how much more often the judge picked a side than that side was right; consistency: the same verdict on a proposition with the debaters swapped.</p>{}",
        table(
            "judges",
            &["judge", "verdicts", "accuracy", "lean to pro", "lean to first speaker", "consistency"],
            &rows
        )
    )))
}

/// The game viewer's section.
fn games_section(matches: usize) -> Section {
    Section {
        id: "games",
        title: "Games".into(),
        html: format!(
            "<p class=\"muted\">{matches} {} of the last tournament, spread evenly over it (at most {}); step with the buttons or the arrow keys.</p>{}",
            if matches == 1 { "match" } else { "matches" },
            viewer::MOST_MATCHES,
            viewer::MARKUP
        ),
    }
}

/// One agent of a store's standings: name, rating, 95% interval, games, score.
type Standing = (String, f64, Option<(f64, f64)>, u64, f64);

/// Standings rows, best first.
fn standing_rows(players: &[Standing]) -> Vec<Vec<Cell>> {
    players
        .iter()
        .enumerate()
        .map(|(i, (name, rating, interval, games, score))| {
            vec![
                Cell::Number((i + 1).to_string()),
                Cell::Text(name.clone()),
                Cell::Number(format!("{rating:+.0}")),
                Cell::Number(interval.map_or("—".into(), |(low, high)| format!("[{low:+.0}, {high:+.0}]"))),
                Cell::Number(games.to_string()),
                Cell::Number(format!("{:.1}%", 100.0 * score)),
            ]
        })
        .collect()
}

/// Each pair's points and games, players in roster order.
pub fn crosstable(results: &Results) -> (Vec<String>, Vec<Vec<Option<svg::Cell>>>) {
    let names = results.roster.names().to_vec();
    let n = names.len();
    let mut cells: Vec<Vec<Option<svg::Cell>>> = vec![vec![None; n]; n];
    for game in &results.games {
        for (row, column, points) in
            [(game.first, game.second, game.score), (game.second, game.first, 1.0 - game.score)]
        {
            let cell = cells[row][column].get_or_insert(svg::Cell { points: 0.0, games: 0 });
            cell.points += points;
            cell.games += 1;
        }
    }
    (names, cells)
}

/// The champion's rating per generation with its interval band, the anchors as reference lines
/// (their calibrated ratings in a board-game run; in a language-model run the base model at 0),
/// and a table of the same.
fn ratings_section(
    summaries: &[GenerationSummary],
    calibration: Option<&crate::evolve::anchors::Calibration>,
) -> String {
    let champion = Series {
        name: "champion".into(),
        points: summaries.iter().map(|s| (s.generation as f64, s.champion_rating)).collect(),
        band: summaries.iter().map(|s| (s.generation as f64, s.champion_ci.0, s.champion_ci.1)).collect(),
    };
    let references: Vec<(String, f64)> = match calibration {
        Some(calibration) => calibration.anchors.iter().map(|a| (a.name.clone(), a.rating)).collect(),
        None => summaries
            .first()
            .map(|s| {
                s.champion_vs_anchors
                    .iter()
                    .filter_map(|(name, _)| {
                        s.ratings.iter().find(|r| &r.name == name).map(|r| (name.clone(), r.rating))
                    })
                    .collect()
            })
            .unwrap_or_default(),
    };
    let chart = LineChart {
        title: "The champion's rating (95% interval) against the fixed anchors".into(),
        x_label: "generation".into(),
        y_label: "rating (Elo)".into(),
        series: vec![champion],
        references,
        ..LineChart::default()
    };
    let anchors: Vec<String> =
        summaries.first().map(|s| s.champion_vs_anchors.iter().map(|(a, _)| a.clone()).collect()).unwrap_or_default();
    let mut header: Vec<String> = vec!["generation".into(), "champion".into(), "rating".into(), "95% interval".into()];
    header.extend(anchors.iter().map(|a| format!("vs {a}")));
    let rows: Vec<Vec<Cell>> = summaries
        .iter()
        .map(|s| {
            let mut row = vec![
                Cell::Number(s.generation.to_string()),
                Cell::Text(s.champion.clone()),
                Cell::Number(format!("{:+.0}", s.champion_rating)),
                Cell::Number(format!("[{:+.0}, {:+.0}]", s.champion_ci.0, s.champion_ci.1)),
            ];
            row.extend(anchors.iter().map(|a| {
                Cell::Number(
                    s.champion_vs_anchors
                        .iter()
                        .find(|(name, _)| name == a)
                        .map_or("—".into(), |(_, v)| format!("{:.0}%", 100.0 * v)),
                )
            }));
            row
        })
        .collect();
    let header: Vec<&str> = header.iter().map(String::as_str).collect();
    format!("{}{}", chart.to_svg(), table("ratings", &header, &rows))
}

/// A point of a measure (generation, value) and its interval, when it has one.
type BandedPoint = (f64, f64, Option<(f64, f64)>);

/// Where measured: the suite accuracy (raw and with search), the held-out accuracy, the judge's
/// accuracy and the forfeit rate against each held-out opponent, per generation.
fn measures_section(summaries: &[GenerationSummary]) -> Option<String> {
    let mut series: Vec<Series> = Vec::new();
    let mut push = |name: &str, points: Vec<BandedPoint>| {
        if !points.is_empty() {
            series.push(Series {
                name: name.into(),
                points: points.iter().map(|p| (p.0, p.1)).collect(),
                band: points.iter().filter_map(|p| p.2.map(|(low, high)| (p.0, low, high))).collect(),
            });
        }
    };
    let g = |s: &GenerationSummary| s.generation as f64;
    push(
        "suite, raw policy",
        summaries
            .iter()
            .filter_map(|s| {
                s.suite.as_ref().map(|a| (g(s), a.raw.optimal.share, Some((a.raw.optimal.low, a.raw.optimal.high))))
            })
            .collect(),
    );
    push(
        "suite, with search",
        summaries
            .iter()
            .filter_map(|s| {
                s.suite
                    .as_ref()
                    .map(|a| (g(s), a.search.optimal.share, Some((a.search.optimal.low, a.search.optimal.high))))
            })
            .collect(),
    );
    fn held_out(s: &GenerationSummary) -> Option<&crate::evolve::language::HeldOut> {
        s.language.as_ref().and_then(|l| l.held_out.as_ref())
    }
    push(
        "held-out accuracy",
        summaries
            .iter()
            .filter_map(|s| {
                held_out(s)
                    .and_then(|h| h.accuracy.as_ref())
                    .map(|a| (g(s), a.accuracy.share, Some((a.accuracy.low, a.accuracy.high))))
            })
            .collect(),
    );
    push(
        "judge accuracy",
        summaries
            .iter()
            .filter_map(|s| {
                held_out(s)
                    .and_then(|h| h.judge.as_ref())
                    .map(|j| (g(s), j.accuracy, Some((j.accuracy_low, j.accuracy_high))))
            })
            .collect(),
    );
    let opponents: Vec<String> = summaries
        .iter()
        .filter_map(held_out)
        .flat_map(|h| h.scores.iter().map(|score| score.opponent.clone()))
        .fold(Vec::new(), |mut all, o| {
            if !all.contains(&o) {
                all.push(o);
            }
            all
        });
    for opponent in &opponents {
        push(
            &format!("forfeits vs {opponent}"),
            summaries
                .iter()
                .filter_map(|s| {
                    held_out(s)
                        .and_then(|h| h.scores.iter().find(|score| &score.opponent == opponent))
                        .map(|score| (g(s), score.forfeit_rate(), None))
                })
                .collect(),
        );
    }
    if series.is_empty() {
        return None;
    }
    let chart = LineChart {
        title: "Accuracy and forfeits of each generation's champion (95% intervals)".into(),
        x_label: "generation".into(),
        y_label: "share".into(),
        series,
        y_range: Some((0.0, 1.0)),
        percent: true,
        ..LineChart::default()
    };
    Some(chart.to_svg())
}

/// The last generation's tournament: every agent with its rating, interval, games and score.
fn generation_standings(summary: &GenerationSummary) -> String {
    let mut ratings = summary.ratings.clone();
    ratings.sort_by(|a, b| b.rating.total_cmp(&a.rating));
    let rows: Vec<Vec<Cell>> = ratings
        .iter()
        .enumerate()
        .map(|(i, r)| {
            vec![
                Cell::Number((i + 1).to_string()),
                Cell::Text(r.name.clone()),
                Cell::Number(format!("{:+.0}", r.rating)),
                Cell::Number(format!("[{:+.0}, {:+.0}]", r.ci_low, r.ci_high)),
                Cell::Number(r.games.to_string()),
                Cell::Number(format!("{:.1}%", 100.0 * r.score)),
            ]
        })
        .collect();
    table("standings", &["rank", "agent", "rating", "95% interval", "games", "score"], &rows)
}

/// The lineage graph, each edge with its child's gate.
fn lineage_section(lineage: &Lineage) -> String {
    let nodes: Vec<svg::Node> = lineage
        .entries()
        .map(|entry| svg::Node {
            name: entry.name.clone(),
            generation: entry.generation,
            status: entry.status.as_str().to_string(),
            parents: lineage
                .parents(&entry.name)
                .into_iter()
                .map(|parent| {
                    let gate = entry.gate.as_ref().map_or("no gate".to_string(), |g| {
                        format!("{:.0}% of {} games, {}", 100.0 * g.score, g.games, g.decision)
                    });
                    let label = entry.gate.as_ref().map_or(String::new(), |g| format!("{:.0}%", 100.0 * g.score));
                    (parent.to_string(), gate, label)
                })
                .collect(),
        })
        .collect();
    format!(
        "<p class=\"muted\">Green: promoted by its gate; red, dashed: rejected. Hover an arrow for the gate.</p>{}",
        svg::lineage(&nodes)
    )
}

/// An in-context run's children: the operator that made each, what changed in its context (the
/// full diff folded under it) and its gate; then the mutation instructions and their record.
fn contexts_section(summaries: &[GenerationSummary]) -> Option<String> {
    let mut rows = Vec::new();
    for s in summaries {
        for c in s.language.iter().flat_map(|l| &l.contexts) {
            let gate = s.gates.iter().find(|g| g.child == c.child).map_or_else(
                || c.skipped.as_ref().map_or("—".to_string(), |r| format!("not made: {r}")),
                |g| {
                    format!(
                        "{:.0}% of {} games, {}",
                        100.0 * g.score,
                        g.games,
                        if g.promoted() { "promoted" } else { "rejected" }
                    )
                },
            );
            let diff = format!(
                "<details><summary>{}</summary><pre>{}</pre></details>",
                escape(&c.diff.summary()),
                escape(&c.diff.to_string())
            );
            rows.push(vec![
                Cell::Number(s.generation.to_string()),
                Cell::Text(c.child.clone()),
                Cell::Text(c.parent.clone()),
                Cell::Text(c.operator.as_str().to_string()),
                Cell::Html(diff),
                Cell::Text(gate),
            ]);
        }
    }
    if rows.is_empty() {
        return None;
    }
    let mut html = table("contexts", &["gen", "child", "parent", "operator", "context change", "gate"], &rows);
    if let Some(pool) = summaries.iter().rev().find_map(|s| s.language.as_ref().and_then(|l| l.pool.as_ref())) {
        let rows: Vec<Vec<Cell>> = pool
            .pool
            .iter()
            .map(|r| {
                vec![
                    Cell::Text(r.instruction.clone()),
                    Cell::Number(r.children.to_string()),
                    Cell::Number(format!("{:.2}", r.mean())),
                ]
            })
            .collect();
        html.push_str("<p class=\"muted\">Mutation instructions: the children each made and their mean gate score (one even gate as prior).</p>");
        html.push_str(&table("pool", &["instruction", "children", "mean gate"], &rows));
    }
    Some(html)
}

/// Per generation: the data, what the filters removed, the gates, training and flags; then where
/// the time went.
fn generations_section(summaries: &[GenerationSummary]) -> String {
    let rows: Vec<Vec<Cell>> = summaries
        .iter()
        .map(|s| {
            let data = match (&s.dataset, s.language.as_ref().and_then(|l| l.data.as_ref())) {
                (Some(d), _) => format!(
                    "{} positions from {} games; removed: {} duplicates merged, {} for seat balance, {} faults, {} at the move limit",
                    d.positions, d.games, d.duplicates_merged, d.dropped_for_seat_balance, d.dropped_faults, d.dropped_max_length
                ),
                (None, Some(d)) => {
                    let removed: Vec<String> =
                        d.filter.removed.iter().filter(|(_, n)| **n > 0).map(|(rule, n)| format!("{n} {}", rule.name())).collect();
                    format!(
                        "{} {} examples kept of {} written; {} texts checked, {} kept; removed: {}",
                        d.kept,
                        d.kind,
                        d.filter.written,
                        d.filter.total,
                        d.filter.kept,
                        if removed.is_empty() { "none".to_string() } else { removed.join(", ") }
                    )
                }
                (None, None) => "—".into(),
            };
            let gates: Vec<String> = s
                .gates
                .iter()
                .map(|g| {
                    format!(
                        "{} vs {}: {:.0}% of {} games, {} → {}",
                        g.child,
                        g.parent,
                        100.0 * g.score,
                        g.games,
                        g.decision,
                        if g.promoted() { "promoted" } else { "rejected" }
                    )
                })
                .collect();
            let mut training: Vec<String> = s
                .training
                .iter()
                .map(|(name, t)| {
                    format!(
                        "{name}: policy loss {:.3} → {:.3}, value loss {:.3} → {:.3} ({} positions)",
                        t.first_epoch_policy_loss, t.last_epoch_policy_loss, t.first_epoch_value_loss, t.last_epoch_value_loss, t.positions
                    )
                })
                .collect();
            if let Some(language) = &s.language {
                training.extend(language.training.iter().map(|t| {
                    format!("{}: loss {:.3} → {:.3} over {} steps ({} examples)", t.child, t.first_loss, t.last_loss, t.steps, t.examples)
                }));
            }
            let flags: Vec<String> = s.flags.iter().map(|f| format!("{}: {}", f.kind.as_str(), f.detail)).collect();
            vec![
                Cell::Number(s.generation.to_string()),
                Cell::Text(s.parents.join(", ")),
                Cell::Text(data),
                Cell::Text(if gates.is_empty() { "—".into() } else { gates.join("; ") }),
                Cell::Text(if training.is_empty() { "—".into() } else { training.join("; ") }),
                if flags.is_empty() {
                    Cell::Text("none".into())
                } else {
                    Cell::Html(format!("<span class=\"flag\">{}</span>", escape(&flags.join("; "))))
                },
            ]
        })
        .collect();
    let time: Vec<(String, Vec<(String, f64)>)> =
        summaries.iter().map(|s| (format!("gen {}", s.generation), s.seconds.clone())).collect();
    format!(
        "{}{}{}{}",
        table("generations", &["generation", "parents", "data", "gates", "training", "flags"], &rows),
        gate_traces(summaries),
        loss_curves(summaries),
        svg::stacked_bars("Where the time went", &time)
    )
}

/// Every gate's SPRT trace (the log-likelihood ratio after each batch of games) between the
/// test's bounds.
fn gate_traces(summaries: &[GenerationSummary]) -> String {
    let gates: Vec<&crate::evolve::GateResult> =
        summaries.iter().flat_map(|s| &s.gates).filter(|g| !g.trace.is_empty()).collect();
    let Some(bounds) = gates.iter().find_map(|g| g.bounds) else {
        return String::new();
    };
    let chart = LineChart {
        title: "Each gate's SPRT: log-likelihood ratio after each batch".into(),
        x_label: "gate games".into(),
        y_label: "LLR".into(),
        series: gates
            .iter()
            .map(|g| Series {
                name: format!("{} vs {}", g.child, g.parent),
                points: std::iter::once((0.0, 0.0))
                    .chain(g.trace.iter().map(|&(games, llr)| (games as f64, llr)))
                    .collect(),
                band: Vec::new(),
            })
            .collect(),
        references: vec![("accept H0".into(), bounds.0), ("accept H1".into(), bounds.1)],
        ..LineChart::default()
    };
    chart.to_svg()
}

/// Each child's training loss: per epoch for networks (policy and value), per step for language
/// models.
fn loss_curves(summaries: &[GenerationSummary]) -> String {
    let mut network = Vec::new();
    let mut language = Vec::new();
    for s in summaries {
        for (name, report) in &s.training {
            if !report.epoch_losses.is_empty() {
                let epochs = report.epoch_losses.iter().enumerate();
                network.push(Series {
                    name: format!("{name} policy"),
                    points: epochs.clone().map(|(e, l)| ((e + 1) as f64, l.0)).collect(),
                    band: Vec::new(),
                });
                network.push(Series {
                    name: format!("{name} value"),
                    points: epochs.map(|(e, l)| ((e + 1) as f64, l.1)).collect(),
                    band: Vec::new(),
                });
            }
        }
        for t in s.language.iter().flat_map(|l| &l.training) {
            if !t.loss_curve.is_empty() {
                language.push(Series {
                    name: t.child.clone(),
                    points: t.loss_curve.iter().map(|&(step, loss)| (step as f64, loss)).collect(),
                    band: Vec::new(),
                });
            }
        }
    }
    // Many children make many lines: the last six keep a chart readable.
    let chart = |title: &str, x_label: &str, mut series: Vec<Series>| {
        series.drain(..series.len().saturating_sub(6));
        if series.is_empty() {
            return String::new();
        }
        LineChart {
            title: title.into(),
            x_label: x_label.into(),
            y_label: "loss".into(),
            series,
            ..LineChart::default()
        }
        .to_svg()
    };
    chart("Training loss per epoch (the last children)", "epoch", network)
        + &chart("Fine-tuning loss per step (the last children)", "step", language)
}
