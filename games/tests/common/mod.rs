//! Helpers for the games tests: loading games and the published facts in `testdata/`.
#![allow(dead_code)] // each test binary uses its own subset

use std::path::PathBuf;

use games::{GameRef, load_game};

/// Loads a game, failing the test with the error's text.
pub fn game(spec: &str) -> GameRef {
    load_game(spec).unwrap_or_else(|e| panic!("{spec}: {e}"))
}

/// Reads `testdata/NAME` (facts copied from published sources; each file names its sources).
pub fn testdata(name: &str) -> serde_json::Value {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("testdata").join(name);
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    serde_json::from_str(&text).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

/// A JSON array of integers.
pub fn u64s(value: &serde_json::Value) -> Vec<u64> {
    value
        .as_array()
        .unwrap_or_else(|| panic!("expected an array: {value}"))
        .iter()
        .map(|v| v.as_u64().unwrap_or_else(|| panic!("expected an integer: {v}")))
        .collect()
}
