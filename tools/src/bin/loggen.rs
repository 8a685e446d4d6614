//! `loggen`: writes numbered, self-checking lines to stdout and stderr at a chosen count,
//! size, rate and mix, and `loggen verify` checks that a log file (both streams merged,
//! or one file per stream) holds every line of each stream exactly once, in order and
//! intact. A line is `<O|E> <seq:010> <filler>\n`: O for stdout, E for stderr, seq counts
//! per stream from 0, and the filler (`a-z`) is a function of stream, seq and position.

use std::fs::File;
use std::io::{self, BufRead, BufReader, BufWriter, Write};
use std::os::fd::AsFd;
use std::process::exit;
use std::thread::sleep;
use std::time::{Duration, Instant};

/// `eprintln!` that cannot panic: stderr may be the very pipe that broke.
macro_rules! warn {
    ($($arg:tt)*) => {{
        use std::io::Write as _;
        let _ = writeln!(std::io::stderr(), $($arg)*);
    }};
}

const USAGE: &str = "\
usage: loggen [--count N] [--size BYTES] [--rate LINES_PER_SEC] [--stderr PCT]
              [--seed S] [--no-final-newline]
       loggen verify [--size BYTES] [--allow-dups] [--count N [--stderr PCT] [--seed S]]
              FILE [FILE2]

Writes N lines (default 1000) of exactly BYTES bytes each, newline included (default 64,
at least 16): `O <seq:010> <filler>` on stdout, `E <seq:010> <filler>` on stderr. PCT
percent of the lines (default 0) go to stderr, chosen by a PRNG seeded with S (default
1). --rate 0 (default) writes as fast as possible. --no-final-newline leaves the last
line without its newline.

verify reads FILE (both streams merged, e.g. the shim-logs local file) or FILE (stdout
only) and FILE2 (stderr only), `-` being stdin, and checks each stream: seq contiguous
from 0, no reordering, filler and length intact. A final line without newline is
accepted. With --count (and the generator's --stderr/--seed) lines lost at the end are
gaps too. Prints `verify: stdout N lines, stderr M lines, gaps G, dups D, corrupt C`
(N, M: distinct lines; out-of-order lines count as corrupt) and exits 0 only if G and C
are 0, and D too unless --allow-dups.";

/// Stream tag, seq digits and their separating spaces: `O 0000000042 `.
const HEADER: usize = 13;
const MIN_SIZE: usize = 16;
const MAX_SIZE: usize = 1 << 30;
const MAX_COUNT: u64 = 10_000_000_000;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Stream {
    Out,
    Err,
}

impl Stream {
    fn idx(self) -> usize {
        self as usize
    }
    fn tag(self) -> u8 {
        [b'O', b'E'][self.idx()]
    }
    fn name(self) -> &'static str {
        ["stdout", "stderr"][self.idx()]
    }
}

/// SplitMix64: small, fast and good enough to pick streams reproducibly.
struct Mix {
    state: u64,
    stderr_pct: u64,
}

impl Mix {
    fn new(seed: u64, stderr_pct: u64) -> Mix {
        Mix {
            state: seed,
            stderr_pct,
        }
    }
    /// The stream of the next line.
    fn next_stream(&mut self) -> Stream {
        self.state = self.state.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.state;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^= z >> 31;
        if z % 100 < self.stderr_pct {
            Stream::Err
        } else {
            Stream::Out
        }
    }
}

/// How many lines of each stream `count` lines with this mix produce.
fn stream_totals(count: u64, stderr_pct: u64, seed: u64) -> [u64; 2] {
    let mut mix = Mix::new(seed, stderr_pct);
    let mut totals = [0; 2];
    for _ in 0..count {
        totals[mix.next_stream().idx()] += 1;
    }
    totals
}

/// Builds and checks lines of one size. Filler byte i of line (stream, seq) is
/// `b'a' + (seq*7 + i + 13*stream) % 26`; `alphabet` is that cycle, long enough to slice.
struct Format {
    size: usize,
    alphabet: Vec<u8>,
}

impl Format {
    fn new(size: usize) -> Format {
        let alphabet = (0..size + 26).map(|j| b'a' + (j % 26) as u8).collect();
        Format { size, alphabet }
    }

    fn filler(&self, stream: Stream, seq: u64) -> &[u8] {
        let start = ((seq % 26) * 7 + 13 * stream.idx() as u64) as usize % 26;
        &self.alphabet[start..start + self.size - HEADER - 1]
    }

