//! Query filters (spec §5): whole-value string patterns per record field, `attr` subset match,
//! `loc` boxes and the `services` filter of system types. Decoding and matching only.

use serde_json::{Map, Value};

use crate::article::Article;
use crate::fields::Fields;
use crate::records::{bool_text, Loc, Record};
use crate::status::{Entity, Operation, Status};
use crate::wildcard::Pattern;

/// The record fields of each article that string filters apply to.
pub fn string_fields(article: Article) -> &'static [&'static str] {
    match article {
        Article::Node => &["id", "type", "node-interface", "address", "desc"],
        Article::NodeType | Article::PlatformType | Article::UserType => &["type", "desc"],
        Article::Bearer => &["id", "available", "desc"],
        Article::Platform => &["id", "type", "desc"],
        Article::ServiceType => &["type", "mode", "desc"],
        Article::SystemType => &["type", "desc"],
        Article::System => &["id", "platform", "type", "user", "state", "desc"],
        Article::User => &["id", "type", "affil", "desc"],
    }
}

fn has_loc(article: Article) -> bool {
    matches!(article, Article::Platform | Article::System)
}

/// A latitude/longitude box; bounds are inclusive.
#[derive(Debug, Clone, PartialEq)]
pub struct LocBox {
    pub left: f64,
    pub bottom: f64,
    pub top: f64,
    pub right: f64,
}

impl LocBox {
    pub fn contains(&self, loc: &Loc) -> bool {
        let (lat, long) = (loc.lat(), loc.long());
        self.bottom <= lat && lat <= self.top && self.left <= long && long <= self.right
    }
}

/// One entry of the `services` filter of `query:system-types`.
#[derive(Debug, Clone, PartialEq)]
pub struct ServiceFilter {
    pub service_type: Option<Pattern>,
    pub mode: Option<Pattern>,
}

/// The filters of one `query:<plural>` request; an empty filter matches everything.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Filter {
    strings: Vec<(&'static str, Pattern)>,
    attr: Option<Map<String, Value>>,
    loc: Option<LocBox>,
    services: Vec<ServiceFilter>,
}

impl Filter {
    /// Decodes the filters of a query on `article`; errors are `1 04 <entity>`.
    pub fn decode(
        article: Article,
        map: &Map<String, Value>,
        entity: Entity,
    ) -> Result<Filter, Status> {
        let fields = Fields::new(map, Operation::Query, entity);
        let mut filter = Filter::default();
        for &name in string_fields(article) {
            let pattern = match (article, name, fields.get(name)) {
                (_, _, None) => continue,
                (_, _, Some(Value::String(text))) => Pattern::new(text),
                (Article::Bearer, "available", Some(Value::Bool(value))) => {
                    Pattern::new(bool_text(*value))
                }
                _ => return Err(fields.invalid(format!("filter {name} must be a string"))),
            };
            filter.strings.push((name, pattern));
        }
        filter.attr = fields
            .optional_object("attr")
            .map_err(|_| fields.invalid("filter attr must be an object"))?;
        if has_loc(article) {
            filter.loc = decode_loc_box(&fields)?;
        }
        if article == Article::SystemType {
            filter.services = decode_services(&fields)?;
        }
        Ok(filter)
    }

    /// The pattern on the article's key field, used to narrow the scan to a key range.
    pub fn key_pattern(&self, article: Article) -> Option<&Pattern> {
        let key_field = article.key_field();
        self.strings
            .iter()
            .find(|(name, _)| *name == key_field)
            .map(|(_, pattern)| pattern)
    }

    /// Whether `record` passes every filter; `loc` is the record's location (for a system,
    /// its platform's).
    pub fn matches(&self, record: &Record, loc: Option<&Loc>) -> bool {
        let strings_match = self.strings.iter().all(|(name, pattern)| {
            record
                .string_values(name)
                .into_iter()
                .any(|value| pattern.matches(value))
        });
        strings_match
            && self.attr_matches(record)
            && self.loc_matches(loc)
            && self.services_match(record)
    }

    fn attr_matches(&self, record: &Record) -> bool {
        let Some(wanted) = &self.attr else {
            return true;
        };
        let empty = Map::new();
        let actual = record.meta().attr.as_ref().unwrap_or(&empty);
        wanted
            .iter()
            .all(|(name, value)| actual.get(name) == Some(value))
    }

    fn loc_matches(&self, loc: Option<&Loc>) -> bool {
        match (&self.loc, loc) {
            (None, _) => true,
            (Some(_), None) => false,
            (Some(bounds), Some(loc)) => bounds.contains(loc),
        }
    }

    fn services_match(&self, record: &Record) -> bool {
        if self.services.is_empty() {
            return true;
        }
        let Record::SystemType(system_type) = record else {
            return false;
        };
        self.services.iter().all(|wanted| {
            system_type.services.iter().any(|spec| {
                let type_ok = wanted
                    .service_type
                    .as_ref()
                    .is_none_or(|pattern| pattern.matches(&spec.service_type));
                let mode_ok = wanted.mode.as_ref().is_none_or(|pattern| {
                    spec.mode.is_some_and(|mode| pattern.matches(mode.as_str()))
                });
                type_ok && mode_ok
            })
        })
    }
}

fn decode_loc_box(fields: &Fields<'_>) -> Result<Option<LocBox>, Status> {
    let Some(object) = fields
        .optional_object("loc")
        .map_err(|_| fields.invalid("filter loc must be an object {left, bottom, top, right}"))?
    else {
        return Ok(None);
    };
    let bound = |name: &str| -> Result<f64, Status> {
        fields
            .number_in(&object, "loc", name)?
            .and_then(|number| number.as_f64())
            .ok_or_else(|| fields.invalid(format!("filter loc.{name} is required")))
    };
    Ok(Some(LocBox {
        left: bound("left")?,
        bottom: bound("bottom")?,
        top: bound("top")?,
        right: bound("right")?,
    }))
}

fn decode_services(fields: &Fields<'_>) -> Result<Vec<ServiceFilter>, Status> {
    let Some(items) = fields
        .optional_array("services")
        .map_err(|_| fields.invalid("filter services must be an array"))?
    else {
        return Ok(Vec::new());
    };
    let mut services = Vec::with_capacity(items.len());
    for (index, item) in items.iter().enumerate() {
        let Value::Object(object) = item else {
            return Err(fields.invalid(format!("filter services[{index}] must be an object")));
        };
        let member = fields.nested(object);
        let pattern = |name: &str| -> Result<Option<Pattern>, Status> {
            member
                .optional_str(name)
                .map(|text| text.map(Pattern::new))
                .map_err(|_| {
                    fields.invalid(format!("filter services[{index}].{name} must be a string"))
                })
        };
        services.push(ServiceFilter {
            service_type: pattern("type")?,
            mode: pattern("mode")?,
        });
    }
    Ok(services)
}
