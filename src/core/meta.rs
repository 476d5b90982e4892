//! The metadata a copy carries over besides mode, owner and times: extended
//! attributes, and the report of how many went across.

use std::ffi::{CStr, CString, OsStr};
use std::os::fd::{AsRawFd, BorrowedFd};
use std::os::unix::ffi::OsStrExt;

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

/// Gives the open file `fd`, now owned by `now`, the owner and group `want`. Only
/// root may give a file away; anyone may give it a group they are in: where the
/// pair is refused (EPERM), the group alone is tried. Returns the owner it has
/// after; a refusal is not an error (as `cp -p` does), anything else is.
pub(crate) fn give_owner(
    fd: BorrowedFd<'_>,
    now: (u32, u32),
    want: (u32, u32),
) -> Result<(u32, u32)> {
    use nix::unistd::{Gid, Uid, fchown};
    if now == want {
        return Ok(now);
    }
    match fchown(fd, Some(Uid::from_raw(want.0)), Some(Gid::from_raw(want.1))) {
        Ok(()) => return Ok(want),
        Err(Errno::EPERM | Errno::EINVAL) => {}
        Err(e) => return Err(Error::new(e as i32, Step::Metadata)),
    }
    if now.1 != want.1 && fchown(fd, None, Some(Gid::from_raw(want.1))).is_ok() {
        return Ok((now.0, want.1));
    }
    Ok(now)
}

/// The source's permission bits as `cp -p` gives them to a copy with owner
/// `owner`: set-user-ID only where the copy has the source's owner, set-group-ID
/// only where it has its group.
pub(crate) fn exact_mode(src: &nix::sys::stat::FileStat, owner: (u32, u32)) -> u32 {
    let mut mode = src.st_mode & 0o7777;
    if owner.0 != src.st_uid {
        mode &= !libc::S_ISUID;
    }
    if owner.1 != src.st_gid {
        mode &= !libc::S_ISGID;
    }
    mode
}

/// Calls a size-query-then-fill xattr function until the buffer is large enough.
fn fetch(mut call: impl FnMut(&mut [u8]) -> isize) -> std::result::Result<Vec<u8>, Errno> {
    // Grown fallibly: a copy short of memory fails with ENOMEM, it never aborts.
    let grow = |buf: &mut Vec<u8>, len: usize| {
        buf.try_reserve_exact(len.saturating_sub(buf.len()))
            .map_err(|_| Errno::ENOMEM)
            .map(|()| buf.resize(len, 0))
    };
    let mut buf = Vec::new();
    grow(&mut buf, 256)?;
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
                let len = (need as usize).max(buf.len() * 2);
                grow(&mut buf, len)?;
            }
            Errno::EINTR => continue,
            e => return Err(e),
        }
    }
}

/// Where extended attributes are read or written: an open file, or a symlink
/// itself, named through /proc/self/fd (the l*xattr calls take paths).
pub(crate) enum XattrAt<'a> {
    Fd(BorrowedFd<'a>),
    Link(CString),
}

impl XattrAt<'_> {
    /// The symlink `name` in the directory `dir` itself.
    pub(crate) fn link(dir: BorrowedFd<'_>, name: &OsStr) -> Option<XattrAt<'static>> {
        let mut p = format!("/proc/self/fd/{}/", dir.as_raw_fd()).into_bytes();
        p.extend_from_slice(name.as_bytes());
        CString::new(p).ok().map(XattrAt::Link)
    }

    fn list(&self, b: &mut [u8]) -> isize {
        match self {
            // SAFETY: the buffer and its length are valid; a 0 length asks for the size.
            XattrAt::Fd(fd) => unsafe {
                libc::flistxattr(fd.as_raw_fd(), b.as_mut_ptr().cast(), b.len())
            },
            // SAFETY: as above, with a NUL-terminated path.
            XattrAt::Link(p) => unsafe {
                libc::llistxattr(p.as_ptr(), b.as_mut_ptr().cast(), b.len())
            },
        }
    }

    fn get(&self, name: &CStr, b: &mut [u8]) -> isize {
        match self {
            // SAFETY: NUL-terminated name; valid buffer and length.
            XattrAt::Fd(fd) => unsafe {
                libc::fgetxattr(
                    fd.as_raw_fd(),
                    name.as_ptr(),
                    b.as_mut_ptr().cast(),
                    b.len(),
                )
            },
            // SAFETY: as above, with a NUL-terminated path.
            XattrAt::Link(p) => unsafe {
                libc::lgetxattr(p.as_ptr(), name.as_ptr(), b.as_mut_ptr().cast(), b.len())
            },
        }
    }

    /// Removes the attribute `name`; one that is not there (or not supported) is
    /// no error.
    fn remove(&self, name: &CStr) -> Result<()> {
        let r = match self {
            // SAFETY: a NUL-terminated name on a descriptor we borrow.
            XattrAt::Fd(fd) => unsafe { libc::fremovexattr(fd.as_raw_fd(), name.as_ptr()) },
            // SAFETY: as above, with a NUL-terminated path.
            XattrAt::Link(p) => unsafe { libc::lremovexattr(p.as_ptr(), name.as_ptr()) },
        };
        match (r, Errno::last()) {
            (0, _) | (_, Errno::ENODATA | Errno::ENOTSUP | Errno::EPERM | Errno::EACCES) => Ok(()),
            (_, e) => Err(Error::new(e as i32, Step::Metadata)),
        }
    }

    fn set(&self, name: &CStr, v: &[u8]) -> std::result::Result<(), Errno> {
        let r = match self {
            // SAFETY: NUL-terminated name; valid value buffer and length.
            XattrAt::Fd(fd) => unsafe {
                libc::fsetxattr(fd.as_raw_fd(), name.as_ptr(), v.as_ptr().cast(), v.len(), 0)
            },
            // SAFETY: as above, with a NUL-terminated path.
            XattrAt::Link(p) => unsafe {
                libc::lsetxattr(p.as_ptr(), name.as_ptr(), v.as_ptr().cast(), v.len(), 0)
            },
        };
        if r == 0 { Ok(()) } else { Err(Errno::last()) }
    }
}

