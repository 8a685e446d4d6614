//! A small pull parser for the JSON config (support module, pure).
//!
//! It walks a byte slice and hands out one event at a time, with no recursion
//! and no allocation: nesting is a bit stack (`MAX_DEPTH` levels), strings come
//! back as raw spans to unescape into a caller's buffer. Every error carries
//! the byte offset where it was found, which `line_col` turns into `line:col`.

/// Deepest nesting accepted; the config schema needs 3.
pub const MAX_DEPTH: u32 = 32;

/// What went wrong, and where (byte offset).
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub struct Error {
    pub kind: ErrorKind,
    pub pos: usize,
}

#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum ErrorKind {
    /// The input ended inside a value.
    UnexpectedEnd,
    /// A byte that cannot start a value here.
    ExpectedValue,
    /// An object key must be a string.
    ExpectedKey,
    /// A key must be followed by ':'.
    ExpectedColon,
    /// Values must be separated by ',' or closed.
    ExpectedCommaOrEnd,
    /// A closing bracket that does not match the open one.
    MismatchedClose,
    /// More than `MAX_DEPTH` levels of nesting.
    TooDeep,
    /// A raw control character inside a string.
    ControlInString,
    /// A backslash escape JSON does not define.
    InvalidEscape,
    /// Bytes that are not UTF-8.
    InvalidUtf8,
    /// A malformed number.
    InvalidNumber,
    /// A bad literal (`true`, `false`, `null`).
    InvalidLiteral,
    /// Something after the top-level value.
    TrailingChars,
}

impl ErrorKind {
    /// Return the message for this error.
    pub fn text(self) -> &'static [u8] {
        match self {
            ErrorKind::UnexpectedEnd => b"unexpected end of input",
            ErrorKind::ExpectedValue => b"expected a value",
            ErrorKind::ExpectedKey => b"expected a string key",
            ErrorKind::ExpectedColon => b"expected ':' after key",
            ErrorKind::ExpectedCommaOrEnd => b"expected ',' or a closing bracket",
            ErrorKind::MismatchedClose => b"mismatched closing bracket",
            ErrorKind::TooDeep => b"nesting too deep",
            ErrorKind::ControlInString => b"control character in string",
            ErrorKind::InvalidEscape => b"invalid escape in string",
            ErrorKind::InvalidUtf8 => b"invalid UTF-8",
            ErrorKind::InvalidNumber => b"invalid number",
            ErrorKind::InvalidLiteral => b"invalid literal",
            ErrorKind::TrailingChars => b"trailing characters after the value",
        }
    }
}

/// A half-open byte range of the input.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub struct Span {
    pub start: usize,
    pub end: usize,
}

#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum Event {
    BeginObject,
    EndObject,
    BeginArray,
    EndArray,
    /// An object key; the span is the raw (escaped) text between the quotes.
    Key(Span),
    /// A string value; raw text between the quotes.
    Str(Span),
    /// A number; the span covers its text.
    Num(Span),
    Bool(bool),
    Null,
    /// The top-level value is complete and only whitespace follows.
    End,
}

#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum Want {
    Value,
    ValueOrClose,
    KeyOrClose,
    Key,
    Colon,
    CommaOrClose,
    Done,
}

pub struct Parser<'a> {
    s: &'a [u8],
    pos: usize,
    /// Bit i set = level i is an object.
    stack: u32,
    depth: u32,
    want: Want,
}

