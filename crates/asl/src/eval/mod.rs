//! The value-computing half of the Amazon States Language, JSONPath query language.
//!
//! Everything here is parsed once, when a definition is loaded, and evaluated many times
//! by the engine; evaluation never re-parses text.
//!
//! * [`Path`]: `InputPath`, `OutputPath`, `ItemsPath`, the values of `.$` keys, a Choice
//!   `Variable`: a JSONPath (RFC 9535 through `serde_json_path`, with Jayway-style dotted
//!   names) over the state input (`$`), the context object (`$$`) or a variable
//!   (`$name`, set by `Assign`; [`Roots`] says where each comes from). Paths made only of
//!   names and indices are *definite* and walk the value directly; any other path is
//!   *indefinite* and always yields an array of its matches, as Step Functions does.
//! * [`ReferencePath`]: `ResultPath`: a definite path that says where to insert a value.
//! * [`PayloadTemplate`]: `Parameters`, `ResultSelector`, `ItemSelector`: objects whose
//!   keys ending in `.$` hold a path or an intrinsic function call.
//! * [`Intrinsic`]: an intrinsic function call such as `States.Format('x {}', $.a)`;
//!   randomness and UUIDs come from an injected [`IntrinsicEnv`] so runs are repeatable.
//!
//! Errors: [`DefinitionError`] at load time (unsupported or malformed text);
//! [`RuntimeError`] at evaluation time, carrying the error name and the cause text that
//! AWS records. The cause is the part after AWS's prefix `An error occurred while
//! executing the state 'NAME' (entered at the event id #N). `, which only the engine
//! knows how to write (see `docs/asl-eval.md` for the table of names and causes).
//!
//! Left out: JSONata (a separate query language), applying `Assign` itself (the engine
//! evaluates it as a [`PayloadTemplate`] and keeps the variables), Jayway filter
//! extensions that RFC 9535 lacks (`=~`, `in`, `size`).
//!
//! Tests: unit tests next to the code, and `crates/asl/tests/eval_*.rs`, which replay the
//! conformance corpus (`tests/conformance`, results recorded on AWS).

mod error;
mod intrinsic;
mod path;
mod roots;
mod template;

pub use error::{DefinitionError, RuntimeError};
pub use intrinsic::{FixedEnv, Intrinsic, IntrinsicEnv};
pub use path::{Path, ReferencePath};
pub use roots::{Roots, Variables};
pub use template::PayloadTemplate;
