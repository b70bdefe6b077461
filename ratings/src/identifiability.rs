//! Which players the results can rate: a Bradley–Terry maximum likelihood estimate is finite and
//! unique exactly when the players are connected by games and, for every split of them into two
//! groups, each group scored at least once against the other (Zermelo; Ford 1957; Hunter 2004).
//!
//! Anchored players have fixed ratings, so they are merged into one node before the checks.

use crate::pair_counts::PairCounts;
use crate::{Error, PlayerList, Result};

/// Checks that `counts` determine finite ratings for all players, given the `anchored` players
/// (which may be empty: then the ratings are determined up to a common shift).
pub(crate) fn check(counts: &PairCounts, anchored: &[usize]) -> Result<()> {
    let n = counts.players();
    if n == 0 {
        return Err(Error::NoGames);
    }
    // Group ids: all anchored players share group 0 when there are any.
    let mut group = vec![usize::MAX; n];
    let mut groups = 0;
    if !anchored.is_empty() {
        for &a in anchored {
            group[a] = 0;
        }
        groups = 1;
    }
    for g in group.iter_mut().filter(|g| **g == usize::MAX) {
        *g = groups;
        groups += 1;
    }
    let anchor_group = (!anchored.is_empty()).then_some(0);
    let members = |g: usize| -> Vec<usize> { (0..n).filter(|&p| group[p] == g).collect() };

    // Directed edges between groups: u -> v when u scored against v.
    let mut out_edges = vec![Vec::new(); groups];
    let mut in_edges = vec![Vec::new(); groups];
    for pair in counts.pooled_pairs() {
        let (gi, gj) = (group[pair.i], group[pair.j]);
        if gi == gj {
            continue;
        }
        if pair.score_i() > 0.0 {
            out_edges[gi].push(gj);
            in_edges[gj].push(gi);
        }
        if pair.score_j() > 0.0 {
            out_edges[gj].push(gi);
            in_edges[gi].push(gj);
        }
    }

    // Connectivity (ignoring direction).
    let component = undirected_components(&out_edges, &in_edges);
    let components = component.iter().max().map_or(0, |&c| c + 1);
    if components > 1 {
        let size = |c: usize| -> usize { (0..n).filter(|&p| component[group[p]] == c).count() };
        let (reference_component, reference) = match anchor_group {
            Some(a) => (component[a], "the anchored players".to_owned()),
            None => {
                // The largest component; ties go to the one holding the lowest index.
                let best = (0..components).max_by_key(|&c| (size(c), std::cmp::Reverse(c))).unwrap_or(0);
                (best, format!("the largest connected group ({} players)", size(best)))
            }
        };
        let players = (0..n).filter(|&p| component[group[p]] != reference_component).collect();
        return Err(Error::Disconnected { players: PlayerList::new(players), reference });
    }

    // Strong connectivity of "scored against".
    let scc = strongly_connected_components(&out_edges, &in_edges);
    let count = scc.iter().max().map_or(0, |&c| c + 1);
    if count <= 1 {
        return Ok(());
    }
    let mut has_in = vec![false; count];
    let mut has_out = vec![false; count];
    for (u, targets) in out_edges.iter().enumerate() {
        for &v in targets {
            if scc[u] != scc[v] {
                has_out[scc[u]] = true;
                has_in[scc[v]] = true;
            }
        }
    }
    let players_of = |c: usize| -> Vec<usize> { (0..groups).filter(|&g| scc[g] == c).flat_map(members).collect() };
    let anchored_scc = anchor_group.map(|a| scc[a]);
    let candidate = (0..count)
        .filter(|&c| Some(c) != anchored_scc && (!has_in[c] || !has_out[c]))
        .map(|c| {
            let players = players_of(c);
            let first = players.iter().copied().min().unwrap_or(usize::MAX);
            (players.len(), first, c)
        })
        .min();
    match candidate {
        Some((_, _, c)) => Err(Error::Unbounded { players: PlayerList::new(players_of(c)), won: !has_in[c] }),
        // Unreachable for a connected graph with two or more components, but stay safe.
        None => Ok(()),
    }
}

/// Component id per node of the undirected graph made of both edge lists.
fn undirected_components(out_edges: &[Vec<usize>], in_edges: &[Vec<usize>]) -> Vec<usize> {
    let m = out_edges.len();
    let mut component = vec![usize::MAX; m];
    let mut next = 0;
    let mut stack = Vec::new();
    for start in 0..m {
        if component[start] != usize::MAX {
            continue;
        }
        component[start] = next;
        stack.push(start);
        while let Some(u) = stack.pop() {
            for &v in out_edges[u].iter().chain(&in_edges[u]) {
                if component[v] == usize::MAX {
                    component[v] = next;
                    stack.push(v);
                }
            }
        }
        next += 1;
    }
    component
}

/// Strongly connected component id per node (Kosaraju, iterative).
fn strongly_connected_components(out_edges: &[Vec<usize>], in_edges: &[Vec<usize>]) -> Vec<usize> {
    let m = out_edges.len();
    let mut visited = vec![false; m];
    let mut order = Vec::with_capacity(m);
    for start in 0..m {
        if visited[start] {
            continue;
        }
        visited[start] = true;
        let mut stack = vec![(start, 0usize)];
        while let Some(&mut (u, ref mut next)) = stack.last_mut() {
            if let Some(&v) = out_edges[u].get(*next) {
                *next += 1;
                if !visited[v] {
                    visited[v] = true;
                    stack.push((v, 0));
                }
            } else {
                order.push(u);
                stack.pop();
            }
        }
    }
    let mut component = vec![usize::MAX; m];
    let mut next = 0;
    for &start in order.iter().rev() {
        if component[start] != usize::MAX {
            continue;
        }
        component[start] = next;
        let mut stack = vec![start];
        while let Some(u) = stack.pop() {
            for &v in &in_edges[u] {
                if component[v] == usize::MAX {
                    component[v] = next;
                    stack.push(v);
                }
            }
        }
        next += 1;
    }
    component
}
