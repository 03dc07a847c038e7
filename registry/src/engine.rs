//! The op engine: the single place where an op is decoded, checked, applied and answered.
//! It does no IO of its own beyond the store commit; replies and deliveries are returned as data.
//! It reads no clock either: time comes in as a parameter.

use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use parking_lot::{Mutex, RwLock};
use serde_json::{json, Value};

pub use crate::outcome::{Delivery, Encoded, Outcome};

use crate::article::Article;
use crate::envelope;
use crate::export;
use crate::group_commit::{GroupCommit, WriteError};
use crate::handlers::{feeds, messages, state};
use crate::ident;
use crate::load;
use crate::op::{self, Op};
use crate::overlay::Staged;
use crate::pending::PendingTable;
use crate::query::Filter;
use crate::registry::{plan, Plan, Registry};
use crate::status::{Entity, Kind, Operation, Status};
use crate::store::{Store, StoreError};
use crate::wildcard::Pattern;
use crate::wiring::Wiring;

/// Engine settings; [`EngineConfig::new`] gives the spec defaults.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EngineConfig {
    /// The local node's id, reported by `query:local-node`.
    pub node_id: String,
    /// Requests above this many bytes are refused with `50102` unparsed.
    pub max_request_bytes: usize,
    /// JSON nested deeper than this many levels is refused with `10102`.
    pub max_depth: usize,
    /// Requests one client may have awaiting a response; beyond it `request` is `50A0A`.
    pub max_pending_requests_per_client: usize,
    /// Longest plain identifier (id, type name, service name, each segment of a system or
    /// service id), in characters; longer ones are refused with class `1`.
    pub max_identifier_chars: usize,
    /// Wirings plus remembered patterns the running systems of one client may hold; a
    /// `subscribe` that would go beyond it is `5070A` and changes nothing.
    pub max_subscriptions_per_client: usize,
    /// The timeout of a `request` without `timeout-ms`. `None`: such a request is pending
    /// until answered or until its requester stops.
    pub default_request_timeout: Option<Duration>,
}

impl EngineConfig {
    pub const DEFAULT_MAX_REQUEST_BYTES: usize = 1 << 20;
    pub const DEFAULT_MAX_DEPTH: usize = 128;
    pub const DEFAULT_MAX_PENDING_REQUESTS_PER_CLIENT: usize = 1024;
    pub const DEFAULT_MAX_IDENTIFIER_CHARS: usize = 256;
    pub const DEFAULT_MAX_SUBSCRIPTIONS_PER_CLIENT: usize = 10_000;

    pub fn new(node_id: impl Into<String>) -> Self {
        EngineConfig {
            node_id: node_id.into(),
            max_request_bytes: Self::DEFAULT_MAX_REQUEST_BYTES,
            max_depth: Self::DEFAULT_MAX_DEPTH,
            max_pending_requests_per_client: Self::DEFAULT_MAX_PENDING_REQUESTS_PER_CLIENT,
            max_identifier_chars: Self::DEFAULT_MAX_IDENTIFIER_CHARS,
            max_subscriptions_per_client: Self::DEFAULT_MAX_SUBSCRIPTIONS_PER_CLIENT,
            default_request_timeout: None,
        }
    }
}

