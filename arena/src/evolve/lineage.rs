//! Lineage: every checkpoint of a run, its parents, the data it was trained on and its gate result,
//! as a petgraph graph kept with the run and exported as JSON and Graphviz DOT.

use std::fmt::Write as _;
use std::path::Path;

use crate::error::{Context, Result, bail, read_text};
use crate::store::CheckpointRow;
use petgraph::graph::{DiGraph, NodeIndex};
use petgraph::visit::EdgeRef;
use serde::{Deserialize, Serialize};

use super::summary::GateResult;

/// What became of a checkpoint (the store keeps the same).
pub use crate::store::CheckpointStatus as Status;

/// One checkpoint in the lineage.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Entry {
    pub name: String,
    pub generation: u32,
    /// Content hash of the weights.
    pub hash: String,
    /// The checkpoint directory, relative to the run directory.
    pub path: String,
    pub status: Status,
    /// The dataset the checkpoint was trained on, relative to the run directory.
    pub dataset: Option<String>,
    /// The gate match against the parent: score, games, and how it was decided.
    pub gate: Option<GateResult>,
    /// Language-model runs: the operator that made it (`finetune`, `experience`, `lessons`,
    /// `mutation`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub operator: Option<String>,
    /// What its context operator changed from its parent's context, in brief.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub context: Option<String>,
}

impl Entry {
    /// The store's row of this checkpoint.
    pub fn row(&self) -> CheckpointRow {
        CheckpointRow {
            name: self.name.clone(),
            generation: self.generation,
            hash: self.hash.clone(),
            path: self.path.clone(),
            status: self.status,
            dataset: self.dataset.clone(),
        }
    }
}

/// The lineage graph: an edge runs from a parent to each child trained from it.
#[derive(Clone, Debug, Default)]
pub struct Lineage {
    graph: DiGraph<Entry, ()>,
}

/// The JSON form: nodes and (parent, child) edges by node index.
#[derive(Serialize, Deserialize)]
struct Stored {
    nodes: Vec<Entry>,
    edges: Vec<(usize, usize)>,
}

impl Lineage {
    /// Adds a checkpoint with its parents (by name); returns its index.
    pub fn add(&mut self, entry: Entry, parents: &[&str]) -> NodeIndex {
        let parent_nodes: Vec<NodeIndex> = parents.iter().filter_map(|name| self.find(name)).collect();
        let node = self.graph.add_node(entry);
        for parent in parent_nodes {
            self.graph.add_edge(parent, node, ());
        }
        node
    }

    pub fn find(&self, name: &str) -> Option<NodeIndex> {
        self.graph.node_indices().find(|&i| self.graph[i].name == name)
    }

    pub fn entry(&self, name: &str) -> Option<&Entry> {
        self.find(name).map(|i| &self.graph[i])
    }

    /// Every checkpoint, in the order added.
    pub fn entries(&self) -> impl Iterator<Item = &Entry> {
        self.graph.node_weights()
    }

    /// The names of a checkpoint's parents.
    pub fn parents(&self, name: &str) -> Vec<&str> {
        let Some(node) = self.find(name) else { return Vec::new() };
        self.graph
            .neighbors_directed(node, petgraph::Direction::Incoming)
            .map(|p| self.graph[p].name.as_str())
            .collect()
    }

    pub fn to_json(&self) -> String {
        let stored = Stored {
            nodes: self.graph.node_weights().cloned().collect(),
            edges: self.graph.edge_references().map(|e| (e.source().index(), e.target().index())).collect(),
        };
        serde_json::to_string_pretty(&stored).unwrap_or_else(|e| unreachable!("a lineage always serializes: {e}"))
    }

    pub fn from_json(text: &str) -> Result<Lineage> {
        let stored: Stored = serde_json::from_str(text)?;
        let mut graph = DiGraph::new();
        let nodes: Vec<NodeIndex> = stored.nodes.into_iter().map(|n| graph.add_node(n)).collect();
        for (parent, child) in stored.edges {
            let (Some(&p), Some(&c)) = (nodes.get(parent), nodes.get(child)) else {
                bail!("edge ({parent}, {child}) names a node that does not exist");
            };
            graph.add_edge(p, c, ());
        }
        Ok(Lineage { graph })
    }

    /// Graphviz DOT: promoted checkpoints filled, rejected ones dashed.
    pub fn to_dot(&self) -> String {
        let mut dot = String::from("digraph lineage {\n  rankdir=LR;\n  node [shape=box, fontname=\"monospace\"];\n");
        for i in self.graph.node_indices() {
            let e = &self.graph[i];
            let style = match e.status {
                Status::Initial => "solid",
                Status::Promoted => "filled",
                Status::Rejected => "dashed",
                Status::Vetoed => "dotted",
            };
            let gate = e.gate.as_ref().map(|g| format!("\\ngate {:.0}%", 100.0 * g.score)).unwrap_or_default();
            let _ =
                writeln!(dot, "  n{} [label=\"{}\\ngen {}{gate}\", style={style}];", i.index(), e.name, e.generation);
        }
        for edge in self.graph.edge_references() {
            let _ = writeln!(dot, "  n{} -> n{};", edge.source().index(), edge.target().index());
        }
        dot.push_str("}\n");
        dot
    }

    /// Writes `lineage.json` and `lineage.dot` into `folder`.
    pub fn save(&self, folder: &Path) -> Result<()> {
        crate::files::write_atomically(&folder.join("lineage.json"), self.to_json().as_bytes())?;
        crate::files::write_atomically(&folder.join("lineage.dot"), self.to_dot().as_bytes())
    }

    /// Reads `lineage.json` from `folder` (an empty lineage if there is none yet).
    pub fn load(folder: &Path) -> Result<Lineage> {
        let path = folder.join("lineage.json");
        if !path.exists() {
            return Ok(Lineage::default());
        }
        let text = read_text(&path)?;
        Lineage::from_json(&text).with_context(|| format!("lineage {}", path.display()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn entry(name: &str, generation: u32, status: Status) -> Entry {
        Entry {
            name: name.into(),
            generation,
            hash: format!("h{name}"),
            path: name.into(),
            status,
            dataset: None,
            gate: None,
            operator: None,
            context: None,
        }
    }

    #[test]
    fn lineage_round_trips_and_exports_dot() {
        let mut lineage = Lineage::default();
        lineage.add(entry("g0", 0, Status::Initial), &[]);
        lineage.add(entry("g1a", 1, Status::Promoted), &["g0"]);
        lineage.add(entry("g1b", 1, Status::Rejected), &["g0"]);
        lineage.add(entry("g2", 2, Status::Promoted), &["g1a", "g1b"]);
        let again = Lineage::from_json(&lineage.to_json()).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(again.to_json(), lineage.to_json());
        let mut parents = again.parents("g2");
        parents.sort();
        assert_eq!(parents, ["g1a", "g1b"]);
        let dot = lineage.to_dot();
        assert!(dot.contains("n0 -> n1;") && dot.contains("style=dashed"), "{dot}");
        assert!(Lineage::from_json(r#"{"nodes": [], "edges": [[0, 1]]}"#).is_err());
    }
}
