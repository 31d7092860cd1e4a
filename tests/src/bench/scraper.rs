//! The monitoring scraper of the `scraped` scenarios: one kept-alive HTTP
//! connection, as Prometheus and other collectors keep theirs, asking for
//! a set of endpoints every interval while the benchmark runs. Only the
//! standard library: the request is fixed, the response is read by its
//! `Content-Length` or its chunks.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::time::Duration;

use anyhow::{anyhow, bail, Context, Result};

pub struct Scraper {
    reader: BufReader<TcpStream>,
    writer: TcpStream,
}

impl Scraper {
    pub fn connect(port: u16) -> Result<Scraper> {
        let sock = TcpStream::connect(("127.0.0.1", port))
            .with_context(|| format!("connect to monitoring port {port}"))?;
        sock.set_read_timeout(Some(Duration::from_secs(10)))?;
        sock.set_nodelay(true)?;
        Ok(Scraper {
            writer: sock.try_clone()?,
            reader: BufReader::new(sock),
        })
    }

    /// GET `path` on the kept-alive connection; returns the body's length.
    pub fn get(&mut self, path: &str) -> Result<usize> {
        write!(
            self.writer,
            "GET {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: keep-alive\r\n\r\n"
        )?;
        let mut line = String::new();
        self.reader.read_line(&mut line)?;
        let status = line.split(' ').nth(1).unwrap_or_default().to_string();
        if status != "200" {
            bail!("GET {path}: status line {line:?}");
        }
        let (mut length, mut chunked) = (None, false);
        loop {
            line.clear();
            if self.reader.read_line(&mut line)? == 0 {
                bail!("GET {path}: connection closed in the headers");
            }
            let header = line.trim_end().to_ascii_lowercase();
            if header.is_empty() {
                break;
            }
            if let Some(v) = header.strip_prefix("content-length:") {
                length = v.trim().parse::<usize>().ok();
            }
            if header.starts_with("transfer-encoding:") && header.contains("chunked") {
                chunked = true;
            }
        }
        if chunked {
            return self.read_chunks();
        }
        let n = length.ok_or_else(|| anyhow!("GET {path}: no Content-Length"))?;
        let mut body = vec![0; n];
        self.reader.read_exact(&mut body)?;
        Ok(n)
    }

    fn read_chunks(&mut self) -> Result<usize> {
        let mut total = 0;
        let mut line = String::new();
        loop {
            line.clear();
            self.reader.read_line(&mut line)?;
            let size = usize::from_str_radix(line.trim(), 16)
                .with_context(|| format!("bad chunk size {line:?}"))?;
            let mut chunk = vec![0; size + 2];
            self.reader.read_exact(&mut chunk)?;
            if size == 0 {
                return Ok(total);
            }
            total += size;
        }
    }
}
