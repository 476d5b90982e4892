//! Thin, safe helpers over system calls that nix leaves raw or does not have.

use std::alloc::{self, Layout};
use std::ffi::CStr;
use std::os::fd::{AsRawFd, BorrowedFd};
use std::ptr::NonNull;

use nix::errno::Errno;
use nix::sys::stat::{FileStat, SFlag};

use super::error::{Error, Result};
use super::stats::Step;

/// A short path built on the stack: no allocation, so it works when memory is short.
pub(crate) struct StackPath {
    buf: [u8; 64],
    len: usize,
}

impl StackPath {
    pub(crate) fn as_bytes(&self) -> &[u8] {
        &self.buf[..self.len]
    }
}

impl std::fmt::Write for StackPath {
    fn write_str(&mut self, s: &str) -> std::fmt::Result {
        let end = self.len + s.len();
        self.buf
            .get_mut(self.len..end)
            .ok_or(std::fmt::Error)?
            .copy_from_slice(s.as_bytes());
        self.len = end;
        Ok(())
    }
}

/// `/proc/self/fd/N`, the name of an open descriptor.
pub(crate) fn proc_fd_path(fd: BorrowedFd<'_>) -> StackPath {
    use std::fmt::Write;
    let mut p = StackPath {
        buf: [0; 64],
        len: 0,
    };
    // 14 bytes and at most 11 digits: it fits.
    let _ = write!(p, "/proc/self/fd/{}", fd.as_raw_fd());
    p
}

/// Runs `f` again while it fails with EINTR.
pub(crate) fn retry<T>(mut f: impl FnMut() -> nix::Result<T>) -> nix::Result<T> {
    loop {
        match f() {
            Err(Errno::EINTR) => continue,
            r => return r,
        }
    }
}

/// The file type bits of a stat result.
pub(crate) fn file_type(st: &FileStat) -> SFlag {
    SFlag::from_bits_truncate(st.st_mode & SFlag::S_IFMT.bits())
}

pub(crate) fn is_reg(st: &FileStat) -> bool {
    file_type(st) == SFlag::S_IFREG
}

pub(crate) fn is_dir(st: &FileStat) -> bool {
    file_type(st) == SFlag::S_IFDIR
}

pub(crate) fn is_blk(st: &FileStat) -> bool {
    file_type(st) == SFlag::S_IFBLK
}

pub(crate) fn fstat(fd: BorrowedFd<'_>, step: Step) -> Result<FileStat> {
    nix::sys::stat::fstat(fd).map_err(|e| Error::new(e as i32, step))
}

/// Sets or clears O_DIRECT on an open file description.
pub(crate) fn set_direct(fd: BorrowedFd<'_>, on: bool) -> nix::Result<()> {
    use nix::fcntl::{FcntlArg, OFlag, fcntl};
    let cur = OFlag::from_bits_retain(fcntl(fd, FcntlArg::F_GETFL)?);
    let new = if on {
        cur | OFlag::O_DIRECT
    } else {
        cur - OFlag::O_DIRECT
    };
    if new != cur {
        fcntl(fd, FcntlArg::F_SETFL(new))?;
    }
    Ok(())
}

/// Clears O_NONBLOCK on a descriptor zcio opened with no other status flag that
/// F_SETFL changes (O_APPEND, O_ASYNC, O_DIRECT, O_NOATIME), so the flags need not
/// be read first.
pub(crate) fn clear_nonblock(fd: BorrowedFd<'_>) -> nix::Result<()> {
    use nix::fcntl::{FcntlArg, OFlag, fcntl};
    fcntl(fd, FcntlArg::F_SETFL(OFlag::empty())).map(drop)
}

/// posix_fadvise, whose failure never matters to a copy.
pub(crate) fn advise(fd: BorrowedFd<'_>, off: u64, len: u64, advice: libc::c_int) {
    // SAFETY: plain system call on a descriptor we borrow.
    unsafe {
        libc::posix_fadvise(
            fd.as_raw_fd(),
            off as libc::off_t,
            len as libc::off_t,
            advice,
        );
    }
}