    /// Writes line (stream, seq) into `line`, which is `size` bytes long.
    fn fill(&self, line: &mut [u8], stream: Stream, seq: u64) {
        line[0] = stream.tag();
        line[1] = b' ';
        let mut n = seq;
        for d in line[2..12].iter_mut().rev() {
            *d = b'0' + (n % 10) as u8;
            n /= 10;
        }
        line[12] = b' ';
        line[HEADER..self.size - 1].copy_from_slice(self.filler(stream, seq));
        line[self.size - 1] = b'\n';
    }

    /// Parses a line without its newline: its stream and seq, or what is wrong with it.
    fn parse(&self, rec: &[u8]) -> Result<(Stream, u64), String> {
        if rec.len() != self.size - 1 {
            return Err(format!("length {} instead of {}", rec.len() + 1, self.size));
        }
        let stream = match rec[0] {
            b'O' => Stream::Out,
            b'E' => Stream::Err,
            _ => return Err("no O/E tag".into()),
        };
        let digits = &rec[2..12];
        if rec[1] != b' ' || rec[12] != b' ' || !digits.iter().all(u8::is_ascii_digit) {
            return Err("bad header".into());
        }
        let seq = digits.iter().fold(0, |n, d| n * 10 + u64::from(d - b'0'));
        if &rec[HEADER..] != self.filler(stream, seq) {
            return Err(format!("{} seq {seq}: bad filler", stream.name()));
        }
        Ok((stream, seq))
    }
}

fn main() {
    unsafe { libc::signal(libc::SIGPIPE, libc::SIG_IGN) };
    let args: Vec<String> = std::env::args().skip(1).collect();
    let code = match args.first().map(String::as_str) {
        Some("verify") => verify_main(&args[1..]),
        _ => generate_main(&args),
    };
    exit(code)
}

/// `--name value` or `--name=value` options, plus flags and positional arguments.
struct Args<'a> {
    rest: std::slice::Iter<'a, String>,
}

impl<'a> Args<'a> {
    /// The next (option name, inline value) or positional argument.
    fn next_arg(&mut self) -> Option<(&'a str, Option<&'a str>)> {
        let a = self.rest.next()?;
        Some(match a.split_once('=') {
            Some((n, v)) if n.starts_with("--") => (n, Some(v)),
            _ => (a.as_str(), None),
        })
    }
    fn value<T: std::str::FromStr>(&mut self, name: &str, inline: Option<&str>) -> T {
        let v = inline.or_else(|| self.rest.next().map(String::as_str));
        v.and_then(|v| v.parse().ok())
            .unwrap_or_else(|| usage_error(&format!("{name} needs a valid value")))
    }
}

fn usage_error(msg: &str) -> ! {
    warn!("loggen: {msg}\n{USAGE}");
    exit(2)
}

fn check_size(size: usize) -> usize {
    if !(MIN_SIZE..=MAX_SIZE).contains(&size) {
        usage_error(&format!("--size must be between {MIN_SIZE} and {MAX_SIZE}"));
    }
    size
}

fn check_pct(pct: u64) -> u64 {
    if pct > 100 {
        usage_error("--stderr must be between 0 and 100");
    }
    pct
}

struct GenOpts {
    count: u64,
    size: usize,
    rate: f64,
    stderr_pct: u64,
    seed: u64,
    final_newline: bool,
}

fn generate_main(args: &[String]) -> i32 {
    let mut o = GenOpts {
        count: 1000,
        size: 64,
        rate: 0.0,
        stderr_pct: 0,
        seed: 1,
        final_newline: true,
    };
    let mut a = Args { rest: args.iter() };
    while let Some((name, inline)) = a.next_arg() {
        match name {
            "-h" | "--help" => {
                println!("{USAGE}");
                return 0;
            }
            "--count" => o.count = a.value(name, inline),
            "--size" => o.size = check_size(a.value(name, inline)),
            "--rate" => o.rate = a.value(name, inline),
            "--stderr" => o.stderr_pct = check_pct(a.value(name, inline)),
            "--seed" => o.seed = a.value(name, inline),
            "--no-final-newline" => o.final_newline = false,
            _ => usage_error(&format!("unknown argument {name:?}")),
        }
    }
    if o.count > MAX_COUNT || !(o.rate.is_finite() && o.rate >= 0.0) {
        usage_error("--count must be at most 10^10 and --rate finite and >= 0");
    }
    match generate(&o) {
        Ok(()) => 0,
        Err(e) => {
            warn!("loggen: {e}");
            1
        }
    }
}

