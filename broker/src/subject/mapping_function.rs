//! The mapping functions a transform destination token may be, in
//! nats-server's `{{name(args)}}` form: `wildcard`, `partition`,
//! `splitFromLeft`, `splitFromRight`, `sliceFromLeft`, `sliceFromRight`,
//! `split`, `left`, `right` and `random`. Names are matched without regard
//! to case (nats-server accepts `Partition` and `partition`); wildcard
//! arguments are 1-based, like `$N`.

use super::transform::TransformError;

#[derive(Clone, Debug, PartialEq, Eq)]
pub(super) enum MappingFunction {
    /// `{{wildcard(N)}}`: the Nth `*` token, like `$N`.
    Wildcard(usize),
    /// `{{partition(buckets, N...)}}`: a stable bucket number from the FNV-1a
    /// hash of the named wildcard tokens (of the whole subject when none).
    Partition { buckets: u32, wildcards: Vec<usize> },
    /// `{{splitFromLeft(N, at)}}`: the token cut in two, `at` bytes from
    /// the left (`Right`: from the right).
    SplitFrom {
        wildcard: usize,
        at: usize,
        from_right: bool,
    },
    /// `{{sliceFromLeft(N, size)}}`: the token cut into pieces of `size`
    /// bytes from the left; the short piece is the last (`Right`: first).
    SliceFrom {
        wildcard: usize,
        size: usize,
        from_right: bool,
    },
    /// `{{split(N, delimiter)}}`: the token cut at every delimiter, empty
    /// pieces left out.
    Split { wildcard: usize, delimiter: String },
    /// `{{left(N, len)}}` / `{{right(N, len)}}`: the first or last `len`
    /// bytes of the token.
    Keep {
        wildcard: usize,
        len: usize,
        from_right: bool,
    },
    /// `{{random(n)}}`: a random number below `n`.
    Random(u32),
}

impl MappingFunction {
    /// Parse a `{{...}}` destination token; `Ok(None)` for any other token.
    pub(super) fn parse(token: &str) -> Result<Option<MappingFunction>, TransformError> {
        let Some(inner) = token.strip_prefix("{{").and_then(|t| t.strip_suffix("}}")) else {
            return Ok(None);
        };
        let inner = inner.trim();
        let bad = |why: &str| TransformError::Function {
            token: token.to_string(),
            reason: why.to_string(),
        };
        let (name, args) = inner
            .split_once('(')
            .and_then(|(n, rest)| Some((n.trim(), rest.trim_end().strip_suffix(')')?)))
            .ok_or_else(|| bad("not a function call"))?;
        let args: Vec<&str> = args.split(',').map(str::trim).collect();
        let int = |s: &str| -> Result<usize, TransformError> {
            s.parse::<usize>()
                .ok()
                .filter(|&v| v <= i32::MAX as usize)
                .ok_or_else(|| bad("invalid argument"))
        };
        let index_and_int = |args: &[&str]| -> Result<(usize, usize), TransformError> {
            match args {
                [w, n] => Ok((int(w)?, int(n)?)),
                [_] | [] => Err(bad("not enough arguments")),
                _ => Err(bad("too many arguments")),
            }
        };
        let function = match name.to_ascii_lowercase().as_str() {
            "wildcard" => match args.as_slice() {
                [""] => return Err(bad("not enough arguments")),
                [w] => MappingFunction::Wildcard(int(w)?),
                _ => return Err(bad("too many arguments")),
            },
            "partition" => match args.as_slice() {
                [""] | [] => return Err(bad("not enough arguments")),
                [n, rest @ ..] => MappingFunction::Partition {
                    buckets: int(n)? as u32,
                    wildcards: rest.iter().map(|w| int(w)).collect::<Result<_, _>>()?,
                },
            },
            "splitfromleft" | "splitfromright" => {
                let (wildcard, at) = index_and_int(&args)?;
                MappingFunction::SplitFrom {
                    wildcard,
                    at,
                    from_right: name.len() == "splitfromright".len(),
                }
            }
            "slicefromleft" | "slicefromright" => {
                let (wildcard, size) = index_and_int(&args)?;
                MappingFunction::SliceFrom {
                    wildcard,
                    size,
                    from_right: name.len() == "slicefromright".len(),
                }
            }
            "left" | "right" => {
                let (wildcard, len) = index_and_int(&args)?;
                MappingFunction::Keep {
                    wildcard,
                    len,
                    from_right: name.eq_ignore_ascii_case("right"),
                }
            }
            "split" => match args.as_slice() {
                [w, delimiter] => {
                    if delimiter.is_empty() || delimiter.contains([' ', '.']) {
                        return Err(bad("invalid argument"));
                    }
                    MappingFunction::Split {
                        wildcard: int(w)?,
                        delimiter: delimiter.to_string(),
                    }
                }
                [_] | [] => return Err(bad("not enough arguments")),
                _ => return Err(bad("too many arguments")),
            },
            "random" => match args.as_slice() {
                [n] => MappingFunction::Random(int(n)? as u32),
                _ => return Err(bad("not enough arguments")),
            },
            _ => return Err(bad("unknown mapping function")),
        };
        Ok(Some(function))
    }

