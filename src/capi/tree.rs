//! Whole trees: `zc_copy_tree()` and its option and statistics initialisers.

use std::ffi::{CString, c_char, c_int, c_void};
use std::ops::ControlFlow;
use std::os::unix::ffi::OsStrExt;

use super::copy::init_sized;
use super::guard::{PANIC_ERRNO, ffi_guard};
use super::types::*;
use super::{STRUCT_MAX, code, path_arg, read_settings, struct_size};
use crate::{
    Error, Existing, Follow, Phase, Preserve, Step, TreeError, TreeOptions, TreeProgress, TreeStats,
};

/// The C callbacks and their arguments. zc_copy_tree's contract lets zcio call
/// them from any of its threads (one at a time, under its own lock), so the
/// pointers may cross threads.
struct Callbacks {
    progress: zc_tree_progress_fn,
    progress_arg: *mut c_void,
    on_error: zc_tree_error_fn,
    error_arg: *mut c_void,
}

// SAFETY: zcio calls each callback with its argument one call at a time, as the
// header documents; the caller gave them knowing they may run on other threads.
unsafe impl Sync for Callbacks {}

impl Callbacks {
    fn progress(&self, p: TreeProgress) -> ControlFlow<()> {
        let Some(f) = self.progress else {
            return ControlFlow::Continue(());
        };
        let c = zc_tree_progress {
            size: std::mem::size_of::<zc_tree_progress>() as u32,
            walk_done: u32::from(p.walk_done),
            entries_done: p.entries_done,
            entries_known: p.entries_known,
            bytes_done: p.bytes_done,
            bytes_known: p.bytes_known,
        };
        // SAFETY: the caller's function and argument, called as documented.
        if unsafe { f(&c, self.progress_arg) } != 0 {
            ControlFlow::Break(())
        } else {
            ControlFlow::Continue(())
        }
    }

    fn error(&self, e: &TreeError<'_>) -> ControlFlow<()> {
        let Some(f) = self.on_error else {
            return ControlFlow::Continue(());
        };
        // A path with a NUL in it cannot be one; it is told as empty.
        let path = CString::new(e.path.as_os_str().as_bytes()).unwrap_or_default();
        let (err, step) = (e.error.raw_os_error(), e.error.step() as u32);
        // SAFETY: the caller's function and argument, called as documented; the path
        // lives until the call returns.
        if unsafe { f(path.as_ptr(), err, step, self.error_arg) } != 0 {
            ControlFlow::Break(())
        } else {
            ControlFlow::Continue(())
        }
    }
}

/// A caller's `zc_tree_options`, read up to its `size` and checked.
///
/// # Safety
/// `p` is NULL or points to a `zc_tree_options` of at least its `size` bytes, whose
/// `file` is NULL or a valid `zc_options`.
unsafe fn read_tree_options(p: *const zc_tree_options) -> Result<zc_tree_options, Error> {
    // SAFETY: an all-zero zc_tree_options is the defaults (NULL pointers, no callbacks).
    let mut o: zc_tree_options = unsafe { std::mem::zeroed() };
    o.size = std::mem::size_of::<zc_tree_options>() as u32;
    if p.is_null() {
        return Ok(o);
    }
    let ours = std::mem::size_of::<zc_tree_options>();
    // SAFETY: caller's contract.
    let size = unsafe { struct_size(p.cast(), ours, ours, true) }?;
    // SAFETY: copies min(size, ours) bytes of plain data.
    unsafe {
        std::ptr::copy_nonoverlapping(p.cast::<u8>(), (&raw mut o).cast::<u8>(), size.min(ours));
    }
    Ok(o)
}

fn enum_arg<T: Copy>(v: u32, table: &[T]) -> Result<T, Error> {
    table
        .get(v as usize)
        .copied()
        .ok_or_else(|| Error::new(libc::EINVAL, Step::Args))
}

