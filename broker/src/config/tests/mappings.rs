//! `mappings` at the top level and in accounts: every form nats-server
//! takes, in both syntaxes, and its errors.

use super::*;

#[test]
fn every_form_in_both_syntaxes() {
    let text = "mappings {\n  foo: bar\n  \"orders.*\": \"shop.{{wildcard(1)}}\"\n  svc: [\n    { destination: svc.v1, weight: \"90%\" }\n    { destination: svc.v2, weight: 10 }\n  ]\n  one: { dest: other, weight: 100 }\n}\naccounts { A: { mappings: { a: b } } }\n";
    let c = conf(text);
    assert!(c.unsupported.is_empty(), "{:?}", c.unsupported);
    let subjects: Vec<&str> = c.mappings.iter().map(|m| m.subject.as_str()).collect();
    assert_eq!(subjects, ["foo", "orders.*", "svc", "one"]);
    assert_eq!(c.mappings[2].dests[0].weight, 90);
    assert_eq!(c.mappings[2].dests[1].subject, "svc.v2");
    assert_eq!(c.accounts[0].mappings[0].dests[0].subject, "b");
    let t = toml("[mappings]\nfoo = \"bar\"\nsvc = [ { destination = \"v1\", weight = 50 } ]\n");
    assert_eq!(t.mappings.len(), 2);
    assert_eq!(t.mappings[1].dests[0].weight, 50);
}

#[test]
fn bad_mappings_are_refused_with_nats_server_wording() {
    let cases = [
        (
            "mappings { \"a..b\": c }\n",
            "Subject \"a..b\" is not a valid subject",
        ),
        (
            "mappings { a: [ { destination: b, weight: 60 }, { destination: c, weight: 50 } ] }\n",
            "Error adding mapping for \"a\" : total weight needs to be <= 100",
        ),
        (
            "mappings { a: [ { destination: b, weight: 101 } ] }\n",
            "Invalid weight 101 for mapping destination",
        ),
        (
            "mappings { a: [ { destination: b } ] }\n",
            "Missing weight for mapping destination \"b\"",
        ),
        (
            "mappings { a: [ { destination: b, weight: 1, colour: red } ] }\n",
            "Unknown field \"colour\" for mapping destination",
        ),
        (
            "mappings { \"a.*\": \"b.$2\" }\n",
            "Error adding mapping for \"a.*\" to \"b.$2\"",
        ),
        (
            "mappings { a: [ 5 ] }\n",
            "Expected an entry for the mapping destination",
        ),
    ];
    for (text, needle) in cases {
        let err = conf_err(text).to_string();
        assert!(err.contains(needle), "{text}: {err}");
    }
}
