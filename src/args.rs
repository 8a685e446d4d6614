//! Command line and identity (support module, pure).
//!
//! containerd passes the log URI's query as unordered `key value` pairs
//! (`?--root=/x` arrives as `--root /x`; a key without `=` gets an empty
//! value). The container's identity comes from `CONTAINER_ID` and
//! `CONTAINER_NAMESPACE` and must be a containerd identifier, which also
//! rules out any path traversal.

/// Default root. NOTE(compat): the path the C shim-logs used.
pub const DEFAULT_ROOT: &[u8] = b"/var/cache/modules/contd";

/// Longest identifier containerd accepts.
pub const ID_MAX: usize = 76;

/// What the process was asked to do.
pub enum Mode<'a> {
    Version,
    Help,
    /// Validate a config file and print its endpoints.
    Check(&'a [u8]),
    /// The logger: options parsed from the pairs.
    Run(RunArgs<'a>),
}

pub struct RunArgs<'a> {
    pub root: &'a [u8],
    /// Keys we did not recognise (reported, not fatal); at most 4 kept.
    pub unknown: [&'a [u8]; 4],
    pub unknown_count: usize,
    /// A `--root` value that was refused.
    pub bad_root: bool,
}

/// Decide the mode from the arguments (argv[0] excluded).
pub fn parse<'a>(args: &[&'a [u8]]) -> Mode<'a> {
    match args.first().copied() {
        Some(b"--version") | Some(b"-V") | Some(b"version") => return Mode::Version,
        Some(b"--help") | Some(b"-h") | Some(b"help") => return Mode::Help,
        Some(b"check") => return Mode::Check(args.get(1).copied().unwrap_or(b"")),
        _ => {}
    }
    let mut r = RunArgs {
        root: DEFAULT_ROOT,
        unknown: [b""; 4],
        unknown_count: 0,
        bad_root: false,
    };
    let mut i = 0;
    while i < args.len() {
        let key = args[i];
        let (key, value, step) = match key.iter().position(|&c| c == b'=') {
            Some(eq) => (&key[..eq], &key[eq + 1..], 1),
            None => (key, args.get(i + 1).copied().unwrap_or(b""), 2),
        };
        match key {
            b"--root" | b"root" => {
                if value.first() == Some(&b'/') && !value.contains(&0) {
                    r.root = value;
                } else {
                    r.bad_root = true;
                }
            }
            _ => {
                if r.unknown_count < r.unknown.len() {
                    r.unknown[r.unknown_count] = key;
                }
                r.unknown_count += 1;
            }
        }
        i += step;
    }
    Mode::Run(r)
}

/// Is `s` a containerd identifier: alphanumeric runs joined by single `.`, `_` or `-`?
pub fn valid_id(s: &[u8]) -> bool {
    if s.is_empty() || s.len() > ID_MAX {
        return false;
    }
    let mut prev_sep = true; // no separator first
    for &c in s {
        let sep = matches!(c, b'.' | b'_' | b'-');
        if sep && prev_sep || !sep && !c.is_ascii_alphanumeric() {
            return false;
        }
        prev_sep = sep;
    }
    !prev_sep
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn identifiers() {
        for ok in [&b"a"[..], b"abc123", b"a.b-c_d", b"8f3e2b1c"] {
            assert!(valid_id(ok), "{:?}", ok);
        }
        for bad in [&b""[..], b"../x", b"a/b", b".a", b"a.", b"a..b", b"a b", b"a\0"] {
            assert!(!valid_id(bad), "{:?}", bad);
        }
        assert!(valid_id(&[b'a'; 76]));
        assert!(!valid_id(&[b'a'; 77]));
    }

    #[test]
    fn pairs_in_any_order() {
        match parse(&[b"--foo", b"", b"--root", b"/tmp/r"]) {
            Mode::Run(r) => {
                assert_eq!(r.root, b"/tmp/r");
                assert_eq!(r.unknown_count, 1);
                assert_eq!(r.unknown[0], b"--foo");
            }
            _ => panic!(),
        }
        match parse(&[b"--root=/x"]) {
            Mode::Run(r) => assert_eq!(r.root, b"/x"),
            _ => panic!(),
        }
        match parse(&[]) {
            Mode::Run(r) => assert_eq!(r.root, DEFAULT_ROOT),
            _ => panic!(),
        }
        match parse(&[b"--root", b"relative"]) {
            Mode::Run(r) => assert!(r.bad_root && r.root == DEFAULT_ROOT),
            _ => panic!(),
        }
        assert!(matches!(parse(&[b"check", b"f.json"]), Mode::Check(b"f.json")));
        assert!(matches!(parse(&[b"--version", b""]), Mode::Version));
    }
}
