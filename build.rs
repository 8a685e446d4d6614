//! Build script: link flags for the shipped static binary alone (tools/ is built
//! for musl too, and its std needs its unwind tables).
//!
//! Every page of the binary is resident in each logger (the kernel maps the file
//! pages around every fault), so its size is memory:
//! - the unwind tables are discarded (`panic = "abort"`: nothing ever unwinds, yet
//!   the precompiled core and musl objects bring ~11 KB; `.cargo/no-eh-frame.ld`);
//! - no RELRO page alignment (static and non-PIE, nothing is relocated at run
//!   time; it cost 1.7 KB of padding) and no build id;
//! - a small common page size, so ld does not page-align the data segment in the
//!   file to save an address-space page of `.bss` (2 KB of padding, flipping with
//!   every few bytes of code).

fn main() {
    println!("cargo:rerun-if-changed=build.rs");
    println!("cargo:rerun-if-changed=.cargo/no-eh-frame.ld");
    if std::env::var("TARGET").as_deref() != Ok("x86_64-unknown-linux-musl") {
        return;
    }
    let dir = std::env::var("CARGO_MANIFEST_DIR").expect("cargo sets CARGO_MANIFEST_DIR");
    let script = format!("-Wl,-T,{dir}/.cargo/no-eh-frame.ld");
    for arg in [
        "-Wl,-z,norelro",
        "-Wl,-z,common-page-size=64",
        "-Wl,--build-id=none",
        "-Wl,--no-eh-frame-hdr",
        &script,
    ] {
        println!("cargo:rustc-link-arg-bins={arg}");
    }
}
