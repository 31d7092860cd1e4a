//! Parser for nats-server's configuration syntax: turns [`conf_lexer`]
//! tokens into a [`Table`], resolving `$variables` and `include` directives
//! the way nats-server does.
//!
//! - `$name` is looked up by exact spelling among the keys already set in the
//!   enclosing blocks, innermost first (arrays are not scopes), then in the
//!   environment, whose value is parsed as if written `pk=<value>` (so
//!   `4222` is a number and `$OTHER` chains; a chain that returns to itself
//!   is an error). An unquoted `$2a$...` is a bcrypt hash, not a variable.
//! - `include path` reads a file relative to the including file's directory
//!   (even when `path` starts with `/`: nats-server joins, it does not
//!   replace) and merges its keys where the directive stands. The included
//!   file has its own variable scope. Include cycles are an error here; they
//!   exhaust nats-server.
//! - Repeated keys: the last one wins.
//!
//! [`conf_lexer`]: super::conf_lexer

use std::cell::Cell;
use std::path::{Component, Path, PathBuf};
use std::sync::Arc;

use super::conf_lexer::{Lexer, TokenKind};
use super::error::ConfigError;
use super::units;
use super::value::{Entry, Kind, Pos, Table, Value};

/// Looks up an environment variable (injectable so tests need not mutate
/// the process environment).
pub(crate) type EnvLookup<'a> = &'a dyn Fn(&str) -> Option<String>;

/// Deep enough for any sane layout, shallow enough to stop runaway nesting.
const MAX_INCLUDE_DEPTH: usize = 32;

/// Deepest nesting of blocks and arrays in the finished tree. nats-server
/// has no limit (Go's stacks grow); here the tree is dropped, cloned and
/// applied recursively, so a file of nothing but `[`, or variables nesting
/// copies of each other, would overflow the stack. Real configs nest a
/// handful deep.
const MAX_NESTING: usize = 128;

/// Most values that `$variable` references to earlier keys may copy in
/// all, per file and what it includes. nats-server shares the referenced
/// value; here each reference copies its tree, so a few lines doubling
/// a list by referring to it twice (`b = [$a, $a]`, `c = [$b, $b]`, ...)
/// would otherwise grow exponentially: 360 bytes made 1.2 GiB. Real
/// configs copy passwords and user lists, far below this.
const MAX_COPIED_VALUES: usize = 100_000;

/// Parses config text. `file` names it in messages; includes resolve
/// against `file`'s directory.
pub(crate) fn parse_str(text: &str, file: &str, env: EnvLookup<'_>) -> Result<Table, ConfigError> {
    let dir = Path::new(file)
        .parent()
        .map(Path::to_path_buf)
        .unwrap_or_default();
    let chain = vec![std::fs::canonicalize(file).unwrap_or_else(|_| PathBuf::from(file))];
    let copied = Cell::new(0);
    Parser::new(text, file.into(), dir, env, Vec::new(), chain, &copied).run()
}

enum Frame {
    Map {
        table: Table,
        /// The key whose value comes next, and its line.
        pending: Option<(String, u32)>,
        /// Line of the opening `{`.
        opened: u32,
    },
    Array {
        items: Vec<Value>,
        /// Line of the opening `[`.
        opened: u32,
    },
}

struct Parser<'a> {
    lexer: Lexer<'a>,
    file: Arc<str>,
    dir: PathBuf,
    env: EnvLookup<'a>,
    /// Environment variables being expanded by the parsers above this one.
    resolving: Vec<String>,
    /// Files being parsed, outermost first.
    includes: Vec<PathBuf>,
    /// Values copied by variable references so far, shared with the
    /// parsers of environment values and includes (see
    /// [`MAX_COPIED_VALUES`]).
    copied: &'a Cell<usize>,
    frames: Vec<Frame>,
}

impl<'a> Parser<'a> {
    fn new(
        text: &'a str,
        file: Arc<str>,
        dir: PathBuf,
        env: EnvLookup<'a>,
        resolving: Vec<String>,
        includes: Vec<PathBuf>,
        copied: &'a Cell<usize>,
    ) -> Self {
        Parser {
            lexer: Lexer::new(text),
            file,
            dir,
            env,
            resolving,
            includes,
            copied,
            frames: vec![Frame::Map {
                table: Table::default(),
                pending: None,
                opened: 1,
            }],
        }
    }

