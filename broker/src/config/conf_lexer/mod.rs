//! Tokenizer for nats-server's configuration syntax.
//!
//! The syntax is defined by nats-server's hand-written lexer rather than a
//! grammar, and real configs rely on its corners: `key value` without a
//! separator, unquoted strings that end at whitespace, `2m` being an integer
//! (two million) while `10s` is a string, `127.0.0.1:4222` being a string,
//! arrays separated by newlines, `include` as a keyword only when followed by
//! whitespace, `$name` variables and `(`…`)` block strings. To accept and
//! reject exactly what nats-server does, this lexer is the same kind of state
//! machine with the same states, named for what each reads. (A comparison of
//! 125 tricky snippets against the nats-server 2.15 binary found it agreeing
//! on every one except the deliberate differences below.)
//!
//! It differs only where nats-server's behaviour is accidental: a NUL byte is
//! an error (nats-server silently stops reading there), escapes producing
//! invalid UTF-8 are an error, a block string at end of file ends before its
//! `)`, and errors caused by a newline name the line the newline ends rather
//! than the next one. `structure` holds the states that find keys, blocks,
//! maps, arrays, includes and comments; `scalars` those that read a value.

mod scalars;
mod structure;
#[cfg(test)]
mod tests;

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
    /// After a value inside that wrapper.
    BlockValueEnd,
    /// Expecting the wrapper's closing `}`.
    BlockEnd,
    /// Blanks before a key, or its opening quote.
    KeyStart,
    /// A quoted key, up to its closing quote.
    DoubleQuotedKey,
    SingleQuotedKey,
    /// An unquoted key; ends at a separator, whitespace or end of input.
    Key,
    /// Between a key and its value: blanks, newlines and one `=` or `:`.
    KeyEnd,
    /// Blanks after `include`.
    IncludeStart,
    /// The first character of the include path decides how it is quoted.
    Include,
    IncludeSingleQuoted,
    IncludeDoubleQuoted,
    IncludeUnquoted,
    /// Any value: decides its kind from the first character.
    Value,
    /// Before an array element (blanks, newlines, comments) or the `]`.
    ArrayValue,
    /// After an element: `,`, a newline, a comment or the `]`.
    ArrayValueEnd,
    ArrayEnd,
    /// Before a key inside `{ }`, or the `}`.
    MapKeyStart,
    MapSingleQuotedKey,
    MapDoubleQuotedKey,
    MapKey,
    /// Between a map key and its value.
    MapKeyEnd,
    MapValue,
    /// After a map value: `,`, `;`, a newline, a comment or the `}`.
    MapValueEnd,
    MapEnd,
    /// No escapes: everything up to the next `'`.
    SingleQuotedString,
    /// Escapes allowed, up to the next unescaped `"`.
    DoubleQuotedString,
    /// An unquoted string (also bools and variables, decided at its end).
    UnquotedString,
    /// `(` ... `)` with the `)` alone at the start of a line.
    BlockString,
    /// After a `\` in a double-quoted or unquoted string.
    StringEscape,
    /// The two hex digits of `\xHH`.
    StringHexEscape,
    NumberStart,
    /// Digits so far; may still become a float, IP, date or string.
    Number,
    /// After a size suffix such as `k`, `MB` or `GiB`.
    SizeSuffix,
    /// `YYYY-` seen: the rest of a Zulu timestamp.
    DateAfterYear,
    NegativeNumberStart,
    NegativeNumber,
    FloatStart,
    Float,
    /// `1.2.` seen: an IP address or `host:port`, emitted as a string.
    IpAddress,
    /// `#` or `//` to the end of the line.
    Comment,
}

impl State {
    /// States that read a single value (the rest find where values go).
    fn is_scalar(self) -> bool {
        use State as S;
        matches!(
            self,
            S::Value
                | S::SingleQuotedString
                | S::DoubleQuotedString
                | S::UnquotedString
                | S::BlockString
                | S::StringEscape
                | S::StringHexEscape
                | S::NumberStart
                | S::Number
                | S::SizeSuffix
                | S::DateAfterYear
                | S::NegativeNumberStart
                | S::NegativeNumber
                | S::FloatStart
                | S::Float
                | S::IpAddress
        )
    }
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
            return Err(LexError {
                line,
                message: "Unexpected NUL character.".to_string(),
            });
        }
        loop {
            if let Some(token) = self.pending.pop_front() {
                return Ok(token);
            }
            match self.state {
                None => {
                    return Ok(Token {
                        kind: TokenKind::Eof,
                        text: String::new(),
                        line: self.line,
                    })
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

    /// An error on the line of the character just read (nats-server counts
    /// a newline that caused the error as the next line).
    fn error(&self, message: String) -> LexError {
        let on_newline = self.width > 0 && self.input[..self.pos].ends_with('\n');
        LexError {
            line: self.line - u32::from(on_newline),
            message,
        }
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
        self.pending.push_back(Token {
            kind,
            text,
            line: self.line,
        });
        self.start = self.pos;
        Ok(())
    }

    /// Ends an escaped string's pending literal part, dropping `skip` bytes
    /// (the backslash) from its end.
    fn flush_literal(&mut self, skip: usize) {
        self.escaped
            .extend_from_slice(&self.input.as_bytes()[self.start..self.pos - skip]);
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
        if state.is_scalar() {
            self.scalar_step(state)
        } else {
            self.structure_step(state)
        }
    }
}
