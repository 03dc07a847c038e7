//! `raw-fanout`: the embedded broker's own fan-out on an ordinary topic, the baseline of the feed
//! fan-out: P publishers publish stamped payloads to one topic that C subscribers read.

use std::sync::atomic::Ordering;
use std::sync::Arc;

use anyhow::Result;
use tokio::sync::Notify;

use crate::cli::FeedArgs;
use crate::client::{Client, ClientOptions};
use crate::driver::{self, FanoutGate, Lane, MakePayload, Pace};
use crate::node::Node;
use crate::report::{Clock, Recorder, Report};
use crate::wire;

pub async fn run(node: &Node, args: &FeedArgs) -> Result<Report> {
    let load = &args.load;
    let publishers = args.producers.max(1);
    let subscribers = args.consumers.max(1);
    let recorder = Arc::new(Recorder::new(Clock::new()));
    recorder
        .expected_per_send
        .store(subscribers as u64, Ordering::Relaxed);
    let gate = Arc::new(FanoutGate {
        limit: (load.window.max(1) * publishers * subscribers) as u64,
        notify: Notify::new(),
    });
    let tag = super::run_tag();
    let topic = format!("bench/{tag}/fanout");
    let mut options = ClientOptions::new(node.mqtt()?, load.protocol, load.qos);
    options.inflight = u16::try_from(load.window.max(100)).unwrap_or(u16::MAX);

    let mut clients = Vec::new();
    for c in 0..subscribers {
        let handler = driver::fanout_handler(recorder.clone(), gate.clone(), wire::read_stamp);
        let mut client = Client::connect(&format!("rs-{tag}-{c}"), &options, handler).await?;
        client.subscribe(&topic).await?;
        clients.push(client);
    }
    let mut lanes = Vec::new();
    for p in 0..publishers {
        let client = Client::connect(&format!("rp-{tag}-{p}"), &options, Box::new(|_| {})).await?;
        lanes.push(Lane {
            sender: client.sender.clone(),
            topic: topic.clone(),
            permits: None,
        });
        clients.push(client);
    }

    let size = load.payload;
    let make: MakePayload = Arc::new(move |_, _, stamp| wire::stamped_payload(stamp, size));
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
    let label = format!(
        "{publishers}→{subscribers} {}",
        super::feed::fanout_label(load)
    );
    Ok(recorder.report("raw-fanout", label, measured?))
}
