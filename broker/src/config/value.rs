//! The syntax-neutral value tree both config syntaxes produce: tables of
//! keyed entries, arrays and scalars, each carrying the file and line it came
//! from so that [`super::apply`] can name `file:line` and the key in every
//! message, whichever syntax the operator wrote.

use std::fmt;
use std::sync::Arc;

/// Where a value was written. For an entry of a table this is the line of its
/// key (nats-server reports problems with a value at its key, which is also
/// what a reader looks for); for an array element, the element's own line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Pos {
    pub file: Arc<str>,
    pub line: u32,
}

impl fmt::Display for Pos {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}", self.file, self.line)
    }
}

#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Kind {
    String(String),
    /// `suffix` keeps the unit the .conf syntax multiplied by (`"m"` in
    /// `2m`, which nats-server reads as two million), so a warning can explain
    /// why `ping_interval: 2m` is not two minutes.
    Integer {
        value: i64,
        suffix: Option<String>,
    },
    Float(f64),
    Bool(bool),
    /// An ISO 8601 Zulu timestamp, kept as written; no key uses one yet.
    Datetime(String),
    Array(Vec<Value>),
    Table(Table),
}

#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Value {
    pub kind: Kind,
    pub pos: Pos,
}

impl Value {
    pub fn new(kind: Kind, pos: Pos) -> Self {
        Value { kind, pos }
    }

    /// A short description of the value for error messages: its type, plus
    /// the value itself for scalars, so `"4222"` and `4222` are told apart.
    pub fn describe(&self) -> String {
        match &self.kind {
            Kind::String(s) => format!("string {s:?}"),
            Kind::Integer { value, .. } => format!("integer {value}"),
            Kind::Float(v) => format!("float {v}"),
            Kind::Bool(v) => format!("boolean {v}"),
            Kind::Datetime(v) => format!("datetime {v}"),
            Kind::Array(_) => "an array".to_string(),
            Kind::Table(_) => "a map".to_string(),
        }
    }
}

/// One `key: value` of a table, in the order written.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Entry {
    /// The key exactly as written (nats-server matches keys case-insensitively
    /// but looks variables up by their exact spelling).
    pub key: String,
    pub value: Value,
    /// Set when a later `$key` referred to this entry. nats-server lets such
    /// entries through its unknown-key check, since they exist to hold a
    /// value for a variable.
    pub used_as_variable: bool,
}

#[derive(Debug, Clone, Default, PartialEq)]
pub(crate) struct Table {
    pub entries: Vec<Entry>,
}

impl Table {
    /// Sets `key`, replacing an earlier entry with exactly the same spelling.
    /// The replacement moves to the end so that file order stays "the last
    /// one written wins" when keys are applied in order.
    pub fn insert(&mut self, entry: Entry) {
        self.entries.retain(|e| e.key != entry.key);
        self.entries.push(entry);
    }

    pub fn get_mut(&mut self, key: &str) -> Option<&mut Entry> {
        self.entries.iter_mut().find(|e| e.key == key)
    }
}
