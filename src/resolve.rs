//! Host names to addresses via `/etc/hosts` (support module, pure).
//!
//! NOTE(compat): resolving happens at each connect, inside the loop, so it
//! must never block: only the hosts file is consulted (no DNS query).

use crate::url::{parse_ipv4, parse_ipv6};

#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum Addr {
    V4([u8; 4]),
    V6([u8; 16]),
}

/// Find `name` in hosts-file text; the first IPv4 entry wins, then the first IPv6.
pub fn hosts_lookup(text: &[u8], name: &[u8]) -> Option<Addr> {
    let mut v6 = None;
    for line in text.split(|&c| c == b'\n') {
        let line = match line.iter().position(|&c| c == b'#') {
            Some(i) => &line[..i],
            None => line,
        };
        let mut words = line
            .split(|&c| c == b' ' || c == b'\t' || c == b'\r')
            .filter(|w| !w.is_empty());
        let addr = match words.next() {
            Some(a) => a,
            None => continue,
        };
        if !words.any(|w| w.eq_ignore_ascii_case(name)) {
            continue;
        }
        if let Some(ip) = parse_ipv4(addr) {
            return Some(Addr::V4(ip));
        }
        if v6.is_none() {
            v6 = parse_ipv6(addr).map(Addr::V6);
        }
    }
    v6
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lookup() {
        let hosts = b"# comment\n127.0.0.1\tlocalhost\n::1 localhost ip6-localhost\n10.1.2.3 redis.local redis # x\n";
        assert_eq!(hosts_lookup(hosts, b"localhost"), Some(Addr::V4([127, 0, 0, 1])));
        let mut one = [0u8; 16];
        one[15] = 1;
        assert_eq!(hosts_lookup(hosts, b"ip6-localhost"), Some(Addr::V6(one)));
        assert_eq!(hosts_lookup(hosts, b"REDIS"), Some(Addr::V4([10, 1, 2, 3])));
        assert_eq!(hosts_lookup(hosts, b"comment"), None);
        assert_eq!(hosts_lookup(hosts, b"x"), None);
    }
}
