//! What a caller asks of a copy, and what it is told afterwards.

use std::fmt;
use std::ops::{BitAnd, BitOr, BitOrAssign, ControlFlow};
use std::time::Duration;

use super::error::Step;

/// How the data is moved. The numbers are the C API's `ZC_METHOD_*` values.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
#[repr(u32)]
pub enum Method {
    /// zcio picks the fastest safe path (as an outcome: nothing ran yet).
    #[default]
    Auto = 0,
    /// O_DIRECT reads and writes on aligned buffers.
    Direct = 1,
    /// A copy-on-write clone of the whole file (FICLONE).
    Reflink = 2,
    /// copy_file_range(2): the kernel copies, the file system may offload.
    CopyFileRange = 3,
    /// sendfile(2): in-kernel copy from the page cache.
    Sendfile = 4,
    /// splice(2) through a pipe.
    Splice = 5,
    /// write(2) from a read-only mapping of the source.
    Mmap = 6,
    /// A plain read(2)/write(2) loop.
    ReadWrite = 7,
}

impl Method {
    /// Every method, in `ZC_METHOD_*` order.
    pub const ALL: [Method; 8] = [
        Method::Auto,
        Method::Direct,
        Method::Reflink,
        Method::CopyFileRange,
        Method::Sendfile,
        Method::Splice,
        Method::Mmap,
        Method::ReadWrite,
    ];

    /// The method with C value `v`, or `None` when out of range.
    pub fn from_u32(v: u32) -> Option<Method> {
        Method::ALL.get(v as usize).copied()
    }

    /// Its bit in `Stats::fallbacks`.
    pub fn bit(self) -> u32 {
        1 << (self as u32)
    }

    /// The name zcp and the docs use.
    pub fn name(self) -> &'static str {
        match self {
            Method::Auto => "auto",
            Method::Direct => "direct",
            Method::Reflink => "reflink",
            Method::CopyFileRange => "copy_file_range",
            Method::Sendfile => "sendfile",
            Method::Splice => "splice",
            Method::Mmap => "mmap",
            Method::ReadWrite => "read_write",
        }
    }
}

impl fmt::Display for Method {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// Which engine moved the data of a Direct I/O copy.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
#[repr(u32)]
pub enum Engine {
    /// Not a Direct I/O copy, or nothing ran.
    #[default]
    None = 0,
    /// One read, then one write, in turn.
    Sync = 1,
    /// Reads and writes overlapped by worker threads.
    Threads = 2,
    /// Reads and writes overlapped by io_uring.
    IoUring = 3,
}

impl Engine {
    /// The engine with C value `v`, or `None` when out of range.
    pub fn from_u32(v: u32) -> Option<Engine> {
        [Engine::None, Engine::Sync, Engine::Threads, Engine::IoUring]
            .get(v as usize)
            .copied()
    }

    /// A short name, for messages.
    pub fn name(self) -> &'static str {
        match self {
            Engine::None => "none",
            Engine::Sync => "sync",
            Engine::Threads => "threads",
            Engine::IoUring => "io_uring",
        }
    }
}

/// Flag bits; the numbers are the C API's `ZC_F_*` values.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub struct Flags(u32);

impl Flags {
    /// No flags.
    pub const NONE: Flags = Flags(0);
    /// fsync the file and its directory entry before returning.
    pub const FSYNC: Flags = Flags(1 << 0);
    /// Fail with the kernel's error instead of falling back to another method.
    pub const NO_FALLBACK: Flags = Flags(1 << 1);
    /// Fail with `EEXIST` when the destination exists.
    pub const EXCL: Flags = Flags(1 << 2);
    /// Write straight into the destination instead of a temporary file.
    pub const IN_PLACE: Flags = Flags(1 << 3);
    /// Never share blocks with the source (no reflink, no copy_file_range).
    pub const NO_REFLINK: Flags = Flags(1 << 4);
    /// Write holes out as zeros.
    pub const NO_SPARSE: Flags = Flags(1 << 5);
    /// Give the copy the source's access and modification times.
    pub const PRESERVE_TIMES: Flags = Flags(1 << 6);
    /// Copy the source's extended attributes.
    pub const PRESERVE_XATTRS: Flags = Flags(1 << 7);
    /// Return instead of waiting on a non-blocking descriptor.
    pub const NONBLOCK: Flags = Flags(1 << 8);
    /// Refuse a destination that is a symlink (ELOOP) instead of writing through it.
    pub const NOFOLLOW: Flags = Flags(1 << 9);
    /// Every bit zcio knows.
    pub const ALL: Flags = Flags((1 << 10) - 1);

