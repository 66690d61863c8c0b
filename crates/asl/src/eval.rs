//! ASL value computation (placeholder until its owner lands it).
