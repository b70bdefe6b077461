//! The report's plots as inline SVG written here (no plotting crate: a few hundred lines give
//! exactly the charts the report needs, and the page needs no script to draw them): line charts
//! with interval bands and reference lines, a heatmap, stacked bars and the lineage graph. Every
//! text that reaches the SVG goes through [`escape`].

use std::fmt::Write as _;

use super::html::escape;

/// Colours for series, in order (colour-blind safe: the Okabe–Ito palette).
pub const PALETTE: [&str; 8] = ["#0072B2", "#D55E00", "#009E73", "#CC79A7", "#E69F00", "#56B4E9", "#F0E442", "#000000"];

/// One line of a chart, with an optional interval band around it.
#[derive(Clone, Debug, Default)]
pub struct Series {
    pub name: String,
    /// (x, y) in x order.
    pub points: Vec<(f64, f64)>,
    /// (x, low, high) in x order: a shaded band.
    pub band: Vec<(f64, f64, f64)>,
}

/// A line chart over generations (or steps).
#[derive(Clone, Debug, Default)]
pub struct LineChart {
    pub title: String,
    pub x_label: String,
    pub y_label: String,
    pub series: Vec<Series>,
    /// Horizontal reference lines (name, y): fixed anchors, thresholds.
    pub references: Vec<(String, f64)>,
    /// The y axis's range where it is known (shares: 0 to 1); otherwise it fits the data.
    pub y_range: Option<(f64, f64)>,
    /// Values shown as percentages.
    pub percent: bool,
}

const WIDTH: f64 = 720.0;
const HEIGHT: f64 = 300.0;
const LEFT: f64 = 64.0;
const RIGHT: f64 = 150.0;
const TOP: f64 = 30.0;
const BOTTOM: f64 = 44.0;

/// Round tick positions covering `low..=high`: steps of 1, 2 or 5 times a power of ten.
pub fn ticks(low: f64, high: f64, most: usize) -> Vec<f64> {
    if !(low.is_finite() && high.is_finite()) || high <= low {
        return vec![low];
    }
    let rough = (high - low) / most.max(1) as f64;
    let power = 10f64.powf(rough.log10().floor());
    let step = [1.0, 2.0, 5.0, 10.0].iter().map(|m| m * power).find(|s| *s >= rough).unwrap_or(10.0 * power);
    let first = (low / step).ceil() as i64;
    let last = (high / step).floor() as i64;
    (first..=last).map(|k| k as f64 * step).collect()
}

fn format_value(value: f64, percent: bool) -> String {
    if percent {
        format!("{:.0}%", 100.0 * value)
    } else if value.abs() >= 100.0 || value.fract() == 0.0 {
        format!("{value:.0}")
    } else {
        format!("{value:.2}")
    }
}

