//! Copy by write(2) from a read-only mapping of the source, in windows.
//!
//! zcio itself never touches the mapped memory: only the kernel reads it, inside
//! write(). So a source truncated by another process during the copy makes write
//! fail with EFAULT (or return short) instead of raising SIGBUS in the host program.

use std::num::NonZeroUsize;
use std::os::fd::AsFd;
use std::ptr::NonNull;

use nix::errno::Errno;
use nix::poll::PollFlags;
use nix::sys::mman::{MapFlags, MmapAdvise, ProtFlags};

use super::error::{Error, Result};
use super::fdio::{self, End, Pos, Xfer};
use super::options::FdFlags;
use super::stats::{Method, Step};
use super::sys;

/// Bytes mapped at a time.
const WINDOW: u64 = 8 << 20;

/// Copies up to `len` bytes (or to end of file: [`TO_EOF`](crate::TO_EOF)) from
/// the file `in_fd` to `out_fd` by write(2) from a read-only mapping of the
/// source, in windows, and returns the bytes moved. `in_off` as for
/// [`copy_file_range`](crate::copy_file_range); the destination is written at its
/// own offset. Without [`FdFlags::NO_FALLBACK`], a source that cannot be mapped (a
/// pipe, /proc) continues in a read/write loop.
///
/// zcio never touches the mapped memory itself, so a source truncated by another
/// process during the copy cannot raise SIGBUS: the copy ends early at the new end
/// of file (the count says how far it got), or fails with `EFAULT` when the fault
/// is not explained by a shorter file.
///
/// ```no_run
/// let src = std::fs::File::open("a")?;
/// let dst = std::fs::File::create("b")?;
/// let n = zcio::mmap_copy(&src, None, &dst, zcio::TO_EOF, zcio::FdFlags::empty())?;
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub fn mmap_copy(
    in_fd: impl AsFd,
    in_off: Option<&mut u64>,
    out_fd: impl AsFd,
    len: u64,
    flags: FdFlags,
) -> Result<u64> {
    fdio::transfer(in_fd.as_fd(), in_off, out_fd.as_fd(), None, len, flags, run)
}

/// An mmap'd window, unmapped when dropped.
struct Mapping {
    ptr: NonNull<libc::c_void>,
    len: NonZeroUsize,
}

impl Drop for Mapping {
    fn drop(&mut self) {
        // SAFETY: unmaps exactly what mmap returned.
        let _ = unsafe { nix::sys::mman::munmap(self.ptr, self.len.get()) };
    }
}

fn src_size(x: &Xfer<'_>) -> Result<u64> {
    Ok(sys::fstat(x.src, Step::Read)?.st_size.max(0) as u64)
}

/// Moves at most `piece` bytes of the transfer from a mapping, falling back as above.
pub(crate) fn run(x: &mut Xfer<'_>, piece: u64) -> Result<End> {
    if x.trace.fell_back.is_some() {
        return fdio::rw_loop(x, piece);
    }
    let stop_at = x.trace.moved.saturating_add(piece);
    // Only files and block devices can be mapped: pipes, sockets and character
    // devices go to read/write (or fail as mmap would, with ENODEV).
    let st = sys::fstat(x.src, Step::Read)?;
    if !sys::is_reg(&st) && !sys::is_blk(&st) {
        if sys::is_dir(&st) {
            return Err(Error::new(libc::EISDIR, Step::Read));
        }
        if x.may_fall_back() && x.trace.moved == 0 {
            return fdio::fall_back(x, libc::ENODEV, stop_at);
        }
        return Err(Error::new(libc::ENODEV, Step::Read));
    }
    // Work on an explicit offset; the descriptor's own is set once at the end.
    let own = x.src_pos == Pos::Fd;
    let mut pos = match x.src_pos {
        Pos::At(v) => v as u64,
        Pos::Fd => nix::unistd::lseek(x.src, 0, nix::unistd::Whence::SeekCur)
            .map_err(|e| Error::new(e as i32, Step::Read))? as u64,
    };
    let r = windows(x, &mut pos, stop_at);
    if own {
        let _ = nix::unistd::lseek(x.src, pos as i64, nix::unistd::Whence::SeekSet);
    } else {
        x.src_pos = Pos::At(pos as i64);
    }
    match r {
        Err(e)
            if x.may_fall_back()
                && fdio::not_here(
                    Errno::from_raw(e.raw_os_error()),
                    x.trace.moved,
                    Method::Mmap,
                )
                && x.trace.moved == 0 =>
        {
            fdio::fall_back(x, e.raw_os_error(), stop_at)
        }
        r => r,
    }
}

