//! `accounts` and `system_account`, in both syntaxes.

use super::{conf, conf_err, toml};
use crate::config::{ResponseType, ShareKind};

const CONF: &str = r#"
system_account: SYS
accounts {
  SYS: { users: [ { user: sys, password: sys } ] }
  ORDERS: {
    users: [ { user: o, password: o } ]
    default_permissions: { publish: "orders.>" }
    exports: [
      { service: "orders.*", response: stream, threshold: "5s" }
      { stream: "events.>", accounts: [BILLING] }
    ]
    jetstream: enabled
  }
  BILLING: {
    users: [ { user: b, password: b, permissions: { publish: ">" } } ]
    imports: [
      { service: { account: ORDERS, subject: "orders.*" }, to: "billing.orders.*" }
      { stream: { account: ORDERS, subject: "events.>" }, prefix: "orders" }
    ]
  }
}
"#;

const TOML: &str = r#"
system_account = "SYS"
[accounts.SYS]
users = [ { user = "sys", password = "sys" } ]
[accounts.ORDERS]
users = [ { user = "o", password = "o" } ]
default_permissions = { publish = "orders.>" }
exports = [
  { service = "orders.*", response = "stream", threshold = "5s" },
  { stream = "events.>", accounts = ["BILLING"] },
]
jetstream = "enabled"
[accounts.BILLING]
users = [ { user = "b", password = "b", permissions = { publish = ">" } } ]
imports = [
  { service = { account = "ORDERS", subject = "orders.*" }, to = "billing.orders.*" },
  { stream = { account = "ORDERS", subject = "events.>" }, prefix = "orders" },
]
"#;

#[test]
fn accounts_parse_alike_in_both_syntaxes() {
    let c = conf(CONF);
    assert_eq!(c.system_account.as_deref(), Some("SYS"));
    let names: Vec<&str> = c.accounts.iter().map(|a| a.name.as_str()).collect();
    assert_eq!(names, ["SYS", "ORDERS", "BILLING"]);
    let orders = &c.accounts[1];
    assert!(orders.jetstream);
    assert_eq!(orders.users[0].account.as_deref(), Some("ORDERS"));
    // The account's default permissions go to users without their own.
    let perms = orders.users[0].permissions.clone().unwrap_or_default();
    assert_eq!(perms.publish.allow, Some(vec!["orders.>".to_string()]));
    assert_eq!(orders.exports[0].kind, ShareKind::Service);
    assert_eq!(orders.exports[0].response, ResponseType::Stream);
    assert_eq!(
        orders.exports[0].threshold,
        Some(std::time::Duration::from_secs(5))
    );
    assert_eq!(
        orders.exports[1].accounts,
        Some(vec!["BILLING".to_string()])
    );
    let billing = &c.accounts[2];
    assert_eq!(billing.imports[0].to.as_deref(), Some("billing.orders.*"));
    assert_eq!(billing.imports[1].prefix.as_deref(), Some("orders"));
    assert!(c.unsupported.is_empty(), "{:?}", c.unsupported);

    let t = toml(TOML);
    let strip = |c: &crate::config::Config| {
        let mut accounts = c.accounts.clone();
        for a in &mut accounts {
            a.origin = Default::default();
            a.exports
                .iter_mut()
                .for_each(|e| e.origin = Default::default());
            a.imports
                .iter_mut()
                .for_each(|i| i.origin = Default::default());
        }
        accounts
    };
    assert_eq!(strip(&c), strip(&t));
    assert_eq!(t.system_account, c.system_account);
}

#[test]
fn a_list_of_names_makes_empty_accounts() {
    let c = conf("accounts: [A, B]\n");
    let names: Vec<&str> = c.accounts.iter().map(|a| a.name.as_str()).collect();
    assert_eq!(names, ["A", "B"]);
}

#[test]
fn mistakes_are_reported_where_written() {
    for (text, expected) in [
        (
            "accounts { A { imports = [{service: {account: A}}] } }\n",
            "test.conf:1: accounts.A.imports[0].service: Expect an account name and a subject",
        ),
        (
            "accounts { A { exports = [{stream: \"a\", service: \"b\"}] } }\n",
            "Detected service but already saw a stream",
        ),
        (
            "accounts { A { imports = [{stream: {account: B, subject: x}, prefix: p, to: y}] }, B { exports = [{stream: x}] } }\n",
            "Stream import can not have a 'prefix' and a 'to' property",
        ),
        (
            "accounts { A { imports = [{service: {account: B, subject: \"x.*\"}, to: \"y.*.*\"}] }, B { exports = [{service: \"x.*\"}] } }\n",
            "wildcards",
        ),
        ("system_account: NOPE\n", "system account \"NOPE\" is not defined"),
        (
            "authorization { user: a, password: a }\naccounts { A { users = [{user: b, password: b}] } }\n",
            "Can not have a single user/pass and accounts",
        ),
        (
            "accounts { A { exports = [{service: x, response: sometimes}] } }\n",
            "Unknown response type",
        ),
    ] {
        let err = conf_err(text).to_string();
        assert!(err.contains(expected), "{text:?}: {err}");
    }
    let two = conf("accounts { A { jetstream: enabled }, B { jetstream: enabled } }\n");
    assert_eq!(two.unsupported.len(), 1);
    assert_eq!(
        two.unsupported[0].feature,
        "jetstream in more than one account"
    );
}
