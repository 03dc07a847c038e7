//! Notifications and requests (spec §6.4, §6.5): several listeners, all-or-nothing validation,
//! requests to several targets with their responses routed back to the requester's owner,
//! `timeout-ms` expiry as an unsolicited `40A0A` status, late and unknown responses refused.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::time::Duration;

use common::bus::{
    assert_quiet, listener, next_n, notification, output_feed, register_systems, request_response,
    run_systems, solicit_response, stop,
};
use common::check::{check, ok, HttpOps};
use common::{within, TestNode};
use serde_json::{json, Value};

fn notification_message(from: &str, to: &str, msg: Value, encoding: &str) -> Value {
    json!({"op": "notification", "notification": from, "listener": to, "msg": msg,
           "encoding": encoding})
}

fn request_message(correl: Value, from: &str, to: &str, msg: Value, encoding: &str) -> Value {
    json!({"op": "request", "correl": correl, "solicit-response": from, "request-response": to,
           "msg": msg, "encoding": encoding})
}

fn response_message(correl: Value, from: &str, to: &str, msg: Value, encoding: &str) -> Value {
    json!({"op": "response", "correl": correl, "request-response": from, "solicit-response": to,
           "msg": msg, "encoding": encoding})
}

fn timed_out(correl: Value, target: &str) -> Value {
    json!({"op": "status", "correl": correl, "status": "40A0A",
           "msg": format!("request to {target} timed out")})
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_notification_reaches_every_listeners_owner() {
    let node = TestNode::start().await;
    let mut sender = node.mqtt("sender").await;
    let mut a = node.mqtt5("a").await;
    let mut b = node.mqtt("b").await;
    run_systems(&mut sender, &["n/s"]).await;
    run_systems(&mut a, &["l1/s", "l3/s"]).await;
    run_systems(&mut b, &["l2/s"]).await;
    let from = notification("n/s");

    let replies = ok(
        &mut sender,
        json!({"op": "notify", "correl": "n-1", "notification": from,
               "listener": [listener("l1/s"), listener("l2/s"), listener("l3/s")],
               "msg": {"alarm": "door open", "level": 3}, "encoding": "json"}),
    )
    .await;
    assert_eq!(
        replies,
        [json!({"op": "status", "correl": "n-1", "status": "00000", "msg": "OK"})]
    );
    let msg = json!({"alarm": "door open", "level": 3});
    assert_eq!(
        next_n(&mut a, 2).await,
        [
            notification_message(&from, &listener("l1/s"), msg.clone(), "json"),
            notification_message(&from, &listener("l3/s"), msg.clone(), "json"),
        ]
    );
    assert_eq!(
        b.next_json().await,
        notification_message(&from, &listener("l2/s"), msg, "json")
    );

    // A single listener as a string, the default encoding, and a listener the sender owns.
    run_systems(&mut sender, &["own/s"]).await;
    ok(
        &mut sender,
        json!({"op": "notify", "notification": from, "listener": listener("l2/s"), "msg": null}),
    )
    .await;
    assert_eq!(
        b.next_json().await,
        notification_message(&from, &listener("l2/s"), Value::Null, "ascii")
    );
    ok(
        &mut sender,
        json!({"op": "notify", "notification": from, "listener": [listener("own/s")],
               "msg": "self"}),
    )
    .await;
    assert_eq!(
        sender.next_json().await,
        notification_message(&from, &listener("own/s"), json!("self"), "ascii")
    );
    assert_quiet(&mut a, "one notification per listener").await;
    assert_quiet(&mut b, "one notification per listener").await;
    assert_quiet(&mut sender, "one notification per listener").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_notify_that_fails_any_check_sends_nothing() {
    let node = TestNode::start().await;
    let mut sender = node.mqtt("sender").await;
    let mut a = node.mqtt5("a").await;
    run_systems(&mut sender, &["n/s"]).await;
    run_systems(&mut a, &["l1/s", "l2/s"]).await;
    register_systems(&mut a, &["idle/s"]).await;
    register_systems(&mut sender, &["n/idle"]).await;
    let from = notification("n/s");
    let good = [listener("l1/s"), listener("l2/s")];

    let bad_listeners = [
        // Not registered: the service, the system, the platform.
        "l1/s/nope".to_owned(),
        listener("l9/s"),
        listener("zz/zz"),
        // A listener of a stopped system.
        listener("idle/s"),
        // Wrong mode: other services of a running system.
        output_feed("l1/s"),
        notification("l1/s"),
        request_response("l1/s"),
    ];
    for bad in &bad_listeners {
        // The bad one first, in the middle and last among good ones.
        for listeners in [
            json!([bad, good[0], good[1]]),
            json!([good[0], bad, good[1]]),
            json!([good[0], good[1], bad]),
        ] {
            let replies = check(
                &mut sender,
                json!({"op": "notify", "notification": from, "listener": listeners, "msg": 1}),
                "2090A",
            )
            .await;
            assert_eq!(replies.len(), 1, "{replies:?}");
        }
    }
    // The sender's own service: not a notification service, or its system not running.
    for notification_service in [output_feed("n/s"), listener("n/s"), notification("n/idle")] {
        check(
            &mut sender,
            json!({"op": "notify", "notification": notification_service, "listener": good,
                   "msg": 1}),
            "2090A",
        )
        .await;
    }
    // Ill-formed fields are validation errors.
    for op in [
        json!({"op": "notify", "notification": from, "listener": [], "msg": 1}),
        json!({"op": "notify", "notification": from, "listener": good}),
        json!({"op": "notify", "listener": good, "msg": 1}),
        json!({"op": "notify", "notification": from, "msg": 1}),
        json!({"op": "notify", "notification": from, "listener": [7], "msg": 1}),
        json!({"op": "notify", "notification": from, "listener": ["a/b"], "msg": 1}),
    ] {
        check(&mut sender, op, "1090A").await;
    }
    assert_quiet(&mut a, "refused notifications").await;
    assert_quiet(&mut sender, "refused notifications").await;

    // After a listener's system stops, notifying it is refused too.
    ok(
        &mut sender,
        json!({"op": "notify", "notification": from, "listener": good, "msg": "ok"}),
    )
    .await;
    assert_eq!(next_n(&mut a, 2).await.len(), 2);
    stop(&mut a, "l2/s").await;
    check(
        &mut sender,
        json!({"op": "notify", "notification": from, "listener": good, "msg": "no"}),
        "2090A",
    )
    .await;
    assert_quiet(&mut a, "a listener stopped").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn requests_to_several_targets_and_their_responses() {
    let node = TestNode::start().await;
    let mut requester = node.mqtt("requester").await;
    let mut a = node.mqtt5("a").await;
    let mut b = node.mqtt("b").await;
    run_systems(&mut requester, &["r/s"]).await;
    run_systems(&mut a, &["t1/s"]).await;
    run_systems(&mut b, &["t2/s"]).await;
    let from = solicit_response("r/s");
    let (t1, t2) = (request_response("t1/s"), request_response("t2/s"));

    let replies = ok(
        &mut requester,
        json!({"op": "request", "correl": "req-1", "solicit-response": from,
               "request-response": [t1, t2], "msg": {"get": "temperature"}}),
    )
    .await;
    assert_eq!(
        replies,
        [json!({"op": "status", "correl": "req-1", "status": "00000", "msg": "OK"})]
    );
    let asked = json!({"get": "temperature"});
    assert_eq!(
        a.next_json().await,
        request_message(json!("req-1"), &from, &t1, asked.clone(), "ascii")
    );
    assert_eq!(
        b.next_json().await,
        request_message(json!("req-1"), &from, &t2, asked, "ascii")
    );

    // Each response reaches the requester's owner with the request's correl.
    let replies = ok(
        &mut b,
        json!({"op": "response", "correl": "req-1", "request-response": t2,
               "solicit-response": from, "msg": 19.5, "encoding": "celsius"}),
    )
    .await;
    assert_eq!(
        replies,
        [json!({"op": "status", "correl": "req-1", "status": "00000", "msg": "OK"})]
    );
    assert_eq!(
        requester.next_json().await,
        response_message(json!("req-1"), &t2, &from, json!(19.5), "celsius")
    );
    ok(
        &mut a,
        json!({"op": "response", "correl": "req-1", "request-response": t1,
               "solicit-response": from, "msg": [21, "ok"]}),
    )
    .await;
    assert_eq!(
        requester.next_json().await,
        response_message(json!("req-1"), &t1, &from, json!([21, "ok"]), "ascii")
    );

    // Answered already: a second response is refused and not delivered.
    let replies = check(
        &mut a,
        json!({"op": "response", "correl": "req-1", "request-response": t1,
               "solicit-response": from, "msg": "again"}),
        "20B0A",
    )
    .await;
    assert_eq!(replies.len(), 1);

    // A numeric correl is carried as a number; `1` and `"1"` are different requests.
    ok(
        &mut requester,
        json!({"op": "request", "correl": 1, "solicit-response": from,
               "request-response": t1, "msg": "n"}),
    )
    .await;
    assert_eq!(
        a.next_json().await,
        request_message(json!(1), &from, &t1, json!("n"), "ascii")
    );
    check(
        &mut a,
        json!({"op": "response", "correl": "1", "request-response": t1,
               "solicit-response": from, "msg": "wrong correl type"}),
        "20B0A",
    )
    .await;
    ok(
        &mut a,
        json!({"op": "response", "correl": 1, "request-response": t1,
               "solicit-response": from, "msg": "n-answer"}),
    )
    .await;
    assert_eq!(
        requester.next_json().await,
        response_message(json!(1), &t1, &from, json!("n-answer"), "ascii")
    );

    assert_quiet(&mut requester, "one response per target").await;
    assert_quiet(&mut a, "responders get their statuses only").await;
    assert_quiet(&mut b, "responders get their statuses only").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_request_that_fails_any_check_sends_nothing() {
    let node = TestNode::start().await;
    let mut requester = node.mqtt("requester").await;
    let mut a = node.mqtt5("a").await;
    run_systems(&mut requester, &["r/s"]).await;
    run_systems(&mut a, &["t1/s", "t2/s"]).await;
    register_systems(&mut a, &["idle/s"]).await;
    let from = solicit_response("r/s");
    let good = [request_response("t1/s"), request_response("t2/s")];
    for bad in [
        request_response("idle/s"),
        request_response("none/s"),
        listener("t1/s"),
        solicit_response("t1/s"),
    ] {
        check(
            &mut requester,
            json!({"op": "request", "solicit-response": from,
                   "request-response": [good[0], bad, good[1]], "msg": 1}),
            "20A0A",
        )
        .await;
    }
    check(
        &mut requester,
        json!({"op": "request", "solicit-response": notification("r/s"),
               "request-response": good, "msg": 1}),
        "20A0A",
    )
    .await;
    for timeout in [json!(-1), json!("100"), json!(1.5)] {
        check(
            &mut requester,
            json!({"op": "request", "solicit-response": from, "request-response": good,
                   "msg": 1, "timeout-ms": timeout}),
            "10A0A",
        )
        .await;
    }
    assert_quiet(&mut a, "refused requests").await;
    assert_quiet(&mut requester, "refused requests").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_unanswered_request_times_out_with_40a0a() {
    let node = TestNode::start().await;
    let mut requester = node.mqtt("requester").await;
    let mut a = node.mqtt5("a").await;
    let mut b = node.mqtt("b").await;
    run_systems(&mut requester, &["r/s"]).await;
    run_systems(&mut a, &["t1/s"]).await;
    run_systems(&mut b, &["t2/s"]).await;
    let from = solicit_response("r/s");
    let (t1, t2) = (request_response("t1/s"), request_response("t2/s"));

    let sent = tokio::time::Instant::now();
    ok(
        &mut requester,
        json!({"op": "request", "correl": "slow", "solicit-response": from,
               "request-response": [t1, t2], "msg": "?", "timeout-ms": 150}),
    )
    .await;
    assert_eq!(a.next_json().await["correl"], "slow");
    assert_eq!(b.next_json().await["correl"], "slow");

    // Neither answers: one unsolicited 40A0A per target, not before the timeout.
    let mut expired = next_n(&mut requester, 2).await;
    let elapsed = sent.elapsed();
    assert!(
        elapsed >= Duration::from_millis(150),
        "timed out after {elapsed:?}"
    );
    expired.sort_by_key(|m| m["msg"].as_str().unwrap_or_default().to_owned());
    assert_eq!(
        expired,
        [timed_out(json!("slow"), &t1), timed_out(json!("slow"), &t2)]
    );
    assert_quiet(&mut requester, "one timeout per target").await;

    // A late response is refused and reaches nobody.
    let replies = check(
        &mut b,
        json!({"op": "response", "correl": "slow", "request-response": t2,
               "solicit-response": from, "msg": "late"}),
        "20B0A",
    )
    .await;
    assert_eq!(replies.len(), 1);
    assert_quiet(&mut requester, "a late response is dropped").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn only_targets_that_did_not_answer_time_out() {
    let node = TestNode::start().await;
    let mut requester = node.mqtt5("requester").await;
    let mut a = node.mqtt("a").await;
    let mut b = node.mqtt("b").await;
    run_systems(&mut requester, &["r/s"]).await;
    run_systems(&mut a, &["t1/s"]).await;
    run_systems(&mut b, &["t2/s"]).await;
    let from = solicit_response("r/s");
    let (t1, t2) = (request_response("t1/s"), request_response("t2/s"));

    // Long enough for a prompt answer on a busy machine.
    const TIMEOUT_MS: u64 = 1500;
    let sent = tokio::time::Instant::now();
    ok(
        &mut requester,
        json!({"op": "request", "correl": 99, "solicit-response": from,
               "request-response": [t1, t2], "msg": "?", "timeout-ms": TIMEOUT_MS}),
    )
    .await;
    assert_eq!(a.next_json().await["correl"], 99);
    assert_eq!(b.next_json().await["op"], "request");
    ok(
        &mut a,
        json!({"op": "response", "correl": 99, "request-response": t1,
               "solicit-response": from, "msg": "fast"}),
    )
    .await;
    assert_eq!(
        requester.next_json().await,
        response_message(json!(99), &t1, &from, json!("fast"), "ascii")
    );
    assert!(
        sent.elapsed() < Duration::from_millis(TIMEOUT_MS),
        "the answer took {:?}; the test cannot tell a timeout from a response",
        sent.elapsed()
    );
    // Only t2 times out.
    let status = requester.next_json().await;
    assert!(sent.elapsed() >= Duration::from_millis(TIMEOUT_MS));
    assert_eq!(status, timed_out(json!(99), &t2));
    assert_quiet(&mut requester, "the answered target does not time out").await;
    check(
        &mut b,
        json!({"op": "response", "correl": 99, "request-response": t2,
               "solicit-response": from, "msg": "late"}),
        "20B0A",
    )
    .await;
    assert_quiet(&mut requester, "a late response is dropped").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_timeout_goes_to_the_requesters_owner_even_for_a_request_over_http() {
    let node = TestNode::start().await;
    let mut owner = node.mqtt("h-owner").await;
    let mut a = node.mqtt5("a").await;
    let mut http = HttpOps::new(node.http().with_client_id("h-owner"));
    run_systems(&mut http, &["r/s"]).await;
    run_systems(&mut a, &["t1/s"]).await;
    let (from, t1) = (solicit_response("r/s"), request_response("t1/s"));
    ok(
        &mut http,
        json!({"op": "request", "correl": "h", "solicit-response": from,
               "request-response": [t1], "msg": 0, "timeout-ms": 100}),
    )
    .await;
    assert_eq!(
        a.next_json().await,
        request_message(json!("h"), &from, &t1, json!(0), "ascii")
    );
    assert_eq!(owner.next_json().await, timed_out(json!("h"), &t1));
    assert_quiet(&mut owner, "one timeout").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn responses_that_match_no_pending_request_are_refused() {
    let node = TestNode::start().await;
    let mut requester = node.mqtt("requester").await;
    let mut a = node.mqtt5("a").await;
    run_systems(&mut requester, &["r/s"]).await;
    run_systems(&mut a, &["t1/s", "t2/s"]).await;
    let from = solicit_response("r/s");
    let (t1, t2) = (request_response("t1/s"), request_response("t2/s"));

    // Never asked.
    check(
        &mut a,
        json!({"op": "response", "correl": "never", "request-response": t1,
               "solicit-response": from, "msg": 1}),
        "20B0A",
    )
    .await;
    // Asked of t1, answered by t2; answered for another requester service.
    ok(
        &mut requester,
        json!({"op": "request", "correl": "q", "solicit-response": from,
               "request-response": t1, "msg": 1}),
    )
    .await;
    assert_eq!(a.next_json().await["op"], "request");
    check(
        &mut a,
        json!({"op": "response", "correl": "q", "request-response": t2,
               "solicit-response": from, "msg": 1}),
        "20B0A",
    )
    .await;
    check(
        &mut a,
        json!({"op": "response", "correl": "q", "request-response": t1,
               "solicit-response": solicit_response("t2/s"), "msg": 1}),
        "20B0A",
    )
    .await;
    // Without a correl (the broker would invent one): a validation error.
    let raw = json!({"op": "response", "request-response": t1, "solicit-response": from,
                     "msg": 1});
    a.send_raw(raw.to_string()).await;
    let replies = within("status of a response without correl", a.until_status()).await;
    assert_eq!(replies.len(), 1, "{replies:?}");
    assert_eq!(replies[0]["status"], "10B0A", "{replies:?}");
    // The responder's own service must be a request-response service it runs.
    check(
        &mut a,
        json!({"op": "response", "correl": "q", "request-response": listener("t1/s"),
               "solicit-response": from, "msg": 1}),
        "20B0A",
    )
    .await;
    assert_quiet(&mut requester, "refused responses are not delivered").await;

    // The request is still pending: the right response goes through.
    ok(
        &mut a,
        json!({"op": "response", "correl": "q", "request-response": t1,
               "solicit-response": from, "msg": "right"}),
    )
    .await;
    assert_eq!(
        requester.next_json().await,
        response_message(json!("q"), &t1, &from, json!("right"), "ascii")
    );

    // When the requester's system stops, its pending requests are dropped.
    ok(
        &mut requester,
        json!({"op": "request", "correl": "dropped", "solicit-response": from,
               "request-response": t2, "msg": 1, "timeout-ms": 200}),
    )
    .await;
    assert_eq!(a.next_json().await["correl"], "dropped");
    stop(&mut requester, "r/s").await;
    check(
        &mut a,
        json!({"op": "response", "correl": "dropped", "request-response": t2,
               "solicit-response": from, "msg": 1}),
        "20B0A",
    )
    .await;
    assert_quiet(&mut requester, "no response and no timeout after a stop").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn timeouts_of_zero_and_of_a_stopped_target() {
    let node = TestNode::start().await;
    let mut requester = node.mqtt("requester").await;
    let mut a = node.mqtt5("a").await;
    run_systems(&mut requester, &["r/s"]).await;
    run_systems(&mut a, &["t1/s"]).await;
    let (from, t1) = (solicit_response("r/s"), request_response("t1/s"));

    // `0` is due at once: the request is still delivered, then it times out.
    ok(
        &mut requester,
        json!({"op": "request", "correl": "zero", "solicit-response": from,
               "request-response": [t1], "msg": 0, "timeout-ms": 0}),
    )
    .await;
    assert_eq!(a.next_json().await["correl"], "zero");
    assert_eq!(requester.next_json().await, timed_out(json!("zero"), &t1));
    check(
        &mut a,
        json!({"op": "response", "correl": "zero", "request-response": t1,
               "solicit-response": from, "msg": "late"}),
        "20B0A",
    )
    .await;

    // A target that stops does not cancel the request: it still times out.
    ok(
        &mut requester,
        json!({"op": "request", "correl": "orphan", "solicit-response": from,
               "request-response": [t1], "msg": 1, "timeout-ms": 200}),
    )
    .await;
    assert_eq!(a.next_json().await["correl"], "orphan");
    stop(&mut a, "t1/s").await;
    assert_eq!(requester.next_json().await, timed_out(json!("orphan"), &t1));
    assert_quiet(&mut requester, "one timeout per target").await;
    assert_quiet(&mut a, "a stopped target gets nothing more").await;
}
