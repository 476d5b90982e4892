//! Error descriptions.

use std::ffi::{c_char, c_int};

/// A description of the errno value `err`, which may be given with either sign
/// (`zc_strerror(-EIO)` and `zc_strerror(EIO)` agree).
///
/// Returns a static string that is never NULL and never changes; unknown values
/// give "Unknown error".
///
/// Thread safety: safe.
#[unsafe(no_mangle)]
pub extern "C" fn zc_strerror(err: c_int) -> *const c_char {
    super::guard::ffi_guard!(c"Unknown error".as_ptr(), {
        crate::core::error::strerror_c(err).as_ptr()
    })
}
