//! Subscription patterns of spec §6.3: three `/`-separated segments, where `*` in a segment
//! stands for any run of characters inside that one segment (never across a `/`).

use crate::ident;
use crate::wildcard::Pattern;

/// A checked `platform/system/service` pattern, e.g. `*/temp_sensor/*`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FeedPattern {
    text: String,
    segments: [Pattern; 3],
}

impl FeedPattern {
    /// Checks `text`: exactly three segments, each an identifier or a non-empty run of
    /// identifier characters with at least one `*`. The reason names what is wrong.
    pub fn parse(text: &str) -> Result<FeedPattern, String> {
        let parts: Vec<&str> = text.split('/').collect();
        let [platform, system, service] = parts.as_slice() else {
            return Err("must have exactly 3 segments separated by '/'".to_string());
        };
        for (index, segment) in [platform, system, service].into_iter().enumerate() {
            // A `*` stands in for identifier characters, so the segment with every `*` made
            // literal must itself be a valid identifier (non-empty, no control characters).
            ident::check_plain(&segment.replace('*', "x"))
                .map_err(|reason| format!("segment {} {reason}", index + 1))?;
        }
        Ok(FeedPattern {
            text: text.to_string(),
            segments: [
                Pattern::new(platform),
                Pattern::new(system),
                Pattern::new(service),
            ],
        })
    }

    /// The pattern as the client wrote it.
    pub fn as_str(&self) -> &str {
        &self.text
    }

    /// Whether the service id `p/s/f` matches, segment by segment.
    pub fn matches(&self, service_id: &str) -> bool {
        let mut parts = service_id.split('/');
        let matched = self
            .segments
            .iter()
            .all(|segment| parts.next().is_some_and(|part| segment.matches(part)));
        matched && parts.next().is_none()
    }

    /// The platform when the first segment has no `*`: matches lie under that platform only.
    pub fn literal_platform(&self) -> Option<&str> {
        self.segments[0].as_literal()
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
mod tests {
    use super::*;

    fn m(pattern: &str, id: &str) -> bool {
        FeedPattern::parse(pattern).unwrap().matches(id)
    }

    #[test]
    fn star_stays_inside_one_segment() {
        assert!(m("p/s/f", "p/s/f"));
        assert!(!m("p/s/f", "p/s/g"));
        assert!(m("*/*/*", "p/s/f"));
        assert!(m("*/temp_sensor/*", "p1/temp_sensor/out"));
        assert!(!m("*/temp_sensor/*", "p1/temp_sensor2/out"));
        assert!(m("p*/s/f", "p1/s/f"));
        assert!(m("p*/s/f", "p/s/f"));
        assert!(m("*1/*/o*t", "p1/s/out"));
        assert!(!m("*1/*/o*t", "p1/s/outs"));
        // `*` never swallows a `/`.
        assert!(!m("*/s/f", "a/b/s/f"));
        assert!(!m("p/*/f", "p/a/b/f"));
        assert!(!m("*/*/*", "p/s"));
        assert!(!m("*/*/*", "p/s/f/g"));
        assert!(m("é*/*/*ü", "éa/s/xü"));
    }

    #[test]
    fn shape_is_checked() {
        for good in ["p/s/f", "*/*/*", "a*b/s/**", "p/s/*x*"] {
            assert!(FeedPattern::parse(good).is_ok(), "{good}");
        }
        for bad in [
            "",
            "*",
            "p/s",
            "*/*",
            "p/s/f/g",
            "p//f",
            "/s/f",
            "p/s/",
            "p/s/f\n",
            "p/\u{1}*/f",
        ] {
            assert!(FeedPattern::parse(bad).is_err(), "{bad:?}");
        }
        assert!(FeedPattern::parse(&format!("p/s/{}", "x".repeat(257))).is_err());
        assert!(FeedPattern::parse(&format!("p/s/{}", "*".repeat(256))).is_ok());
    }

    #[test]
    fn literal_platform() {
        assert_eq!(
            FeedPattern::parse("p/*/*").unwrap().literal_platform(),
            Some("p")
        );
        assert_eq!(
            FeedPattern::parse("p*/s/f").unwrap().literal_platform(),
            None
        );
        assert_eq!(FeedPattern::parse("p/s/f").unwrap().as_str(), "p/s/f");
    }
}
