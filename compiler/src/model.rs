//! The resolved, checked workflow (placeholder until its owner lands it).
