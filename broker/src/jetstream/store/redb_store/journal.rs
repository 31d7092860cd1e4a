//! The journal: what makes an acknowledged write survive `kill -9` without
//! an fsync per group.
//!
//! Every group the writer applies (into a redb transaction committed later
//! without fsync, see `open_txn.rs`) is appended here with one `write`
//! before anyone hears `Ok` — the data is then in the kernel's page cache,
//! which outlives the process. Every `sync_interval` (and when the
//! journal grows past [`MAX_JOURNAL_BYTES`], and at close) the writer makes
//! a durable redb commit that records the last group id it contains, then
//! empties the journal. On open, groups newer than that id are applied
//! again: every [`Op`] is deterministic given the state it meets (times are
//! in the records), so replay rebuilds exactly what was acknowledged.
//!
//! Record: `len u32 | crc32 u32 | body`, body = `group id u64 | op count
//! u32 | ops`. A record cut short or failing its checksum ends the journal
//! (a power cut mid-write); everything before it is used.

use std::fs::{File, OpenOptions};
use std::io::{Read, Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};
use std::time::Duration;

use bytes::Bytes;

use super::super::error::StoreError;
use super::super::types::{
    AppendOptions, DiscardPolicy, ExpectedSubjectSeq, NewMessage, PurgeRequest, Rollup, StoreLimits,
};
use super::super::view::StoreResult;
use super::io_err;
use super::writer::Op;

/// The journal file next to `stream.redb`.
pub(super) const FILE_NAME: &str = "journal.log";
/// Past this size the writer checkpoints (durable commit) and empties it.
pub(super) const MAX_JOURNAL_BYTES: u64 = 64 << 20;

/// One journaled write group: its id and its ops.
pub(super) type Group = (u64, Vec<Op>);

pub(super) struct Journal {
    path: PathBuf,
    file: File,
    len: u64,
    buf: Vec<u8>,
}

impl Journal {
    /// Opens (creating) the journal in `dir` and returns the groups it holds
    /// (id and ops) in order. A damaged tail is cut off.
    pub(super) fn open(dir: &Path) -> StoreResult<(Journal, Vec<Group>)> {
        let path = dir.join(FILE_NAME);
        let mut file = OpenOptions::new()
            .read(true)
            .write(true)
            .create(true)
            .truncate(false)
            .open(&path)
            .map_err(|e| io_err(&path, e))?;
        let mut data = Vec::new();
        file.read_to_end(&mut data).map_err(|e| io_err(&path, e))?;
        let mut groups = Vec::new();
        let mut pos = 0usize;
        while let Some((group, next)) = read_record(&data, pos) {
            groups.push(group);
            pos = next;
        }
        if pos < data.len() {
            tracing::warn!(
                path = %path.display(),
                "journal has {} unreadable bytes at its end (cut short by a crash); they are dropped",
                data.len() - pos
            );
            file.set_len(pos as u64).map_err(|e| io_err(&path, e))?;
        }
        file.seek(SeekFrom::Start(pos as u64))
            .map_err(|e| io_err(&path, e))?;
        Ok((
            Journal {
                path,
                file,
                len: pos as u64,
                buf: Vec::new(),
            },
            groups,
        ))
    }

    pub(super) fn len(&self) -> u64 {
        self.len
    }

