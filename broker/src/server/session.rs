//! The state one connection task owns: what the client declared at CONNECT,
//! its limits and permissions, the match cache and the batch of receivers
//! to flush. Operations in [`super::ops`] act on it.

use std::sync::Arc;
use std::time::Instant;

use crate::account::Account;
use crate::auth::{CompiledPermissions, PublishCache};
use crate::config::Config;
use crate::plugin::Transforms;
use crate::protocol::encode;
use crate::protocol::{ConnectOptions, Limits};
use crate::subject::MatchCache;

use super::client::ClientHandle;
use super::delivery::PendingFlush;
use super::outbound::CloseReason;
use super::stall::{StallBudget, StallPolicy};
use super::state::Shared;
use super::subscription::Subscription;

pub struct Session {
    pub shared: Arc<Shared>,
    pub config: Arc<Config>,
    pub handle: Arc<ClientHandle>,
    /// The client's account: `$G` until CONNECT names a user of another.
    pub account: Arc<Account>,
    pub limits: Limits,
    pub opts: ConnectOptions,
    /// CONNECT has been received and accepted.
    pub connected: bool,
    pub auth_required: bool,
    pub permissions: Option<Arc<CompiledPermissions>>,
    pub publish_cache: PublishCache,
    pub cache: MatchCache<Subscription>,
    pub pending: PendingFlush,
    /// This read's stall time (see [`super::stall`]).
    pub stall: StallBudget,
    pub pings_out: u32,
    /// When the server's last PING went out, until its PONG (the RTT).
    pub ping_sent_at: Option<Instant>,
    /// When the RTT was last measured from a PING/PONG.
    pub rtt_measured_at: Option<Instant>,
    pub last_in: Instant,
    /// Inbound messages and bytes of the current read batch, added to the
    /// shared counters once per batch.
    pub batch_in_msgs: u64,
    pub batch_in_bytes: u64,
    /// Read batches whose receivers have not been flushed yet (the reads
    /// filled the buffer: more input was waiting).
    deferred_batches: u32,
    /// The subject transforms in force (`None` when there are none: the
    /// one check a publish pays without plugins).
    pub transforms: Option<Arc<Transforms>>,
    /// The plugin set generation `transforms` came from.
    plugins_seen: u64,
    /// Credentials from the WebSocket upgrade's cookies, used at CONNECT
    /// where the client gave none.
    pub ws_cookies: Option<Box<crate::websocket::Cookies>>,
    /// The nonce this connection's INFO carried, for nkey signatures.
    pub nonce: Option<String>,
}

/// Read batches whose receivers may wait for the next batch's flush.
pub const MAX_DEFERRED_BATCHES: u32 = 3;

/// Queue whatever `write` appends to `handle`'s own output, flushed with
/// `pending` (for operations that hold a borrow of another part of the
/// session).
pub fn queue(
    handle: &Arc<ClientHandle>,
    pending: &mut PendingFlush,
    write: impl FnOnce(&mut bytes::BytesMut),
) {
    let pushed = handle.out.push(pending.mark(), write);
    pending.note(handle, pushed);
}

/// Queue `-ERR 'text'` to `handle`.
pub fn queue_err(handle: &Arc<ClientHandle>, pending: &mut PendingFlush, text: &str) {
    tracing::debug!(
        cid = handle.id,
        "{} - cid:{} - -ERR '{}'",
        handle.addr,
        handle.id,
        text
    );
    queue(handle, pending, |b| encode::write_err(b, text));
}

/// What an operation tells the read loop.
pub type OpResult = Result<(), CloseReason>;

