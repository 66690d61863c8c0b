//! approvalc compiler: resolves and checks a parsed workflow into a [`model`], and lowers the
//! model to AWS artifacts ([`lower`]).
//!
//! (Crate doc to be completed by its owners.)

pub mod lower;
pub mod model;