fn generate(o: &GenOpts) -> Result<(), String> {
    let open = |fd: std::os::fd::BorrowedFd| -> Result<BufWriter<File>, String> {
        let fd = fd.try_clone_to_owned().map_err(|e| e.to_string())?;
        Ok(BufWriter::with_capacity(64 << 10, File::from(fd)))
    };
    let mut outs = [open(io::stdout().as_fd())?, open(io::stderr().as_fd())?];
    let flush = |outs: &mut [BufWriter<File>; 2]| -> Result<(), String> {
        for (out, s) in outs.iter_mut().zip([Stream::Out, Stream::Err]) {
            out.flush().map_err(|e| format!("write to {}: {e}", s.name()))?;
        }
        Ok(())
    };
    let format = Format::new(o.size);
    let mut mix = Mix::new(o.seed, o.stderr_pct);
    let mut seqs = [0u64; 2];
    let mut line = vec![0u8; o.size];
    // Pace in batches of about 10 ms worth of lines.
    let batch = (o.rate / 100.0).max(1.0) as u64;
    let start = Instant::now();
    for i in 0..o.count {
        let s = mix.next_stream();
        format.fill(&mut line, s, seqs[s.idx()]);
        seqs[s.idx()] += 1;
        let last = i + 1 == o.count;
        let len = if last && !o.final_newline { o.size - 1 } else { o.size };
        outs[s.idx()]
            .write_all(&line[..len])
            .map_err(|e| format!("write to {}: {e}", s.name()))?;
        if o.rate > 0.0 && ((i + 1) % batch == 0) && !last {
            let due = start + Duration::from_secs_f64((i + 1) as f64 / o.rate);
            let now = Instant::now();
            if due > now {
                flush(&mut outs)?;
                sleep(due - now);
            }
        }
    }
    flush(&mut outs)
}

/// Sequence state of one stream.
#[derive(Default)]
struct StreamState {
    /// The next seq never seen so far.
    next: u64,
    /// Seqs skipped so far, as half-open ranges: gaps, unless they turn up later.
    missing: Vec<(u64, u64)>,
    /// Distinct lines seen.
    lines: u64,
    dups: u64,
    /// Where the last line of this stream had no newline (fine only at its very end).
    unterminated: Option<String>,
}

/// Checks lines fed one by one; prints the first problems to stderr.
struct Verifier {
    format: Format,
    /// Per-stream line totals expected (from --count), if known.
    expected: Option<[u64; 2]>,
    streams: [StreamState; 2],
    corrupt: u64,
    reported: u32,
}

#[derive(Debug, PartialEq)]
struct Summary {
    lines: [u64; 2],
    gaps: u64,
    dups: u64,
    corrupt: u64,
}

const MAX_REPORTS: u32 = 20;

impl Verifier {
    fn new(size: usize, expected: Option<[u64; 2]>) -> Verifier {
        Verifier {
            format: Format::new(size),
            expected,
            streams: Default::default(),
            corrupt: 0,
            reported: 0,
        }
    }

    fn report(&mut self, at: &str, msg: &str) {
        self.reported += 1;
        if self.reported <= MAX_REPORTS {
            warn!("verify: {at}: {msg}");
        } else if self.reported == MAX_REPORTS + 1 {
            warn!("verify: (more problems not shown)");
        }
    }

    fn bad(&mut self, at: &str, msg: &str) {
        self.corrupt += 1;
        self.report(at, msg);
    }

    /// Reads one file; `only` is the stream it must hold (None: both, merged).
    fn feed(&mut self, input: impl io::Read, name: &str, only: Option<Stream>) -> io::Result<()> {
        let mut input = BufReader::with_capacity(1 << 20, input);
        let mut buf = Vec::new();
        let rec_len = self.format.size - 1;
        for lineno in 1.. {
            buf.clear();
            if input.read_until(b'\n', &mut buf)? == 0 {
                return Ok(());
            }
            let terminated = buf.last() == Some(&b'\n');
            let mut rest = &buf[..buf.len() - usize::from(terminated)];
            let at = format!("{name}:{lineno}");
            // A line without newline is followed directly by the next one (raw output
            // keeps bytes exact): it shows up as an over-long line. Split it there.
            while rest.len() > rec_len && looks_like_header(&rest[rec_len..]) {
                self.record(&rest[..rec_len], false, only, &at);
                rest = &rest[rec_len..];
            }
            self.record(rest, terminated, only, &at);
        }
        Ok(())
    }

