//! The `authorization` block.

use std::time::Duration;

use super::super::{Permissions, SubjectPermission, UserConfig};
use super::{assert_error, conf, conf_err, toml, unsupported};

fn allow(subjects: &[&str]) -> SubjectPermission {
    SubjectPermission {
        allow: Some(subjects.iter().map(|s| s.to_string()).collect()),
        deny: Vec::new(),
    }
}

#[test]
fn single_user_and_token() {
    let c = conf("authorization { user: a, password: b, timeout: 2 }\n");
    assert_eq!(
        (c.auth.user.as_deref(), c.auth.password.as_deref()),
        (Some("a"), Some("b"))
    );
    assert_eq!(c.auth.timeout, Some(Duration::from_secs(2)));
    assert!(c.auth.required());
    let c = conf("authorization { username: a, pass: b }\n");
    assert_eq!(
        (c.auth.user.as_deref(), c.auth.password.as_deref()),
        (Some("a"), Some("b"))
    );
    let c = conf("authorization { token: \"s3cr3t\" }\n");
    assert_eq!(c.auth.token.as_deref(), Some("s3cr3t"));
}

#[test]
fn timeout_forms() {
    let t = |v: &str| {
        conf(&format!("authorization {{ timeout: {v} }}\n"))
            .auth
            .timeout
    };
    assert_eq!(t("0.5"), Some(Duration::from_millis(500)));
    assert_eq!(t("\"1500ms\""), Some(Duration::from_millis(1500)));
    assert_eq!(t("0"), None);
    let c = conf("authorization { timeout: 90 }\n");
    assert!(
        c.warnings[0]
            .message
            .contains("consider keeping it under 60 seconds"),
        "{:?}",
        c.warnings
    );
    let err = conf_err("authorization {\n  timeout: -1\n}\n");
    assert_error(
        &err,
        "test.conf:2",
        "authorization.timeout",
        "not a valid duration",
    );
}

#[test]
fn users_with_each_permission_form() {
    let c = conf(
        r#"
authorization {
  default_permissions: { publish: "public.>", subscribe: ["public.>", "_INBOX.>"] }
  users = [
    { user: admin, password: "$2a$11$W2zko751KUvVy59mUTWmpOdWjpEm5qhcCZRd05GjI/sSOT.xtiHyG", permissions: { publish: ">", subscribe: ">" } }
    { user: svc, password: pw, permissions: { publish: { allow: ["orders.*"], deny: ["orders.secret"] }, sub: { deny: "admin.>" } } }
    { user: plain, password: pw }
  ]
}
"#,
    );
    let users = &c.auth.users;
    assert_eq!(users.len(), 3);
    assert_eq!(
        users[0].password,
        "$2a$11$W2zko751KUvVy59mUTWmpOdWjpEm5qhcCZRd05GjI/sSOT.xtiHyG"
    );
    assert_eq!(
        users[0].permissions,
        Some(Permissions {
            publish: allow(&[">"]),
            subscribe: allow(&[">"]),
            responses: None
        })
    );
    let svc = users[1].permissions.clone().unwrap_or_default();
    assert_eq!(
        svc.publish,
        SubjectPermission {
            allow: Some(vec!["orders.*".into()]),
            deny: vec!["orders.secret".into()]
        }
    );
    assert_eq!(
        svc.subscribe,
        SubjectPermission {
            allow: None,
            deny: vec!["admin.>".into()]
        }
    );
    assert_eq!(
        users[2],
        UserConfig {
            user: "plain".into(),
            password: "pw".into(),
            ..UserConfig::default()
        }
    );
    let default = c.auth.default_permissions.clone().unwrap_or_default();
    assert_eq!(default.subscribe, allow(&["public.>", "_INBOX.>"]));
    assert!(c.unsupported.is_empty());
}

#[test]
fn subscribe_permissions_may_name_a_queue() {
    let c = conf("authorization { users = [ { user: a, permissions: { subscribe: \"jobs.* workers\" } } ] }\n");
    assert!(c.auth.users[0].permissions.is_some());
    let err = conf_err("authorization {\n  users = [\n    { user: a, permissions: { publish: \"foo bar\" } }\n  ]\n}\n");
    assert_error(
        &err,
        "test.conf:3",
        "authorization.users[0].permissions.publish",
        "subject \"foo bar\" is not a valid subject",
    );
}

