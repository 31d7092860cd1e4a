//! Tokenizer for nats-server's configuration syntax.
//!
//! The syntax is defined by nats-server's hand-written lexer rather than a
//! grammar, and real configs rely on its corners: `key value` without a
//! separator, unquoted strings that end at whitespace, `2m` being an integer
//! (two million) while `10s` is a string, `127.0.0.1:4222` being a string,
//! arrays separated by newlines, `include` as a keyword only when followed by
//! whitespace, `$name` variables and `(`…`)` block strings. To accept and
//! reject exactly what nats-server does, this lexer is the same kind of state
//! machine, state for state; each state's doc says what it consumes. It
//! differs only where nats-server's behaviour is accidental: a NUL byte is an
//! error (nats-server silently stops reading there), escapes producing
//! invalid UTF-8 are an error, and a block string at end of file ends before
//! its `)`.

use std::collections::VecDeque;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum TokenKind {
    Key,
    String,
    Bool,
    Integer,
    Float,
    Datetime,
    ArrayStart,
    ArrayEnd,
    MapStart,
    MapEnd,
    /// `$name` (text is the name without `$`).
    Variable,
    /// `include path` (text is the path).
    Include,
    Eof,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Token {
    pub kind: TokenKind,
    pub text: String,
    pub line: u32,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct LexError {
    pub line: u32,
    pub message: String,
}

/// End of input. nats-server uses the same sentinel; a literal NUL in the
/// input is rejected up front so it cannot be mistaken for the end.
const EOF: char = '\0';

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum State {
    /// Between top-level entries.
    Top,
    /// After a top-level value: only blanks, a comment, or a terminator.
    TopValueEnd,
    /// Inside a top-level `{ ... }` wrapper (JSON-style files).
    BlockStart,
    BlockValueEnd,
    BlockEnd,
    KeyStart,
    DoubleQuotedKey,
    SingleQuotedKey,
    /// An unquoted key; ends at a separator, whitespace or end of input.
    Key,
    /// Between a key and its value: blanks, newlines and one `=` or `:`.
    KeyEnd,
    IncludeStart,
    Include,
    IncludeSingleQuoted,
    IncludeDoubleQuoted,
    IncludeUnquoted,
    /// Any value: decides its kind from the first character.
    Value,
    ArrayValue,
    ArrayValueEnd,
    ArrayEnd,
    MapKeyStart,
    MapSingleQuotedKey,
    MapDoubleQuotedKey,
    MapKey,
    MapKeyEnd,
    MapValue,
    MapValueEnd,
    MapEnd,
    SingleQuotedString,
    DoubleQuotedString,
    /// An unquoted string (also bools and variables, decided at its end).
    UnquotedString,
    /// `(` ... `)` with the `)` alone at the start of a line.
    BlockString,
    StringEscape,
    StringHexEscape,
    NumberStart,
    /// Digits so far; may still become a float, IP, date or string.
    Number,
    /// After a size suffix such as `k`, `MB` or `GiB`.
    SizeSuffix,
    DateAfterYear,
    NegativeNumberStart,
    NegativeNumber,
    FloatStart,
    Float,
    /// `1.2.` seen: an IP address or `host:port`, emitted as a string.
    IpAddress,
    Comment,
}

pub(crate) struct Lexer<'a> {
    input: &'a str,
    start: usize,
    pos: usize,
    width: usize,
    line: u32,
    state: Option<State>,
    stack: Vec<State>,
    /// Decoded text of a string with escapes, up to `start`.
    escaped: Vec<u8>,
    has_escapes: bool,
    /// Which string state an escape returns to.
    string_state: State,
    pending: VecDeque<Token>,
    /// Line of a NUL byte in the input, reported instead of any token.
    nul_line: Option<u32>,
}

fn is_blank(c: char) -> bool {
    c == ' ' || c == '\t'
}

fn is_newline(c: char) -> bool {
    c == '\n' || c == '\r'
}

fn is_key_separator(c: char) -> bool {
    c == '=' || c == ':'
}

fn is_size_suffix(c: char) -> bool {
    matches!(c.to_ascii_lowercase(), 'k' | 'm' | 'g' | 't' | 'p' | 'e')
}

/// Characters that end a number (nats-server's list; note `]` is not one).
fn ends_number(c: char) -> bool {
    is_newline(c) || c == EOF || c == '}' || c == ';' || c == ',' || is_blank(c)
}

fn shown(c: char) -> String {
    match c {
        EOF => "EOF".to_string(),
        '\n' => "\\n".to_string(),
        '\r' => "\\r".to_string(),
        '\t' => "\\t".to_string(),
        c => c.to_string(),
    }
}

type Step = Result<Option<State>, LexError>;

impl<'a> Lexer<'a> {
    pub fn new(input: &'a str) -> Self {
        let nul_line = input
            .find('\0')
            .map(|offset| 1 + input[..offset].matches('\n').count() as u32);
        Lexer {
            input,
            start: 0,
            pos: 0,
            width: 0,
            line: 1,
            state: Some(State::Top),
            stack: Vec::new(),
            escaped: Vec::new(),
            has_escapes: false,
            string_state: State::UnquotedString,
            pending: VecDeque::new(),
            nul_line,
        }
    }

    /// The next token; after the input ends, `Eof` forever.
    pub fn next_token(&mut self) -> Result<Token, LexError> {
        if let Some(line) = self.nul_line {
            return Err(LexError { line, message: "Unexpected NUL character.".to_string() });
        }
        loop {
            if let Some(token) = self.pending.pop_front() {
                return Ok(token);
            }
            match self.state {
                None => {
                    return Ok(Token { kind: TokenKind::Eof, text: String::new(), line: self.line })
                }
                Some(state) => self.state = self.step(state)?,
            }
        }
    }

    fn next(&mut self) -> char {
        match self.input[self.pos..].chars().next() {
            None => {
                self.width = 0;
                EOF
            }
            Some(c) => {
                if c == '\n' {
                    self.line += 1;
                }
                self.width = c.len_utf8();
                self.pos += self.width;
                c
            }
        }
    }

    /// Steps back over the character `next` returned (once per `next`).
    fn backup(&mut self) {
        self.pos -= self.width;
        if self.width > 0 && self.input[self.pos..].starts_with('\n') {
            self.line -= 1;
        }
    }

    fn peek(&mut self) -> char {
        let c = self.next();
        self.backup();
        c
    }

    fn ignore(&mut self) {
        self.start = self.pos;
    }

    fn push(&mut self, state: State) {
        self.stack.push(state);
    }

    fn pop(&mut self) -> Step {
        self.stack
            .pop()
            .map(Some)
            .ok_or_else(|| self.error("BUG in lexer: no states to pop.".to_string()))
    }

    fn error(&self, message: String) -> LexError {
        LexError { line: self.line, message }
    }

    fn fail(&self, message: String) -> Step {
        Err(self.error(message))
    }

    fn emit(&mut self, kind: TokenKind) -> Result<(), LexError> {
        let mut bytes = std::mem::take(&mut self.escaped);
        bytes.extend_from_slice(&self.input.as_bytes()[self.start..self.pos]);
        self.has_escapes = false;
        let text = String::from_utf8(bytes).map_err(|_| {
            self.error("Escape sequences produce a string that is not valid UTF-8.".to_string())
        })?;
        self.pending.push_back(Token { kind, text, line: self.line });
        self.start = self.pos;
        Ok(())
    }

    /// Ends an escaped string's pending literal part, dropping `skip` bytes
    /// (the backslash) from its end.
    fn flush_literal(&mut self, skip: usize) {
        self.escaped.extend_from_slice(&self.input.as_bytes()[self.start..self.pos - skip]);
        self.has_escapes = true;
        self.start = self.pos;
    }

    fn add_escaped(&mut self, bytes: &[u8]) -> Step {
        self.escaped.extend_from_slice(bytes);
        self.start = self.pos;
        Ok(Some(self.string_state))
    }

    /// `include` followed by whitespace is a directive, not a key.
    fn key_or_include(&mut self, after_key: State, after_include: Option<State>) -> Step {
        if self.input[self.start..self.pos].eq_ignore_ascii_case("include") {
            self.ignore();
            if let Some(state) = after_include {
                self.push(state);
            }
            return Ok(Some(State::IncludeStart));
        }
        self.emit(TokenKind::Key)?;
        Ok(Some(after_key))
    }

    /// End of input where a token was expected: fine if nothing is pending.
    fn end_or_unexpected_eof(&mut self) -> Step {
        if self.pos > self.start {
            return self.fail("Unexpected EOF.".to_string());
        }
        self.emit(TokenKind::Eof)?;
        Ok(None)
    }

    /// Enters a comment (the `#` or `//` is consumed) and returns to `back`.
    fn comment(&mut self, back: State) -> Step {
        self.push(back);
        self.ignore();
        Ok(Some(State::Comment))
    }

    fn step(&mut self, state: State) -> Step {
        use State as S;
        match state {
            S::Top => {
                let r = self.next();
                if r.is_whitespace() {
                    self.ignore();
                    return Ok(Some(S::Top));
                }
                match r {
                    '{' => {
                        self.push(S::Top);
                        self.ignore();
                        Ok(Some(S::BlockStart))
                    }
                    '#' => self.comment(S::Top),
                    '/' => {
                        if self.next() == '/' {
                            return self.comment(S::Top);
                        }
                        self.backup();
                        self.end_or_unexpected_eof()
                    }
                    EOF => self.end_or_unexpected_eof(),
                    _ => {
                        self.backup();
                        self.push(S::TopValueEnd);
                        Ok(Some(S::KeyStart))
                    }
                }
            }
            S::TopValueEnd => {
                let r = self.next();
                match r {
                    '#' => self.comment(S::Top),
                    '/' => {
                        if self.next() == '/' {
                            return self.comment(S::Top);
                        }
                        // A lone `/` is skipped like a blank (nats-server does).
                        self.backup();
                        Ok(Some(S::TopValueEnd))
                    }
                    c if is_blank(c) => Ok(Some(S::TopValueEnd)),
                    c if is_newline(c) || c == EOF || c == ';' || c == ',' || c == '}' => {
                        self.ignore();
                        Ok(Some(S::Top))
                    }
                    c => self.fail(format!(
                        "Expected a top-level value to end with a new line, comment or EOF, but got '{}' instead.",
                        shown(c)
                    )),
                }
            }
            S::BlockStart => {
                let r = self.next();
                if r.is_whitespace() {
                    self.ignore();
                    return Ok(Some(S::BlockStart));
                }
                match r {
                    '{' => {
                        self.push(S::BlockEnd);
                        self.ignore();
                        Ok(Some(S::BlockStart))
                    }
                    '}' => {
                        self.ignore();
                        self.pop()
                    }
                    '#' => self.comment(S::BlockStart),
                    '/' => {
                        if self.next() == '/' {
                            return self.comment(S::BlockStart);
                        }
                        self.backup();
                        self.end_or_unexpected_eof()
                    }
                    EOF => self.end_or_unexpected_eof(),
                    _ => {
                        self.backup();
                        self.push(S::BlockValueEnd);
                        Ok(Some(S::KeyStart))
                    }
                }
            }
            S::BlockValueEnd => {
                let r = self.next();
                match r {
                    '#' => self.comment(S::BlockValueEnd),
                    '/' => {
                        if self.next() == '/' {
                            return self.comment(S::BlockValueEnd);
                        }
                        self.backup();
                        Ok(Some(S::BlockValueEnd))
                    }
                    c if is_blank(c) => Ok(Some(S::BlockValueEnd)),
                    c if is_newline(c) || c == ';' || c == ',' => {
                        self.ignore();
                        Ok(Some(S::BlockStart))
                    }
                    '}' => {
                        self.backup();
                        Ok(Some(S::BlockEnd))
                    }
                    c => self.fail(format!(
                        "Expected a block-level value to end with a new line, comment or EOF, but got '{}' instead.",
                        shown(c)
                    )),
                }
            }
            S::BlockEnd => {
                let r = self.next();
                match r {
                    '#' => self.comment(S::BlockStart),
                    '/' => {
                        if self.next() == '/' {
                            return self.comment(S::BlockStart);
                        }
                        self.backup();
                        Ok(Some(S::BlockEnd))
                    }
                    c if is_newline(c) || is_blank(c) => Ok(Some(S::BlockEnd)),
                    ';' | ',' => {
                        self.ignore();
                        Ok(Some(S::BlockStart))
                    }
                    '}' => {
                        self.ignore();
                        self.pop()
                    }
                    c => self.fail(format!(
                        "Expected a block-level to end with a '}}', but got '{}' instead.",
                        shown(c)
                    )),
                }
            }
            S::KeyStart => {
                let r = self.peek();
                if is_key_separator(r) {
                    return self.fail(format!("Unexpected key separator '{r}'"));
                }
                if r.is_whitespace() {
                    self.next();
                    self.ignore();
                    return Ok(Some(S::KeyStart));
                }
                if r == '"' || r == '\'' {
                    self.next();
                    self.ignore();
                    return Ok(Some(if r == '"' { S::DoubleQuotedKey } else { S::SingleQuotedKey }));
                }
                self.ignore();
                self.next();
                Ok(Some(S::Key))
            }
            S::DoubleQuotedKey | S::SingleQuotedKey => {
                let quote = if state == S::DoubleQuotedKey { '"' } else { '\'' };
                let r = self.peek();
                if r == quote {
                    self.emit(TokenKind::Key)?;
                    self.next();
                    self.ignore();
                    return Ok(Some(S::KeyEnd));
                }
                if r == EOF {
                    return self.end_or_unexpected_eof();
                }
                self.next();
                Ok(Some(state))
            }
            S::Key => {
                let r = self.peek();
                if r.is_whitespace() {
                    return self.key_or_include(S::KeyEnd, None);
                }
                if is_key_separator(r) || r == EOF {
                    self.emit(TokenKind::Key)?;
                    return Ok(Some(S::KeyEnd));
                }
                self.next();
                Ok(Some(S::Key))
            }
            S::KeyEnd => {
                let r = self.next();
                if r.is_whitespace() {
                    self.ignore();
                    return Ok(Some(S::KeyEnd));
                }
                if is_key_separator(r) {
                    self.ignore();
                    return Ok(Some(S::Value));
                }
                if r == EOF {
                    self.emit(TokenKind::Eof)?;
                    return Ok(None);
                }
                self.backup();
                Ok(Some(S::Value))
            }
            S::IncludeStart => {
                if is_blank(self.next()) {
                    self.ignore();
                    return Ok(Some(S::IncludeStart));
                }
                self.backup();
                Ok(Some(S::Include))
            }
            S::Include => {
                let r = self.next();
                let found = match r {
                    '\'' => {
                        self.ignore();
                        return Ok(Some(S::IncludeSingleQuoted));
                    }
                    '"' => {
                        self.ignore();
                        return Ok(Some(S::IncludeDoubleQuoted));
                    }
                    '[' => "start of an array",
                    '{' => "start of a map",
                    '(' => "start of a block",
                    '-' => "start of a number",
                    c if c.is_ascii_digit() => "start of a number",
                    '\\' => "escape sequence",
                    c if is_newline(c) => "new line",
                    _ => {
                        self.backup();
                        return Ok(Some(S::IncludeUnquoted));
                    }
                };
                self.fail(format!("Expected include value but found {found}"))
            }
            S::IncludeSingleQuoted | S::IncludeDoubleQuoted => {
                let (quote, what) = if state == S::IncludeSingleQuoted {
                    ('\'', "quoted")
                } else {
                    ('"', "double quoted")
                };
                let r = self.next();
                if r == quote {
                    self.backup();
                    self.emit(TokenKind::Include)?;
                    self.next();
                    self.ignore();
                    return self.pop();
                }
                if r == EOF {
                    return self.fail(format!("Unexpected EOF in {what} include"));
                }
                Ok(Some(state))
            }
            S::IncludeUnquoted => {
                let r = self.next();
                if is_newline(r) || r == EOF || r == ';' || r == '}' || is_blank(r) {
                    self.backup();
                    self.emit(TokenKind::Include)?;
                    return self.pop();
                }
                if r == '\'' {
                    self.backup();
                    self.emit(TokenKind::Include)?;
                    self.next();
                    self.ignore();
                    return self.pop();
                }
                Ok(Some(S::IncludeUnquoted))
            }
            S::Value => {
                let r = self.next();
                if is_blank(r) {
                    self.ignore();
                    return Ok(Some(S::Value));
                }
                match r {
                    '[' => {
                        self.ignore();
                        self.emit(TokenKind::ArrayStart)?;
                        Ok(Some(S::ArrayValue))
                    }
                    '{' => {
                        self.ignore();
                        self.emit(TokenKind::MapStart)?;
                        Ok(Some(S::MapKeyStart))
                    }
                    '\'' => {
                        self.ignore();
                        Ok(Some(S::SingleQuotedString))
                    }
                    '"' => {
                        self.ignore();
                        self.string_state = S::DoubleQuotedString;
                        Ok(Some(S::DoubleQuotedString))
                    }
                    '-' => Ok(Some(S::NegativeNumberStart)),
                    '(' => {
                        self.ignore();
                        Ok(Some(S::BlockString))
                    }
                    c if c.is_ascii_digit() => {
                        self.backup();
                        Ok(Some(S::NumberStart))
                    }
                    '.' => self.fail("Floats must start with a digit".to_string()),
                    c if is_newline(c) => self.fail("Expected value but found new line".to_string()),
                    _ => {
                        self.backup();
                        self.string_state = S::UnquotedString;
                        Ok(Some(S::UnquotedString))
                    }
                }
            }
            S::ArrayValue => {
                let r = self.next();
                if r.is_whitespace() {
                    self.ignore();
                    return Ok(Some(S::ArrayValue));
                }
                match r {
                    '#' => self.comment(S::ArrayValue),
                    '/' if self.peek() == '/' => {
                        self.next();
                        self.comment(S::ArrayValue)
                    }
                    '/' | ',' => self.fail("Unexpected array value terminator ','.".to_string()),
                    ']' => Ok(Some(S::ArrayEnd)),
                    _ => {
                        self.backup();
                        self.push(S::ArrayValueEnd);
                        Ok(Some(S::Value))
                    }
                }
            }
            S::ArrayValueEnd => {
                let r = self.next();
                match r {
                    c if is_blank(c) => {
                        self.ignore();
                        Ok(Some(S::ArrayValueEnd))
                    }
                    '#' => self.comment(S::ArrayValueEnd),
                    '/' if self.peek() == '/' => {
                        self.next();
                        self.comment(S::ArrayValueEnd)
                    }
                    c if c == '/' || c == ',' || is_newline(c) => {
                        self.ignore();
                        Ok(Some(S::ArrayValue))
                    }
                    ']' => Ok(Some(S::ArrayEnd)),
                    c => self.fail(format!(
                        "Expected an array value terminator ',' or an array terminator ']', but got '{}' instead.",
                        shown(c)
                    )),
                }
            }
            S::ArrayEnd => {
                self.ignore();
                self.emit(TokenKind::ArrayEnd)?;
                self.pop()
            }
            S::MapKeyStart => {
                let r = self.peek();
                match r {
                    c if is_key_separator(c) => {
                        return self.fail(format!("Unexpected key separator '{c}'."))
                    }
                    ']' => return self.fail("Unexpected array end ']' processing map.".to_string()),
                    c if c.is_whitespace() => {
                        self.next();
                        self.ignore();
                        return Ok(Some(S::MapKeyStart));
                    }
                    '}' => {
                        self.next();
                        self.ignore();
                        return Ok(Some(S::MapEnd));
                    }
                    '#' => {
                        self.next();
                        return self.comment(S::MapKeyStart);
                    }
                    '/' => {
                        self.next();
                        if self.next() == '/' {
                            return self.comment(S::MapKeyStart);
                        }
                        // nats-server drops a lone leading `/` from the key.
                        self.backup();
                    }
                    '\'' | '"' => {
                        self.next();
                        self.ignore();
                        return Ok(Some(if r == '"' {
                            S::MapDoubleQuotedKey
                        } else {
                            S::MapSingleQuotedKey
                        }));
                    }
                    EOF => return self.fail("Unexpected EOF processing map.".to_string()),
                    _ => {}
                }
                self.ignore();
                self.next();
                Ok(Some(S::MapKey))
            }
            S::MapSingleQuotedKey | S::MapDoubleQuotedKey => {
                let (quote, what) = if state == S::MapSingleQuotedKey {
                    ('\'', "quoted")
                } else {
                    ('"', "double quoted")
                };
                let r = self.peek();
                if r == EOF {
                    return self.fail(format!("Unexpected EOF processing {what} map key."));
                }
                if r == quote {
                    self.emit(TokenKind::Key)?;
                    self.next();
                    self.ignore();
                    return Ok(Some(S::MapKeyEnd));
                }
                self.next();
                Ok(Some(state))
            }
            S::MapKey => {
                let r = self.peek();
                if r == EOF {
                    return self.fail("Unexpected EOF processing map key.".to_string());
                }
                if r.is_whitespace() {
                    return self.key_or_include(S::MapKeyEnd, Some(S::MapValueEnd));
                }
                if is_key_separator(r) {
                    self.emit(TokenKind::Key)?;
                    return Ok(Some(S::MapKeyEnd));
                }
                self.next();
                Ok(Some(S::MapKey))
            }
            S::MapKeyEnd => {
                let r = self.next();
                if r.is_whitespace() {
                    self.ignore();
                    return Ok(Some(S::MapKeyEnd));
                }
                if is_key_separator(r) {
                    self.ignore();
                    return Ok(Some(S::MapValue));
                }
                self.backup();
                Ok(Some(S::MapValue))
            }
            S::MapValue => {
                let r = self.next();
                if r.is_whitespace() {
                    self.ignore();
                    return Ok(Some(S::MapValue));
                }
                match r {
                    ',' => self.fail("Unexpected map value terminator ','.".to_string()),
                    '}' => {
                        self.ignore();
                        Ok(Some(S::MapEnd))
                    }
                    _ => {
                        self.backup();
                        self.push(S::MapValueEnd);
                        Ok(Some(S::Value))
                    }
                }
            }
            S::MapValueEnd => {
                let r = self.next();
                match r {
                    c if is_blank(c) => {
                        self.ignore();
                        Ok(Some(S::MapValueEnd))
                    }
                    '#' => self.comment(S::MapValueEnd),
                    '/' if self.peek() == '/' => {
                        self.next();
                        self.comment(S::MapValueEnd)
                    }
                    c if c == '/' || c == ';' || c == ',' || is_newline(c) => {
                        self.ignore();
                        Ok(Some(S::MapKeyStart))
                    }
                    '}' => {
                        self.ignore();
                        Ok(Some(S::MapEnd))
                    }
                    c => self.fail(format!(
                        "Expected a map value terminator ',' or a map terminator '}}', but got '{}' instead.",
                        shown(c)
                    )),
                }
            }
            S::MapEnd => {
                self.ignore();
                self.emit(TokenKind::MapEnd)?;
                self.pop()
            }
            S::SingleQuotedString => {
                let r = self.next();
                if r == '\'' {
                    self.backup();
                    self.emit(TokenKind::String)?;
                    self.next();
                    self.ignore();
                    return self.pop();
                }
                if r == EOF {
                    return self.end_or_unexpected_eof();
                }
                Ok(Some(S::SingleQuotedString))
            }
            S::DoubleQuotedString => {
                let r = self.next();
                match r {
                    '\\' => {
                        self.flush_literal(1);
                        Ok(Some(S::StringEscape))
                    }
                    '"' => {
                        self.backup();
                        self.emit(TokenKind::String)?;
                        self.next();
                        self.ignore();
                        self.pop()
                    }
                    EOF => self.end_or_unexpected_eof(),
                    _ => Ok(Some(S::DoubleQuotedString)),
                }
            }
            S::UnquotedString => {
                let r = self.next();
                match r {
                    '\\' => {
                        self.flush_literal(1);
                        Ok(Some(S::StringEscape))
                    }
                    c if is_newline(c)
                        || c == EOF
                        || c == ';'
                        || c == ','
                        || c == ']'
                        || c == '}'
                        || is_blank(c) =>
                    {
                        self.backup();
                        let raw = &self.input[self.start..self.pos];
                        let kind = if self.has_escapes {
                            TokenKind::String
                        } else if ["true", "false", "yes", "no", "on", "off"]
                            .iter()
                            .any(|b| raw.eq_ignore_ascii_case(b))
                        {
                            TokenKind::Bool
                        } else if raw.starts_with('$') {
                            self.start += 1;
                            TokenKind::Variable
                        } else {
                            TokenKind::String
                        };
                        self.emit(kind)?;
                        self.pop()
                    }
                    '\'' => {
                        self.backup();
                        self.emit(TokenKind::String)?;
                        self.next();
                        self.ignore();
                        self.pop()
                    }
                    _ => Ok(Some(S::UnquotedString)),
                }
            }
            S::BlockString => self.block_string(),
            S::StringEscape => match self.next() {
                'x' => Ok(Some(S::StringHexEscape)),
                't' => self.add_escaped(b"\t"),
                'n' => self.add_escaped(b"\n"),
                'r' => self.add_escaped(b"\r"),
                '"' => self.add_escaped(b"\""),
                '\\' => self.add_escaped(b"\\"),
                c => self.fail(format!(
                    "Invalid escape character '{}'. Only the following escape characters are allowed: \\xXX, \\t, \\n, \\r, \\\", \\\\.",
                    shown(c)
                )),
            },
            S::StringHexEscape => {
                let mut digits = String::new();
                for _ in 0..2 {
                    let c = self.next();
                    if is_newline(c) || c == EOF {
                        return self.fail(
                            "Expected two hexadecimal digits after '\\x', but hit end of line"
                                .to_string(),
                        );
                    }
                    digits.push(c);
                }
                match u8::from_str_radix(&digits, 16) {
                    Ok(byte) if digits.chars().all(|c| c.is_ascii_hexdigit()) => {
                        self.add_escaped(&[byte])
                    }
                    _ => self.fail(format!(
                        "Expected two hexadecimal digits after '\\x', but got '{digits}'"
                    )),
                }
            }
            S::NumberStart => {
                let r = self.next();
                if r.is_ascii_digit() {
                    return Ok(Some(S::Number));
                }
                if r == '.' {
                    return self.fail("Floats must start with a digit, not '.'.".to_string());
                }
                self.fail(format!("Expected a digit but got '{}'.", shown(r)))
            }
            S::Number => {
                let r = self.next();
                match r {
                    '-' => {
                        if self.pos - self.start != 5 {
                            return self.fail("All ISO8601 dates must be in full Zulu form.".to_string());
                        }
                        Ok(Some(S::DateAfterYear))
                    }
                    c if c.is_ascii_digit() => Ok(Some(S::Number)),
                    '.' => Ok(Some(S::FloatStart)),
                    c if is_size_suffix(c) => Ok(Some(S::SizeSuffix)),
                    c if !ends_number(c) => {
                        // Not a number after all (`3xyz`, `1host`): a string.
                        self.string_state = S::UnquotedString;
                        Ok(Some(S::UnquotedString))
                    }
                    _ => {
                        self.backup();
                        self.emit(TokenKind::Integer)?;
                        self.pop()
                    }
                }
            }
            S::SizeSuffix => {
                let r = self.next();
                if matches!(r, 'b' | 'B' | 'i' | 'I') {
                    return Ok(Some(S::SizeSuffix));
                }
                self.backup();
                if ends_number(r) || r.is_ascii_digit() {
                    self.emit(TokenKind::Integer)?;
                    return self.pop();
                }
                // `500ms`, `5min`: a string that happens to start like a size.
                self.string_state = S::UnquotedString;
                Ok(Some(S::UnquotedString))
            }
            S::DateAfterYear => {
                for expected in "00-00T00:00:00Z".chars() {
                    let r = self.next();
                    if expected == '0' {
                        if !r.is_ascii_digit() {
                            return self.fail(format!(
                                "Expected digit in ISO8601 datetime, but found '{}' instead.",
                                shown(r)
                            ));
                        }
                    } else if r != expected {
                        return self.fail(format!(
                            "Expected '{expected}' in ISO8601 datetime, but found '{}' instead.",
                            shown(r)
                        ));
                    }
                }
                self.emit(TokenKind::Datetime)?;
                self.pop()
            }
            S::NegativeNumberStart => {
                let r = self.next();
                if r.is_ascii_digit() {
                    return Ok(Some(S::NegativeNumber));
                }
                if r == '.' {
                    return self.fail("Floats must start with a digit, not '.'.".to_string());
                }
                self.fail(format!("Expected a digit but got '{}'.", shown(r)))
            }
            S::NegativeNumber => {
                let r = self.next();
                match r {
                    c if c.is_ascii_digit() => Ok(Some(S::NegativeNumber)),
                    '.' => Ok(Some(S::FloatStart)),
                    c if is_size_suffix(c) => Ok(Some(S::SizeSuffix)),
                    _ => {
                        self.backup();
                        self.emit(TokenKind::Integer)?;
                        self.pop()
                    }
                }
            }
            S::FloatStart => {
                let r = self.next();
                if !r.is_ascii_digit() {
                    return self.fail(format!(
                        "Floats must have a digit after the '.', but got '{}' instead.",
                        shown(r)
                    ));
                }
                Ok(Some(S::Float))
            }
            S::Float => {
                let r = self.next();
                if r.is_ascii_digit() {
                    return Ok(Some(S::Float));
                }
                if r == '.' {
                    return Ok(Some(S::IpAddress));
                }
                self.backup();
                self.emit(TokenKind::Float)?;
                self.pop()
            }
            S::IpAddress => {
                let r = self.next();
                if r.is_ascii_digit() || r == '.' || r == ':' || r == '-' {
                    return Ok(Some(S::IpAddress));
                }
                self.backup();
                self.emit(TokenKind::String)?;
                self.pop()
            }
            S::Comment => {
                let r = self.peek();
                if is_newline(r) || r == EOF {
                    self.ignore();
                    return self.pop();
                }
                self.next();
                Ok(Some(S::Comment))
            }
        }
    }

    /// A `(` block string runs to a `)` that sits alone at the start of a
    /// line; the text keeps its newlines up to that line.
    fn block_string(&mut self) -> Step {
        let rest = &self.input[self.pos..];
        let mut offset = 0;
        for line in rest.split_inclusive('\n') {
            let bare = line.strip_suffix('\n').unwrap_or(line);
            let bare = bare.strip_suffix('\r').unwrap_or(bare);
            // The closing line must follow a newline, i.e. not be the `(` line.
            if offset > 0 && bare == ")" {
                let text_end = self.pos + offset;
                self.line += self.input[self.pos..text_end].matches('\n').count() as u32;
                self.pos = text_end;
                self.emit(TokenKind::String)?;
                self.pos += 1; // the `)`
                self.ignore();
                return self.pop();
            }
            offset += line.len();
        }
        self.line += rest.matches('\n').count() as u32;
        self.pos = self.input.len();
        self.fail("Unexpected EOF processing block.".to_string())
    }
}