/// The op engine. `handle` may be called concurrently from many threads (the MQTT adapter's
/// lanes, HTTP's blocking threads).
///
/// # Writes: group commit
/// `register:*` and `deregister:*` go through the group commit (`group_commit.rs`): each is checked under the
/// staging lock against committed memory plus the changes staged for the next commit (so an op
/// may depend on one not yet committed, e.g. a platform type and then a platform), joins the
/// open batch and waits. The first waiter that finds no commit running commits the whole batch
/// in one store transaction, applies it to memory and wakes everyone; ops arriving meanwhile
/// form the next batch. An op is answered `00000` only after its batch is durable and in
/// memory, so a client that got `00000` sees the record in its next query. A failed commit
/// answers class `F` naming the cause ("store commit failed: store is full (…)") to every op of
/// its batch and of the batch staged behind it, and leaves memory and store unchanged. A lone
/// writer leads its own batch at once: it waits for nothing but its own commit.
///
/// # Reads
/// Queries, `publish`, `notify`, `request` and `response` read committed memory under the
/// registry's shared lock and never wait for a commit; a record is visible once acknowledged.
///
/// # Runtime state and locks
/// Owners, running state, wirings and remembered patterns live in the registry (memory only,
/// never stored); pending requests in their own table. The checks of a system write depend on
/// its system's running state (a running system keeps its type and services and cannot be
/// deregistered), so ops that start or stop systems (`state:system`, `disconnect`,
/// [`Engine::client_gone`]) first wait until no system write is staged, holding new system
/// writes back meanwhile, and keep the staging lock while they run. `subscribe` and
/// `unsubscribe` change only wirings and patterns, which a staged write does not depend on
/// (a feed that appears when a batch is applied is wired to the patterns remembered then); they
/// take the registry lock alone. Locks are always taken in the order staging → registry →
/// pending requests, each at most once; the store lock is taken only by a committing leader that
/// holds no other lock. So they cannot deadlock.
///
/// # Choices where the protocol is silent
/// - An optional member given as JSON `null` counts as absent (request fields and filters).
/// - Bearer `available` may be registered as `"true"`/`"false"` or a JSON boolean; it is always
///   reported as the string, and the `available` filter accepts either form.
/// - A system type's service `mode` defaults to its service type's mode and may name any of the
///   six modes, so one data type can be produced by one system and consumed by another.
/// - Re-registering a built-in is refused like deregistering one (`202AA`, "built-in").
/// - Re-registering a system type does not change existing systems: a system keeps the services
///   it was instantiated with until it is itself re-registered while stopped. Those services keep
///   their service types in use.
/// - Node interface names follow the identifier rules; `query:neighbours` takes the filters of
///   `query:nodes`; `query:service-wiring` reports errors against the system entity (`1040A`).
/// - Query results are ordered by key.
///
/// # Choices for the runtime ops (spec §6)
/// - `state:system`: starting a running system is `2050A` even for its own owner; stopping a
///   stopped one is `2050A` whoever asks; only stopping another client's running system is
///   `3050A`. Stopping removes the wirings into the system's input feeds and their remembered
///   patterns, and drops the requests its services are waiting on. Wirings from its output
///   feeds stay: their consumers chose them, and a stopped producer publishes nothing until it
///   runs again (under whichever client starts it). Nobody is told about a stop.
/// - Ownership checks run in this order: system registered, system running, sender owns it,
///   service exists with the right mode. So a non-owner learns only that the system runs.
/// - `msg` is required in `publish`, `notify`, `request` and `response` and may be any JSON
///   value, `null` included; it is passed on unchanged. `encoding` is any string, `ascii`
///   when absent or `null`.
/// - Subscription patterns: three segments, each an identifier that may contain `*`; a `*`
///   matches any run of characters inside its segment, never a `/`. `output-feeds` must be a
///   non-empty array. Patterns match registered `output-feed` services of any system, running
///   or not. The `subscriptions` reply lists, in id order, every feed these patterns now wire
///   (including feeds an earlier subscribe had already wired).
/// - Remembered patterns apply to feeds that appear later: registering a system (or
///   re-registering a stopped one so that it gains output feeds) wires each new output feed to
///   every input feed with a matching pattern and sends that input feed's owner one
///   unsolicited `subscriptions` per input feed (no `correl`). Re-registering a stopped system
///   so that it loses output feeds sends `lost-subscriptions`, as deregistering does.
/// - `unsubscribe` with `output-feeds` removes the input feed's wirings whose output feed
///   matches any given pattern, and the remembered patterns textually equal to a given one; a
///   broader remembered pattern stays and still applies to feeds registered later. Without
///   `output-feeds` (or with `null`) everything of that input feed goes. An empty array is
///   `1080A`. Unsubscribing what is not subscribed succeeds.
/// - `notify` `listener` and `request` `request-response` take a non-empty array of service
///   ids or a single id as a string; repeated ids count once, in first-seen order. All
///   recipients are checked before anything is sent.
/// - `request`: `timeout-ms` is a non-negative integer; `0` is due at once. Without it a
///   request stays pending until answered or until the requester's system stops (a target
///   stopping does not cancel it). A client may have at most
///   [`EngineConfig::max_pending_requests_per_client`] requests pending (one per target);
///   beyond that `request` is `50A0A` and nothing is sent. Re-using a correl for the same
///   requester and target replaces the pending entry.
/// - `response` must carry the request's `correl` (`10B0A` without one, since the envelope
///   would otherwise invent one). A response to a request that is not pending (unknown, already
///   answered, timed out, or its requester stopped) is `20B0A` "no pending request" and is
///   delivered to nobody. Correls `1` and `"1"` are different requests.
/// - Timeouts are produced by [`Engine::expire`]: one unsolicited `40A0A` status per target
///   that did not answer, for the owner of the requester's system at the time of the request.
/// - `disconnect` and [`Engine::client_gone`] stop the client's systems exactly like
///   `state:system` stopping each; `disconnect` replies with the status only.
pub struct Engine {
    config: EngineConfig,
    registry: RwLock<Registry>,
    commits: GroupCommit,
    pending: Mutex<PendingTable>,
    /// Counts `request` ops handled: a pending request (and its deadline) can only appear
    /// through one. Lets a transport's timer skip the wake-up after every other op.
    deadlines: AtomicU64,
}

