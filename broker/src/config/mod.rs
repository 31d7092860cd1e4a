//! Configuration: the one [`Config`] struct and its loaders — Tern's TOML,
//! nats-server's `.conf` syntax, and nats-server's command-line flags.
//!
//! Both file syntaxes are parsed into one value tree with line numbers
//! (`value`), then applied key by key with nats-server's names and rules
//! (`apply`, `apply_auth`), so a nats-server config and its TOML twin give
//! the same [`Config`] and the same messages. nats-server features Tern lacks
//! are accepted and listed in [`Config::unsupported`]; the server refuses to
//! start with them, naming each. Errors name `file:line` and the key.
//!
//! | file            | owns                                                   |
//! |-----------------|--------------------------------------------------------|
//! | `model`         | [`Config`] and its parts, with nats-server's defaults  |
//! | `error`         | [`ConfigError`]                                        |
//! | `value`         | the syntax-neutral value tree                          |
//! | `conf_lexer`    | tokens of nats-server's config syntax                  |
//! | `conf_syntax`   | .conf tokens → value tree; variables and includes      |
//! | `toml_syntax`   | TOML → value tree                                      |
//! | `units`         | sizes, Go durations, Go-style flag numbers             |
//! | `apply`         | value tree → [`Config`]: top-level keys                |
//! | `apply_auth`    | the `authorization` block                              |
//! | `apply_accounts`| `accounts` (users, exports, imports), `system_account` |
//! | `apply_plugins` | the `plugins` list and `plugin_cache_dir`              |
//! | `apply_websocket` | the `websocket` block                                |
//! | `unsupported`   | keys of nats-server features Tern lacks                |
//! | `flags`         | the command line                                       |
//! | `usage`         | the `-h` text                                          |

mod apply;
mod apply_accounts;
mod apply_auth;
mod apply_jetstream;
mod apply_leafnodes;
mod apply_mappings;
mod apply_plugins;
mod apply_tls;
mod apply_websocket;
mod conf_lexer;
mod conf_syntax;
mod error;
mod flags;
mod model;
mod model_tls;
mod toml_syntax;
mod units;
mod unsupported;
mod usage;
mod value;

use std::path::Path;

pub use error::ConfigError;
pub use flags::{COMMAND_LINE, SIGNAL_COMMANDS};
pub use model::*;
pub use model_tls::*;
pub(crate) use units::{format_go_duration, parse_go_duration};
pub use usage::usage;

use apply::Dialect;

/// What the command line asked the binary to do.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Action {
    /// Run the broker.
    Run,
    /// `-t`: check the configuration and exit. (nats-server also fails the
    /// check when there are [`Config::warnings`].)
    CheckConfig,
    /// `-v` / `--version` / `version`.
    Version,
    /// `-h` / `--help` / `help` / `--help_tls`: the text to print.
    Help(String),
    /// `--signal cmd[=pid]`: send `cmd` (stop, quit, reopen, reload, ldm,
    /// term) to a running server. `pid` is a pid or a pid file; `None`
    /// means "the one server of this name that is running".
    Signal {
        command: String,
        pid: Option<String>,
    },
}

/// The result of reading the command line (and the config file it names).
#[derive(Debug, Clone)]
pub struct Startup {
    pub config: Config,
    pub action: Action,
}

/// Reads the environment for `$VAR` references.
fn process_env(name: &str) -> Option<String> {
    std::env::var_os(name).map(|v| v.to_string_lossy().into_owned())
}

/// Parses nats-server-style flags (without the program name), loads the
/// config file named by `-c`, and applies the flags over it.
pub fn from_args<I: IntoIterator<Item = String>>(args: I) -> Result<Startup, ConfigError> {
    from_args_with_env(args, &process_env)
}

/// [`from_args`] with `$VAR` references resolved by `env` instead of the
/// process environment.
pub fn from_args_with_env<I: IntoIterator<Item = String>>(
    args: I,
    env: &dyn Fn(&str) -> Option<String>,
) -> Result<Startup, ConfigError> {
    let line = flags::CommandLine::parse(args)?;
    if let Some(action) = line.early_action()? {
        return Ok(Startup {
            config: Config::default(),
            action,
        });
    }
    let mut config = match line.config_file() {
        Some(path) => load_file_with_env(&path, env)?,
        None if line.check_config() => return Err(ConfigError::CheckWithoutConfig),
        None => Config::default(),
    };
    line.apply(&mut config)?;
    let action = if line.check_config() {
        Action::CheckConfig
    } else {
        Action::Run
    };
    Ok(Startup { config, action })
}

/// Loads a config file: `.toml` (any case) as TOML, anything else in
/// nats-server's syntax.
pub fn load_file(path: &Path) -> Result<Config, ConfigError> {
    load_file_with_env(path, &process_env)
}

/// [`load_file`] with `$VAR` references resolved by `env`.
pub fn load_file_with_env(
    path: &Path,
    env: &dyn Fn(&str) -> Option<String>,
) -> Result<Config, ConfigError> {
    let text = std::fs::read_to_string(path).map_err(|source| ConfigError::Io {
        path: path.to_path_buf(),
        source,
    })?;
    let name = path.display().to_string();
    let is_toml = path
        .extension()
        .is_some_and(|ext| ext.eq_ignore_ascii_case("toml"));
    let mut config = if is_toml {
        parse_toml_str(&text, &name)?
    } else {
        parse_conf_str_with_env(&text, &name, env)?
    };
    config.config_file = Some(path.to_path_buf());
    Ok(config)
}

/// Parses nats-server config text. `origin_name` names it in messages and
/// is the base for `include` paths.
pub fn parse_conf_str(text: &str, origin_name: &str) -> Result<Config, ConfigError> {
    parse_conf_str_with_env(text, origin_name, &process_env)
}

/// [`parse_conf_str`] with `$VAR` references resolved by `env`.
pub fn parse_conf_str_with_env(
    text: &str,
    origin_name: &str,
    env: &dyn Fn(&str) -> Option<String>,
) -> Result<Config, ConfigError> {
    let table = conf_syntax::parse_str(text, origin_name, env)?;
    build(&table, Dialect::Conf, origin_name)
}

/// Parses Tern's TOML config text.
pub fn parse_toml_str(text: &str, origin_name: &str) -> Result<Config, ConfigError> {
    let table = toml_syntax::parse_str(text, origin_name)?;
    build(&table, Dialect::Toml, origin_name)
}

fn build(table: &value::Table, dialect: Dialect, origin_name: &str) -> Result<Config, ConfigError> {
    let mut config = Config::default();
    if table.entries.is_empty() {
        config.warnings.push(ConfigWarning {
            origin: Origin {
                location: origin_name.to_string(),
                key: String::new(),
            },
            message: "config has no values or is empty".to_string(),
        });
    }
    apply::apply(table, dialect, &mut config)?;
    Ok(config)
}

#[cfg(test)]
mod tests;
