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

/// Scratch for the config text at start, then for one encoded command on its
/// way to a spool; and, with no endpoint and the raw local file format, where
/// a read of a pipe goes on past the line buffer (see `event_loop::spill`).
/// NOTE(memory): under the benchmark load (two endpoints) only a command's
/// worth of it is touched; NOTE(speed): a pipe read of the local-file-only
/// logger moves up to `LINE_MAX + SCRATCH` bytes.
pub const SCRATCH: usize = 16384;

/// Largest config file accepted, in bytes (it is read into the scratch buffer).
pub const CONFIG_MAX: usize = 8192;

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

/// The part of the scratch buffer touched with endpoints: the config text, then
/// commands too large for a spool's write-behind buffer.
const SCRATCH_USED: usize = if CONFIG_MAX > CMD_MAX { CONFIG_MAX } else { CMD_MAX };

/// The data bytes touched under the benchmark load (two endpoints).
pub const LOAD_BYTES: usize =
    2 * LINE_MAX + 2 * OUT_BUF + 2 * SPOOL_WB + 2 * INFLIGHT_GROUPS * 16 + SCRATCH_USED + RECV_BUF + DIAG_LINE;

/// Budget for buffers: the rest of 64 KiB goes to code, stack and libc.
pub const BUFFER_BUDGET: usize = 40 * 1024;

const _: () = assert!(LOAD_BYTES <= BUFFER_BUDGET);
const _: () = assert!(CMD_MAX <= OUT_BUF);
const _: () = assert!(CMD_MAX <= SCRATCH && CONFIG_MAX <= SCRATCH);