#[test]
fn allow_responses_takes_nats_server_forms_and_defaults() {
    use crate::config::ResponsePermission;
    use std::time::Duration;
    let perms = |text: &str| {
        conf(&format!(
            "authorization {{ users = [ {{ user: a, permissions: {{ {text} }} }} ] }}\n"
        ))
        .auth
        .users[0]
            .permissions
            .clone()
            .unwrap_or_default()
    };
    let p = perms("allow_responses: { max: 3, expires: \"1m\" }");
    assert_eq!(
        p.responses,
        Some(ResponsePermission {
            max: Some(3),
            expires: Some(Duration::from_secs(60))
        })
    );
    assert_eq!(
        p.publish.allow,
        Some(Vec::new()),
        "publishing is limited to replies"
    );
    assert_eq!(
        perms("allow_responses: true").responses,
        Some(ResponsePermission::default())
    );
    let p = perms("allow_responses: { max: -1, expires: \"-1s\" }");
    assert_eq!(
        p.responses,
        Some(ResponsePermission {
            max: None,
            expires: None
        })
    );
    let p = perms("publish: \"x\", allow_responses: { max: 0 }");
    assert_eq!(p.responses, Some(ResponsePermission::default()));
    assert_eq!(p.publish.allow, Some(vec!["x".to_string()]));
    assert!(perms("allow_responses: false").responses.is_none());
    let err = conf_err("authorization { users = [ { user: a, permissions: { allow_responses: { expires: 5 } } } ] }\n");
    assert!(
        err.to_string()
            .contains("error parsing expires, not a duration string"),
        "{err}"
    );
    let err = conf_err("authorization { users = [ { user: a, permissions: { allow_responses: { maxx: 5 } } } ] }\n");
    assert!(
        err.to_string()
            .contains("Unknown field \"maxx\" parsing permissions"),
        "{err}"
    );
}

#[test]
fn callouts_are_unsupported_and_connection_types_taken() {
    let c = conf(
        "authorization {\n  users = [\n    { nkey: UDXU4RCSJNZOIQHZNWXHXORDPRTGNJAHAHFRGZNEEJCPQTT2M7NLCNF4 }\n    { user: b, password: c, allowed_connection_types: [\"WEBSOCKET\"] }\n  ]\n  auth_callout { issuer: x }\n}\n",
    );
    let got: Vec<_> = unsupported(&c)
        .into_iter()
        .map(|(f, l, k)| format!("{f}@{l}:{k}"))
        .collect();
    assert_eq!(
        got,
        ["auth_callout@test.conf:6:authorization.auth_callout",]
    );
    assert_eq!(c.auth.users.len(), 2, "the nkey user and the password user");
    assert_eq!(c.auth.users[1].allowed_connection_types, ["WEBSOCKET"]);
    let err = conf_err("authorization { users = [ { user: a, password: b, allowed_connection_types: [\"standard\", \"CARRIER_PIGEON\"] } ] }\n");
    assert!(
        err.to_string()
            .contains("unknown connection type \"CARRIER_PIGEON\""),
        "{err}"
    );
    assert_eq!(
        c.auth.users[0].nkey.as_deref(),
        Some("UDXU4RCSJNZOIQHZNWXHXORDPRTGNJAHAHFRGZNEEJCPQTT2M7NLCNF4")
    );
}

