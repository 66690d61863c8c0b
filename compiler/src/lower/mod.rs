//! Lowering of a checked model to AWS artifacts (placeholder until its owner lands it).
