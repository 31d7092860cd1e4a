//! nkey users and `no_auth_user`, against Tern and nats-server with the
//! same config: INFO's nonce, async-nats connecting with a user's seed, a
//! seed of another key, a forged or missing signature, and a client with
//! no credentials standing in as `no_auth_user` with that user's
//! permissions.

mod common;

use anyhow::{bail, ensure, Context, Result};
use async_nats::ConnectOptions;
use base64::Engine;
use common::{each_target, info_json, raw, start_with_config, subscribe, sync};
use nkeys::KeyPair;
use tern_tests::{Kind, RawClient};

/// A config with one nkey user allowed to publish and subscribe on
/// `nk.>` only, and one password user.
fn config(key: &str, extra: &str) -> String {
    format!(
        "{extra}\nauthorization {{\n  users = [\n    {{ nkey: {key}, permissions: {{ publish: \"nk.>\", subscribe: [\"nk.>\", \"_INBOX.>\"] }} }}\n    {{ user: admin, password: s3cret }}\n  ]\n}}\n"
    )
}

#[tokio::test]
async fn an_nkey_user_connects_by_signing_the_nonce() {
    each_target(|kind| async move {
        let user = KeyPair::new_user();
        let broker = start_with_config(kind, &config(&user.public_key(), ""))?;
        let seed = user.seed()?;
        let client = ConnectOptions::with_nkey(seed)
            .connect(broker.url())
            .await
            .context("nkey user")?;
        let mut sub = subscribe(&client, "nk.x").await?;
        client.publish("nk.x", "signed".into()).await?;
        let m = common::next_msg(&mut sub).await?;
        ensure!(&m.payload[..] == b"signed");

        // Another user's seed is not one of ours.
        let stranger = KeyPair::new_user().seed()?;
        match ConnectOptions::with_nkey(stranger)
            .retry_on_initial_connect()
            .max_reconnects(Some(1))
            .connect(broker.url())
            .await
        {
            Err(_) => {}
            Ok(c) => {
                let r = c.flush().await;
                ensure!(r.is_err(), "an unknown nkey was let in");
            }
        }
        Ok(())
    })
    .await;
}

/// CONNECT's `sig` over `nonce` with `kp`, base64 as clients send it.
fn signature(kp: &KeyPair, nonce: &str) -> Result<String> {
    Ok(base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(kp.sign(nonce.as_bytes())?))
}

fn connect_line(key: &str, sig: Option<&str>) -> String {
    let sig = sig.map_or(String::new(), |s| format!(",\"sig\":\"{s}\""));
    format!("CONNECT {{\"verbose\":false,\"pedantic\":false,\"nkey\":\"{key}\"{sig}}}\r\nPING\r\n")
}

fn refused(kind: Kind, c: &mut RawClient, line: &str, what: &str) -> Result<()> {
    c.send(line.as_bytes())?;
    let (got, _) = c.read_until_quiet(std::time::Duration::from_millis(500));
    let got = String::from_utf8_lossy(&got);
    if !got.contains("-ERR 'Authorization Violation'") || got.contains("PONG") {
        bail!("{}: {what}: {got:?}", kind.name());
    }
    Ok(())
}

#[tokio::test]
async fn info_carries_a_nonce_and_bad_signatures_are_refused() {
    each_target(|kind| async move {
        let user = KeyPair::new_user();
        let key = user.public_key();
        let broker = start_with_config(kind, &config(&key, ""))?;

        let mut c = RawClient::connect(&broker.addr())?;
        let info = info_json(&c.info)?;
        let nonce = info["nonce"]
            .as_str()
            .context("no nonce in INFO")?
            .to_string();
        ensure!(info["auth_required"] == true, "{info}");
        // Signed right: PONG.
        c.send(connect_line(&key, Some(&signature(&user, &nonce)?)).as_bytes())?;
        let got = c.read_until_suffix(b"PONG\r\n", common::WAIT)?;
        ensure!(!String::from_utf8_lossy(&got).contains("-ERR"), "{got:?}");

        // A signature of another connection's nonce.
        let mut c = RawClient::connect(&broker.addr())?;
        let stale = signature(&user, &nonce)?;
        refused(kind, &mut c, &connect_line(&key, Some(&stale)), "old nonce")?;
        // No signature at all, and one that is not base64.
        let mut c = RawClient::connect(&broker.addr())?;
        refused(kind, &mut c, &connect_line(&key, None), "no sig")?;
        let mut c = RawClient::connect(&broker.addr())?;
        refused(
            kind,
            &mut c,
            &connect_line(&key, Some("not*base64")),
            "garbage sig",
        )?;
        // The right nonce signed by another key.
        let mut c = RawClient::connect(&broker.addr())?;
        let nonce = info_json(&c.info)?["nonce"]
            .as_str()
            .unwrap_or_default()
            .to_string();
        let forged = signature(&KeyPair::new_user(), &nonce)?;
        refused(
            kind,
            &mut c,
            &connect_line(&key, Some(&forged)),
            "forged sig",
        )?;

        // The password user still logs in; without nkey users, no nonce.
        raw(
            &broker.addr(),
            r#"{"verbose":false,"pedantic":false,"user":"admin","pass":"s3cret"}"#,
        )?;
        let plain = start_with_config(kind, "authorization { user: a, password: b }\n")?;
        let c = RawClient::connect(&plain.addr())?;
        ensure!(info_json(&c.info)?.get("nonce").is_none(), "{}", c.info);
        Ok(())
    })
    .await;
}

#[tokio::test]
async fn no_auth_user_stands_in_with_its_permissions() {
    each_target(|kind| async move {
        let user = KeyPair::new_user();
        let key = user.public_key();
        // As a name, and as an nkey.
        for stand_in in ["admin".to_string(), key.clone()] {
            let broker = start_with_config(kind, &config(&key, &format!("no_auth_user: {stand_in}")))?;
            let mut c = raw(&broker.addr(), r#"{"verbose":false,"pedantic":false}"#)
                .with_context(|| format!("no credentials, no_auth_user {stand_in}"))?;
            c.send(b"SUB nk.a 1\r\nSUB other 2\r\n")?;
            let got = sync(&mut c)?;
            let denied = got.contains("Permissions Violation for Subscription to \"other\"");
            // admin has no permissions; the nkey user only nk.>.
            ensure!(
                denied == (stand_in == key),
                "{}: no_auth_user {stand_in}: {got:?}",
                kind.name()
            );
            // Wrong credentials are not rescued by the stand-in.
            let mut bad = RawClient::connect(&broker.addr())?;
            refused(
                kind,
                &mut bad,
                "CONNECT {\"verbose\":false,\"pedantic\":false,\"user\":\"admin\",\"pass\":\"x\"}\r\nPING\r\n",
                "wrong password",
            )?;
        }
        Ok(())
    })
    .await;
}
