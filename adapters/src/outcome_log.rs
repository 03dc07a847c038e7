//! The one debug line each request leaves in the log, the same for every transport.

use nodebus_registry::Outcome;

/// Logs `client`, `op`, `correl` and `status` of one answered request at debug level.
pub fn log_request(transport: &'static str, client_id: &str, outcome: &Outcome) {
    if !tracing::enabled!(tracing::Level::DEBUG) {
        return;
    }
    let correl = outcome
        .replies
        .last()
        .and_then(|status| status.get("correl"))
        .map(|c| c.to_string())
        .unwrap_or_default();
    tracing::debug!(
        transport,
        client = client_id,
        op = outcome.op.as_deref().unwrap_or("-"),
        correl = %correl,
        status = %outcome.status.code(),
        "request"
    );
}
