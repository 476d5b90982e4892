//! The C ABI: the only place with `#[unsafe(no_mangle)]`. Each exported function
//! checks its pointers, converts its arguments, calls one public function of the
//! Rust API and converts the result; panics never cross the boundary.

pub mod copy;
pub mod directio;
pub mod error;
pub mod fd;
mod guard;
pub mod tables;
pub mod tree;
pub mod types;
pub mod version;

use std::ffi::{CStr, c_char, c_int};
use std::ops::ControlFlow;
use std::os::fd::BorrowedFd;
use std::os::unix::ffi::OsStrExt;
use std::path::Path;

use crate::core::options::Settings;
use crate::{Error, Options, Progress, Stats, Step};
use types::{zc_options, zc_stats};

/// The size of `zc_options` in zcio 0.1; no caller struct can be smaller.
pub(crate) const OPTIONS_MIN: usize = 40;
/// The size of `zc_stats` in zcio 0.1.
pub(crate) const STATS_MIN: usize = 80;
/// No version of these structs will ever be this large: a larger `size` is garbage.
pub(crate) const STRUCT_MAX: usize = 4096;

/// `0` or `-errno` from a core result.
pub(crate) fn code(r: Result<(), Error>) -> c_int {
    match r {
        Ok(()) => 0,
        Err(e) => -e.raw_os_error(),
    }
}

/// A path argument: NUL-terminated bytes, not necessarily UTF-8. NULL is EINVAL.
///
/// # Safety
/// `p` is NULL or points to a NUL-terminated string that outlives `'a`.
pub(crate) unsafe fn path_arg<'a>(p: *const c_char) -> Result<&'a Path, Error> {
    if p.is_null() {
        return Err(Error::invalid());
    }
    // SAFETY: non-NULL and NUL-terminated by the caller's contract.
    let bytes = unsafe { CStr::from_ptr(p) }.to_bytes();
    Ok(Path::new(std::ffi::OsStr::from_bytes(bytes)))
}

/// A descriptor argument; negative ones are EBADF.
pub(crate) fn fd_arg<'a>(fd: c_int) -> Result<BorrowedFd<'a>, Error> {
    if fd < 0 {
        return Err(Error::new(libc::EBADF, Step::Args));
    }
    // SAFETY: zcio only passes it to system calls, which report EBADF if the caller
    // handed over a descriptor that is not open; it is never closed here.
    Ok(unsafe { BorrowedFd::borrow_raw(fd) })
}

/// Reads the `size` field that starts every versioned struct, and checks it.
///
/// # Safety
/// `p` is non-NULL and points to at least `size` readable bytes (the caller's
/// contract for these structs).
pub(crate) unsafe fn struct_size(
    p: *const u8,
    ours: usize,
    min: usize,
    check_tail: bool,
) -> Result<usize, Error> {
    // SAFETY: every such struct begins with a uint32_t size.
    let size = unsafe { p.cast::<u32>().read_unaligned() } as usize;
    if size < min {
        return Err(Error::invalid());
    }
    if size > STRUCT_MAX {
        return Err(Error::new(libc::E2BIG, Step::Args));
    }
    if check_tail && size > ours {
        // A newer caller: fine as long as it asks nothing this library does not know.
        // SAFETY: the caller's struct is `size` bytes long.
        let tail = unsafe { std::slice::from_raw_parts(p.add(ours), size - ours) };
        if tail.iter().any(|&b| b != 0) {
            return Err(Error::new(libc::E2BIG, Step::Args));
        }
    }
    Ok(size)
}

/// A caller's `zc_options`, read up to its `size` and checked; NULL gives defaults.
///
/// # Safety
/// `p` is NULL or points to a `zc_options` of at least its `size` bytes.
pub(crate) unsafe fn read_options(p: *const zc_options) -> Result<zc_options, Error> {
    let mut o = zc_options {
        size: std::mem::size_of::<zc_options>() as u32,
        method: types::ZC_METHOD_AUTO,
        flags: 0,
        queue_depth: 0,
        chunk_size: 0,
        progress: None,
        progress_arg: std::ptr::null_mut(),
        engine: types::ZC_ENGINE_AUTO,
    };
    if p.is_null() {
        return Ok(o);
    }
    let ours = std::mem::size_of::<zc_options>();
    // SAFETY: caller's contract.
    let size = unsafe { struct_size(p.cast(), ours, OPTIONS_MIN, true) }?;
    // SAFETY: copies min(size, ours) bytes of plain data; fields not covered keep
    // their defaults above. A zeroed function pointer is a valid None.
    unsafe {
        std::ptr::copy_nonoverlapping(p.cast::<u8>(), (&raw mut o).cast::<u8>(), size.min(ours));
    }
    Ok(o)
}

