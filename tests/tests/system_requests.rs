//! `$SYS.REQ.SERVER.PING` and friends, which `nats server list/info` use:
//! answered to users of the system account only, with nats-server's
//! envelope and documents; compared with nats-server, same config.

mod common;

use std::time::Duration;

use anyhow::{ensure, Context, Result};
use async_nats::ConnectOptions;
use common::monitoring::same_shapes;
use common::{connect, connect_with};
use serde_json::Value;
use tern_tests::{Broker, BrokerOptions, Kind};

/// A system account user to ask, and a user of another account.
const SYS_ACCOUNTS: &str = "accounts {\n  SYS { users = [{user: sys, password: sys}] }\n  APP { users = [{user: app, password: app}] }\n}\nsystem_account: SYS\n";

/// Monitoring stays off: the requests do not depend on it.
fn start(kind: Kind) -> Result<Broker> {
    Broker::start_with(
        kind,
        BrokerOptions {
            config: Some(SYS_ACCOUNTS.to_string()),
            ..Default::default()
        },
    )
}

async fn client(_kind: Kind, b: &Broker) -> Result<async_nats::Client> {
    connect_with(
        &b.url(),
        ConnectOptions::with_user_and_password("sys".into(), "sys".into()),
    )
    .await
}

async fn request(c: &async_nats::Client, subject: &str, body: &str) -> Result<Value> {
    let msg = tokio::time::timeout(
        Duration::from_secs(5),
        c.request(subject.to_string(), body.to_string().into()),
    )
    .await
    .with_context(|| format!("{subject}: timed out"))?
    .with_context(|| format!("{subject}: request failed"))?;
    serde_json::from_slice(&msg.payload).with_context(|| format!("{subject}: not JSON"))
}

