//! The .conf syntax as a whole: variables, includes, repeated keys and the
//! errors that name file, line and key.

use std::path::{Path, PathBuf};

use super::super::{load_file_with_env, parse_conf_str_with_env, ConfigError};
use super::{assert_error, conf, conf_err, no_env};

fn env_of(pairs: &'static [(&'static str, &'static str)]) -> impl Fn(&str) -> Option<String> {
    move |name| {
        pairs
            .iter()
            .find(|(k, _)| *k == name)
            .map(|(_, v)| v.to_string())
    }
}

#[test]
fn variables_resolve_to_earlier_keys_in_scope() {
    let c = conf("P = 4333\nport: $P\n");
    assert_eq!(c.port, 4333);
    // Inner blocks see outer keys; their own keys shadow them.
    let c = conf("U = outer\nauthorization {\n  U = inner\n  user: $U\n}\nhost: $U\n");
    assert_eq!(c.auth.user.as_deref(), Some("inner"), "{c:?}");
    assert_eq!(c.host, "outer", "a block's keys are gone after it closes");
    // $PW is defined only after the block, so it must come from the environment.
    let err = conf_err("authorization {\n  user: a\n  password: $PW\n}\nPW = late\n");
    assert_error(
        &err,
        "test.conf:3",
        "authorization.password",
        "variable reference for 'PW' can not be found",
    );
}

#[test]
fn variable_names_are_case_sensitive_unlike_keys() {
    let err = conf_err("x = 1\nport = $X\n");
    assert_error(
        &err,
        "test.conf:2",
        "port",
        "variable reference for 'X' can not be found",
    );
    assert_eq!(conf("Port = 5\n").port, 5);
}

#[test]
fn environment_values_are_parsed_like_config_values() {
    let env = env_of(&[
        ("PORT", "4444"),
        ("DEBUG", "true"),
        ("HOST", "$OTHER"),
        ("OTHER", "10.0.0.1"),
    ]);
    let c = parse_conf_str_with_env("port: $PORT\ndebug: $DEBUG\nhost: $HOST\n", "e.conf", &env)
        .unwrap();
    assert_eq!(
        (c.port, c.log.debug, c.host.as_str()),
        (4444, true, "10.0.0.1")
    );
}

#[test]
fn environment_reference_cycles_are_reported() {
    let env = env_of(&[("A", "$B"), ("B", "$A")]);
    let err = parse_conf_str_with_env("host: $A\n", "e.conf", &env).unwrap_err();
    assert_eq!(
        err.to_string(),
        "e.conf:1: host: variable reference for 'A' could not be parsed: \
         variable reference for 'B' could not be parsed: \
         variable reference for 'A' could not be parsed: variable reference cycle for 'A'",
        "the same chain nats-server prints"
    );
    assert!(matches!(err, ConfigError::BadVariable { .. }));
}

#[test]
fn environment_values_that_do_not_parse_are_reported() {
    let env = env_of(&[("BAD", "two words")]);
    let err = parse_conf_str_with_env("host: $BAD\n", "e.conf", &env).unwrap_err();
    assert_error(
        &err,
        "e.conf:1",
        "host",
        "variable reference for 'BAD' could not be parsed: Expected a top-level value",
    );
}

#[test]
fn unquoted_bcrypt_hashes_are_not_variables() {
    let c = conf("authorization { user: a, password: $2a$11$abcdefghijklmnopqrstuv }\n");
    assert_eq!(
        c.auth.password.as_deref(),
        Some("$2a$11$abcdefghijklmnopqrstuv")
    );
}

#[test]
fn keys_that_only_feed_variables_are_not_unknown() {
    let c = conf("TOKEN = s3cret\nauthorization { token: $TOKEN }\n");
    assert_eq!(c.auth.token.as_deref(), Some("s3cret"));
    let err = conf_err("TOKEN = s3cret\nauthorization { token: x }\n");
    assert_error(&err, "test.conf:1", "TOKEN", "unknown field \"TOKEN\"");
}