impl<'a> Parser<'a> {
    pub fn new(s: &'a [u8]) -> Parser<'a> {
        Parser {
            s,
            pos: 0,
            stack: 0,
            depth: 0,
            want: Want::Value,
        }
    }

    /// Start parsing at `pos` (used to revisit a value seen earlier).
    pub fn at(s: &'a [u8], pos: usize) -> Parser<'a> {
        let mut p = Parser::new(s);
        p.pos = pos;
        p
    }

    /// Return the offset of the next unread byte.
    pub fn pos(&self) -> usize {
        self.pos
    }

    fn err<T>(&self, kind: ErrorKind) -> Result<T, Error> {
        Err(Error { kind, pos: self.pos })
    }

    fn skip_ws(&mut self) {
        while let Some(&b) = self.s.get(self.pos) {
            if b == b' ' || b == b'\n' || b == b'\r' || b == b'\t' {
                self.pos += 1;
            } else {
                break;
            }
        }
    }

    fn after_value(&mut self) {
        self.want = if self.depth == 0 {
            Want::Done
        } else {
            Want::CommaOrClose
        };
    }

    fn push(&mut self, object: bool) -> Result<(), Error> {
        if self.depth >= MAX_DEPTH {
            return self.err(ErrorKind::TooDeep);
        }
        if object {
            self.stack |= 1 << self.depth;
        } else {
            self.stack &= !(1 << self.depth);
        }
        self.depth += 1;
        self.pos += 1;
        self.want = if object { Want::KeyOrClose } else { Want::ValueOrClose };
        Ok(())
    }

    fn in_object(&self) -> bool {
        self.depth > 0 && self.stack & (1 << (self.depth - 1)) != 0
    }

    fn pop(&mut self, object: bool) -> Result<Event, Error> {
        if self.depth == 0 || self.in_object() != object {
            return self.err(ErrorKind::MismatchedClose);
        }
        self.depth -= 1;
        self.pos += 1;
        self.after_value();
        Ok(if object { Event::EndObject } else { Event::EndArray })
    }

    /// Return the next event.
    pub fn next(&mut self) -> Result<Event, Error> {
        loop {
            self.skip_ws();
            let b = match self.s.get(self.pos) {
                Some(&b) => b,
                None if self.want == Want::Done => return Ok(Event::End),
                None => return self.err(ErrorKind::UnexpectedEnd),
            };
            match self.want {
                Want::Done => return self.err(ErrorKind::TrailingChars),
                Want::Colon => {
                    if b != b':' {
                        return self.err(ErrorKind::ExpectedColon);
                    }
                    self.pos += 1;
                    self.want = Want::Value;
                }
                Want::CommaOrClose => match b {
                    b',' => {
                        self.pos += 1;
                        self.want = if self.in_object() { Want::Key } else { Want::Value };
                    }
                    b'}' => return self.pop(true),
                    b']' => return self.pop(false),
                    _ => return self.err(ErrorKind::ExpectedCommaOrEnd),
                },
                Want::KeyOrClose | Want::Key => {
                    if b == b'}' && self.want == Want::KeyOrClose {
                        return self.pop(true);
                    }
                    if b != b'"' {
                        return self.err(ErrorKind::ExpectedKey);
                    }
                    let span = self.string()?;
                    self.want = Want::Colon;
                    return Ok(Event::Key(span));
                }
                Want::ValueOrClose | Want::Value => {
                    if b == b']' && self.want == Want::ValueOrClose {
                        return self.pop(false);
                    }
                    return self.value(b);
                }
            }
        }
    }

    fn value(&mut self, b: u8) -> Result<Event, Error> {
        match b {
            b'{' => {
                self.push(true)?;
                Ok(Event::BeginObject)
            }
            b'[' => {
                self.push(false)?;
                Ok(Event::BeginArray)
            }
            b'"' => {
                let span = self.string()?;
                self.after_value();
                Ok(Event::Str(span))
            }
            b't' => self.literal(b"true", Event::Bool(true)),
            b'f' => self.literal(b"false", Event::Bool(false)),
            b'n' => self.literal(b"null", Event::Null),
            b'-' | b'0'..=b'9' => {
                let span = self.number()?;
                self.after_value();
                Ok(Event::Num(span))
            }
            _ => self.err(ErrorKind::ExpectedValue),
        }
    }

    fn literal(&mut self, word: &[u8], ev: Event) -> Result<Event, Error> {
        if self.s[self.pos..].starts_with(word) {
            self.pos += word.len();
            self.after_value();
            Ok(ev)
        } else {
            self.err(ErrorKind::InvalidLiteral)
        }
    }

    fn digits(&mut self) -> usize {
        let start = self.pos;
        while matches!(self.s.get(self.pos), Some(b'0'..=b'9')) {
            self.pos += 1;
        }
        self.pos - start
    }

    fn number(&mut self) -> Result<Span, Error> {
        let start = self.pos;
        if self.s[self.pos] == b'-' {
            self.pos += 1;
        }
        let int_start = self.pos;
        let n = self.digits();
        if n == 0 || (n > 1 && self.s[int_start] == b'0') {
            return Err(Error {
                kind: ErrorKind::InvalidNumber,
                pos: start,
            });
        }
        if self.s.get(self.pos) == Some(&b'.') {
            self.pos += 1;
            if self.digits() == 0 {
                return Err(Error {
                    kind: ErrorKind::InvalidNumber,
                    pos: start,
                });
            }
        }
        if matches!(self.s.get(self.pos), Some(b'e' | b'E')) {
            self.pos += 1;
            if matches!(self.s.get(self.pos), Some(b'+' | b'-')) {
                self.pos += 1;
            }
            if self.digits() == 0 {
                return Err(Error {
                    kind: ErrorKind::InvalidNumber,
                    pos: start,
                });
            }
        }
        Ok(Span { start, end: self.pos })
    }

    /// Scan a string starting at the opening quote; validate escapes and UTF-8.
    fn string(&mut self) -> Result<Span, Error> {
        self.pos += 1;
        let start = self.pos;
        loop {
            let b = match self.s.get(self.pos) {
                Some(&b) => b,
                None => return self.err(ErrorKind::UnexpectedEnd),
            };
            match b {
                b'"' => {
                    let span = Span { start, end: self.pos };
                    self.pos += 1;
                    return Ok(span);
                }
                b'\\' => {
                    let e = self.s.get(self.pos + 1).copied();
                    match e {
                        Some(b'"' | b'\\' | b'/' | b'b' | b'f' | b'n' | b'r' | b't') => self.pos += 2,
                        Some(b'u') => {
                            let hex = self.s.get(self.pos + 2..self.pos + 6);
                            if !hex.is_some_and(|h| h.iter().all(u8::is_ascii_hexdigit)) {
                                return self.err(ErrorKind::InvalidEscape);
                            }
                            self.pos += 6;
                        }
                        None => return self.err(ErrorKind::UnexpectedEnd),
                        _ => return self.err(ErrorKind::InvalidEscape),
                    }
                }
                0..=0x1f => return self.err(ErrorKind::ControlInString),
                0x80.. => {
                    let n = utf8_len(&self.s[self.pos..]);
                    if n == 0 {
                        return self.err(ErrorKind::InvalidUtf8);
                    }
                    self.pos += n;
                }
                _ => self.pos += 1,
            }
        }
    }

    /// Skip the value whose first event was just returned (for unknown keys).
    pub fn skip_rest(&mut self, first: Event) -> Result<(), Error> {
        if !matches!(first, Event::BeginObject | Event::BeginArray) {
            return Ok(());
        }
        let target = self.depth - 1;
        loop {
            match self.next()? {
                Event::EndObject | Event::EndArray if self.depth == target => return Ok(()),
                Event::End => return self.err(ErrorKind::UnexpectedEnd),
                _ => {}
            }
        }
    }
}

/// Return the length of the valid UTF-8 sequence at the start of `s`, or 0.
pub fn utf8_len(s: &[u8]) -> usize {
    let b0 = match s.first() {
        Some(&b) => b,
        None => return 0,
    };
    let (n, min) = match b0 {
        0x00..=0x7f => return 1,
        0xc2..=0xdf => (2, 0x80),
        0xe0..=0xef => (3, 0x800),
        0xf0..=0xf4 => (4, 0x10000),
        _ => return 0,
    };
    if s.len() < n {
        return 0;
    }
    let mut cp = (b0 as u32) & (0x7f >> n);
    for &b in &s[1..n] {
        if b & 0xc0 != 0x80 {
            return 0;
        }
        cp = (cp << 6) | (b as u32 & 0x3f);
    }
    if cp < min || cp > 0x10ffff || (0xd800..=0xdfff).contains(&cp) {
        return 0;
    }
    n
}

/// Unescape the raw string `raw` into `out`; return the length, or `None` if
/// it does not fit or holds an unpaired surrogate.
pub fn unescape(raw: &[u8], out: &mut [u8]) -> Option<usize> {
    let mut i = 0;
    let mut n = 0;
    let put = |out: &mut [u8], b: &[u8], n: &mut usize| -> Option<()> {
        out.get_mut(*n..*n + b.len())?.copy_from_slice(b);
        *n += b.len();
        Some(())
    };
    while i < raw.len() {
        if raw[i] != b'\\' {
            put(out, &raw[i..i + 1], &mut n)?;
            i += 1;
            continue;
        }
        let e = *raw.get(i + 1)?;
        i += 2;
        let c = match e {
            b'"' => b'"',
            b'\\' => b'\\',
            b'/' => b'/',
            b'b' => 8,
            b'f' => 12,
            b'n' => b'\n',
            b'r' => b'\r',
            b't' => b'\t',
            b'u' => {
                let mut cp = hex4(raw.get(i..i + 4)?)?;
                i += 4;
                if (0xd800..0xdc00).contains(&cp) {
                    if raw.get(i..i + 2)? != b"\\u" {
                        return None;
                    }
                    let lo = hex4(raw.get(i + 2..i + 6)?)?;
                    if !(0xdc00..0xe000).contains(&lo) {
                        return None;
                    }
                    i += 6;
                    cp = 0x10000 + ((cp - 0xd800) << 10) + (lo - 0xdc00);
                } else if (0xdc00..0xe000).contains(&cp) {
                    return None;
                }
                let mut tmp = [0u8; 4];
                let len = encode_utf8(cp, &mut tmp);
                put(out, &tmp[..len], &mut n)?;
                continue;
            }
            _ => return None,
        };
        put(out, &[c], &mut n)?;
    }
    Some(n)
}

fn hex4(h: &[u8]) -> Option<u32> {
    let mut v = 0u32;
    for &c in h {
        v = v * 16 + (c as char).to_digit(16)?;
    }
    Some(v)
}

/// Encode code point `cp` as UTF-8 into `out`; return the length.
pub fn encode_utf8(cp: u32, out: &mut [u8; 4]) -> usize {
    if cp < 0x80 {
        out[0] = cp as u8;
        1
    } else if cp < 0x800 {
        out[0] = 0xc0 | (cp >> 6) as u8;
        out[1] = 0x80 | (cp & 0x3f) as u8;
        2
    } else if cp < 0x10000 {
        out[0] = 0xe0 | (cp >> 12) as u8;
        out[1] = 0x80 | ((cp >> 6) & 0x3f) as u8;
        out[2] = 0x80 | (cp & 0x3f) as u8;
        3
    } else {
        out[0] = 0xf0 | (cp >> 18) as u8;
        out[1] = 0x80 | ((cp >> 12) & 0x3f) as u8;
        out[2] = 0x80 | ((cp >> 6) & 0x3f) as u8;
        out[3] = 0x80 | (cp & 0x3f) as u8;
        4
    }
}

/// Return the 1-based (line, column) of byte offset `pos` in `s`.
pub fn line_col(s: &[u8], pos: usize) -> (usize, usize) {
    let upto = &s[..pos.min(s.len())];
    let line = 1 + upto.iter().filter(|&&b| b == b'\n').count();
    let col = 1 + upto.iter().rev().take_while(|&&b| b != b'\n').count();
    (line, col)
}

/// Parse a non-negative integer number span (no fraction, no exponent).
pub fn parse_u64(s: &[u8]) -> Option<u64> {
    if s.is_empty() || s.len() > 20 {
        return None;
    }
    let mut v: u64 = 0;
    for &c in s {
        if !c.is_ascii_digit() {
            return None;
        }
        v = v.checked_mul(10)?.checked_add((c - b'0') as u64)?;
    }
    Some(v)
}

#[cfg(test)]
mod tests {
    use super::*;
    extern crate std;
    use std::vec::Vec;

    fn events(s: &[u8]) -> Result<Vec<Event>, Error> {
        let mut p = Parser::new(s);
        let mut v = Vec::new();
        for _ in 0..1000 {
            let e = p.next()?;
            v.push(e);
            if e == Event::End {
                return Ok(v);
            }
        }
        panic!("no end");
    }

    fn err(s: &[u8]) -> (ErrorKind, usize) {
        let e = events(s).unwrap_err();
        (e.kind, e.pos)
    }

    #[test]
    fn empty_array() {
        assert_eq!(
            events(b" [ ] ").unwrap(),
            [Event::BeginArray, Event::EndArray, Event::End]
        );
    }

    #[test]
    fn config_shape() {
        let s = br#"[{"type": "redis", "data": {"stdout": "redis://h/c", "n": -1.5e3, "b": true}}]"#;
        let ev = events(s).unwrap();
        assert_eq!(ev.len(), 16);
        assert_eq!(ev[2], Event::Key(Span { start: 3, end: 7 }));
        assert_eq!(ev[3], Event::Str(Span { start: 11, end: 16 }));
        match ev[9] {
            Event::Num(sp) => assert_eq!(&s[sp.start..sp.end], b"-1.5e3"),
            e => panic!("{:?}", e),
        }
        assert_eq!(ev[11], Event::Bool(true));
    }

    macro_rules! fails {
        ($($name:ident: $input:expr => $kind:ident @ $pos:expr;)*) => {$(
            #[test]
            fn $name() {
                assert_eq!(err($input), (ErrorKind::$kind, $pos));
            }
        )*};
    }

    fails! {
        f_empty: b"" => UnexpectedEnd @ 0;
        f_open: b"[" => UnexpectedEnd @ 1;
        f_colon: br#"{"a" 1}"# => ExpectedColon @ 5;
        f_key: br#"{1:2}"# => ExpectedKey @ 1;
        f_trailing_comma: br#"[1,]"# => ExpectedValue @ 3;
        f_mismatch: br#"[1}"# => MismatchedClose @ 2;
        f_trailing: br#"[] x"# => TrailingChars @ 3;
        f_ctrl: b"[\"a\x01\"]" => ControlInString @ 3;
        f_escape: br#"["\x"]"# => InvalidEscape @ 2;
        f_utf8: b"[\"\xff\"]" => InvalidUtf8 @ 2;
        f_num: b"[01]" => InvalidNumber @ 1;
        f_lit: b"[tru]" => InvalidLiteral @ 1;
        f_nul: b"[\x00]" => ExpectedValue @ 1;
        f_two: b"{} {}" => TrailingChars @ 3;
    }

    #[test]
    fn depth_limit() {
        let deep = [b'['; 33];
        assert_eq!(err(&deep), (ErrorKind::TooDeep, 32));
        let mut ok = Vec::new();
        ok.extend_from_slice(&[b'['; 32]);
        ok.extend_from_slice(&[b']'; 32]);
        assert!(events(&ok).is_ok());
    }

    #[test]
    fn huge_bracket_input_is_bounded() {
        let v = std::vec![b'['; 1 << 20];
        assert_eq!(err(&v).0, ErrorKind::TooDeep);
    }

    #[test]
    fn unescape_all() {
        let mut out = [0u8; 64];
        let n = unescape(br#"a\"\\\/\b\f\n\r\t\u00e9\ud83d\ude00"#, &mut out).unwrap();
        assert_eq!(&out[..n], "a\"\\/\x08\x0c\n\r\té😀".as_bytes());
        assert_eq!(unescape(br#"\ud83d"#, &mut out), None);
        assert_eq!(unescape(br#"\ude00"#, &mut out), None);
        assert_eq!(unescape(b"abc", &mut out[..2]), None);
    }

    #[test]
    fn skip_nested() {
        let s = br#"{"x": [1, {"y": [2]}], "z": 3}"#;
        let mut p = Parser::new(s);
        assert_eq!(p.next().unwrap(), Event::BeginObject);
        assert!(matches!(p.next().unwrap(), Event::Key(_)));
        let first = p.next().unwrap();
        p.skip_rest(first).unwrap();
        assert!(matches!(p.next().unwrap(), Event::Key(sp) if &s[sp.start..sp.end] == b"z"));
    }

    #[test]
    fn positions() {
        assert_eq!(line_col(b"ab\ncd", 4), (2, 2));
        assert_eq!(line_col(b"ab", 0), (1, 1));
    }

    #[test]
    fn utf8() {
        assert_eq!(utf8_len("é".as_bytes()), 2);
        assert_eq!(utf8_len(b"\xed\xa0\x80"), 0); // surrogate
        assert_eq!(utf8_len(b"\xc0\x80"), 0); // overlong
        assert_eq!(utf8_len(b"\xf4\x90\x80\x80"), 0); // > U+10FFFF
    }
}
