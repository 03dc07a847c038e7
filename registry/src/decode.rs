//! Decoding of one record from the members of a `register:<article>` request or a stored body.
//! Checks only what one record can show by itself; it never looks at other records.

use serde_json::{Map, Value};

use crate::article::Article;
use crate::fields::Fields;
use crate::ident;
use crate::records::{
    shared_services, Bearer, Interface, Loc, Meta, Mode, Node, Platform, Record, Service,
    ServiceSpec, ServiceType, Services, System, SystemState, SystemType, TypeRecord, User,
};
use crate::status::{Operation, Status};

/// Decodes the record a `register:<article>` request describes. A system's services are left
/// empty: they are instantiated from its system type by the registry.
pub fn register_request(article: Article, map: &Map<String, Value>) -> Result<Record, Status> {
    let fields = Fields::new(map, Operation::Register, article.entity());
    let record = match article {
        Article::Node => Record::Node(node(&fields)?),
        Article::NodeType => Record::NodeType(type_record(&fields)?),
        Article::Bearer => Record::Bearer(bearer(&fields)?),
        Article::PlatformType => Record::PlatformType(type_record(&fields)?),
        Article::Platform => Record::Platform(platform(&fields)?),
        Article::ServiceType => Record::ServiceType(service_type(&fields)?),
        Article::SystemType => Record::SystemType(system_type(&fields)?),
        Article::System => Record::System(system(&fields)?),
        Article::UserType => Record::UserType(type_record(&fields)?),
        Article::User => Record::User(user(&fields)?),
    };
    Ok(record)
}

/// Decodes a body written by [`Record::stored_body`]; the reason names the offending member.
pub fn stored_body(article: Article, body: &Value) -> Result<Record, String> {
    let Value::Object(map) = body else {
        return Err("body is not a JSON object".to_string());
    };
    let mut record = register_request(article, map).map_err(|status| status.msg)?;
    if let Record::System(system) = &mut record {
        let fields = Fields::new(map, Operation::Register, article.entity());
        system.services = stored_services(&fields, &system.id).map_err(|status| status.msg)?;
    }
    if let Record::SystemType(system_type) = &record {
        if system_type.services.iter().any(|spec| spec.mode.is_none()) {
            return Err("a service of the system type has no mode".to_string());
        }
    }
    Ok(record)
}

fn meta(fields: &Fields<'_>) -> Result<Meta, Status> {
    Ok(Meta {
        desc: fields.optional_str("desc")?.map(str::to_string),
        attr: fields.optional_object("attr")?,
    })
}

fn type_record(fields: &Fields<'_>) -> Result<TypeRecord, Status> {
    Ok(TypeRecord {
        name: fields.plain_id("type")?,
        meta: meta(fields)?,
    })
}

fn node(fields: &Fields<'_>) -> Result<Node, Status> {
    let id = fields.plain_id("id")?;
    let items = fields
        .optional_array("interfaces")?
        .ok_or_else(|| fields.invalid("missing field interfaces"))?;
    if items.is_empty() {
        return Err(fields.invalid("field interfaces must not be empty"));
    }
    let mut interfaces = Vec::with_capacity(items.len());
    for (index, item) in items.iter().enumerate() {
        let context = format!("interfaces[{index}]");
        let Value::Object(object) = item else {
            return Err(fields.invalid(format!("field {context} must be an object")));
        };
        let member = fields.nested(object);
        let name = member
            .plain_id("node-interface")
            .map_err(|status| fields.invalid(format!("{context}: {}", status.msg)))?;
        let address = member
            .required_str("address")
            .map_err(|status| fields.invalid(format!("{context}: {}", status.msg)))?;
        check_address(address)
            .map_err(|reason| fields.invalid(format!("field {context}.address {reason}")))?;
        interfaces.push(Interface {
            name,
            address: address.to_string(),
        });
    }
    Ok(Node {
        id,
        node_type: fields.optional_plain_id("type")?,
        interfaces,
        meta: meta(fields)?,
    })
}

