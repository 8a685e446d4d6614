//! UTC timestamps as RFC 3339 text (support module, pure).
//!
//! No time-zone database and no `core::fmt`: days since the epoch become a
//! civil date with Howard Hinnant's `civil_from_days`, and digits are written
//! into a fixed-width buffer.

/// Length of `2026-12-03T18:41:00.123456789Z`.
pub const NANOS_LEN: usize = 30;
/// Length of `2026-12-03T18:41:00.123Z`.
pub const MILLIS_LEN: usize = 24;

/// Return (year, month, day) for days since 1970-01-01.
pub fn civil_from_days(z: i64) -> (i64, u32, u32) {
    let z = z + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let y = yoe + era * 400;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let m = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    (if m <= 2 { y + 1 } else { y }, m, d)
}

fn put(out: &mut [u8], at: usize, mut v: u64, width: usize) {
    for i in (0..width).rev() {
        out[at + i] = b'0' + (v % 10) as u8;
        v /= 10;
    }
}

/// Write `YYYY-MM-DDTHH:MM:SS` for `secs` since the epoch into `out[..19]`.
fn date_time(secs: u64, out: &mut [u8]) {
    let (y, m, d) = civil_from_days((secs / 86_400) as i64);
    let s = secs % 86_400;
    put(out, 0, y.clamp(0, 9999) as u64, 4);
    out[4] = b'-';
    put(out, 5, m as u64, 2);
    out[7] = b'-';
    put(out, 8, d as u64, 2);
    out[10] = b'T';
    put(out, 11, s / 3600, 2);
    out[13] = b':';
    put(out, 14, s / 60 % 60, 2);
    out[16] = b':';
    put(out, 17, s % 60, 2);
}

/// Format nanoseconds since the epoch with nanosecond precision.
pub fn rfc3339_nanos(ns: u64, out: &mut [u8; NANOS_LEN]) {
    date_time(ns / 1_000_000_000, out);
    out[19] = b'.';
    put(out, 20, ns % 1_000_000_000, 9);
    out[29] = b'Z';
}

/// Format nanoseconds since the epoch with millisecond precision.
pub fn rfc3339_millis(ns: u64, out: &mut [u8; MILLIS_LEN]) {
    date_time(ns / 1_000_000_000, out);
    out[19] = b'.';
    put(out, 20, ns / 1_000_000 % 1000, 3);
    out[23] = b'Z';
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn known_instants() {
        let mut b = [0u8; NANOS_LEN];
        rfc3339_nanos(0, &mut b);
        assert_eq!(&b, b"1970-01-01T00:00:00.000000000Z");
        // 2026-12-03T18:41:00.123456789Z: 20790 days after the epoch.
        let secs = 20_790u64 * 86_400 + 18 * 3600 + 41 * 60;
        rfc3339_nanos(secs * 1_000_000_000 + 123_456_789, &mut b);
        assert_eq!(&b, b"2026-12-03T18:41:00.123456789Z");
        let mut m = [0u8; MILLIS_LEN];
        rfc3339_millis(secs * 1_000_000_000 + 123_456_789, &mut m);
        assert_eq!(&m, b"2026-12-03T18:41:00.123Z");
    }

    #[test]
    fn leap_days() {
        assert_eq!(civil_from_days(11_016), (2000, 2, 29));
        assert_eq!(civil_from_days(19_417), (2023, 3, 1));
        assert_eq!(civil_from_days(-1), (1969, 12, 31));
        assert_eq!(civil_from_days(47_540), (2100, 2, 28));
        assert_eq!(civil_from_days(47_541), (2100, 3, 1));
    }
}
