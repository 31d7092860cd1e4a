//! Accepting leaf links on the leafnode port.

use std::sync::Arc;
use std::time::Duration;

use tokio::net::TcpListener;
use tokio::sync::watch;

use crate::server::state::{RunState, Shared};

use super::link::{self, Role};

/// Accept links until the server leaves the running state.
pub async fn accept_loop(
    listener: TcpListener,
    shared: Arc<Shared>,
    mut run_state: watch::Receiver<RunState>,
) {
    loop {
        tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok((stream, addr)) => {
                    let shared = shared.clone();
                    tokio::spawn(async move {
                        link::run(shared, stream, addr, Role::Accepted).await;
                    });
                }
                Err(e) => {
                    tracing::error!("Error accepting leafnode connection: {e}");
                    tokio::time::sleep(Duration::from_millis(10)).await;
                }
            },
            changed = run_state.changed() => {
                if changed.is_err() || *run_state.borrow() != RunState::Running {
                    return;
                }
            }
        }
    }
}
