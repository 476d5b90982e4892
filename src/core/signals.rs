//! Signal masks: zcio's own threads take none of the host program's signals, and
//! the SIGPIPE or SIGXFSZ a write of zcio raises never reaches the host program.

/// A signal set.
fn set_of(signals: Option<&[libc::c_int]>) -> libc::sigset_t {
    // SAFETY: sigemptyset/sigfillset/sigaddset initialise the set they are given.
    unsafe {
        let mut s = std::mem::zeroed::<libc::sigset_t>();
        match signals {
            None => {
                libc::sigfillset(&mut s);
            }
            Some(list) => {
                libc::sigemptyset(&mut s);
                for &sig in list {
                    libc::sigaddset(&mut s, sig);
                }
            }
        }
        s
    }
}

/// Blocks a set of signals on the calling thread until dropped, then restores the
/// mask it found.
pub(crate) struct Blocked {
    old: libc::sigset_t,
}

impl Blocked {
    fn new(set: &libc::sigset_t) -> Blocked {
        // SAFETY: pthread_sigmask changes only this thread's mask and stores the old
        // one in `old`.
        unsafe {
            let mut old = std::mem::zeroed::<libc::sigset_t>();
            libc::pthread_sigmask(libc::SIG_BLOCK, set, &mut old);
            Blocked { old }
        }
    }

    /// Every signal blocked. A new thread starts with its creator's mask, so a
    /// thread that spawns workers under this guard gives them no signals at all
    /// (a worker that blocked signals itself would be open to them until then).
    pub(crate) fn all() -> Blocked {
        Blocked::new(&set_of(None))
    }
}

impl Drop for Blocked {
    fn drop(&mut self) {
        // SAFETY: restores the mask saved by `new` on this same thread.
        unsafe { libc::pthread_sigmask(libc::SIG_SETMASK, &self.old, std::ptr::null_mut()) };
    }
}

/// The signals a write can raise at the calling thread: SIGPIPE (a reader that
/// has gone) and SIGXFSZ (a write at or past RLIMIT_FSIZE). Either kills a program
/// with default handling; zcio reports EPIPE and EFBIG instead.
const WRITE_SIGNALS: [libc::c_int; 2] = [libc::SIGPIPE, libc::SIGXFSZ];

/// Which of `WRITE_SIGNALS` are pending for this thread (or the process).
fn pending() -> [bool; 2] {
    // SAFETY: sigpending fills the set it is given.
    unsafe {
        let mut p = std::mem::zeroed::<libc::sigset_t>();
        let ok = libc::sigpending(&mut p) == 0;
        WRITE_SIGNALS.map(|sig| ok && libc::sigismember(&p, sig) == 1)
    }
}

/// Keeps SIGPIPE and SIGXFSZ from the host program for the life of a call that may
/// write to a socket or pipe whose reader has gone, or past the file-size limit:
/// both are blocked on this thread, and one that the call itself raised is
/// consumed before the old mask comes back. One that was pending before is left.
/// Inside another guard on the same thread (a tree copy's files) a guard does
/// nothing: the outer one covers it, and four system calls a file are saved.
pub(crate) struct SignalGuard {
    // Dropped after `drop` below has consumed the call's own signals.
    outer: Option<(Blocked, [bool; 2])>,
    // The mask and the depth are this thread's: the guard must not move.
    _here: std::marker::PhantomData<*const ()>,
}

thread_local! {
    /// How many guards this thread is inside.
    static DEPTH: std::cell::Cell<u32> = const { std::cell::Cell::new(0) };
}

impl SignalGuard {
    pub(crate) fn new() -> SignalGuard {
        let depth = DEPTH.get();
        DEPTH.set(depth + 1);
        if depth > 0 {
            return SignalGuard {
                outer: None,
                _here: std::marker::PhantomData,
            };
        }
        let pending_before = pending();
        SignalGuard {
            outer: Some((Blocked::new(&set_of(Some(&WRITE_SIGNALS))), pending_before)),
            _here: std::marker::PhantomData,
        }
    }
}

impl Drop for SignalGuard {
    fn drop(&mut self) {
        DEPTH.set(DEPTH.get().saturating_sub(1));
        let Some((_, pending_before)) = &self.outer else {
            return;
        };
        let now = pending();
        for (i, &sig) in WRITE_SIGNALS.iter().enumerate() {
            if pending_before[i] || !now[i] {
                continue;
            }
            let set = set_of(Some(&[sig]));
            let zero = libc::timespec {
                tv_sec: 0,
                tv_nsec: 0,
            };
            // SAFETY: the signal is blocked, so sigtimedwait takes it off the pending set.
            unsafe {
                libc::sigtimedwait(&set, std::ptr::null_mut(), &zero);
            }
        }
    }
}
