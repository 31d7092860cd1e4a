//! Tenant authorizer: each user (or nkey) belongs to a tenant and may only
//! publish and subscribe under `<tenant>.>` (plus `_INBOX.>` for replies).
//! Anyone not listed is refused.
//!
//! Config (the plugin's `config` table):
//! - `tenants.<user>`: the tenant of a user;
//! - `nkeys.<public-nkey>`: the tenant of an nkey user;
//! - `admins.<n>`: users allowed everywhere (no restrictions).
//!
//! Passwords are the broker's job: list the users in its `authorization`
//! block and this plugin only decides what each may do.

use tern_plugin_sdk::authorizer::{
    config, config_section, Authorizer, ConnectInfo, Decision, Permissions,
};

/// The tenant of a client, from its user name or its nkey.
pub fn tenant_of<'a>(
    user: Option<&str>,
    nkey: Option<&str>,
    tenants: &[(&str, &'a str)],
    nkeys: &[(&str, &'a str)],
) -> Option<&'a str> {
    let lookup = |table: &[(&str, &'a str)], key: Option<&str>| {
        let key = key?;
        table.iter().find(|(k, _)| *k == key).map(|(_, t)| *t)
    };
    lookup(tenants, user).or_else(|| lookup(nkeys, nkey))
}

struct TenantAuthorizer;

impl Authorizer for TenantAuthorizer {
    fn authorize(info: ConnectInfo) -> Decision {
        let user = info.user.as_deref();
        let is_admin = config()
            .iter()
            .any(|(k, v)| k.starts_with("admins.") && Some(v.as_str()) == user);
        if is_admin {
            return Decision::allow_all();
        }
        let tenants = config_section("tenants");
        let nkeys = config_section("nkeys");
        match tenant_of(user, info.nkey.as_deref(), &tenants, &nkeys) {
            Some(tenant) => Decision::allow(Permissions::prefixed(tenant)),
            None => Decision::Deny(format!(
                "no tenant for user {:?} / nkey {:?}",
                info.user, info.nkey
            )),
        }
    }
}

tern_plugin_sdk::export_authorizer!(TenantAuthorizer);

#[cfg(test)]
mod tests {
    use super::tenant_of;

    #[test]
    fn users_and_nkeys_map_to_tenants() {
        let tenants = [("alice", "acme"), ("bob", "globex")];
        let nkeys = [("UABC", "initech")];
        assert_eq!(
            tenant_of(Some("bob"), None, &tenants, &nkeys),
            Some("globex")
        );
        assert_eq!(
            tenant_of(None, Some("UABC"), &tenants, &nkeys),
            Some("initech")
        );
        assert_eq!(tenant_of(Some("eve"), None, &tenants, &nkeys), None);
        assert_eq!(tenant_of(None, None, &tenants, &nkeys), None);
    }
}
