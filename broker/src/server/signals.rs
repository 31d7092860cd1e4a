//! Process signals, as nats-server handles them: SIGINT/SIGTERM stop,
//! SIGHUP reloads the config file, SIGUSR1 reopens the log file, SIGUSR2
//! enters lame-duck mode. Also the sending side, `tern --signal
//! cmd[=pid]`, with nats-server's command names and messages.

use std::path::Path;

use tokio::signal::unix::{signal, SignalKind};

/// What a signal asks the process to do.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SignalAction {
    Shutdown,
    Reload,
    LameDuck,
    ReopenLog,
}

/// Listens for the signals the broker reacts to.
pub struct Signals {
    term: tokio::signal::unix::Signal,
    int: tokio::signal::unix::Signal,
    hup: tokio::signal::unix::Signal,
    usr1: tokio::signal::unix::Signal,
    usr2: tokio::signal::unix::Signal,
}

impl Signals {
    pub fn install() -> std::io::Result<Signals> {
        Ok(Signals {
            term: signal(SignalKind::terminate())?,
            int: signal(SignalKind::interrupt())?,
            hup: signal(SignalKind::hangup())?,
            usr1: signal(SignalKind::user_defined1())?,
            usr2: signal(SignalKind::user_defined2())?,
        })
    }

    pub async fn next(&mut self) -> SignalAction {
        tokio::select! {
            _ = self.term.recv() => SignalAction::Shutdown,
            _ = self.int.recv() => SignalAction::Shutdown,
            _ = self.hup.recv() => SignalAction::Reload,
            _ = self.usr1.recv() => SignalAction::ReopenLog,
            _ = self.usr2.recv() => SignalAction::LameDuck,
        }
    }
}

/// The signal number for a `--signal` command (nats-server's
/// `CommandToSignal`: `stop` is SIGKILL, `quit` SIGINT, `term` SIGTERM).
pub fn command_signal(command: &str) -> Option<i32> {
    Some(match command {
        "stop" => libc::SIGKILL,
        "quit" => libc::SIGINT,
        "reopen" => libc::SIGUSR1,
        "reload" => libc::SIGHUP,
        "ldm" => libc::SIGUSR2,
        "term" => libc::SIGTERM,
        _ => return None,
    })
}

/// `--signal command[=pid]`: send the command's signal to the process named
/// by `pid` — a number, or a pid file that is read when it exists — or,
/// without one, to the only running process of this program's name.
/// Errors carry nats-server's texts.
pub fn send_signal(command: &str, pid: Option<&str>) -> Result<(), String> {
    let signum = command_signal(command).ok_or_else(|| format!("unknown signal {command:?}"))?;
    let pid = match pid {
        Some(spec) => {
            let text = match std::fs::read_to_string(spec) {
                Ok(contents) => contents,
                Err(_) => spec.to_string(),
            };
            let text = text.trim();
            text.parse::<i32>()
                .ok()
                .filter(|p| *p > 0)
                .ok_or_else(|| format!("invalid pid: {text}"))?
        }
        None => only_running_instance()?,
    };
    // SAFETY: kill(2) with a positive pid signals exactly that process.
    if unsafe { libc::kill(pid, signum) } != 0 {
        let err = std::io::Error::last_os_error();
        let text = match err.raw_os_error() {
            Some(libc::ESRCH) => "no such process".to_string(),
            _ => err.to_string(),
        };
        return Err(format!("signal {command:?} {pid}: {text}"));
    }
    Ok(())
}

/// The pid of the one other process running this program (by name, like
/// nats-server's `pgrep nats-server`).
fn only_running_instance() -> Result<i32, String> {
    let name = std::env::current_exe()
        .ok()
        .and_then(|p| p.file_name().map(|n| n.to_string_lossy().into_owned()))
        .unwrap_or_else(|| "tern".to_string());
    let me = std::process::id() as i32;
    let pids = processes_named(&name, Path::new("/proc"))
        .into_iter()
        .filter(|p| *p != me)
        .collect::<Vec<_>>();
    match pids.as_slice() {
        [] => Err(format!("no {name} processes running")),
        [pid] => Ok(*pid),
        many => Err(format!(
            "multiple {name} processes running:{}",
            many.iter().map(|p| format!("\n{p}")).collect::<String>()
        )),
    }
}

/// Pids whose command name (`/proc/<pid>/comm`, at most 15 bytes) is `name`.
fn processes_named(name: &str, proc_dir: &Path) -> Vec<i32> {
    let short: String = name.chars().take(15).collect();
    let Ok(entries) = std::fs::read_dir(proc_dir) else {
        return Vec::new();
    };
    let mut pids: Vec<i32> = entries
        .flatten()
        .filter_map(|e| e.file_name().to_str().and_then(|s| s.parse::<i32>().ok()))
        .filter(|pid| {
            std::fs::read_to_string(proc_dir.join(pid.to_string()).join("comm"))
                .is_ok_and(|comm| comm.trim_end() == short)
        })
        .collect();
    pids.sort_unstable();
    pids
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn commands_map_to_nats_server_signals() {
        assert_eq!(command_signal("stop"), Some(libc::SIGKILL));
        assert_eq!(command_signal("quit"), Some(libc::SIGINT));
        assert_eq!(command_signal("reload"), Some(libc::SIGHUP));
        assert_eq!(command_signal("reopen"), Some(libc::SIGUSR1));
        assert_eq!(command_signal("ldm"), Some(libc::SIGUSR2));
        assert_eq!(command_signal("term"), Some(libc::SIGTERM));
        assert_eq!(command_signal("bogus"), None);
    }

    #[test]
    fn bad_pids_are_reported() {
        assert_eq!(
            send_signal("reload", Some("abc")),
            Err("invalid pid: abc".to_string())
        );
        assert_eq!(
            send_signal("bogus", Some("1")),
            Err("unknown signal \"bogus\"".to_string())
        );
    }

    #[test]
    fn finds_this_test_process_by_name() {
        let comm = std::fs::read_to_string("/proc/self/comm").unwrap_or_default();
        let pids = processes_named(comm.trim_end(), Path::new("/proc"));
        assert!(pids.contains(&(std::process::id() as i32)), "{pids:?}");
    }
}
