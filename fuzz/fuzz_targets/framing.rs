//! Line framing across both streams, driven the way the event loop drives it.
//!
//! The input is a sequence of operations `(op, len, bytes)`: a read of `len` bytes
//! into stdout's or stderr's frame (truncated to the free space, as `read(2)` would
//! be), or end of file on one stream. After each read every complete chunk is taken,
//! as `deliver` does. Checked: each stream's chunks rebuild exactly its bytes; no chunk
//! is empty or longer than `LINE_MAX`; a complete chunk holds exactly one `\n`, at its
//! end; a partial one holds none and is either a full buffer (cut short by at most
//! three bytes before a UTF-8 character that would not fit) or the fragment at end of
//! file; the chunks of one turn are contiguous (the raw file writes them as one
//! region); and the free space is never empty when a read is due (a zero-length read
//! would look like end of file).
#![no_main]

use libfuzzer_sys::fuzz_target;
use shim_logs_fuzz::frame::Frame;
use shim_logs_fuzz::limits::LINE_MAX;
use shim_logs_fuzz::Cursor;

struct Stream {
    frame: Box<Frame>,
    fed: Vec<u8>,
    out: Vec<u8>,
    eof: bool,
}

impl Stream {
    fn new() -> Stream {
        Stream {
            frame: Box::new(Frame::NEW),
            fed: Vec::new(),
            out: Vec::new(),
            eof: false,
        }
    }

    /// Take every chunk now complete, as `event_loop::deliver` does.
    fn deliver(&mut self, eof: bool) {
        let mut region: Option<(usize, usize)> = None;
        while let Some(c) = self.frame.next(eof) {
            assert!(c.start < c.end, "empty chunk {c:?}");
            assert!(c.end - c.start <= LINE_MAX);
            if let Some((_, end)) = region {
                assert_eq!(c.start, end, "chunks of one turn are not contiguous");
            }
            region = Some((region.map_or(c.start, |r| r.0), c.end));
            let b = self.frame.bytes(c);
            let newlines = b.iter().filter(|&&x| x == b'\n').count();
            if c.partial {
                assert_eq!(newlines, 0, "partial chunk holds a newline");
                if !eof && b.len() < LINE_MAX {
                    // Only a full buffer cut before a UTF-8 character that would
                    // run past its end: the next byte is that character's lead.
                    let short = LINE_MAX - b.len();
                    let lead = self.fed[self.out.len() + b.len()];
                    let need = match lead {
                        0xf0.. => 4,
                        0xe0.. => 3,
                        0xc0.. => 2,
                        _ => 1,
                    };
                    assert!(
                        short <= 3 && lead <= 0xf4 && need > short,
                        "partial chunk of {} bytes before EOF, then {lead:#x}",
                        b.len()
                    );
                }
            } else {
                assert!(newlines == 1 && b.ends_with(b"\n"), "complete chunk {b:?}");
            }
            self.out.extend_from_slice(b);
        }
        if eof {
            assert_eq!(self.frame.pending(), 0, "bytes left after EOF");
        }
        assert!(self.frame.pending() < LINE_MAX, "a full buffer was not handed out");
    }
}

fuzz_target!(|data: &[u8]| {
    let mut c = Cursor::new(data);
    let mut s = [Stream::new(), Stream::new()];
    while !c.is_empty() {
        let op = c.u8();
        let st = &mut s[(op & 1) as usize];
        if st.eof {
            continue;
        }
        if op & 0xf0 == 0xf0 {
            st.deliver(true);
            st.eof = true;
            continue;
        }
        // Mostly short reads; sometimes up to 8 KiB of a repeated byte, to cross the
        // buffer size and exercise the cut.
        let len = c.u16() as usize;
        let bytes: Vec<u8> = if op & 0x20 != 0 {
            vec![c.u8(); len % (2 * LINE_MAX + 64)]
        } else {
            c.bytes(len % 512).to_vec()
        };
        let mut rest = &bytes[..];
        loop {
            let space = st.frame.space();
            assert!(!space.is_empty(), "no room to read into");
            let n = space.len().min(rest.len());
            space[..n].copy_from_slice(&rest[..n]);
            st.frame.commit(n);
            st.fed.extend_from_slice(&rest[..n]);
            rest = &rest[n..];
            st.deliver(false);
            if rest.is_empty() {
                break;
            }
        }
    }
    for st in s.iter_mut() {
        if !st.eof {
            st.deliver(true);
        }
        assert!(st.out == st.fed, "chunks do not rebuild the stream");
    }
});
