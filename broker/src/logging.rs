//! Log lines in nats-server's shape, through `tracing`:
//! `[pid] 2026/11/29 07:46:29.123456 [INF] Server is ready`.
//!
//! `-D` turns on `[DBG]`, `-V` turns on `[TRC]` (protocol tracing), `-T=false`
//! drops the timestamp, `-l FILE` appends to a file instead of stderr.
//! Fatal start-up errors are logged as `[FTL]` (an error event with target
//! [`FATAL_TARGET`], see [`fatal`]); SIGUSR1 reopens the log file
//! ([`reopen`]) so that log rotation works as with nats-server.

use std::fmt;
use std::fs::OpenOptions;
use std::io;
use std::path::PathBuf;
use std::sync::{Mutex, OnceLock};
use std::time::{SystemTime, UNIX_EPOCH};

use tracing::{Event, Level, Subscriber};
use tracing_subscriber::fmt::format::Writer;
use tracing_subscriber::fmt::{FmtContext, FormatEvent, FormatFields};
use tracing_subscriber::registry::LookupSpan;

use crate::config::LogConfig;

/// Formats events like nats-server's logger.
struct NatsFormat {
    pid: u32,
    time: bool,
}

impl<S, N> FormatEvent<S, N> for NatsFormat
where
    S: Subscriber + for<'a> LookupSpan<'a>,
    N: for<'a> FormatFields<'a> + 'static,
{
    fn format_event(
        &self,
        ctx: &FmtContext<'_, S, N>,
        mut writer: Writer<'_>,
        event: &Event<'_>,
    ) -> fmt::Result {
        write!(writer, "[{}] ", self.pid)?;
        if self.time {
            write_utc_timestamp(&mut writer)?;
            writer.write_char(' ')?;
        }
        let level = match *event.metadata().level() {
            Level::ERROR if event.metadata().target() == FATAL_TARGET => "[FTL]",
            Level::ERROR => "[ERR]",
            Level::WARN => "[WRN]",
            Level::INFO => "[INF]",
            Level::DEBUG => "[DBG]",
            Level::TRACE => "[TRC]",
        };
        write!(writer, "{level} ")?;
        ctx.field_format().format_fields(writer.by_ref(), event)?;
        writeln!(writer)
    }
}

fn write_utc_timestamp(w: &mut Writer<'_>) -> fmt::Result {
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap_or_default();
    let secs = now.as_secs();
    let (y, m, d) = civil_from_days((secs / 86_400) as i64);
    let rem = secs % 86_400;
    write!(
        w,
        "{y:04}/{m:02}/{d:02} {:02}:{:02}:{:02}.{:06}",
        rem / 3600,
        (rem / 60) % 60,
        rem % 60,
        now.subsec_micros()
    )
}

/// Days since 1970-01-01 to a (year, month, day) in the proleptic Gregorian
/// calendar (Howard Hinnant's algorithm).
pub(crate) fn civil_from_days(z: i64) -> (i64, u32, u32) {
    let z = z + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let y = yoe + era * 400;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let m = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    (if m <= 2 { y + 1 } else { y }, m, d)
}

/// Target of error events that end the process; printed as `[FTL]`.
pub const FATAL_TARGET: &str = "tern::fatal";

/// Log a fatal error as nats-server does (`[FTL] ...`). The caller exits.
pub fn fatal(message: &str) {
    tracing::error!(target: "tern::fatal", "{message}");
}

/// The log file, when logging goes to one; reopened on SIGUSR1.
struct LogFile {
    path: PathBuf,
    file: Mutex<std::fs::File>,
}

static LOG_FILE: OnceLock<LogFile> = OnceLock::new();

fn open_append(path: &PathBuf) -> io::Result<std::fs::File> {
    OpenOptions::new().create(true).append(true).open(path)
}

/// Reopen the log file (after a rotation moved it away). Without a log
/// file there is nothing to do.
pub fn reopen() -> io::Result<()> {
    if let Some(log) = LOG_FILE.get() {
        let file = open_append(&log.path)?;
        *log.file.lock().unwrap_or_else(|e| e.into_inner()) = file;
    }
    Ok(())
}

/// Writes one log line to the current log file.
struct LogFileWriter;

impl io::Write for LogFileWriter {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        match LOG_FILE.get() {
            Some(log) => log
                .file
                .lock()
                .unwrap_or_else(|e| e.into_inner())
                .write(buf),
            None => io::stderr().write(buf),
        }
    }

    fn flush(&mut self) -> io::Result<()> {
        match LOG_FILE.get() {
            Some(log) => log.file.lock().unwrap_or_else(|e| e.into_inner()).flush(),
            None => io::stderr().flush(),
        }
    }
}

/// Install the global subscriber. Errors only when the log file cannot be
/// opened.
pub fn init(cfg: &LogConfig) -> io::Result<()> {
    let level = if cfg.trace {
        Level::TRACE
    } else if cfg.debug {
        Level::DEBUG
    } else {
        Level::INFO
    };
    let format = NatsFormat {
        pid: std::process::id(),
        time: cfg.time,
    };
    let builder = tracing_subscriber::fmt()
        .with_max_level(level)
        .with_ansi(false)
        .event_format(format);
    let result = match &cfg.file {
        Some(path) => {
            let file = open_append(path)?;
            let _ = LOG_FILE.set(LogFile {
                path: path.clone(),
                file: Mutex::new(file),
            });
            builder.with_writer(|| LogFileWriter).try_init()
        }
        None => builder.with_writer(io::stderr).try_init(),
    };
    // Already installed (tests embedding several servers): keep the first.
    let _ = result;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::civil_from_days;

    #[test]
    fn dates() {
        assert_eq!(civil_from_days(0), (1970, 1, 1));
        assert_eq!(civil_from_days(20_786), (2026, 11, 29));
        assert_eq!(civil_from_days(11_016), (2000, 2, 29));
    }
}
