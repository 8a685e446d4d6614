//! The per-container config file (support module, pure).
//!
//! `<root>/config/<ns>/<id>-logs.json` is a JSON array of
//! `{"type": "redis", "data": {"stdout": URL, "stderr": URL}}` entries, plus
//! optional `{"type": "file", "data": {...}}` for the local copy. Keys may come
//! in any order; a `data` seen before its `type` is revisited by position.
//! Any error rejects the whole config (the logger then keeps the local file
//! only); unknown types and keys are warnings.

use crate::json::{self, Event, Parser, Span};
use crate::limits::MAX_ENDPOINTS;
use crate::url::{self, Url};

/// Streams a record can come from, as bits of `EndpointConf::streams`.
pub const STDOUT_BIT: u8 = 1;
pub const STDERR_BIT: u8 = 2;

#[derive(Clone, Copy)]
pub struct EndpointConf {
    pub url: Url,
    /// Which streams go to this endpoint (`STDOUT_BIT | STDERR_BIT`).
    pub streams: u8,
}

impl EndpointConf {
    pub const EMPTY: EndpointConf = EndpointConf {
        url: Url::EMPTY,
        streams: 0,
    };
}

#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum FileFormat {
    Raw,
    Cri,
    Json,
}

#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub struct FileConf {
    pub format: FileFormat,
    /// Rotate when the file would pass this many bytes; 0 = never.
    pub max_size: u64,
    /// Rotated files kept (`.1` .. `.N`).
    pub max_files: u32,
}

impl FileConf {
    /// NOTE(compat): raw, as the original; but rotated by default (it never
    /// was), so that a chatty container cannot fill the node's disk: at most
    /// `max_files` files of `max_size` bytes.
    pub const DEFAULT: FileConf = FileConf {
        format: FileFormat::Raw,
        max_size: 16 << 20,
        max_files: 4,
    };

    /// All zero bytes, for the static state (which must stay in .bss); never used as is.
    pub const ZERO: FileConf = FileConf {
        format: FileFormat::Raw,
        max_size: 0,
        max_files: 0,
    };
}

pub struct Config {
    /// The first `count` are in use. NOTE(memory): not `Option`, whose niche
    /// would make the empty state non-zero and move the static state out of .bss.
    pub endpoints: [EndpointConf; MAX_ENDPOINTS],
    pub count: usize,
    pub file: FileConf,
}

impl Config {
    /// All zero bytes, for the static state; `parse` starts from `EMPTY`.
    pub const ZERO: Config = Config {
        endpoints: [EndpointConf::EMPTY; MAX_ENDPOINTS],
        count: 0,
        file: FileConf::ZERO,
    };
    pub const EMPTY: Config = Config {
        endpoints: [EndpointConf::EMPTY; MAX_ENDPOINTS],
        count: 0,
        file: FileConf::DEFAULT,
    };

    /// Return the endpoints in use.
    pub fn endpoints(&self) -> &[EndpointConf] {
        &self.endpoints[..self.count]
    }
}

#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum ErrorKind {
    Json(json::ErrorKind),
    /// The top level is not an array.
    NotArray,
    /// An array element is not an object.
    EntryNotObject,
    /// An entry has no "type".
    MissingType,
    /// An entry has no "data" object.
    MissingData,
    /// "type" is not a string.
    TypeNotString,
    /// "data" is not an object.
    DataNotObject,
    /// A URL value is not a string (or null).
    UrlNotString,
    /// A URL was refused.
    Url(url::Error),
    /// The same key twice in one object.
    DuplicateKey,
    /// More endpoints than `MAX_ENDPOINTS`.
    TooManyEndpoints,
    /// A file option has a bad value.
    BadFileOption,
    /// Two `file` entries.
    DuplicateFile,
}

impl ErrorKind {
    /// Return the message for this error.
    pub fn text(self) -> &'static [u8] {
        match self {
            ErrorKind::Json(k) => k.text(),
            ErrorKind::NotArray => b"config must be a JSON array",
            ErrorKind::EntryNotObject => b"entry must be an object",
            ErrorKind::MissingType => b"entry has no \"type\"",
            ErrorKind::MissingData => b"entry has no \"data\" object",
            ErrorKind::TypeNotString => b"\"type\" must be a string",
            ErrorKind::DataNotObject => b"\"data\" must be an object",
            ErrorKind::UrlNotString => b"URL must be a string",
            ErrorKind::Url(e) => e.text(),
            ErrorKind::DuplicateKey => b"duplicate key",
            ErrorKind::TooManyEndpoints => b"too many distinct endpoints",
            ErrorKind::BadFileOption => b"bad value for a file option",
            ErrorKind::DuplicateFile => b"more than one \"file\" entry",
        }
    }
}

