//! Envelope cases: parse failures, op and correl handling, size and depth limits.

use serde_json::{json, Value};

use super::*;

#[test]
fn smoke_local_node() {
    let engine = engine();
    check(
        &engine,
        json!({"op":"query:local-node","correl":"c1"}),
        vec![
            json!({"op":"query-result:local-node","correl":"c1","id":NODE_ID}),
            json!({"op":"status","correl":"c1","status":"00000","msg":"OK"}),
        ],
    );
    let _: Option<Value> = None;
}
