//! The WebSocket frame decoder (`tern::websocket::frame::Decoder`): frames
//! from a client (masked, unless it opted out) or a hub, with and without
//! permessage-deflate.
//!
//! Input: a byte of settings (masking required, compression, which
//! `max_payload`), a byte choosing how the stream is cut into reads, then
//! the bytes on the wire.
//!
//! The same bytes are decoded twice: in one read, and in reads of the
//! chosen size, as a socket may deliver them. Both must agree on the NATS
//! bytes, the control frames and the error, and no inflated message may
//! pass `max_payload`.

#![no_main]

use bytes::BytesMut;
use libfuzzer_sys::fuzz_target;
use tern::websocket::frame::{Control, Decoder};
use tern::websocket::WsError;

/// Small limits reach the same code as nats-server's 1 MiB default (64 KiB
/// still takes several of the inflater's 16 KiB steps), while every
/// compressed message inflates at most this far: with 1 MiB the runs
/// slowed to 3,000 executions a second inflating zeros.
const MAX_PAYLOADS: [usize; 4] = [64, 1024, 64 * 1024, 0];

struct Outcome {
    out: BytesMut,
    controls: Vec<Control>,
    result: Result<(), WsError>,
}

fn decode(settings: u8, wire: &[u8], read_size: usize) -> Outcome {
    let require_mask = settings & 1 != 0;
    let compression = settings & 2 != 0;
    let max_payload = MAX_PAYLOADS[usize::from((settings >> 2) & 3)];
    let mut decoder = Decoder::new(require_mask, compression, max_payload);
    let mut raw = BytesMut::new();
    let mut out = BytesMut::new();
    let mut controls = Vec::new();
    let mut result = Ok(());
    for chunk in wire.chunks(read_size.max(1)) {
        raw.extend_from_slice(chunk);
        result = decoder.decode(&mut raw, &mut out, &mut controls);
        if result.is_err() || decoder.is_closed() {
            break;
        }
    }
    Outcome {
        out,
        controls,
        result,
    }
}

fuzz_target!(|data: &[u8]| {
    let [settings, cut, wire @ ..] = data else {
        return;
    };
    let whole = decode(*settings, wire, wire.len());
    let pieces = decode(*settings, wire, usize::from(*cut % 17) + 1);
    assert_eq!(
        whole.result, pieces.result,
        "the error depends on read sizes"
    );
    if whole.result.is_ok() {
        assert_eq!(whole.out, pieces.out, "the data depends on read sizes");
        assert_eq!(whole.controls, pieces.controls);
    }
    if settings & 2 == 0 {
        // Uncompressed data is passed through: never more than arrived.
        assert!(whole.out.len() <= wire.len());
    }
});