    /// The wildcards (1-based) this function reads.
    pub(super) fn wildcards(&self) -> Vec<usize> {
        match self {
            MappingFunction::Wildcard(w)
            | MappingFunction::SplitFrom { wildcard: w, .. }
            | MappingFunction::SliceFrom { wildcard: w, .. }
            | MappingFunction::Split { wildcard: w, .. }
            | MappingFunction::Keep { wildcard: w, .. } => vec![*w],
            MappingFunction::Partition { wildcards, .. } => wildcards.clone(),
            MappingFunction::Random(_) => Vec::new(),
        }
    }

    /// Append this token's value for a subject split into `tokens`, whose
    /// Nth wildcard is `tokens[positions[N - 1]]`.
    pub(super) fn write(&self, out: &mut String, tokens: &[&str], positions: &[usize]) {
        let token = |w: usize| tokens[positions[w - 1]];
        match self {
            MappingFunction::Wildcard(w) => out.push_str(token(*w)),
            MappingFunction::Partition { buckets, wildcards } => {
                let mut hash = Fnv1a::default();
                if wildcards.is_empty() {
                    for (i, t) in tokens.iter().enumerate() {
                        if i > 0 {
                            hash.write(b".");
                        }
                        hash.write(t.as_bytes());
                    }
                } else {
                    for w in wildcards {
                        hash.write(token(*w).as_bytes());
                    }
                }
                let bucket = if *buckets == 0 { 0 } else { hash.0 % buckets };
                out.push_str(&bucket.to_string());
            }
            MappingFunction::SplitFrom {
                wildcard,
                at,
                from_right,
            } => {
                let t = token(*wildcard);
                if *at > 0 && *at < t.len() {
                    let cut = if *from_right { t.len() - at } else { *at };
                    push_pieces(out, [&t[..cut], &t[cut..]]);
                } else {
                    out.push_str(t);
                }
            }
            MappingFunction::SliceFrom {
                wildcard,
                size,
                from_right,
            } => {
                let t = token(*wildcard);
                if *size == 0 || *size >= t.len() {
                    out.push_str(t);
                } else {
                    // From the right, the short piece comes first.
                    let first = if *from_right { t.len() % size } else { 0 };
                    let mut cuts: Vec<&str> = Vec::new();
                    if first > 0 {
                        cuts.push(&t[..first]);
                    }
                    let mut at = first;
                    while at < t.len() {
                        let end = (at + size).min(t.len());
                        cuts.push(&t[at..end]);
                        at = end;
                    }
                    push_pieces(out, cuts);
                }
            }
            MappingFunction::Split {
                wildcard,
                delimiter,
            } => {
                let pieces = token(*wildcard)
                    .split(delimiter.as_str())
                    .filter(|p| !p.is_empty());
                push_pieces(out, pieces);
            }
            MappingFunction::Keep {
                wildcard,
                len,
                from_right,
            } => {
                let t = token(*wildcard);
                if *len > 0 && *len < t.len() {
                    out.push_str(if *from_right {
                        &t[t.len() - len..]
                    } else {
                        &t[..*len]
                    });
                } else {
                    out.push_str(t);
                }
            }
            MappingFunction::Random(n) => {
                use rand::Rng;
                let v = if *n == 0 {
                    0
                } else {
                    rand::rng().random_range(0..*n)
                };
                out.push_str(&v.to_string());
            }
        }
    }
}

/// Pieces of one source token, each its own destination token.
fn push_pieces<'a>(out: &mut String, pieces: impl IntoIterator<Item = &'a str>) {
    for (i, piece) in pieces.into_iter().enumerate() {
        if i > 0 {
            out.push('.');
        }
        out.push_str(piece);
    }
}

/// 32-bit FNV-1a, the hash nats-server partitions with (so a subject lands
/// in the same bucket on both servers).
struct Fnv1a(u32);

impl Default for Fnv1a {
    fn default() -> Self {
        Fnv1a(0x811c_9dc5)
    }
}

impl Fnv1a {
    fn write(&mut self, bytes: &[u8]) {
        for b in bytes {
            self.0 ^= u32::from(*b);
            self.0 = self.0.wrapping_mul(0x0100_0193);
        }
    }
}
