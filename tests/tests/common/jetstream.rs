//! Helpers for the JetStream tests: a broker with JetStream on, raw
//! `$JS.API` requests, a sample stream, fetching, and reading statuses.

use std::time::Duration;

use anyhow::{ensure, Context, Result};
use async_nats::jetstream::{self, consumer, consumer::pull, stream};
use async_nats::Client;
use bytes::Bytes;
use futures::StreamExt;
use serde_json::Value;
use tern_tests::{Broker, BrokerOptions, Kind};

use super::WAIT;

pub fn start_js(kind: Kind, store_dir: &str) -> Result<Broker> {
    Broker::start_with(
        kind,
        BrokerOptions {
            args: vec!["-js".into(), "-sd".into(), store_dir.into()],
            ..Default::default()
        },
    )
    .with_context(|| format!("start {} with JetStream", kind.name()))
}

pub async fn request(client: &Client, subject: &str, body: &str) -> Result<Value> {
    let msg = tokio::time::timeout(
        WAIT,
        client.request(subject.to_string(), Bytes::from(body.to_string())),
    )
    .await
    .with_context(|| format!("request {subject} timed out"))??;
    serde_json::from_slice(&msg.payload).with_context(|| {
        format!(
            "reply to {subject} is not JSON: {}",
            String::from_utf8_lossy(&msg.payload)
        )
    })
}

pub fn err_code(v: &Value) -> u64 {
    v["error"]["err_code"].as_u64().unwrap_or(0)
}

/// A stream `ORDERS` on `orders.>` holding `n` messages `m1..mn` on
/// `orders.<i % 3>`.
pub async fn orders(js: &jetstream::Context, n: usize) -> Result<stream::Stream> {
    let s = js
        .create_stream(stream::Config {
            name: "ORDERS".into(),
            subjects: vec!["orders.>".into()],
            allow_direct: true,
            ..Default::default()
        })
        .await?;
    for i in 1..=n {
        js.publish(format!("orders.{}", i % 3), format!("m{i}").into())
            .await?
            .await?;
    }
    Ok(s)
}

pub async fn fetch(
    c: &consumer::Consumer<pull::Config>,
    n: usize,
) -> Result<Vec<jetstream::Message>> {
    let mut batch = c
        .fetch()
        .max_messages(n)
        .expires(Duration::from_millis(500))
        .messages()
        .await?;
    let mut out = Vec::new();
    while let Some(m) = tokio::time::timeout(WAIT, batch.next()).await? {
        out.push(m.map_err(|e| anyhow::anyhow!("{e}"))?);
    }
    Ok(out)
}

pub fn payloads(msgs: &[jetstream::Message]) -> Vec<String> {
    msgs.iter()
        .map(|m| String::from_utf8_lossy(&m.payload).into_owned())
        .collect()
}

/// The status line of a headers-only reply (`408 Request Timeout`).
pub fn status_of(m: &async_nats::Message) -> String {
    match (&m.status, &m.description) {
        (Some(s), Some(d)) => format!("{} {d}", s.as_u16()),
        (Some(s), None) => s.as_u16().to_string(),
        _ => "none".into(),
    }
}

/// Creates consumer `name` on `stream` from raw JSON config.
pub async fn create_raw(client: &Client, stream: &str, name: &str, config: &str) -> Result<Value> {
    let body = format!(r#"{{"stream_name":"{stream}","config":{config}}}"#);
    let v = request(
        client,
        &format!("$JS.API.CONSUMER.CREATE.{stream}.{name}"),
        &body,
    )
    .await?;
    ensure!(err_code(&v) == 0, "create {name}: {v}");
    Ok(v)
}

/// Up to `n` messages from `sub`, stopping after a quiet `quiet`.
pub async fn collect(
    sub: &mut async_nats::Subscriber,
    n: usize,
    quiet: Duration,
) -> Vec<async_nats::Message> {
    let mut out = Vec::new();
    while out.len() < n {
        match tokio::time::timeout(quiet, sub.next()).await {
            Ok(Some(m)) => out.push(m),
            _ => break,
        }
    }
    out
}

pub fn show(msgs: &[async_nats::Message]) -> Vec<String> {
    msgs.iter()
        .map(|m| match m.status {
            Some(_) => status_of(m),
            None => String::from_utf8_lossy(&m.payload).into_owned(),
        })
        .collect()
}

/// `try_collect` for the KV listings, whose errors are not `anyhow`'s.
pub trait CollectVec<T> {
    async fn try_collect_vec(self) -> Result<Vec<T>>;
}

impl<S, T, E> CollectVec<T> for S
where
    S: futures::Stream<Item = Result<T, E>> + Unpin,
    E: std::fmt::Display,
{
    async fn try_collect_vec(mut self) -> Result<Vec<T>> {
        let mut out = Vec::new();
        while let Some(item) = tokio::time::timeout(WAIT, self.next()).await? {
            out.push(item.map_err(|e| anyhow::anyhow!("{e}"))?);
        }
        Ok(out)
    }
}

/// Sends `body` to `subject` with a fresh inbox for the answers and collects
/// them until `quiet` passes without one — or, with `until_status`, up to
/// and including the first status reply.
pub async fn ask(
    client: &Client,
    subject: &str,
    body: &str,
    quiet: Duration,
    until_status: bool,
) -> Result<Vec<async_nats::Message>> {
    let inbox = client.new_inbox();
    let mut sub = client.subscribe(inbox.clone()).await?;
    client
        .publish_with_reply(subject.to_string(), inbox, Bytes::from(body.to_string()))
        .await?;
    let mut out = Vec::new();
    while let Ok(Some(m)) = tokio::time::timeout(quiet, sub.next()).await {
        let done = until_status && m.status.is_some();
        out.push(m);
        if done {
            break;
        }
    }
    Ok(out)
}
