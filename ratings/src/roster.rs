//! Player names kept beside the dense indices `0..n` that every rating function works with.

use std::collections::HashMap;

/// Names of the players, interned to dense indices in order of first appearance.
#[derive(Debug, Clone, Default)]
pub struct Roster {
    names: Vec<String>,
    index: HashMap<String, usize>,
}

impl Roster {
    /// An empty roster.
    pub fn new() -> Self {
        Self::default()
    }

    /// The index of `name`, adding it as the next index when it is new.
    pub fn intern(&mut self, name: &str) -> usize {
        if let Some(&index) = self.index.get(name) {
            return index;
        }
        let index = self.names.len();
        self.names.push(name.to_owned());
        self.index.insert(name.to_owned(), index);
        index
    }

    /// The index of `name`, if it is on the roster.
    pub fn get(&self, name: &str) -> Option<usize> {
        self.index.get(name).copied()
    }

    /// The name of player `index`, if there is such a player.
    pub fn name(&self, index: usize) -> Option<&str> {
        self.names.get(index).map(String::as_str)
    }

    /// All names, by index.
    pub fn names(&self) -> &[String] {
        &self.names
    }

    /// The number of players.
    pub fn len(&self) -> usize {
        self.names.len()
    }

    /// Whether the roster has no players.
    pub fn is_empty(&self) -> bool {
        self.names.is_empty()
    }
}

impl<S: AsRef<str>> FromIterator<S> for Roster {
    fn from_iter<I: IntoIterator<Item = S>>(names: I) -> Self {
        let mut roster = Self::new();
        for name in names {
            roster.intern(name.as_ref());
        }
        roster
    }
}
