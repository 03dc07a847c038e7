//! Whole-value string patterns where `*` stands for any run of characters (`/` included).
//! Matching only; no regex engine, no allocation per match.

/// A compiled filter pattern: literal pieces separated by `*`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Pattern {
    pieces: Vec<String>,
}

impl Pattern {
    pub fn new(pattern: &str) -> Pattern {
        Pattern {
            pieces: pattern.split('*').map(str::to_string).collect(),
        }
    }

    /// The one value the pattern matches when it has no `*`.
    pub fn as_literal(&self) -> Option<&str> {
        match self.pieces.as_slice() {
            [only] => Some(only),
            _ => None,
        }
    }

    /// The literal text every matching value starts with (useful for ordered range scans).
    pub fn literal_prefix(&self) -> &str {
        self.pieces.first().map(String::as_str).unwrap_or("")
    }

    pub fn matches(&self, value: &str) -> bool {
        let (first, rest) = match self.pieces.split_first() {
            Some(split) => split,
            None => return value.is_empty(),
        };
        let Some(mut remaining) = value.strip_prefix(first.as_str()) else {
            return false;
        };
        let Some((last, middle)) = rest.split_last() else {
            return remaining.is_empty();
        };
        // Greedy-free scan: each middle piece takes its leftmost occurrence, which is optimal
        // because `*` can absorb anything in between.
        for piece in middle {
            match remaining.find(piece.as_str()) {
                Some(at) => remaining = &remaining[at + piece.len()..],
                None => return false,
            }
        }
        remaining.len() >= last.len() && remaining.ends_with(last.as_str())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn m(pattern: &str, value: &str) -> bool {
        Pattern::new(pattern).matches(value)
    }

    #[test]
    fn literal_is_whole_value() {
        assert!(m("sensor", "sensor"));
        assert!(!m("sensor", "sensors"));
        assert!(!m("sensor", "a-sensor"));
        assert!(!m("sensor", ""));
        assert!(m("", ""));
    }

    #[test]
    fn star_matches_any_run_including_slash() {
        assert!(m("*", ""));
        assert!(m("*", "p1/s1"));
        assert!(m("sens*", "sensor"));
        assert!(m("sens*", "sens"));
        assert!(!m("sens*", "sen"));
        assert!(m("*-01", "temp-01"));
        assert!(!m("*-01", "temp-011"));
        assert!(m("p1/*", "p1/s1"));
        assert!(m("p1/*", "p1/s1/f"));
        assert!(!m("p1/*", "p2/s1"));
        assert!(m("a*b*c", "abc"));
        assert!(m("a*b*c", "a-b-b-c"));
        assert!(!m("a*b*c", "acb"));
        assert!(m("**", "x"));
        assert!(m("a*a", "aa"));
        assert!(!m("a*a", "a"));
        assert!(m("*/*", "p/s"));
        assert!(!m("*/*", "ps"));
        assert!(m("é*ü", "éxxü"));
    }

    #[test]
    fn literal_prefix() {
        assert_eq!(Pattern::new("p1/*").literal_prefix(), "p1/");
        assert_eq!(Pattern::new("*x").literal_prefix(), "");
        assert_eq!(Pattern::new("abc").literal_prefix(), "abc");
        assert_eq!(Pattern::new("abc").as_literal(), Some("abc"));
        assert_eq!(Pattern::new("ab*").as_literal(), None);
    }
}
