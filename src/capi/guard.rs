//! What every exported function wraps its body in.

use std::ffi::c_int;

/// Runs an exported function's body, turning a panic into `$default` and leaving
/// the caller's `errno` as it was. Written inside each body so that cbindgen still
/// sees a plain signature.
macro_rules! ffi_guard {
    ($default:expr, $body:block) => {{
        let saved_errno = ::nix::errno::Errno::last_raw();
        let r = match ::std::panic::catch_unwind(::std::panic::AssertUnwindSafe(|| $body)) {
            Ok(v) => v,
            Err(_) => $default,
        };
        ::nix::errno::Errno::set_raw(saved_errno);
        r
    }};
}
pub(crate) use ffi_guard;

/// What a panic inside zcio is reported as.
pub(crate) const PANIC_ERRNO: c_int = libc::ENOTRECOVERABLE;

#[cfg(test)]
mod tests {
    use super::*;

    fn panics(errno_before: i32) -> c_int {
        nix::errno::Errno::set_raw(errno_before);
        ffi_guard!(-PANIC_ERRNO, {
            nix::errno::Errno::set_raw(libc::EIO);
            panic!("a bug inside zcio")
        })
    }

    /// What every exported function does when zcio panics: `-ENOTRECOVERABLE`,
    /// the caller's errno as it was, and the program goes on.
    #[test]
    fn a_panic_is_enotrecoverable_and_keeps_errno() {
        let hook = std::panic::take_hook();
        std::panic::set_hook(Box::new(|_| {}));
        let r = panics(libc::ENOENT);
        let errno = nix::errno::Errno::last_raw();
        std::panic::set_hook(hook);
        assert_eq!(r, -libc::ENOTRECOVERABLE);
        assert_eq!(errno, libc::ENOENT);
        let ok: c_int = ffi_guard!(-PANIC_ERRNO, { 7 });
        assert_eq!(ok, 7);
    }
}
