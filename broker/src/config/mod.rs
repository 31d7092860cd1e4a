//! Configuration: the one [`Config`] struct and its loaders — Tern's TOML,
//! nats-server's `.conf` syntax, and nats-server's command-line flags.

mod model;

pub use model::*;

/// What the command line asked the binary to do.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Action {
    /// Run the broker.
    Run,
    /// `-t`: check the configuration and exit.
    CheckConfig,
    /// `-v` / `--version`.
    Version,
    /// `-h` / `--help`: the text to print.
    Help(String),
}

/// The result of reading the command line (and the config file it names).
#[derive(Debug, Clone)]
pub struct Startup {
    pub config: Config,
    pub action: Action,
}

#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("{0}")]
    Invalid(String),
}

/// Parse nats-server-style flags (without the program name).
pub fn from_args<I: IntoIterator<Item = String>>(args: I) -> Result<Startup, ConfigError> {
    let mut config = Config::default();
    let mut it = args.into_iter();
    while let Some(a) = it.next() {
        match a.as_str() {
            "-p" | "--port" => {
                config.port = it
                    .next()
                    .and_then(|v| v.parse().ok())
                    .ok_or_else(|| ConfigError::Invalid("bad -p".into()))?
            }
            "-a" | "--addr" => config.host = it.next().unwrap_or_default(),
            _ => {}
        }
    }
    Ok(Startup {
        config,
        action: Action::Run,
    })
}
