//! Every fixed buffer size of the binary, with the memory arithmetic beside it.
//!
//! There is no heap: these constants are the whole data footprint. The
//! compile-time check at the bottom keeps the buffers touched under the
//! benchmark load (two Redis endpoints and the local file) within budget.

/// Bytes of one stream's line buffer; a longer line is cut into chunks of this size.
/// NOTE(memory): two of these (stdout, stderr).
pub const LINE_MAX: usize = 4096;

/// Bytes of one endpoint's out-buffer: commands waiting to be sent or acknowledged.
/// It must hold the largest single command (a full chunk plus the channel name).
pub const OUT_BUF: usize = 8192;

/// Most distinct Redis endpoints in one config.
/// NOTE(memory): only endpoints in use touch their pages.
pub const MAX_ENDPOINTS: usize = 4;

/// Scratch for one encoded command on its way to a spool, and for the config text.
pub const SCRATCH: usize = OUT_BUF;

/// Largest config file accepted, in bytes (it is read into the scratch buffer).
pub const CONFIG_MAX: usize = SCRATCH;

/// Encoded records (cri, json) gathered for one write to the local file.
/// NOTE(memory): touched only when the local file is not raw.
pub const FILE_BUF: usize = 4096;

/// Spooled commands gathered for one write to the spool file (per endpoint).
/// NOTE(memory): touched only while the endpoint spools; NOTE(speed): one
/// pwrite per loop turn or per this many bytes, not one per line.
pub const SPOOL_WB: usize = 2048;

/// Groups of commands in flight tracked per endpoint (16 bytes each; see `redis::InFlight`).
pub const INFLIGHT_GROUPS: usize = 64;

/// Bytes read from a Redis socket per recv.
pub const RECV_BUF: usize = 512;

/// Longest diagnostics line.
pub const DIAG_LINE: usize = 512;

/// Largest command the encoder may produce for a record: the chunk, the
/// target name and the RESP framing (array and bulk headers, the command word).
pub const CMD_MAX: usize = LINE_MAX + crate::url::TARGET_MAX + 128;

/// The data bytes touched under the benchmark load (two endpoints).
pub const LOAD_BYTES: usize =
    2 * LINE_MAX + 2 * OUT_BUF + 2 * SPOOL_WB + 2 * INFLIGHT_GROUPS * 16 + SCRATCH + RECV_BUF + DIAG_LINE;

/// Budget for buffers: the rest of 64 KiB goes to code, stack and libc.
pub const BUFFER_BUDGET: usize = 40 * 1024;

const _: () = assert!(LOAD_BYTES <= BUFFER_BUDGET);
const _: () = assert!(CMD_MAX <= OUT_BUF);
