//! Planting a name on zcio's path at the very moment it is about to use it.
//!
//! zcio's temporary names are random, so a test cannot guess them in advance.
//! Instead, a seccomp filter with a user-space listener stops every openat(2) and
//! linkat(2) of one thread on its way into the kernel; a supervisor thread reads
//! the name the call is about to create, plants a symlink or hard link there, and
//! only then lets the call go on (SECCOMP_USER_NOTIF_FLAG_CONTINUE). The kernel then
//! runs the call exactly as zcio made it, against the planted name: only O_EXCL (for
//! openat) or linkat's refusal to replace (for linkat) keeps the write out of the
//! planted file. The calls' flags and modes are recorded as well.
//!
//! Only the thread that runs the copy (and threads it starts) is filtered; the
//! filter goes away with that thread.
#![allow(dead_code)]

use std::ffi::{CStr, OsString};
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd, RawFd};
use std::os::unix::ffi::OsStringExt;
use std::os::unix::fs::FileExt;
use std::sync::atomic::{AtomicBool, Ordering};

/// One stopped call.
#[derive(Clone, Debug)]
pub struct Call {
    /// libc::SYS_openat or libc::SYS_linkat.
    pub nr: i64,
    /// The name the call creates or opens (openat's path, linkat's new path).
    pub name: OsString,
    /// openat's flags, linkat's flags.
    pub flags: u64,
    /// openat's mode (0 for linkat).
    pub mode: u64,
    /// Whether the planter put something at `name` before the call went on.
    pub planted: bool,
}

impl Call {
    /// A call that creates one of zcio's temporary names.
    pub fn is_temp_name(&self) -> bool {
        self.name.as_encoded_bytes().starts_with(b".zcio-")
    }
}

#[cfg(target_arch = "x86_64")]
const AUDIT_ARCH: u32 = 0xc000_003e;
#[cfg(target_arch = "aarch64")]
const AUDIT_ARCH: u32 = 0xc000_00b7;

/// Runs `work` on a new thread whose openat and linkat calls are stopped first.
/// For each call naming a `.zcio-` entry, `plant(nr, dirfd, name)` runs before the
/// kernel sees the call (dirfd is valid here: the process shares its descriptors)
/// and returns whether it planted something. Returns `work`'s result and the calls
/// seen, or None (with the reason printed) where seccomp listeners are unavailable.
#[cfg(any(target_arch = "x86_64", target_arch = "aarch64"))]
pub fn with_planter<R: Send>(
    mut plant: impl FnMut(i64, RawFd, &CStr) -> bool + Send,
    work: impl FnOnce() -> R + Send,
) -> Option<(R, Vec<Call>)> {
    let done = AtomicBool::new(false);
    let (tx, rx) = std::sync::mpsc::channel::<Result<RawFd, i32>>();
    std::thread::scope(|s| {
        let worker = s.spawn(|| {
            struct Done<'a>(&'a AtomicBool);
            impl Drop for Done<'_> {
                fn drop(&mut self) {
                    self.0.store(true, Ordering::SeqCst);
                }
            }
            let _done = Done(&done);
            match install() {
                Ok(fd) => {
                    tx.send(Ok(fd)).expect("send");
                    Some(work())
                }
                Err(e) => {
                    tx.send(Err(e)).expect("send");
                    None
                }
            }
        });
        let listener = match rx.recv().expect("recv") {
            Ok(fd) => {
                // SAFETY: the descriptor seccomp just returned, owned by nobody else.
                unsafe { OwnedFd::from_raw_fd(fd) }
            }
            Err(e) => {
                eprintln!(
                    "skip: no seccomp user notification: {}",
                    std::io::Error::from_raw_os_error(e)
                );
                let _ = worker.join();
                return None;
            }
        };
        let mem = std::fs::File::open("/proc/self/mem").expect("/proc/self/mem");
        let mut calls = Vec::new();
        loop {
            let mut pfd = libc::pollfd {
                fd: listener.as_raw_fd(),
                events: libc::POLLIN,
                revents: 0,
            };
            // SAFETY: one valid pollfd.
            let n = unsafe { libc::poll(&mut pfd, 1, 20) };
            if n <= 0 || pfd.revents & libc::POLLIN == 0 {
                if done.load(Ordering::SeqCst) {
                    break;
                }
                continue;
            }
            // SAFETY: a zeroed seccomp_notif is what the kernel asks for.
            let mut req: libc::seccomp_notif = unsafe { std::mem::zeroed() };
            // SAFETY: the listener and a seccomp_notif, as SECCOMP_IOCTL_NOTIF_RECV takes.
            if unsafe {
                libc::ioctl(
                    listener.as_raw_fd(),
                    libc::SECCOMP_IOCTL_NOTIF_RECV,
                    &mut req,
                )
            } != 0
            {
                continue; // the caller went away (ENOENT) or was interrupted
            }
            let a = req.data.args;
            let nr = i64::from(req.data.nr);
            // openat(dirfd, path, flags, mode); linkat(olddirfd, old, newdirfd, new, flags)
            let (dirfd, addr, flags, mode) = if nr == libc::SYS_openat {
                (a[0] as i32, a[1], a[2], a[3])
            } else {
                (a[2] as i32, a[3], a[4], 0)
            };
            let name = read_cstr(&mem, addr);
            let mut planted = false;
            if name.to_bytes().starts_with(b".zcio-") {
                // Plant only while the call is still waiting for us.
                let mut id = req.id;
                // SAFETY: the listener and a u64, as SECCOMP_IOCTL_NOTIF_ID_VALID takes.
                let valid = unsafe {
                    libc::ioctl(
                        listener.as_raw_fd(),
                        libc::SECCOMP_IOCTL_NOTIF_ID_VALID,
                        &mut id,
                    )
                } == 0;
                if valid {
                    planted = plant(nr, dirfd, &name);
                }
            }
            calls.push(Call {
                nr,
                name: OsString::from_vec(name.to_bytes().to_vec()),
                flags,
                mode,
                planted,
            });
            let mut resp = libc::seccomp_notif_resp {
                id: req.id,
                val: 0,
                error: 0,
                flags: libc::SECCOMP_USER_NOTIF_FLAG_CONTINUE as u32,
            };
            // SAFETY: the listener and a seccomp_notif_resp, as SECCOMP_IOCTL_NOTIF_SEND takes.
            unsafe {
                libc::ioctl(
                    listener.as_raw_fd(),
                    libc::SECCOMP_IOCTL_NOTIF_SEND,
                    &mut resp,
                )
            };
        }
        let r = match worker.join() {
            Ok(r) => r,
            Err(p) => std::panic::resume_unwind(p),
        };
        r.map(|r| (r, calls))
    })
}