/// The settings of a caller's `zc_options` (all but the callback), checked.
fn settings_of(c: &zc_options) -> Result<Settings, Error> {
    let mut o = Options::new()
        .method(tables::method(c.method).ok_or_else(Error::invalid)?)
        .flags(tables::flags(c.flags).ok_or_else(Error::invalid)?)
        .queue_depth(c.queue_depth)
        .chunk_size(c.chunk_size);
    o = o.engine(tables::engine(c.engine).ok_or_else(Error::invalid)?);
    Ok(o.s)
}

/// The settings a caller's `zc_options` describes, its callback left out; NULL
/// gives the defaults.
///
/// # Safety
/// As [`read_options`].
pub(crate) unsafe fn read_settings(p: *const zc_options) -> Result<Settings, Error> {
    // SAFETY: caller's contract.
    settings_of(&unsafe { read_options(p) }?)
}

/// Calls `f` with the `Options` that a caller's `zc_options` describes.
///
/// # Safety
/// As [`read_options`].
pub(crate) unsafe fn with_options<R>(
    p: *const zc_options,
    f: impl FnOnce(&Options<'_>) -> Result<R, Error>,
) -> Result<R, Error> {
    // SAFETY: caller's contract.
    let c = unsafe { read_options(p) }?;
    let settings = settings_of(&c)?;
    let (cb, arg) = (c.progress, c.progress_arg);
    let call = move |p: Progress| -> ControlFlow<()> {
        match cb {
            // SAFETY: the caller gave this function and argument for this purpose.
            Some(f) if unsafe { f(p.done, p.total.unwrap_or(0), arg) } != 0 => {
                ControlFlow::Break(())
            }
            _ => ControlFlow::Continue(()),
        }
    };
    let mut opts = settings.options();
    if cb.is_some() {
        opts = opts.progress(&call);
    }
    f(&opts)
}

/// Where to write `zc_stats`, checked before the operation starts.
pub(crate) struct StatsOut {
    p: *mut zc_stats,
    size: usize,
}

impl StatsOut {
    /// # Safety
    /// `p` is NULL or points to a writable `zc_stats` of at least its `size` bytes.
    pub(crate) unsafe fn new(p: *mut zc_stats) -> Result<StatsOut, Error> {
        if p.is_null() {
            return Ok(StatsOut { p, size: 0 });
        }
        // SAFETY: caller's contract.
        let size =
            unsafe { struct_size(p.cast(), std::mem::size_of::<zc_stats>(), STATS_MIN, true) }?;
        Ok(StatsOut { p, size })
    }

    /// Writes `s` into the caller's struct, leaving its `size` and anything past
    /// what this library knows untouched.
    pub(crate) fn write(&self, s: &Stats) {
        if self.p.is_null() {
            return;
        }
        let mut c = zc_stats {
            size: self.size as u32,
            method: s.method as u32,
            fallbacks: s.fallback_bits,
            alignment: s.alignment,
            bytes: s.bytes,
            io_calls: s.io_calls,
            elapsed_ns: u64::try_from(s.elapsed.as_nanos()).unwrap_or(u64::MAX),
            engine: tables::engine_value(s.engine),
            failed_step: s.failed_step as u32,
            fallback_errno: s.fallback_errno,
            xattrs_copied: s.xattrs_copied,
            xattrs_skipped: s.xattrs_skipped,
            file_size: s.file_size,
            uncached: tables::uncached_value(s.uncached),
            reserved: 0,
        };
        c.size = self.size as u32;
        let n = self.size.min(std::mem::size_of::<zc_stats>());
        // SAFETY: checked in new(): the caller's struct has `size` writable bytes; the
        // first four (its size field) are left as they are.
        unsafe {
            std::ptr::copy_nonoverlapping(
                (&raw const c).cast::<u8>().add(4),
                self.p.cast::<u8>().add(4),
                n - 4,
            );
        }
    }
}

/// The body shared by the path-based copy calls: checks the stats pointer and the
/// paths, runs `f`, fills the stats (from the error on failure), returns `0` or
/// `-errno`.
///
/// # Safety
/// As [`path_arg`] for `src` and `dst`, [`with_options`] for `opts`, and
/// [`StatsOut::new`] for `stats_out`.
pub(crate) unsafe fn path_copy(
    src: *const c_char,
    dst: *const c_char,
    opts: *const zc_options,
    stats_out: *mut zc_stats,
    f: impl FnOnce(&Options<'_>, &Path, &Path) -> Result<Stats, Error>,
) -> c_int {
    // SAFETY: caller's contract.
    let out = match unsafe { StatsOut::new(stats_out) } {
        Ok(o) => o,
        Err(e) => return -e.raw_os_error(),
    };
    // SAFETY: caller's contract.
    let r = unsafe { path_arg(src) }
        .and_then(|s| Ok((s, unsafe { path_arg(dst) }?)))
        .and_then(|(s, d)| unsafe { with_options(opts, |o| f(o, s, d)) });
    let stats = match &r {
        Ok(s) => *s,
        Err(e) => e.stats().copied().unwrap_or(Stats {
            failed_step: e.step(),
            ..Stats::default()
        }),
    };
    out.write(&stats);
    code(r.map(drop))
}
