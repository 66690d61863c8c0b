//! `wildcard` patterns: `*` matches any run of characters (also none), `\*` is a literal
//! star and `\\` a literal backslash; any other backslash is an error, as are two stars in a
//! row. Positions in error messages count UTF-8 bytes from an opening quote, as EventBridge
//! reports them (`"arn:**"` → pos 5).

/// A parsed wildcard pattern: literal segments between the stars.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Wildcard {
    /// `segments.len() == stars + 1`; the first segment is anchored at the start of the
    /// value and the last at its end.
    segments: Vec<String>,
}

/// The highest [`Wildcard::complexity`] accepted; above it a pattern is "too complex", as
/// EventBridge says of patterns whose matching would need too many partial matches at once.
pub const MAX_COMPLEXITY: usize = 10;

impl Wildcard {
    pub fn parse(text: &str) -> Result<Wildcard, String> {
        let bytes = text.as_bytes();
        let mut segments = vec![String::new()];
        let mut chars = text.char_indices().peekable();
        while let Some((index, ch)) = chars.next() {
            // +1: EventBridge counts from the quote that opens the JSON string.
            let pos = index + 1;
            match ch {
                '*' => {
                    if bytes.get(index + 1) == Some(&b'*') {
                        return Err(format!("Consecutive wildcard characters at pos {pos}"));
                    }
                    segments.push(String::new());
                }
                '\\' => match chars.next() {
                    Some((_, escaped @ ('*' | '\\'))) => push(&mut segments, escaped),
                    _ => return Err(format!("Invalid escape character at pos {pos}")),
                },
                other => push(&mut segments, other),
            }
        }
        Ok(Wildcard { segments })
    }

    pub fn matches(&self, value: &str) -> bool {
        let (first, rest) = match self.segments.split_first() {
            Some(split) => split,
            None => return value.is_empty(),
        };
        let Some((last, middle)) = rest.split_last() else {
            return value == first;
        };
        if value.len() < first.len() + last.len()
            || !value.starts_with(first.as_str())
            || !value.ends_with(last.as_str())
        {
            return false;
        }
        // Between the anchored ends, taking each middle segment at its leftmost occurrence
        // is optimal: it leaves the most room for the segments after it.
        let Some(mut remaining) = value
            .get(first.len()..value.len() - last.len())
            .map(str::to_owned)
        else {
            return false;
        };
        for segment in middle {
            match remaining.find(segment.as_str()) {
                Some(at) => remaining = remaining.split_off(at + segment.len()),
                None => return false,
            }
        }
        true
    }

    /// EventBridge's "complexity" of a wildcard pattern: the most states its matching
    /// automaton can have alive at once over all possible inputs. Computed exactly for this
    /// pattern's NFA by a subset construction over the characters the alive states consume
    /// plus one "any other" character. EventBridge does not publish its measure or limit; this one
    /// and [`MAX_COMPLEXITY`] were chosen so that AWS's recorded verdicts hold
    /// (`*:*:*:*:*:event-bus/*` is 13, rejected; `/Users/*/dir/dir/dir/dir/dir/doc.txt` is 8
    /// and `arn:aws:events:*:*:event-bus/*` 7, accepted). A pattern that needs more than
    /// [`MAX_WORK`] steps to measure counts as too complex.
    #[cfg(test)]
    pub fn complexity(&self) -> usize {
        self.complexity_capped(usize::MAX)
    }

    /// Whether [`Wildcard::complexity`] exceeds `limit`, stopping as soon as it does.
    pub fn exceeds(&self, limit: usize) -> bool {
        // Every star stays alive once reached, and feeding the literals reaches them all.
        self.segments.len().saturating_sub(1) > limit || self.complexity_capped(limit) > limit
    }

    /// The complexity, or some value above `cap` as soon as one is seen. Running out of
    /// [`MAX_WORK`] counts as exceeding any cap.
    fn complexity_capped(&self, cap: usize) -> usize {
        let tokens = self.tokens();
        let start = closure(&tokens, vec![0]);
        let mut seen = std::collections::HashSet::from([start.clone()]);
        let mut todo = vec![start];
        let mut most = 0;
        let mut work: usize = 0;
        while let Some(states) = todo.pop() {
            most = most.max(states.len());
            if most > cap {
                return most;
            }
            // Only characters some alive state consumes lead anywhere new; every other
            // character behaves like `None`.
            let mut inputs: Vec<Option<char>> = states
                .iter()
                .filter_map(|&position| match tokens.get(position) {
                    Some(Token::Char(ch)) => Some(Some(*ch)),
                    _ => None,
                })
                .collect();
            inputs.sort_unstable();
            inputs.dedup();
            inputs.push(None);
            for input in &inputs {
                work = work.saturating_add(states.len());
                if work > MAX_WORK {
                    return usize::MAX;
                }
                let next = step(&tokens, &states, *input);
                if !next.is_empty() && seen.insert(next.clone()) {
                    todo.push(next);
                }
            }
        }
        most
    }

