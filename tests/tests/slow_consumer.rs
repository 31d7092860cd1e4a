//! Slow consumers: a subscriber that stops reading is cut off once its
//! pending bytes pass `max_pending`; a subscriber that keeps reading gets
//! every message, and the publisher is not held back.

mod common;

use std::time::{Duration, Instant};

use anyhow::{bail, ensure, Context, Result};
use bytes::Bytes;
use common::*;
use tokio::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt, BufReader};
use tokio::net::TcpStream;

const MSG_SIZE: usize = 64 * 1024;
/// 25 MiB per run: far more than max_pending plus the socket buffers.
const N: usize = 400;
/// The reading subscriber is kept at most this many messages behind the
/// publisher, so it can never be a slow consumer itself (8 × 64 KiB is well
/// under max_pending), whatever the relative speed of the processes.
const WINDOW: usize = 8;

/// Publish N messages while the reading subscriber receives them; returns
/// how long it took. Fails if any message is lost or out of order.
async fn publish_and_receive(
    publisher: &async_nats::Client,
    fast: &mut async_nats::Subscriber,
    run: u8,
) -> Result<Duration> {
    let started = Instant::now();
    let mut received = 0;
    for i in 0..N {
        let mut body = vec![run; MSG_SIZE];
        body[..4].copy_from_slice(&(i as u32).to_be_bytes());
        publisher.publish("blast", Bytes::from(body)).await?;
        if i + 1 - received > WINDOW {
            flush_publisher(publisher).await?;
            while i + 1 - received > WINDOW / 2 {
                receive_one(fast, run, received).await?;
                received += 1;
            }
        }
    }
    flush_publisher(publisher).await?;
    while received < N {
        receive_one(fast, run, received).await?;
        received += 1;
    }
    Ok(started.elapsed())
}

async fn flush_publisher(publisher: &async_nats::Client) -> Result<()> {
    tokio::time::timeout(Duration::from_secs(10), publisher.flush())
        .await
        .context("publisher flush timed out: the publisher was blocked")??;
    Ok(())
}

async fn receive_one(sub: &mut async_nats::Subscriber, run: u8, i: usize) -> Result<()> {
    use futures::StreamExt;
    let m = match tokio::time::timeout(Duration::from_secs(10), sub.next()).await {
        Ok(Some(m)) => m,
        _ => bail!("run {run}: the reading subscriber got only {i} of {N} messages"),
    };
    ensure!(
        m.payload.len() == MSG_SIZE,
        "run {run}: message {i} has {} bytes",
        m.payload.len()
    );
    let seq = u32::from_be_bytes(m.payload[..4].try_into()?) as usize;
    ensure!(
        seq == i && m.payload[4] == run,
        "run {run}: message {i} arrived as #{seq} of run {}",
        m.payload[4]
    );
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn slow_consumer_is_disconnected_others_unaffected() {
    each_target(|kind| async move {
        let b = start_with_config(kind, "max_pending: 2097152\n")?;
        let fast_client = connect(&b.url()).await?;
        let mut fast = subscribe(&fast_client, "blast").await?;
        let publisher = connect(&b.url()).await?;

        // Baseline: only the reading subscriber.
        let baseline = publish_and_receive(&publisher, &mut fast, 1).await?;

        // A raw subscriber that subscribes and then never reads.
        let slow = TcpStream::connect(b.addr()).await?;
        let mut slow = BufReader::new(slow);
        let mut info = String::new();
        slow.read_line(&mut info).await?;
        ensure!(info.starts_with("INFO "), "got {info:?}");
        slow.get_mut()
            .write_all(b"CONNECT {\"verbose\":false,\"pedantic\":false}\r\nSUB blast 1\r\nPING\r\n")
            .await?;
        let mut pong = String::new();
        slow.read_line(&mut pong).await?;
        ensure!(pong == "PONG\r\n", "got {pong:?}");

        let with_slow = publish_and_receive(&publisher, &mut fast, 2).await?;
        let bound = baseline * 5 + Duration::from_secs(3);
        ensure!(
            with_slow < bound,
            "publishing {N} messages took {with_slow:?} with a slow consumer, {baseline:?} without"
        );

        // The slow subscriber was cut off: after what was buffered, EOF (or reset).
        let mut received = 0usize;
        let mut buf = vec![0u8; 256 * 1024];
        let deadline = Instant::now() + Duration::from_secs(20);
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            ensure!(!left.is_zero(), "slow consumer still connected after reading {received} bytes");
            match tokio::time::timeout(left, slow.read(&mut buf)).await {
                Ok(Ok(0)) | Ok(Err(_)) => break,
                Ok(Ok(n)) => received += n,
                Err(_) => bail!("slow consumer still connected after reading {received} bytes"),
            }
        }
        eprintln!(
            "[{}] publish+receive {N} × 64 KiB: {baseline:?} alone, {with_slow:?} with a slow consumer \
             (cut off after {received} bytes)",
            kind.name()
        );
        ensure!(
            received < N * MSG_SIZE,
            "slow consumer got all {received} bytes: it was never cut off"
        );

        // The publisher and the reading subscriber carry on.
        publish_and_receive(&publisher, &mut fast, 3).await?;
        Ok(())
    })
    .await;
}
