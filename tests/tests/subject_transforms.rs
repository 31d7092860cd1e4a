//! nats-server's subject mapping functions, through a stream's
//! `subject_transform`: the subjects stored must be the same on both
//! servers (partition buckets included: both hash with FNV-1a).

mod common;

use anyhow::ensure;
use async_nats::jetstream;

use common::jetstream::{err_code, request, start_js};
use common::*;

/// (destination, published subject, stored subject), with the source
/// `in.*.*`.
const CASES: &[(&str, &str, &str)] = &[
    ("p.{{partition(10,1)}}", "in.abc.x", "p.1"),
    ("p.{{Partition(10,1,2)}}.$2", "in.ab.c", "p.1.c"),
    ("s.{{splitFromLeft(1,2)}}", "in.abcd.x", "s.ab.cd"),
    ("s.{{SplitFromRight(2,1)}}", "in.x.abcd", "s.abc.d"),
    ("s.{{sliceFromLeft(1,2)}}", "in.abcde.x", "s.ab.cd.e"),
    ("s.{{sliceFromRight(1,2)}}", "in.abcde.x", "s.a.bc.de"),
    ("s.{{split(2,-)}}", "in.x.-b--c-", "s.b.c"),
    (
        "k.{{left(1,2)}}.{{right(2,3)}}",
        "in.abcde.vwxyz",
        "k.ab.xyz",
    ),
    ("k.{{left(1,9)}}", "in.abc.x", "k.abc"),
];

#[tokio::test]
async fn mapping_functions_store_the_same_subjects_as_nats_server() {
    each_target(|kind| async move {
        let broker = start_js(kind, "store")?;
        let client = connect(&broker.url()).await?;
        let js = jetstream::new(client.clone());
        for (i, (dest, published, expected)) in CASES.iter().enumerate() {
            let name = format!("T{i}");
            let body = serde_json::json!({
                "name": name,
                "subjects": [format!("in{i}.>")],
                "subject_transform": {"src": format!("in{i}.*.*"), "dest": dest},
            });
            let v = request(&client, &format!("$JS.API.STREAM.CREATE.{name}"), &body.to_string()).await?;
            ensure!(err_code(&v) == 0, "{dest}: {v}");
            let subject = published.replacen("in.", &format!("in{i}."), 1);
            js.publish(subject, "x".into()).await?.await?;
            let m = js.get_stream(&name).await?.get_raw_message(1).await?;
            ensure!(m.subject.as_str() == *expected, "{dest} on {published}: stored {}", m.subject);
        }
        // A function nats-server does not know is refused at create.
        let v = request(
            &client,
            "$JS.API.STREAM.CREATE.BAD",
            r#"{"name":"BAD","subjects":["bad.>"],"subject_transform":{"src":"bad.*","dest":"x.{{shuffle(1)}}"}}"#,
        )
        .await?;
        ensure!(err_code(&v) != 0, "unknown function accepted: {v}");
        Ok(())
    })
    .await;
}
