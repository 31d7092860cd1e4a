//! A slow, long network link between two brokers, simulated in-process:
//! a TCP proxy on loopback that holds every chunk for a one-way delay and
//! paces each direction to a bandwidth, with little buffering (so a
//! sender feels the link's back-pressure, as on a real narrow uplink).
//! Dropping it cuts every connection through it.

use std::net::SocketAddr;
use std::time::Duration;

use anyhow::Result;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::tcp::{OwnedReadHalf, OwnedWriteHalf};
use tokio::net::{TcpListener, TcpSocket};
use tokio::sync::mpsc;
use tokio::task::JoinHandle;
use tokio::time::Instant;

/// Chunks in flight per direction: about 16 KiB, the link's buffer.
const IN_FLIGHT: usize = 16;
const CHUNK: usize = 1024;

pub struct SlowLink {
    pub addr: SocketAddr,
    task: JoinHandle<()>,
}

impl SlowLink {
    /// Listen on a free loopback port; every connection is forwarded to
    /// `target`, each direction delayed by `one_way` and limited to
    /// `bytes_per_sec`.
    pub async fn start(
        target: SocketAddr,
        one_way: Duration,
        bytes_per_sec: u64,
    ) -> Result<SlowLink> {
        let listener = small_buffered()?;
        listener.bind("127.0.0.1:0".parse()?)?;
        let listener: TcpListener = listener.listen(16)?;
        let addr = listener.local_addr()?;
        let task = tokio::spawn(async move {
            let mut pumps = Vec::new();
            while let Ok((inbound, _)) = listener.accept().await {
                let Ok(socket) = small_buffered() else {
                    continue;
                };
                let Ok(outbound) = socket.connect(target).await else {
                    continue;
                };
                let (ir, iw) = inbound.into_split();
                let (or, ow) = outbound.into_split();
                pumps.push(tokio::spawn(pump(ir, ow, one_way, bytes_per_sec)));
                pumps.push(tokio::spawn(pump(or, iw, one_way, bytes_per_sec)));
            }
            for p in pumps {
                p.abort();
            }
        });
        Ok(SlowLink { addr, task })
    }
}

/// Kernel buffering the link's sockets may use to receive: small and
/// fixed, so that (with the in-flight chunks) the link holds little, as a
/// narrow uplink does. Loopback receive buffers otherwise grow to tens of
/// MiB and a sender never notices the link is slow.
const SOCKET_BUFFER: u32 = 64 * 1024;

fn small_buffered() -> std::io::Result<TcpSocket> {
    let socket = TcpSocket::new_v4()?;
    socket.set_recv_buffer_size(SOCKET_BUFFER)?;
    Ok(socket)
}

impl Drop for SlowLink {
    fn drop(&mut self) {
        self.task.abort();
    }
}

/// One direction: read, hold for `delay`, write at `rate`.
async fn pump(mut from: OwnedReadHalf, mut to: OwnedWriteHalf, delay: Duration, rate: u64) {
    let (tx, mut rx) = mpsc::channel::<(Instant, Vec<u8>)>(IN_FLIGHT);
    let reader = tokio::spawn(async move {
        let mut buf = vec![0u8; CHUNK];
        loop {
            match from.read(&mut buf).await {
                Ok(0) | Err(_) => return,
                Ok(n) => {
                    if tx
                        .send((Instant::now() + delay, buf[..n].to_vec()))
                        .await
                        .is_err()
                    {
                        return;
                    }
                }
            }
        }
    });
    let mut next_free = Instant::now();
    while let Some((due, chunk)) = rx.recv().await {
        tokio::time::sleep_until(due.max(next_free)).await;
        if to.write_all(&chunk).await.is_err() {
            break;
        }
        let cost = Duration::from_secs_f64(chunk.len() as f64 / rate as f64);
        next_free = Instant::now() + cost;
    }
    reader.abort();
    let _ = to.shutdown().await;
}
