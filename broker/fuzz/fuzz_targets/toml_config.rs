//! Tern's TOML config text to a `Config` (`tern::config::parse_toml_str`,
//! what `-c file.toml` uses): the TOML reader, the conversion to the
//! value tree, and every key rule that applies it.
//!
//! Input: the file's text (non-UTF-8 is refused before parsing, as when
//! the file is read, so it is skipped here).

#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let _ = tern::config::parse_toml_str(text, "/nonexistent-tern-fuzz/fuzz.toml");
});
