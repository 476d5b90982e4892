//! The buffered copy for files that refuse O_DIRECT: reads and writes through the
//! page cache, dropping each chunk from it once written.

use std::os::fd::BorrowedFd;

use super::chunk::Pieces;
use crate::core::error::{At, Result};
use crate::core::progress::Reporter;
use crate::core::stats::{Stats, Step};
use crate::core::sys::{self, AlignedBuf};

/// The buffered copy for files that refuse O_DIRECT: reads and writes the pieces
/// (holes are skipped) through the page cache, but drops each chunk from it once
/// written, so the cache ends as it began. Returns the destination's final size.
pub(super) fn copy(
    src: BorrowedFd<'_>,
    dst: BorrowedFd<'_>,
    pieces: &Pieces<'_>,
    chunk: usize,
    progress: Reporter<'_>,
    stats: &mut Stats,
) -> Result<u64> {
    let mut buf = AlignedBuf::new(chunk, 4096)?;
    sys::advise(src, 0, 0, libc::POSIX_FADV_SEQUENTIAL);
    let mut written: u64 = 0;
    let mut eof = None;
    let mut prev: Option<(u64, u64)> = None;
    'pieces: while let Some(p) = pieces.next() {
        let (mut off, end) = (p.base, p.base + p.len as u64);
        while off < end {
            let want = ((end - off) as usize).min(chunk);
            let n = sys::pread(src, &mut buf.as_mut_slice()[..want], off).at(Step::Read)?;
            stats.io_calls += 1;
            if n == 0 {
                eof = Some(off);
                break 'pieces;
            }
            sys::pwrite_all(dst, &buf.as_slice()[..n], off, &mut stats.io_calls).at(Step::Write)?;
            sys::advise(src, off, n as u64, libc::POSIX_FADV_DONTNEED);
            // Write-behind: start this chunk's writeback, wait for the previous one
            // and drop it from the cache.
            sys::start_writeback(dst, off, n as u64, false)?;
            if let Some((po, pn)) = prev {
                sys::start_writeback(dst, po, pn, true)?;
                sys::advise(dst, po, pn, libc::POSIX_FADV_DONTNEED);
            }
            prev = Some((off, n as u64));
            off += n as u64;
            written += n as u64;
            stats.bytes = written;
            progress.report(written + pieces.skipped())?;
        }
    }
    if let Some((po, pn)) = prev {
        sys::start_writeback(dst, po, pn, true)?;
        sys::advise(dst, po, pn, libc::POSIX_FADV_DONTNEED);
    }
    let end = eof.unwrap_or(pieces.size);
    sys::retry(|| nix::unistd::ftruncate(dst, end as libc::off_t)).at(Step::Size)?;
    Ok(end)
}
