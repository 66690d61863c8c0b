//! Did-you-mean suggestions, in one place so every check suggests the same way.
//!
//! A candidate is suggested when its Jaro-Winkler similarity to the unknown name is at least
//! [`THRESHOLD`] (0.8: catches one or two typos and swapped letters in names of 4+ chars
//! without suggesting unrelated names), or when one is a case-insensitive match of the other.
//! The best candidate wins; ties keep the first in file order.

/// Minimum Jaro-Winkler similarity for a suggestion.
pub const THRESHOLD: f64 = 0.8;

/// The known name closest to `unknown`, if any is close enough.
pub fn closest<'a>(unknown: &str, known: impl IntoIterator<Item = &'a str>) -> Option<&'a str> {
    let mut best: Option<(f64, &str)> = None;
    for candidate in known {
        let score = if candidate.eq_ignore_ascii_case(unknown) {
            1.0
        } else {
            strsim::jaro_winkler(unknown, candidate)
        };
        if score >= THRESHOLD && best.is_none_or(|(b, _)| score > b) {
            best = Some((score, candidate));
        }
    }
    best.map(|(_, name)| name)
}

/// A help line: "did you mean `x`?" or a list of what exists.
pub fn help(unknown: &str, known: &[&str], what: &str) -> String {
    if let Some(name) = closest(unknown, known.iter().copied()) {
        return format!("did you mean `{name}`?");
    }
    match known {
        [] => format!("no {what} is declared"),
        _ if known.len() <= 8 => format!(
            "known {what}s: {}",
            known
                .iter()
                .map(|k| format!("`{k}`"))
                .collect::<Vec<_>>()
                .join(", ")
        ),
        _ => format!("`{unknown}` is not one of the {} {what}s", known.len()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn suggests_close_names_only() {
        let known = ["team-lead", "security", "prod-owner"];
        assert_eq!(closest("team-laed", known), Some("team-lead"));
        assert_eq!(closest("securty", known), Some("security"));
        assert_eq!(closest("Security", known), Some("security"));
        assert_eq!(closest("xyz", known), None);
        assert_eq!(
            help("xyz", &known, "stage"),
            "known stages: `team-lead`, `security`, `prod-owner`"
        );
        assert_eq!(help("x", &[], "stage"), "no stage is declared");
    }
}
