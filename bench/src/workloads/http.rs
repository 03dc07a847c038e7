//! `http` and `http-baseline`: closed-loop `POST /ops` over K keep-alive HTTP/1.1 connections
//! (one hyper client connection each, one request in flight), against the node's endpoint or a
//! bare hyper server answering a fixed body.

use std::net::SocketAddr;
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::Duration;

use anyhow::{anyhow, bail, Context, Result};
use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper_util::rt::TokioIo;
use serde_json::Value;
use tokio::time::Instant;

use crate::cli::HttpArgs;
use crate::report::{Clock, Recorder, Report};
use crate::wire::OpTemplate;

pub async fn run(workload: &str, addr: SocketAddr, args: &HttpArgs) -> Result<Report> {
    let op: Value = serde_json::from_str(&args.op).map_err(|e| anyhow!("--op is not JSON: {e}"))?;
    let template = Arc::new(OpTemplate::new(&op).map_err(|e| anyhow!(e))?);
    let recorder = Arc::new(Recorder::new(Clock::new()));
    let warmup = Duration::from_secs_f64(args.warmup.clamp(0.0, 3600.0));
    let duration = Duration::from_secs_f64(args.duration.clamp(0.1, 3600.0));
    let t0 = Instant::now() + Duration::from_millis(5);
    let measure_from = t0 + warmup;
    let end = measure_from + duration;
    let clock = recorder.clock;
    recorder.set_window(
        clock.ns_at(measure_from.into_std()),
        clock.ns_at(end.into_std()),
    );

    let mut tasks = Vec::new();
    for index in 0..args.connections.max(1) {
        let recorder = recorder.clone();
        let template = template.clone();
        tasks.push(tokio::spawn(async move {
            connection(addr, index, &template, &recorder, t0, end).await
        }));
    }
    for task in tasks {
        task.await
            .map_err(|e| anyhow!("an HTTP connection task failed: {e}"))??;
    }
    let measured = Instant::now()
        .min(end)
        .saturating_duration_since(measure_from);
    let label = format!(
        "{} connections={} keep-alive",
        op["op"].as_str().unwrap_or("op"),
        args.connections.max(1)
    );
    Ok(recorder.report(workload, label, measured))
}

async fn connection(
    addr: SocketAddr,
    index: usize,
    template: &OpTemplate,
    recorder: &Recorder,
    t0: Instant,
    end: Instant,
) -> Result<()> {
    let stream = tokio::net::TcpStream::connect(addr)
        .await
        .with_context(|| format!("cannot connect to {addr}"))?;
    stream.set_nodelay(true)?;
    let (mut sender, conn) = hyper::client::conn::http1::handshake(TokioIo::new(stream)).await?;
    tokio::spawn(async move {
        let _ = conn.await;
    });
    let host = addr.to_string();
    let client_id = format!("bench-http-{index}");
    tokio::time::sleep_until(t0).await;
    while Instant::now() < end {
        let stamp = recorder.clock.now_ns();
        let request = hyper::Request::post("/ops")
            .header("host", &host)
            .header("content-type", "application/json")
            .header("x-client-id", &client_id)
            .body(Full::new(template.render(stamp)))?;
        recorder.sent.fetch_add(1, Ordering::Relaxed);
        let response = sender.send_request(request).await?;
        let status = response.status();
        let _body: Bytes = response.into_body().collect().await?.to_bytes();
        if !status.is_success() {
            recorder.error();
        }
        recorder.complete(stamp);
        if sender.ready().await.is_err() {
            bail!("connection {index} to {addr} closed");
        }
    }
    Ok(())
}
