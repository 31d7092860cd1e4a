//! UNSUB, immediate or after a number of messages.

use crate::server::delivery::remove_subscription;
use crate::server::session::{OpResult, Session};

pub fn unsubscribe(session: &mut Session, sid: &[u8], max: Option<u64>) -> OpResult {
    let sub = session.handle.subs.lock().get(sid).cloned();
    if let Some(sub) = sub {
        let keep = max.is_some_and(|m| m > 0 && sub.set_max(m));
        if !keep {
            remove_subscription(&session.shared, &sub);
        }
    }
    session.send_ok_if_verbose();
    Ok(())
}
