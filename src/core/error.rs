//! The one error type of zcio: an errno, the step of the copy that failed, and for
//! the path-based copies what the copy had done by then.

use std::ffi::CStr;
use std::fmt;
use std::io;

use super::stats::{Stats, Step, TreeStats};

/// A failed zcio operation: a positive errno value, the [`Step`] it failed in and,
/// for the path-based copies, the [`Stats`] of what had been done by then.
///
/// It converts to [`io::Error`] (with the matching [`io::ErrorKind`]) and back
/// without losing the step:
///
/// ```
/// let e = zcio::copy_file("/nonexistent/zcio-doc", "/tmp/zcio-doc-out").unwrap_err();
/// assert_eq!(e.raw_os_error(), libc::ENOENT);
/// assert_eq!(e.step(), zcio::Step::OpenSrc);
/// let io: std::io::Error = e.into();
/// assert_eq!(io.kind(), std::io::ErrorKind::NotFound);
/// assert_eq!(zcio::Error::from(io).step(), zcio::Step::OpenSrc);
/// ```
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Error {
    errno: i32,
    step: Step,
    stats: Option<Stats>,
    tree: Option<Box<TreeStats>>,
}

/// `std::result::Result` with zcio's [`Error`].
///
/// ```
/// fn copy(a: &str, b: &str) -> zcio::Result<u64> {
///     Ok(zcio::copy_file(a, b)?.bytes)
/// }
/// assert!(copy("/nonexistent/zcio-doc", "/tmp/zcio-doc-out").is_err());
/// ```
pub type Result<T, E = Error> = std::result::Result<T, E>;

impl Error {
    /// An error with `errno` (taken as positive whatever its sign; 0 becomes EIO)
    /// at `step`.
    ///
    /// ```
    /// let e = zcio::Error::new(-libc::ENOSPC, zcio::Step::Write);
    /// assert_eq!(e.raw_os_error(), libc::ENOSPC);
    /// ```
    pub fn new(errno: i32, step: Step) -> Error {
        let errno = errno.checked_abs().unwrap_or(libc::EOVERFLOW);
        Error {
            errno: if errno == 0 { libc::EIO } else { errno },
            step,
            stats: None,
            tree: None,
        }
    }

    /// Invalid arguments (`EINVAL`), refused before any I/O.
    pub(crate) fn invalid() -> Error {
        Error::new(libc::EINVAL, Step::Args)
    }

    /// The positive errno value.
    ///
    /// ```
    /// let e = zcio::Error::new(libc::EXDEV, zcio::Step::Write);
    /// assert_eq!(e.raw_os_error(), libc::EXDEV);
    /// ```
    pub fn raw_os_error(&self) -> i32 {
        self.errno
    }

    /// The [`io::ErrorKind`] of the errno value.
    ///
    /// ```
    /// let e = zcio::Error::new(libc::EEXIST, zcio::Step::Commit);
    /// assert_eq!(e.kind(), std::io::ErrorKind::AlreadyExists);
    /// ```
    pub fn kind(&self) -> io::ErrorKind {
        io::Error::from_raw_os_error(self.errno).kind()
    }

    /// The step that failed.
    ///
    /// ```
    /// let e = zcio::Error::new(libc::EIO, zcio::Step::Read);
    /// assert_eq!(e.step(), zcio::Step::Read);
    /// ```
    pub fn step(&self) -> Step {
        self.step
    }

    /// What a path-based copy had done when it failed (bytes written, methods given
    /// up, the engine that ran): always `Some` for [`copy_file`](crate::copy_file),
    /// [`directio_copy`](crate::directio_copy), [`splice_file`](crate::splice_file)
    /// and their [`Options`](crate::Options) forms; `None` for the descriptor calls.
    ///
    /// ```
    /// let e = zcio::copy_file("/nonexistent/zcio-doc", "/tmp/zcio-doc-out").unwrap_err();
    /// assert_eq!(e.stats().map(|s| s.bytes), Some(0));
    /// ```
    pub fn stats(&self) -> Option<&Stats> {
        self.stats.as_ref()
    }

    /// What a tree copy had done when it failed; `None` for other calls.
    ///
    /// ```no_run
    /// if let Err(e) = zcio::copy_tree("src", "dst") {
    ///     let s = e.tree_stats().expect("a tree copy's error");
    ///     eprintln!("{} entries failed; {} files were copied", s.errors, s.files);
    /// }
    /// ```
    pub fn tree_stats(&self) -> Option<&TreeStats> {
        self.tree.as_deref()
    }