impl Session {
    pub fn new(shared: Arc<Shared>, handle: Arc<ClientHandle>) -> Self {
        let config = shared.config();
        let auth_required = shared.auth_required();
        let plugins_seen = shared.plugins_generation();
        let transforms = shared.plugins().transforms.clone();
        let stall_policy = StallPolicy::for_clients(config.no_fast_producer_stall);
        let cache = MatchCache::new(!config.no_match_cache);
        let mut pending = PendingFlush::default();
        pending.stall_policy = stall_policy;
        Session {
            limits: Limits {
                max_control_line: config.max_control_line,
                max_payload: config.max_payload,
            },
            pending,
            stall: StallBudget::new(stall_policy),
            account: shared.global().clone(),
            shared,
            config,
            handle,
            opts: ConnectOptions::default(),
            connected: false,
            auth_required,
            permissions: None,
            publish_cache: PublishCache::default(),
            cache,
            pings_out: 0,
            ping_sent_at: None,
            rtt_measured_at: None,
            last_in: Instant::now(),
            batch_in_msgs: 0,
            batch_in_bytes: 0,
            deferred_batches: 0,
            transforms,
            plugins_seen,
            ws_cookies: None,
            nonce: None,
        }
    }

    /// Queue raw protocol bytes to this client, flushed with the batch.
    pub fn send(&mut self, bytes: &[u8]) {
        self.push(|b| b.extend_from_slice(bytes));
    }

    /// Queue whatever `write` appends to this client's own output.
    pub fn push(&mut self, write: impl FnOnce(&mut bytes::BytesMut)) {
        queue(&self.handle, &mut self.pending, write);
    }

    pub fn send_ok_if_verbose(&mut self) {
        if self.opts.verbose {
            self.send(encode::OK);
        }
    }

    /// Queue `-ERR 'text'`.
    pub fn send_err(&mut self, text: &str) {
        queue_err(&self.handle, &mut self.pending, text);
    }

    /// End of a read batch: publish the inbound counts, flush receivers —
    /// unless `more_waiting` (the read filled the buffer), then the flush
    /// waits for up to [`MAX_DEFERRED_BATCHES`] more batches, so a busy
    /// publisher's receivers get fewer, larger writes. The connection
    /// calls [`Self::flush_deferred`] before it waits for input.
    pub fn end_batch(&mut self, more_waiting: bool) {
        self.handle
            .counters
            .add_in(self.batch_in_msgs, self.batch_in_bytes);
        self.batch_in_msgs = 0;
        self.batch_in_bytes = 0;
        self.cache.report(&self.account.sublist);
        if more_waiting && self.deferred_batches < MAX_DEFERRED_BATCHES {
            self.deferred_batches += 1;
            return;
        }
        self.flush_deferred();
    }

    /// Flush the receivers of batches that [`Self::end_batch`] deferred.
    #[inline]
    pub fn flush_deferred(&mut self) {
        self.deferred_batches = 0;
        self.pending.flush();
    }

    /// Start of a read batch: pick up plugins a reload swapped in, so every
    /// message read after the reload sees the new set (one atomic load per
    /// batch, not per message).
    #[inline]
    pub fn begin_batch(&mut self) {
        let generation = self.shared.plugins_generation();
        if generation != self.plugins_seen {
            self.plugins_seen = generation;
            self.transforms = self.shared.plugins().transforms.clone();
        }
    }

    /// Wait for the receiver delivery found stalled, if any, within this
    /// read's stall budget; receivers are flushed first so the stalled one
    /// has its bytes to write. Returns whether there was one to wait for.
    pub async fn wait_for_stalled(&mut self) -> bool {
        let Some(stalled) = self.pending.take_stalled() else {
            return false;
        };
        self.flush_deferred();
        self.stall
            .wait(&stalled, &self.shared.totals.stalled_clients)
            .await;
        self.pending.stall_policy = self.stall.policy();
        true
    }

    /// The read's operations are all applied: report its stall time and
    /// give the next read a fresh budget.
    pub fn end_read(&mut self) {
        self.stall.end_read(&self.handle.addr, self.handle.id);
        self.pending.stall_policy = self.stall.policy();
    }

    /// Send `-ERR 'text'` and close with `reason`.
    pub fn fail(&mut self, text: &str, reason: CloseReason) -> OpResult {
        self.send_err(text);
        Err(reason)
    }
}
