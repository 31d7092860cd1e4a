//! Token-level checks of the corners of nats-server's syntax.

use super::{LexError, Lexer, TokenKind};
use TokenKind::*;

/// `TokenKind::String` shadows the type in this file.
type Text = std::string::String;

fn lex(input: &str) -> Result<Vec<(TokenKind, Text)>, LexError> {
    let mut lexer = Lexer::new(input);
    let mut out = Vec::new();
    loop {
        let token = lexer.next_token()?;
        if token.kind == Eof {
            return Ok(out);
        }
        out.push((token.kind, token.text));
    }
}

fn tokens(input: &str) -> Vec<(TokenKind, Text)> {
    match lex(input) {
        Ok(t) => t,
        Err(e) => panic!("{input:?} failed on line {}: {}", e.line, e.message),
    }
}

fn t(kind: TokenKind, text: &str) -> (TokenKind, Text) {
    (kind, text.to_string())
}

fn error(input: &str) -> LexError {
    match lex(input) {
        Ok(t) => panic!("{input:?} lexed as {t:?}"),
        Err(e) => e,
    }
}

#[test]
fn three_key_separators() {
    for input in [
        "foo = bar",
        "foo: bar",
        "foo bar",
        "foo=bar",
        "foo:bar",
        "foo\t=\tbar;",
    ] {
        assert_eq!(tokens(input), [t(Key, "foo"), t(String, "bar")], "{input}");
    }
}

#[test]
fn quoted_keys_may_hold_spaces_and_separators() {
    assert_eq!(tokens("\"a b\": 1"), [t(Key, "a b"), t(Integer, "1")]);
    assert_eq!(tokens("'a:b' = 1"), [t(Key, "a:b"), t(Integer, "1")]);
    assert_eq!(tokens("m { \"x y\": 1, 'z': 2 }")[2], t(Key, "x y"));
}

#[test]
fn strings_quoted_and_not() {
    assert_eq!(tokens("a = 'it s'")[1], t(String, "it s"));
    assert!(lex("a = 'it''s'").is_err(), "no quote doubling");
    assert_eq!(
        tokens("a = \"say \\\"hi\\\"\\n\"")[1],
        t(String, "say \"hi\"\n")
    );
    assert_eq!(
        tokens("a = '\\n'")[1],
        t(String, "\\n"),
        "no escapes in single quotes"
    );
    assert_eq!(tokens("a = \"\\x41\\x42\"")[1], t(String, "AB"));
    assert_eq!(
        tokens("a = x\\ty")[1],
        t(String, "x\ty"),
        "unquoted strings take escapes too"
    );
    assert_eq!(tokens("a = \"\"")[1], t(String, ""));
    assert_eq!(tokens("a = ''")[1], t(String, ""));
    assert_eq!(
        tokens("a = nats://host:4222")[1],
        t(String, "nats://host:4222")
    );
    assert_eq!(
        tokens("a = abc#notacomment")[1],
        t(String, "abc#notacomment")
    );
    assert_eq!(tokens("a = x // comment")[1], t(String, "x"));
}

#[test]
fn escapes_are_checked() {
    assert!(error("a = \"\\q\"")
        .message
        .starts_with("Invalid escape character 'q'"));
    assert!(error("a = \"\\xZZ\"").message.contains("but got 'ZZ'"));
    assert!(error("a = \"\\x4\n\"").message.contains("hit end of line"));
    assert!(error("a = \"\\xe9\"").message.contains("not valid UTF-8"));
}