#[test]
fn nkey_users_and_no_auth_user_get_nats_server_checks() {
    let key = "UDXU4RCSJNZOIQHZNWXHXORDPRTGNJAHAHFRGZNEEJCPQTT2M7NLCNF4";
    let c = conf(&format!(
        "no_auth_user: {key}\nauthorization {{ users = [ {{ nkey: {key}, permissions: {{ publish: \"a\" }} }} ] }}\n"
    ));
    assert_eq!(c.no_auth_user.as_deref(), Some(key));
    assert!(c.auth.users[0].permissions.is_some());
    let err = conf_err("authorization {\n  users: [ {nkey: UABC} ]\n}\n");
    assert_error(
        &err,
        "test.conf:2",
        "authorization.users[0]",
        "Not a valid public nkey for a user: \"UABC\"",
    );
    // A seed, or an account's key, is not a user's public key.
    let account_key = nkeys::KeyPair::new_account().public_key();
    let err = conf_err(&format!(
        "authorization {{ users: [ {{nkey: {account_key}}} ] }}\n"
    ));
    assert!(err.to_string().contains("Not a valid public nkey"), "{err}");
    let err = conf_err(&format!(
        "authorization {{ users: [ {{nkey: {key}}}, {{nkey: {key}}} ] }}\n"
    ));
    assert!(
        err.to_string()
            .contains(&format!("Duplicate nkey \"{key}\" detected")),
        "{err}"
    );
    let err =
        conf_err("no_auth_user: ghost\nauthorization { users = [ { user: a, password: b } ] }\n");
    assert_error(
        &err,
        "test.conf:1",
        "no_auth_user",
        "no_auth_user: \"ghost\" not present as user or nkey in authorization block or account configuration",
    );
    let err = conf_err("no_auth_user: ghost\n");
    assert!(
        err.to_string()
            .contains("no_auth_user: \"ghost\" present, but users/nkeys are not defined"),
        "{err}"
    );
    // An account's user counts.
    let c = conf("no_auth_user: dev\naccounts { A { users = [ { user: dev, password: x } ] } }\n");
    assert_eq!(c.no_auth_user.as_deref(), Some("dev"));
}

#[test]
fn nats_server_consistency_checks() {
    let err = conf_err("authorization { user: a, token: b }\n");
    assert_error(
        &err,
        "test.conf:1",
        "authorization",
        "Cannot have a user/pass and token",
    );
    let err = conf_err("authorization {\n  users: []\n  user: a\n  pass: b\n}\n");
    assert_error(
        &err,
        "test.conf:1",
        "authorization",
        "Can not have a single user/pass and a users array",
    );
    let err = conf_err("authorization { token: t, users: [] }\n");
    assert_error(
        &err,
        "test.conf:1",
        "authorization",
        "Can not have a token and a users array",
    );
    let err = conf_err("authorization { users: [ {user: a}, {user: a} ] }\n");
    assert_error(
        &err,
        "test.conf:1",
        "authorization",
        "Duplicate user \"a\" detected",
    );
    let err = conf_err("authorization {\n  users: [\n    {pass: a}\n  ]\n}\n");
    assert_error(
        &err,
        "test.conf:3",
        "authorization.users[0]",
        "User entry requires a user",
    );
    let err = conf_err("authorization {\n  users: [ {nkey: UABC, user: x} ]\n}\n");
    assert_error(
        &err,
        "test.conf:2",
        "authorization.users[0]",
        "Nkey users do not take usernames or passwords",
    );
}

#[test]
fn unknown_keys_inside_are_errors() {
    let err = conf_err("authorization {\n  user: a\n  bogus: 1\n}\n");
    assert_error(
        &err,
        "test.conf:3",
        "authorization.bogus",
        "unknown field \"authorization.bogus\"",
    );
    let err = conf_err("authorization {\n  users: [\n    { user: a, colour: red }\n  ]\n}\n");
    assert_error(
        &err,
        "test.conf:3",
        "authorization.users[0].colour",
        "unknown field",
    );
    let err =
        conf_err("authorization {\n  permissions: {\n    publish: { allow: a, nope: 1 }\n  }\n}\n");
    assert_error(
        &err,
        "test.conf:3",
        "authorization.permissions.publish.nope",
        "Unknown field name \"nope\" parsing subject permissions, only 'allow' or 'deny' are permitted",
    );
}

#[test]
fn toml_tables_and_arrays_of_tables() {
    let c = toml(
        r#"
[authorization]
timeout = "2s"

[[authorization.users]]
user = "a"
password = "b"
permissions = { publish = ["x.>"], subscribe = { allow = ["y.>"], deny = ["y.z"] } }

[[authorization.users]]
user = "c"
password = "d"
"#,
    );
    assert_eq!(c.auth.timeout, Some(Duration::from_secs(2)));
    assert_eq!(c.auth.users.len(), 2);
    let p = c.auth.users[0].permissions.clone().unwrap_or_default();
    assert_eq!(p.publish, allow(&["x.>"]));
    assert_eq!(p.subscribe.deny, vec!["y.z".to_string()]);
}
