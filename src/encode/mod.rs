//! Encoders: records to bytes for each sink (pure).
//!
//! `resp` builds Redis commands. Every encoder computes the exact length
//! first and then writes all-or-nothing into the caller's slice, so a record
//! is never half-queued.

pub mod resp;
