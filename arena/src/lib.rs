//! The Arena engine: commands behind the `arena` binary.
