use super::*;
use crate::websocket::deflate::Compressor;

const KEY: [u8; 4] = [0x12, 0x34, 0x56, 0x78];

fn masked(op: u8, fin: bool, compressed: bool, payload: &[u8]) -> BytesMut {
    let mut out = BytesMut::new();
    write_header(&mut out, op, fin, compressed, payload.len(), Some(KEY));
    let start = out.len();
    out.extend_from_slice(payload);
    apply_mask(&mut out[start..], KEY, 0);
    out
}

fn decode_all(d: &mut Decoder, wire: &[u8]) -> Result<(Vec<u8>, Vec<Control>), WsError> {
    let mut raw = BytesMut::from(wire);
    let mut out = BytesMut::new();
    let mut controls = Vec::new();
    d.decode(&mut raw, &mut out, &mut controls)?;
    Ok((out.to_vec(), controls))
}

#[test]
fn masked_frames_decode_byte_by_byte() {
    let mut wire = masked(OP_BINARY, false, false, b"PUB a 5\r\n");
    wire.extend_from_slice(&masked(OP_PING, true, false, b"hi"));
    wire.extend_from_slice(&masked(OP_CONTINUATION, true, false, b"hello\r\n"));
    let mut d = Decoder::new(true, false, 1024);
    let mut raw = BytesMut::new();
    let mut out = BytesMut::new();
    let mut controls = Vec::new();
    for b in wire.iter() {
        raw.extend_from_slice(&[*b]);
        d.decode(&mut raw, &mut out, &mut controls).unwrap();
    }
    assert_eq!(&out[..], b"PUB a 5\r\nhello\r\n");
    assert_eq!(controls, vec![Control::Ping(b"hi".to_vec())]);
    assert!(raw.is_empty());
}

#[test]
fn lengths_of_every_size_class() {
    for len in [0usize, 125, 126, 65535, 65536, 200_000] {
        let payload: Vec<u8> = (0..len).map(|i| (i % 250) as u8).collect();
        let mut d = Decoder::new(true, false, 1 << 20);
        let (out, _) = decode_all(&mut d, &masked(OP_BINARY, true, false, &payload)).unwrap();
        assert_eq!(out, payload, "len {len}");
    }
}

#[test]
fn server_frames_are_unmasked_and_decode_client_side() {
    let mut wire = BytesMut::new();
    encode(&mut wire, OP_BINARY, false, b"INFO {}\r\n");
    assert_eq!(wire[1] & 0x80, 0, "servers do not mask");
    let mut client = Decoder::new(false, false, 1024);
    let (out, _) = decode_all(&mut client, &wire).unwrap();
    assert_eq!(out, b"INFO {}\r\n");
    // And a client's masked frame is read back by a server decoder.
    let mut wire = BytesMut::new();
    encode_masked(&mut wire, OP_BINARY, false, b"PING\r\n", KEY);
    let (out, _) = decode_all(&mut Decoder::new(true, false, 1024), &wire).unwrap();
    assert_eq!(out, b"PING\r\n");
}

#[test]
fn protocol_errors() {
    let cases: Vec<(BytesMut, &str)> = vec![
        (
            {
                let mut w = BytesMut::new();
                encode(&mut w, OP_BINARY, false, b"x");
                w
            },
            "mask bit missing",
        ),
        (
            {
                let mut w = masked(OP_BINARY, true, false, b"x");
                w[0] |= 0x20;
                w
            },
            "RSV2 and RSV3 must be clear",
        ),
        (
            masked(OP_PING, false, false, b""),
            "control frame does not have final bit set",
        ),
        (
            masked(OP_PING, true, false, &[0; 126]),
            "control frame length bigger than maximum allowed of 125 bytes",
        ),
        (
            masked(OP_CONTINUATION, true, false, b"x"),
            "invalid continuation frame",
        ),
        (masked(0x3, true, false, b"x"), "unknown opcode 3"),
        (
            masked(OP_BINARY, true, true, b"x"),
            "compressed frame received without negotiated permessage-deflate",
        ),
        (
            masked(OP_CLOSE, true, false, b"x"),
            "close frame payload cannot be 1 byte",
        ),
        (
            masked(OP_CLOSE, true, false, &1006u16.to_be_bytes()),
            "invalid close status code 1006",
        ),
    ];
    for (wire, want) in cases {
        let err = decode_all(&mut Decoder::new(true, false, 1024), &wire).unwrap_err();
        assert_eq!(err, WsError::Protocol(want.into()));
    }
    let mut two = masked(OP_BINARY, false, false, b"a");
    two.extend_from_slice(&masked(OP_BINARY, true, false, b"b"));
    let err = decode_all(&mut Decoder::new(true, false, 1024), &two).unwrap_err();
    assert!(err.to_string().starts_with("new message started"), "{err}");
}

