//! The record a message is stored as in the `messages` table:
//! `[ts i64][subject len u32][headers len u32][subject][headers][payload]`,
//! little-endian.
//!
//! A stream with `compression: s2` stores a payload that compression makes
//! at least an eighth smaller in Snappy's raw format (the block format S2
//! extends; its length prefix gives the original size), and marks the
//! record with the top bit of the headers length. Subjects and headers stay
//! as they are, so the subject index, filters and byte counts never
//! decompress. Both kinds of record can share a table: turning compression
//! on or off for a stream rewrites nothing, old records keep their form.

use std::cell::RefCell;

use bytes::Bytes;

use super::super::types::NewMessage;

/// Bytes before the subject in a record.
pub(super) const RECORD_HEADER: usize = 16;

/// Set in the headers length of a record whose payload is compressed.
const COMPRESSED: u32 = 1 << 31;

/// Payloads shorter than this are stored as they are: too little to gain.
const MIN_COMPRESSED_PAYLOAD: usize = 64;

/// The parsed fixed part of a record.
pub(super) struct RecordHeader {
    pub timestamp: i64,
    pub subject_len: usize,
    pub headers_len: usize,
    /// The payload's length as published (before compression).
    pub payload_len: usize,
    pub compressed: bool,
}

impl RecordHeader {
    pub fn subject<'r>(&self, rec: &'r [u8]) -> &'r [u8] {
        &rec[RECORD_HEADER..RECORD_HEADER + self.subject_len]
    }
}

pub(super) fn parse_header(rec: &[u8]) -> Result<RecordHeader, String> {
    let field = |at: usize, n: usize| rec.get(at..at + n).ok_or("record shorter than its header");
    let mut ts = [0u8; 8];
    ts.copy_from_slice(field(0, 8)?);
    let mut len = [0u8; 4];
    len.copy_from_slice(field(8, 4)?);
    let subject_len = u32::from_le_bytes(len) as usize;
    len.copy_from_slice(field(12, 4)?);
    let headers_field = u32::from_le_bytes(len);
    let compressed = headers_field & COMPRESSED != 0;
    let headers_len = (headers_field & !COMPRESSED) as usize;
    let stored_len = (rec.len() - RECORD_HEADER)
        .checked_sub(subject_len + headers_len)
        .ok_or("record lengths exceed the record")?;
    let payload_len = if compressed {
        let body = &rec[rec.len() - stored_len..];
        snap::raw::decompress_len(body).map_err(|e| format!("compressed payload: {e}"))?
    } else {
        stored_len
    };
    Ok(RecordHeader {
        timestamp: i64::from_le_bytes(ts),
        subject_len,
        headers_len,
        payload_len,
        compressed,
    })
}

/// The parts of a record, as the message was published.
pub(super) struct Decoded {
    pub timestamp: i64,
    pub subject: Bytes,
    pub headers: Bytes,
    pub payload: Bytes,
}

pub(super) fn decode(rec: &[u8]) -> Result<Decoded, String> {
    let h = parse_header(rec)?;
    let subject_end = RECORD_HEADER + h.subject_len;
    let headers_end = subject_end + h.headers_len;
    if h.compressed {
        let payload = snap::raw::Decoder::new()
            .decompress_vec(&rec[headers_end..])
            .map_err(|e| format!("compressed payload: {e}"))?;
        let head = Bytes::copy_from_slice(&rec[..headers_end]);
        return Ok(Decoded {
            timestamp: h.timestamp,
            subject: head.slice(RECORD_HEADER..subject_end),
            headers: head.slice(subject_end..),
            payload: payload.into(),
        });
    }
    // One allocation per message; the parts are slices of it.
    let all = Bytes::copy_from_slice(rec);
    Ok(Decoded {
        timestamp: h.timestamp,
        subject: all.slice(RECORD_HEADER..subject_end),
        headers: all.slice(subject_end..headers_end),
        payload: all.slice(headers_end..),
    })
}

thread_local! {
    /// Snappy's encoder keeps a hash table; one per writing thread.
    static ENCODER: RefCell<snap::raw::Encoder> = RefCell::new(snap::raw::Encoder::new());
}

/// A message laid out for the table: [`Self::len`] bytes, written in place
/// by [`Self::write`].
pub(super) struct Encoded<'m> {
    msg: &'m NewMessage,
    /// The compressed payload, when compression was asked for and pays.
    compressed: Option<Vec<u8>>,
}

