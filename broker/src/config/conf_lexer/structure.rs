//! The states that find keys, blocks, maps, arrays, includes and comments.

use super::{is_blank, is_key_separator, is_newline, shown, Lexer, State, Step, TokenKind, EOF};

impl Lexer<'_> {
    pub(super) fn structure_step(&mut self, state: State) -> Step {
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
                    return Ok(Some(if r == '"' {
                        S::DoubleQuotedKey
                    } else {
                        S::SingleQuotedKey
                    }));
                }
                self.ignore();
                self.next();
                Ok(Some(S::Key))
            }
            S::DoubleQuotedKey | S::SingleQuotedKey => {
                let quote = if state == S::DoubleQuotedKey {
                    '"'
                } else {
                    '\''
                };
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
                    ']' => {
                        return self.fail("Unexpected array end ']' processing map.".to_string())
                    }
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
            S::Comment => {
                let r = self.peek();
                if is_newline(r) || r == EOF {
                    self.ignore();
                    return self.pop();
                }
                self.next();
                Ok(Some(S::Comment))
            }
            other => self.fail(format!("BUG in lexer: {other:?} is not a structural state")),
        }
    }
}
