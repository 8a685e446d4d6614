//! The shipped artifact itself: a static executable whose writable segment holds
//! almost nothing from the file. All buffers must stay in `.bss` (zero-initialised,
//! resident only when touched); a non-zero initial value anywhere in the static state
//! moves all of it into `.data`, which grows the file and every logger's memory.

mod common;

use std::fs;

fn u16_at(b: &[u8], at: usize) -> u16 {
    u16::from_le_bytes([b[at], b[at + 1]])
}

fn u32_at(b: &[u8], at: usize) -> u32 {
    u32::from_le_bytes(b[at..at + 4].try_into().unwrap())
}

fn u64_at(b: &[u8], at: usize) -> u64 {
    u64::from_le_bytes(b[at..at + 8].try_into().unwrap())
}

#[test]
fn static_binary_with_state_in_bss() {
    let elf = fs::read(common::bin_path()).expect("read the binary");
    assert_eq!(&elf[..4], b"\x7fELF", "an ELF file");
    assert_eq!(elf[4], 2, "64-bit");
    let (phoff, phentsize, phnum) = (
        u64_at(&elf, 0x20) as usize,
        u16_at(&elf, 0x36) as usize,
        u16_at(&elf, 0x38),
    );
    let mut rw_file = None;
    let mut rw_mem = 0;
    for k in 0..phnum as usize {
        let ph = &elf[phoff + k * phentsize..];
        let (kind, flags) = (u32_at(ph, 0), u32_at(ph, 4));
        assert_ne!(kind, 3, "PT_INTERP: the binary is dynamically linked");
        assert_ne!(kind, 2, "PT_DYNAMIC: the binary is dynamically linked");
        if kind == 1 && flags & 2 != 0 {
            rw_file = Some(u64_at(ph, 0x20)); // p_filesz
            rw_mem = u64_at(ph, 0x28); // p_memsz
        }
    }
    let rw_file = rw_file.expect("a writable PT_LOAD segment");
    assert!(
        rw_file < 4096,
        "writable segment has {rw_file} bytes from the file: the static state left .bss"
    );
    assert!(
        rw_mem > 32 * 1024,
        "the buffers ({rw_mem} bytes) are in the writable segment"
    );
    // The budget of DESIGN.md and the README: every page of the binary is mapped
    // (the kernel maps file pages around each fault), so its size is resident memory.
    assert!(
        elf.len() <= 64 * 1024,
        "the binary is {} bytes, over its 64 KiB budget",
        elf.len()
    );
    eprintln!(
        "binary: {} bytes, writable segment {rw_file} bytes in the file, {rw_mem} in memory",
        elf.len()
    );
}
