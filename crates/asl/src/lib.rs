//! Amazon States Language (JSONPath query language) for approvalc.
//!
//! * [`model`]: a typed model of ASL definitions that serialises to canonical JSON; the
//!   compiler builds values of these types and never writes ASL JSON by hand.
//! * [`eval`]: the pieces of ASL that compute values (reference paths, payload templates
//!   with `.$` keys, intrinsic functions, the context object), shared by the engine and by
//!   the compiler's own checks of what it emits.

pub mod eval;
pub mod model;