    fn run(mut self) -> Result<Table, ConfigError> {
        loop {
            let token = match self.lexer.next_token() {
                Ok(token) => token,
                Err(e) => return Err(self.syntax(e.line, e.message)),
            };
            let line = token.line;
            match token.kind {
                TokenKind::Eof => return self.finish(),
                TokenKind::Key => self.key(token.text, line)?,
                TokenKind::String => self.set(Kind::String(token.text), line)?,
                TokenKind::Bool => {
                    let truth = ["true", "yes", "on"]
                        .iter()
                        .any(|t| token.text.eq_ignore_ascii_case(t));
                    self.set(Kind::Bool(truth), line)?
                }
                TokenKind::Integer => {
                    let (value, suffix) = units::parse_conf_integer(&token.text)
                        .map_err(|message| self.syntax(line, message))?;
                    self.set(Kind::Integer { value, suffix }, line)?
                }
                TokenKind::Float => {
                    let value = token.text.parse::<f64>().map_err(|_| {
                        self.syntax(line, format!("expected float, but got '{}'", token.text))
                    })?;
                    self.set(Kind::Float(value), line)?
                }
                TokenKind::Datetime => {
                    if !valid_zulu(&token.text) {
                        let message =
                            format!("expected Zulu formatted DateTime, but got '{}'", token.text);
                        return Err(self.syntax(line, message));
                    }
                    self.set(Kind::Datetime(token.text), line)?
                }
                TokenKind::ArrayStart => {
                    self.check_nesting(1, line)?;
                    self.frames.push(Frame::Array {
                        items: Vec::new(),
                        opened: line,
                    })
                }
                TokenKind::MapStart => {
                    self.check_nesting(1, line)?;
                    self.frames.push(Frame::Map {
                        table: Table::default(),
                        pending: None,
                        opened: line,
                    })
                }
                TokenKind::ArrayEnd | TokenKind::MapEnd => self.close(line)?,
                TokenKind::Variable => {
                    let kind = self.variable(&token.text, line)?;
                    // A variable copies a whole tree in where it stands.
                    self.check_nesting(depth(&kind), line)?;
                    self.set(kind, line)?
                }
                TokenKind::Include => self.include(&token.text, line)?,
            }
        }
    }

    fn pos(&self, line: u32) -> Pos {
        Pos {
            file: self.file.clone(),
            line,
        }
    }

    /// The dotted path of the value being read, e.g. `authorization.users[1].user`.
    /// Between entries, the innermost block names its last key, which is
    /// where a reader should look.
    fn path(&self) -> String {
        let mut path = String::new();
        let last = self.frames.len().saturating_sub(1);
        for (i, frame) in self.frames.iter().enumerate() {
            let segment = match frame {
                Frame::Map {
                    pending: Some((key, _)),
                    ..
                } => Some(key.as_str()),
                Frame::Map {
                    table,
                    pending: None,
                    ..
                } if i == last => table.entries.last().map(|e| e.key.as_str()),
                Frame::Map { .. } => None,
                Frame::Array { items, .. } => {
                    path.push_str(&format!("[{}]", items.len()));
                    None
                }
            };
            if let Some(key) = segment {
                if !path.is_empty() {
                    path.push('.');
                }
                path.push_str(key);
            }
        }
        path
    }

    /// Refuses a value `depth` levels deep where the blocks and arrays open
    /// now would take it past [`MAX_NESTING`].
    fn check_nesting(&self, depth: usize, line: u32) -> Result<(), ConfigError> {
        // The outermost frame is the file itself, not a block.
        let open = self.frames.len().saturating_sub(1);
        if open + depth > MAX_NESTING {
            let message = format!("blocks and arrays nested more than {MAX_NESTING} deep");
            return Err(self.syntax(line, message));
        }
        Ok(())
    }

    fn syntax(&self, line: u32, message: String) -> ConfigError {
        ConfigError::Syntax {
            location: self.pos(line).to_string(),
            key: self.path(),
            message,
        }
    }

    fn key(&mut self, key: String, line: u32) -> Result<(), ConfigError> {
        match self.frames.last_mut() {
            Some(Frame::Map {
                pending: pending @ None,
                ..
            }) => {
                *pending = Some((key, line));
                Ok(())
            }
            _ => Err(self.syntax(line, format!("unexpected key '{key}'"))),
        }
    }

