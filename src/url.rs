//! Redis endpoint URLs (support module, pure).
//!
//! `redis://[user[:password]@]host[:port]/target[?opt=value&...]` is parsed
//! into a fixed-size `Url`: percent-decoding applies to user, password and
//! target; the host is IPv4, `[IPv6]` or a DNS name. `write_masked` prints it
//! back with the password as `***`, and `identity` is the same text without
//! any password, used to name the endpoint's spool file.

use crate::encode::Out;

/// A byte string of at most `N` bytes, stored inline.
#[derive(Clone, Copy, Eq)]
pub struct Fixed<const N: usize> {
    buf: [u8; N],
    len: u16,
}

impl<const N: usize> PartialEq for Fixed<N> {
    fn eq(&self, other: &Self) -> bool {
        self.as_bytes() == other.as_bytes()
    }
}

impl<const N: usize> Fixed<N> {
    pub const EMPTY: Fixed<N> = Fixed { buf: [0; N], len: 0 };

    pub fn as_bytes(&self) -> &[u8] {
        &self.buf[..self.len as usize]
    }
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }
    /// Append `b`; return false (and append nothing) if it does not fit.
    pub fn push(&mut self, b: &[u8]) -> bool {
        let l = self.len as usize;
        if l + b.len() > N {
            return false;
        }
        self.buf[l..l + b.len()].copy_from_slice(b);
        self.len += b.len() as u16;
        true
    }
    pub fn from(b: &[u8]) -> Option<Fixed<N>> {
        let mut f = Fixed::EMPTY;
        if f.push(b) {
            Some(f)
        } else {
            None
        }
    }
}

pub const HOST_MAX: usize = 253;
pub const USER_MAX: usize = 64;
pub const PASS_MAX: usize = 128;
/// NOTE(memory): the channel/key name is copied into every command, so it is
/// kept short enough that a full line chunk plus the name fits one out-buffer.
pub const TARGET_MAX: usize = 256;
/// Longest URL text accepted.
pub const URL_MAX: usize = 1024;

/// Default spool bound per endpoint, in bytes.
pub const SPOOL_DEFAULT: u64 = 64 << 20;

#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum Cmd {
    Publish,
    Rpush,
    Xadd,
}

#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum Format {
    Raw,
    Json,
}

#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum Host {
    /// NOTE(memory): first, so that an empty `Url` is all zero bytes.
    V4([u8; 4]),
    V6([u8; 16]),
    /// A DNS name, resolved at each connect.
    Name,
}

#[derive(Clone, Copy, PartialEq, Eq)]
pub struct Url {
    pub user: Fixed<USER_MAX>,
    pub pass: Fixed<PASS_MAX>,
    pub has_pass: bool,
    /// The host text as written (without brackets for IPv6).
    pub host_text: Fixed<HOST_MAX>,
    pub host: Host,
    pub port: u16,
    pub target: Fixed<TARGET_MAX>,
    pub cmd: Cmd,
    /// 0 = no cap.
    pub maxlen: u64,
    pub db: Option<u32>,
    pub format: Format,
    /// Spool bound in bytes; 0 = no spool.
    pub spool: u64,
}

impl Url {
    /// An unused URL: all zero bytes.
    pub const EMPTY: Url = Url {
        user: Fixed::EMPTY,
        pass: Fixed::EMPTY,
        has_pass: false,
        host_text: Fixed::EMPTY,
        host: Host::V4([0; 4]),
        port: 0,
        target: Fixed::EMPTY,
        cmd: Cmd::Publish,
        maxlen: 0,
        db: None,
        format: Format::Raw,
        spool: 0,
    };
}

/// Why a URL was refused.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum Error {
    /// Longer than `URL_MAX`.
    TooLong,
    /// Does not start with `redis://`.
    Scheme,
    /// No host between `//` and `/`.
    NoHost,
    /// Host is not IPv4, `[IPv6]` or a DNS name.
    BadHost,
    /// Port is not a number from 1 to 65535.
    BadPort,
    /// No `/target` after the host.
    NoTarget,
    /// A `%` not followed by two hex digits.
    BadPercent,
    /// A component is longer than its limit.
    FieldTooLong,
    /// A user without a password (`user@host`).
    UserWithoutPassword,
    /// An option name we do not know.
    UnknownOption,
    /// An option value out of range.
    BadOptionValue,
    /// A character not allowed in a URL.
    BadChar,
}

