//! Tern's own config syntax, TOML, read into the same [`Table`] the .conf
//! parser produces, so both go through one set of key rules. The `toml`
//! crate's spans give each key its line. TOML has no variables or includes.

use std::sync::Arc;

use toml::de::{DeTable, DeValue};
use toml::Spanned;

use super::error::ConfigError;
use super::value::{Entry, Kind, Pos, Table, Value};

pub(crate) fn parse_str(text: &str, file: &str) -> Result<Table, ConfigError> {
    let lines = LineIndex::new(text);
    let file: Arc<str> = file.into();
    let document = DeTable::parse(text).map_err(|e| {
        let line = e.span().map_or(1, |span| lines.line(span.start));
        ConfigError::Syntax {
            location: format!("{file}:{line}"),
            key: String::new(),
            message: e.message().trim_end().to_string(),
        }
    })?;
    let converter = Converter { lines, file };
    converter.table(document.get_ref(), "")
}

/// Byte offset to 1-based line number.
struct LineIndex {
    newlines: Vec<usize>,
}

impl LineIndex {
    fn new(text: &str) -> Self {
        LineIndex {
            newlines: text.match_indices('\n').map(|(i, _)| i).collect(),
        }
    }

    fn line(&self, offset: usize) -> u32 {
        let before = self.newlines.partition_point(|&nl| nl < offset);
        u32::try_from(before + 1).unwrap_or(u32::MAX)
    }
}

struct Converter {
    lines: LineIndex,
    file: Arc<str>,
}

impl Converter {
    fn pos(&self, offset: usize) -> Pos {
        Pos {
            file: self.file.clone(),
            line: self.lines.line(offset),
        }
    }

    fn table(&self, table: &DeTable<'_>, path: &str) -> Result<Table, ConfigError> {
        // The crate keeps keys sorted; file order is what the operator wrote
        // and what "last one wins" rules are stated in.
        let mut entries: Vec<_> = table.iter().collect();
        entries.sort_by_key(|(key, _)| key.span().start);
        let mut out = Table::default();
        for (key, value) in entries {
            let name = key.get_ref().to_string();
            let child = if path.is_empty() {
                name.clone()
            } else {
                format!("{path}.{name}")
            };
            let mut value = self.value(value, &child)?;
            value.pos = self.pos(key.span().start);
            out.insert(Entry {
                key: name,
                value,
                used_as_variable: false,
            });
        }
        Ok(out)
    }

    fn value(&self, value: &Spanned<DeValue<'_>>, path: &str) -> Result<Value, ConfigError> {
        let pos = self.pos(value.span().start);
        let invalid = |what: &str, text: &str| ConfigError::InvalidValue {
            location: pos.to_string(),
            key: path.to_string(),
            reason: format!("{what} {text} does not fit in a 64-bit signed integer or float"),
        };
        let kind = match value.get_ref() {
            DeValue::String(s) => Kind::String(s.to_string()),
            DeValue::Integer(i) => {
                let digits: String = i.as_str().chars().filter(|c| *c != '_').collect();
                let value = i64::from_str_radix(&digits, i.radix())
                    .map_err(|_| invalid("integer", i.as_str()))?;
                Kind::Integer {
                    value,
                    suffix: None,
                }
            }
            DeValue::Float(f) => {
                let digits: String = f.as_str().chars().filter(|c| *c != '_').collect();
                Kind::Float(digits.parse().map_err(|_| invalid("float", f.as_str()))?)
            }
            DeValue::Boolean(b) => Kind::Bool(*b),
            DeValue::Datetime(d) => Kind::Datetime(d.to_string()),
            DeValue::Array(items) => Kind::Array(
                items
                    .iter()
                    .enumerate()
                    .map(|(i, item)| self.value(item, &format!("{path}[{i}]")))
                    .collect::<Result<_, _>>()?,
            ),
            DeValue::Table(table) => Kind::Table(self.table(table, path)?),
        };
        Ok(Value::new(kind, pos))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn line_of(table: &Table, key: &str) -> u32 {
        table
            .entries
            .iter()
            .find(|e| e.key == key)
            .map(|e| e.value.pos.line)
            .unwrap_or(0)
    }

    #[test]
    fn keys_carry_their_lines_in_file_order() {
        let text = "zeta = 1\n\nalpha = \"x\"\n[block]\ninner = true\n";
        let table = parse_str(text, "t.toml").unwrap();
        let keys: Vec<_> = table.entries.iter().map(|e| e.key.as_str()).collect();
        assert_eq!(keys, ["zeta", "alpha", "block"]);
        assert_eq!(line_of(&table, "zeta"), 1);
        assert_eq!(line_of(&table, "alpha"), 3);
        assert_eq!(line_of(&table, "block"), 4);
        let Kind::Table(block) = &table.entries[2].value.kind else {
            panic!("not a table")
        };
        assert_eq!(line_of(block, "inner"), 5);
    }

    #[test]
    fn scalars_convert() {
        let text =
            "a = 0x10\nb = 1_000\nc = -2.5\nd = false\ne = 1979-05-27T07:32:00Z\nf = [1, \"x\"]\n";
        let table = parse_str(text, "t.toml").unwrap();
        let kinds: Vec<_> = table.entries.iter().map(|e| e.value.kind.clone()).collect();
        assert_eq!(
            kinds[0],
            Kind::Integer {
                value: 16,
                suffix: None
            }
        );
        assert_eq!(
            kinds[1],
            Kind::Integer {
                value: 1000,
                suffix: None
            }
        );
        assert_eq!(kinds[2], Kind::Float(-2.5));
        assert_eq!(kinds[3], Kind::Bool(false));
        assert_eq!(kinds[4], Kind::Datetime("1979-05-27T07:32:00Z".into()));
        assert!(matches!(&kinds[5], Kind::Array(items) if items.len() == 2));
    }

    #[test]
    fn array_of_tables_elements_have_their_header_line() {
        let text = "[[users]]\nuser = \"a\"\n\n[[users]]\nuser = \"b\"\n";
        let table = parse_str(text, "t.toml").unwrap();
        let Kind::Array(users) = &table.entries[0].value.kind else {
            panic!("not an array")
        };
        let lines: Vec<_> = users
            .iter()
            .map(|u| match &u.kind {
                Kind::Table(t) => line_of(t, "user"),
                _ => 0,
            })
            .collect();
        assert_eq!(lines, [2, 5]);
    }

    #[test]
    fn syntax_errors_name_file_and_line() {
        let err = parse_str("port = 4222\nport = 4223\n", "dup.toml").unwrap_err();
        assert_eq!(err.location(), Some("dup.toml:2"), "{err}");
        let err = parse_str("a = 1\nb = \n", "bad.toml").unwrap_err();
        assert_eq!(err.location(), Some("bad.toml:2"), "{err}");
    }
}