fn bearer(fields: &Fields<'_>) -> Result<Bearer, Status> {
    let id = fields.plain_id("id")?;
    let available = match fields.required("available")? {
        Value::Bool(value) => *value,
        Value::String(text) if text == "true" => true,
        Value::String(text) if text == "false" => false,
        _ => {
            return Err(
                fields.invalid("field available must be \"true\", \"false\" or a JSON boolean")
            )
        }
    };
    Ok(Bearer {
        id,
        available,
        meta: meta(fields)?,
    })
}

fn platform(fields: &Fields<'_>) -> Result<Platform, Status> {
    let id = fields.plain_id("id")?;
    let platform_type = fields.plain_id("type")?;
    let loc = match fields.optional_object("loc")? {
        None => None,
        Some(object) => {
            let lat = fields
                .number_in(&object, "loc", "lat")?
                .ok_or_else(|| fields.invalid("missing field loc.lat"))?;
            let long = fields
                .number_in(&object, "loc", "long")?
                .ok_or_else(|| fields.invalid("missing field loc.long"))?;
            let alt = fields.number_in(&object, "loc", "alt")?;
            Some(Loc { lat, long, alt })
        }
    };
    Ok(Platform {
        id,
        platform_type,
        loc,
        meta: meta(fields)?,
    })
}

fn mode_field(
    fields: &Fields<'_>,
    value: Option<&str>,
    name: &str,
) -> Result<Option<Mode>, Status> {
    match value {
        None => Ok(None),
        Some(text) => Mode::parse(text).map(Some).ok_or_else(|| {
            fields.invalid(format!(
                "field {name} must be one of output-feed, input-feed, notification, listener, solicit-response, request-response"
            ))
        }),
    }
}

fn service_type(fields: &Fields<'_>) -> Result<ServiceType, Status> {
    let name = fields.plain_id("type")?;
    let mode_text = fields.required_str("mode")?;
    let mode = mode_field(fields, Some(mode_text), "mode")?
        .ok_or_else(|| fields.invalid("missing field mode"))?;
    Ok(ServiceType {
        name,
        mode,
        schema: fields.get("schema").cloned(),
        meta: meta(fields)?,
    })
}

fn system_type(fields: &Fields<'_>) -> Result<SystemType, Status> {
    let name = fields.plain_id("type")?;
    let items = fields
        .optional_array("services")?
        .ok_or_else(|| fields.invalid("missing field services"))?;
    if items.is_empty() {
        return Err(fields.invalid("field services must not be empty"));
    }
    let mut services: Vec<ServiceSpec> = Vec::with_capacity(items.len());
    for (index, item) in items.iter().enumerate() {
        let context = format!("services[{index}]");
        let Value::Object(object) = item else {
            return Err(fields.invalid(format!("field {context} must be an object")));
        };
        let member = fields.nested(object);
        let prefixed = |status: Status| fields.invalid(format!("{context}: {}", status.msg));
        let service_type = member.plain_id("type").map_err(prefixed)?;
        let name = member
            .optional_plain_id("id")
            .map_err(prefixed)?
            .unwrap_or_else(|| service_type.clone());
        let mode = mode_field(
            &member,
            member.optional_str("mode").map_err(prefixed)?,
            "mode",
        )
        .map_err(prefixed)?;
        if services.iter().any(|existing| existing.name == name) {
            return Err(fields.invalid(format!(
                "field {context}.id: service name {name} appears more than once"
            )));
        }
        services.push(ServiceSpec {
            name,
            service_type,
            mode,
            meta: meta(&member).map_err(prefixed)?,
        });
    }
    Ok(SystemType {
        name,
        services,
        meta: meta(fields)?,
    })
}

fn system(fields: &Fields<'_>) -> Result<System, Status> {
    let id = fields.required_str("id")?;
    ident::split_system_id(id).map_err(|reason| fields.invalid(format!("field id {reason}")))?;
    Ok(System {
        id: id.to_string(),
        system_type: fields.plain_id("type")?,
        user: fields.optional_plain_id("user")?,
        meta: meta(fields)?,
        services: Services::default(),
        state: SystemState::Stopped,
        owner: None,
    })
}