/// A decoded op that may wait for a store commit or scan the registry: returned by
/// [`Engine::handle_nonblocking`] and run by [`Engine::finish`].
#[derive(Debug)]
pub struct Deferred {
    op: Box<Op>,
    name: String,
    correl: Value,
}

/// Whether running `op` may wait for a commit (writes, and starting or stopping systems, which
/// wait until no system write is staged) or may take long (queries and subscriptions scan the
/// registry). Everything else reads memory under short locks.
fn may_wait(op: &Op) -> bool {
    match op {
        Op::QueryLocalNode
        | Op::Publish { .. }
        | Op::Notify { .. }
        | Op::Request { .. }
        | Op::Response { .. } => false,
        Op::Register(_)
        | Op::Deregister { .. }
        | Op::Query { .. }
        | Op::QueryNeighbours(_)
        | Op::QueryServiceWiring { .. }
        | Op::StateSystem { .. }
        | Op::Disconnect { .. }
        | Op::Subscribe { .. }
        | Op::Unsubscribe { .. } => true,
    }
}

impl std::fmt::Debug for Engine {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Engine")
            .field("config", &self.config)
            .finish_non_exhaustive()
    }
}

impl Engine {
    /// Loads every stored record into memory, on top of the built-ins.
    pub fn open(config: EngineConfig, mut store: Box<dyn Store>) -> Result<Engine, StoreError> {
        let mut registry = Registry::with_builtins();
        let rows = store.load()?;
        let records = load::decode_rows(&rows)?;
        drop(rows);
        registry.load(records);
        Ok(Engine {
            config,
            registry: RwLock::new(registry),
            commits: GroupCommit::new(store),
            pending: Mutex::new(PendingTable::default()),
            deadlines: AtomicU64::new(0),
        })
    }

    #[cfg(test)]
    pub(crate) fn registry(&self) -> &RwLock<Registry> {
        &self.registry
    }

    #[cfg(test)]
    pub(crate) fn group_commit(&self) -> &GroupCommit {
        &self.commits
    }

    pub fn node_id(&self) -> &str {
        &self.config.node_id
    }

    pub fn config(&self) -> &EngineConfig {
        &self.config
    }