    /// Appends group `id` with one write.
    pub(super) fn append<'a>(
        &mut self,
        id: u64,
        ops: impl Iterator<Item = &'a Op>,
    ) -> StoreResult<()> {
        let buf = &mut self.buf;
        buf.clear();
        buf.extend_from_slice(&[0; 8]);
        buf.extend_from_slice(&id.to_le_bytes());
        let count_at = buf.len();
        buf.extend_from_slice(&[0; 4]);
        let mut count = 0u32;
        for op in ops {
            if encode_op(buf, op) {
                count += 1;
            }
        }
        buf[count_at..count_at + 4].copy_from_slice(&count.to_le_bytes());
        let body_len = u32::try_from(buf.len() - 8).map_err(|_| StoreError::Inconsistent {
            reason: "journal record over 4 GiB".into(),
        })?;
        let crc = crc32(&buf[8..]);
        buf[0..4].copy_from_slice(&body_len.to_le_bytes());
        buf[4..8].copy_from_slice(&crc.to_le_bytes());
        self.file
            .write_all(buf)
            .map_err(|e| io_err(&self.path, e))?;
        self.len += buf.len() as u64;
        if buf.capacity() > 4 << 20 {
            *buf = Vec::new();
        }
        Ok(())
    }

    /// Empties the journal (after a durable commit made it redundant).
    pub(super) fn reset(&mut self) -> StoreResult<()> {
        self.file.set_len(0).map_err(|e| io_err(&self.path, e))?;
        self.file
            .seek(SeekFrom::Start(0))
            .map_err(|e| io_err(&self.path, e))?;
        self.len = 0;
        Ok(())
    }
}

fn put_bytes(buf: &mut Vec<u8>, b: &[u8]) {
    buf.extend_from_slice(&(b.len() as u32).to_le_bytes());
    buf.extend_from_slice(b);
}

fn put_opt(buf: &mut Vec<u8>, v: Option<u64>) {
    match v {
        Some(v) => {
            buf.push(1);
            buf.extend_from_slice(&v.to_le_bytes());
        }
        None => buf.push(0),
    }
}

/// Encodes one op; false for ops that change nothing on disk (close).
fn encode_op(buf: &mut Vec<u8>, op: &Op) -> bool {
    match op {
        Op::Append(m, o) => {
            buf.push(1);
            buf.extend_from_slice(&m.timestamp.to_le_bytes());
            put_bytes(buf, &m.subject);
            put_bytes(buf, &m.headers);
            put_bytes(buf, &m.payload);
            put_opt(buf, o.expected_last_seq);
            match &o.expected_last_subject_seq {
                Some(e) => {
                    buf.push(1);
                    buf.extend_from_slice(&e.seq.to_le_bytes());
                    match &e.subject {
                        Some(s) => {
                            buf.push(1);
                            put_bytes(buf, s);
                        }
                        None => buf.push(0),
                    }
                }
                None => buf.push(0),
            }
            buf.push(match o.rollup {
                None => 0,
                Some(Rollup::Subject) => 1,
                Some(Rollup::All) => 2,
            });
        }
        Op::Remove(seq) => {
            buf.push(2);
            buf.extend_from_slice(&seq.to_le_bytes());
        }
        Op::Purge(p) => {
            buf.push(3);
            match &p.filter {
                Some(f) => {
                    buf.push(1);
                    put_bytes(buf, f);
                }
                None => buf.push(0),
            }
            put_opt(buf, p.up_to_seq);
            put_opt(buf, p.keep);
        }
        Op::Compact(seq) => {
            buf.push(4);
            buf.extend_from_slice(&seq.to_le_bytes());
        }
        Op::Expire(now) => {
            buf.push(5);
            buf.extend_from_slice(&now.to_le_bytes());
        }
        Op::SetLimits(l) => {
            buf.push(6);
            put_opt(buf, l.max_msgs);
            put_opt(buf, l.max_bytes);
            put_opt(
                buf,
                l.max_age
                    .map(|d| u64::try_from(d.as_nanos()).unwrap_or(u64::MAX)),
            );
            put_opt(buf, l.max_msgs_per_subject);
            buf.push(u8::from(l.discard == DiscardPolicy::New));
            buf.push(u8::from(l.discard_new_per_subject));
        }
        Op::SaveConsumer(name, state) => {
            buf.push(7);
            put_bytes(buf, name.as_bytes());
            put_bytes(buf, state);
        }
        Op::DeleteConsumer(name) => {
            buf.push(8);
            put_bytes(buf, name.as_bytes());
        }
        Op::SkipTo(seq) => {
            buf.push(9);
            buf.extend_from_slice(&seq.to_le_bytes());
        }
        Op::Close => return false,
    }
    true
}

