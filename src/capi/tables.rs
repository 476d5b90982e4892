//! The C numbers of methods, engines, steps and flags, tied to the Rust types at
//! compile time: a variant or flag without its C constant, or a constant with
//! another value, does not build. Also the exported name lookups.

use std::ffi::{CStr, c_char};

use super::guard::ffi_guard;
use super::types::*;
use crate::core::options::{FdFlags, Flags};
use crate::core::stats::{Engine, Method, Step, Uncached};

/// The C value of each method (exhaustive: a new variant needs its constant).
const fn method_c(m: Method) -> u32 {
    match m {
        Method::Auto => ZC_METHOD_AUTO,
        Method::Direct => ZC_METHOD_DIRECT,
        Method::Reflink => ZC_METHOD_REFLINK,
        Method::CopyFileRange => ZC_METHOD_COPY_FILE_RANGE,
        Method::Sendfile => ZC_METHOD_SENDFILE,
        Method::Splice => ZC_METHOD_SPLICE,
        Method::Mmap => ZC_METHOD_MMAP,
        Method::ReadWrite => ZC_METHOD_READ_WRITE,
    }
}

const fn engine_c(e: Engine) -> u32 {
    match e {
        Engine::Sync => ZC_ENGINE_SYNC,
        Engine::Threads => ZC_ENGINE_THREADS,
        Engine::IoUring => ZC_ENGINE_IO_URING,
    }
}

const fn step_c(s: Step) -> u32 {
    match s {
        Step::None => ZC_STEP_NONE,
        Step::Args => ZC_STEP_ARGS,
        Step::OpenSrc => ZC_STEP_OPEN_SRC,
        Step::OpenDst => ZC_STEP_OPEN_DST,
        Step::Read => ZC_STEP_READ,
        Step::Write => ZC_STEP_WRITE,
        Step::Size => ZC_STEP_SIZE,
        Step::Sync => ZC_STEP_SYNC,
        Step::Commit => ZC_STEP_COMMIT,
        Step::Metadata => ZC_STEP_METADATA,
        Step::Cancel => ZC_STEP_CANCEL,
        Step::Resource => ZC_STEP_RESOURCE,
    }
}

// Each list is complete and each variant's number is its C value, so `as u32` and
// indexing by the C value agree everywhere.
const _: () = {
    assert!(Method::ALL.len() == ZC_METHOD_COUNT as usize);
    let mut i = 0;
    while i < Method::ALL.len() {
        assert!(method_c(Method::ALL[i]) == Method::ALL[i] as u32);
        assert!(Method::ALL[i] as usize == i);
        i += 1;
    }
    let mut i = 0;
    while i < Engine::ALL.len() {
        assert!(engine_c(Engine::ALL[i]) == Engine::ALL[i] as u32);
        assert!(Engine::ALL[i] as usize == i + 1);
        i += 1;
    }
    assert!(ZC_ENGINE_AUTO == 0 && ZC_ENGINE_NONE == 0);
    let mut i = 0;
    while i < Step::ALL.len() {
        assert!(step_c(Step::ALL[i]) == Step::ALL[i] as u32);
        assert!(Step::ALL[i] as usize == i);
        i += 1;
    }
    assert!(std::mem::size_of::<[i32; ZC_METHOD_COUNT as usize]>() == 4 * Method::ALL.len());
};

// Every flag has its C constant with the same bit, and no C constant is unknown
// to Rust.
const _: () = {
    assert!(ZC_F_FSYNC == Flags::FSYNC.bits());
    assert!(ZC_F_NO_FALLBACK == Flags::NO_FALLBACK.bits());
    assert!(ZC_F_EXCL == Flags::EXCL.bits());
    assert!(ZC_F_IN_PLACE == Flags::IN_PLACE.bits());
    assert!(ZC_F_NO_REFLINK == Flags::NO_REFLINK.bits());
    assert!(ZC_F_NO_SPARSE == Flags::NO_SPARSE.bits());
    assert!(ZC_F_PRESERVE_TIMES == Flags::PRESERVE_TIMES.bits());
    assert!(ZC_F_PRESERVE_XATTRS == Flags::PRESERVE_XATTRS.bits());
    assert!(ZC_F_NOFOLLOW == Flags::NOFOLLOW.bits());
    assert!(ZC_F_PRESERVE_MODE == Flags::PRESERVE_MODE.bits());
    assert!(ZC_F_PRESERVE_OWNER == Flags::PRESERVE_OWNER.bits());
    assert!(ZC_F_UNCACHED == Flags::UNCACHED.bits());
    assert!(ZC_F_DEFAULT_MODE == Flags::DEFAULT_MODE.bits());
    assert!(ZC_F_NONBLOCK == FdFlags::NONBLOCK.bits());
    assert!(ZC_F_NO_FALLBACK == FdFlags::NO_FALLBACK.bits());
    let c_all = ZC_F_FSYNC
        | ZC_F_NO_FALLBACK
        | ZC_F_EXCL
        | ZC_F_IN_PLACE
        | ZC_F_NO_REFLINK
        | ZC_F_NO_SPARSE
        | ZC_F_PRESERVE_TIMES
        | ZC_F_PRESERVE_XATTRS
        | ZC_F_NONBLOCK
        | ZC_F_NOFOLLOW
        | ZC_F_PRESERVE_MODE
        | ZC_F_PRESERVE_OWNER
        | ZC_F_UNCACHED
        | ZC_F_DEFAULT_MODE;
    assert!(c_all == Flags::all().bits() | FdFlags::all().bits());
};

