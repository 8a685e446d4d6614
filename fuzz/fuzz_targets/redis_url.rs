//! The Redis URL parser on arbitrary bytes: no panic; for an accepted URL, the masked
//! text and the identity never depend on (so never show) the password, and the masked
//! text parses back to the same endpoint.
#![no_main]

use libfuzzer_sys::fuzz_target;
use shim_logs_fuzz::url::{self, Fixed, Url};
use shim_logs_fuzz::VecOut;

fn parse(s: &[u8]) -> Result<Url, url::Error> {
    let mut u = Url::EMPTY;
    url::parse_into(s, &mut u).map(|()| u)
}

fn masked(u: &Url) -> Vec<u8> {
    let mut o = VecOut::default();
    u.write_masked(&mut o);
    o.0
}

fn identity(u: &Url) -> Vec<u8> {
    let mut o = VecOut::default();
    u.identity(&mut o);
    o.0
}

fn contains(hay: &[u8], needle: &[u8]) -> bool {
    !needle.is_empty() && hay.windows(needle.len()).any(|w| w == needle)
}

fuzz_target!(|data: &[u8]| {
    // The config parses into a slot that may have held another URL: the result must
    // not depend on what was there.
    let mut dirty = parse(b"redis://u:p@[::1]:1/t?cmd=xadd&maxlen=5&db=3&format=json&spool=7").unwrap();
    let into_dirty = url::parse_into(data, &mut dirty);
    let u = match parse(data) {
        Ok(u) => u,
        Err(e) => {
            assert_eq!(into_dirty, Err(e));
            assert!(!e.text().is_empty());
            return;
        }
    };
    assert!(
        into_dirty.is_ok() && dirty == u,
        "parse_into kept something of the slot's old URL"
    );
    assert!(data.len() <= url::URL_MAX);
    assert!(u.port > 0);
    assert!(!u.target.is_empty() && !u.host_text.is_empty());
    assert!(u.has_pass || (u.user.is_empty() && u.pass.is_empty()));

    let (m, id) = (masked(&u), identity(&u));
    // The same endpoint with another password prints the same: nothing of the
    // password can reach a message or a spool name.
    let mut other = u;
    other.pass = Fixed::from(b"\x00a different password\xff").unwrap();
    assert_eq!(masked(&other), m, "masked text depends on the password");
    assert_eq!(identity(&other), id, "identity depends on the password");
    let pass = u.pass.as_bytes();
    if contains(&m, pass) || contains(&id, pass) {
        // Only by coincidence: the password's bytes also spell part of the user,
        // host, target or options (the output is independent of it, checked above).
        let mut none = u;
        none.pass = Fixed::EMPTY;
        assert!(contains(&masked(&none), pass) || contains(&identity(&none), pass));
    }
    if u.has_pass {
        assert!(contains(&m, b":***@"), "password not masked as ***");
    }
    // Messages only ever hold printable ASCII from a URL.
    assert!(
        m.iter().all(|&c| (0x21..0x7f).contains(&c)),
        "unprintable masked URL {m:?}"
    );

    // The masked text is a valid URL naming the same endpoint (password "***").
    let back =
        parse(&m).unwrap_or_else(|e| panic!("masked URL {:?} does not parse: {e:?}", String::from_utf8_lossy(&m)));
    assert!(back.user == u.user);
    assert_eq!(back.has_pass, u.has_pass);
    if u.has_pass {
        assert_eq!(back.pass.as_bytes(), b"***");
    }
    assert!(back.host == u.host && back.host_text == u.host_text && back.port == u.port);
    assert!(back.target == u.target && back.cmd == u.cmd && back.maxlen == u.maxlen);
    assert!(back.db == u.db && back.format == u.format);
});
