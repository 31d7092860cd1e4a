//! The states that read one value: strings (quoted, unquoted, block,
//! escapes), numbers with size suffixes, floats, IP addresses and dates.

use super::{
    ends_number, is_blank, is_newline, is_size_suffix, shown, Lexer, State, Step, TokenKind, EOF,
};

impl Lexer<'_> {
    pub(super) fn scalar_step(&mut self, state: State) -> Step {
        use State as S;
        match state {
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
                if ends_number(r) {
                    self.emit(TokenKind::Integer)?;
                    return self.pop();
                }
                // `500ms`, `5min`, `1k5`: a string that starts like a size.
                // (nats-server's source once ended the number before a
                // digit, leaving `5` to fail; its releases read a string.)
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
            other => self.fail(format!("BUG in lexer: {other:?} is not a value state")),
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
