//! `/`: the index page linking every endpoint, as nats-server's (without
//! its logo), relative to the base path.

/// The endpoints the index lists, with nats-server's titles.
const LINKS: &[(&str, &str)] = &[
    ("General", "/varz"),
    ("JetStream", "/jsz"),
    ("Connections", "/connz"),
    ("Accounts", "/accountz"),
    ("Account Stats", "/accstatz"),
    ("Subscriptions", "/subsz"),
    ("Routes", "/routez"),
    ("LeafNodes", "/leafz"),
    ("Gateways", "/gatewayz"),
    ("Health Probe", "/healthz"),
    ("Prometheus Metrics", "/metrics"),
];

pub fn index(base_path: &str) -> String {
    let mut links = String::new();
    for (title, path) in LINKS {
        let href = format!("{}{path}", base_path.trim_end_matches('/'));
        links.push_str(&format!(
            "\t<a href=.{href}>{title}<span class=\"endpoint\"> {path}</span></a>\n"
        ));
    }
    format!(
        "<html lang=\"en\">\n\t<head>\n\t<title>Tern</title>\n\t<style type=\"text/css\">\n\t\tbody {{ font-family: ui-sans-serif,system-ui,sans-serif; font-size: 18; margin-left: 32px }}\n\t\ta {{ display:block; margin-left: 7px; padding-bottom: 6px; color: rgb(72 72 92); text-decoration: none }}\n\t\ta:hover {{ font-weight: 600; color: rgb(59 50 202) }}\n\t\t.endpoint {{ font-size: 12px; color: #999; font-family: monospace; display: none }}\n\t\ta:hover .endpoint {{ display: inline }}\n\t</style>\n\t</head>\n\t<body>\n\t<h2>Tern v{} <small>(NATS {})</small></h2>\n{links}\t<a href=https://docs.nats.io/running-a-nats-service/nats_admin/monitoring class=\"help\">Help</a>\n\t</body>\n</html>",
        crate::VERSION,
        crate::protocol::info::NATS_COMPAT_VERSION,
    )
}
