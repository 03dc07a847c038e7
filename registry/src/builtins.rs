//! The records every fresh registry holds (spec §1). They are seeded at open, never stored,
//! and can be neither replaced nor deregistered.

use crate::article::Article;
use crate::records::{Meta, Mode, Record, ServiceSpec, ServiceType, SystemType, TypeRecord};

pub const PLATFORM_TYPES: [&str; 3] = ["app", "service", "sensor"];

pub const SERVICE_TYPES: [(&str, Mode); 6] = [
    ("untyped_output_feed", Mode::OutputFeed),
    ("untyped_input_feed", Mode::InputFeed),
    ("untyped_notification", Mode::Notification),
    ("untyped_listener", Mode::Listener),
    ("untyped_solicit_response", Mode::SolicitResponse),
    ("untyped_request_response", Mode::RequestResponse),
];

pub const SYSTEM_TYPE: &str = "simple_system";

pub fn records() -> Vec<Record> {
    let mut records: Vec<Record> = PLATFORM_TYPES
        .iter()
        .map(|name| {
            Record::PlatformType(TypeRecord {
                name: name.to_string(),
                meta: Meta::default(),
            })
        })
        .collect();
    records.extend(SERVICE_TYPES.iter().map(|(name, mode)| {
        Record::ServiceType(ServiceType {
            name: name.to_string(),
            mode: *mode,
            schema: None,
            meta: Meta::default(),
        })
    }));
    records.push(Record::SystemType(SystemType {
        name: SYSTEM_TYPE.to_string(),
        services: SERVICE_TYPES
            .iter()
            .map(|(name, mode)| ServiceSpec {
                name: name.to_string(),
                service_type: name.to_string(),
                mode: Some(*mode),
                meta: Meta::default(),
            })
            .collect(),
        meta: Meta::default(),
    }));
    records
}

pub fn is_builtin(article: Article, key: &str) -> bool {
    match article {
        Article::PlatformType => PLATFORM_TYPES.contains(&key),
        Article::ServiceType => SERVICE_TYPES.iter().any(|(name, _)| *name == key),
        Article::SystemType => key == SYSTEM_TYPE,
        _ => false,
    }
}