/// Starts writeback of a range (sync_file_range); a failure only costs page cache.
pub(crate) fn start_writeback(fd: BorrowedFd<'_>, off: u64, len: u64, wait: bool) -> Result<()> {
    let flags = if wait {
        libc::SYNC_FILE_RANGE_WAIT_BEFORE
            | libc::SYNC_FILE_RANGE_WRITE
            | libc::SYNC_FILE_RANGE_WAIT_AFTER
    } else {
        libc::SYNC_FILE_RANGE_WRITE
    };
    // SAFETY: plain system call on a descriptor we borrow.
    let r = unsafe {
        libc::sync_file_range(
            fd.as_raw_fd(),
            off as libc::off64_t,
            len as libc::off64_t,
            flags,
        )
    };
    // EIO here is a real write error of earlier data; anything else only costs cache.
    if r < 0 && Errno::last() == Errno::EIO {
        return Err(Error::new(libc::EIO, Step::Write));
    }
    Ok(())
}

/// The subset of `statx` zcio uses.
pub(crate) struct Statx {
    pub mask: u32,
    pub dio_mem_align: u32,
    pub dio_offset_align: u32,
}

pub(crate) fn statx_fd(fd: BorrowedFd<'_>, mask: u32) -> nix::Result<Statx> {
    let mut st = std::mem::MaybeUninit::<libc::statx>::zeroed();
    let empty: &CStr = c"";
    // SAFETY: statx writes into `st`, which is large enough and zero-initialised.
    let r = unsafe {
        libc::statx(
            fd.as_raw_fd(),
            empty.as_ptr(),
            libc::AT_EMPTY_PATH,
            mask,
            st.as_mut_ptr(),
        )
    };
    Errno::result(r)?;
    // SAFETY: zero-initialised and then filled by the kernel.
    let st = unsafe { st.assume_init() };
    Ok(Statx {
        mask: st.stx_mask,
        dio_mem_align: st.stx_dio_mem_align,
        dio_offset_align: st.stx_dio_offset_align,
    })
}

/// pread that retries EINTR.
pub(crate) fn pread(fd: BorrowedFd<'_>, buf: &mut [u8], off: u64) -> nix::Result<usize> {
    retry(|| nix::sys::uio::pread(fd, buf, off as libc::off_t))
}

/// The size of a memory page.
pub(crate) fn page_size() -> u64 {
    // SAFETY: sysconf has no preconditions.
    let p = unsafe { libc::sysconf(libc::_SC_PAGESIZE) };
    if p > 0 { p as u64 } else { 4096 }
}

/// pread with `preadv2` flags (`RWF_*`), retrying EINTR.
pub(crate) fn pread_flags(
    fd: BorrowedFd<'_>,
    buf: &mut [u8],
    off: u64,
    flags: libc::c_int,
) -> nix::Result<usize> {
    let iov = libc::iovec {
        iov_base: buf.as_mut_ptr().cast(),
        iov_len: buf.len(),
    };
    retry(|| {
        // SAFETY: one iovec over `buf`, which outlives the call.
        let r = unsafe { libc::preadv2(fd.as_raw_fd(), &iov, 1, off as libc::off_t, flags) };
        Errno::result(r).map(|n| n as usize)
    })
}

/// One pwrite with `pwritev2` flags (`RWF_*`), retrying EINTR.
fn pwrite_flags(
    fd: BorrowedFd<'_>,
    buf: &[u8],
    off: u64,
    flags: libc::c_int,
) -> nix::Result<usize> {
    let iov = libc::iovec {
        iov_base: buf.as_ptr().cast_mut().cast(),
        iov_len: buf.len(),
    };
    retry(|| {
        // SAFETY: one iovec over `buf`, which outlives the call; the kernel only reads it.
        let r = unsafe { libc::pwritev2(fd.as_raw_fd(), &iov, 1, off as libc::off_t, flags) };
        Errno::result(r).map(|n| n as usize)
    })
}

