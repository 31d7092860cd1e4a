//! nats-server `.conf` text to a `Config`: the lexer, the parser with its
//! `$variables`, blocks and includes, and every key rule that applies the
//! value tree (`tern::config::parse_conf_str_with_env`, what `-c` uses).
//!
//! Input: the file's text (a config file is read as UTF-8; other bytes
//! are refused before parsing, so they are skipped here).
//!
//! Hermetic: `$VAR` lookups go to a small fixed environment (with
//! chains and a cycle) instead of the process's, and the file's origin is
//! a directory that does not exist, so `include` can only fail to open
//! (`..` cannot climb out of a missing directory).

#![no_main]

use libfuzzer_sys::fuzz_target;

/// What `$NAME` may resolve to outside the file.
fn env(name: &str) -> Option<String> {
    let value = match name {
        "PORT" => "4222",
        "HOST" => "0.0.0.0",
        "SIZE" => "8MB",
        "WAIT" => "10s",
        "USERS" => "[{user: a, password: b}]",
        "BLOCK" => "{ port: $PORT }",
        "CHAIN" => "$PORT",
        "LOOP" => "$LOOP",
        "PING" => "$PONG",
        "PONG" => "$PING",
        _ => return None,
    };
    Some(value.to_string())
}

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let _ = tern::config::parse_conf_str_with_env(text, "/nonexistent-tern-fuzz/fuzz.conf", &env);
});
