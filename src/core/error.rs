//! The one error type of zcio: an errno plus the step of the copy that failed.

use std::fmt;
use std::io;

/// Where in a copy a failure happened. The C API reports it as `zc_stats.failed_step`.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
#[repr(u32)]
pub enum Step {
    /// Nothing failed.
    #[default]
    None = 0,
    /// The arguments were refused before anything was opened.
    Args = 1,
    /// Opening or inspecting the source.
    OpenSrc = 2,
    /// Opening, creating or inspecting the destination (or its temporary file).
    OpenDst = 3,
    /// Reading the source.
    Read = 4,
    /// Writing the destination.
    Write = 5,
    /// Sizing the destination (ftruncate, fallocate).
    Size = 6,
    /// Making the data durable (fsync, fdatasync).
    Sync = 7,
    /// Putting the finished file in place (linkat, rename).
    Commit = 8,
    /// Setting mode, owner, times or extended attributes.
    Metadata = 9,
    /// The progress callback asked to stop.
    Cancel = 10,
    /// Memory or another local resource could not be had.
    Resource = 11,
}

impl Step {
    /// A short lower-case name, for messages.
    pub fn name(self) -> &'static str {
        match self {
            Step::None => "none",
            Step::Args => "arguments",
            Step::OpenSrc => "open source",
            Step::OpenDst => "open destination",
            Step::Read => "read",
            Step::Write => "write",
            Step::Size => "size destination",
            Step::Sync => "sync",
            Step::Commit => "commit",
            Step::Metadata => "metadata",
            Step::Cancel => "cancel",
            Step::Resource => "resource",
        }
    }
}

/// A failed zcio operation: always a positive errno value, and the step it failed in.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct Error {
    errno: i32,
    step: Step,
}

/// `std::result::Result` with zcio's [`Error`].
pub type Result<T, E = Error> = std::result::Result<T, E>;

impl Error {
    /// An error with `errno` (taken as positive whatever its sign) at `step`.
    pub fn new(errno: i32, step: Step) -> Error {
        let errno = errno.checked_abs().unwrap_or(libc::EOVERFLOW);
        Error {
            errno: if errno == 0 { libc::EIO } else { errno },
            step,
        }
    }

    /// Invalid arguments (`EINVAL`), refused before any I/O.
    pub fn invalid() -> Error {
        Error::new(libc::EINVAL, Step::Args)
    }

    /// The positive errno value.
    pub fn errno(&self) -> i32 {
        self.errno
    }

    /// The step that failed.
    pub fn step(&self) -> Step {
        self.step
    }

    /// The same errno at another step.
    pub fn at(self, step: Step) -> Error {
        Error { step, ..self }
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{} ({}): {}",
            self.step.name(),
            self.errno,
            crate::core::strerror(self.errno)
        )
    }
}

impl std::error::Error for Error {}

impl From<Error> for io::Error {
    fn from(e: Error) -> io::Error {
        io::Error::from_raw_os_error(e.errno)
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