    /// Flags from C bits; `None` when an unknown bit is set.
    pub fn from_bits(bits: u32) -> Option<Flags> {
        if bits & !Flags::ALL.0 != 0 {
            None
        } else {
            Some(Flags(bits))
        }
    }

    /// The C bits.
    pub const fn bits(self) -> u32 {
        self.0
    }

    /// Flags from bits, unknown ones kept.
    pub const fn from_bits_retain(bits: u32) -> Flags {
        Flags(bits)
    }

    /// Whether every bit of `other` is set.
    pub fn contains(self, other: Flags) -> bool {
        self.0 & other.0 == other.0
    }
}

impl BitOr for Flags {
    type Output = Flags;
    fn bitor(self, rhs: Flags) -> Flags {
        Flags(self.0 | rhs.0)
    }
}

impl BitOrAssign for Flags {
    fn bitor_assign(&mut self, rhs: Flags) {
        self.0 |= rhs.0;
    }
}

impl BitAnd for Flags {
    type Output = Flags;
    fn bitand(self, rhs: Flags) -> Flags {
        Flags(self.0 & rhs.0)
    }
}

/// A progress callback: `(done, total)` in bytes; `Break` stops the copy with `ECANCELED`.
/// `total` is the source's size when the copy started (0 when unknown).
pub type Progress<'a> = dyn Fn(u64, u64) -> ControlFlow<()> + 'a;

/// What a caller asks of a copy. `Options::default()` is what a NULL `zc_options` means.
#[derive(Clone, Copy, Default)]
pub struct Options<'a> {
    /// The method to use; `Auto` lets zcio choose.
    pub method: Method,
    /// `Flags::*` bits.
    pub flags: Flags,
    /// I/Os in flight for engines that overlap them; 0 = zcio's default.
    pub queue_depth: u32,
    /// The Direct I/O engine to use; `Engine::None` lets zcio choose.
    pub engine: Engine,
    /// Bytes per I/O; 0 = zcio's default. For Direct I/O, a multiple of the alignment
    /// and at most 1 GiB; one larger than the file is cut to the file's size (at
    /// least 64 KiB).
    pub chunk_size: u64,
    /// Called as bytes move, and once at the end.
    pub progress: Option<&'a Progress<'a>>,
}

impl fmt::Debug for Options<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Options")
            .field("method", &self.method)
            .field("flags", &self.flags)
            .field("queue_depth", &self.queue_depth)
            .field("engine", &self.engine)
            .field("chunk_size", &self.chunk_size)
            .field("progress", &self.progress.is_some())
            .finish()
    }
}

impl<'a> Options<'a> {
    /// Whether `f` is set.
    pub fn has(&self, f: Flags) -> bool {
        self.flags.contains(f)
    }
}

/// What happened during a copy; filled on success and on failure alike.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Stats {
    /// The method that moved the data.
    pub method: Method,
    /// `Method::bit()` of each method tried and abandoned.
    pub fallbacks: u32,
    /// For each method abandoned, the errno that made zcio give it up.
    pub fallback_errno: [i32; 8],
    /// The Direct I/O alignment used, in bytes (0 when not a Direct I/O copy).
    pub alignment: u32,
    /// Bytes written to the destination.
    pub bytes: u64,
    /// System calls that moved data.
    pub io_calls: u64,
    /// Wall time of the whole operation.
    pub elapsed: Duration,
    /// The Direct I/O engine that ran.
    pub engine: Engine,
    /// The step that failed, `Step::None` on success.
    pub failed_step: Step,
    /// Extended attributes copied (under `PRESERVE_XATTRS`).
    pub xattrs_copied: u32,
    /// Extended attributes the destination would not take.
    pub xattrs_skipped: u32,
}

impl Stats {
    /// Records that `m` was tried and given up because of `errno`.
    pub fn fell_back(&mut self, m: Method, errno: i32) {
        self.fallbacks |= m.bit();
        self.fallback_errno[m as usize] = errno;
    }
}
