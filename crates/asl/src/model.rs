//! Typed ASL model (placeholder until its owner lands it).
