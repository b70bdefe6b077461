//! `arena games`, `arena perft`, `arena show`, `arena check` (placeholder).