/// Writes all of `buf` at `off`, looping over short writes and EINTR.
pub(crate) fn pwrite_all(
    fd: BorrowedFd<'_>,
    buf: &[u8],
    off: u64,
    calls: &mut u64,
) -> nix::Result<()> {
    pwrite_all_flags(fd, buf, off, 0, calls)
}

/// [`pwrite_all`] with `pwritev2` flags (`RWF_*`; 0 is a plain pwrite).
pub(crate) fn pwrite_all_flags(
    fd: BorrowedFd<'_>,
    mut buf: &[u8],
    mut off: u64,
    flags: libc::c_int,
    calls: &mut u64,
) -> nix::Result<()> {
    while !buf.is_empty() {
        let n = if flags == 0 {
            retry(|| nix::sys::uio::pwrite(fd, buf, off as libc::off_t))?
        } else {
            pwrite_flags(fd, buf, off, flags)?
        };
        *calls += 1;
        if n == 0 {
            return Err(Errno::EIO);
        }
        buf = &buf[n..];
        off += n as u64;
    }
    Ok(())
}

/// The caller's umask, without changing it (umask(2) would, for every thread).
pub(crate) fn umask() -> u32 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find_map(|l| l.strip_prefix("Umask:"))
                .and_then(|v| u32::from_str_radix(v.trim(), 8).ok())
        })
        .unwrap_or(0o022)
}

/// File systems whose regular files are exactly as large as they say: an empty
/// one there holds nothing (on /proc, /sys, FUSE or overlays a size of 0 proves
/// nothing).
const TRUE_SIZES: [nix::sys::statfs::FsType; 6] = {
    use nix::sys::statfs::*;
    [
        EXT4_SUPER_MAGIC,
        XFS_SUPER_MAGIC,
        BTRFS_SUPER_MAGIC,
        TMPFS_MAGIC,
        FsType(0x8584_58F6), // ramfs
        FsType(0xF2F5_2010), // F2FS
    ]
};

/// File systems on a block device where a large copy from the disk goes fastest
/// with Direct I/O (network and FUSE file systems may take O_DIRECT and do worse).
const DISK_FS: [nix::sys::statfs::FsType; 4] = {
    use nix::sys::statfs::*;
    [
        EXT4_SUPER_MAGIC,
        XFS_SUPER_MAGIC,
        BTRFS_SUPER_MAGIC,
        FsType(0xF2F5_2010), // F2FS
    ]
};

/// The file system type of each device already asked.
static FS_TYPES: std::sync::RwLock<Vec<(u64, Option<nix::sys::statfs::FsType>)>> =
    std::sync::RwLock::new(Vec::new());

/// The type of the file system of `fd` (on device `dev`), asked once per device.
fn fs_type(fd: BorrowedFd<'_>, dev: u64) -> Option<nix::sys::statfs::FsType> {
    if let Ok(v) = FS_TYPES.read()
        && let Some(&(_, t)) = v.iter().find(|(d, _)| *d == dev)
    {
        return t;
    }
    let t = nix::sys::statfs::fstatfs(fd)
        .ok()
        .map(|s| s.filesystem_type());
    if let Ok(mut v) = FS_TYPES.write()
        && v.len() < 64
    {
        v.push((dev, t));
    }
    t
}

/// Whether the file system of `fd` (on device `dev`) is one of [`TRUE_SIZES`].
pub(crate) fn sizes_are_true(fd: BorrowedFd<'_>, dev: u64) -> bool {
    fs_type(fd, dev).is_some_and(|t| TRUE_SIZES.contains(&t))
}

