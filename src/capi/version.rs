//! The library's version at run time.

use std::ffi::c_char;

/// The version of the loaded library, "MAJOR.MINOR.PATCH", as in Cargo.toml. Compare
/// with the `ZCIO_VERSION_*` macros to see whether header and library agree.
///
/// Returns a static string, never NULL. Thread safety: safe.
#[unsafe(no_mangle)]
pub extern "C" fn zc_version() -> *const c_char {
    const V: &str = concat!(env!("CARGO_PKG_VERSION"), "\0");
    V.as_ptr().cast()
}