    /// Handles one request from `client_id`. `now` is the time used by timed ops. May wait for
    /// a store commit; see [`Engine::handle_nonblocking`] for a caller that must not wait.
    pub fn handle(&self, client_id: &str, request: &[u8], now: Instant) -> Outcome {
        match self.handle_nonblocking(client_id, request, now) {
            Ok(outcome) => outcome,
            Err(deferred) => self.finish(client_id, deferred, now),
        }
    }

    /// Like [`Engine::handle`], but answers only ops that never wait for a commit and do a
    /// bounded amount of work (`query:local-node`, `publish`, `notify`, `request`, `response`,
    /// and every refusal of the envelope or of the op's fields). Any other op comes back
    /// decoded as [`Deferred`], to be run with [`Engine::finish`] where waiting is fine; nothing
    /// of it has been applied. The request is parsed once either way.
    pub fn handle_nonblocking(
        &self,
        client_id: &str,
        request: &[u8],
        now: Instant,
    ) -> Result<Outcome, Deferred> {
        let request = match envelope::parse(
            request,
            self.config.max_request_bytes,
            self.config.max_depth,
        ) {
            Ok(request) => request,
            Err(rejection) => return Ok(Outcome::status_only(&rejection.correl, rejection.status)),
        };
        let decoded = ident::with_max_chars(self.config.max_identifier_chars, || {
            op::decode(&request.op, &request.fields)
        });
        let mut outcome = match decoded {
            Ok(op) if may_wait(&op) => {
                return Err(Deferred {
                    op: Box::new(op),
                    name: request.op,
                    correl: request.correl,
                })
            }
            Ok(op) => self.dispatch(client_id, op, &request.correl, now),
            Err(status) => Outcome::status_only(&request.correl, status),
        };
        outcome.op = Some(request.op);
        Ok(outcome)
    }

    /// Runs an op that [`Engine::handle_nonblocking`] deferred; may wait for a store commit.
    pub fn finish(&self, client_id: &str, deferred: Deferred, now: Instant) -> Outcome {
        let mut outcome = self.dispatch(client_id, *deferred.op, &deferred.correl, now);
        outcome.op = Some(deferred.name);
        outcome
    }

    /// Times out every pending request whose deadline is at or before `now`: the requester's
    /// owner gets an unsolicited `40A0A` status carrying the request's correl, and a later
    /// response to it is refused. No replies; the status is always `00000`.
    pub fn expire(&self, now: Instant) -> Outcome {
        messages::expire(&mut self.pending.lock(), now)
    }

    /// Changes whenever a request deadline may have been added: a timer that saw the same
    /// generation before need not look at [`Engine::next_deadline`] again.
    pub fn deadline_generation(&self) -> u64 {
        self.deadlines.load(Ordering::Acquire)
    }

    /// The earliest deadline of a pending request, for the transport's timer.
    pub fn next_deadline(&self) -> Option<Instant> {
        self.pending.lock().next_deadline()
    }

    /// A client's session ended (after its will, if any, was handled): stops every system it
    /// owns, as `disconnect` does. No replies, no deliveries; the status is always `00000`.
    pub fn client_gone(&self, client_id: &str, _now: Instant) -> Outcome {
        let _staging = self.commits.quiet_systems();
        let mut registry = self.registry.write();
        let stopped = state::stop_owned_by(&mut registry, &mut self.pending.lock(), client_id);
        if !stopped.is_empty() {
            tracing::debug!(client = client_id, systems = ?stopped, "session ended; stopped its systems");
        }
        Outcome::unsolicited(
            Vec::new(),
            Status::ok(Operation::StateChange, Entity::System),
        )
    }

    /// The whole registry, built-ins and runtime state left out, as `register:*` ops in
    /// dependency order (no `correl`). Replaying them through [`Engine::handle`] on a fresh
    /// node gives the same query results. Only acknowledged records are exported.
    pub fn export(&self) -> Vec<Value> {
        export::ops(&self.registry.read())
    }

    /// The `50102` answer for a body refused without being read, with a fresh correl.
    pub fn refuse_oversized(&self, _client_id: &str) -> Outcome {
        Outcome::status_only(
            &envelope::fresh_correl(),
            envelope::too_large(self.config.max_request_bytes),
        )
    }

