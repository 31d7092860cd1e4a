//! JetStream's strict mode, on by default as in nats-server 2.11+: an API
//! request with a field the API does not know (a typo, a field of another
//! request) is refused as invalid JSON, at any depth; `strict: false` reads
//! it with the field ignored — against Tern and nats-server.

mod common;

use anyhow::ensure;
use common::jetstream::*;
use common::{connect, each_target, start_with_config};
use serde_json::Value;

fn refused_for(v: &Value, field: &str) -> bool {
    err_code(v) == 10025
        && v["error"]["code"] == 400
        && v["error"]["description"] == format!("invalid JSON: json: unknown field \"{field}\"")
}

#[tokio::test]
async fn unknown_fields_are_refused_unless_strict_is_off() {
    each_target(|kind| async move {
        let broker = start_js(kind, "store")?;
        let client = connect(&broker.url()).await?;
        let v = request(
            &client,
            "$JS.API.STREAM.CREATE.S",
            r#"{"name":"S","subjects":["s.>"],"max_msg":5}"#,
        )
        .await?;
        ensure!(refused_for(&v, "max_msg"), "{v}");
        let v = request(
            &client,
            "$JS.API.STREAM.CREATE.S",
            r#"{"name":"S","subjects":["s.>"],"republish":{"dest":"r.>","header_only":true}}"#,
        )
        .await?;
        ensure!(refused_for(&v, "header_only"), "nested: {v}");
        let v = request(
            &client,
            "$JS.API.STREAM.CREATE.S",
            r#"{"name":"S","subjects":["s.>"],"metadata":{"free":"form"},"pedantic":false}"#,
        )
        .await?;
        ensure!(err_code(&v) == 0, "{v}");
        let v = request(
            &client,
            "$JS.API.STREAM.UPDATE.S",
            r#"{"name":"S","subjects":["s.>"],"max_age":0,"deny_delet":true}"#,
        )
        .await?;
        ensure!(refused_for(&v, "deny_delet"), "{v}");
        let v = request(
            &client,
            "$JS.API.STREAM.INFO.S",
            r#"{"subject_filter":">"}"#,
        )
        .await?;
        ensure!(refused_for(&v, "subject_filter"), "{v}");
        let v = request(&client, "$JS.API.STREAM.NAMES", r#"{"subjects":"s.>"}"#).await?;
        ensure!(refused_for(&v, "subjects"), "{v}");
        let v = request(
            &client,
            "$JS.API.STREAM.PURGE.S",
            r#"{"keep":1,"filters":"s.a"}"#,
        )
        .await?;
        ensure!(refused_for(&v, "filters"), "{v}");
        let v = request(
            &client,
            "$JS.API.STREAM.MSG.GET.S",
            r#"{"seq":1,"last_by_subject":"s.a"}"#,
        )
        .await?;
        ensure!(refused_for(&v, "last_by_subject"), "{v}");
        let v = request(
            &client,
            "$JS.API.CONSUMER.CREATE.S.C",
            r#"{"stream_name":"S","config":{"name":"C","ack_policy":"explicit","ack_wiat":1000}}"#,
        )
        .await?;
        ensure!(refused_for(&v, "ack_wiat"), "consumer config: {v}");
        let v = request(
            &client,
            "$JS.API.CONSUMER.CREATE.S.C",
            r#"{"stream_name":"S","config":{"name":"C"},"actions":"create"}"#,
        )
        .await?;
        ensure!(refused_for(&v, "actions"), "consumer request: {v}");
        let v = request(
            &client,
            "$JS.API.CONSUMER.CREATE.S.C",
            r#"{"stream_name":"S","config":{"name":"C","metadata":{"k":"v"}},"action":"create"}"#,
        )
        .await?;
        ensure!(err_code(&v) == 0, "{v}");
        let v = request(
            &client,
            "$JS.API.CONSUMER.NAMES.S",
            r#"{"offset":0,"limit":5}"#,
        )
        .await?;
        ensure!(refused_for(&v, "limit"), "{v}");
        let v = request(
            &client,
            "$JS.API.CONSUMER.PAUSE.S.C",
            r#"{"until":"2030-01-01T00:00:00Z"}"#,
        )
        .await?;
        ensure!(refused_for(&v, "until"), "{v}");
        drop(broker);

        let broker = start_with_config(
            kind,
            "jetstream {\n  store_dir: store\n  strict: false\n}\n",
        )?;
        let client = connect(&broker.url()).await?;
        let v = request(
            &client,
            "$JS.API.STREAM.CREATE.S",
            r#"{"name":"S","subjects":["s.>"],"max_msg":5}"#,
        )
        .await?;
        ensure!(err_code(&v) == 0, "not strict: {v}");
        ensure!(
            v["config"]["max_msgs"] == -1,
            "the unknown field changed nothing: {v}"
        );
        Ok(())
    })
    .await;
}
