//! Process signals, as nats-server handles them: SIGINT/SIGTERM stop,
//! SIGHUP reloads the config file, SIGUSR2 enters lame-duck mode.

use tokio::signal::unix::{signal, SignalKind};

/// What a signal asks the process to do.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SignalAction {
    Shutdown,
    Reload,
    LameDuck,
}

/// Listens for the signals the broker reacts to.
pub struct Signals {
    term: tokio::signal::unix::Signal,
    int: tokio::signal::unix::Signal,
    hup: tokio::signal::unix::Signal,
    usr2: tokio::signal::unix::Signal,
}

impl Signals {
    pub fn install() -> std::io::Result<Signals> {
        Ok(Signals {
            term: signal(SignalKind::terminate())?,
            int: signal(SignalKind::interrupt())?,
            hup: signal(SignalKind::hangup())?,
            usr2: signal(SignalKind::user_defined2())?,
        })
    }

    pub async fn next(&mut self) -> SignalAction {
        tokio::select! {
            _ = self.term.recv() => SignalAction::Shutdown,
            _ = self.int.recv() => SignalAction::Shutdown,
            _ = self.hup.recv() => SignalAction::Reload,
            _ = self.usr2.recv() => SignalAction::LameDuck,
        }
    }
}