    fn dispatch(&self, client_id: &str, op: Op, correl: &Value, now: Instant) -> Outcome {
        match op {
            Op::Register(record) => {
                let article = record.article();
                self.write(correl, Operation::Register, article, |records| {
                    plan::register(records, record)
                })
            }
            Op::Deregister { article, key } => {
                self.write(correl, Operation::Deregister, article, |records| {
                    plan::deregister(records, article, &key)
                })
            }
            Op::Query { article, filter } => self.query(correl, article, &filter),
            Op::QueryLocalNode => Outcome::new(
                correl,
                vec![json!({
                    "op": "query-result:local-node",
                    "correl": correl,
                    "id": self.config.node_id,
                })],
                Vec::new(),
                Status::ok(Operation::Query, Entity::LocalNode),
            ),
            Op::QueryNeighbours(filter) => self.query_neighbours(correl, &filter),
            Op::QueryServiceWiring { from, to } => {
                self.query_service_wiring(correl, from.as_ref(), to.as_ref())
            }
            Op::StateSystem { id, state } => {
                let _staging = self.commits.quiet_systems();
                let mut registry = self.registry.write();
                let mut pending = self.pending.lock();
                state::change(&mut registry, &mut pending, client_id, correl, &id, state)
            }
            Op::Disconnect { client_id: named } => {
                let _staging = self.commits.quiet_systems();
                let mut registry = self.registry.write();
                let mut pending = self.pending.lock();
                state::disconnect(&mut registry, &mut pending, client_id, correl, &named)
            }
            Op::Publish {
                output_feed,
                payload,
            } => feeds::publish(
                &self.registry.read(),
                client_id,
                correl,
                &output_feed,
                &payload,
            ),
            Op::Subscribe {
                input_feed,
                patterns,
            } => {
                let mut registry = self.registry.write();
                feeds::subscribe(
                    &mut registry,
                    client_id,
                    correl,
                    &input_feed,
                    &patterns,
                    self.config.max_subscriptions_per_client,
                )
            }
            Op::Unsubscribe {
                input_feed,
                patterns,
            } => {
                let mut registry = self.registry.write();
                feeds::unsubscribe(
                    &mut registry,
                    client_id,
                    correl,
                    &input_feed,
                    patterns.as_deref(),
                )
            }
            Op::Notify {
                notification,
                listeners,
                payload,
            } => messages::notify(
                &self.registry.read(),
                client_id,
                correl,
                &notification,
                &listeners,
                &payload,
            ),
            Op::Request {
                solicit_response,
                targets,
                payload,
                timeout,
            } => {
                let registry = self.registry.read();
                let args = messages::RequestArgs {
                    solicit_response: &solicit_response,
                    targets: &targets,
                    payload: &payload,
                    timeout: timeout.or(self.config.default_request_timeout),
                    max_pending: self.config.max_pending_requests_per_client,
                };
                let outcome = messages::request(
                    &registry,
                    &mut self.pending.lock(),
                    client_id,
                    correl,
                    &args,
                    now,
                );
                // Counted after the pending entry exists: a timer poked after this op sees a
                // new generation and then the new deadline.
                self.deadlines.fetch_add(1, Ordering::AcqRel);
                outcome
            }
            Op::Response {
                request_response,
                solicit_response,
                payload,
            } => {
                let registry = self.registry.read();
                messages::response(
                    &registry,
                    &mut self.pending.lock(),
                    client_id,
                    correl,
                    &request_response,
                    &solicit_response,
                    &payload,
                )
            }
        }
    }

