//! `/healthz`: `{"status":"ok"}` once the server accepts clients, with
//! nats-server's options (`js-enabled-only`, `js-server-only`,
//! `js-meta-only`, `account`, `stream`, `consumer`, `details`) and its
//! errors. Without JetStream every JetStream check passes, as in
//! nats-server when JetStream is not configured.

use serde::Serialize;

use crate::server::state::{RunState, Shared};

use super::error::RequestError;
use super::query::Query;

#[derive(Debug, Serialize)]
pub struct Health {
    pub status: &'static str,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub errors: Vec<HealthError>,
}

#[derive(Debug, Serialize)]
pub struct HealthError {
    #[serde(rename = "type")]
    pub kind: &'static str,
    pub error: String,
}

/// The status code and document.
pub fn healthz(shared: &Shared, q: &Query) -> Result<(u16, Health), RequestError> {
    for key in [
        "js-enabled",
        "js-enabled-only",
        "js-server-only",
        "js-meta-only",
    ] {
        q.bool(key)?;
    }
    let details = q.bool("details")?;
    let fail = |status: u16, kind: &'static str, text: String| {
        let health = if details {
            Health {
                status: "error",
                error: None,
                errors: vec![HealthError { kind, error: text }],
            }
        } else {
            Health {
                status: "error",
                error: Some(text),
                errors: Vec::new(),
            }
        };
        Ok((status, health))
    };
    if q.get("account").is_empty() && !q.get("stream").is_empty() {
        return fail(
            400,
            "BAD_REQUEST",
            "\"account\" must not be empty when checking stream health".into(),
        );
    }
    if q.get("stream").is_empty() && !q.get("consumer").is_empty() {
        return fail(
            400,
            "BAD_REQUEST",
            "\"stream\" must not be empty when checking consumer health".into(),
        );
    }
    if shared.run_state() == RunState::ShuttingDown {
        return fail(500, "CONNECTION", "server is shutting down".into());
    }
    Ok((
        200,
        Health {
            status: "ok",
            error: None,
            errors: Vec::new(),
        },
    ))
}