#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub struct Error {
    pub kind: ErrorKind,
    pub pos: usize,
}

/// Receives warnings: a byte position and message pieces.
pub trait Warn {
    fn warn(&mut self, pos: usize, parts: &[&[u8]]);
}

fn jerr(e: json::Error) -> Error {
    Error {
        kind: ErrorKind::Json(e.kind),
        pos: e.pos,
    }
}

fn err<T>(kind: ErrorKind, pos: usize) -> Result<T, Error> {
    Err(Error { kind, pos })
}

fn raw(s: &[u8], sp: Span) -> &[u8] {
    &s[sp.start..sp.end]
}

/// Parse a config; `Ok` holds the endpoints to use, `Err` the first fault.
pub fn parse(s: &[u8], cfg: &mut Config, w: &mut dyn Warn) -> Result<(), Error> {
    *cfg = Config::EMPTY;
    let mut p = Parser::new(s);
    match p.next().map_err(jerr)? {
        Event::BeginArray => {}
        _ => return err(ErrorKind::NotArray, 0),
    }
    let mut saw_file = false;
    loop {
        let at = p.pos();
        match p.next().map_err(jerr)? {
            Event::EndArray => break,
            Event::BeginObject => entry(s, &mut p, at, cfg, &mut saw_file, w)?,
            _ => return err(ErrorKind::EntryNotObject, at),
        }
    }
    match p.next().map_err(jerr)? {
        Event::End => Ok(()),
        _ => err(ErrorKind::Json(json::ErrorKind::TrailingChars), p.pos()),
    }
}

/// Parse one `{"type": ..., "data": {...}}` entry (its `{` already read).
fn entry(
    s: &[u8],
    p: &mut Parser,
    at: usize,
    cfg: &mut Config,
    saw_file: &mut bool,
    w: &mut dyn Warn,
) -> Result<(), Error> {
    let mut ty: Option<Span> = None;
    let mut data: Option<usize> = None;
    loop {
        let key = match p.next().map_err(jerr)? {
            Event::EndObject => break,
            Event::Key(k) => k,
            _ => unreachable_event(p.pos())?,
        };
        let vpos = skip_ws(s, p.pos());
        let v = p.next().map_err(jerr)?;
        match raw(s, key) {
            b"type" => {
                if ty.is_some() {
                    return err(ErrorKind::DuplicateKey, key.start);
                }
                match v {
                    Event::Str(sp) => ty = Some(sp),
                    _ => return err(ErrorKind::TypeNotString, vpos),
                }
            }
            b"data" => {
                if data.is_some() {
                    return err(ErrorKind::DuplicateKey, key.start);
                }
                if v != Event::BeginObject {
                    return err(ErrorKind::DataNotObject, vpos);
                }
                data = Some(vpos);
            }
            other => w.warn(key.start, &[b"unknown key \"", printable(other), b"\" ignored"]),
        }
        p.skip_rest(v).map_err(jerr)?;
    }
    let ty = match ty {
        Some(t) => t,
        None => return err(ErrorKind::MissingType, at),
    };
    match raw(s, ty) {
        b"redis" => {
            let d = data.ok_or(Error {
                kind: ErrorKind::MissingData,
                pos: at,
            })?;
            redis_data(s, d, cfg, w)
        }
        b"file" => {
            if *saw_file {
                return err(ErrorKind::DuplicateFile, at);
            }
            *saw_file = true;
            let d = data.ok_or(Error {
                kind: ErrorKind::MissingData,
                pos: at,
            })?;
            file_data(s, d, cfg, w)
        }
        other => {
            w.warn(ty.start, &[b"unknown type \"", printable(other), b"\": entry skipped"]);
            Ok(())
        }
    }
}

fn unreachable_event<T>(pos: usize) -> Result<T, Error> {
    err(ErrorKind::Json(json::ErrorKind::ExpectedKey), pos)
}

fn skip_ws(s: &[u8], mut i: usize) -> usize {
    while i < s.len() && matches!(s[i], b' ' | b'\n' | b'\r' | b'\t' | b':') {
        i += 1;
    }
    i
}

/// Return `s` if it is short printable ASCII, else a placeholder.
/// A key or type quoted back in a warning: short printable text only, and
/// never anything with an `@`, which may be a misplaced URL with a password.
fn printable(s: &[u8]) -> &[u8] {
    if s.contains(&b'@') {
        b"(not shown: it may hold a password)"
    } else if s.len() <= 64 && s.iter().all(|&c| (0x20..0x7f).contains(&c) && c != b'\\') {
        s
    } else {
        b"(unprintable)"
    }
}

