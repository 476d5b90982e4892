//! The descriptor calls, on descriptor numbers the Python layer took from ints or
//! from objects' `fileno()`.

use std::os::fd::{BorrowedFd, RawFd};

use pyo3::prelude::*;

use crate::errors::{fd_error, os_error};
use crate::watch::on_main_thread;

/// How much one piece of a long transfer on the main thread moves before the
/// thread looks for signals: about 60 ms at 1 GB/s.
const PIECE: u64 = 64 << 20;

/// `fd`, borrowed for the length of one call.
fn borrow(fd: &RawFd) -> BorrowedFd<'_> {
    // SAFETY: the number came from the caller (an int or an object's fileno()),
    // who keeps it open for the call, as with os.sendfile; zcio only passes it to
    // system calls, which say EBADF for a number that is not open, and never
    // closes it. Negative numbers were refused before this.
    unsafe { BorrowedFd::borrow_raw(*fd) }
}

fn check_fd(py: Python<'_>, fd: RawFd) -> PyResult<RawFd> {
    if fd < 0 {
        return Err(os_error(py, libc::EBADF, None, None));
    }
    Ok(fd)
}

fn flags(nonblock: bool, fallback: bool) -> zcio::FdFlags {
    let mut f = zcio::FdFlags::empty();
    f.set(zcio::FdFlags::NONBLOCK, nonblock);
    f.set(zcio::FdFlags::NO_FALLBACK, !fallback);
    f
}

/// Runs a transfer of `count` bytes (or to end of file: `None`) with the GIL
/// released. On the main thread a blocking transfer goes in pieces, with a look
/// for signals between them, so Ctrl-C stops it; what moved before stays moved
/// (the offsets say how far it got). `step(want)` moves at most `want` bytes.
fn transfer(
    py: Python<'_>,
    count: Option<u64>,
    nonblock: bool,
    mut step: impl FnMut(u64) -> zcio::Result<u64> + Send,
) -> PyResult<u64> {
    let total = count.unwrap_or(zcio::TO_EOF);
    let piece = if on_main_thread(py) && !nonblock {
        PIECE
    } else {
        zcio::TO_EOF
    };
    let mut moved: u64 = 0;
    loop {
        let left = if total == zcio::TO_EOF {
            zcio::TO_EOF
        } else {
            total - moved
        };
        let want = left.min(piece);
        let n = py.detach(|| step(want)).map_err(|e| fd_error(py, &e))?;
        moved += n;
        // A piece short of what it asked for is the end of the data (or, under
        // nonblock, all there was).
        if n < want || want == left {
            return Ok(moved);
        }
        py.check_signals()?;
    }
}

/// sendfile(2) to completion; see `zcio.sendfile`.
#[pyfunction]
#[pyo3(signature = (out_fd, in_fd, offset=None, count=None, *, nonblock=false, fallback=true))]
pub fn sendfile(
    py: Python<'_>,
    out_fd: RawFd,
    in_fd: RawFd,
    offset: Option<u64>,
    count: Option<u64>,
    nonblock: bool,
    fallback: bool,
) -> PyResult<u64> {
    let (o, i) = (check_fd(py, out_fd)?, check_fd(py, in_fd)?);
    let mut off = offset;
    let f = flags(nonblock, fallback);
    transfer(py, count, nonblock, |want| {
        zcio::sendfile(borrow(&o), borrow(&i), off.as_mut(), want, f)
    })
}

/// splice(2) between any two descriptors; see `zcio.splice`.
#[pyfunction]
#[pyo3(signature = (src, dst, count=None, offset_src=None, offset_dst=None, *, nonblock=false, fallback=true))]
#[allow(clippy::too_many_arguments)]
pub fn splice(
    py: Python<'_>,
    src: RawFd,
    dst: RawFd,
    count: Option<u64>,
    offset_src: Option<u64>,
    offset_dst: Option<u64>,
    nonblock: bool,
    fallback: bool,
) -> PyResult<u64> {
    let (s, d) = (check_fd(py, src)?, check_fd(py, dst)?);
    let (mut os, mut od) = (offset_src, offset_dst);
    let f = flags(nonblock, fallback);
    transfer(py, count, nonblock, |want| {
        zcio::splice(borrow(&s), os.as_mut(), borrow(&d), od.as_mut(), want, f)
    })
}

/// copy_file_range(2) to completion; see `zcio.copy_file_range`.
#[pyfunction]
#[pyo3(signature = (src, dst, count=None, offset_src=None, offset_dst=None, *, nonblock=false, fallback=true))]
#[allow(clippy::too_many_arguments)]
pub fn copy_file_range(
    py: Python<'_>,
    src: RawFd,
    dst: RawFd,
    count: Option<u64>,
    offset_src: Option<u64>,
    offset_dst: Option<u64>,
    nonblock: bool,
    fallback: bool,
) -> PyResult<u64> {
    let (s, d) = (check_fd(py, src)?, check_fd(py, dst)?);
    let (mut os, mut od) = (offset_src, offset_dst);
    let f = flags(nonblock, fallback);
    transfer(py, count, nonblock, |want| {
        zcio::copy_file_range(borrow(&s), os.as_mut(), borrow(&d), od.as_mut(), want, f)
    })
}

/// write(2) from a mapping of the source; see `zcio.mmap_copy`.
#[pyfunction]
#[pyo3(signature = (src, dst, count=None, offset_src=None, *, nonblock=false, fallback=true))]
pub fn mmap_copy(
    py: Python<'_>,
    src: RawFd,
    dst: RawFd,
    count: Option<u64>,
    offset_src: Option<u64>,
    nonblock: bool,
    fallback: bool,
) -> PyResult<u64> {
    let (s, d) = (check_fd(py, src)?, check_fd(py, dst)?);
    let mut os = offset_src;
    let f = flags(nonblock, fallback);
    transfer(py, count, nonblock, |want| {
        zcio::mmap_copy(borrow(&s), os.as_mut(), borrow(&d), want, f)
    })
}

/// FICLONE: the destination file becomes a copy-on-write clone of the source.
#[pyfunction]
pub fn reflink(py: Python<'_>, src: RawFd, dst: RawFd) -> PyResult<()> {
    let (s, d) = (check_fd(py, src)?, check_fd(py, dst)?);
    py.detach(|| zcio::reflink(borrow(&s), borrow(&d)))
        .map_err(|e| fd_error(py, &e))
}

/// Turns Direct I/O on or off for the open file; see `zcio.directio`.
#[pyfunction]
pub fn directio(py: Python<'_>, fd: RawFd, on: bool) -> PyResult<()> {
    let fd = check_fd(py, fd)?;
    let advice = if on {
        zcio::Advice::On
    } else {
        zcio::Advice::Off
    };
    py.detach(|| zcio::directio(borrow(&fd), advice))
        .map_err(|e| fd_error(py, &e))
}

/// The Direct I/O alignment of the open file: `(memory, offset, source)`, or
/// None where the file system does no Direct I/O.
#[pyfunction]
pub fn dio_alignment(py: Python<'_>, fd: RawFd) -> PyResult<Option<(u32, u32, &'static str)>> {
    let fd = check_fd(py, fd)?;
    let a = py
        .detach(|| zcio::dio_alignment(borrow(&fd)))
        .map_err(|e| fd_error(py, &e))?;
    Ok(a.map(|a| {
        let source = match a.source {
            zcio::AlignSource::Statx => "statx",
            zcio::AlignSource::BlockDevice => "block_device",
            _ => "default",
        };
        (a.mem, a.offset, source)
    }))
}