/// Whether the file system of `fd` (on device `dev`) is one of [`DISK_FS`].
pub(crate) fn on_disk_fs(fd: BorrowedFd<'_>, dev: u64) -> bool {
    fs_type(fd, dev).is_some_and(|t| DISK_FS.contains(&t))
}

/// cachestat(2) (Linux 6.5), the same number on every architecture.
const SYS_CACHESTAT: libc::c_long = 451;

/// How many bytes of the first `len` of `fd` are in the page cache; `None` where
/// the kernel cannot tell (before Linux 6.5).
pub(crate) fn cached_bytes(fd: BorrowedFd<'_>, len: u64) -> Option<u64> {
    #[repr(C)]
    struct Range {
        off: u64,
        len: u64,
    }
    #[repr(C)]
    #[derive(Default)]
    struct CacheStat {
        nr_cache: u64,
        nr_dirty: u64,
        nr_writeback: u64,
        nr_evicted: u64,
        nr_recently_evicted: u64,
    }
    let range = Range { off: 0, len };
    let mut cs = CacheStat::default();
    // SAFETY: both structs are the kernel's layout and outlive the call, which
    // only reads `range` and writes `cs`.
    let r = unsafe {
        libc::syscall(
            SYS_CACHESTAT,
            fd.as_raw_fd(),
            &raw const range,
            &raw mut cs,
            0u32,
        )
    };
    (r == 0).then(|| cs.nr_cache.saturating_mul(page_size()))
}

/// A zero-filled buffer of `len` bytes, or ENOMEM: a copy that cannot get memory
/// fails, it never aborts the program it runs in.
pub(crate) fn zeroed(len: usize) -> Result<Vec<u8>> {
    let mut v = Vec::new();
    v.try_reserve_exact(len)
        .map_err(|_| Error::new(libc::ENOMEM, Step::Resource))?;
    v.resize(len, 0);
    Ok(v)
}

/// Buffers of at least this size are mapped on their own, in transparent huge
/// pages where the kernel allows: a 1 MiB I/O on 4 KiB pages has 256 segments,
/// more than many block devices take in one request (virtio-blk: 254), so the
/// kernel splits it in two; on a 2 MiB page it is one segment.
const HUGE: usize = 1 << 20;
const HUGE_PAGE: usize = 2 << 20;

/// A zero-filled buffer whose address is a multiple of `align`.
///
/// Zero-filled so that no byte of it ever carries old memory into a file,
/// whatever a short read leaves unwritten.
pub(crate) struct AlignedBuf {
    ptr: NonNull<u8>,
    len: usize,
    /// How it was allocated, to free it the same way.
    kind: BufKind,
}

enum BufKind {
    Heap(Layout),
    /// An anonymous mapping of this many bytes at `ptr`.
    Mapped(usize),
}

// SAFETY: AlignedBuf owns its allocation outright, like a Box<[u8]>.
unsafe impl Send for AlignedBuf {}
// SAFETY: shared references only give out &[u8].
unsafe impl Sync for AlignedBuf {}

impl AlignedBuf {
    pub(crate) fn new(len: usize, align: usize) -> Result<AlignedBuf> {
        let nomem = || Error::new(libc::ENOMEM, Step::Resource);
        // Where the huge-page mapping cannot be had (it reserves up to 2 MiB more
        // address space than it keeps), the plain heap may still have room.
        if len >= HUGE
            && align <= HUGE_PAGE
            && align.is_power_of_two()
            && let Some(b) = Self::mapped(len)
        {
            return Ok(b);
        }
        let layout = Layout::from_size_align(len.max(1), align.max(1)).map_err(|_| nomem())?;
        // SAFETY: the layout has a non-zero size.
        let ptr = unsafe { alloc::alloc_zeroed(layout) };
        let ptr = NonNull::new(ptr).ok_or_else(nomem)?;
        Ok(AlignedBuf {
            ptr,
            len,
            kind: BufKind::Heap(layout),
        })
    }