/// A bounds-checked cursor over one record body.
struct Cursor<'a> {
    data: &'a [u8],
    pos: usize,
}

impl<'a> Cursor<'a> {
    fn take(&mut self, n: usize) -> Option<&'a [u8]> {
        let end = self.pos.checked_add(n).filter(|e| *e <= self.data.len())?;
        let out = &self.data[self.pos..end];
        self.pos = end;
        Some(out)
    }
    fn u8(&mut self) -> Option<u8> {
        self.take(1).map(|b| b[0])
    }
    fn u32(&mut self) -> Option<u32> {
        self.take(4)
            .and_then(|b| b.try_into().ok())
            .map(u32::from_le_bytes)
    }
    fn u64(&mut self) -> Option<u64> {
        self.take(8)
            .and_then(|b| b.try_into().ok())
            .map(u64::from_le_bytes)
    }
    fn bytes(&mut self) -> Option<Bytes> {
        let n = self.u32()? as usize;
        self.take(n).map(Bytes::copy_from_slice)
    }
    fn opt(&mut self) -> Option<Option<u64>> {
        match self.u8()? {
            0 => Some(None),
            1 => self.u64().map(Some),
            _ => None,
        }
    }
    fn string(&mut self) -> Option<String> {
        String::from_utf8(self.bytes()?.to_vec()).ok()
    }
}

fn decode_op(c: &mut Cursor<'_>) -> Option<Op> {
    Some(match c.u8()? {
        1 => {
            let timestamp = c.u64()? as i64;
            let msg = NewMessage {
                subject: c.bytes()?,
                headers: c.bytes()?,
                payload: c.bytes()?,
                timestamp,
            };
            let expected_last_seq = c.opt()?;
            let expected_last_subject_seq = match c.u8()? {
                0 => None,
                1 => {
                    let seq = c.u64()?;
                    let subject = match c.u8()? {
                        0 => None,
                        1 => Some(c.bytes()?),
                        _ => return None,
                    };
                    Some(ExpectedSubjectSeq { seq, subject })
                }
                _ => return None,
            };
            let rollup = match c.u8()? {
                0 => None,
                1 => Some(Rollup::Subject),
                2 => Some(Rollup::All),
                _ => return None,
            };
            Op::Append(
                msg,
                AppendOptions {
                    expected_last_seq,
                    expected_last_subject_seq,
                    rollup,
                },
            )
        }
        2 => Op::Remove(c.u64()?),
        3 => {
            let filter = match c.u8()? {
                0 => None,
                1 => Some(c.bytes()?),
                _ => return None,
            };
            Op::Purge(PurgeRequest {
                filter,
                up_to_seq: c.opt()?,
                keep: c.opt()?,
            })
        }
        4 => Op::Compact(c.u64()?),
        5 => Op::Expire(c.u64()? as i64),
        6 => Op::SetLimits(StoreLimits {
            max_msgs: c.opt()?,
            max_bytes: c.opt()?,
            max_age: c.opt()?.map(Duration::from_nanos),
            max_msgs_per_subject: c.opt()?,
            discard: if c.u8()? == 1 {
                DiscardPolicy::New
            } else {
                DiscardPolicy::Old
            },
            discard_new_per_subject: c.u8()? == 1,
        }),
        7 => Op::SaveConsumer(c.string()?, c.bytes()?.to_vec()),
        8 => Op::DeleteConsumer(c.string()?),
        9 => Op::SkipTo(c.u64()?),
        _ => return None,
    })
}

/// The group starting at `pos` and where the next one starts; `None` at
/// the end or at a damaged record.
fn read_record(data: &[u8], pos: usize) -> Option<(Group, usize)> {
    let mut head = Cursor { data, pos };
    let len = head.u32()? as usize;
    let crc = head.u32()?;
    let body = head.take(len)?;
    if crc32(body) != crc {
        return None;
    }
    let mut c = Cursor { data: body, pos: 0 };
    let id = c.u64()?;
    let count = c.u32()?;
    let mut ops = Vec::new();
    for _ in 0..count {
        ops.push(decode_op(&mut c)?);
    }
    if c.pos != body.len() {
        return None;
    }
    Some(((id, ops), head.pos))
}