impl Error {
    /// Return the message for this error.
    pub fn text(self) -> &'static [u8] {
        match self {
            Error::TooLong => b"URL too long",
            Error::Scheme => b"URL must start with redis://",
            Error::NoHost => b"URL has no host",
            Error::BadHost => b"URL host is not IPv4, [IPv6] or a DNS name",
            Error::BadPort => b"URL port must be 1 to 65535",
            Error::NoTarget => b"URL has no /channel",
            Error::BadPercent => b"URL has a bad %-escape",
            Error::FieldTooLong => b"URL component too long",
            Error::UserWithoutPassword => b"URL has a user but no :password",
            Error::UnknownOption => b"URL has an unknown ?option",
            Error::BadOptionValue => b"URL option value is invalid",
            Error::BadChar => b"URL has a control or space character",
        }
    }
}

fn hexval(c: u8) -> Option<u8> {
    match c {
        b'0'..=b'9' => Some(c - b'0'),
        b'a'..=b'f' => Some(c - b'a' + 10),
        b'A'..=b'F' => Some(c - b'A' + 10),
        _ => None,
    }
}

/// Percent-decode `s` into a `Fixed`.
fn decode<const N: usize>(s: &[u8]) -> Result<Fixed<N>, Error> {
    let mut out = Fixed::<N>::EMPTY;
    let mut i = 0;
    while i < s.len() {
        let b = if s[i] == b'%' {
            let h = s.get(i + 1).and_then(|&c| hexval(c));
            let l = s.get(i + 2).and_then(|&c| hexval(c));
            match (h, l) {
                (Some(h), Some(l)) => {
                    i += 3;
                    h * 16 + l
                }
                _ => return Err(Error::BadPercent),
            }
        } else {
            i += 1;
            s[i - 1]
        };
        if !out.push(&[b]) {
            return Err(Error::FieldTooLong);
        }
    }
    Ok(out)
}

fn parse_num(s: &[u8], max: u64) -> Option<u64> {
    if s.is_empty() || s.len() > 19 || !s.iter().all(u8::is_ascii_digit) {
        return None;
    }
    let v = s.iter().fold(0u64, |v, &c| v * 10 + (c - b'0') as u64);
    if v > max {
        None
    } else {
        Some(v)
    }
}

/// Parse dotted-quad IPv4 text.
pub fn parse_ipv4(s: &[u8]) -> Option<[u8; 4]> {
    let mut out = [0u8; 4];
    let mut parts = s.split(|&c| c == b'.');
    for o in out.iter_mut() {
        let p = parts.next()?;
        if p.len() > 1 && p[0] == b'0' {
            return None;
        }
        *o = parse_num(p, 255)? as u8;
    }
    if parts.next().is_some() {
        return None;
    }
    Some(out)
}

/// Parse IPv6 text (RFC 4291 forms, with `::`; no zone, no embedded IPv4).
pub fn parse_ipv6(s: &[u8]) -> Option<[u8; 16]> {
    let mut head = [0u16; 8];
    let mut tail = [0u16; 8];
    let (mut nh, mut nt) = (0, 0);
    let (left, right) = match s.windows(2).position(|w| w == b"::") {
        Some(i) => (&s[..i], Some(&s[i + 2..])),
        None => (s, None),
    };
    let groups = |part: &[u8], out: &mut [u16; 8], n: &mut usize| -> Option<()> {
        if part.is_empty() {
            return Some(());
        }
        for g in part.split(|&c| c == b':') {
            if g.is_empty() || g.len() > 4 || *n >= 8 {
                return None;
            }
            out[*n] = g.iter().try_fold(0u16, |v, &c| Some(v * 16 + hexval(c)? as u16))?;
            *n += 1;
        }
        Some(())
    };
    groups(left, &mut head, &mut nh)?;
    match right {
        Some(r) => {
            groups(r, &mut tail, &mut nt)?;
            if nh + nt > 7 {
                return None;
            }
        }
        None if nh != 8 => return None,
        None => {}
    }
    let mut all = [0u16; 8];
    all[..nh].copy_from_slice(&head[..nh]);
    all[8 - nt..].copy_from_slice(&tail[..nt]);
    let mut out = [0u8; 16];
    for (i, g) in all.iter().enumerate() {
        out[2 * i..2 * i + 2].copy_from_slice(&g.to_be_bytes());
    }
    Some(out)
}

