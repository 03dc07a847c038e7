//! Turning the store's rows into records at start: parse and check every stored body, on all
//! cores, since a large registry's cold start is mostly JSON parsing. Systems, by far the most
//! numerous records, are read straight into typed fields and reuse the service list of the
//! system before them when it is the same. No IO here.

use std::borrow::Cow;

use serde::Deserialize;
use serde_json::{Map, Value};

use crate::article::Article;
use crate::builtins;
use crate::decode;
use crate::ident;
use crate::records::{shared_services, Meta, Mode, Record, Service, Services, System, SystemState};
use crate::store::{StoreError, StoredRecord};

/// Below this many rows one thread is faster than starting others.
const PARALLEL_FROM: usize = 4096;

/// The records of `rows`, in their order, without stored copies of built-ins.
pub fn decode_rows(rows: &[StoredRecord]) -> Result<Vec<Record>, StoreError> {
    let threads = std::thread::available_parallelism()
        .map(|n| n.get())
        .unwrap_or(1)
        .min(8);
    if threads < 2 || rows.len() < PARALLEL_FROM {
        return decode_chunk(rows);
    }
    let chunk = rows.len().div_ceil(threads);
    let results: Vec<Result<Vec<Record>, StoreError>> = std::thread::scope(|scope| {
        let workers: Vec<_> = rows
            .chunks(chunk)
            .map(|part| scope.spawn(move || decode_chunk(part)))
            .collect();
        workers
            .into_iter()
            .map(|worker| {
                worker.join().unwrap_or_else(|_| {
                    Err(StoreError::BadRecord {
                        article: String::new(),
                        key: String::new(),
                        detail: "decoding a stored record failed".to_string(),
                    })
                })
            })
            .collect()
    });
    let mut records = Vec::with_capacity(rows.len());
    for part in results {
        records.extend(part?);
    }
    Ok(records)
}

fn decode_chunk(rows: &[StoredRecord]) -> Result<Vec<Record>, StoreError> {
    let mut records = Vec::with_capacity(rows.len());
    let mut last_services = Services::default();
    // Stored records passed the identifier rules when they were written, maybe under a larger
    // limit than today's: loading never refuses them for their length.
    ident::with_max_chars(usize::MAX, || {
        for row in rows {
            if let Some(record) = decode_row(row, &mut last_services)? {
                records.push(record);
            }
        }
        Ok(records)
    })
}

fn decode_row(
    row: &StoredRecord,
    last_services: &mut Services,
) -> Result<Option<Record>, StoreError> {
    let bad = |detail: String| StoreError::BadRecord {
        article: row.article.clone(),
        key: row.key.clone(),
        detail,
    };
    let article = Article::from_name(&row.article).ok_or_else(|| bad("unknown article".into()))?;
    let record = if article == Article::System {
        Record::System(stored_system(&row.body, last_services).map_err(bad)?)
    } else {
        let body: Value =
            parse(&row.body).map_err(|error| bad(format!("body is not JSON: {error}")))?;
        decode::stored_body(article, &body).map_err(bad)?
    };
    if record.key() != row.key {
        return Err(bad(format!("body has key {}", record.key())));
    }
    if builtins::is_builtin(article, &row.key) {
        tracing::warn!(article = %row.article, key = %row.key, "ignoring stored copy of a built-in record");
        return Ok(None);
    }
    Ok(Some(record))
}

/// Parses a stored body without serde_json's own nesting limit: every body passed the engine's
/// depth check when it was written, and serde_json's limit would refuse the 128 levels that
/// check allows, so an acknowledged record could keep the node from starting.
fn parse<'a, T: Deserialize<'a>>(text: &'a str) -> serde_json::Result<T> {
    let mut deserializer = serde_json::Deserializer::from_str(text);
    deserializer.disable_recursion_limit();
    let value = T::deserialize(&mut deserializer)?;
    deserializer.end()?;
    Ok(value)
}

/// A stored system body, as `Record::stored_body` writes it (other members are ignored).
#[derive(Deserialize)]
struct StoredSystem<'a> {
    #[serde(borrow)]
    id: Cow<'a, str>,
    #[serde(rename = "type", borrow)]
    system_type: Cow<'a, str>,
    #[serde(default, borrow)]
    user: Option<Cow<'a, str>>,
    #[serde(default)]
    desc: Option<String>,
    #[serde(default)]
    attr: Option<Map<String, Value>>,
    #[serde(borrow)]
    services: Vec<StoredService<'a>>,
}

#[derive(Deserialize)]
struct StoredService<'a> {
    #[serde(borrow)]
    id: Cow<'a, str>,
    #[serde(rename = "type", borrow)]
    service_type: Cow<'a, str>,
    #[serde(borrow)]
    mode: Cow<'a, str>,
}