/// Copies the tree at `src` to `dst` as `cp -r` does (as `cp -a` with
/// `opts->preserve = ZC_PRESERVE_ALL`): regular files through the same per-file copy
/// as `zc_copy_file()` (reflink, copy_file_range, holes kept, a temporary file that
/// replaces the destination only when complete), directories made first and given
/// their mode, owner, extended attributes and times after their contents,
/// symlinks recreated as symlinks, hard links kept as hard links (under
/// `ZC_PRESERVE_LINKS`), FIFOs, sockets and devices recreated (devices need the
/// privilege to make them: otherwise that entry fails with `-EPERM`). Several
/// entries are copied at once (`opts->jobs`).
///
/// `dst` is the copy's root: made when missing, merged into when it is a directory
/// already (unless `ZC_TREE_NO_MERGE`). `src` may also be a single file, symlink or
/// special file. A `dst` inside `src` (or `src` itself) is refused with `-EINVAL`
/// before anything is written. The walk opens every entry relative to its
/// directory's descriptor and never follows a symlink it was not told to, so a
/// tree changing under the copy can make it read nothing outside `src` and write
/// nothing outside `dst`; a directory swapped during the copy is an error for that
/// entry (`-ESTALE`, `-ELOOP` or `-ENOTDIR`). An existing symlink in the
/// destination is replaced, never written through.
///
/// An entry that fails is reported to `opts->on_error` (which may stop the copy)
/// and the copy goes on; the call then returns the first error. Memory stays small
/// whatever the tree's size (only files with several links are remembered), and
/// descriptors stay within `RLIMIT_NOFILE`.
///
/// Returns 0, or `-errno`: `-EINVAL` (NULL path, bad options, `dst` inside `src`),
/// `-ENOENT`, `-EEXIST` (`ZC_TREE_NO_MERGE` and `dst` exists, or `dst` is not a
/// directory where a directory is copied), `-ECANCELED` (the progress callback
/// stopped the copy), `-E2BIG` (a larger struct with unknown non-zero fields), or
/// the first entry's error. `*stats_out` is filled in either case.
///
/// NULL: `opts` NULL means defaults; `stats_out` NULL means no statistics.
///
/// Thread safety: safe; the callbacks may be called from any of the copy's threads,
/// one at a time.
///
/// # Safety
/// `src` and `dst` are NULL or NUL-terminated strings; `opts` and `stats_out` are
/// NULL or point to structs set up by `zc_tree_options_init()`/`zc_tree_stats_init()`.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn zc_copy_tree(
    src: *const c_char,
    dst: *const c_char,
    opts: *const zc_tree_options,
    stats_out: *mut zc_tree_stats,
) -> c_int {
    ffi_guard!(-PANIC_ERRNO, {
        // SAFETY: caller's contract.
        let out = match unsafe { TreeStatsOut::new(stats_out) } {
            Ok(o) => o,
            Err(e) => return -e.raw_os_error(),
        };
        // SAFETY: caller's contract.
        let r = unsafe { copy_tree(src, dst, opts) };
        let (stats, step) = match &r {
            Ok(s) => (*s, Step::None),
            Err(e) => (e.tree_stats().copied().unwrap_or_default(), e.step()),
        };
        out.write(&stats, step);
        code(r.map(drop))
    })
}

/// # Safety
/// As `zc_copy_tree`.
unsafe fn copy_tree(
    src: *const c_char,
    dst: *const c_char,
    opts: *const zc_tree_options,
) -> Result<TreeStats, Error> {
    // SAFETY: caller's contract.
    let (src, dst) = unsafe { (path_arg(src)?, path_arg(dst)?) };
    // SAFETY: caller's contract.
    let c = unsafe { read_tree_options(opts) }?;
    if c.flags
        & !(ZC_TREE_ONE_FILE_SYSTEM
            | ZC_TREE_NO_MERGE
            | ZC_TREE_NO_BYTE_TOTALS
            | ZC_TREE_DEFAULT_MODES)
        != 0
    {
        return Err(Error::invalid());
    }
    let preserve = Preserve::from_bits(c.preserve).ok_or_else(Error::invalid)?;
    let existing = enum_arg(
        c.existing,
        &[Existing::Replace, Existing::Keep, Existing::Newer],
    )?;
    let follow = enum_arg(c.follow, &[Follow::Never, Follow::Top, Follow::All])?;
    let phase = enum_arg(
        c.phase,
        &[Phase::All, Phase::Data, Phase::Commit, Phase::Dirs],
    )?;
    if c.reserved != 0 {
        return Err(Error::invalid());
    }
    // SAFETY: caller's contract for `file`.
    let file = unsafe { read_settings(c.file) }?;
    let cbs = Callbacks {
        progress: c.progress,
        progress_arg: c.progress_arg,
        on_error: c.on_error,
        error_arg: c.error_arg,
    };
    let progress = |p: TreeProgress| cbs.progress(p);
    let on_error = |e: &TreeError<'_>| cbs.error(e);
    let mut o = TreeOptions::new()
        .preserve(preserve)
        .existing(existing)
        .follow(follow)
        .jobs(c.jobs)
        .one_file_system(c.flags & ZC_TREE_ONE_FILE_SYSTEM != 0)
        .merge(c.flags & ZC_TREE_NO_MERGE == 0)
        .byte_totals(c.flags & ZC_TREE_NO_BYTE_TOTALS == 0)
        .default_modes(c.flags & ZC_TREE_DEFAULT_MODES != 0)
        .part(c.part_index, c.part_count.max(1))
        .phase(phase);
    o.file = file;
    if c.progress.is_some() {
        o = o.progress(&progress);
    }
    if c.on_error.is_some() {
        o = o.on_error(&on_error);
    }
    o.copy_tree(src, dst)
}

/// Where to write `zc_tree_stats`, checked before the copy starts.
struct TreeStatsOut {
    p: *mut zc_tree_stats,
    size: usize,
}

impl TreeStatsOut {
    /// # Safety
    /// `p` is NULL or points to a writable `zc_tree_stats` of at least its `size`.
    unsafe fn new(p: *mut zc_tree_stats) -> Result<TreeStatsOut, Error> {
        if p.is_null() {
            return Ok(TreeStatsOut { p, size: 0 });
        }
        let ours = std::mem::size_of::<zc_tree_stats>();
        // SAFETY: caller's contract.
        let size = unsafe { struct_size(p.cast(), ours, ours, true) }?;
        Ok(TreeStatsOut { p, size })
    }