    /// Stores a finished value in the innermost array or under the pending key.
    fn set(&mut self, kind: Kind, line: u32) -> Result<(), ConfigError> {
        let mut value = Value::new(kind, self.pos(line));
        match self.frames.last_mut() {
            Some(Frame::Array { items, .. }) => {
                items.push(value);
                Ok(())
            }
            Some(Frame::Map { table, pending, .. }) => match pending.take() {
                Some((key, key_line)) => {
                    value.pos.line = key_line;
                    table.insert(Entry {
                        key,
                        value,
                        used_as_variable: false,
                    });
                    Ok(())
                }
                None => Err(self.syntax(line, "value without a key".to_string())),
            },
            None => Err(self.syntax(line, "value outside of any block".to_string())),
        }
    }

    /// Ends the innermost array or map and stores it in its parent.
    fn close(&mut self, line: u32) -> Result<(), ConfigError> {
        if self.frames.len() < 2 {
            return Err(self.syntax(line, "unbalanced closing bracket".to_string()));
        }
        if let Some(Frame::Map {
            pending: Some((key, key_line)),
            ..
        }) = self.frames.last()
        {
            let message = format!("key '{key}' has no value");
            return Err(self.syntax(*key_line, message));
        }
        // An array or map is positioned where it opens (nats-server uses
        // where it closes, which points below the problem).
        let (kind, opened) = match self.frames.pop() {
            Some(Frame::Array { items, opened }) => (Kind::Array(items), opened),
            Some(Frame::Map { table, opened, .. }) => (Kind::Table(table), opened),
            None => return Err(self.syntax(line, "unbalanced closing bracket".to_string())),
        };
        self.set(kind, opened)
    }

    fn finish(self) -> Result<Table, ConfigError> {
        let mut frames = self.frames.into_iter();
        match (frames.next(), frames.next()) {
            (Some(Frame::Map { table, pending, .. }), None) => match pending {
                // A stray `}` after JSON-style content is tolerated, as in nats-server.
                Some((key, line)) if key != "}" => Err(ConfigError::Syntax {
                    location: format!("{}:{line}", self.file),
                    key,
                    message: "config is invalid: key without a value".to_string(),
                }),
                _ => Ok(table),
            },
            _ => Err(ConfigError::Syntax {
                location: self.file.to_string(),
                key: String::new(),
                message: "unexpected end of input inside a block".to_string(),
            }),
        }
    }

    fn variable(&mut self, name: &str, line: u32) -> Result<Kind, ConfigError> {
        // nats-server lets bcrypt hashes go unquoted.
        if name.starts_with("2a$") {
            return Ok(Kind::String(format!("${name}")));
        }
        let mut over_budget = false;
        for frame in self.frames.iter_mut().rev() {
            if let Frame::Map { table, .. } = frame {
                if let Some(entry) = table.get_mut(name) {
                    entry.used_as_variable = true;
                    let total = self
                        .copied
                        .get()
                        .saturating_add(count_values(&entry.value.kind));
                    self.copied.set(total);
                    if total <= MAX_COPIED_VALUES {
                        return Ok(entry.value.kind.clone());
                    }
                    over_budget = true;
                    break;
                }
            }
        }
        if over_budget {
            let message =
                format!("variable references copy more than {MAX_COPIED_VALUES} values in all");
            return Err(self.syntax(line, message));
        }
        let location = self.pos(line).to_string();
        let key = self.path();
        let bad = |reason: String| ConfigError::BadVariable {
            location: location.clone(),
            key: key.clone(),
            name: name.to_string(),
            reason,
        };
        if self.resolving.iter().any(|n| n == name) {
            return Err(bad(format!("variable reference cycle for '{name}'")));
        }
        let Some(raw) = (self.env)(name) else {
            return Err(ConfigError::UndefinedVariable {
                location,
                key,
                name: name.to_string(),
            });
        };
        let text = format!("pk={raw}");
        let mut resolving = self.resolving.clone();
        resolving.push(name.to_string());
        let label: Arc<str> = format!("${name}").into();
        let sub = Parser::new(
            &text,
            label,
            self.dir.clone(),
            self.env,
            resolving,
            self.includes.clone(),
            self.copied,
        );
        let table = sub.run().map_err(|e| bad(inner_reason(&e)))?;
        Ok(table
            .entries
            .into_iter()
            .find(|e| e.key == "pk")
            .map_or(Kind::String(String::new()), |e| e.value.kind))
    }