fn stored_services(fields: &Fields<'_>, system_id: &str) -> Result<Services, Status> {
    let items = fields
        .optional_array("services")?
        .ok_or_else(|| fields.invalid("missing field services"))?;
    let mut services = Vec::with_capacity(items.len());
    for item in items {
        let Value::Object(object) = item else {
            return Err(fields.invalid("field services must hold objects"));
        };
        let member = fields.nested(object);
        let id = member.required_str("id")?;
        let name = id
            .strip_prefix(system_id)
            .and_then(|rest| rest.strip_prefix('/'))
            .filter(|name| ident::check_plain(name).is_ok())
            .ok_or_else(|| fields.invalid(format!("service id {id} is not under {system_id}")))?;
        let mode = mode_field(&member, Some(member.required_str("mode")?), "mode")?
            .ok_or_else(|| fields.invalid("missing field mode"))?;
        services.push(Service {
            name: name.to_string(),
            service_type: member.plain_id("type")?,
            mode,
        });
    }
    Ok(shared_services(services))
}

fn user(fields: &Fields<'_>) -> Result<User, Status> {
    Ok(User {
        id: fields.plain_id("id")?,
        user_type: fields.plain_id("type")?,
        affil: fields.optional_str("affil")?.map(str::to_string),
        meta: meta(fields)?,
    })
}

/// Checks a node interface address `scheme://host:port` (IPv6 hosts in brackets).
pub fn check_address(address: &str) -> Result<(), String> {
    let (scheme, authority) = address
        .split_once("://")
        .ok_or_else(|| "must have the form scheme://host:port".to_string())?;
    let mut scheme_chars = scheme.chars();
    let scheme_ok = scheme_chars.next().is_some_and(|c| c.is_ascii_alphabetic())
        && scheme_chars.all(|c| c.is_ascii_alphanumeric() || matches!(c, '+' | '-' | '.'));
    if !scheme_ok {
        return Err("has an invalid scheme".to_string());
    }
    let (host, port) = if let Some(bracketed) = authority.strip_prefix('[') {
        let (host, rest) = bracketed
            .split_once(']')
            .ok_or_else(|| "has an unclosed '[' in its host".to_string())?;
        let port = rest
            .strip_prefix(':')
            .ok_or_else(|| "must end with :port".to_string())?;
        (host, port)
    } else {
        authority
            .rsplit_once(':')
            .ok_or_else(|| "must end with :port".to_string())?
    };
    let host_ok = !host.is_empty()
        && !host
            .chars()
            .any(|c| c.is_whitespace() || c.is_control() || matches!(c, '/' | '@' | '[' | ']'))
        && (authority.starts_with('[') || !host.contains(':'));
    if !host_ok {
        return Err("has an invalid host".to_string());
    }
    let port_ok = !port.is_empty()
        && port.len() <= 5
        && port.chars().all(|c| c.is_ascii_digit())
        && port.parse::<u32>().is_ok_and(|value| value <= 65535);
    if !port_ok {
        return Err("must end with a numeric port (0-65535)".to_string());
    }
    Ok(())
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
mod tests {
    use super::*;

    #[test]
    fn addresses() {
        for good in [
            "ip://10.10.1.2:1885",
            "tcp://[::1]:1883",
            "mqtt://broker.example.com:0",
            "a+b.c-d://h:65535",
        ] {
            assert_eq!(check_address(good), Ok(()), "{good}");
        }
        for bad in [
            "10.10.1.2:1885",
            "ip://10.10.1.2",
            "ip://10.10.1.2:",
            "ip://10.10.1.2:http",
            "ip://10.10.1.2:65536",
            "ip://:1883",
            "ip://::1:1883",
            "ip://[::1:1883",
            "ip://[::1]1883",
            "ip://host/path:1883",
            "ip://host:1883/path",
            "1ip://host:1883",
            "://host:1883",
            "ip://ho st:1883",
        ] {
            assert!(check_address(bad).is_err(), "{bad}");
        }
    }
}