#[test]
fn close_is_echoed_and_ends_decoding() {
    let mut wire = masked(OP_CLOSE, true, false, &close_payload(1000, "bye"));
    wire.extend_from_slice(&masked(OP_BINARY, true, false, b"ignored"));
    let mut d = Decoder::new(true, false, 1024);
    let (out, controls) = decode_all(&mut d, &wire).unwrap();
    assert!(out.is_empty());
    assert_eq!(controls, vec![Control::Close(close_payload(1000, "bye"))]);
    assert!(d.is_closed());
    let (_, controls) = decode_all(
        &mut Decoder::new(true, false, 1),
        &masked(OP_CLOSE, true, false, b""),
    )
    .unwrap();
    assert_eq!(controls, vec![Control::Close(Vec::new())]);
}

#[test]
fn close_reason_is_cut_to_fit() {
    let long = "x".repeat(300);
    let p = close_payload(1002, &long);
    assert_eq!(p.len(), MAX_CONTROL_PAYLOAD);
    assert!(p.ends_with(b"..."));
}

#[test]
fn compressed_message_over_fragments() {
    let text = b"PUB a 11\r\nhello world\r\n".repeat(20);
    let mut z = Vec::new();
    Compressor::new().compress(&text, &mut z).unwrap();
    let (a, b) = z.split_at(z.len() / 2);
    let mut wire = masked(OP_BINARY, false, true, a);
    wire.extend_from_slice(&masked(OP_CONTINUATION, true, false, b));
    let mut d = Decoder::new(true, true, 1 << 20);
    let (out, _) = decode_all(&mut d, &wire).unwrap();
    assert_eq!(out, text);
    // Uncompressed messages still pass on a compressing connection.
    let (out, _) = decode_all(&mut d, &masked(OP_BINARY, true, false, b"PING\r\n")).unwrap();
    assert_eq!(out, b"PING\r\n");
}

#[test]
fn compressed_message_limits() {
    let zeros = vec![b'a'; 100_000];
    let mut z = Vec::new();
    Compressor::new().compress(&zeros, &mut z).unwrap();
    let err = decode_all(
        &mut Decoder::new(true, true, 1000),
        &masked(OP_BINARY, true, true, &z),
    );
    assert_eq!(err.unwrap_err(), WsError::MaxPayload);
    let junk = vec![7u8; 10_000];
    let err = decode_all(
        &mut Decoder::new(true, true, 1000),
        &masked(OP_BINARY, true, true, &junk),
    );
    assert_eq!(
        err.unwrap_err(),
        WsError::MaxPayload,
        "8 x max_payload of compressed data"
    );
}

#[test]
fn mask_offsets_carry_over() {
    let data: Vec<u8> = (0..37).collect();
    let mut whole = data.clone();
    apply_mask(&mut whole, KEY, 0);
    let mut parts = data.clone();
    let (a, b) = parts.split_at_mut(13);
    let next = apply_mask(a, KEY, 0);
    apply_mask(b, KEY, next);
    assert_eq!(parts, whole);
}
