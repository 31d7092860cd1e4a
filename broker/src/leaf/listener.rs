//! Accepting leaf links on the leafnode port.

use std::sync::Arc;

use tokio::net::TcpListener;
use tokio::sync::watch;

use crate::server::listener::accept_until_stopped;
use crate::server::state::{RunState, Shared};

use super::link::{self, Role};

/// Accept links until the server leaves the running state.
pub async fn accept_loop(
    listener: TcpListener,
    shared: Arc<Shared>,
    run_state: watch::Receiver<RunState>,
) {
    accept_until_stopped(listener, run_state, "leafnode", |stream, addr| {
        tokio::spawn(link::run(shared.clone(), stream, addr, Role::Accepted));
    })
    .await
}
