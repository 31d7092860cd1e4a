//! What the two protocol targets share: the limits the first input byte
//! picks, and the loop that feeds a parser the way a connection does —
//! parse an operation, check it, advance past it, until the buffer asks for
//! more or fails — with the framing invariants checked on every step.

use tern::protocol::Limits;

/// nats-server's defaults, tiny limits (to reach the limit errors), the
/// largest payload nats-server allows, and a long control line.
pub const LIMITS: [Limits; 4] = [
    Limits {
        max_control_line: 4096,
        max_payload: 1024 * 1024,
    },
    Limits {
        max_control_line: 16,
        max_payload: 32,
    },
    Limits {
        max_control_line: 4096,
        max_payload: 64 * 1024 * 1024,
    },
    Limits {
        max_control_line: 1 << 20,
        max_payload: 8,
    },
];

/// One parser step, whatever the protocol.
pub enum Step {
    /// An operation that used this many bytes.
    Op(usize),
    /// More input is needed: at least this many bytes in all.
    Incomplete(usize),
    /// The input is refused.
    Error,
}

/// Feed `data` (a limits byte, then the stream) to `parse` operation by
/// operation; `parse(bytes, limits, true)` also checks the operation it
/// frames (`false`: it only frames). Asserts that an operation uses
/// input and no more than there is, that `Incomplete` asks for more than
/// there is, and that a read cut short of an operation never frames one
/// (so framing does not depend on where reads split).
pub fn drive(data: &[u8], parse: impl Fn(&[u8], &Limits, bool) -> Step) {
    let Some((&select, mut rest)) = data.split_first() else {
        return;
    };
    let limits = LIMITS[usize::from(select & 3)];
    loop {
        match parse(rest, &limits, true) {
            Step::Op(used) => {
                assert!(used > 0, "an operation must use input");
                assert!(used <= rest.len(), "used {used} of {}", rest.len());
                let n = used;
                for cut in [n - 1, n / 2, n.min(3)] {
                    if cut >= n {
                        continue;
                    }
                    if let Step::Op(used) = parse(&rest[..cut], &limits, false) {
                        panic!("prefix of {cut} bytes framed an operation ({used} bytes) of a {n}-byte one");
                    }
                }
                rest = &rest[used..];
            }
            Step::Incomplete(min_len) => {
                assert!(min_len > rest.len(), "min_len {min_len} of {}", rest.len());
                break;
            }
            Step::Error => break,
        }
    }
}
