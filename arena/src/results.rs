//! Reading results files (placeholder).