    /// Runs a checked write through the group commit: checked against committed memory plus
    /// staged changes, acknowledged once its batch is durable and applied to memory.
    fn write(
        &self,
        correl: &Value,
        operation: Operation,
        article: Article,
        plan: impl FnOnce(&Staged<'_>) -> Result<Plan, Status>,
    ) -> Outcome {
        let entity = article.entity();
        match self.commits.write(&self.registry, article, plan) {
            Ok(deliveries) => Outcome::new(
                correl,
                Vec::new(),
                deliveries,
                Status::ok(operation, entity),
            ),
            Err(WriteError::Refused(status)) => Outcome::status_only(correl, status),
            Err(WriteError::Failed(cause)) => Outcome::status_only(
                correl,
                Status::new(
                    Kind::Internal,
                    operation,
                    entity,
                    format!("store commit failed: {cause}"),
                ),
            ),
        }
    }

    fn query(&self, correl: &Value, article: Article, filter: &Filter) -> Outcome {
        let records = self.registry.read().query(article, filter);
        let plural = article.plural();
        let mut result = serde_json::Map::new();
        result.insert("op".into(), json!(format!("query-result:{plural}")));
        result.insert("correl".into(), correl.clone());
        result.insert(plural.into(), Value::Array(records));
        Outcome::new(
            correl,
            vec![Value::Object(result)],
            Vec::new(),
            Status::ok(Operation::Query, article.entity()),
        )
    }

    fn query_neighbours(&self, correl: &Value, filter: &Filter) -> Outcome {
        let nodes: Vec<Value> = self
            .registry
            .read()
            .query(Article::Node, filter)
            .into_iter()
            .filter(|node| node.get("id").and_then(Value::as_str) != Some(self.node_id()))
            .collect();
        Outcome::new(
            correl,
            vec![json!({"op": "query-result:neighbours", "correl": correl, "nodes": nodes})],
            Vec::new(),
            Status::ok(Operation::Query, Entity::Neighbours),
        )
    }

    fn query_service_wiring(
        &self,
        correl: &Value,
        from: Option<&Pattern>,
        to: Option<&Pattern>,
    ) -> Outcome {
        let wirings: Vec<Value> = self
            .registry
            .read()
            .wiring()
            .query(from, to)
            .iter()
            .map(Wiring::to_json)
            .collect();
        Outcome::new(
            correl,
            vec![json!({
                "op": "query-result:service-wiring",
                "correl": correl,
                "service-wiring": wirings,
            })],
            Vec::new(),
            Status::ok(Operation::Query, Entity::System),
        )
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
mod tests {
    use std::time::Instant;

    use super::{Engine, EngineConfig};
    use crate::MemoryStore;

    fn engine() -> Engine {
        Engine::open(EngineConfig::new("n1"), Box::new(MemoryStore::new())).unwrap()
    }

    #[test]
    fn nonblocking_answers_reads_and_refusals_and_defers_writes_unapplied() {
        let engine = engine();
        let now = Instant::now();
        for request in [
            r#"{"op":"query:local-node","correl":1}"#,
            r#"{"op":"nope","correl":2}"#,
            r#"{"correl":3}"#,
            "not json",
            r#"{"op":"register:platform","correl":4}"#,
        ] {
            let answered = engine.handle_nonblocking("c", request.as_bytes(), now);
            let outcome = answered.expect(request);
            assert_eq!(outcome, {
                let mut again = engine.handle("c", request.as_bytes(), now);
                if request == "not json" {
                    // A fresh correl each time.
                    again.replies = outcome.replies.clone();
                }
                again
            });
        }
        let register = br#"{"op":"register:platform","id":"p1","type":"app","correl":5}"#;
        let deferred = engine.handle_nonblocking("c", register, now).unwrap_err();
        let query = br#"{"op":"query:platforms","id":"p1"}"#;
        let before = engine.handle("c", query, now);
        assert!(before.replies[0]["platforms"]
            .as_array()
            .unwrap()
            .is_empty());
        let outcome = engine.finish("c", deferred, now);
        assert_eq!(outcome.op.as_deref(), Some("register:platform"));
        assert_eq!(outcome.replies.last().unwrap()["correl"], 5);
        assert_eq!(outcome.status.code(), "00000");
        let after = engine.handle("c", query, now);
        assert_eq!(after.replies[0]["platforms"].as_array().unwrap().len(), 1);
    }
}
