//! The closed set of ops and their decoders: op name + members → [`Op`], or a class-1 status.
//! Decoding never looks at registry contents; adding an op is a variant, a decoder, a handler.

mod runtime;

use std::time::Duration;

use serde_json::{Map, Value};

use crate::article::Article;
use crate::decode;
use crate::feed_pattern::FeedPattern;
use crate::fields::Fields;
use crate::ident;
use crate::query::Filter;
use crate::records::{Record, SystemState};
use crate::status::{Entity, Operation, Status};
use crate::wildcard::Pattern;

pub use runtime::Payload;

#[derive(Debug, Clone, PartialEq)]
pub enum Op {
    /// `register:<article>`; a system's services are instantiated by the registry.
    Register(Record),
    /// `deregister:<article>` with the key field.
    Deregister { article: Article, key: String },
    /// `query:<plural>`.
    Query { article: Article, filter: Filter },
    /// `query:local-node`.
    QueryLocalNode,
    /// `query:neighbours`: registered nodes other than the local node, with node filters.
    QueryNeighbours(Filter),
    /// `query:service-wiring`, filtered by `from` / `to`.
    QueryServiceWiring {
        from: Option<Pattern>,
        to: Option<Pattern>,
    },
    /// `state:system`: start or stop a system (spec §6.1).
    StateSystem { id: String, state: SystemState },
    /// `disconnect`: stop every system the named client owns (spec §6.6).
    Disconnect { client_id: String },
    /// `publish` on an output feed (spec §6.2).
    Publish {
        output_feed: String,
        payload: Payload,
    },
    /// `subscribe` an input feed to output-feed patterns (spec §6.3).
    Subscribe {
        input_feed: String,
        patterns: Vec<FeedPattern>,
    },
    /// `unsubscribe`: `None` patterns means all of the input feed's subscriptions.
    Unsubscribe {
        input_feed: String,
        patterns: Option<Vec<FeedPattern>>,
    },
    /// `notify` listeners (spec §6.4).
    Notify {
        notification: String,
        listeners: Vec<String>,
        payload: Payload,
    },
    /// `request` to request-response services (spec §6.5).
    Request {
        solicit_response: String,
        targets: Vec<String>,
        payload: Payload,
        timeout: Option<Duration>,
    },
    /// `response` to a pending request; its correl is the envelope's (required here).
    Response {
        request_response: String,
        solicit_response: String,
        payload: Payload,
    },
}

/// Decodes the op named `name` from the request members.
pub fn decode(name: &str, fields: &Map<String, Value>) -> Result<Op, Status> {
    let unknown = || Status::envelope(format!("unknown op {name}"));
    match name {
        "disconnect" => return runtime::disconnect(fields),
        "publish" => return runtime::publish(fields),
        "subscribe" => return runtime::subscribe(fields),
        "unsubscribe" => return runtime::unsubscribe(fields),
        "notify" => return runtime::notify(fields),
        "request" => return runtime::request(fields),
        "response" => return runtime::response(fields),
        "state:system" => return runtime::state_system(fields),
        _ => {}
    }
    let (verb, noun) = name.split_once(':').ok_or_else(unknown)?;
    match verb {
        "register" => {
            let article = Article::from_name(noun).ok_or_else(unknown)?;
            decode::register_request(article, fields).map(Op::Register)
        }
        "deregister" => {
            let article = Article::from_name(noun).ok_or_else(unknown)?;
            decode_deregister(article, fields)
        }
        "query" => match noun {
            "local-node" => Ok(Op::QueryLocalNode),
            "neighbours" => {
                Filter::decode(Article::Node, fields, Entity::Neighbours).map(Op::QueryNeighbours)
            }
            "service-wiring" => decode_service_wiring(fields),
            plural => {
                let article = Article::from_plural(plural).ok_or_else(unknown)?;
                let filter = Filter::decode(article, fields, article.entity())?;
                Ok(Op::Query { article, filter })
            }
        },
        _ => Err(unknown()),
    }
}

fn decode_deregister(article: Article, map: &Map<String, Value>) -> Result<Op, Status> {
    let fields = Fields::new(map, Operation::Deregister, article.entity());
    let field = article.key_field();
    let key = fields.required_str(field)?;
    let checked = match article {
        Article::System => ident::split_system_id(key).map(|_| ()),
        _ => ident::check_plain(key),
    };
    checked.map_err(|reason| fields.invalid(format!("field {field} {reason}")))?;
    Ok(Op::Deregister {
        article,
        key: key.to_string(),
    })
}

fn decode_service_wiring(map: &Map<String, Value>) -> Result<Op, Status> {
    let fields = Fields::new(map, Operation::Query, Entity::System);
    let pattern = |name: &str| -> Result<Option<Pattern>, Status> {
        fields
            .optional_str(name)
            .map(|text| text.map(Pattern::new))
            .map_err(|_| fields.invalid(format!("filter {name} must be a string")))
    };
    Ok(Op::QueryServiceWiring {
        from: pattern("from")?,
        to: pattern("to")?,
    })
}