impl<'m> Encoded<'m> {
    pub fn new(msg: &'m NewMessage, compress: bool) -> Encoded<'m> {
        let p = &msg.payload;
        let compressed = (compress && p.len() >= MIN_COMPRESSED_PAYLOAD)
            .then(|| ENCODER.with(|e| e.borrow_mut().compress_vec(p).ok()))
            .flatten()
            .filter(|c| c.len() <= p.len() - p.len() / 8);
        Encoded { msg, compressed }
    }

    pub fn len(&self) -> usize {
        let payload = self
            .compressed
            .as_ref()
            .map_or(self.msg.payload.len(), Vec::len);
        RECORD_HEADER + self.msg.subject.len() + self.msg.headers.len() + payload
    }

    /// Writes the record into `rec`, which is [`Self::len`] bytes long.
    pub fn write(&self, rec: &mut [u8]) {
        let (s, h) = (&self.msg.subject, &self.msg.headers);
        let payload: &[u8] = self.compressed.as_deref().unwrap_or(&self.msg.payload);
        rec[0..8].copy_from_slice(&self.msg.timestamp.to_le_bytes());
        // The engine refused messages over 3 GiB, and headers are far below
        // the flag bit (they count against max_payload).
        rec[8..12].copy_from_slice(&(s.len() as u32).to_le_bytes());
        let mut headers_field = h.len() as u32;
        if self.compressed.is_some() {
            headers_field |= COMPRESSED;
        }
        rec[12..16].copy_from_slice(&headers_field.to_le_bytes());
        let mut at = RECORD_HEADER;
        for part in [&s[..], &h[..], payload] {
            rec[at..at + part.len()].copy_from_slice(part);
            at += part.len();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn record(msg: &NewMessage, compress: bool) -> Vec<u8> {
        let e = Encoded::new(msg, compress);
        let mut rec = vec![0; e.len()];
        e.write(&mut rec);
        rec
    }

    fn message(payload: Vec<u8>) -> NewMessage {
        NewMessage {
            subject: Bytes::from_static(b"a.b"),
            headers: Bytes::from_static(b"NATS/1.0\r\nX: 1\r\n\r\n"),
            payload: payload.into(),
            timestamp: -7,
        }
    }

    #[test]
    fn parses_a_record() {
        let rec = record(&message(b"xyz".to_vec()), true);
        let h = parse_header(&rec).expect("valid");
        assert_eq!(h.timestamp, -7);
        assert_eq!((h.subject_len, h.headers_len, h.payload_len), (3, 18, 3));
        assert!(!h.compressed, "too short to compress");
    }

    #[test]
    fn a_compressible_payload_is_stored_smaller_and_read_back_whole() {
        let payload: Vec<u8> = br#"{"sensor":"t1","celsius":21.5}"#.repeat(40);
        let msg = message(payload.clone());
        let plain = record(&msg, false);
        let packed = record(&msg, true);
        assert!(
            packed.len() * 4 < plain.len(),
            "{} vs {}",
            packed.len(),
            plain.len()
        );
        for rec in [&plain, &packed] {
            let h = parse_header(rec).expect("valid");
            assert_eq!(h.payload_len, payload.len());
            assert_eq!(h.subject(rec), b"a.b");
            let d = decode(rec).expect("valid");
            assert_eq!(&d.payload[..], &payload[..]);
            assert_eq!(&d.headers[..], &msg.headers[..]);
            assert_eq!((&d.subject[..], d.timestamp), (&b"a.b"[..], -7));
        }
    }

    #[test]
    fn an_incompressible_payload_is_stored_as_it_is() {
        let mut x = 0x2545_f491_4f6c_dd1du64;
        let noise: Vec<u8> = (0..4096)
            .map(|_| {
                x ^= x << 13;
                x ^= x >> 7;
                x ^= x << 17;
                x as u8
            })
            .collect();
        let rec = record(&message(noise), true);
        assert!(!parse_header(&rec).expect("valid").compressed);
    }

    #[test]
    fn damaged_records_are_errors_not_panics() {
        let rec = record(&message(b"payload".to_vec()), false);
        for cut in 0..RECORD_HEADER + 10 {
            assert!(parse_header(&rec[..cut]).is_err(), "cut at {cut}");
        }
        let mut lying = rec.clone();
        lying[8..12].copy_from_slice(&u32::MAX.to_le_bytes());
        assert!(parse_header(&lying).is_err());
        let mut packed = record(&message(vec![b'z'; 1000]), true);
        assert!(parse_header(&packed).expect("valid").compressed);
        let end = packed.len();
        packed.truncate(end - 3);
        assert!(decode(&packed).is_err(), "a cut compressed payload");
        let at = RECORD_HEADER + 3 + 18;
        packed[at] = 0xff;
        packed[at + 1] = 0xff;
        assert!(decode(&packed).is_err() || parse_header(&packed).is_err());
    }
}
