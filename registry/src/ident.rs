//! Identifier rules of spec §1: plain ids, system ids (`p/s`) and service ids (`p/s/f`).
//! Pure checks returning a reason; callers turn the reason into a status naming the field.
//!
//! The length limit is configurable ([`crate::EngineConfig::max_identifier_chars`]). Rather
//! than passing it through every decoder, the engine sets it for the calling thread around
//! decoding with [`with_max_chars`]; outside that scope the spec's 256 applies.

use std::cell::Cell;

/// Longest plain identifier, in characters (not bytes), unless configured otherwise.
pub const MAX_IDENT_CHARS: usize = 256;

thread_local! {
    static MAX_CHARS: Cell<usize> = const { Cell::new(MAX_IDENT_CHARS) };
}

/// Runs `f` with identifiers limited to `max_chars` characters on this thread.
pub fn with_max_chars<T>(max_chars: usize, f: impl FnOnce() -> T) -> T {
    let previous = MAX_CHARS.with(|cell| cell.replace(max_chars));
    struct Restore(usize);
    impl Drop for Restore {
        fn drop(&mut self) {
            MAX_CHARS.with(|cell| cell.set(self.0));
        }
    }
    let _restore = Restore(previous);
    f()
}

/// Checks one plain id, type name or service name.
pub fn check_plain(text: &str) -> Result<(), String> {
    if text.is_empty() {
        return Err("must not be empty".to_string());
    }
    let max_chars = MAX_CHARS.with(Cell::get);
    // Counting stops one past the limit, so a huge id costs no more than a long one.
    if text.chars().take(max_chars.saturating_add(1)).count() > max_chars {
        return Err(format!("is longer than {max_chars} characters"));
    }
    if text.contains('/') {
        return Err("must not contain '/'".to_string());
    }
    if text.contains('*') {
        return Err("must not contain '*'".to_string());
    }
    if text.chars().any(char::is_control) {
        return Err("must not contain control characters".to_string());
    }
    Ok(())
}

/// Checks an id made of exactly `count` plain segments joined by `/`.
pub fn check_segments(text: &str, count: usize) -> Result<Vec<&str>, String> {
    let segments: Vec<&str> = text.split('/').collect();
    if segments.len() != count {
        return Err(format!(
            "must have exactly {count} segments separated by '/'"
        ));
    }
    for (index, segment) in segments.iter().enumerate() {
        check_plain(segment).map_err(|reason| format!("segment {} {reason}", index + 1))?;
    }
    Ok(segments)
}

/// Splits and checks a system id `platform/system`.
pub fn split_system_id(text: &str) -> Result<(&str, &str), String> {
    match check_segments(text, 2)?.as_slice() {
        [platform, system] => Ok((platform, system)),
        _ => Err("must have exactly 2 segments separated by '/'".to_string()),
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
mod tests {
    use super::*;

    #[test]
    fn plain_ids() {
        assert!(check_plain("sensor-01").is_ok());
        assert!(check_plain("").is_err());
        assert!(check_plain("a/b").is_err());
        assert!(check_plain("a*").is_err());
        assert!(check_plain("a\nb").is_err());
        assert!(check_plain("a\u{7f}").is_err());
        assert!(check_plain("a\u{85}").is_err());
        assert!(check_plain("with space and ünïcødé ✓").is_ok());
    }

    #[test]
    fn length_counts_characters_not_bytes() {
        assert!(check_plain(&"x".repeat(256)).is_ok());
        assert!(check_plain(&"x".repeat(257)).is_err());
        assert!(
            check_plain(&"é".repeat(256)).is_ok(),
            "512 bytes, 256 chars"
        );
        assert!(check_plain(&"é".repeat(257)).is_err());
    }

    #[test]
    fn the_limit_can_be_set_per_thread_and_is_restored() {
        assert!(with_max_chars(4, || check_plain("abcde")).is_err());
        assert!(with_max_chars(4, || check_plain("abcd")).is_ok());
        assert!(with_max_chars(300, || check_plain(&"x".repeat(300))).is_ok());
        assert!(check_plain(&"x".repeat(257)).is_err(), "restored to 256");
    }

    #[test]
    fn system_and_service_ids() {
        assert_eq!(split_system_id("p1/s1").unwrap(), ("p1", "s1"));
        assert!(split_system_id("p1").is_err());
        assert!(split_system_id("p1/s1/f").is_err());
        assert!(split_system_id("p1/").is_err());
        assert!(split_system_id("/s1").is_err());
        assert!(split_system_id("p*/s1").is_err());
        assert_eq!(check_segments("p/s/f", 3).unwrap(), vec!["p", "s", "f"]);
        assert!(check_segments("p/s", 3).is_err());
    }
}