impl LineChart {
    /// The chart as an `<svg>` element; a chart without a finite point says so instead.
    pub fn to_svg(&self) -> String {
        let finite = |v: &f64| v.is_finite();
        let xs: Vec<f64> = self.series.iter().flat_map(|s| s.points.iter().map(|p| p.0)).filter(finite).collect();
        let mut ys: Vec<f64> = self
            .series
            .iter()
            .flat_map(|s| s.points.iter().map(|p| p.1).chain(s.band.iter().flat_map(|b| [b.1, b.2])))
            .chain(self.references.iter().map(|r| r.1))
            .filter(finite)
            .collect();
        if xs.is_empty() || ys.is_empty() {
            return format!("<p class=\"empty\">{}: nothing measured.</p>", escape(&self.title));
        }
        let (mut x_low, mut x_high) = min_max(&xs);
        if x_high == x_low {
            x_low -= 1.0;
            x_high += 1.0;
        }
        let (y_low, y_high) = match self.y_range {
            Some(range) => range,
            None => {
                ys.sort_by(f64::total_cmp);
                let (low, high) = min_max(&ys);
                let pad = ((high - low) * 0.08).max(if high == low { 1.0 } else { 0.0 });
                (low - pad, high + pad)
            }
        };
        let plot_w = WIDTH - LEFT - RIGHT;
        let plot_h = HEIGHT - TOP - BOTTOM;
        let sx = |x: f64| LEFT + (x - x_low) / (x_high - x_low) * plot_w;
        let sy = |y: f64| TOP + (1.0 - (y.clamp(y_low, y_high) - y_low) / (y_high - y_low)) * plot_h;
        let mut svg = String::new();
        let _ = write!(
            svg,
            "<svg class=\"chart\" viewBox=\"0 0 {WIDTH} {HEIGHT}\" width=\"{WIDTH}\" height=\"{HEIGHT}\" role=\"img\" aria-label=\"{}\">",
            escape(&self.title)
        );
        let _ = write!(svg, "<text class=\"title\" x=\"{LEFT}\" y=\"18\">{}</text>", escape(&self.title));
        // Axes and grid.
        for y in ticks(y_low, y_high, 5) {
            let py = sy(y);
            let _ = write!(
                svg,
                "<line class=\"grid\" x1=\"{LEFT}\" x2=\"{:.1}\" y1=\"{py:.1}\" y2=\"{py:.1}\"/><text class=\"tick\" x=\"{:.1}\" y=\"{:.1}\" text-anchor=\"end\">{}</text>",
                LEFT + plot_w,
                LEFT - 6.0,
                py + 4.0,
                format_value(y, self.percent)
            );
        }
        // Generations are whole numbers: so are their ticks.
        let whole = xs.iter().all(|x| x.fract() == 0.0);
        let mut x_ticks = ticks(x_low, x_high, 10);
        if whole {
            x_ticks.retain(|x| x.fract() == 0.0);
            if x_ticks.len() < 2 {
                x_ticks = (x_low.ceil() as i64..=x_high.floor() as i64).map(|x| x as f64).collect();
            }
        }
        for x in x_ticks {
            let px = sx(x);
            let _ = write!(
                svg,
                "<text class=\"tick\" x=\"{px:.1}\" y=\"{:.1}\" text-anchor=\"middle\">{}</text>",
                TOP + plot_h + 16.0,
                format_value(x, false)
            );
        }
        let _ = write!(
            svg,
            "<line class=\"axis\" x1=\"{LEFT}\" x2=\"{LEFT}\" y1=\"{TOP}\" y2=\"{:.1}\"/><line class=\"axis\" x1=\"{LEFT}\" x2=\"{:.1}\" y1=\"{:.1}\" y2=\"{:.1}\"/>",
            TOP + plot_h,
            LEFT + plot_w,
            TOP + plot_h,
            TOP + plot_h
        );
        let _ = write!(
            svg,
            "<text class=\"label\" x=\"{:.1}\" y=\"{:.1}\" text-anchor=\"middle\">{}</text>",
            LEFT + plot_w / 2.0,
            HEIGHT - 6.0,
            escape(&self.x_label)
        );
        let _ = write!(
            svg,
            "<text class=\"label\" transform=\"translate(14 {:.1}) rotate(-90)\" text-anchor=\"middle\">{}</text>",
            TOP + plot_h / 2.0,
            escape(&self.y_label)
        );
        for (name, y) in &self.references {
            if !y.is_finite() {
                continue;
            }
            let py = sy(*y);
            let _ = write!(
                svg,
                "<g class=\"reference\"><title>{} {}</title><line x1=\"{LEFT}\" x2=\"{:.1}\" y1=\"{py:.1}\" y2=\"{py:.1}\"/><text x=\"{:.1}\" y=\"{:.1}\" text-anchor=\"end\">{}</text></g>",
                escape(name),
                format_value(*y, self.percent),
                LEFT + plot_w,
                LEFT + plot_w - 4.0,
                py - 4.0,
                escape(name)
            );
        }
        for (k, series) in self.series.iter().enumerate() {
            let color = PALETTE[k % PALETTE.len()];
            let band: Vec<&(f64, f64, f64)> =
                series.band.iter().filter(|b| b.0.is_finite() && b.1.is_finite() && b.2.is_finite()).collect();
            if band.len() > 1 {
                let upper: Vec<String> = band.iter().map(|b| format!("{:.1},{:.1}", sx(b.0), sy(b.2))).collect();
                let lower: Vec<String> = band.iter().rev().map(|b| format!("{:.1},{:.1}", sx(b.0), sy(b.1))).collect();
                let _ = write!(
                    svg,
                    "<polygon class=\"band\" fill=\"{color}\" points=\"{} {}\"/>",
                    upper.join(" "),
                    lower.join(" ")
                );
            }
            let points: Vec<&(f64, f64)> =
                series.points.iter().filter(|p| p.0.is_finite() && p.1.is_finite()).collect();
            let path: Vec<String> = points.iter().map(|p| format!("{:.1},{:.1}", sx(p.0), sy(p.1))).collect();
            let _ = write!(
                svg,
                "<g class=\"series\"><polyline fill=\"none\" stroke=\"{color}\" stroke-width=\"2\" points=\"{}\"/>",
                path.join(" ")
            );
            for p in &points {
                let interval = band
                    .iter()
                    .find(|b| b.0 == p.0)
                    .map(|b| format!(" [{}, {}]", format_value(b.1, self.percent), format_value(b.2, self.percent)))
                    .unwrap_or_default();
                let _ = write!(
                    svg,
                    "<circle cx=\"{:.1}\" cy=\"{:.1}\" r=\"3\" fill=\"{color}\"><title>{} at {}: {}{}</title></circle>",
                    sx(p.0),
                    sy(p.1),
                    escape(&series.name),
                    format_value(p.0, false),
                    format_value(p.1, self.percent),
                    interval
                );
            }
            let _ = write!(
                svg,
                "</g><g class=\"legend\"><rect x=\"{:.1}\" y=\"{:.1}\" width=\"12\" height=\"3\" fill=\"{color}\"/><text x=\"{:.1}\" y=\"{:.1}\">{}</text></g>",
                LEFT + plot_w + 4.0,
                TOP + 10.0 + 16.0 * k as f64 - 2.0,
                LEFT + plot_w + 20.0,
                TOP + 10.0 + 16.0 * k as f64 + 2.0,
                escape(&series.name)
            );
        }
        svg.push_str("</svg>");
        svg
    }
}

