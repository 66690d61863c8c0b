//! Did-you-mean suggestions: the compiler's checks suggest exactly as the parser does, so
//! the one implementation (and its threshold) lives in `approvalc_dsl::suggest`.

pub use approvalc_dsl::suggest::{did_you_mean as closest, help};