    /// Checks one line (without its newline).
    fn record(&mut self, rec: &[u8], terminated: bool, only: Option<Stream>, at: &str) {
        let (stream, seq) = match self.format.parse(rec) {
            Ok(r) => r,
            Err(e) => return self.bad(at, &e),
        };
        let name = stream.name();
        if only.is_some_and(|s| s != stream) {
            return self.bad(at, &format!("{name} line in the wrong file"));
        }
        if self.expected.is_some_and(|e| seq >= e[stream.idx()]) {
            return self.bad(at, &format!("{name} seq {seq}: beyond --count"));
        }
        let st = &mut self.streams[stream.idx()];
        if let Some(prev) = st.unterminated.take() {
            self.bad(&prev, &format!("{name} line without newline before the end"));
        }
        let st = &mut self.streams[stream.idx()];
        if !terminated {
            st.unterminated = Some(at.to_owned());
        }
        if seq >= st.next {
            if seq > st.next {
                let msg = format!("{name} seq {seq}: {} lines missing", seq - st.next);
                st.missing.push((st.next, seq));
                self.report(at, &msg);
            }
            let st = &mut self.streams[stream.idx()];
            st.next = seq + 1;
            st.lines += 1;
        } else if let Some(k) = st.missing.iter().position(|&(a, b)| a <= seq && seq < b) {
            // It was counted missing: it arrived, but out of order.
            let (a, b) = st.missing[k];
            st.missing
                .splice(k..=k, [(a, seq), (seq + 1, b)].into_iter().filter(|r| r.0 < r.1));
            st.lines += 1;
            self.bad(at, &format!("{name} seq {seq}: out of order"));
        } else {
            st.dups += 1;
        }
    }

    fn finish(self) -> Summary {
        let mut gaps = 0;
        for (i, st) in self.streams.iter().enumerate() {
            gaps += st.missing.iter().map(|(a, b)| b - a).sum::<u64>();
            if let Some(e) = self.expected {
                if st.next < e[i] {
                    let name = [Stream::Out, Stream::Err][i].name();
                    warn!("verify: {name}: last {} lines missing", e[i] - st.next);
                    gaps += e[i] - st.next;
                }
            }
        }
        Summary {
            lines: [self.streams[0].lines, self.streams[1].lines],
            gaps,
            dups: self.streams.iter().map(|s| s.dups).sum(),
            corrupt: self.corrupt,
        }
    }
}

/// Whether `b` starts like a line: `O 1` or `E 0`.
fn looks_like_header(b: &[u8]) -> bool {
    matches!(b, [b'O' | b'E', b' ', d, ..] if d.is_ascii_digit())
}