fn min_max(values: &[f64]) -> (f64, f64) {
    values.iter().fold((f64::INFINITY, f64::NEG_INFINITY), |(lo, hi), &v| (lo.min(v), hi.max(v)))
}

/// One cell of a crosstable: the row's points against the column and the games between them.
#[derive(Clone, Copy, Debug, PartialEq, serde::Serialize)]
pub struct Cell {
    pub points: f64,
    pub games: u64,
}

/// A crosstable heatmap: the row's score against the column, red (0) through white to blue (1),
/// with the score and games on hover.
pub fn heatmap(names: &[String], cells: &[Vec<Option<Cell>>]) -> String {
    if names.is_empty() {
        return "<p class=\"empty\">No games.</p>".to_string();
    }
    let size = 34.0;
    let label = 170.0;
    let n = names.len() as f64;
    // Room on the right for the last column's slanted label.
    let (width, height) = (label + n * size + 140.0, label + n * size + 10.0);
    let mut svg = String::new();
    let _ = write!(
        svg,
        "<svg class=\"heatmap\" viewBox=\"0 0 {width} {height}\" width=\"{width}\" height=\"{height}\" role=\"img\" aria-label=\"crosstable\">"
    );
    for (i, name) in names.iter().enumerate() {
        let y = label + i as f64 * size + size / 2.0 + 4.0;
        let x = label + i as f64 * size + size / 2.0;
        let _ = write!(
            svg,
            "<text class=\"tick\" x=\"{:.1}\" y=\"{y:.1}\" text-anchor=\"end\">{}</text><text class=\"tick\" transform=\"translate({x:.1} {:.1}) rotate(-60)\">{}</text>",
            label - 6.0,
            escape(&short(name)),
            label - 6.0,
            escape(&short(name))
        );
    }
    for (i, row) in cells.iter().enumerate() {
        for (j, cell) in row.iter().enumerate() {
            let (x, y) = (label + j as f64 * size, label + i as f64 * size);
            let Some(cell) = cell.filter(|c| c.games > 0) else {
                let _ = write!(
                    svg,
                    "<rect class=\"nogames\" x=\"{x:.1}\" y=\"{y:.1}\" width=\"{size}\" height=\"{size}\"/>"
                );
                continue;
            };
            let score = cell.points / cell.games as f64;
            let _ = write!(
                svg,
                "<g class=\"cell\"><title>{} against {}: {:.0}% of {} games</title><rect x=\"{x:.1}\" y=\"{y:.1}\" width=\"{size}\" height=\"{size}\" fill=\"{}\"/><text x=\"{:.1}\" y=\"{:.1}\" text-anchor=\"middle\">{:.0}</text></g>",
                escape(&names[i]),
                escape(&names[j]),
                100.0 * score,
                cell.games,
                diverging(score),
                x + size / 2.0,
                y + size / 2.0 + 4.0,
                100.0 * score
            );
        }
    }
    svg.push_str("</svg>");
    svg
}

