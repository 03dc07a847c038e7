//! `op`: round trips of JSON ops through the whole node (broker → MQTT adapter → engine →
//! out-topic). A request is complete when its `status` arrives; its correl carries the send time.

use std::sync::Arc;

use anyhow::{anyhow, Result};
use serde_json::Value;

use crate::cli::{OpArgs, OpMix};
use crate::driver::{self, MakePayload};
use crate::node::Node;
use crate::report::{Clock, Recorder, Report};
use crate::wire::{self, OpTemplate};

pub async fn run(node: &Node, args: &OpArgs) -> Result<Report> {
    let op: Value = serde_json::from_str(&args.op).map_err(|e| anyhow!("--op is not JSON: {e}"))?;
    let template = OpTemplate::new(&op).map_err(|e| anyhow!(e))?;
    let recorder = Arc::new(Recorder::new(Clock::new()));
    let tag = super::run_tag();
    let (lanes, clients) = super::echo::round_trip_clients(
        node,
        &args.load,
        &format!("op-{tag}"),
        &recorder,
        wire::read_status,
    )
    .await?;
    let mix = args.op_mix;
    let make: MakePayload = Arc::new(move |client, seq, stamp| {
        let register = match mix {
            OpMix::Query => false,
            OpMix::Register => true,
            OpMix::Mixed => seq % 10 == 9,
        };
        if register {
            wire::register_platform(&format!("bp-{tag}-{client}-{seq}"), stamp)
        } else {
            template.render(stamp)
        }
    });
    let load = &args.load;
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
    let name = op["op"].as_str().unwrap_or("op");
    let label = match mix {
        OpMix::Query => format!("{name} {}", load.label()),
        OpMix::Register => format!("register:platform {}", load.label()),
        OpMix::Mixed => format!("{name}+10% register {}", load.label()),
    };
    Ok(recorder.report("op", label, measured?))
}
