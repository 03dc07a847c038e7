//! `notify`, `request`, `response` and request timeouts (spec §6.4, §6.5). Every recipient is
//! checked before anything is sent: one bad recipient and nobody gets anything.

use std::time::{Duration, Instant};

use serde_json::{json, Value};

use super::{acting_for, recipient};
use crate::op::Payload;
use crate::outcome::{Delivery, Outcome};
use crate::pending::{PendingKey, PendingTable};
use crate::records::Mode;
use crate::registry::Registry;
use crate::status::{Entity, Kind, Operation, Status};

/// The owners of `targets`, in order, or the first failure.
fn recipients(
    registry: &Registry,
    targets: &[String],
    mode: Mode,
    operation: Operation,
) -> Result<Vec<String>, Status> {
    targets
        .iter()
        .map(|target| recipient(registry, target, mode, operation).map(str::to_string))
        .collect()
}

/// `notify`: a `notification` for the owner of each listener.
pub fn notify(
    registry: &Registry,
    client: &str,
    correl: &Value,
    notification: &str,
    listeners: &[String],
    payload: &Payload,
) -> Outcome {
    let checked = acting_for(
        registry,
        client,
        notification,
        Mode::Notification,
        Operation::Notify,
    )
    .and_then(|_| recipients(registry, listeners, Mode::Listener, Operation::Notify));
    let owners = match checked {
        Ok(owners) => owners,
        Err(status) => return Outcome::status_only(correl, status),
    };
    let deliveries = listeners
        .iter()
        .zip(owners)
        .map(|(listener, owner)| Delivery {
            client_id: owner,
            message: json!({
                "op": "notification",
                "notification": notification,
                "listener": listener,
                "msg": payload.msg,
                "encoding": payload.encoding,
            }),
        })
        .collect();
    Outcome::new(
        correl,
        Vec::new(),
        deliveries,
        Status::ok(Operation::Notify, Entity::System),
    )
}

/// What a `request` asks for.
pub struct RequestArgs<'a> {
    pub solicit_response: &'a str,
    pub targets: &'a [String],
    pub payload: &'a Payload,
    pub timeout: Option<Duration>,
    /// Most requests one client may have pending.
    pub max_pending: usize,
}

/// `request`: a `request` for the owner of each target, remembered until answered, timed out
/// or the requester stops.
pub fn request(
    registry: &Registry,
    pending: &mut PendingTable,
    client: &str,
    correl: &Value,
    args: &RequestArgs<'_>,
    now: Instant,
) -> Outcome {
    let checked = acting_for(
        registry,
        client,
        args.solicit_response,
        Mode::SolicitResponse,
        Operation::Request,
    )
    .and_then(|_| {
        recipients(
            registry,
            args.targets,
            Mode::RequestResponse,
            Operation::Request,
        )
    });
    let owners = match checked {
        Ok(owners) => owners,
        Err(status) => return Outcome::status_only(correl, status),
    };
    let already = pending.count(client);
    if already + args.targets.len() > args.max_pending {
        let status = Status::new(
            Kind::TooMany,
            Operation::Request,
            Entity::System,
            format!(
                "too many pending requests: {already} pending, at most {} allowed",
                args.max_pending
            ),
        );
        return Outcome::status_only(correl, status);
    }
    // A timeout too far ahead to represent is no timeout at all.
    let deadline = args.timeout.and_then(|timeout| now.checked_add(timeout));
    let mut deliveries = Vec::with_capacity(owners.len());
    for (target, owner) in args.targets.iter().zip(owners) {
        pending.insert(
            PendingKey::new(correl, args.solicit_response, target),
            correl.clone(),
            client,
            deadline,
        );
        deliveries.push(Delivery {
            client_id: owner,
            message: json!({
                "op": "request",
                "correl": correl,
                "solicit-response": args.solicit_response,
                "request-response": target,
                "msg": args.payload.msg,
                "encoding": args.payload.encoding,
            }),
        });
    }
    Outcome::new(
        correl,
        Vec::new(),
        deliveries,
        Status::ok(Operation::Request, Entity::System),
    )
}

/// `response`: passes the answer to the requester's owner if the request is still pending.
pub fn response(
    registry: &Registry,
    pending: &mut PendingTable,
    client: &str,
    correl: &Value,
    request_response: &str,
    solicit_response: &str,
    payload: &Payload,
) -> Outcome {
    if let Err(status) = acting_for(
        registry,
        client,
        request_response,
        Mode::RequestResponse,
        Operation::Response,
    ) {
        return Outcome::status_only(correl, status);
    }
    let key = PendingKey::new(correl, solicit_response, request_response);
    let Some(request) = pending.take(&key) else {
        let status = Status::new(
            Kind::NotFound,
            Operation::Response,
            Entity::System,
            format!(
                "no pending request {correl} from {solicit_response} to {request_response} (answered, timed out or never made)"
            ),
        );
        return Outcome::status_only(correl, status);
    };
    let delivery = Delivery {
        client_id: request.client,
        message: json!({
            "op": "response",
            "correl": request.correl,
            "request-response": request_response,
            "solicit-response": solicit_response,
            "msg": payload.msg,
            "encoding": payload.encoding,
        }),
    };
    Outcome::new(
        correl,
        Vec::new(),
        vec![delivery],
        Status::ok(Operation::Response, Entity::System),
    )
}

/// Times out every pending request due at `now`: the requester's owner gets a `40A0A` status
/// carrying the request's correl.
pub fn expire(pending: &mut PendingTable, now: Instant) -> Outcome {
    let deliveries = pending
        .expire(now)
        .into_iter()
        .map(|(key, request)| {
            let status = Status::new(
                Kind::Timeout,
                Operation::Request,
                Entity::System,
                format!("request to {} timed out", key.target),
            );
            Delivery {
                client_id: request.client,
                message: crate::outcome::status_message(&request.correl, &status),
            }
        })
        .collect();
    Outcome::unsolicited(deliveries, Status::ok(Operation::Request, Entity::System))
}
