//! `when:` condition expressions (owned by the checks work; placeholder).
