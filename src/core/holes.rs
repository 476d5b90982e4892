//! Where a file holds data: its data segments found with SEEK_DATA/SEEK_HOLE, one
//! at a time (a file with millions of extents needs no list of them in memory).

use std::os::fd::BorrowedFd;

use nix::errno::Errno;
use nix::sys::stat::FileStat;
use nix::unistd::Whence;

use super::fdio::TO_EOF;
use super::sys;

/// A stretch of the source that holds data; `len` `TO_EOF` means "to end of file".
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Segment {
    pub start: u64,
    pub len: u64,
}

/// The data segments of a file, in order: one segment to end of file for a file
/// without holes (or whose size may lie, or when holes are to be written out), else
/// each run of data between holes, the last one ending at the size the file had.
pub(crate) struct DataMap<'a> {
    fd: BorrowedFd<'a>,
    size: u64,
    /// Where to look for the next segment.
    off: u64,
    sparse: bool,
    done: bool,
}

impl<'a> DataMap<'a> {
    /// The map of `fd`, whose fstat is `st`; `keep_holes` false (or a file the
    /// kernel cannot map) gives the one segment to end of file.
    pub(crate) fn new(fd: BorrowedFd<'a>, st: &FileStat, keep_holes: bool) -> DataMap<'a> {
        let size = st.st_size.max(0) as u64;
        let sparse = keep_holes
            && sys::is_reg(st)
            && size > 0
            && (st.st_blocks.max(0) as u64).saturating_mul(512) < size
            && matches!(nix::unistd::lseek(fd, 0, Whence::SeekHole), Ok(h) if (h as u64) < size);
        DataMap {
            fd,
            size,
            off: 0,
            sparse,
            done: false,
        }
    }

    /// A map with no segments, for a file of `size` bytes whose pieces are given
    /// some other way.
    pub(crate) fn none(fd: BorrowedFd<'a>, size: u64) -> DataMap<'a> {
        DataMap {
            fd,
            size,
            off: size,
            sparse: false,
            done: true,
        }
    }

    /// The map from `off` on: the segments that end after it, the first cut to
    /// start there.
    pub(crate) fn starting_at(mut self, off: u64) -> DataMap<'a> {
        self.off = off;
        self
    }

    /// Whether the file has holes that this map skips.
    pub(crate) fn is_sparse(&self) -> bool {
        self.sparse
    }

    /// The file's size when the map was made.
    pub(crate) fn size(&self) -> u64 {
        self.size
    }
}

impl Iterator for DataMap<'_> {
    type Item = Segment;

    fn next(&mut self) -> Option<Segment> {
        if self.done {
            return None;
        }
        if !self.sparse {
            self.done = true;
            return Some(Segment {
                start: 0,
                len: TO_EOF,
            });
        }
        while self.off < self.size {
            let data = match nix::unistd::lseek(self.fd, self.off as i64, Whence::SeekData) {
                Ok(d) => d as u64,
                Err(Errno::ENXIO) => break, // only a hole is left
                Err(_) => return self.rest(),
            };
            if data >= self.size {
                break;
            }
            let hole = match nix::unistd::lseek(self.fd, data as i64, Whence::SeekHole) {
                Ok(h) => (h as u64).min(self.size),
                Err(_) => return self.rest(),
            };
            self.off = hole.max(data + 1);
            if hole > data {
                return Some(Segment {
                    start: data,
                    len: hole - data,
                });
            }
        }
        self.done = true;
        None
    }
}

impl DataMap<'_> {
    /// The file could not be mapped further: the rest of it is one segment.
    fn rest(&mut self) -> Option<Segment> {
        self.done = true;
        (self.off < self.size).then(|| Segment {
            start: self.off,
            len: self.size - self.off,
        })
    }
}
