//! Subject rules, as nats-server applies them: tokens separated by `.`, none
//! empty; a token that is exactly `*` matches one token, exactly `>` matches
//! one or more and must be last. `*`/`>` inside a longer token are literal.

/// Valid for SUB: non-empty tokens, no whitespace, `>` only as the last token.
pub fn is_valid_subject(subject: &[u8]) -> bool {
    if subject.is_empty() {
        return false;
    }
    let mut seen_fwc = false;
    for token in subject.split(|b| *b == b'.') {
        if token.is_empty() || seen_fwc {
            return false;
        }
        if token
            .iter()
            .any(|b| matches!(b, b' ' | b'\t' | b'\n' | b'\r' | b'\x0c'))
        {
            return false;
        }
        if token == b">" {
            seen_fwc = true;
        }
    }
    true
}

/// True when the subject has no wildcard tokens.
pub fn is_literal(subject: &[u8]) -> bool {
    subject
        .split(|b| *b == b'.')
        .all(|t| t != b"*" && t != b">")
}

/// Valid for PUB in pedantic mode: a valid subject without wildcards.
pub fn is_valid_publish_subject(subject: &[u8]) -> bool {
    is_valid_subject(subject) && is_literal(subject)
}

/// Does the (possibly wildcard) `filter` match the literal `subject`?
pub fn subject_matches(filter: &[u8], subject: &[u8]) -> bool {
    let mut f = filter.split(|b| *b == b'.');
    let mut s = subject.split(|b| *b == b'.');
    loop {
        match (f.next(), s.next()) {
            (Some(b">"), Some(_)) => return true,
            (Some(b"*"), Some(_)) => {}
            (Some(ft), Some(st)) if ft == st => {}
            (None, None) => return true,
            _ => return false,
        }
    }
}

/// Could some literal subject match both (possibly wildcard) filters?
pub fn subjects_overlap(a: &[u8], b: &[u8]) -> bool {
    let mut a = a.split(|c| *c == b'.');
    let mut b = b.split(|c| *c == b'.');
    loop {
        match (a.next(), b.next()) {
            (Some(b">"), Some(_)) | (Some(_), Some(b">")) => return true,
            (Some(x), Some(y)) if x == b"*" || y == b"*" || x == y => {}
            (None, None) => return true,
            _ => return false,
        }
    }
}

/// Is every subject `a` matches also matched by `b` (nats-server's
/// `subjectIsSubsetMatch`)?
pub fn is_subset_match(a: &[u8], b: &[u8]) -> bool {
    let mut a = a.split(|c| *c == b'.');
    let mut b = b.split(|c| *c == b'.');
    loop {
        match (a.next(), b.next()) {
            (Some(_), Some(b">")) => return true,
            (Some(x), Some(b"*")) if x != b">" => {}
            (Some(x), Some(y)) if x == y && x != b"*" && x != b">" => {}
            (None, None) => return true,
            _ => return false,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn subset() {
        assert!(is_subset_match(b"a.b", b"a.>"));
        assert!(is_subset_match(b"a.*", b"a.>"));
        assert!(is_subset_match(b"a.*", b"*.*"));
        assert!(!is_subset_match(b"a.>", b"a.*"));
        assert!(!is_subset_match(b"a.*", b"a.b"));
        assert!(!is_subset_match(b"a", b"a.>"));
        assert!(is_subset_match(b"a.b", b"a.b"));
    }

    #[test]
    fn overlap() {
        assert!(subjects_overlap(b"a.*", b"a.b"));
        assert!(subjects_overlap(b"a.>", b"*.b.c"));
        assert!(subjects_overlap(b">", b"x"));
        assert!(!subjects_overlap(b"a.*", b"a.b.c"));
        assert!(!subjects_overlap(b"a.b", b"a.c"));
        assert!(!subjects_overlap(b"a.>", b"a"));
    }

    #[test]
    fn validity() {
        for ok in [
            "foo",
            "foo.bar",
            "foo.*",
            "foo.>",
            ">",
            "*",
            "foo.*.baz",
            "foo*.bar",
            "a>b",
        ] {
            assert!(is_valid_subject(ok.as_bytes()), "{ok}");
        }
        for bad in [
            "",
            ".",
            "foo.",
            ".foo",
            "foo..bar",
            "foo.>.bar",
            "> .x",
            "foo bar",
            "foo\tbar",
        ] {
            assert!(!is_valid_subject(bad.as_bytes()), "{bad}");
        }
        assert!(is_valid_publish_subject(b"foo.bar"));
        assert!(!is_valid_publish_subject(b"foo.*"));
        assert!(!is_valid_publish_subject(b"foo.>"));
    }

    #[test]
    fn matching() {
        assert!(subject_matches(b"foo.*", b"foo.bar"));
        assert!(!subject_matches(b"foo.*", b"foo.bar.baz"));
        assert!(subject_matches(b"foo.>", b"foo.bar.baz"));
        assert!(!subject_matches(b"foo.>", b"foo"));
        assert!(subject_matches(b">", b"a"));
        assert!(subject_matches(b"*.b.*", b"a.b.c"));
        assert!(!subject_matches(b"a.b", b"a.c"));
    }
}
