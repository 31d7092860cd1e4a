//! `$JS.API` in accounts JetStream does not serve (with accounts
//! configured, only the one with `jetstream: enabled` has it): nats-server
//! answers each API request there with its response type and the error
//! "JetStream not enabled for account" (503, 10039), pull requests and
//! direct gets with no-responders, and anything else not at all. One task
//! answers for every such account.

use std::sync::Arc;

use serde_json::{json, Value};
use tokio::task::JoinHandle;

use crate::account::Account;
use crate::server::internal::InternalSubscription;
use crate::server::state::{RunState, Shared};

use super::super::error::ApiError;
use super::{account, consumers, msg, streams};

/// How a request in an account without JetStream is answered.
#[derive(Debug, PartialEq, Eq)]
enum Refusal {
    /// The API's response type, and whether it is a list (which carries
    /// empty paging fields and a null list, as nats-server's).
    Typed(&'static str, Option<&'static str>),
    NoResponders,
    Silence,
}

fn refusal(subject: &str) -> Refusal {
    let Some(rest) = subject.strip_prefix("$JS.API.") else {
        return Refusal::Silence;
    };
    let tokens: Vec<&str> = rest.split('.').collect();
    let kind = |name: &'static str| Refusal::Typed(name, None);
    match tokens.as_slice() {
        ["INFO"] => kind(account::TYPE),
        ["STREAM", "CREATE", _] => kind(streams::CREATE),
        ["STREAM", "UPDATE", _] => kind(streams::UPDATE),
        ["STREAM", "INFO", _] => kind(streams::INFO),
        ["STREAM", "DELETE", _] => kind(streams::DELETE),
        ["STREAM", "PURGE", _] => kind(streams::PURGE),
        ["STREAM", "NAMES"] => Refusal::Typed(streams::NAMES, Some("streams")),
        ["STREAM", "LIST"] => Refusal::Typed(streams::LIST, Some("streams")),
        ["STREAM", "MSG", "GET", _] => kind(msg::GET),
        ["STREAM", "MSG", "DELETE", _] => kind(msg::DELETE),
        ["CONSUMER", "CREATE", ..] | ["CONSUMER", "DURABLE", "CREATE", ..] => {
            kind(consumers::CREATE)
        }
        ["CONSUMER", "INFO", _, _] => kind(consumers::INFO),
        ["CONSUMER", "DELETE", _, _] => kind(consumers::DELETE),
        ["CONSUMER", "NAMES", _] => Refusal::Typed(consumers::NAMES, Some("consumers")),
        ["CONSUMER", "LIST", _] => Refusal::Typed(consumers::LIST, Some("consumers")),
        ["CONSUMER", "MSG", "NEXT", ..] | ["DIRECT", "GET", ..] => Refusal::NoResponders,
        _ => Refusal::Silence,
    }
}

/// Answer `$JS.API.>` in `accounts`; `None` when there are none.
pub fn start(shared: &Arc<Shared>, accounts: Vec<Arc<Account>>) -> Option<JoinHandle<()>> {
    let mut subs = Vec::new();
    for account in accounts {
        match shared.subscribe_internal(&account, "$JS.API.>", None) {
            Ok(sub) => subs.push((account, sub)),
            Err(e) => tracing::error!(
                "account {}: cannot subscribe to $JS.API.>: {e}",
                account.name
            ),
        }
    }
    if subs.is_empty() {
        return None;
    }
    Some(tokio::spawn(serve(shared.clone(), subs)))
}

async fn serve(shared: Arc<Shared>, mut subs: Vec<(Arc<Account>, InternalSubscription)>) {
    let mut run_state = shared.watch_run_state();
    loop {
        let next = std::future::poll_fn(|cx| {
            for (i, (_, sub)) in subs.iter_mut().enumerate() {
                if let std::task::Poll::Ready(m) = sub.poll_recv(cx) {
                    return std::task::Poll::Ready((i, m));
                }
            }
            std::task::Poll::Pending
        });
        let (i, msg) = tokio::select! {
            got = next => got,
            changed = run_state.changed() => {
                if changed.is_err() || *run_state.borrow() == RunState::ShuttingDown {
                    return;
                }
                continue;
            }
        };
        let Some(msg) = msg else { return };
        let Some(reply) = msg.reply.as_ref() else {
            continue;
        };
        let account = &subs[i].0;
        match refusal(&String::from_utf8_lossy(&msg.subject)) {
            Refusal::Typed(kind, list) => {
                let mut body = json!({"type": kind, "error": ApiError::not_enabled_for_account()});
                if let (Some(list), Value::Object(map)) = (list, &mut body) {
                    for key in ["total", "offset", "limit"] {
                        map.insert(key.into(), 0.into());
                    }
                    map.insert(list.into(), Value::Null);
                }
                let bytes = serde_json::to_vec(&body).unwrap_or_default();
                shared.publish_internal(account, reply, None, None, &bytes);
            }
            Refusal::NoResponders => {
                shared.publish_internal(account, reply, None, Some(b"NATS/1.0 503\r\n\r\n"), b"");
            }
            Refusal::Silence => {}
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_api_gets_its_type() {
        assert_eq!(
            refusal("$JS.API.STREAM.CREATE.X"),
            Refusal::Typed("io.nats.jetstream.api.v1.stream_create_response", None)
        );
        assert_eq!(
            refusal("$JS.API.STREAM.NAMES"),
            Refusal::Typed(
                "io.nats.jetstream.api.v1.stream_names_response",
                Some("streams")
            )
        );
        assert_eq!(
            refusal("$JS.API.CONSUMER.MSG.NEXT.S.C"),
            Refusal::NoResponders
        );
        assert_eq!(refusal("$JS.API.BOGUS"), Refusal::Silence);
    }
}