    /// Maps `len` bytes rounded up to whole huge pages, at a huge-page boundary.
    /// Anonymous memory comes zeroed, and is only touched when first used.
    fn mapped(len: usize) -> Option<AlignedBuf> {
        let size = len.checked_next_multiple_of(HUGE_PAGE)?;
        let span = size.checked_add(HUGE_PAGE)?;
        // SAFETY: a fresh private anonymous mapping; nothing else refers to it.
        let raw = unsafe {
            libc::mmap(
                std::ptr::null_mut(),
                span,
                libc::PROT_READ | libc::PROT_WRITE,
                libc::MAP_PRIVATE | libc::MAP_ANONYMOUS,
                -1,
                0,
            )
        };
        if raw == libc::MAP_FAILED {
            return None;
        }
        let lead = (raw as usize).next_multiple_of(HUGE_PAGE) - raw as usize;
        // SAFETY: both unmapped ranges lie inside the mapping just made, outside
        // [lead, lead + size); madvise only advises.
        unsafe {
            let start = raw.cast::<u8>().add(lead);
            if lead > 0 {
                libc::munmap(raw, lead);
            }
            if span - lead - size > 0 {
                libc::munmap(start.add(size).cast(), span - lead - size);
            }
            libc::madvise(start.cast(), size, libc::MADV_HUGEPAGE);
            Some(AlignedBuf {
                ptr: NonNull::new(start)?,
                len,
                kind: BufKind::Mapped(size),
            })
        }
    }

    pub(crate) fn as_slice(&self) -> &[u8] {
        // SAFETY: ptr is valid for len initialised bytes, owned by self.
        unsafe { std::slice::from_raw_parts(self.ptr.as_ptr(), self.len) }
    }

    pub(crate) fn as_mut_slice(&mut self) -> &mut [u8] {
        // SAFETY: as above, and &mut self makes the access unique.
        unsafe { std::slice::from_raw_parts_mut(self.ptr.as_ptr(), self.len) }
    }
}

impl Drop for AlignedBuf {
    fn drop(&mut self) {
        match self.kind {
            // SAFETY: allocated in new() with this very layout.
            BufKind::Heap(layout) => unsafe { alloc::dealloc(self.ptr.as_ptr(), layout) },
            // SAFETY: mapped in mapped() with this very size.
            BufKind::Mapped(size) => unsafe {
                libc::munmap(self.ptr.as_ptr().cast(), size);
            },
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn aligned_buf_is_aligned_and_zeroed() {
        for align in [512usize, 4096, 65536] {
            let b = AlignedBuf::new(3 * align, align).expect("alloc");
            assert_eq!(b.as_slice().as_ptr() as usize % align, 0);
            assert!(b.as_slice().iter().all(|&x| x == 0));
            assert_eq!(b.as_slice().len(), 3 * align);
        }
    }

    #[test]
    fn large_buffers_start_on_a_huge_page() {
        for len in [HUGE, 3 * HUGE + 4096, 16 * HUGE] {
            let mut b = AlignedBuf::new(len, 4096).expect("alloc");
            assert_eq!(b.as_slice().as_ptr() as usize % HUGE_PAGE, 0);
            assert_eq!(b.as_slice().len(), len);
            assert!(b.as_slice().iter().all(|&x| x == 0));
            // Writable to the last byte.
            b.as_mut_slice()[len - 1] = 1;
        }
        // An alignment a huge page cannot give falls back to the heap.
        let b = AlignedBuf::new(HUGE, 2 * HUGE_PAGE).expect("alloc");
        assert_eq!(b.as_slice().as_ptr() as usize % (2 * HUGE_PAGE), 0);
    }

    #[test]
    fn aligned_buf_refuses_bad_alignment() {
        let e = AlignedBuf::new(4096, 3).err().expect("must fail");
        assert_eq!(e.raw_os_error(), libc::ENOMEM);
    }
}