#[test]
fn variables_copy_whole_blocks() {
    let c = conf("perms = { publish: \"a.>\" }\nauthorization { users = [ { user: u, permissions: $perms } ] }\n");
    let perms = c.auth.users[0].permissions.clone().unwrap_or_default();
    assert_eq!(perms.publish.allow, Some(vec!["a.>".to_string()]));
}

#[test]
fn the_last_of_repeated_keys_wins() {
    assert_eq!(conf("port: 1\nport: 2\n").port, 2);
    // Keys match case-insensitively but are stored as written, so both
    // apply in file order.
    assert_eq!(conf("Port: 1\nport: 2\n").port, 2);
    assert_eq!(conf("listen: 1.2.3.4:5\nport: 6\n").port, 6);
    assert_eq!(conf("port: 6\nlisten: 1.2.3.4:5\n").port, 5);
}

#[test]
fn json_style_files_parse() {
    let c = conf("{\n  \"port\": 4333,\n  \"debug\": true,\n  \"authorization\": {\"user\": \"a\", \"password\": \"b\"}\n}\n");
    assert_eq!(
        (c.port, c.log.debug, c.auth.user.as_deref()),
        (4333, true, Some("a"))
    );
}

#[test]
fn a_key_without_value_is_an_error_naming_it() {
    let err = conf_err("port 4222\nfoo\n");
    assert_error(&err, "test.conf:2", "foo", "config is invalid");
    let err = conf_err("authorization {\n  user: a\n  pass\n}\n");
    assert_error(
        &err,
        "test.conf:3",
        "authorization.pass",
        "key 'pass' has no value",
    );
}

#[test]
fn syntax_errors_name_file_line_and_key() {
    let err = conf_err("port: 4222\nauthorization {\n  user: a b\n}\n");
    assert_error(
        &err,
        "test.conf:3",
        "authorization.user",
        "Expected a map value terminator",
    );
    let err = conf_err("a = 1\nmax_payload: 1.5MB\n");
    assert_error(&err, "test.conf:2", "max_payload", "but got 'M' instead");
    let err = conf_err("max_payload: 10mbb\n");
    assert_error(
        &err,
        "test.conf:1",
        "max_payload",
        "unknown size suffix in '10mbb'",
    );
}

#[test]
fn a_nul_byte_is_an_error_not_the_end_of_the_file() {
    let err = conf_err("port: 1\0\nbogus: 2\n");
    assert!(err.to_string().contains("NUL"), "{err}");
}

#[test]
fn nesting_is_bounded_so_the_tree_cannot_overflow_the_stack() {
    // Found with the conf_config fuzz harness (broker/fuzz) on a made-up
    // input: 200,000 `[` in a row overflowed the stack when the value
    // tree was dropped.
    let nested =
        |depth: usize, inner: &str| format!("{}{inner}{}", "[".repeat(depth), "]".repeat(depth));
    let err = conf_err(&format!("a = {}\n", nested(200_000, "")));
    assert!(
        err.to_string().contains("nested more than 128 deep"),
        "{err}"
    );
    // A variable copies its tree in: copies cannot stack past the limit.
    // (A value before `]` needs a blank after it, as in nats-server.)
    let text = format!("a = {}\nb = {}\n", nested(100, ""), nested(100, "$a "));
    let err = conf_err(&text);
    assert!(
        err.to_string().contains("nested more than 128 deep"),
        "{err}"
    );
    // Up to the limit is only a matter of the keys (unknown here).
    let err = conf_err(&format!("a = {}\n", nested(128, "")));
    assert!(!err.to_string().contains("nested"), "{err}");
}