/// Which extended attributes a copy carries: as `cp` has it, the POSIX ACLs go
/// with the mode (`--preserve=mode`), everything else with `--preserve=xattr`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Names {
    /// Every attribute but the ACLs (and the security label).
    Plain,
    /// The access and default ACLs only.
    Acls,
}

const ACLS: [&[u8]; 2] = [b"system.posix_acl_access", b"system.posix_acl_default"];

impl Names {
    fn takes(self, name: &[u8]) -> bool {
        let acl = ACLS.contains(&name);
        !SKIP.contains(&name)
            && match self {
                Names::Plain => !acl,
                Names::Acls => acl,
            }
    }
}

/// Copies the extended attributes of `src` named by `which` that `dst` accepts.
/// One that cannot be read or set (not supported there, not permitted, a
/// trusted.* name without privilege) is counted as skipped; running out of space
/// or an I/O error fails. Under `Names::Acls`, an ACL the source does not have is
/// taken off `dst` (one it inherited from a default ACL), so the copy is no wider.
pub(crate) fn copy_all(
    src: BorrowedFd<'_>,
    dst: BorrowedFd<'_>,
    which: Names,
) -> Result<MetaReport> {
    copy_between(&XattrAt::Fd(src), &XattrAt::Fd(dst), which)
}

/// [`copy_all`] between any two places.
pub(crate) fn copy_between(
    src: &XattrAt<'_>,
    dst: &XattrAt<'_>,
    which: Names,
) -> Result<MetaReport> {
    let names = match fetch(|b| src.list(b)) {
        Ok(n) => n,
        // The source's file system has no extended attributes: nothing to copy.
        Err(Errno::ENOTSUP) => return Ok(MetaReport::default()),
        Err(e) => return Err(Error::new(e as i32, Step::Metadata)),
    };
    let mut report = MetaReport::default();
    let mut acls = [false; 2];
    for name in names.split(|&b| b == 0).filter(|n| !n.is_empty()) {
        if !which.takes(name) {
            continue;
        }
        if let Some(i) = ACLS.iter().position(|a| *a == name) {
            acls[i] = true;
        }
        let Ok(cname) = CString::new(name) else {
            continue;
        };
        let set = fetch(|b| src.get(&cname, b)).and_then(|v| dst.set(&cname, &v));
        match set {
            Ok(()) => report.xattrs_copied += 1,
            Err(e @ (Errno::ENOSPC | Errno::EDQUOT | Errno::EIO | Errno::ENOMEM)) => {
                return Err(Error::new(e as i32, Step::Metadata));
            }
            Err(_) => report.xattrs_skipped += 1,
        }
    }
    if which == Names::Acls {
        for (name, had) in ACLS.iter().zip(acls) {
            if let (false, Ok(c)) = (had, CString::new(*name)) {
                dst.remove(&c)?;
            }
        }
    }
    Ok(report)
}

/// The attribute that holds a file's access ACL.
const ACL_ACCESS: &CStr = c"system.posix_acl_access";

/// Gives `dst`, the new file that replaces `old`, the extended attributes `old`
/// has (but the security label, as in `copy_between`) and, under `acl`, its access
/// ACL: none when `old` had none, so that a default ACL the new file inherited
/// makes it no wider than the file it replaces. Without `acl` the new file's own
/// ACL is left. One that cannot be read or set is passed over; running out of
/// space or memory, or an I/O error, fails.
pub(crate) fn carry_over(
    old: &XattrAt<'_>,
    dst: BorrowedFd<'_>,
    plain: bool,
    acl: bool,
) -> Result<()> {
    let names = match fetch(|b| old.list(b)) {
        Ok(n) => n,
        Err(Errno::ENOTSUP) => return Ok(()),
        Err(e) => return Err(Error::new(e as i32, Step::Metadata)),
    };
    let to = XattrAt::Fd(dst);
    let mut had_acl = false;
    for name in names.split(|&b| b == 0).filter(|n| !n.is_empty()) {
        let is_acl = name == ACL_ACCESS.to_bytes();
        had_acl |= is_acl;
        if SKIP.contains(&name) || (is_acl && !acl) || (!is_acl && !plain) {
            continue;
        }
        let Ok(cname) = CString::new(name) else {
            continue;
        };
        if let Err(e @ (Errno::ENOSPC | Errno::EDQUOT | Errno::EIO | Errno::ENOMEM)) =
            fetch(|b| old.get(&cname, b)).and_then(|v| to.set(&cname, &v))
        {
            return Err(Error::new(e as i32, Step::Metadata));
        }
    }
    if acl && !had_acl {
        // SAFETY: a NUL-terminated name on a descriptor we borrow.
        let r = unsafe { libc::fremovexattr(dst.as_raw_fd(), ACL_ACCESS.as_ptr()) };
        if r != 0 && Errno::last() == Errno::EIO {
            return Err(Error::new(libc::EIO, Step::Metadata));
        }
    }
    Ok(())
}