    fn tokens(&self) -> Vec<Token> {
        let mut tokens = Vec::new();
        for (index, segment) in self.segments.iter().enumerate() {
            if index > 0 {
                tokens.push(Token::Star);
            }
            tokens.extend(segment.chars().map(Token::Char));
        }
        tokens
    }
}

/// Bounds the work [`Wildcard::complexity`] may do on one pattern (state visits).
pub const MAX_WORK: usize = 2_000_000;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Token {
    Star,
    Char(char),
}

/// Adds the positions reachable without input: a star may match nothing.
fn closure(tokens: &[Token], mut states: Vec<usize>) -> Vec<usize> {
    let mut index = 0;
    while let Some(&position) = states.get(index) {
        if tokens.get(position) == Some(&Token::Star) && !states.contains(&(position + 1)) {
            states.push(position + 1);
        }
        index += 1;
    }
    states.sort_unstable();
    states
}

/// The positions alive after reading `input` (`None` = a character not in the pattern).
fn step(tokens: &[Token], states: &[usize], input: Option<char>) -> Vec<usize> {
    let mut next = Vec::new();
    for &position in states {
        match tokens.get(position) {
            Some(Token::Star) => next.push(position),
            Some(Token::Char(ch)) if Some(*ch) == input => next.push(position + 1),
            _ => {}
        }
    }
    next.dedup();
    closure(tokens, next)
}

fn push(segments: &mut [String], ch: char) {
    if let Some(current) = segments.last_mut() {
        current.push(ch);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn wildcard(text: &str) -> Wildcard {
        Wildcard::parse(text).unwrap()
    }

    #[test]
    fn stars_match_any_run() {
        let w = wildcard("*/lib/*.png");
        assert!(w.matches("/usr/lib/a.png"));
        assert!(w.matches("/lib/.png"));
        assert!(!w.matches("/usr/lib/a.jpg"));
        assert!(wildcard("*").matches(""));
        assert!(wildcard("a*a").matches("aa"));
        assert!(!wildcard("a*a").matches("a"));
    }

    #[test]
    fn no_star_is_equality() {
        assert!(wildcard("abc").matches("abc"));
        assert!(!wildcard("abc").matches("abcd"));
    }

    #[test]
    fn escapes_are_literal() {
        let w = wildcard(r"a\*b\\c*");
        assert!(w.matches(r"a*b\c"));
        assert!(w.matches(r"a*b\cdef"));
        assert!(!w.matches(r"axb\c"));
    }

    #[test]
    fn errors_count_from_the_opening_quote() {
        assert_eq!(
            Wildcard::parse("ab**").unwrap_err(),
            "Consecutive wildcard characters at pos 3"
        );
        assert_eq!(
            Wildcard::parse(r"ab\x").unwrap_err(),
            "Invalid escape character at pos 3"
        );
        assert_eq!(
            Wildcard::parse(r"ab\").unwrap_err(),
            "Invalid escape character at pos 3"
        );
    }

    #[test]
    fn complexity_separates_aws_verdicts() {
        assert_eq!(wildcard("*:*:*:*:*:event-bus/*").complexity(), 13);
        assert_eq!(
            wildcard("/Users/*/dir/dir/dir/dir/dir/doc.txt").complexity(),
            8
        );
        assert_eq!(wildcard("arn:aws:events:*:*:event-bus/*").complexity(), 7);
        assert_eq!(wildcard("/Users/*/doc.txt").complexity(), 3);
        assert_eq!(wildcard("no stars").complexity(), 1);
    }

    #[test]
    fn long_patterns_are_judged_quickly() {
        let many_stars: String = (0..1000).map(|i| format!("*{i}")).collect();
        assert!(wildcard(&many_stars).exceeds(MAX_COMPLEXITY));
        let long_literal = format!("*{}", "ab".repeat(1000));
        assert!(wildcard(&long_literal).exceeds(MAX_COMPLEXITY));
        let distinct: String = (0..2000u32)
            .filter_map(char::from_u32)
            .filter(|c| *c != '*' && *c != '\\')
            .collect();
        assert!(!wildcard(&distinct).exceeds(MAX_COMPLEXITY));
        assert!(!wildcard(&format!("x*{distinct}")).exceeds(MAX_COMPLEXITY));
    }

    #[test]
    fn multibyte_text() {
        let w = wildcard("é*ü");
        assert!(w.matches("éxyzü"));
        assert!(!w.matches("éxyz"));
    }
}