fn verify_main(args: &[String]) -> i32 {
    let (mut size, mut allow_dups, mut count, mut pct, mut seed) = (64, false, None, 0, 1);
    let mut files = Vec::new();
    let mut a = Args { rest: args.iter() };
    while let Some((name, inline)) = a.next_arg() {
        match name {
            "-h" | "--help" => {
                println!("{USAGE}");
                return 0;
            }
            "--size" => size = check_size(a.value(name, inline)),
            "--allow-dups" => allow_dups = true,
            "--count" => count = Some(a.value(name, inline)),
            "--stderr" => pct = check_pct(a.value(name, inline)),
            "--seed" => seed = a.value(name, inline),
            _ if name == "-" || !name.starts_with('-') => files.push(name),
            _ => usage_error(&format!("unknown argument {name:?}")),
        }
    }
    if files.is_empty() || files.len() > 2 {
        usage_error("verify needs FILE or FILE FILE2");
    }
    let expected = count.map(|n| stream_totals(n, pct, seed));
    let mut v = Verifier::new(size, expected);
    let streams = if files.len() == 2 {
        [Some(Stream::Out), Some(Stream::Err)]
    } else {
        [None, None]
    };
    for (&file, only) in files.iter().zip(streams) {
        let r = if file == "-" {
            v.feed(io::stdin().lock(), "<stdin>", only)
        } else {
            File::open(file).and_then(|f| v.feed(f, file, only))
        };
        if let Err(e) = r {
            warn!("loggen: verify: {file}: {e}");
            return 2;
        }
    }
    let s = v.finish();
    let _ = writeln!(
        io::stdout(),
        "verify: stdout {} lines, stderr {} lines, gaps {}, dups {}, corrupt {}",
        s.lines[0],
        s.lines[1],
        s.gaps,
        s.dups,
        s.corrupt
    );
    let ok = s.gaps == 0 && s.corrupt == 0 && (s.dups == 0 || allow_dups);
    i32::from(!ok)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn line(size: usize, stream: Stream, seq: u64) -> Vec<u8> {
        let mut l = vec![0; size];
        Format::new(size).fill(&mut l, stream, seq);
        l
    }

    /// Lines (stream, seq) concatenated, as a logger's raw output would be.
    fn lines(size: usize, which: &[(Stream, u64)]) -> Vec<u8> {
        which.iter().flat_map(|&(s, n)| line(size, s, n)).collect()
    }

    fn check(size: usize, input: &[u8], expected: Option<[u64; 2]>) -> Summary {
        let mut v = Verifier::new(size, expected);
        v.feed(input, "t", None).unwrap();
        v.finish()
    }

    use Stream::{Err as E, Out as O};

    #[test]
    fn line_format() {
        assert_eq!(line(16, O, 0), b"O 0000000000 ab\n");
        assert_eq!(line(16, E, 42), b"E 0000000042 vw\n");
        let l = line(64, O, 1234567890);
        assert_eq!(l.len(), 64);
        assert!(l.starts_with(b"O 1234567890 "));
        for (i, &b) in l[HEADER..63].iter().enumerate() {
            assert_eq!(b, b'a' + ((1234567890 * 7 + i as u64) % 26) as u8);
        }
        let f = Format::new(64);
        assert_eq!(f.parse(&l[..63]), Ok((O, 1234567890)));
        assert!(f.parse(&l).is_err());
        let mut swapped = l.clone();
        swapped[0] = b'E';
        assert!(f.parse(&swapped[..63]).is_err(), "filler depends on the stream");
    }

    #[test]
    fn mix_is_deterministic() {
        let picks = |seed| {
            let mut m = Mix::new(seed, 30);
            (0..1000).map(|_| m.next_stream()).collect::<Vec<_>>()
        };
        assert_eq!(picks(1), picks(1));
        assert_ne!(picks(1), picks(2));
        let errs = picks(7).iter().filter(|&&s| s == E).count();
        assert!((200..400).contains(&errs), "{errs}");
        assert_eq!(stream_totals(100, 0, 1), [100, 0]);
        assert_eq!(stream_totals(100, 100, 1), [0, 100]);
    }

    #[test]
    fn clean_merged_input() {
        let input = lines(20, &[(O, 0), (E, 0), (O, 1), (O, 2), (E, 1)]);
        let s = check(20, &input, Some([3, 2]));
        assert_eq!(
            s,
            Summary {
                lines: [3, 2],
                gaps: 0,
                dups: 0,
                corrupt: 0
            }
        );
    }

    #[test]
    fn gaps_dups_and_reordering() {
        let input = lines(20, &[(O, 0), (O, 3), (O, 1), (O, 3), (E, 0)]);
        let s = check(20, &input, None);
        // 1 came late (corrupt), 2 never came (gap), 3 came twice (dup).
        assert_eq!(
            s,
            Summary {
                lines: [3, 1],
                gaps: 1,
                dups: 1,
                corrupt: 1
            }
        );
        // Lines lost at the end count as gaps when the totals are known.
        let s = check(20, &input, Some([4, 3]));
        assert_eq!(s.gaps, 3);
    }

    #[test]
    fn corrupt_lines() {
        let mut input = lines(20, &[(O, 0), (O, 1), (O, 2)]);
        input[35] = b'Z'; // filler of seq 1
        input.extend_from_slice(b"short\n");
        let s = check(20, &input, None);
        assert_eq!(
            s,
            Summary {
                lines: [2, 0],
                gaps: 1,
                dups: 0,
                corrupt: 2
            }
        );
    }

    #[test]
    fn missing_final_newline() {
        // The last stdout line has no newline and stderr lines follow it directly.
        let mut input = lines(20, &[(O, 0), (E, 0), (O, 1)]);
        input.pop();
        input.extend(lines(20, &[(E, 1), (E, 2)]));
        let s = check(20, &input, Some([2, 3]));
        assert_eq!(
            s,
            Summary {
                lines: [2, 3],
                gaps: 0,
                dups: 0,
                corrupt: 0
            }
        );
        // A missing newline in the middle of a stream is corrupt.
        let mut input = lines(20, &[(O, 0)]);
        input.pop();
        input.extend(lines(20, &[(O, 1)]));
        assert_eq!(check(20, &input, None).corrupt, 1);
        // An over-long line is one corrupt line.
        let mut input = lines(20, &[(O, 0)]);
        input.insert(5, b'0');
        assert_eq!(check(20, &input, None).corrupt, 1);
    }

    #[test]
    fn separate_files() {
        let mut v = Verifier::new(20, None);
        v.feed(&lines(20, &[(O, 0), (O, 1)])[..], "out", Some(O)).unwrap();
        v.feed(&lines(20, &[(E, 0), (O, 2)])[..], "err", Some(E)).unwrap();
        let s = v.finish();
        assert_eq!(
            s,
            Summary {
                lines: [2, 1],
                gaps: 0,
                dups: 0,
                corrupt: 1
            }
        );
    }
}
