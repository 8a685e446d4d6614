#![cfg_attr(not(test), no_std)]
#![cfg_attr(not(test), no_main)]

#[cfg(not(test))]
#[panic_handler]
fn panic(_: &core::panic::PanicInfo) -> ! {
    unsafe { libc::_exit(101) }
}

#[cfg(not(test))]
#[no_mangle]
pub extern "C" fn main(_argc: i32, _argv: *const *const u8) -> i32 {
    0
}
#[cfg(test)]
mod t { #[test] fn x() { assert_eq!(itoa::Buffer::new().format(3), "3"); } }
#[cfg(all(not(test), target_env = "musl"))]
#[link(name = "c", kind = "static", modifiers = "-bundle")]
extern "C" {}