/// The method with C value `v`.
pub(crate) fn method(v: u32) -> Option<Method> {
    Method::ALL.get(v as usize).copied()
}

/// The engine asked for by C value `v`: `Some(None)` for `ZC_ENGINE_AUTO`.
pub(crate) fn engine(v: u32) -> Option<Option<Engine>> {
    match v {
        ZC_ENGINE_AUTO => Some(None),
        v => Engine::ALL
            .get((v as usize).wrapping_sub(1))
            .map(|&e| Some(e)),
    }
}

/// The C value of the engine that ran, `ZC_ENGINE_NONE` for none.
pub(crate) fn engine_value(e: Option<Engine>) -> u32 {
    e.map_or(ZC_ENGINE_NONE, engine_c)
}

/// The C value of how an uncached copy kept the cache, `ZC_UNCACHED_NONE` for none.
pub(crate) fn uncached_value(u: Option<Uncached>) -> u32 {
    match u {
        None => ZC_UNCACHED_NONE,
        Some(Uncached::DontCache) => ZC_UNCACHED_DONTCACHE,
        Some(Uncached::Dropped) => ZC_UNCACHED_DROPPED,
    }
}

/// Flags of a path-based copy from C bits; `ZC_F_NONBLOCK` means nothing there
/// and is accepted, unknown bits are not.
pub(crate) fn flags(bits: u32) -> Option<Flags> {
    if bits & !(Flags::all().bits() | FdFlags::all().bits()) != 0 {
        return None;
    }
    Some(Flags::from_bits_truncate(bits))
}

/// Flags of a descriptor call from C bits; any other bit is refused.
pub(crate) fn fd_flags(bits: u32) -> Option<FdFlags> {
    FdFlags::from_bits(bits)
}

/// A name from the Rust side as the C string it already is (it ends in a NUL).
fn c_name(name: Option<&'static str>) -> *const c_char {
    name.and_then(|n| CStr::from_bytes_with_nul(n.as_bytes()).ok())
        .map_or(std::ptr::null(), CStr::as_ptr)
}

/// The name of the method `method` (one of `ZC_METHOD_*`): "auto", "direct",
/// "reflink", "copy_file_range", "sendfile", "splice", "mmap" or "read_write", the
/// names zcp's `--method` takes.
///
/// Returns a static string, or NULL when `method` is not a `ZC_METHOD_*` value.
///
/// Thread safety: safe.
#[unsafe(no_mangle)]
pub extern "C" fn zc_method_name(method: u32) -> *const c_char {
    ffi_guard!(std::ptr::null(), {
        c_name(self::method(method).map(Method::name_nul))
    })
}

/// The name of the Direct I/O engine `engine` (one of `ZC_ENGINE_*`): "auto" (the
/// value 0, which `zc_stats.engine` uses for "none ran"), "sync", "threads" or
/// "io_uring", the names zcp's `--engine` takes.
///
/// Returns a static string, or NULL when `engine` is not a `ZC_ENGINE_*` value.
///
/// Thread safety: safe.
#[unsafe(no_mangle)]
pub extern "C" fn zc_engine_name(engine: u32) -> *const c_char {
    ffi_guard!(std::ptr::null(), {
        c_name(self::engine(engine).map(|e| e.map_or("auto\0", Engine::name_nul)))
    })
}

/// The name of the step `step` (one of `ZC_STEP_*`, as in `zc_stats.failed_step`),
/// for messages: "none", "arguments", "open source", "open destination", "read",
/// "write", "size destination", "sync", "commit", "metadata", "cancel" or
/// "resource".
///
/// Returns a static string, or NULL when `step` is not a `ZC_STEP_*` value.
///
/// Thread safety: safe.
#[unsafe(no_mangle)]
pub extern "C" fn zc_step_name(step: u32) -> *const c_char {
    ffi_guard!(std::ptr::null(), {
        c_name(Step::ALL.get(step as usize).map(|s| s.name_nul()))
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn s(p: *const c_char) -> &'static str {
        // SAFETY: non-NULL results are static NUL-terminated strings.
        unsafe { CStr::from_ptr(p) }.to_str().unwrap_or("not UTF-8")
    }

    #[test]
    fn c_names_are_the_rust_names() {
        for m in Method::ALL {
            assert_eq!(s(zc_method_name(m as u32)), m.name());
        }
        assert_eq!(s(zc_engine_name(ZC_ENGINE_AUTO)), "auto");
        for e in Engine::ALL {
            assert_eq!(s(zc_engine_name(e as u32)), e.name());
        }
        for st in Step::ALL {
            assert_eq!(s(zc_step_name(st as u32)), st.name());
        }
        assert!(zc_method_name(ZC_METHOD_COUNT).is_null());
        assert!(zc_engine_name(4).is_null());
        assert!(zc_engine_name(u32::MAX).is_null());
        assert!(zc_step_name(12).is_null());
    }
}