/// A long name cut for an axis label (the full name is in the hover text).
fn short(name: &str) -> String {
    if name.chars().count() <= 24 { name.to_string() } else { name.chars().take(23).collect::<String>() + "…" }
}

/// Red (0) through white (0.5) to blue (1).
fn diverging(share: f64) -> String {
    let t = share.clamp(0.0, 1.0);
    let (from, to, s) = if t < 0.5 {
        ((214, 96, 77), (247, 247, 247), t / 0.5)
    } else {
        ((247, 247, 247), (67, 147, 195), (t - 0.5) / 0.5)
    };
    let mix = |a: i32, b: i32| (a as f64 + (b - a) as f64 * s).round() as i32;
    format!("rgb({},{},{})", mix(from.0, to.0), mix(from.1, to.1), mix(from.2, to.2))
}

/// Horizontal stacked bars: per row (a generation), the seconds of each part (a step).
pub fn stacked_bars(title: &str, rows: &[(String, Vec<(String, f64)>)]) -> String {
    let parts: Vec<String> = {
        let mut parts: Vec<String> = Vec::new();
        for (_, segments) in rows {
            for (name, _) in segments {
                if !parts.contains(name) {
                    parts.push(name.clone());
                }
            }
        }
        parts
    };
    let total = rows.iter().map(|(_, s)| s.iter().map(|p| p.1.max(0.0)).sum::<f64>()).fold(0.0, f64::max);
    if rows.is_empty() || total <= 0.0 {
        return format!("<p class=\"empty\">{}: nothing recorded.</p>", escape(title));
    }
    let bar = 18.0;
    let (label, plot) = (60.0, 520.0);
    let height = TOP + rows.len() as f64 * (bar + 6.0) + 30.0;
    let mut svg = String::new();
    let _ = write!(
        svg,
        "<svg class=\"bars\" viewBox=\"0 0 {WIDTH} {height:.0}\" width=\"{WIDTH}\" height=\"{height:.0}\" role=\"img\" aria-label=\"{}\"><text class=\"title\" x=\"{label}\" y=\"18\">{}</text>",
        escape(title),
        escape(title)
    );
    for (r, (name, segments)) in rows.iter().enumerate() {
        let y = TOP + r as f64 * (bar + 6.0);
        let _ = write!(
            svg,
            "<text class=\"tick\" x=\"{:.1}\" y=\"{:.1}\" text-anchor=\"end\">{}</text>",
            label - 6.0,
            y + bar - 5.0,
            escape(name)
        );
        let mut x = label;
        for (part, seconds) in segments {
            let w = seconds.max(0.0) / total * plot;
            let color = PALETTE[parts.iter().position(|p| p == part).unwrap_or(0) % PALETTE.len()];
            let _ = write!(
                svg,
                "<rect x=\"{x:.1}\" y=\"{y:.1}\" width=\"{w:.1}\" height=\"{bar}\" fill=\"{color}\"><title>{}: {} {:.1} s</title></rect>",
                escape(name),
                escape(part),
                seconds
            );
            x += w;
        }
        let seconds: f64 = segments.iter().map(|p| p.1).sum();
        let _ =
            write!(svg, "<text class=\"tick\" x=\"{:.1}\" y=\"{:.1}\">{seconds:.1} s</text>", x + 4.0, y + bar - 5.0);
    }
    for (k, part) in parts.iter().enumerate() {
        let x = label + plot + 56.0;
        let y = TOP + 16.0 * k as f64;
        let _ = write!(
            svg,
            "<rect x=\"{x:.1}\" y=\"{y:.1}\" width=\"10\" height=\"10\" fill=\"{}\"/><text class=\"tick\" x=\"{:.1}\" y=\"{:.1}\">{}</text>",
            PALETTE[k % PALETTE.len()],
            x + 14.0,
            y + 9.0,
            escape(part)
        );
    }
    svg.push_str("</svg>");
    svg
}

