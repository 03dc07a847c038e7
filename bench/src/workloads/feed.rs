//! `feed`: P producers each own a running `simple_system` and `publish` to its output feed; C
//! consumers each own a running system whose input feed is subscribed to every producer's feed.
//! Throughput counts delivered `feed-message`s; latency is publish → delivery (the stamp is at
//! the start of `msg`); lost = published × C − delivered.

use std::sync::atomic::Ordering;
use std::sync::Arc;

use anyhow::{bail, Result};
use bytes::Bytes;
use serde_json::json;
use tokio::sync::Notify;

use crate::cli::FeedArgs;
use crate::client::ClientOptions;
use crate::driver::{self, FanoutGate, Lane, MakePayload, Pace};
use crate::node::Node;
use crate::report::{Clock, Recorder, Report};
use crate::wire;

pub async fn run(node: &Node, args: &FeedArgs) -> Result<Report> {
    let load = &args.load;
    let producers = args.producers.max(1);
    let consumers = args.consumers.max(1);
    let recorder = Arc::new(Recorder::new(Clock::new()));
    recorder
        .expected_per_send
        .store(consumers as u64, Ordering::Relaxed);
    let gate = Arc::new(FanoutGate {
        limit: (load.window.max(1) * producers * consumers) as u64,
        notify: Notify::new(),
    });
    let tag = super::run_tag();
    let mut options = ClientOptions::new(node.mqtt()?, load.protocol, load.qos);
    options.inflight = u16::try_from(load.window.max(100)).unwrap_or(u16::MAX);

    let mut clients = Vec::new();
    let mut lanes = Vec::new();
    let mut feeds = Vec::new();
    for p in 0..producers {
        let id = format!("fp-{tag}-{p}");
        let (setup_tx, mut setup) = super::setup_channel();
        let errors = recorder.clone();
        let handler = Box::new(move |payload: Bytes| match wire::read_status(&payload) {
            Some((_, ok)) => {
                if !ok {
                    errors.error();
                }
            }
            None => {
                let _ = setup_tx.send(payload);
            }
        });
        let (client, in_topic) =
            super::connect_with_system(&id, &node.node_id, &options, handler, &mut setup, &id)
                .await?;
        feeds.push(format!("{id}/s/untyped_output_feed"));
        lanes.push(Lane {
            sender: client.sender.clone(),
            topic: in_topic,
            permits: None,
        });
        clients.push(client);
    }
    let pattern = format!("fp-{tag}-*/s/untyped_output_feed");
    for c in 0..consumers {
        let id = format!("fc-{tag}-{c}");
        let (setup_tx, mut setup) = super::setup_channel();
        let on_delivery =
            driver::fanout_handler(recorder.clone(), gate.clone(), wire::read_feed_stamp);
        let mut on_delivery = on_delivery;
        let handler = Box::new(move |payload: Bytes| {
            if payload.starts_with(br#"{"op":"feed-message""#) {
                on_delivery(payload);
            } else {
                let _ = setup_tx.send(payload);
            }
        });
        let (client, in_topic) =
            super::connect_with_system(&id, &node.node_id, &options, handler, &mut setup, &id)
                .await?;
        let replies = setup
            .call(
                &client,
                &in_topic,
                json!({"op":"subscribe","output-feeds":[pattern],"input-feed":format!("{id}/s/untyped_input_feed")}),
            )
            .await?;
        let wired = replies
            .first()
            .and_then(|r| r["output-feeds"].as_array())
            .map_or(0, Vec::len);
        if wired != producers {
            bail!("consumer {id} is wired to {wired} feeds, expected {producers}");
        }
        clients.push(client);
    }

    let size = load.payload;
    let make: MakePayload =
        Arc::new(move |lane, _, stamp| wire::publish_op(&feeds[lane], stamp, size));
    let gate = match load.pace() {
        Pace::Window(_) => Some(gate),
        Pace::Rate(_) => None,
    };
    let measured = driver::run(
        lanes,
        make,
        recorder.clone(),
        load.pace(),
        load.phases(),
        gate,
    )
    .await;
    super::close_all(clients).await;
    let label = format!("{producers}→{consumers} {}", fanout_label(load));
    Ok(recorder.report("feed", label, measured?))
}

/// The load label of a fan-out run (the window is per producer and consumer).
pub fn fanout_label(load: &crate::cli::LoadArgs) -> String {
    let pace = match load.pace() {
        Pace::Window(w) => format!("window={w}/consumer"),
        Pace::Rate(r) => format!("rate={r:.0}/s"),
    };
    format!(
        "{} qos{} {pace} {}B",
        load.protocol.as_str(),
        load.qos,
        load.payload
    )
}
