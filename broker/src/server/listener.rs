//! Accepting client connections.

use std::sync::Arc;
use std::time::Duration;

use std::net::SocketAddr;

use tokio::net::{TcpListener, TcpStream};
use tokio::sync::watch;

use super::connection;
use super::state::{RunState, Shared};

/// Accept clients until the server leaves the running state.
pub async fn accept_loop(
    listener: TcpListener,
    shared: Arc<Shared>,
    run_state: watch::Receiver<RunState>,
) {
    accept_until_stopped(listener, run_state, "client", |stream, addr| {
        tokio::spawn(connection::serve(shared.clone(), stream, addr));
    })
    .await
}

/// Hand every connection `listener` accepts to `serve` until the server
/// leaves the running state; shared by the client, websocket and
/// leafnode ports (`what` names the port in logs).
pub async fn accept_until_stopped(
    listener: TcpListener,
    mut run_state: watch::Receiver<RunState>,
    what: &str,
    mut serve: impl FnMut(TcpStream, SocketAddr),
) {
    loop {
        tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok((stream, addr)) => serve(stream, addr),
                Err(e) => {
                    // Out of file descriptors and similar: back off instead of spinning.
                    tracing::error!("Error accepting {what} connection: {e}");
                    tokio::time::sleep(Duration::from_millis(10)).await;
                }
            },
            changed = run_state.changed() => {
                if changed.is_err() || *run_state.borrow() != RunState::Running {
                    tracing::info!("Stopped accepting new {what} connections");
                    return;
                }
            }
        }
    }
}