fn valid_dns_name(s: &[u8]) -> bool {
    !s.is_empty()
        && s.len() <= HOST_MAX
        && s.split(|&c| c == b'.').all(|label| {
            !label.is_empty()
                && label.len() <= 63
                && label
                    .iter()
                    .all(|&c| c.is_ascii_alphanumeric() || c == b'-' || c == b'_')
                && label[0] != b'-'
        })
}

/// Parse a `redis://` URL.
#[cfg(test)]
pub fn parse(s: &[u8]) -> Result<Url, Error> {
    let mut u = Url::EMPTY;
    parse_into(s, &mut u).map(|_| u)
}

/// Parse a `redis://` URL into `url` (left in an unspecified state on error).
pub fn parse_into(s: &[u8], url: &mut Url) -> Result<(), Error> {
    if s.len() > URL_MAX {
        return Err(Error::TooLong);
    }
    if s.iter().any(|&c| c <= b' ' || c == 0x7f) {
        return Err(Error::BadChar);
    }
    let rest = s.strip_prefix(b"redis://").ok_or(Error::Scheme)?;
    let slash = rest.iter().position(|&c| c == b'/').ok_or(Error::NoTarget)?;
    let (authority, path) = (&rest[..slash], &rest[slash + 1..]);
    let (userinfo, hostport) = match authority.iter().rposition(|&c| c == b'@') {
        Some(i) => (Some(&authority[..i]), &authority[i + 1..]),
        None => (None, authority),
    };
    *url = Url {
        host: Host::Name,
        port: 6379,
        spool: SPOOL_DEFAULT,
        ..Url::EMPTY
    };
    if let Some(ui) = userinfo {
        match ui.iter().position(|&c| c == b':') {
            Some(i) => {
                url.user = decode(&ui[..i])?;
                url.pass = decode(&ui[i + 1..])?;
                url.has_pass = true;
            }
            None => return Err(Error::UserWithoutPassword),
        }
    }
    // Host and port.
    let (host, port) = if hostport.first() == Some(&b'[') {
        let close = hostport.iter().position(|&c| c == b']').ok_or(Error::BadHost)?;
        let ip = parse_ipv6(&hostport[1..close]).ok_or(Error::BadHost)?;
        url.host = Host::V6(ip);
        let after = &hostport[close + 1..];
        let port = match after.first() {
            None => None,
            Some(b':') => Some(&after[1..]),
            Some(_) => return Err(Error::BadHost),
        };
        (&hostport[1..close], port)
    } else {
        let colons = hostport.iter().filter(|&&c| c == b':').count();
        if colons > 1 {
            return Err(Error::BadHost); // IPv6 must be bracketed
        }
        match hostport.iter().position(|&c| c == b':') {
            Some(i) => (&hostport[..i], Some(&hostport[i + 1..])),
            None => (hostport, None),
        }
    };
    if host.is_empty() {
        return Err(Error::NoHost);
    }
    if url.host == Host::Name {
        if let Some(ip) = parse_ipv4(host) {
            url.host = Host::V4(ip);
        } else if host.iter().all(|c| c.is_ascii_digit() || *c == b'.') || !valid_dns_name(host) {
            return Err(Error::BadHost);
        }
    }
    url.host_text = Fixed::from(host).ok_or(Error::BadHost)?;
    if let Some(p) = port {
        url.port = parse_num(p, 65535).filter(|&p| p > 0).ok_or(Error::BadPort)? as u16;
    }
    // Target and options.
    let (target, query) = match path.iter().position(|&c| c == b'?') {
        Some(i) => (&path[..i], Some(&path[i + 1..])),
        None => (path, None),
    };
    url.target = decode(target)?;
    if url.target.is_empty() {
        return Err(Error::NoTarget);
    }
    if let Some(q) = query {
        for pair in q.split(|&c| c == b'&').filter(|p| !p.is_empty()) {
            let (k, v) = match pair.iter().position(|&c| c == b'=') {
                Some(i) => (&pair[..i], &pair[i + 1..]),
                None => (pair, &b""[..]),
            };
            let bad = Error::BadOptionValue;
            match k {
                b"cmd" => {
                    url.cmd = match v {
                        b"publish" => Cmd::Publish,
                        b"rpush" => Cmd::Rpush,
                        b"xadd" => Cmd::Xadd,
                        _ => return Err(bad),
                    }
                }
                b"maxlen" => url.maxlen = parse_num(v, 1 << 40).filter(|&n| n > 0).ok_or(bad)?,
                b"db" => url.db = Some(parse_num(v, 1 << 20).ok_or(bad)? as u32),
                b"format" => {
                    url.format = match v {
                        b"raw" => Format::Raw,
                        b"json" => Format::Json,
                        _ => return Err(bad),
                    }
                }
                b"spool" => url.spool = parse_num(v, 1 << 40).ok_or(bad)?,
                _ => return Err(Error::UnknownOption),
            }
        }
    }
    if url.maxlen > 0 && url.cmd == Cmd::Publish {
        return Err(Error::BadOptionValue);
    }
    Ok(())
}

