//! The authorizer hook: at CONNECT the plugin sees who is connecting and
//! either refuses the connection or allows it with permissions, which the
//! broker then enforces natively on every PUB and SUB (the plugin is not
//! called again for that connection).

use wasmtime::Store;

use crate::config::{FailurePolicy, Permissions, SubjectPermission};
use crate::subject::is_valid_subject;

use super::bindings::authorizer::{Authorizer, AuthorizerPre};
use super::bindings::types::{self, ConnectInfo, Decision};
use super::error::CallError;
use super::host::HostState;
use super::pool::{Hook, Pool};

impl Hook for Authorizer {
    type Pre = AuthorizerPre<HostState>;
    fn instantiate(pre: &Self::Pre, store: &mut Store<HostState>) -> wasmtime::Result<Self> {
        pre.instantiate(store)
    }
}

/// The authorizer's verdict, failure policy applied.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Verdict {
    /// Allowed; `Some` replaces any permissions the broker's own config
    /// gives the user.
    Allow(Option<Permissions>),
    Deny(String),
    /// The plugin failed and its policy is `pass`: decide as if there were
    /// no authorizer.
    Pass,
}

pub use types::ConnectInfo as ConnectDetails;

pub struct AuthorizerPlugin {
    policy: FailurePolicy,
    pub(crate) pool: Pool<Authorizer>,
}

/// The account names that mean "the one account Tern has".
const GLOBAL_ACCOUNTS: [&str; 2] = ["", "$G"];

impl AuthorizerPlugin {
    pub fn new(policy: FailurePolicy, pool: Pool<Authorizer>) -> Self {
        AuthorizerPlugin { policy, pool }
    }

    pub fn name(&self) -> &str {
        self.pool.name()
    }

    pub fn authorize(&self, info: &ConnectInfo) -> Verdict {
        let result = self
            .pool
            .call(None, |hook, store, _| {
                hook.tern_plugin_authorize().call_authorize(store, info)
            })
            .and_then(|d| self.check(d));
        match result {
            Ok(v) => v,
            Err(_) if self.policy == FailurePolicy::Pass => Verdict::Pass,
            Err(e) => Verdict::Deny(format!("authorizer {} failed: {e}", self.name())),
        }
    }

    fn check(&self, decision: Decision) -> Result<Verdict, CallError> {
        let grant = match decision {
            Decision::Deny(reason) => return Ok(Verdict::Deny(reason)),
            Decision::Allow(grant) => grant,
        };
        if let Some(account) = grant
            .account
            .as_deref()
            .filter(|a| !GLOBAL_ACCOUNTS.contains(a))
        {
            // Placing the client anywhere else would silently drop the
            // isolation the plugin asked for.
            return Ok(Verdict::Deny(format!(
                "account {account:?} requested, but Tern has no accounts yet"
            )));
        }
        let Some(p) = grant.permissions else {
            return Ok(Verdict::Allow(None));
        };
        let convert = |p: types::SubjectPermission| -> Result<SubjectPermission, CallError> {
            let all = p.allow.iter().flatten().chain(p.deny.iter());
            if let Some(bad) = all.into_iter().find(|s| !is_valid_subject(s.as_bytes())) {
                return Err(self.pool.fail(CallError::InvalidOutput(format!(
                    "invalid subject {bad:?} in permissions"
                ))));
            }
            Ok(SubjectPermission {
                allow: p.allow,
                deny: p.deny,
            })
        };
        Ok(Verdict::Allow(Some(Permissions {
            publish: convert(p.publish)?,
            subscribe: convert(p.subscribe)?,
            responses: None,
        })))
    }
}
