//! Handlers of the runtime ops of spec §6, as functions over the in-memory state the engine
//! has locked for them. They return replies and deliveries as data; locking is the engine's job.

pub mod feeds;
pub mod messages;
pub mod state;

use crate::records::{Mode, System, SystemState};
use crate::registry::Registry;
use crate::status::{Kind, Operation, Status};

/// The system of a service id `p/s/f` and the service's name.
fn split_service(service_id: &str) -> (&str, &str) {
    service_id.rsplit_once('/').unwrap_or((service_id, ""))
}

/// Checks that `service_id` is a `mode` service of a running system owned by `client`, the
/// service the sender acts for. Failures are class 2 (not found, not running, wrong mode) or
/// class 3 (owned by someone else) of `operation`.
pub fn acting_for<'a>(
    registry: &'a Registry,
    client: &str,
    service_id: &str,
    mode: Mode,
    operation: Operation,
) -> Result<&'a System, Status> {
    let failed =
        |kind, msg: String| Status::new(kind, operation, crate::status::Entity::System, msg);
    let (system_id, name) = split_service(service_id);
    let Some(system) = registry.system(system_id) else {
        return Err(failed(
            Kind::NotFound,
            format!("system {system_id} is not registered"),
        ));
    };
    if system.state != SystemState::Running {
        return Err(failed(
            Kind::WrongState,
            format!("system {system_id} is not running"),
        ));
    }
    if system.owner.as_deref() != Some(client) {
        return Err(failed(
            Kind::Denied,
            format!("system {system_id} is owned by another client"),
        ));
    }
    check_mode(system, name, service_id, mode).map_err(|(kind, msg)| failed(kind, msg))?;
    Ok(system)
}

/// Checks that `service_id` is a `mode` service of a running system, and returns the client
/// that owns it (the one messages for it go to).
pub fn recipient<'a>(
    registry: &'a Registry,
    service_id: &str,
    mode: Mode,
    operation: Operation,
) -> Result<&'a str, Status> {
    let failed =
        |kind, msg: String| Status::new(kind, operation, crate::status::Entity::System, msg);
    let (system_id, name) = split_service(service_id);
    let Some(system) = registry.system(system_id) else {
        return Err(failed(
            Kind::NotFound,
            format!("system {system_id} of {service_id} is not registered"),
        ));
    };
    check_mode(system, name, service_id, mode).map_err(|(kind, msg)| failed(kind, msg))?;
    system.owner.as_deref().ok_or_else(|| {
        failed(
            Kind::WrongState,
            format!("system {system_id} of {service_id} is not running"),
        )
    })
}

fn check_mode(
    system: &System,
    name: &str,
    service_id: &str,
    mode: Mode,
) -> Result<(), (Kind, String)> {
    match system.services.iter().find(|service| service.name == name) {
        None => Err((
            Kind::NotFound,
            format!("service {service_id} is not registered"),
        )),
        Some(service) if service.mode != mode => Err((
            Kind::WrongState,
            format!(
                "service {service_id} is a {} service, not {}",
                service.mode.as_str(),
                mode.as_str()
            ),
        )),
        Some(_) => Ok(()),
    }
}
