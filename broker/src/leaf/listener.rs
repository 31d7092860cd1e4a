//! Accepting leaf links on the leafnode port, with TLS when the port has a
//! `tls {}` block: INFO in the clear and then the leaf's handshake, or the
//! handshake first (`handshake_first`), as nats-server orders them.

use std::net::SocketAddr;
use std::sync::Arc;

use tokio::net::TcpListener;
use tokio::net::TcpStream;
use tokio::sync::watch;

use crate::server::listener::accept_until_stopped;
use crate::server::state::{RunState, Shared};
use crate::tls::{listener_start, HandshakeError};

use super::link::{self, Role, Transport};

/// Accept links until the server leaves the running state.
pub async fn accept_loop(
    listener: TcpListener,
    shared: Arc<Shared>,
    run_state: watch::Receiver<RunState>,
) {
    accept_until_stopped(listener, run_state, "leafnode", |stream, addr| {
        tokio::spawn(accept(shared.clone(), stream, addr));
    })
    .await
}

/// Settle TLS for an accepted connection, then run it as a link.
async fn accept(shared: Arc<Shared>, stream: TcpStream, addr: SocketAddr) {
    let _ = stream.set_nodelay(true);
    let id = shared.next_client_id();
    let config = shared.config();
    let mut transport = Transport::tcp(stream);
    if let (Some(server_config), Some(tc)) = (shared.leaf_tls(), config.leafnodes.tls.as_ref()) {
        let local = transport.stream.local_addr().unwrap_or(shared.local_addr);
        let info = link::leaf_info(&shared, id, local, false).to_line();
        match listener_start::start(transport.stream, tc, server_config, &info, false).await {
            Ok(started) => {
                transport = Transport {
                    tls: started.tls,
                    greeted: started.greeted,
                    ..Transport::tcp(started.stream)
                };
            }
            Err(e @ HandshakeError::Greeting(_)) => {
                tracing::debug!("{addr} - lid:{id} - {e}");
                return;
            }
            Err(e) => {
                tracing::error!("{addr} - lid:{id} - {}", e.of_link("leafnode"));
                return;
            }
        }
    }
    link::run_over(shared, id, transport, addr, Role::Accepted).await;
}
