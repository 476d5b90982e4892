//! Direct I/O alignment: what the file system says (statx STATX_DIOALIGN, Linux 6.1+),
//! else the block device's logical block size, else 4096.

use std::os::fd::{AsFd, BorrowedFd};

use nix::sys::stat::FileStat;

use super::error::{Error, Result};
use super::stats::Step;
use super::sys;

/// The alignment Direct I/O needs on one file.
///
/// ```no_run
/// let f = std::fs::File::open("data.bin")?;
/// if let Some(a) = zcio::dio_alignment(&f)? {
///     println!("buffers on {} bytes, offsets on {} ({:?})", a.mem, a.offset, a.source);
/// }
/// # Ok::<(), zcio::Error>(())
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct DioAlign {
    /// Alignment of user memory buffers, in bytes.
    pub mem: u32,
    /// Alignment of file offsets and lengths, in bytes.
    pub offset: u32,
    /// Where the answer came from.
    pub source: AlignSource,
}

/// Where an alignment came from.
///
/// ```
/// assert_ne!(zcio::AlignSource::Statx, zcio::AlignSource::Default);
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum AlignSource {
    /// The file system answered statx(STATX_DIOALIGN).
    Statx,
    /// The block device's logical block size from sysfs.
    BlockDevice,
    /// Nothing answered: the safe 4096.
    Default,
}

/// The fallback when nothing better is known: the largest common logical block size.
pub(crate) const DEFAULT_ALIGN: u32 = 4096;

/// The Direct I/O alignment of an open file or block device.
///
/// `Ok(None)` means the file system says it cannot do Direct I/O on this file.
/// Other file types give `EINVAL`.
///
/// ```
/// let f = std::fs::File::open("/dev/null")?;
/// assert_eq!(zcio::dio_alignment(&f).unwrap_err().raw_os_error(), libc::EINVAL);
/// # Ok::<(), std::io::Error>(())
/// ```
pub fn dio_alignment(fd: impl AsFd) -> Result<Option<DioAlign>> {
    let fd = fd.as_fd();
    let st = sys::fstat(fd, Step::Args)?;
    dio_alignment_of(fd, &st)
}

pub(crate) fn dio_alignment_of(fd: BorrowedFd<'_>, st: &FileStat) -> Result<Option<DioAlign>> {
    if !sys::is_reg(st) && !sys::is_blk(st) {
        return Err(Error::new(libc::EINVAL, Step::Args));
    }
    if let Ok(sx) = sys::statx_fd(fd, libc::STATX_DIOALIGN)
        && sx.mask & libc::STATX_DIOALIGN != 0
    {
        if sx.dio_offset_align == 0 {
            return Ok(None);
        }
        return Ok(Some(DioAlign {
            mem: sx.dio_mem_align.max(1),
            offset: sx.dio_offset_align,
            source: AlignSource::Statx,
        }));
    }
    let dev = if sys::is_blk(st) {
        st.st_rdev
    } else {
        st.st_dev
    };
    if let Some(lbs) = logical_block_size(dev) {
        return Ok(Some(DioAlign {
            mem: lbs,
            offset: lbs,
            source: AlignSource::BlockDevice,
        }));
    }
    // No block device and no answer (ramfs, FUSE, NFS...): whether O_DIRECT is
    // there at all is only known by trying; ramfs refuses it at open.
    if accepts_direct(fd) == Some(false) {
        return Ok(None);
    }
    Ok(Some(DioAlign {
        mem: DEFAULT_ALIGN,
        offset: DEFAULT_ALIGN,
        source: AlignSource::Default,
    }))
}

/// Whether the file open on `fd` opens with O_DIRECT, tried on a second open of
/// it through /proc/self/fd with the same access mode; `None` when that cannot tell
/// (no /proc, no permission, a busy executable...).
fn accepts_direct(fd: BorrowedFd<'_>) -> Option<bool> {
    use nix::fcntl::{FcntlArg, OFlag, fcntl};
    let fl = OFlag::from_bits_retain(fcntl(fd, FcntlArg::F_GETFL).ok()?);
    if fl.contains(OFlag::O_PATH) {
        return None;
    }
    let path = sys::proc_fd_path(fd);
    let flags = (fl & OFlag::O_ACCMODE)
        | OFlag::O_DIRECT
        | OFlag::O_CLOEXEC
        | OFlag::O_NOCTTY
        | OFlag::O_NONBLOCK;
    match sys::retry(|| nix::fcntl::open(path.as_bytes(), flags, nix::sys::stat::Mode::empty())) {
        Ok(_) => Some(true),
        Err(nix::errno::Errno::EINVAL) => Some(false),
        Err(_) => None,
    }
}

/// The logical block size of the block device `dev`, from sysfs. A partition's
/// queue is its parent disk's.
fn logical_block_size(dev: libc::dev_t) -> Option<u32> {
    let (maj, min) = (libc::major(dev), libc::minor(dev));
    if maj == 0 {
        return None; // anonymous device: tmpfs, overlay, FUSE...
    }
    let base = format!("/sys/dev/block/{maj}:{min}");
    ["queue/logical_block_size", "../queue/logical_block_size"]
        .iter()
        .find_map(|rel| {
            let s = std::fs::read_to_string(format!("{base}/{rel}")).ok()?;
            let v: u32 = s.trim().parse().ok()?;
            (v.is_power_of_two() && v >= 512).then_some(v)
        })
}

/// The alignment that satisfies both files: the larger of each requirement.
pub(crate) fn combine(a: DioAlign, b: DioAlign) -> DioAlign {
    DioAlign {
        mem: a.mem.max(b.mem),
        offset: a.offset.max(b.offset),
        source: a.source,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn combine_takes_the_larger_of_each() {
        let a = DioAlign {
            mem: 512,
            offset: 4096,
            source: AlignSource::Statx,
        };
        let b = DioAlign {
            mem: 4096,
            offset: 512,
            source: AlignSource::Default,
        };
        let c = combine(a, b);
        assert_eq!((c.mem, c.offset), (4096, 4096));
    }

    #[test]
    fn anonymous_devices_have_no_block_size() {
        assert_eq!(logical_block_size(libc::makedev(0, 27)), None);
    }
}