fn windows(x: &mut Xfer<'_>, pos: &mut u64, stop_at: u64) -> Result<End> {
    let page = sys::page_size();
    let mut size = src_size(x)?;
    if size == 0 && x.trace.moved == 0 {
        // Size 0 proves nothing (/proc, /sys): let read() find out.
        return Err(Error::new(libc::ENODEV, Step::Read));
    }
    while x.left > 0 {
        if x.trace.moved >= stop_at {
            return Ok(End::Piece);
        }
        if *pos >= size {
            size = src_size(x)?; // it may have grown
            if *pos >= size {
                return Ok(End::Done);
            }
        }
        let base = *pos - *pos % page;
        let end = size
            .min(base + WINDOW)
            .min(pos.saturating_add(x.left))
            .min(pos.saturating_add(stop_at - x.trace.moved));
        let map_len = NonZeroUsize::new((end - base) as usize)
            .ok_or_else(|| Error::new(libc::EINVAL, Step::Read))?;
        // SAFETY: a new private read-only mapping of the source; zcio never
        // dereferences it, only hands it to write().
        let ptr = unsafe {
            nix::sys::mman::mmap(
                None,
                map_len,
                ProtFlags::PROT_READ,
                MapFlags::MAP_SHARED,
                x.src,
                base as libc::off_t,
            )
        }
        .map_err(|e| Error::new(e as i32, Step::Read))?;
        let map = Mapping { ptr, len: map_len };
        // SAFETY: advice on our own mapping.
        let _ =
            unsafe { nix::sys::mman::madvise(map.ptr, map_len.get(), MmapAdvise::MADV_SEQUENTIAL) };
        let mut off = (*pos - base) as usize;
        while off < map_len.get() {
            // SAFETY: the pointer and length stay inside the mapping; the kernel
            // reads the memory, we never do.
            let r = unsafe {
                libc::write(
                    fdio::raw(x.dst),
                    map.ptr.as_ptr().cast::<u8>().add(off).cast(),
                    map_len.get() - off,
                )
            };
            if r > 0 {
                off += r as usize;
                *pos += r as u64;
                x.moved(r as usize);
                continue;
            }
            match if r == 0 { Errno::EIO } else { Errno::last() } {
                Errno::EINTR => continue,
                Errno::EAGAIN if x.nonblock() => return Ok(End::WouldBlock),
                Errno::EAGAIN => fdio::wait_ready(x.dst, PollFlags::POLLOUT)?,
                Errno::EFAULT => {
                    // The file shrank under the mapping: its new end is our end.
                    if src_size(x)? <= *pos {
                        return Ok(End::Done);
                    }
                    // Else the page could not be read in: a plain read of it says
                    // why (an I/O error, most often), which EFAULT would hide.
                    let mut probe = [0u8; 512];
                    if let Err(e) = sys::pread(x.src, &mut probe, *pos) {
                        return Err(Error::new(e as i32, Step::Read));
                    }
                    return Err(Error::new(libc::EFAULT, Step::Read));
                }
                e => return Err(Error::new(e as i32, Step::Write)),
            }
        }
    }
    Ok(End::Done)
}