/// One checkpoint of the lineage graph.
#[derive(Clone, Debug, PartialEq)]
pub struct Node {
    pub name: String,
    pub generation: u32,
    /// `initial`, `promoted` or `rejected`.
    pub status: String,
    /// Each parent with the gate on the edge from it: its full text (on hover) and a short label
    /// drawn on the edge (the child's score).
    pub parents: Vec<(String, String, String)>,
}

/// The lineage graph: one column per generation, an arrow from each parent to its child labelled
/// with the gate's result (on hover and in a short label), promoted children green, rejected red.
pub fn lineage(nodes: &[Node]) -> String {
    if nodes.is_empty() {
        return "<p class=\"empty\">No lineage.</p>".to_string();
    }
    let (column, row) = (120.0, 54.0);
    let generations = nodes.iter().map(|n| n.generation).max().unwrap_or(0) as usize + 1;
    let mut rows_in = vec![0usize; generations];
    let mut at: Vec<(f64, f64)> = Vec::with_capacity(nodes.len());
    for node in nodes {
        let g = node.generation as usize;
        at.push((40.0 + g as f64 * column, 30.0 + rows_in[g] as f64 * row));
        rows_in[g] += 1;
    }
    let most = rows_in.iter().copied().max().unwrap_or(1) as f64;
    let (width, height) = (80.0 + generations as f64 * column, 50.0 + most * row);
    let mut svg = String::new();
    let _ = write!(
        svg,
        "<svg class=\"lineage\" viewBox=\"0 0 {width:.0} {height:.0}\" width=\"{width:.0}\" height=\"{height:.0}\" role=\"img\" aria-label=\"lineage\"><defs><marker id=\"arrow\" viewBox=\"0 0 10 10\" refX=\"10\" refY=\"5\" markerWidth=\"6\" markerHeight=\"6\" orient=\"auto-start-reverse\"><path d=\"M 0 0 L 10 5 L 0 10 z\"/></marker></defs>"
    );
    for (i, node) in nodes.iter().enumerate() {
        for (parent, gate, label) in &node.parents {
            let Some(p) = nodes.iter().position(|n| &n.name == parent) else { continue };
            let ((x1, y1), (x2, y2)) = (at[p], at[i]);
            let _ = write!(
                svg,
                "<g class=\"edge {}\"><title>{} → {}: {}</title><line x1=\"{:.1}\" y1=\"{y1:.1}\" x2=\"{:.1}\" y2=\"{y2:.1}\" marker-end=\"url(#arrow)\"/><text class=\"edge-label\" x=\"{:.1}\" y=\"{:.1}\" text-anchor=\"middle\">{}</text></g>",
                status_class(&node.status),
                escape(parent),
                escape(&node.name),
                escape(gate),
                x1 + 30.0,
                x2 - 32.0,
                (x1 + x2) / 2.0,
                (y1 + y2) / 2.0 - 5.0,
                escape(label)
            );
        }
    }
    for (node, (x, y)) in nodes.iter().zip(&at) {
        let _ = write!(
            svg,
            "<g class=\"node {}\"><title>{} (generation {}, {})</title><rect x=\"{:.1}\" y=\"{:.1}\" width=\"60\" height=\"26\" rx=\"6\"/><text x=\"{x:.1}\" y=\"{:.1}\" text-anchor=\"middle\">{}</text></g>",
            status_class(&node.status),
            escape(&node.name),
            node.generation,
            escape(&node.status),
            x - 30.0,
            y - 13.0,
            y + 4.0,
            escape(&short(&node.name))
        );
    }
    svg.push_str("</svg>");
    svg
}

