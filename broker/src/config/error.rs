//! [`ConfigError`]: everything that can go wrong reading a config file or the
//! command line. File errors carry `location` (`file:line`) and `key` (the
//! dotted path as written); command-line errors use Go's `flag` package
//! wording, which is what nats-server users already know.

use std::path::PathBuf;

#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("error opening config file {}: {source}", path.display())]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },

    /// The text is not valid .conf or TOML syntax. `key` is the key being
    /// read when the problem was found, empty when there was none. Says
    /// "Parse error" as nats-server does: launchers look for it.
    #[error("{location}: Parse error: {}{message}", key_prefix(key))]
    Syntax {
        location: String,
        key: String,
        message: String,
    },

    /// `$name` matched no earlier key in scope and no environment variable.
    #[error(
        "{location}: {}variable reference for '{name}' can not be found",
        key_prefix(key)
    )]
    UndefinedVariable {
        location: String,
        key: String,
        name: String,
    },

    /// `$name` came from the environment but its value does not parse, or
    /// refers back to itself.
    #[error(
        "{location}: {}variable reference for '{name}' could not be parsed: {reason}",
        key_prefix(key)
    )]
    BadVariable {
        location: String,
        key: String,
        name: String,
        reason: String,
    },

    #[error("{location}: error parsing include file '{include}': {source}")]
    Include {
        location: String,
        include: String,
        #[source]
        source: Box<ConfigError>,
    },

    /// A key nats-server does not know either.
    #[error("{location}: unknown field \"{key}\"")]
    UnknownKey { location: String, key: String },

    #[error("{location}: {key}: expected {expected}, got {found}")]
    WrongType {
        location: String,
        key: String,
        expected: &'static str,
        found: String,
    },

    /// The type is right but the value is not (out of range, malformed
    /// duration, conflicting settings, ...).
    #[error("{location}: {key}: {reason}")]
    InvalidValue {
        location: String,
        key: String,
        reason: String,
    },

    /// nats-server reports every problem in a file at once; so do we.
    #[error("{}", join_lines(.0))]
    Multiple(Vec<ConfigError>),

    #[error("flag provided but not defined: -{0}")]
    UnknownFlag(String),

    #[error("bad flag syntax: {0}")]
    BadFlagSyntax(String),

    #[error("flag needs an argument: -{0}")]
    MissingFlagValue(String),

    #[error("invalid value {value:?} for flag -{flag}: {reason}")]
    InvalidFlagValue {
        flag: String,
        value: String,
        reason: String,
    },

    #[error("invalid boolean value {value:?} for -{flag}: parse error")]
    InvalidBoolFlag { flag: String, value: String },

    /// `--signal` with an unknown command or extra `=` parts.
    #[error("{0}")]
    InvalidSignal(String),

    /// A word after the flags other than `version` or `help`.
    #[error("unrecognized command: {0:?}")]
    UnrecognizedCommand(String),

    #[error("must specify [-c, --config] option to check configuration file syntax")]
    CheckWithoutConfig,
}

impl ConfigError {
    /// `file:line` for errors in a file, `command line` for flag errors that
    /// relate to a setting, `None` otherwise.
    pub fn location(&self) -> Option<&str> {
        match self {
            ConfigError::Syntax { location, .. }
            | ConfigError::UndefinedVariable { location, .. }
            | ConfigError::BadVariable { location, .. }
            | ConfigError::Include { location, .. }
            | ConfigError::UnknownKey { location, .. }
            | ConfigError::WrongType { location, .. }
            | ConfigError::InvalidValue { location, .. } => Some(location),
            ConfigError::Multiple(all) => all.first().and_then(ConfigError::location),
            _ => None,
        }
    }

    /// The key (dotted path as written) or flag the error is about.
    pub fn key(&self) -> Option<&str> {
        match self {
            ConfigError::Syntax { key, .. }
            | ConfigError::UndefinedVariable { key, .. }
            | ConfigError::BadVariable { key, .. }
            | ConfigError::UnknownKey { key, .. }
            | ConfigError::WrongType { key, .. }
            | ConfigError::InvalidValue { key, .. } => Some(key),
            ConfigError::Include { source, .. } => source.key(),
            ConfigError::Multiple(all) => all.first().and_then(ConfigError::key),
            ConfigError::UnknownFlag(flag)
            | ConfigError::MissingFlagValue(flag)
            | ConfigError::InvalidFlagValue { flag, .. }
            | ConfigError::InvalidBoolFlag { flag, .. } => Some(flag),
            _ => None,
        }
    }

    /// One error as is, several as [`ConfigError::Multiple`], none as `Ok`.
    pub(crate) fn collect(mut errors: Vec<ConfigError>) -> Result<(), ConfigError> {
        match errors.len() {
            0 => Ok(()),
            1 => Err(errors.remove(0)),
            _ => Err(ConfigError::Multiple(errors)),
        }
    }
}

fn key_prefix(key: &str) -> String {
    if key.is_empty() {
        String::new()
    } else {
        format!("{key}: ")
    }
}

fn join_lines(errors: &[ConfigError]) -> String {
    errors
        .iter()
        .map(ToString::to_string)
        .collect::<Vec<_>>()
        .join("\n")
}
