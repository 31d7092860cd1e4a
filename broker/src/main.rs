//! The `tern` binary: nats-server's command line in front of [`tern::server::Server`].

use std::process::ExitCode;

use tern::config::{self, Action, Config};
use tern::server::signals::{SignalAction, Signals};
use tern::server::Server;

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let startup = match config::from_args(args.clone()) {
        Ok(s) => s,
        Err(e) => {
            eprintln!("tern: {e}");
            return ExitCode::from(1);
        }
    };
    let config = startup.config;
    match startup.action {
        Action::Version => {
            println!(
                "tern: v{} (NATS protocol {})",
                tern::VERSION,
                tern::protocol::info::NATS_COMPAT_VERSION
            );
            ExitCode::SUCCESS
        }
        Action::Help(text) => {
            println!("{text}");
            ExitCode::SUCCESS
        }
        Action::CheckConfig => check_config(&config),
        Action::Signal { command, pid } => {
            match tern::server::signals::send_signal(&command, pid.as_deref()) {
                Ok(()) => ExitCode::SUCCESS,
                Err(e) => {
                    eprintln!("tern: {e}");
                    ExitCode::from(1)
                }
            }
        }
        Action::Run => run(config, args),
    }
}

/// `-t`: report what the configuration holds and whether Tern can run it.
fn check_config(config: &Config) -> ExitCode {
    let name = config
        .config_file
        .as_ref()
        .map(|p| p.display().to_string())
        .unwrap_or_else(|| "command line".into());
    for w in &config.warnings {
        eprintln!("tern: warning: {w}");
    }
    // Load (compile) every plugin, as a start would, without writing the
    // compile cache: a check must not leave files behind.
    match tern::plugin::Plugins::load(&config.plugins, None) {
        Ok(plugins) => {
            for p in plugins.summaries() {
                println!("tern: plugin {} ({}) loads", p.name, p.hook);
            }
        }
        Err(e) => {
            eprintln!("tern: {e}");
            return ExitCode::from(1);
        }
    }
    if config.unsupported.is_empty() && config.warnings.is_empty() {
        println!("tern: configuration file {name} test is successful");
        ExitCode::SUCCESS
    } else if config.unsupported.is_empty() {
        // nats-server's -t treats warnings as failures too.
        eprintln!("tern: configuration file {name} has warnings");
        ExitCode::from(1)
    } else {
        for u in &config.unsupported {
            eprintln!("tern: not supported yet: {u}");
        }
        eprintln!(
            "tern: configuration file {name} parses, but uses features Tern does not support yet"
        );
        ExitCode::from(1)
    }
}

fn run(config: Config, args: Vec<String>) -> ExitCode {
    if let Err(e) = tern::logging::init(&config.log) {
        eprintln!("tern: cannot open log file: {e}");
        return ExitCode::from(1);
    }
    for w in &config.warnings {
        tracing::warn!("{w}");
    }
    if !config.unsupported.is_empty() {
        for u in &config.unsupported {
            tracing::error!("not supported yet: {u}");
            eprintln!("tern: not supported yet: {u}");
        }
        return ExitCode::from(1);
    }
    // Two workers match the edge boxes Tern targets; more cores are used
    // when present.
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .worker_threads(
            std::thread::available_parallelism()
                .map_or(2, |n| n.get())
                .min(8),
        )
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("tern: cannot start runtime: {e}");
            return ExitCode::from(1);
        }
    };
    runtime.block_on(serve(config, args))
}

/// Run until a signal stops the server. `args` are kept so a reload reads
/// the file again and re-applies the same flags on top, as nats-server does.
async fn serve(config: Config, args: Vec<String>) -> ExitCode {
    tracing::info!("Starting tern v{}", tern::VERSION);
    let config_file = config.config_file.clone();
    let mut signals = match Signals::install() {
        Ok(s) => s,
        Err(e) => {
            tern::logging::fatal(&format!("cannot install signal handlers: {e}"));
            return ExitCode::from(1);
        }
    };
    let server = match Server::start(config).await {
        Ok(s) => s,
        Err(e) => {
            // nats-server logs a fatal start-up error as [FTL] and exits 1.
            tern::logging::fatal(&e.to_string());
            return ExitCode::from(1);
        }
    };
    loop {
        match signals.next().await {
            SignalAction::Shutdown => {
                tracing::info!("Trapped signal; shutting down");
                server.shutdown().await;
                return ExitCode::SUCCESS;
            }
            SignalAction::ReopenLog => {
                tracing::info!("Trapped \"user defined signal 1\" signal");
                match tern::logging::reopen() {
                    Ok(()) => tracing::info!("File log re-opened"),
                    Err(e) => tracing::error!("Could not re-open log file: {e}"),
                }
            }
            SignalAction::LameDuck => {
                server.lame_duck().await;
                return ExitCode::SUCCESS;
            }
            SignalAction::Reload => match &config_file {
                Some(_) => match config::from_args(args.clone()) {
                    Ok(startup) => {
                        let new = startup.config;
                        if let Err(e) = server.reload(new) {
                            tracing::error!("Reload failed: {e}");
                        }
                    }
                    Err(e) => tracing::error!("Reload failed: {e}"),
                },
                None => tracing::warn!(
                    "Reload requested but the server was not started with a config file"
                ),
            },
        }
    }
}
