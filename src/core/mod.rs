//! The safe engine of zcio. Nothing here knows about C; `crate::capi` wraps it.

pub mod align;
pub mod clone;
pub mod direct;
pub mod directio;
pub(crate) mod engine;
mod error;
pub(crate) mod fdio;
pub mod file;
pub mod mmap;
mod options;
pub mod range;
pub mod sendfile;
pub mod splice;
pub(crate) mod sys;
pub(crate) mod target;
mod xattr;

pub use fdio::{MAX_IO, TO_EOF};

/// Switches for tests that must reach paths this machine would not take by itself.
#[doc(hidden)]
pub mod testing {
    /// Makes every copy in this process use a named temporary file, as on a file
    /// system without O_TMPFILE.
    pub fn force_named_temp(on: bool) {
        super::target::NO_TMPFILE.store(on, std::sync::atomic::Ordering::Relaxed);
    }
}

pub use error::{Error, Result, Step};

pub use options::{Engine, Flags, Method, Options, Progress, Stats};

use std::ffi::CStr;

/// A static description of a (positive or negative) errno value.
pub fn strerror(errno: i32) -> &'static str {
    strerror_c(errno).to_str().unwrap_or("Unknown error")
}

/// [`strerror`] as a C string.
pub fn strerror_c(errno: i32) -> &'static CStr {
    match errno.checked_abs() {
        Some(0) => c"Success",
        Some(e) => describe(e).unwrap_or(c"Unknown error"),
        None => c"Unknown error",
    }
}

#[cfg(target_env = "gnu")]
fn describe(errno: i32) -> Option<&'static CStr> {
    unsafe extern "C" {
        // glibc 2.32+: a static, thread-safe description, NULL when unknown.
        fn strerrordesc_np(errnum: libc::c_int) -> *const libc::c_char;
    }
    // SAFETY: strerrordesc_np takes any int and returns NULL or a static string.
    let p = unsafe { strerrordesc_np(errno) };
    // SAFETY: non-NULL results are NUL-terminated strings with static storage.
    (!p.is_null()).then(|| unsafe { CStr::from_ptr(p) })
}

#[cfg(not(target_env = "gnu"))]
fn describe(errno: i32) -> Option<&'static CStr> {
    // SAFETY: strerror takes any int; musl returns pointers into a static table.
    let p = unsafe { libc::strerror(errno) };
    // SAFETY: as above.
    (!p.is_null()).then(|| unsafe { CStr::from_ptr(p) })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn strerror_takes_either_sign() {
        assert_eq!(strerror(libc::ENOENT), strerror(-libc::ENOENT));
        assert_eq!(strerror(libc::ENOENT), "No such file or directory");
        assert_eq!(strerror(0), "Success");
        assert_eq!(strerror(i32::MIN), "Unknown error");
        assert_eq!(strerror(99999), "Unknown error");
    }
}