    fn include(&mut self, name: &str, line: u32) -> Result<(), ConfigError> {
        let location = self.pos(line).to_string();
        let wrap = |source: ConfigError| ConfigError::Include {
            location: location.clone(),
            include: name.to_string(),
            source: Box::new(source),
        };
        let path = join_like_go(&self.dir, name);
        let canonical = std::fs::canonicalize(&path).unwrap_or_else(|_| path.clone());
        if self.includes.contains(&canonical) {
            return Err(wrap(ConfigError::Syntax {
                location: path.display().to_string(),
                key: String::new(),
                message: "include cycle: the file includes itself".to_string(),
            }));
        }
        if self.includes.len() >= MAX_INCLUDE_DEPTH {
            return Err(wrap(ConfigError::Syntax {
                location: path.display().to_string(),
                key: String::new(),
                message: format!("includes nested more than {MAX_INCLUDE_DEPTH} deep"),
            }));
        }
        let text = std::fs::read_to_string(&path).map_err(|source| {
            wrap(ConfigError::Io {
                path: path.clone(),
                source,
            })
        })?;
        let dir = path.parent().map(Path::to_path_buf).unwrap_or_default();
        let mut includes = self.includes.clone();
        includes.push(canonical);
        let file: Arc<str> = path.display().to_string().into();
        let table = Parser::new(
            &text,
            file,
            dir,
            self.env,
            Vec::new(),
            includes,
            self.copied,
        )
        .run()
        .map_err(wrap)?;
        for entry in &table.entries {
            // The included keys land in the block the directive stands in.
            self.check_nesting(depth(&entry.value.kind), line)?;
        }
        match self.frames.last_mut() {
            Some(Frame::Map {
                table: current,
                pending: None,
                ..
            }) => {
                for entry in table.entries {
                    current.insert(entry);
                }
                Ok(())
            }
            _ => Err(self.syntax(
                line,
                "include is only allowed where a key may appear".to_string(),
            )),
        }
    }
}

/// How many blocks and arrays deep `kind` goes (0 for a scalar). Every
/// tree the parser builds is at most [`MAX_NESTING`] deep, so this
/// recursion is bounded.
fn depth(kind: &Kind) -> usize {
    match kind {
        Kind::Array(items) => 1 + items.iter().map(|v| depth(&v.kind)).max().unwrap_or(0),
        Kind::Table(table) => {
            1 + table
                .entries
                .iter()
                .map(|e| depth(&e.value.kind))
                .max()
                .unwrap_or(0)
        }
        _ => 0,
    }
}

/// How many values `kind` holds, itself included. Bounded like [`depth`].
fn count_values(kind: &Kind) -> usize {
    1 + match kind {
        Kind::Array(items) => items.iter().map(|v| count_values(&v.kind)).sum(),
        Kind::Table(table) => table
            .entries
            .iter()
            .map(|e| count_values(&e.value.kind))
            .sum(),
        _ => 0,
    }
}

/// Go's `filepath.Join(dir, name)`: `name` is appended even when absolute.
fn join_like_go(dir: &Path, name: &str) -> PathBuf {
    let mut path = dir.to_path_buf();
    for component in Path::new(name).components() {
        match component {
            Component::Normal(part) => path.push(part),
            Component::ParentDir => path.push(".."),
            Component::RootDir | Component::CurDir | Component::Prefix(_) => {}
        }
    }
    path
}

/// The message of a nested error without its location (an environment
/// value has no useful file or line of its own).
fn inner_reason(e: &ConfigError) -> String {
    match e {
        ConfigError::Syntax { message, .. } => message.clone(),
        ConfigError::UndefinedVariable { name, .. } => {
            format!("variable reference for '{name}' can not be found")
        }
        ConfigError::BadVariable { name, reason, .. } => {
            format!("variable reference for '{name}' could not be parsed: {reason}")
        }
        other => other.to_string(),
    }
}

/// `YYYY-MM-DDTHH:MM:SSZ` with fields in range (the lexer checked the shape).
fn valid_zulu(text: &str) -> bool {
    let field = |range: std::ops::Range<usize>| text.get(range).and_then(|s| s.parse::<u32>().ok());
    matches!(
        (
            field(5..7),
            field(8..10),
            field(11..13),
            field(14..16),
            field(17..19)
        ),
        (
            Some(1..=12),
            Some(1..=31),
            Some(0..=23),
            Some(0..=59),
            Some(0..=59)
        )
    )
}