#[test]
fn variable_copies_are_bounded_so_a_few_lines_cannot_fill_memory() {
    // Found with the conf_config fuzz harness (broker/fuzz): each line
    // refers eight times to the one before, so 360 bytes copied 8^8 values
    // (1.2 GiB); ten lines would take 80 GiB.
    let mut text = format!("v0 = [{} ]\n", ["1"; 8].join(", "));
    for i in 1..10 {
        let refs = vec![format!("$v{}", i - 1); 8];
        text.push_str(&format!("v{i} = [{} ]\n", refs.join(", ")));
    }
    let err = conf_err(&text);
    assert!(
        err.to_string().contains("copy more than 100000 values"),
        "{err}"
    );
    // Ordinary reuse is untouched.
    let c = conf("PASS = s3cret\nauthorization { user: a, password: $PASS }\n");
    assert_eq!(c.auth.password.as_deref(), Some("s3cret"));
}

/// A directory of its own under the system temp dir, removed on drop.
struct Scratch(PathBuf);

impl Scratch {
    fn new(name: &str) -> Self {
        let dir = std::env::temp_dir().join(format!("tern-config-{name}-{}", std::process::id()));
        std::fs::create_dir_all(dir.join("sub")).unwrap();
        Scratch(dir)
    }

    fn write(&self, rel: &str, text: &str) -> PathBuf {
        let path = self.0.join(rel);
        std::fs::write(&path, text).unwrap();
        path
    }
}

impl Drop for Scratch {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

fn load(path: &Path) -> Result<super::super::Config, ConfigError> {
    load_file_with_env(path, &no_env)
}

#[test]
fn includes_resolve_against_the_including_file() {
    let s = Scratch::new("include");
    s.write("sub/auth.conf", "user: a\npassword: b\ninclude more.conf\n");
    s.write("sub/more.conf", "timeout: 3\n");
    s.write("sub/limits.conf", "max_payload: 2MB\n");
    let main = s.write(
        "main.conf",
        "port: 4333\ninclude sub/limits.conf\nauthorization {\n  include 'sub/auth.conf'\n}\n",
    );
    let c = load(&main).unwrap();
    assert_eq!(c.port, 4333);
    assert_eq!(c.max_payload, 2 << 20);
    assert_eq!(c.auth.user.as_deref(), Some("a"));
    assert_eq!(c.auth.timeout, Some(std::time::Duration::from_secs(3)));
    assert_eq!(c.config_file.as_deref(), Some(main.as_path()));
}

#[test]
fn absolute_include_paths_are_joined_like_nats_server() {
    let s = Scratch::new("absinclude");
    s.write("sub/p.conf", "port: 4555\n");
    let main = s.write("main.conf", "include /sub/p.conf\n");
    assert_eq!(load(&main).unwrap().port, 4555);
}

#[test]
fn errors_inside_includes_name_the_included_file() {
    let s = Scratch::new("includeerr");
    let inner = s.write("sub/bad.conf", "port: 1\ncolour: blue\n");
    let main = s.write("main.conf", "debug: true\ninclude sub/bad.conf\n");
    let err = load(&main).unwrap_err();
    assert_error(
        &err,
        &format!("{}:2", inner.display()),
        "colour",
        "unknown field \"colour\"",
    );
    let missing = s.write("missing.conf", "\n\ninclude nope.conf\n");
    let err = load(&missing).unwrap_err();
    let text = err.to_string();
    assert!(
        text.starts_with(&format!(
            "{}:3: error parsing include file 'nope.conf'",
            missing.display()
        )),
        "{text}"
    );
}

#[test]
fn include_cycles_are_errors() {
    let s = Scratch::new("includecycle");
    s.write("a.conf", "include b.conf\n");
    s.write("b.conf", "include a.conf\n");
    let err = load(&s.0.join("a.conf")).unwrap_err();
    assert!(err.to_string().contains("include cycle"), "{err}");
}

#[test]
fn missing_files_name_the_path() {
    let err = load(Path::new("/nonexistent/tern.conf")).unwrap_err();
    assert!(
        err.to_string()
            .starts_with("error opening config file /nonexistent/tern.conf"),
        "{err}"
    );
}

#[test]
fn empty_files_warn() {
    let c = conf("# nothing here\n");
    assert_eq!(c.warnings.len(), 1);
    assert!(c.warnings[0].message.contains("no values"));
}