    /// This error with the statistics of the tree copy that ended in it.
    pub(crate) fn with_tree_stats(self, stats: TreeStats) -> Error {
        Error {
            tree: Some(Box::new(stats)),
            ..self
        }
    }

    /// This error with the statistics of the copy that ended in it.
    pub(crate) fn with_stats(self, mut stats: Stats) -> Error {
        stats.failed_step = self.step;
        Error {
            stats: Some(stats),
            ..self
        }
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{}: {} (os error {})",
            self.step,
            strerror(self.errno),
            self.errno
        )
    }
}

impl std::error::Error for Error {}

impl From<Error> for io::Error {
    fn from(e: Error) -> io::Error {
        io::Error::new(e.kind(), e)
    }
}

/// An [`io::Error`] made from a zcio [`Error`] gives it back whole; any other
/// gives its errno (EIO when it has none) with [`Step::None`].
impl From<io::Error> for Error {
    fn from(e: io::Error) -> Error {
        if let Some(z) = e.get_ref().and_then(|inner| inner.downcast_ref::<Error>()) {
            return z.clone();
        }
        Error::new(e.raw_os_error().unwrap_or(libc::EIO), Step::None)
    }
}

impl From<nix::errno::Errno> for Error {
    fn from(e: nix::errno::Errno) -> Error {
        Error::new(e as i32, Step::None)
    }
}

/// Attaches a [`Step`] to the results of nix and std calls.
pub(crate) trait At<T> {
    fn at(self, step: Step) -> Result<T>;
}

impl<T> At<T> for nix::Result<T> {
    fn at(self, step: Step) -> Result<T> {
        self.map_err(|e| Error::new(e as i32, step))
    }
}

impl<T> At<T> for io::Result<T> {
    fn at(self, step: Step) -> Result<T> {
        self.map_err(|e| Error::new(e.raw_os_error().unwrap_or(libc::EIO), step))
    }
}

/// A static description of a (positive or negative) errno value.
pub(crate) fn strerror(errno: i32) -> &'static str {
    strerror_c(errno).to_str().unwrap_or("Unknown error")
}

/// [`strerror`] as a C string.
pub(crate) fn strerror_c(errno: i32) -> &'static CStr {
    match errno.checked_abs() {
        Some(0) => c"Success",
        Some(e) => describe(e).unwrap_or(c"Unknown error"),
        None => c"Unknown error",
    }
}

#[cfg(target_env = "gnu")]
fn describe(errno: i32) -> Option<&'static CStr> {
    unsafe extern "C" {
        // glibc 2.32+: a static, thread-safe description, NULL when unknown.
        fn strerrordesc_np(errnum: libc::c_int) -> *const libc::c_char;
    }
    // SAFETY: strerrordesc_np takes any int and returns NULL or a static string.
    let p = unsafe { strerrordesc_np(errno) };
    // SAFETY: non-NULL results are NUL-terminated strings with static storage.
    (!p.is_null()).then(|| unsafe { CStr::from_ptr(p) })
}

#[cfg(not(target_env = "gnu"))]
fn describe(errno: i32) -> Option<&'static CStr> {
    // SAFETY: strerror takes any int; musl returns pointers into a static table.
    let p = unsafe { libc::strerror(errno) };
    // SAFETY: as above.
    (!p.is_null()).then(|| unsafe { CStr::from_ptr(p) })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn strerror_takes_either_sign() {
        assert_eq!(strerror(libc::ENOENT), strerror(-libc::ENOENT));
        assert_eq!(strerror(libc::ENOENT), "No such file or directory");
        assert_eq!(strerror(0), "Success");
        assert_eq!(strerror(i32::MIN), "Unknown error");
        assert_eq!(strerror(99999), "Unknown error");
    }

    #[test]
    fn io_error_round_trip_keeps_step_and_stats() {
        let s = Stats {
            bytes: 7,
            ..Stats::default()
        };
        let e = Error::new(libc::ENOSPC, Step::Write).with_stats(s);
        let io: io::Error = e.clone().into();
        assert_eq!(io.kind(), io::ErrorKind::StorageFull);
        let back = Error::from(io);
        assert_eq!(back, e);
        assert_eq!(back.stats().map(|s| s.failed_step), Some(Step::Write));
        let plain = Error::from(io::Error::from_raw_os_error(libc::EACCES));
        assert_eq!(
            (plain.raw_os_error(), plain.step()),
            (libc::EACCES, Step::None)
        );
        let other = Error::from(io::Error::other("no errno"));
        assert_eq!(other.raw_os_error(), libc::EIO);
    }
}