    fn write(&self, s: &TreeStats, step: Step) {
        if self.p.is_null() {
            return;
        }
        let c = zc_tree_stats {
            size: self.size as u32,
            failed_step: step as u32,
            files: s.files,
            dirs: s.dirs,
            symlinks: s.symlinks,
            hardlinks: s.hardlinks,
            specials: s.specials,
            bytes: s.bytes,
            bytes_reflinked: s.bytes_reflinked,
            bytes_in_holes: s.bytes_in_holes,
            skipped: s.skipped,
            errors: s.errors,
            files_by_method: s.files_by_method,
            elapsed_ns: u64::try_from(s.elapsed.as_nanos()).unwrap_or(u64::MAX),
        };
        let n = self
            .size
            .min(std::mem::size_of::<zc_tree_stats>())
            .min(STRUCT_MAX);
        // SAFETY: checked in new(): the caller's struct has `size` writable bytes; its
        // size field (the first four) is left as it is.
        unsafe {
            std::ptr::copy_nonoverlapping(
                (&raw const c).cast::<u8>().add(4),
                self.p.cast::<u8>().add(4),
                n - 4,
            );
        }
    }
}

/// Fills `*opts` with the defaults of `cp -r`, for a struct of this library's
/// size. The header's `zc_tree_options_init(opts)` macro calls
/// `zc_tree_options_init_sized()` with the caller's `sizeof` instead; callers
/// through FFI call this function.
///
/// NULL: does nothing. Thread safety: safe.
///
/// # Safety
/// `opts` is NULL or points to a writable `zc_tree_options`.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn zc_tree_options_init(opts: *mut zc_tree_options) {
    // SAFETY: forwarded caller's contract.
    unsafe { zc_tree_options_init_sized(opts, std::mem::size_of::<zc_tree_options>()) }
}

/// Fills `*stats` with zeros and sets its size, for a struct of this library's
/// size; the header's `zc_tree_stats_init(stats)` macro passes the caller's
/// `sizeof` to `zc_tree_stats_init_sized()` instead.
///
/// NULL: does nothing. Thread safety: safe.
///
/// # Safety
/// `stats` is NULL or points to a writable `zc_tree_stats`.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn zc_tree_stats_init(stats: *mut zc_tree_stats) {
    // SAFETY: forwarded caller's contract.
    unsafe { zc_tree_stats_init_sized(stats, std::mem::size_of::<zc_tree_stats>()) }
}

/// Fills `*opts` with the defaults of `cp -r` (nothing preserved, existing files
/// replaced, destination directories merged into, no symlink followed, zcio's
/// number of parallel copies) and sets `opts->size`. The header's
/// `zc_tree_options_init(opts)` macro passes the caller's `sizeof`.
///
/// NULL: does nothing. Thread safety: safe.
///
/// # Safety
/// `opts` is NULL or points to `size` writable bytes.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn zc_tree_options_init_sized(opts: *mut zc_tree_options, size: usize) {
    ffi_guard!((), {
        // SAFETY: caller's contract.
        unsafe { init_sized(opts.cast(), size) }
    })
}

/// Fills `*stats` with zeros and sets `stats->size`; the header's
/// `zc_tree_stats_init(stats)` macro passes the caller's `sizeof`.
///
/// NULL: does nothing. Thread safety: safe.
///
/// # Safety
/// `stats` is NULL or points to `size` writable bytes.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn zc_tree_stats_init_sized(stats: *mut zc_tree_stats, size: usize) {
    ffi_guard!((), {
        // SAFETY: caller's contract.
        unsafe { init_sized(stats.cast(), size) }
    })
}

// The C numbers of the tree's choices are the Rust ones.
const _: () = {
    assert!(ZC_PRESERVE_MODE == Preserve::MODE.bits());
    assert!(ZC_PRESERVE_OWNERSHIP == Preserve::OWNERSHIP.bits());
    assert!(ZC_PRESERVE_TIMESTAMPS == Preserve::TIMESTAMPS.bits());
    assert!(ZC_PRESERVE_LINKS == Preserve::LINKS.bits());
    assert!(ZC_PRESERVE_XATTRS == Preserve::XATTRS.bits());
    assert!(ZC_PRESERVE_ALL == Preserve::all().bits());
    assert!(ZC_EXISTING_REPLACE == 0 && ZC_EXISTING_KEEP == 1 && ZC_EXISTING_NEWER == 2);
    assert!(ZC_FOLLOW_NEVER == 0 && ZC_FOLLOW_TOP == 1 && ZC_FOLLOW_ALL == 2);
    assert!(ZC_PHASE_ALL == 0 && ZC_PHASE_DATA == 1 && ZC_PHASE_COMMIT == 2 && ZC_PHASE_DIRS == 3);
    assert!(std::mem::size_of::<[u64; ZC_METHOD_COUNT as usize]>() == 8 * 8);
};