/// Puts this thread under a filter that hands its openat and linkat calls to a
/// listener, and returns the listener.
#[cfg(any(target_arch = "x86_64", target_arch = "aarch64"))]
fn install() -> Result<RawFd, i32> {
    const LD: u16 = (libc::BPF_LD | libc::BPF_W | libc::BPF_ABS) as u16;
    const JEQ: u16 = (libc::BPF_JMP | libc::BPF_JEQ | libc::BPF_K) as u16;
    const RET: u16 = (libc::BPF_RET | libc::BPF_K) as u16;
    let ins = |code: u16, jt: u8, jf: u8, k: u32| libc::sock_filter { code, jt, jf, k };
    let prog = [
        ins(LD, 0, 0, 4), // seccomp_data.arch
        ins(JEQ, 1, 0, AUDIT_ARCH),
        ins(RET, 0, 0, libc::SECCOMP_RET_ALLOW),
        ins(LD, 0, 0, 0), // seccomp_data.nr
        ins(JEQ, 2, 0, libc::SYS_openat as u32),
        ins(JEQ, 1, 0, libc::SYS_linkat as u32),
        ins(RET, 0, 0, libc::SECCOMP_RET_ALLOW),
        ins(RET, 0, 0, libc::SECCOMP_RET_USER_NOTIF),
    ];
    let fprog = libc::sock_fprog {
        len: prog.len() as u16,
        filter: prog.as_ptr().cast_mut(),
    };
    // SAFETY: prctl and seccomp with the arguments their manual pages give; the
    // program outlives the call (the kernel copies it).
    unsafe {
        if libc::prctl(libc::PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0 {
            return Err(*libc::__errno_location());
        }
        let fd = libc::syscall(
            libc::SYS_seccomp,
            libc::SECCOMP_SET_MODE_FILTER,
            libc::SECCOMP_FILTER_FLAG_NEW_LISTENER,
            &fprog as *const libc::sock_fprog,
        );
        if fd < 0 {
            return Err(*libc::__errno_location());
        }
        Ok(fd as RawFd)
    }
}

/// The NUL-terminated string at `addr` in this process, read through /proc/self/mem
/// (which fails cleanly instead of faulting on a bad address).
fn read_cstr(mem: &std::fs::File, addr: u64) -> std::ffi::CString {
    let mut out = Vec::new();
    let mut at = addr;
    while out.len() < 4096 {
        // Never read across a page boundary in one go: the next page may be unmapped.
        let room = (4096 - (at % 4096)) as usize;
        let mut buf = vec![0u8; room.min(256)];
        let Ok(n) = mem.read_at(&mut buf, at) else {
            break;
        };
        if n == 0 {
            break;
        }
        if let Some(end) = buf[..n].iter().position(|&b| b == 0) {
            out.extend_from_slice(&buf[..end]);
            break;
        }
        out.extend_from_slice(&buf[..n]);
        at += n as u64;
    }
    std::ffi::CString::new(out).expect("no NUL inside")
}

/// A symlink at `name` in `dirfd` pointing to `to`.
pub fn plant_symlink(dirfd: RawFd, name: &CStr, to: &std::path::Path) -> bool {
    let to = std::ffi::CString::new(to.as_os_str().as_encoded_bytes()).expect("path");
    // SAFETY: two valid C strings and a directory descriptor of this process.
    unsafe { libc::symlinkat(to.as_ptr(), dirfd, name.as_ptr()) == 0 }
}

/// A hard link at `name` in `dirfd` to the existing file `to` (same file system).
pub fn plant_hard_link(dirfd: RawFd, name: &CStr, to: &std::path::Path) -> bool {
    let to = std::ffi::CString::new(to.as_os_str().as_encoded_bytes()).expect("path");
    // SAFETY: two valid C strings and a directory descriptor of this process.
    unsafe { libc::linkat(libc::AT_FDCWD, to.as_ptr(), dirfd, name.as_ptr(), 0) == 0 }
}

/// Elsewhere: no filter program written for this architecture.
#[cfg(not(any(target_arch = "x86_64", target_arch = "aarch64")))]
pub fn with_planter<R: Send>(
    _plant: impl FnMut(i64, RawFd, &CStr) -> bool + Send,
    _work: impl FnOnce() -> R + Send,
) -> Option<(R, Vec<Call>)> {
    eprintln!("skip: no seccomp filter for this architecture");
    None
}
