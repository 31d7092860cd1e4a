//! A subscription receiver that moves messages into another account: the
//! exporter's side of a stream import, the importer's side of a service
//! import (requests), and the exporter's side of its replies. Delivery into
//! a crossing maps the subject and delivers again in the other account,
//! in the same pass (no task hop), counting hops so that accounts that
//! import from each other cannot loop.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Weak};

use crate::config::{ExportConfig, ImportConfig};
use crate::protocol::encode::Delivery;
use crate::server::delivery::{deliver_in, PendingFlush, Publisher};
use crate::server::state::Shared;
use crate::server::subscription::{Receiver, Subscription};
use crate::subject::Mapped;

use super::responses::Responses;
use super::subject_map::{MapError, SubjectMap};
use super::Account;

/// How many accounts one message may cross; deeper chains are cut (they
/// can only come from accounts importing from each other).
pub const MAX_HOPS: u8 = 8;

/// Crossings take ids from a range no connection reaches, for echo checks.
static NEXT_ID: AtomicU64 = AtomicU64::new(1 << 62);

/// Where a crossing sends what it receives.
pub struct Crossing {
    id: u64,
    into: Weak<Account>,
    way: Way,
}

enum Way {
    /// A stream import: the exporter's message, renamed for the importer.
    Stream(SubjectMap),
    /// A service import: an importer's request, renamed for the exporter,
    /// with a reply subject that routes back through `responses`.
    Request {
        map: SubjectMap,
        responses: Arc<Responses>,
    },
    /// The exporter's replies to requests of one service import.
    Reply(Arc<Responses>),
}

impl Crossing {
    /// Wire a stream import: a subscription in the exporter on the
    /// imported subject.
    pub fn stream(
        imp: &ImportConfig,
        exporter: &Arc<Account>,
        importer: &Arc<Account>,
    ) -> Result<(), MapError> {
        let way = Way::Stream(SubjectMap::for_stream(imp)?);
        Crossing::subscribe(exporter, &imp.subject, importer, way);
        Ok(())
    }

    /// Wire a service import: a subscription in the importer on the
    /// subject its clients use (`to`), and one in the exporter for the
    /// replies.
    pub fn service(
        imp: &ImportConfig,
        export: Option<&ExportConfig>,
        exporter: &Arc<Account>,
        importer: &Arc<Account>,
    ) -> Result<(), MapError> {
        let map = SubjectMap::for_service(imp)?;
        let responses = Arc::new(Responses::new(
            export.map(|e| e.response).unwrap_or_default(),
            export.and_then(|e| e.threshold),
        ));
        let local = imp.to.as_deref().unwrap_or(&imp.subject);
        let filter = responses.filter();
        Crossing::subscribe(
            importer,
            local,
            exporter,
            Way::Request {
                map,
                responses: responses.clone(),
            },
        );
        Crossing::subscribe(exporter, &filter, importer, Way::Reply(responses));
        Ok(())
    }

    /// Subscribe a new crossing in `at`; the sublist keeps it.
    fn subscribe(at: &Arc<Account>, subject: &str, into: &Arc<Account>, way: Way) {
        let crossing = Arc::new(Crossing {
            id: NEXT_ID.fetch_add(1, Ordering::Relaxed),
            into: Arc::downgrade(into),
            way,
        });
        let sid = crossing.id.to_string();
        let sub = Arc::new(Subscription::new(
            Receiver::Crossing(crossing),
            at,
            subject.as_bytes(),
            None,
            sid.as_bytes(),
        ));
        if at.sublist.insert(subject.as_bytes(), None, sub).is_err() {
            tracing::error!("account {}: cannot subscribe to {subject:?}", at.name);
        }
    }

    pub fn id(&self) -> u64 {
        self.id
    }

    /// Deliver `msg` in the other account, `hops` accounts away from where
    /// it was published. Returns whether anyone got it.
    pub fn forward(
        &self,
        shared: &Shared,
        msg: &Delivery<'_>,
        hops: u8,
        pending: &mut PendingFlush,
    ) -> bool {
        if hops >= MAX_HOPS {
            return false;
        }
        let Some(into) = self.into.upgrade() else {
            return false;
        };
        let publisher = Publisher {
            id: self.id,
            echo: true,
            queues: None,
            hops: hops + 1,
        };
        match &self.way {
            Way::Stream(map) => {
                let Some(subject) = map.apply(msg.subject) else {
                    return false;
                };
                let msg = Delivery {
                    subject: &subject,
                    ..*msg
                };
                deliver_in(shared, &into, &publisher, &subject, &msg, pending)
            }
            Way::Request { map, responses } => {
                let Some(subject) = map.apply(msg.subject) else {
                    return false;
                };
                // The exporter's own mappings apply to the requests it
                // serves, as in nats-server.
                let subject = match into.mappings.as_deref().map(|m| m.select(&subject)) {
                    Some(Mapped::Fixed(to) | Mapped::Drawn(to)) => to.into_vec(),
                    _ => subject,
                };
                let route = msg.reply.map(|r| responses.register(r));
                let msg = Delivery {
                    subject: &subject,
                    reply: route.as_ref().map(|(_, reply)| reply.as_slice()),
                    ..*msg
                };
                let delivered = deliver_in(shared, &into, &publisher, &subject, &msg, pending);
                if let (false, Some((token, _))) = (delivered, route) {
                    responses.forget(token);
                }
                delivered
            }
            Way::Reply(responses) => {
                let Some(reply_to) = responses.route(msg.subject) else {
                    return false;
                };
                let msg = Delivery {
                    subject: &reply_to,
                    ..*msg
                };
                deliver_in(shared, &into, &publisher, &reply_to, &msg, pending)
            }
        }
    }
}
