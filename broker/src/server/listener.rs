//! Accepting client connections.

use std::sync::Arc;
use std::time::Duration;

use tokio::net::TcpListener;
use tokio::sync::watch;

use super::connection;
use super::state::{RunState, Shared};

/// Accept clients until the server leaves the running state.
pub async fn accept_loop(
    listener: TcpListener,
    shared: Arc<Shared>,
    mut run_state: watch::Receiver<RunState>,
) {
    loop {
        tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok((stream, addr)) => {
                    tokio::spawn(connection::serve(shared.clone(), stream, addr));
                }
                Err(e) => {
                    // Out of file descriptors and similar: back off instead of spinning.
                    tracing::error!("Error accepting client connection: {e}");
                    tokio::time::sleep(Duration::from_millis(10)).await;
                }
            },
            changed = run_state.changed() => {
                if changed.is_err() || *run_state.borrow() != RunState::Running {
                    tracing::info!("Stopped accepting new client connections");
                    return;
                }
            }
        }
    }
}