fn status_class(status: &str) -> &'static str {
    match status {
        "promoted" => "promoted",
        "rejected" => "rejected",
        _ => "initial",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ticks_are_round_and_cover_the_range() {
        assert_eq!(ticks(0.0, 1.0, 5), vec![0.0, 0.2, 0.4, 0.6000000000000001, 0.8, 1.0]);
        assert_eq!(ticks(-130.0, 1720.0, 5), vec![0.0, 500.0, 1000.0, 1500.0]);
        assert_eq!(ticks(1.0, 11.0, 10), (1..=11).map(f64::from).collect::<Vec<_>>());
    }

    #[test]
    fn every_text_in_a_chart_is_escaped() {
        let planted = "<script>alert(1)</script>\" onload=\"alert(2)";
        let chart = LineChart {
            title: planted.into(),
            x_label: planted.into(),
            y_label: planted.into(),
            series: vec![Series {
                name: planted.into(),
                points: vec![(1.0, 2.0), (2.0, 3.0)],
                band: vec![(1.0, 1.0, 3.0), (2.0, 2.0, 4.0)],
            }],
            references: vec![(planted.into(), 2.5)],
            ..LineChart::default()
        };
        let names = vec![planted.to_string(), "b".to_string()];
        let cells =
            vec![vec![None, Some(Cell { points: 1.0, games: 2 })], vec![Some(Cell { points: 1.0, games: 2 }), None]];
        let node = |name: &str, generation, parents: Vec<(String, String, String)>| Node {
            name: name.into(),
            generation,
            status: planted.into(),
            parents,
        };
        let nodes =
            vec![node(planted, 0, vec![]), node("c", 1, vec![(planted.into(), planted.into(), planted.into())])];
        let rows = vec![(planted.to_string(), vec![(planted.to_string(), 2.0)])];
        for svg in [chart.to_svg(), heatmap(&names, &cells), lineage(&nodes), stacked_bars(planted, &rows)] {
            assert!(!svg.contains("<script") && !svg.contains("\" onload"), "{svg}");
            assert!(svg.contains("&lt;script&gt;") && svg.starts_with("<svg"), "{svg}");
        }
    }

    #[test]
    fn a_chart_without_data_says_so() {
        let chart = LineChart { title: "ratings".into(), series: vec![Series::default()], ..LineChart::default() };
        assert!(chart.to_svg().contains("nothing measured"));
    }

    #[test]
    fn the_heatmap_runs_from_red_to_blue() {
        assert_eq!(diverging(0.0), "rgb(214,96,77)");
        assert_eq!(diverging(0.5), "rgb(247,247,247)");
        assert_eq!(diverging(1.0), "rgb(67,147,195)");
    }
}
