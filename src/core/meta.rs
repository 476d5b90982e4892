//! The metadata a copy carries over besides mode, owner and times: extended
//! attributes, and the report of how many went across.

use std::os::fd::{AsRawFd, BorrowedFd};

use nix::errno::Errno;

use super::error::{Error, Result};
use super::stats::Step;

/// What a commit did with the extended attributes.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub(crate) struct MetaReport {
    pub xattrs_copied: u32,
    pub xattrs_skipped: u32,
}

/// Attributes not copied: the security label belongs to where the file is, not to
/// what it holds.
const SKIP: &[&[u8]] = &[b"security.selinux"];

/// Calls a size-query-then-fill xattr function until the buffer is large enough.
fn fetch(mut call: impl FnMut(&mut [u8]) -> isize) -> std::result::Result<Vec<u8>, Errno> {
    let mut buf = vec![0u8; 256];
    loop {
        let n = call(&mut buf);
        if n >= 0 {
            buf.truncate(n as usize);
            return Ok(buf);
        }
        match Errno::last() {
            Errno::ERANGE => {
                let need = call(&mut []);
                if need < 0 {
                    return Err(Errno::last());
                }
                buf.resize((need as usize).max(buf.len() * 2), 0);
            }
            Errno::EINTR => continue,
            e => return Err(e),
        }
    }
}

/// Copies every extended attribute of `src` that `dst` accepts. One that cannot be
/// read or set (not supported there, not permitted, a trusted.* name without
/// privilege) is counted as skipped; running out of space or an I/O error fails.
pub(crate) fn copy_all(src: BorrowedFd<'_>, dst: BorrowedFd<'_>) -> Result<MetaReport> {
    let (s, d) = (src.as_raw_fd(), dst.as_raw_fd());
    let names = match fetch(|b| {
        // SAFETY: the buffer and its length are valid; a 0 length asks for the size.
        unsafe { libc::flistxattr(s, b.as_mut_ptr().cast(), b.len()) }
    }) {
        Ok(n) => n,
        // The source's file system has no extended attributes: nothing to copy.
        Err(Errno::ENOTSUP) => return Ok(MetaReport::default()),
        Err(e) => return Err(Error::new(e as i32, Step::Metadata)),
    };
    let mut report = MetaReport::default();
    for name in names.split(|&b| b == 0).filter(|n| !n.is_empty()) {
        if SKIP.contains(&name) {
            continue;
        }
        let mut cname = name.to_vec();
        cname.push(0);
        let value = fetch(|b| {
            // SAFETY: NUL-terminated name; valid buffer and length.
            unsafe { libc::fgetxattr(s, cname.as_ptr().cast(), b.as_mut_ptr().cast(), b.len()) }
        });
        let set = value.and_then(|v| {
            // SAFETY: NUL-terminated name; valid value buffer and length.
            let r =
                unsafe { libc::fsetxattr(d, cname.as_ptr().cast(), v.as_ptr().cast(), v.len(), 0) };
            if r == 0 { Ok(()) } else { Err(Errno::last()) }
        });
        match set {
            Ok(()) => report.xattrs_copied += 1,
            Err(e @ (Errno::ENOSPC | Errno::EDQUOT | Errno::EIO)) => {
                return Err(Error::new(e as i32, Step::Metadata));
            }
            Err(_) => report.xattrs_skipped += 1,
        }
    }
    Ok(report)
}