fn redis_data(s: &[u8], at: usize, cfg: &mut Config, w: &mut dyn Warn) -> Result<(), Error> {
    let mut p = Parser::at(s, at);
    p.next().map_err(jerr)?; // the '{' checked by the caller
    let mut seen = 0u8;
    loop {
        let key = match p.next().map_err(jerr)? {
            Event::EndObject => break,
            Event::Key(k) => k,
            _ => unreachable_event(p.pos())?,
        };
        let vpos = skip_ws(s, p.pos());
        let v = p.next().map_err(jerr)?;
        let bit = match raw(s, key) {
            b"stdout" => STDOUT_BIT,
            b"stderr" => STDERR_BIT,
            other => {
                w.warn(key.start, &[b"unknown key \"", printable(other), b"\" ignored"]);
                p.skip_rest(v).map_err(jerr)?;
                continue;
            }
        };
        if seen & bit != 0 {
            return err(ErrorKind::DuplicateKey, key.start);
        }
        seen |= bit;
        match v {
            Event::Null => {}
            Event::Str(sp) if sp.start == sp.end => {}
            Event::Str(sp) => {
                url_value(raw(s, sp), cfg, bit).map_err(|(kind, here)| Error {
                    kind,
                    pos: if here { vpos } else { at },
                })?;
            }
            _ => return err(ErrorKind::UrlNotString, vpos),
        }
    }
    Ok(())
}

/// Parse the URL in JSON string `raw` straight into the next endpoint slot and
/// add it for `streams`, merging with an identical endpoint. On error, say
/// whether it is located at the value (`true`) or at the entry.
///
/// NOTE(memory): no `Url` is built on the stack; this runs at the deepest
/// point of start-up, which sets the stack's high-water mark.
#[inline(never)]
fn url_value(raw: &[u8], cfg: &mut Config, streams: u8) -> Result<(), (ErrorKind, bool)> {
    let mut text = [0u8; url::URL_MAX];
    let n = json::unescape(raw, &mut text).ok_or((ErrorKind::Url(url::Error::TooLong), true))?;
    let (done, rest) = cfg.endpoints.split_at_mut(cfg.count);
    let slot = rest.first_mut().ok_or((ErrorKind::TooManyEndpoints, false))?;
    url::parse_into(&text[..n], &mut slot.url).map_err(|e| (ErrorKind::Url(e), true))?;
    slot.streams = streams;
    for e in done.iter_mut() {
        if same_url(&e.url, &slot.url) {
            e.streams |= streams;
            *slot = EndpointConf::EMPTY;
            return Ok(());
        }
    }
    cfg.count += 1;
    Ok(())
}

/// Do two URLs name the same endpoint with the same credentials and options?
pub fn same_url(a: &Url, b: &Url) -> bool {
    a == b
}

fn file_data(s: &[u8], at: usize, cfg: &mut Config, w: &mut dyn Warn) -> Result<(), Error> {
    let mut p = Parser::at(s, at);
    p.next().map_err(jerr)?;
    let mut seen = 0u8;
    loop {
        let key = match p.next().map_err(jerr)? {
            Event::EndObject => break,
            Event::Key(k) => k,
            _ => unreachable_event(p.pos())?,
        };
        let vpos = skip_ws(s, p.pos());
        let v = p.next().map_err(jerr)?;
        let bad = Error {
            kind: ErrorKind::BadFileOption,
            pos: vpos,
        };
        let bit = match raw(s, key) {
            b"format" => {
                cfg.file.format = match v {
                    Event::Str(sp) => match raw(s, sp) {
                        b"raw" => FileFormat::Raw,
                        b"cri" => FileFormat::Cri,
                        b"json" => FileFormat::Json,
                        _ => return Err(bad),
                    },
                    _ => return Err(bad),
                };
                1
            }
            b"max-size" => {
                cfg.file.max_size = number(s, v).ok_or(bad)?;
                2
            }
            b"max-files" => {
                cfg.file.max_files = number(s, v).filter(|&n| (1..=100).contains(&n)).ok_or(bad)? as u32;
                4
            }
            other => {
                w.warn(key.start, &[b"unknown key \"", printable(other), b"\" ignored"]);
                p.skip_rest(v).map_err(jerr)?;
                continue;
            }
        };
        if seen & bit != 0 {
            return err(ErrorKind::DuplicateKey, key.start);
        }
        seen |= bit;
    }
    Ok(())
}

