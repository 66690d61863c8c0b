//! "Did you mean ...?" for misspelt keys and names, in one place.
//!
//! Threshold: a candidate is suggested when its Damerau-Levenshtein distance to the word
//! (case-insensitive, `_` and `-` treated alike) is at most `max(1, len / 3)`, where `len`
//! is the length of the longer of the two. That catches one typo in a short key
//! (`nedds` → `needs`), two in a long one (`min_aprovals` → `min_approvals`), and a
//! different separator (`on-timeout` → `on_timeout`), while `stage` never suggests
//! `stages`' unrelated neighbours. The closest candidate wins; ties go to the first listed.

/// The candidate closest to `word`, if close enough.
pub fn did_you_mean<'c>(
    word: &str,
    candidates: impl IntoIterator<Item = &'c str>,
) -> Option<&'c str> {
    let norm = normalize(word);
    candidates
        .into_iter()
        .filter(|c| *c != word)
        .map(|c| (strsim::damerau_levenshtein(&norm, &normalize(c)), c))
        .filter(|(distance, c)| {
            let len = word.chars().count().max(c.chars().count());
            *distance <= (len / 3).max(1)
        })
        .min_by_key(|(distance, _)| *distance)
        .map(|(_, c)| c)
}

/// A help line for an unknown name: "did you mean `x`?", else the list of known `what`s
/// (up to eight), else how many there are.
pub fn help(unknown: &str, known: &[&str], what: &str) -> String {
    if let Some(name) = did_you_mean(unknown, known.iter().copied()) {
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

fn normalize(word: &str) -> String {
    word.chars()
        .map(|c| {
            if c == '-' {
                '_'
            } else {
                c.to_ascii_lowercase()
            }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::{did_you_mean, help};

    const STAGE_KEYS: &[&str] = &[
        "needs",
        "when",
        "account",
        "timeout",
        "on_timeout",
        "escalate",
        "ssm",
        "codepipeline",
        "action",
    ];

    #[test]
    fn suggests_close_keys() {
        let dym = |w| did_you_mean(w, STAGE_KEYS.iter().copied());
        assert_eq!(dym("nedds"), Some("needs"));
        assert_eq!(dym("on-timeout"), Some("on_timeout"));
        assert_eq!(dym("Timeout"), Some("timeout"));
        assert_eq!(dym("code_pipeline"), Some("codepipeline"));
        assert_eq!(dym("approvers"), None);
        assert_eq!(dym("x"), None);
    }

    #[test]
    fn help_suggests_or_lists() {
        let known = ["team-lead", "security", "prod-owner"];
        assert_eq!(
            help("team-laed", &known, "stage"),
            "did you mean `team-lead`?"
        );
        assert_eq!(
            help("Security", &known, "stage"),
            "did you mean `security`?"
        );
        assert_eq!(
            help("xyz", &known, "stage"),
            "known stages: `team-lead`, `security`, `prod-owner`"
        );
        assert_eq!(help("x", &[], "stage"), "no stage is declared");
        let many: Vec<String> = (0..9).map(|i| format!("stage{i}")).collect();
        let many: Vec<&str> = many.iter().map(String::as_str).collect();
        assert_eq!(
            help("zzzzzz", &many, "stage"),
            "`zzzzzz` is not one of the 9 stages"
        );
    }
}
