//! `{{ ... }}` string templates (owned by the checks work; placeholder).