impl Url {
    /// Print the URL; the password as `***` when `mask`, omitted when not.
    fn print(&self, o: &mut dyn Out, show_pass: bool) {
        o.put(b"redis://");
        // The identity leaves out the whole userinfo when there is no user, so
        // adding a forgotten password keeps the spool's name.
        if self.has_pass && (show_pass || !self.user.is_empty()) {
            // A `:` in the user would end it when parsed back.
            put_escaped(o, self.user.as_bytes(), false);
            if show_pass {
                o.put(b":***");
            }
            o.put(b"@");
        }
        match self.host {
            Host::V6(_) => {
                o.put(b"[");
                o.put(self.host_text.as_bytes());
                o.put(b"]");
            }
            _ => o.put(self.host_text.as_bytes()),
        }
        o.put(b":");
        o.put(itoa::Buffer::new().format(self.port).as_bytes());
        o.put(b"/");
        put_escaped(o, self.target.as_bytes(), true);
        let mut sep = b"?";
        let mut opt = |o: &mut dyn Out, k: &[u8], v: &[u8]| {
            o.put(sep);
            o.put(k);
            o.put(b"=");
            o.put(v);
            sep = b"&";
        };
        match self.cmd {
            Cmd::Publish => {}
            Cmd::Rpush => opt(o, b"cmd", b"rpush"),
            Cmd::Xadd => opt(o, b"cmd", b"xadd"),
        }
        if self.maxlen > 0 {
            opt(o, b"maxlen", itoa::Buffer::new().format(self.maxlen).as_bytes());
        }
        if let Some(db) = self.db {
            opt(o, b"db", itoa::Buffer::new().format(db).as_bytes());
        }
        if self.format == Format::Json {
            opt(o, b"format", b"json");
        }
    }

    /// Write the URL for people: the password, if any, as `***`.
    pub fn write_masked(&self, o: &mut dyn Out) {
        self.print(o, true);
    }

    /// Write the endpoint's identity: the URL without any password or spool size.
    pub fn identity(&self, o: &mut dyn Out) {
        self.print(o, false);
    }
}