#[test]
fn numbers_sizes_and_look_alikes() {
    let value = |v: &str| tokens(&format!("k = {v}\n")).remove(1);
    assert_eq!(value("8388608"), t(Integer, "8388608"));
    assert_eq!(value("-1"), t(Integer, "-1"));
    assert_eq!(value("256MB"), t(Integer, "256MB"));
    assert_eq!(value("1GiB"), t(Integer, "1GiB"));
    assert_eq!(value("64k"), t(Integer, "64k"));
    // The trap nats-server users fall into: unquoted 2m is two million.
    assert_eq!(value("2m"), t(Integer, "2m"));
    assert_eq!(value("10s"), t(String, "10s"));
    assert_eq!(value("500ms"), t(String, "500ms"));
    assert_eq!(value("1h"), t(String, "1h"));
    assert_eq!(value("3xyz"), t(String, "3xyz"));
    assert_eq!(value("1k5"), t(String, "1k5"));
    assert_eq!(value("1e5"), t(String, "1e5"));
    assert_eq!(value("2mb2"), t(String, "2mb2"));
    assert_eq!(value("1.5"), t(Float, "1.5"));
    assert_eq!(value("-0.25"), t(Float, "-0.25"));
    assert_eq!(value("127.0.0.1"), t(String, "127.0.0.1"));
    assert_eq!(value("0.0.0.0:6222"), t(String, "0.0.0.0:6222"));
    assert_eq!(
        value("2024-01-31T12:00:00Z"),
        t(Datetime, "2024-01-31T12:00:00Z")
    );
    assert_eq!(tokens("k = 4222;"), [t(Key, "k"), t(Integer, "4222")]);
}

#[test]
fn number_errors() {
    assert_eq!(error("k = .5").message, "Floats must start with a digit");
    assert_eq!(
        error("k = 1.x").message,
        "Floats must have a digit after the '.', but got 'x' instead."
    );
    assert_eq!(error("k = -x").message, "Expected a digit but got 'x'.");
    assert_eq!(
        error("k = 12-3").message,
        "All ISO8601 dates must be in full Zulu form."
    );
    assert!(error("k = 2024-01-31")
        .message
        .starts_with("Expected 'T' in ISO8601 datetime"));
    assert!(error("k = 1.5s")
        .message
        .starts_with("Expected a top-level value to end"));
}

#[test]
fn booleans_and_variables() {
    for (word, kind) in [
        ("true", Bool),
        ("FALSE", Bool),
        ("yes", Bool),
        ("No", Bool),
        ("on", Bool),
        ("off", Bool),
    ] {
        assert_eq!(tokens(&format!("k = {word}"))[1], t(kind, word));
    }
    assert_eq!(tokens("k = \"true\"")[1], t(String, "true"));
    assert_eq!(tokens("k = truely")[1], t(String, "truely"));
    assert_eq!(tokens("k = $VAR")[1], t(Variable, "VAR"));
    assert_eq!(tokens("k = \"$VAR\"")[1], t(String, "$VAR"));
    assert_eq!(tokens("k = [$A, $B]")[2], t(Variable, "A"));
}

#[test]
fn comments_everywhere() {
    let input = "# top\n// also\na = 1 # trailing\nb { # open\n  c = 2 // inner\n}\nd = [ # arr\n  1, # one\n  x\n]\n";
    assert_eq!(
        tokens(input),
        [
            t(Key, "a"),
            t(Integer, "1"),
            t(Key, "b"),
            t(MapStart, ""),
            t(Key, "c"),
            t(Integer, "2"),
            t(MapEnd, ""),
            t(Key, "d"),
            t(ArrayStart, ""),
            t(Integer, "1"),
            t(String, "x"),
            t(ArrayEnd, ""),
        ]
    );
}

#[test]
fn arrays_with_commas_or_newlines() {
    let commas = tokens("r = [a, b, c]");
    let newlines = tokens("r = [\n  a\n  b\n  c\n]");
    assert_eq!(commas, newlines);
    assert_eq!(commas.len(), 6);
    assert_eq!(
        tokens("r = []"),
        [t(Key, "r"), t(ArrayStart, ""), t(ArrayEnd, "")]
    );
    assert_eq!(
        error("r = [a,,b]").message,
        "Unexpected array value terminator ','."
    );
    assert!(error("r = [a b]")
        .message
        .starts_with("Expected an array value terminator"));
}

#[test]
fn a_number_right_before_a_bracket_is_a_string_as_in_nats() {
    // nats-server's number states do not stop at `]`; the element becomes
    // the string "2]" and the array runs on. Matching that keeps Tern from
    // accepting files nats-server rejects.
    assert!(lex("r = [1, 2]\n").is_err());
    assert_eq!(tokens("r = [1, 2 ]")[3], t(Integer, "2"));
}

