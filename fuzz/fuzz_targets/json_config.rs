//! The config parser on arbitrary bytes: no panic, every error and warning located
//! inside the input, a bounded number of events, and the JSON pull parser agreeing with
//! an independent parser (serde_json) on what is valid JSON.
#![no_main]

use libfuzzer_sys::fuzz_target;
use shim_logs_fuzz::config::{self, Config, Warn};
use shim_logs_fuzz::json::{self, Event, Parser};
use shim_logs_fuzz::limits::MAX_ENDPOINTS;

struct Positions {
    len: usize,
    count: usize,
}

impl Warn for Positions {
    fn warn(&mut self, pos: usize, parts: &[&[u8]]) {
        assert!(pos <= self.len, "warning at {pos} past the end ({})", self.len);
        assert!(!parts.is_empty());
        self.count += 1;
    }
}

/// Deepest nesting in `s`, counting brackets outside strings (only used on valid JSON).
fn depth(s: &[u8]) -> usize {
    let (mut d, mut max, mut in_str, mut esc) = (0usize, 0usize, false, false);
    for &c in s {
        if in_str {
            match (esc, c) {
                (true, _) => esc = false,
                (false, b'\\') => esc = true,
                (false, b'"') => in_str = false,
                _ => {}
            }
            continue;
        }
        match c {
            b'"' => in_str = true,
            b'[' | b'{' => {
                d += 1;
                max = max.max(d);
            }
            b']' | b'}' => d = d.saturating_sub(1),
            _ => {}
        }
    }
    max
}

/// Run the pull parser to its end; return its verdict.
fn pull(s: &[u8]) -> Result<(), json::Error> {
    let mut p = Parser::new(s);
    // Every event but `End` consumes at least one byte.
    for _ in 0..=s.len() + 1 {
        let before = p.pos();
        let e = p.next()?;
        assert!(p.pos() <= s.len(), "parser ran past the end");
        if e == Event::End {
            assert_eq!(p.next(), Ok(Event::End), "End is not sticky");
            return Ok(());
        }
        assert!(p.pos() > before, "event {e:?} consumed nothing at {before}");
        if let Event::Key(sp) | Event::Str(sp) = e {
            assert!(sp.start <= sp.end && sp.end <= s.len());
            // A validated string always unescapes, unless it holds a lone surrogate.
            let raw = &s[sp.start..sp.end];
            let mut out = vec![0u8; raw.len()];
            if let Some(n) = json::unescape(raw, &mut out) {
                assert!(std::str::from_utf8(&out[..n]).is_ok(), "unescaped string is not UTF-8");
            }
        }
    }
    panic!("no End after {} events", s.len() + 2);
}

fuzz_target!(|data: &[u8]| {
    let mut cfg = Config::EMPTY;
    let mut w = Positions {
        len: data.len(),
        count: 0,
    };
    match config::parse(data, &mut cfg, &mut w) {
        Ok(()) => {
            assert!(cfg.count <= MAX_ENDPOINTS);
            for e in cfg.endpoints() {
                assert!(e.streams != 0 && e.streams & !(config::STDOUT_BIT | config::STDERR_BIT) == 0);
            }
        }
        Err(e) => {
            assert!(
                e.pos <= data.len(),
                "error {:?} at {} past the end ({})",
                e.kind,
                e.pos,
                data.len()
            );
            assert!(!e.kind.text().is_empty());
            let (line, col) = json::line_col(data, e.pos);
            assert!(line >= 1 && col >= 1);
        }
    }

    let ours = pull(data);
    if let Err(e) = ours {
        assert!(e.pos <= data.len());
    }
    // Differential: serde_json is the reference for "is this JSON".
    let theirs = serde_json::from_slice::<serde_json::Value>(data);
    match (&ours, &theirs) {
        (Ok(()), Ok(_)) => {}
        (Err(e), Err(_)) => {
            let _ = e;
        }
        (Err(e), Ok(_)) => {
            // We refuse deeper nesting than serde_json does; nothing else.
            assert!(
                e.kind == json::ErrorKind::TooDeep && depth(data) > json::MAX_DEPTH as usize,
                "rejected valid JSON: {e:?} in {:?}",
                String::from_utf8_lossy(data)
            );
        }
        (Ok(()), Err(t)) => {
            // serde_json refuses lone surrogate escapes (which `unescape` refuses later)
            // and numbers out of f64 range (we only keep the text of numbers).
            let msg = t.to_string();
            assert!(
                msg.contains("surrogate") || msg.contains("escape") || msg.contains("out of range"),
                "accepted invalid JSON ({msg}): {:?}",
                String::from_utf8_lossy(data)
            );
        }
    }
});