/// CRC-32 (IEEE), bitwise-table version: fast enough for a journal that is
/// read only at start-up and written in whole groups.
/// CRC-32 (IEEE), as zlib and nats-server's file store use.
fn crc32(data: &[u8]) -> u32 {
    crc32fast::hash(data)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ops() -> Vec<Op> {
        vec![
            Op::Append(
                NewMessage {
                    subject: Bytes::from_static(b"a.b"),
                    headers: Bytes::from_static(b"NATS/1.0\r\nX: 1\r\n\r\n"),
                    payload: Bytes::from_static(b"hello"),
                    timestamp: 42,
                },
                AppendOptions {
                    expected_last_seq: Some(3),
                    expected_last_subject_seq: Some(ExpectedSubjectSeq {
                        seq: 2,
                        subject: Some(Bytes::from_static(b"a.*")),
                    }),
                    rollup: Some(Rollup::Subject),
                },
            ),
            Op::Remove(7),
            Op::Purge(PurgeRequest {
                filter: Some(Bytes::from_static(b"x")),
                up_to_seq: None,
                keep: Some(2),
            }),
            Op::Compact(9),
            Op::Expire(-5),
            Op::SetLimits(StoreLimits {
                max_msgs: Some(10),
                max_age: Some(Duration::from_secs(3)),
                discard: DiscardPolicy::New,
                discard_new_per_subject: true,
                ..Default::default()
            }),
            Op::SaveConsumer("c".into(), vec![1, 2, 3]),
            Op::DeleteConsumer("d".into()),
            Op::SkipTo(12),
        ]
    }

    fn same(a: &Op, b: &Op) -> bool {
        let mut x = Vec::new();
        let mut y = Vec::new();
        encode_op(&mut x, a);
        encode_op(&mut y, b);
        x == y
    }

    #[test]
    fn groups_round_trip_and_a_torn_tail_is_cut() {
        let dir = tempfile::tempdir().expect("temp dir");
        let written = ops();
        {
            let (mut j, groups) = Journal::open(dir.path()).expect("open");
            assert!(groups.is_empty());
            j.append(1, written.iter()).expect("append");
            j.append(2, written[1..3].iter()).expect("append");
        }
        // A power cut in the middle of a third record.
        let path = dir.path().join(FILE_NAME);
        let mut data = std::fs::read(&path).expect("read");
        let good = data.len();
        data.extend_from_slice(&[200, 0, 0, 0, 1, 2, 3]);
        std::fs::write(&path, &data).expect("write");

        let (mut j, groups) = Journal::open(dir.path()).expect("reopen");
        assert_eq!(groups.len(), 2);
        assert_eq!(groups[0].0, 1);
        assert!(groups[0].1.iter().zip(&written).all(|(a, b)| same(a, b)));
        assert_eq!(groups[1].1.len(), 2);
        assert_eq!(std::fs::metadata(&path).expect("stat").len(), good as u64);
        j.reset().expect("reset");
        let (_, groups) = Journal::open(dir.path()).expect("reopen");
        assert!(groups.is_empty());
    }

    #[test]
    fn a_flipped_bit_ends_the_journal() {
        let dir = tempfile::tempdir().expect("temp dir");
        {
            let (mut j, _) = Journal::open(dir.path()).expect("open");
            j.append(1, ops().iter()).expect("append");
            j.append(2, ops().iter()).expect("append");
        }
        let path = dir.path().join(FILE_NAME);
        let mut data = std::fs::read(&path).expect("read");
        let last = data.len() - 3;
        data[last] ^= 0x40;
        std::fs::write(&path, &data).expect("write");
        let (_, groups) = Journal::open(dir.path()).expect("reopen");
        assert_eq!(groups.len(), 1);
    }

    #[test]
    fn crc_matches_the_standard() {
        assert_eq!(crc32(b"123456789"), 0xCBF4_3926);
    }
}
