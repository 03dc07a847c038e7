//! The HTTP transport: `POST /ops` (one op per body, JSON array of replies), `GET /healthz` and
//! `GET /readyz`. It maps the engine's status to an HTTP status and never judges an op itself.

use std::convert::Infallible;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Instant;

use bytes::Bytes;
use http_body_util::{BodyExt, Full, Limited};
use hyper::body::Incoming;
use hyper::header::{HeaderValue, CONTENT_LENGTH, CONTENT_TYPE};
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper::{Method, Request, Response, StatusCode};
use hyper_util::rt::{TokioIo, TokioTimer};
use nodebus_registry::{Engine, Kind, Outcome};
use tokio::net::TcpListener;

use crate::courier::Courier;
use crate::outcome_log::log_request;
use crate::shutdown::Shutdown;
use crate::timer::TimerHandle;

/// Time a connection has to send a request head (also between keep-alive requests).
const HEADER_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(30);
/// Time a request has to send its body.
const BODY_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(30);

/// The client identity of a request without an `X-Client-Id` header.
pub const DEFAULT_CLIENT_ID: &str = "http";
const CLIENT_ID_HEADER: &str = "x-client-id";

#[derive(Clone, Debug)]
pub struct HttpConfig {
    /// Bodies larger than this are answered with `50102` without being read whole.
    pub max_body_bytes: usize,
}

impl Default for HttpConfig {
    fn default() -> Self {
        HttpConfig {
            max_body_bytes: 1 << 20,
        }
    }
}

/// A bound HTTP listener, ready to serve.
pub struct HttpServer {
    listener: TcpListener,
    state: Arc<State>,
}

impl HttpServer {
    /// Binds `addr`; bind errors (address in use, permission) are returned, never only logged.
    pub async fn bind(
        addr: SocketAddr,
        engine: Arc<Engine>,
        courier: Courier,
        timer: TimerHandle,
        config: HttpConfig,
    ) -> std::io::Result<HttpServer> {
        let listener = TcpListener::bind(addr).await?;
        Ok(HttpServer {
            listener,
            state: Arc::new(State {
                engine,
                courier,
                timer,
                config,
            }),
        })
    }

    pub fn local_addr(&self) -> std::io::Result<SocketAddr> {
        self.listener.local_addr()
    }

    /// Accepts connections until `shutdown` fires; connections already open finish their
    /// current request and are then closed. Returns once every connection has ended.
    pub async fn run(self, shutdown: Shutdown) {
        let state = self.state;
        let open = Arc::new(());
        loop {
            let accepted = tokio::select! {
                accepted = self.listener.accept() => accepted,
                _ = shutdown.triggered() => break,
            };
            let stream = match accepted {
                Ok((stream, _peer)) => stream,
                Err(error) => {
                    // Out of descriptors and the like: keep serving the connections we have.
                    tracing::warn!(%error, "http accept failed");
                    tokio::time::sleep(std::time::Duration::from_millis(50)).await;
                    continue;
                }
            };
            let _ = stream.set_nodelay(true);
            let state = state.clone();
            let shutdown = shutdown.clone();
            let open = open.clone();
            tokio::spawn(async move {
                let _open = open;
                let service = service_fn(move |request| {
                    let state = state.clone();
                    async move { Ok::<_, Infallible>(route(&state, request).await) }
                });
                // A connection that sends no complete request head in time is closed, so idle or
                // trickling sockets cannot pile up.
                let connection = http1::Builder::new()
                    .keep_alive(true)
                    .timer(TokioTimer::new())
                    .header_read_timeout(HEADER_TIMEOUT)
                    .serve_connection(TokioIo::new(stream), service);
                tokio::pin!(connection);
                tokio::select! {
                    result = connection.as_mut() => {
                        if let Err(error) = result {
                            tracing::debug!(%error, "http connection ended with an error");
                        }
                    }
                    _ = shutdown.triggered() => {
                        connection.as_mut().graceful_shutdown();
                        let _ = connection.await;
                    }
                }
            });
        }
        // Each connection task holds a clone: wait until the requests in flight are answered.
        while Arc::strong_count(&open) > 1 {
            tokio::time::sleep(std::time::Duration::from_millis(5)).await;
        }
    }
}

struct State {
    engine: Arc<Engine>,
    courier: Courier,
    timer: TimerHandle,
    config: HttpConfig,
}