/// A non-negative integer given as a JSON number or a numeric string.
fn number(s: &[u8], v: Event) -> Option<u64> {
    match v {
        Event::Num(sp) | Event::Str(sp) => json::parse_u64(raw(s, sp)),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    extern crate std;
    use std::string::String;
    use std::vec::Vec;

    #[derive(Default)]
    struct Warnings(Vec<String>);
    impl Warn for Warnings {
        fn warn(&mut self, _pos: usize, parts: &[&[u8]]) {
            let v: Vec<u8> = parts.concat();
            self.0.push(String::from_utf8(v).unwrap());
        }
    }

    fn run(s: &[u8]) -> (Result<(), Error>, Config, Warnings) {
        let mut c = Config::EMPTY;
        let mut w = Warnings::default();
        let r = parse(s, &mut c, &mut w);
        (r, c, w)
    }

    #[test]
    fn empty() {
        let (r, c, _) = run(b"[]");
        assert!(r.is_ok());
        assert_eq!(c.count, 0);
    }

    #[test]
    fn original_schema_merges_same_url() {
        let (r, c, _) = run(br#"[{"type":"redis","data":{"stdout":"redis://h/c","stderr":"redis://h/c"}}]"#);
        assert!(r.is_ok());
        assert_eq!(c.count, 1);
        assert_eq!(c.endpoints[0].streams, STDOUT_BIT | STDERR_BIT);
    }

    #[test]
    fn data_before_type_and_two_channels() {
        let (r, c, _) = run(br#"[{"data":{"stderr":"redis://h/e","stdout":"redis://h/o"},"type":"redis"}]"#);
        assert!(r.is_ok());
        assert_eq!(c.count, 2);
        // Endpoints come in the order their keys appear.
        assert_eq!(c.endpoints[0].streams, STDERR_BIT);
        assert_eq!(c.endpoints[0].url.target.as_bytes(), b"e");
        assert_eq!(c.endpoints[1].streams, STDOUT_BIT);
        assert_eq!(c.endpoints[1].url.target.as_bytes(), b"o");
    }

    #[test]
    fn unknown_type_and_key_warn() {
        let (r, c, w) = run(br#"[{"type":"kafka","data":{}},{"type":"redis","x":1,"data":{"stdout":null}}]"#);
        assert!(r.is_ok());
        assert_eq!(c.count, 0);
        assert_eq!(
            w.0,
            ["unknown type \"kafka\": entry skipped", "unknown key \"x\" ignored"]
        );
    }

    #[test]
    fn file_entry() {
        let (r, c, _) = run(br#"[{"type":"file","data":{"format":"cri","max-size":1048576,"max-files":"3"}}]"#);
        assert!(r.is_ok());
        assert_eq!(
            c.file,
            FileConf {
                format: FileFormat::Cri,
                max_size: 1 << 20,
                max_files: 3
            }
        );
    }

    macro_rules! fails {
        ($($name:ident: $input:expr => $kind:expr, $pos:expr;)*) => {$(
            #[test]
            fn $name() {
                let (r, _, _) = run($input);
                assert_eq!(r, Err(Error { kind: $kind, pos: $pos }));
            }
        )*};
    }

    fails! {
        e_object: b"{}" => ErrorKind::NotArray, 0;
        e_empty: b"" => ErrorKind::Json(json::ErrorKind::UnexpectedEnd), 0;
        e_entry: b"[1]" => ErrorKind::EntryNotObject, 1;
        e_no_type: br#"[{"data":{}}]"# => ErrorKind::MissingType, 1;
        e_no_data: br#"[{"type":"redis"}]"# => ErrorKind::MissingData, 1;
        e_dup: br#"[{"type":"redis","type":"redis"}]"# => ErrorKind::DuplicateKey, 18;
        e_num_url: br#"[{"type":"redis","data":{"stdout":5}}]"# => ErrorKind::UrlNotString, 34;
        e_bad_url: br#"[{"type":"redis","data":{"stdout":"redis://h:0/c"}}]"# => ErrorKind::Url(url::Error::BadPort), 34;
        e_missing_value: br#"[{"type": "redis", "data": {"stdout": }]"# => ErrorKind::Json(json::ErrorKind::ExpectedValue), 38;
        e_type_num: br#"[{"type":1}]"# => ErrorKind::TypeNotString, 9;
    }

    #[test]
    fn too_many() {
        let mut s = Vec::from(&b"["[..]);
        for i in 0..5 {
            if i > 0 {
                s.push(b',');
            }
            s.extend_from_slice(
                std::format!(r#"{{"type":"redis","data":{{"stdout":"redis://h/c{}"}}}}"#, i).as_bytes(),
            );
        }
        s.push(b']');
        let (r, _, _) = run(&s);
        assert_eq!(r.unwrap_err().kind, ErrorKind::TooManyEndpoints);
    }
}
