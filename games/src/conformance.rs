//! Placeholder for the conformance kit.