/// The documents one broker answers with.
async fn answers(kind: Kind) -> Result<Vec<(String, Value)>> {
    let b = start(kind)?;
    let c = client(kind, &b).await?;
    let ping = request(&c, "$SYS.REQ.SERVER.PING", "").await?;
    let id = ping["server"]["id"]
        .as_str()
        .context("server.id")?
        .to_string();
    let mut out = vec![("PING".to_string(), ping)];
    for (subject, body) in [
        ("$SYS.REQ.SERVER.PING.VARZ", ""),
        ("$SYS.REQ.SERVER.PING.CONNZ", r#"{"subscriptions":true}"#),
        ("$SYS.REQ.SERVER.PING.SUBSZ", ""),
        ("$SYS.REQ.SERVER.PING.HEALTHZ", ""),
        ("$SYS.REQ.SERVER.PING.IDZ", ""),
        ("$SYS.REQ.SERVER.PING.JSZ", ""),
        ("$SYS.REQ.SERVER.PING.CONNZ", r#"{"sort":"bogus"}"#),
    ] {
        out.push((
            format!("{subject} {body}"),
            request(&c, subject, body).await?,
        ));
    }
    let direct = request(&c, &format!("$SYS.REQ.SERVER.{id}.VARZ"), "").await?;
    out.push(("direct VARZ".into(), direct));
    Ok(out)
}

#[tokio::test]
async fn server_ping_and_z_requests_are_answered() -> Result<()> {
    if !Kind::targets().contains(&Kind::Tern) {
        return Ok(());
    }
    let docs = answers(Kind::Tern).await?;
    let get = |name: &str| {
        docs.iter()
            .find(|(n, _)| n.starts_with(name))
            .map(|(_, v)| v)
    };
    let ping = get("PING").context("ping")?;
    ensure!(ping["statsz"]["connections"] == 1, "{ping:#}");
    ensure!(ping["server"]["ver"].is_string() && ping["server"]["seq"].is_u64());
    let varz = get("$SYS.REQ.SERVER.PING.VARZ").context("varz")?;
    ensure!(
        varz["data"]["server_id"] == ping["server"]["id"],
        "{varz:#}"
    );
    let connz = get("$SYS.REQ.SERVER.PING.CONNZ {\"sub").context("connz")?;
    ensure!(connz["data"]["num_connections"] == 1, "{connz:#}");
    let health = get("$SYS.REQ.SERVER.PING.HEALTHZ").context("healthz")?;
    ensure!(
        health["data"]["status"] == "ok" && health["data"]["status_code"] == 200,
        "{health:#}"
    );
    let idz = get("$SYS.REQ.SERVER.PING.IDZ").context("idz")?;
    ensure!(idz["id"] == ping["server"]["id"], "{idz:#}");
    let bad = get("$SYS.REQ.SERVER.PING.CONNZ {\"sort").context("bad sort")?;
    ensure!(bad["error"]["code"] == 400, "{bad:#}");
    ensure!(
        bad["error"]["description"] == "invalid sorting option: bogus",
        "{bad:#}"
    );
    let direct = get("direct VARZ").context("direct")?;
    ensure!(direct["data"]["server_id"] == ping["server"]["id"]);
    Ok(())
}

#[tokio::test]
async fn system_answers_have_nats_servers_shape() -> Result<()> {
    let targets = Kind::targets();
    if !(targets.contains(&Kind::Tern) && targets.contains(&Kind::NatsServer)) {
        eprintln!("skipped: needs both tern and nats-server");
        return Ok(());
    }
    let ours = answers(Kind::Tern).await?;
    let theirs = answers(Kind::NatsServer).await?;
    let allowed = [
        "auth_required",
        "git_commit",
        "feature_flags",
        "system_account",
        "tern_version",
        "max",
    ];
    let maps = ["http_req_stats", "outbound_gateways", "inbound_gateways"];
    same_shapes(&ours, &theirs, &allowed, &maps)
}

/// Whether a request to `$SYS.REQ.SERVER.PING` gets an answer.
async fn answered(b: &Broker, who: Option<(&str, &str)>) -> Result<bool> {
    let c = match who {
        Some((u, p)) => {
            connect_with(
                &b.url(),
                ConnectOptions::with_user_and_password(u.into(), p.into()),
            )
            .await?
        }
        None => connect(&b.url()).await?,
    };
    let got = tokio::time::timeout(
        Duration::from_secs(5),
        c.request("$SYS.REQ.SERVER.PING", "".into()),
    )
    .await
    .context("neither an answer nor no-responders")?;
    Ok(got.is_ok())
}

#[tokio::test]
async fn only_system_account_users_are_answered() {
    common::each_target(|kind| async move {
        let plain = Broker::start(kind)?;
        ensure!(
            !answered(&plain, None).await?,
            "answered without a system account user"
        );
        let b = start(kind)?;
        ensure!(
            !answered(&b, Some(("app", "app"))).await?,
            "answered a user of APP"
        );
        ensure!(
            answered(&b, Some(("sys", "sys"))).await?,
            "no answer to the system user"
        );
        Ok(())
    })
    .await;
}

#[tokio::test]
async fn no_answers_with_no_system_account() -> Result<()> {
    if !Kind::targets().contains(&Kind::Tern) {
        return Ok(());
    }
    let b = Broker::start_with(
        Kind::Tern,
        BrokerOptions {
            config: Some(
                "accounts { $SYS { users = [{user: sys, password: sys}] } }\nno_system_account: true\n"
                    .into(),
            ),
            ..Default::default()
        },
    )?;
    ensure!(
        !answered(&b, Some(("sys", "sys"))).await?,
        "answered with no_system_account"
    );
    Ok(())
}

/// The seed guide's Kubernetes config: a system account with a user and
/// nothing else. As in nats-server, clients without credentials still
/// connect (into the global account) and only the system user is answered.
#[tokio::test]
async fn a_system_account_alone_leaves_clients_without_credentials_in() {
    common::each_target(|kind| async move {
        let b = Broker::start_with(
            kind,
            BrokerOptions {
                config: Some(
                    "accounts { $SYS { users = [ { user: \"admin\", pass: \"admin\" } ] } }\n"
                        .into(),
                ),
                ..Default::default()
            },
        )?;
        let anonymous = connect(&b.url()).await?;
        let mut sub = common::subscribe(&anonymous, "greet").await?;
        common::round_trip(&anonymous).await?;
        anonymous.publish("greet", "hi".into()).await?;
        let got = common::next_msg(&mut sub).await?;
        ensure!(&got.payload[..] == b"hi");
        ensure!(
            !answered(&b, None).await?,
            "answered a client without credentials"
        );
        ensure!(
            answered(&b, Some(("admin", "admin"))).await?,
            "no answer to admin"
        );
        let wrong = connect_with(
            &b.url(),
            ConnectOptions::with_user_and_password("admin".into(), "nope".into()),
        )
        .await;
        ensure!(wrong.is_err(), "a wrong password was let in");
        Ok(())
    })
    .await;
}