/// Reads a stored system with the checks `decode::stored_body` makes. `last` is the service list
/// of the system read before; it is reused when this system has the same one.
fn stored_system(body: &str, last: &mut Services) -> Result<System, String> {
    let stored: StoredSystem<'_> =
        parse(body).map_err(|error| format!("body is not a stored system: {error}"))?;
    let id = stored.id.as_ref();
    ident::split_system_id(id).map_err(|reason| format!("field id {reason}"))?;
    ident::check_plain(&stored.system_type).map_err(|reason| format!("field type {reason}"))?;
    if let Some(user) = &stored.user {
        ident::check_plain(user).map_err(|reason| format!("field user {reason}"))?;
    }
    let mut services = Vec::with_capacity(stored.services.len());
    for service in &stored.services {
        let name = service
            .id
            .strip_prefix(id)
            .and_then(|rest| rest.strip_prefix('/'))
            .filter(|name| ident::check_plain(name).is_ok())
            .ok_or_else(|| format!("service id {} is not under {id}", service.id))?;
        ident::check_plain(&service.service_type)
            .map_err(|reason| format!("field type {reason}"))?;
        let mode = Mode::parse(&service.mode)
            .ok_or_else(|| format!("service {} has no valid mode", service.id))?;
        services.push((name, service.service_type.as_ref(), mode));
    }
    let same_as_last = last.len() == services.len()
        && last
            .iter()
            .zip(&services)
            .all(|(known, (name, service_type, mode))| {
                known.name == *name && known.service_type == *service_type && known.mode == *mode
            });
    if !same_as_last {
        *last = shared_services(
            services
                .into_iter()
                .map(|(name, service_type, mode)| Service {
                    name: name.to_string(),
                    service_type: service_type.to_string(),
                    mode,
                })
                .collect(),
        );
    }
    Ok(System {
        id: id.to_string(),
        system_type: stored.system_type.into_owned(),
        user: stored.user.map(Cow::into_owned),
        meta: Meta {
            desc: stored.desc,
            attr: stored.attr,
        },
        services: last.clone(),
        state: SystemState::Stopped,
        owner: None,
    })
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
mod tests {
    use super::*;
    use serde_json::json;

    fn both_ways(body: Value) -> (Result<Record, String>, Result<Record, String>) {
        let typed = stored_system(&body.to_string(), &mut Services::default()).map(Record::System);
        let general = decode::stored_body(Article::System, &body);
        (typed, general)
    }

    #[test]
    fn the_typed_reading_of_a_system_equals_the_general_one() {
        let bodies = [
            json!({"id": "p/s", "platform": "p", "type": "simple_system",
                   "services": [{"id": "p/s/a", "type": "t1", "mode": "output-feed"},
                                {"id": "p/s/b", "type": "t2", "mode": "listener"}]}),
            json!({"id": "Zürich \"東京\"/s\\x", "platform": "Zürich \"東京\"", "type": "ty",
                   "user": "dan", "desc": "a \"quoted\" \u{1F600} desc",
                   "attr": {"rack": [1, 2.5, null], "k": {"n": true}},
                   "services": [{"id": "Zürich \"東京\"/s\\x/f", "type": "t", "mode": "request-response"}]}),
            json!({"id": "p/empty", "platform": "p", "type": "none", "services": []}),
        ];
        for body in bodies {
            let (typed, general) = both_ways(body.clone());
            assert_eq!(typed.unwrap(), general.unwrap(), "{body}");
        }
    }

    #[test]
    fn broken_stored_systems_are_refused_by_the_typed_reading_too() {
        let bodies = [
            json!({"id": "p/s", "type": "t", "services": [{"id": "q/s/a", "type": "t", "mode": "output-feed"}]}),
            json!({"id": "p/s", "type": "t", "services": [{"id": "p/s/a", "type": "t", "mode": "sideways"}]}),
            json!({"id": "p", "type": "t", "services": []}),
            json!({"id": "p/s", "type": "a/b", "services": []}),
            json!({"id": "p/s", "type": "t"}),
            json!({"id": "p/s", "type": "t", "services": [], "desc": 5}),
        ];
        for body in bodies {
            let (typed, general) = both_ways(body.clone());
            assert!(typed.is_err(), "typed reading accepted {body}");
            assert!(general.is_err(), "general reading accepted {body}");
        }
    }

    #[test]
    fn records_nested_as_deep_as_the_engine_allows_load_again() {
        use crate::{Engine, EngineConfig, SqliteStore};
        let dir = tempfile::tempdir().unwrap();
        // 128 levels in all: the request object, `attr`, and 126 arrays.
        let deep = format!("{}1{}", "[".repeat(126), "]".repeat(126));
        let requests = [
            format!(r#"{{"op":"register:platform-type","type":"deep","attr":{{"a":{deep}}}}}"#),
            r#"{"op":"register:platform","id":"p","type":"deep"}"#.to_string(),
            format!(
                r#"{{"op":"register:system","id":"p/s","type":"simple_system","attr":{{"a":{deep}}}}}"#
            ),
        ];
        {
            let engine = Engine::open(
                EngineConfig::new("n"),
                Box::new(SqliteStore::open(dir.path()).unwrap()),
            )
            .unwrap();
            for request in &requests {
                let outcome = engine.handle("c", request.as_bytes(), std::time::Instant::now());
                assert!(outcome.status.is_ok(), "{:?}", outcome.replies);
            }
        }
        let engine = Engine::open(
            EngineConfig::new("n"),
            Box::new(SqliteStore::open(dir.path()).unwrap()),
        )
        .expect("a store of acknowledged records opens");
        let outcome = engine.handle(
            "c",
            br#"{"op":"query:systems","id":"p/s"}"#,
            std::time::Instant::now(),
        );
        assert_eq!(outcome.replies[0]["systems"].as_array().unwrap().len(), 1);
    }

    #[test]
    fn consecutive_systems_of_one_type_share_their_services() {
        let mut last = Services::default();
        let body = |n: u32| {
            json!({"id": format!("p/s{n}"), "type": "t",
                   "services": [{"id": format!("p/s{n}/a"), "type": "t1", "mode": "output-feed"}]})
            .to_string()
        };
        let first = stored_system(&body(1), &mut last).unwrap();
        let second = stored_system(&body(2), &mut last).unwrap();
        assert!(Services::ptr_eq(&first.services, &second.services));
        assert_eq!(second.service_id(&second.services[0]), "p/s2/a");
    }
}