async fn route(state: &State, request: Request<Incoming>) -> Response<Full<Bytes>> {
    match (request.method(), request.uri().path()) {
        (&Method::POST, "/ops") => post_op(state, request).await,
        (&Method::GET, "/healthz") => json_response(StatusCode::OK, br#"{"status":"ok"}"#),
        (&Method::GET, "/readyz") => json_response(StatusCode::OK, br#"{"status":"ready"}"#),
        (_, "/ops") | (_, "/healthz") | (_, "/readyz") => {
            let mut response = json_response(
                StatusCode::METHOD_NOT_ALLOWED,
                br#"{"error":"method not allowed"}"#,
            );
            let allow = if request.uri().path() == "/ops" {
                "POST"
            } else {
                "GET"
            };
            response
                .headers_mut()
                .insert(hyper::header::ALLOW, HeaderValue::from_static(allow));
            response
        }
        _ => json_response(StatusCode::NOT_FOUND, br#"{"error":"not found"}"#),
    }
}

async fn post_op(state: &State, request: Request<Incoming>) -> Response<Full<Bytes>> {
    let Ok(client_id) = client_id_of(&request) else {
        return json_response(
            StatusCode::BAD_REQUEST,
            br#"{"error":"X-Client-Id is not UTF-8 text"}"#,
        );
    };
    let limit = state.config.max_body_bytes;
    let declared_too_large = request
        .headers()
        .get(CONTENT_LENGTH)
        .and_then(|value| value.to_str().ok())
        .and_then(|value| value.parse::<u64>().ok())
        .is_some_and(|length| length > limit as u64);
    let mut outcome = if declared_too_large {
        state.engine.refuse_oversized(&client_id)
    } else {
        let body = Limited::new(request.into_body(), limit).collect();
        let Ok(body) = tokio::time::timeout(BODY_TIMEOUT, body).await else {
            return json_response(
                StatusCode::REQUEST_TIMEOUT,
                br#"{"error":"the request body did not arrive in time"}"#,
            );
        };
        match body {
            Ok(collected) => {
                let body = collected.to_bytes();
                let now = Instant::now();
                // Ops that cannot wait for a commit are answered here on the connection's task;
                // the rest may wait for a durable commit: that runs off the reactor.
                match state.engine.handle_nonblocking(&client_id, &body, now) {
                    Ok(outcome) => outcome,
                    Err(deferred) => {
                        let engine = state.engine.clone();
                        let client = client_id.clone();
                        match tokio::task::spawn_blocking(move || {
                            engine.finish(&client, deferred, Instant::now())
                        })
                        .await
                        {
                            Ok(outcome) => outcome,
                            Err(error) => {
                                tracing::error!(%error, "op handler failed");
                                return json_response(
                                    StatusCode::INTERNAL_SERVER_ERROR,
                                    br#"{"error":"internal failure"}"#,
                                );
                            }
                        }
                    }
                }
            }
            Err(error) if error.is::<http_body_util::LengthLimitError>() => {
                state.engine.refuse_oversized(&client_id)
            }
            Err(error) => {
                // The client went away or sent a broken body: nobody is left to answer.
                tracing::debug!(%error, "http body could not be read");
                return json_response(StatusCode::BAD_REQUEST, br#"{"error":"unreadable body"}"#);
            }
        }
    };
    log_request("http", &client_id, &outcome);
    state.courier.deliver_from_http(&mut outcome);
    state.timer.poke();
    let status = http_status(outcome.status.kind);
    json_response(status, &replies_body(&outcome))
}

/// The `X-Client-Id` header (UTF-8, trimmed), or `http` when it is absent or empty. A value
/// that is not UTF-8 is refused rather than mapped to the shared default identity.
fn client_id_of(request: &Request<Incoming>) -> Result<String, ()> {
    match request.headers().get(CLIENT_ID_HEADER) {
        None => Ok(DEFAULT_CLIENT_ID.to_owned()),
        Some(value) => {
            let text = std::str::from_utf8(value.as_bytes())
                .map_err(|_| ())?
                .trim();
            Ok(if text.is_empty() {
                DEFAULT_CLIENT_ID
            } else {
                text
            }
            .to_owned())
        }
    }
}

fn replies_body(outcome: &Outcome) -> Vec<u8> {
    serde_json::to_vec(&outcome.replies).unwrap_or_else(|_| b"[]".to_vec())
}

/// The one place where an op's status becomes an HTTP status (spec §2.2).
pub fn http_status(kind: Kind) -> StatusCode {
    match kind {
        Kind::Success => StatusCode::OK,
        Kind::Invalid => StatusCode::BAD_REQUEST,
        Kind::NotFound => StatusCode::NOT_FOUND,
        Kind::Exists | Kind::InUse | Kind::WrongState => StatusCode::CONFLICT,
        Kind::Denied => StatusCode::FORBIDDEN,
        Kind::Timeout => StatusCode::GATEWAY_TIMEOUT,
        Kind::TooLarge => StatusCode::PAYLOAD_TOO_LARGE,
        Kind::TooMany | Kind::Busy => StatusCode::SERVICE_UNAVAILABLE,
        Kind::Internal => StatusCode::INTERNAL_SERVER_ERROR,
    }
}

fn json_response(status: StatusCode, body: &[u8]) -> Response<Full<Bytes>> {
    let mut response = Response::new(Full::new(Bytes::copy_from_slice(body)));
    *response.status_mut() = status;
    response
        .headers_mut()
        .insert(CONTENT_TYPE, HeaderValue::from_static("application/json"));
    response
}