/// Write `s` with everything outside a safe set (with or without `:`) as `%XX`.
fn put_escaped(o: &mut dyn Out, s: &[u8], colon: bool) {
    for &c in s {
        if c.is_ascii_alphanumeric() || b"-._~!$'()*+,;=".contains(&c) || (colon && c == b':') {
            o.put(&[c]);
        } else {
            const HEX: &[u8; 16] = b"0123456789ABCDEF";
            o.put(&[b'%', HEX[(c >> 4) as usize], HEX[(c & 15) as usize]]);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    extern crate std;
    use std::vec::Vec;

    fn masked(u: &Url) -> Vec<u8> {
        let mut v = Vec::new();
        u.write_masked(&mut v);
        v
    }

    /// Found by the `redis_url` fuzz target: a `:` in the (percent-encoded) user
    /// was printed bare, so the masked URL parsed back as another user and password.
    #[test]
    fn colon_in_user_is_escaped_when_printed() {
        let u = parse(b"redis://b%4fp%3A%4b0%4b:@s88/1").unwrap();
        assert_eq!(u.user.as_bytes(), b"bOp:K0K");
        assert_eq!(masked(&u), b"redis://bOp%3AK0K:***@s88:6379/1");
        let back = parse(&masked(&u)).unwrap();
        assert_eq!(back.user.as_bytes(), b"bOp:K0K");
        assert_eq!(back.pass.as_bytes(), b"***");
        // A `:` in the channel needs no escape.
        let t = parse(b"redis://h/logs:c1").unwrap();
        assert_eq!(masked(&t), b"redis://h:6379/logs:c1");
    }

    #[test]
    fn original_form() {
        let u = parse(b"redis://:s3cret@10.0.0.1:6380/logs").unwrap();
        assert_eq!(u.host, Host::V4([10, 0, 0, 1]));
        assert_eq!(u.port, 6380);
        assert_eq!(u.pass.as_bytes(), b"s3cret");
        assert!(u.user.is_empty() && u.has_pass);
        assert_eq!(u.target.as_bytes(), b"logs");
        assert_eq!(masked(&u), b"redis://:***@10.0.0.1:6380/logs");
        let mut id = Vec::new();
        u.identity(&mut id);
        assert_eq!(id, b"redis://10.0.0.1:6380/logs");
    }

    #[test]
    fn defaults_and_options() {
        let u = parse(b"redis://localhost/k?cmd=rpush&maxlen=100&db=2&format=json&spool=0").unwrap();
        assert_eq!(u.port, 6379);
        assert_eq!(u.host, Host::Name);
        assert_eq!(
            (u.cmd, u.maxlen, u.db, u.format, u.spool),
            (Cmd::Rpush, 100, Some(2), Format::Json, 0)
        );
        assert_eq!(
            masked(&u),
            b"redis://localhost:6379/k?cmd=rpush&maxlen=100&db=2&format=json"
        );
    }

    #[test]
    fn acl_ipv6_percent() {
        let u = parse(b"redis://bob:p%40ss@[::1]:7000/a%2Fb").unwrap();
        assert_eq!(u.user.as_bytes(), b"bob");
        assert_eq!(u.pass.as_bytes(), b"p@ss");
        let mut v6 = [0u8; 16];
        v6[15] = 1;
        assert_eq!(u.host, Host::V6(v6));
        assert_eq!(u.target.as_bytes(), b"a/b");
        assert_eq!(masked(&u), b"redis://bob:***@[::1]:7000/a%2Fb");
    }

    macro_rules! bad {
        ($($name:ident: $url:expr => $err:ident;)*) => {$(
            #[test]
            fn $name() {
                assert_eq!(parse($url).err(), Some(Error::$err));
            }
        )*};
    }

    bad! {
        b_scheme: b"http://h/c" => Scheme;
        b_no_host: b"redis:///c" => NoHost;
        b_port0: b"redis://h:0/c" => BadPort;
        b_port_big: b"redis://h:70000/c" => BadPort;
        b_port_text: b"redis://h:x/c" => BadPort;
        b_v6_bare: b"redis://::1/c" => BadHost;
        b_v6_bad: b"redis://[::g]/c" => BadHost;
        b_percent: b"redis://h/%zz" => BadPercent;
        b_user_only: b"redis://bob@h/c" => UserWithoutPassword;
        b_empty_target: b"redis://h/" => NoTarget;
        b_no_slash: b"redis://h" => NoTarget;
        b_option: b"redis://h/c?x=1" => UnknownOption;
        b_cmd: b"redis://h/c?cmd=set" => BadOptionValue;
        b_maxlen_publish: b"redis://h/c?maxlen=5" => BadOptionValue;
        b_space: b"redis://h/c d" => BadChar;
        b_bad_ipv4ish: b"redis://1.2.3.256/c" => BadHost;
        b_host_chars: b"redis://a$b/c" => BadHost;
    }

    #[test]
    fn too_long() {
        let mut v = b"redis://h/".to_vec();
        v.resize(100 * 1024, b'a');
        assert_eq!(parse(&v).err(), Some(Error::TooLong));
    }

    #[test]
    fn ipv6_forms() {
        assert!(parse_ipv6(b"1:2:3:4:5:6:7:8").is_some());
        assert!(parse_ipv6(b"1::8").is_some());
        assert!(parse_ipv6(b"::").is_some());
        assert!(parse_ipv6(b"1:2:3:4:5:6:7:8:9").is_none());
        assert!(parse_ipv6(b"1:2:3:4:5:6:7::8").is_none());
        assert!(parse_ipv6(b"12345::").is_none());
    }
}
