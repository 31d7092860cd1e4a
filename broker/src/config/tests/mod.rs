//! Behaviour of whole config texts: the .conf parser's variables and
//! includes (`conf`), top-level keys (`keys`), `authorization` (`auth`),
//! `accounts` (`accounts`), `mappings` (`mappings`), and the command line
//! (`flags`).

mod accounts;
mod auth;
mod conf;
mod flags;
mod keys;
mod mappings;
mod plugins;
mod tls;
mod websocket;

use super::{parse_conf_str_with_env, parse_toml_str, Config, ConfigError};

/// No environment variables at all.
fn no_env(_: &str) -> Option<String> {
    None
}

fn conf(text: &str) -> Config {
    match parse_conf_str_with_env(text, "test.conf", &no_env) {
        Ok(c) => c,
        Err(e) => panic!("{text:?} failed: {e}"),
    }
}

fn conf_err(text: &str) -> ConfigError {
    match parse_conf_str_with_env(text, "test.conf", &no_env) {
        Ok(c) => panic!("{text:?} parsed: {c:?}"),
        Err(e) => e,
    }
}

fn toml(text: &str) -> Config {
    match parse_toml_str(text, "test.toml") {
        Ok(c) => c,
        Err(e) => panic!("{text:?} failed: {e}"),
    }
}

fn toml_err(text: &str) -> ConfigError {
    match parse_toml_str(text, "test.toml") {
        Ok(c) => panic!("{text:?} parsed: {c:?}"),
        Err(e) => e,
    }
}

/// `(feature, location, key)` of each unsupported entry.
fn unsupported(config: &Config) -> Vec<(String, String, String)> {
    config
        .unsupported
        .iter()
        .map(|u| {
            (
                u.feature.clone(),
                u.origin.location.clone(),
                u.origin.key.clone(),
            )
        })
        .collect()
}

/// Asserts the error's location, key and that its text contains `needle`.
#[track_caller]
fn assert_error(err: &ConfigError, location: &str, key: &str, needle: &str) {
    let text = err.to_string();
    assert_eq!(err.location(), Some(location), "location of: {text}");
    assert_eq!(err.key(), Some(key), "key of: {text}");
    assert!(text.contains(needle), "{text:?} lacks {needle:?}");
}