#[test]
fn maps_and_blocks() {
    let expected = [
        t(Key, "m"),
        t(MapStart, ""),
        t(Key, "a"),
        t(Integer, "1"),
        t(Key, "b"),
        t(String, "x"),
        t(MapEnd, ""),
    ];
    for input in [
        "m { a = 1, b = x }",
        "m: { a: 1; b: x }",
        "m {\n a 1\n b x\n}",
        "m = {a=1,b=x}",
    ] {
        assert_eq!(tokens(input), expected, "{input}");
    }
    assert_eq!(error("m { = 1 }").message, "Unexpected key separator '='.");
    assert_eq!(
        error("m { a = , }").message,
        "Unexpected map value terminator ','."
    );
}

#[test]
fn json_style_files() {
    let input = "{\n  \"port\": 4222,\n  \"debug\": true\n}\n";
    assert_eq!(
        tokens(input),
        [
            t(Key, "port"),
            t(Integer, "4222"),
            t(Key, "debug"),
            t(Bool, "true")
        ]
    );
}

#[test]
fn include_is_a_keyword_only_before_whitespace() {
    assert_eq!(tokens("include ./a.conf"), [t(Include, "./a.conf")]);
    assert_eq!(tokens("include 'a b.conf'"), [t(Include, "a b.conf")]);
    assert_eq!(
        tokens("INCLUDE \"x.conf\"\nport 1"),
        [t(Include, "x.conf"), t(Key, "port"), t(Integer, "1")]
    );
    assert_eq!(
        tokens("m { include x.conf }"),
        [
            t(Key, "m"),
            t(MapStart, ""),
            t(Include, "x.conf"),
            t(MapEnd, "")
        ]
    );
    assert_eq!(tokens("include: x"), [t(Key, "include"), t(String, "x")]);
    assert_eq!(
        error("include 5").message,
        "Expected include value but found start of a number"
    );
    assert_eq!(
        error("include 'x").message,
        "Unexpected EOF in quoted include"
    );
}

#[test]
fn block_strings_end_at_a_lone_paren() {
    let input = "text (\nline one\n  (nested) )\n)\nnext = 1\n";
    assert_eq!(
        tokens(input),
        [
            t(Key, "text"),
            t(String, "\nline one\n  (nested) )\n"),
            t(Key, "next"),
            t(Integer, "1")
        ]
    );
    assert_eq!(
        tokens("text (\nabc\n)")[1],
        t(String, "\nabc\n"),
        "also at end of input"
    );
    assert_eq!(
        error("text (\nabc\n  )\n").message,
        "Unexpected EOF processing block."
    );
}

#[test]
fn structural_errors_name_their_line() {
    let e = error("a = 1\nb = 2 3\n");
    assert_eq!(e.line, 2);
    assert_eq!(
        e.message,
        "Expected a top-level value to end with a new line, comment or EOF, but got '3' instead."
    );
    let e = error("a = 1\n\nb = \n");
    assert_eq!(
        (e.line, e.message.as_str()),
        (3, "Expected value but found new line")
    );
    assert_eq!(error("= 1").message, "Unexpected key separator '='");
    assert_eq!(
        error("m {\n a = 1\n").message,
        "Unexpected EOF processing map."
    );
    assert_eq!(error("a = \"open").message, "Unexpected EOF.");
    assert_eq!(
        error("m { a = 1 ] }").message,
        "Expected a map value terminator ',' or a map terminator '}', but got ']' instead."
    );
    let e = error("a = 1\nb = x\0y\n");
    assert_eq!(
        (e.line, e.message.as_str()),
        (2, "Unexpected NUL character.")
    );
}

#[test]
fn key_without_value_and_lone_slash_quirks() {
    // A key at the very end yields no value; the parser reports it.
    assert_eq!(
        tokens("port 4222\nfoo"),
        [t(Key, "port"), t(Integer, "4222"), t(Key, "foo")]
    );
    // A newline between key and value is allowed (nats-server skips it).
    assert_eq!(tokens("foo\n  bar"), [t(Key, "foo"), t(String, "bar")]);
    // A lone `/` after a value is skipped like a blank.
    assert_eq!(tokens("a = 1 /\n"), [t(Key, "a"), t(Integer, "1")]);
}

#[test]
fn crlf_line_endings() {
    assert_eq!(
        tokens("a = 1\r\nb = x\r\n"),
        [t(Key, "a"), t(Integer, "1"), t(Key, "b"), t(String, "x")]
    );
    let e = error("a = 1\r\nb = 2 3\r\n");
    assert_eq!(e.line, 2);
}
