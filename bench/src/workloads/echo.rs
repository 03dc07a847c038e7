//! `echo`: the raw broker round trip with no op engine. Each client publishes stamped payloads to
//! its in-topic; the echo broker's consumer thread sends each one back to its out-topic.

use std::sync::Arc;

use anyhow::Result;
use tokio::sync::Semaphore;

use crate::cli::LoadArgs;
use crate::client::{self, Client, ClientOptions};
use crate::driver::{self, Lane, MakePayload, Pace};
use crate::node::Node;
use crate::report::{Clock, Recorder, Report};
use crate::wire;

pub async fn run(node: &Node, load: &LoadArgs) -> Result<Report> {
    let recorder = Arc::new(Recorder::new(Clock::new()));
    let tag = super::run_tag();
    let (lanes, clients) = round_trip_clients(node, load, &format!("echo-{tag}"), &recorder, |p| {
        wire::read_stamp(p).map(|stamp| (stamp, true))
    })
    .await?;
    let size = load.payload;
    let make: MakePayload = Arc::new(move |_, _, stamp| wire::stamped_payload(stamp, size));
    let measured = driver::run(
        lanes,
        make,
        recorder.clone(),
        load.pace(),
        load.phases(),
        None,
    )
    .await;
    super::close_all(clients).await;
    Ok(recorder.report("echo", load.label(), measured?))
}

/// `load.clients` clients `<prefix>-<i>`, each subscribed to its out-topic, whose replies are
/// read by `read` and recorded; one lane per client publishing to its in-topic.
pub async fn round_trip_clients(
    node: &Node,
    load: &LoadArgs,
    prefix: &str,
    recorder: &Arc<Recorder>,
    read: fn(&[u8]) -> Option<(u64, bool)>,
) -> Result<(Vec<Lane>, Vec<Client>)> {
    let mut options = ClientOptions::new(node.mqtt()?, load.protocol, load.qos);
    options.inflight = u16::try_from(load.window.max(100)).unwrap_or(u16::MAX);
    let mut lanes = Vec::new();
    let mut clients = Vec::new();
    for i in 0..load.clients.max(1) {
        let id = format!("{prefix}-{i}");
        let permits = match load.pace() {
            Pace::Window(window) => Some(Arc::new(Semaphore::new(window))),
            Pace::Rate(_) => None,
        };
        let handler = driver::round_trip_handler(recorder.clone(), permits.clone(), read);
        let mut client = Client::connect(&id, &options, handler).await?;
        client
            .subscribe(&client::out_topic(&node.node_id, &id))
            .await?;
        lanes.push(Lane {
            sender: client.sender.clone(),
            topic: client::in_topic(&node.node_id, &id),
            permits,
        });
        clients.push(client);
    }
    Ok((lanes, clients))
}
