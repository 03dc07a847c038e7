//! `state:system`, `disconnect` and the end of a client's session (spec §6.1, §6.6): starting
//! makes the sender the owner; stopping cancels the system's subscriptions and its pending
//! requests. Stopping tells no one else anything.

use serde_json::{json, Value};

use crate::outcome::Outcome;
use crate::pending::PendingTable;
use crate::records::{Mode, SystemState};
use crate::registry::Registry;
use crate::status::{Entity, Kind, Operation, Status};

fn failed(kind: Kind, msg: String) -> Status {
    Status::new(kind, Operation::StateChange, Entity::System, msg)
}

/// `state:system`: start (the sender becomes the owner) or stop (owner only).
pub fn change(
    registry: &mut Registry,
    pending: &mut PendingTable,
    client: &str,
    correl: &Value,
    system_id: &str,
    wanted: SystemState,
) -> Outcome {
    let Some(system) = registry.system(system_id) else {
        return Outcome::status_only(
            correl,
            failed(
                Kind::NotFound,
                format!("system {system_id} is not registered"),
            ),
        );
    };
    match (system.state, wanted) {
        (SystemState::Running, SystemState::Running) => {
            return Outcome::status_only(
                correl,
                failed(
                    Kind::WrongState,
                    format!("system {system_id} is already running"),
                ),
            )
        }
        (SystemState::Stopped, SystemState::Stopped) => {
            return Outcome::status_only(
                correl,
                failed(
                    Kind::WrongState,
                    format!("system {system_id} is not running"),
                ),
            )
        }
        (SystemState::Running, SystemState::Stopped) if system.owner.as_deref() != Some(client) => {
            return Outcome::status_only(
                correl,
                failed(
                    Kind::Denied,
                    format!("system {system_id} is owned by another client"),
                ),
            )
        }
        (SystemState::Stopped, SystemState::Running) => {
            registry.set_system_state(system_id, SystemState::Running, Some(client.to_string()));
        }
        (SystemState::Running, SystemState::Stopped) => stop(registry, pending, system_id),
    }
    Outcome::new(
        correl,
        vec![json!({
            "op": "state-change:system",
            "correl": correl,
            "id": system_id,
            "state": wanted.as_str(),
        })],
        Vec::new(),
        Status::ok(Operation::StateChange, Entity::System),
    )
}

/// `disconnect`: a client may only disconnect itself.
pub fn disconnect(
    registry: &mut Registry,
    pending: &mut PendingTable,
    client: &str,
    correl: &Value,
    named: &str,
) -> Outcome {
    if named != client {
        return Outcome::status_only(
            correl,
            failed(
                Kind::Denied,
                format!("client-id {named} is not the sender's client id"),
            ),
        );
    }
    stop_owned_by(registry, pending, client);
    Outcome::status_only(correl, Status::ok(Operation::StateChange, Entity::System))
}

/// Stops every system `client` owns, in id order; returns their ids.
pub fn stop_owned_by(
    registry: &mut Registry,
    pending: &mut PendingTable,
    client: &str,
) -> Vec<String> {
    let owned: Vec<String> = registry
        .systems()
        .filter(|system| system.owner.as_deref() == Some(client))
        .map(|system| system.id.clone())
        .collect();
    for system_id in &owned {
        stop(registry, pending, system_id);
    }
    owned
}

/// Stops a system: no owner; its input feeds lose their wirings and remembered patterns; its
/// pending requests are dropped. Wirings from its output feeds stay (their consumers chose
/// them, and it publishes nothing until it runs again).
fn stop(registry: &mut Registry, pending: &mut PendingTable, system_id: &str) {
    registry.set_system_state(system_id, SystemState::Stopped, None);
    for (input_feed, mode) in registry.service_ids(system_id) {
        if mode != Mode::InputFeed {
            continue;
        }
        let producers: Vec<String> = registry
            .wiring()
            .producers(&input_feed)
            .map(str::to_string)
            .collect();
        for producer in producers {
            registry.wiring_mut().remove(&producer, &input_feed);
        }
    }
    registry.patterns_mut().remove_system(system_id);
    pending.drop_requester_system(system_id);
}
