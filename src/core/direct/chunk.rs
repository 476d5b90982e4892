//! What the Direct I/O engines share. Each copies the pieces `Pieces` hands out:
//! the source's data segments (holes are skipped) cut into chunks of at most
//! `chunk` bytes on alignment boundaries. A piece is read, its unaligned end (only
//! the last one has one) padded with zeros, and written at the same offset. The
//! last data segment, when it reaches the end of the file, is open-ended: pieces are
//! read until one comes back short of an alignment boundary or empty, so a file
//! that grows is copied to its new end. The destination is cut to exactly that size
//! at the end (or to the size at the start, for a file that ends in a hole).

use std::os::fd::BorrowedFd;
use std::sync::Mutex;

use nix::errno::Errno;

use crate::core::align::DioAlign;
use crate::core::error::{At, Error, Result};
use crate::core::fdio::TO_EOF;
use crate::core::holes::DataMap;
use crate::core::progress::Reporter;
use crate::core::stats::Step;
use crate::core::sys::{self, AlignedBuf};

/// The two files and how to move chunks between them: all a worker thread needs.
#[derive(Clone, Copy)]
pub(crate) struct ChunkIo<'a> {
    pub src: BorrowedFd<'a>,
    pub dst: BorrowedFd<'a>,
    pub align: DioAlign,
    pub chunk: usize,
}

/// What the engines need to know.
pub(crate) struct Job<'a> {
    pub io: ChunkIo<'a>,
    pub depth: usize,
    pub progress: Reporter<'a>,
    pub pieces: &'a Pieces<'a>,
}

impl Job<'_> {
    /// Tells the callback how far the copy got: `written` data bytes, and the holes
    /// passed over so far.
    pub(crate) fn report(&self, written: u64) -> Result<()> {
        self.progress.report(written + self.pieces.skipped())
    }

    /// Cuts the destination to its final size and returns it: where a read found
    /// the end, or (a file that ends in a hole) the source's size at the start.
    pub(crate) fn finish(&self, eof: Option<u64>) -> Result<u64> {
        let end = eof.unwrap_or(self.pieces.size);
        self.io.finish(end)?;
        Ok(end)
    }
}

/// `len` bytes at `base`, both on the alignment (but for a last piece cut short by
/// the end of file).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Piece {
    pub base: u64,
    pub len: usize,
}

/// The pieces of a copy, handed out in order to any number of engine threads.
pub(crate) struct Pieces<'a> {
    state: Mutex<PieceState<'a>>,
    /// The source's size at the start.
    pub size: u64,
    sparse: bool,
}

struct PieceState<'a> {
    map: DataMap<'a>,
    /// The segment being cut: the next piece's offset, and where the segment ends
    /// (`u64::MAX`: open-ended).
    at: u64,
    end: u64,
    /// Hole bytes passed over so far.
    skipped: u64,
    align: u64,
    chunk: u64,
}

impl<'a> Pieces<'a> {
    /// The pieces of a copy of `map` in chunks of `chunk` bytes on `align`.
    pub(crate) fn new(map: DataMap<'a>, align: u64, chunk: usize) -> Pieces<'a> {
        Pieces {
            size: map.size(),
            sparse: map.is_sparse(),
            state: Mutex::new(PieceState {
                map,
                at: 0,
                end: 0,
                skipped: 0,
                align: align.max(1),
                chunk: (chunk as u64).max(1),
            }),
        }
    }

    /// The pieces of bytes `from..to` of a file of `size` bytes, `from` and `to`
    /// on `align` (`to` may be the unaligned end of the file).
    pub(crate) fn span(
        map: DataMap<'a>,
        from: u64,
        to: u64,
        align: u64,
        chunk: usize,
    ) -> Pieces<'a> {
        let align = align.max(1);
        Pieces {
            size: map.size(),
            sparse: false,
            state: Mutex::new(PieceState {
                map,
                at: from,
                end: to.next_multiple_of(align),
                skipped: 0,
                align,
                chunk: (chunk as u64).max(1),
            }),
        }
    }

    /// Whether holes are skipped.
    pub(crate) fn is_sparse(&self) -> bool {
        self.sparse
    }

    pub(crate) fn skipped(&self) -> u64 {
        self.lock().skipped
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, PieceState<'a>> {
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// The next piece, or `None` once every data segment has been handed out.
    pub(crate) fn next(&self) -> Option<Piece> {
        let mut st = self.lock();
        loop {
            if st.at < st.end {
                let len = st.chunk.min(st.end - st.at);
                let p = Piece {
                    base: st.at,
                    len: len as usize,
                };
                st.at = st.at.saturating_add(len);
                return Some(p);
            }
            let seg = st.map.next()?;
            // Widened to the alignment, never back over what was handed out.
            let start = (seg.start - seg.start % st.align).max(st.end);
            let end = if seg.len == TO_EOF || seg.start.saturating_add(seg.len) >= self.size {
                u64::MAX
            } else {
                (seg.start + seg.len).next_multiple_of(st.align)
            };
            if end <= start {
                continue;
            }
            st.skipped += start - st.end;
            st.at = start;
            st.end = end;
        }
    }
}

/// Why an engine stopped without copying.
#[derive(Debug)]
pub(crate) enum Stop {
    /// The very first direct I/O was refused (EINVAL): nothing was written yet,
    /// the buffered copy may take over.
    Refused(i32),
    /// The engine cannot run here (io_uring not available): try the next one.
    Unavailable(i32),
    Failed(Error),
}

impl From<Error> for Stop {
    fn from(e: Error) -> Self {
        Stop::Failed(e)
    }
}

pub(crate) type Outcome = std::result::Result<u64, Stop>;

pub(crate) fn round_up(n: usize, a: usize) -> usize {
    n.div_ceil(a) * a
}

impl ChunkIo<'_> {
    pub(crate) fn buffer_align(&self) -> usize {
        (self.align.mem as usize).max(4096)
    }

    /// `depth` buffers of one chunk each in one region, each starting on the
    /// memory alignment (a chunk cut to the file's size need not be a multiple of
    /// it): the region, and the distance from one buffer to the next.
    /// Memory that cannot be had makes the engine unavailable (`ENOMEM`), so that
    /// one needing less can run.
    pub(crate) fn buffers(&self, depth: usize) -> std::result::Result<(AlignedBuf, usize), Stop> {
        let stride = round_up(self.chunk, self.buffer_align());
        let len = stride
            .checked_mul(depth)
            .ok_or(Stop::Unavailable(libc::ENOMEM))?;
        let buf = AlignedBuf::new(len, self.buffer_align())
            .map_err(|_| Stop::Unavailable(libc::ENOMEM))?;
        Ok((buf, stride))
    }

    /// Pads a chunk of `filled` bytes up to the alignment with zeros (never with
    /// older buffer contents) and returns the length to write.
    pub(crate) fn pad(&self, buf: &mut [u8], filled: usize) -> usize {
        let len = round_up(filled, self.align.offset as usize);
        buf[filled..len].fill(0);
        len
    }

    pub(crate) fn finish(&self, eof: u64) -> Result<()> {
        sys::retry(|| nix::unistd::ftruncate(self.dst, eof as libc::off_t)).at(Step::Size)
    }

    /// EINVAL before any chunk was written means "not aligned as this file system
    /// wants it": the buffered copy takes over, from the start.
    pub(crate) fn classify(&self, e: Errno, step: Step, done: u64) -> Stop {
        if e == Errno::EINVAL && done == 0 {
            Stop::Refused(libc::EINVAL)
        } else {
            Stop::Failed(Error::new(e as i32, step))
        }
    }
}

/// Reads chunk `base` into `buf` with pread until it is full or the file ends.
/// Returns the bytes read and whether the file ended inside the chunk.
pub(crate) fn read_chunk(
    job: &ChunkIo<'_>,
    buf: &mut [u8],
    base: u64,
    calls: &mut u64,
) -> std::result::Result<(usize, bool), Errno> {
    let a = job.align.offset as usize;
    let mut filled = 0;
    while filled < buf.len() {
        let n = sys::pread(job.src, &mut buf[filled..], base + filled as u64)?;
        *calls += 1;
        filled += n;
        if n == 0 || n % a != 0 {
            return Ok((filled, true));
        }
    }
    Ok((filled, false))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::core::align::AlignSource;
    use std::os::fd::AsFd;

    #[test]
    fn every_buffer_starts_on_the_memory_alignment() {
        let f = std::fs::File::open("/dev/null").expect("open");
        // A chunk cut to a file's size: a multiple of 512, not of the page.
        for (chunk, mem) in [
            (100_352, 4096),
            (3 << 20, 8192),
            (512, 512),
            (1 << 20, 4096),
        ] {
            let io = ChunkIo {
                src: f.as_fd(),
                dst: f.as_fd(),
                align: DioAlign {
                    mem,
                    offset: 512,
                    source: AlignSource::Default,
                },
                chunk,
            };
            let (buf, stride) = io.buffers(5).expect("buffers");
            assert!(stride >= chunk);
            assert!(buf.as_slice().len() >= 5 * stride);
            for i in 0..5 {
                let p = buf.as_slice()[i * stride..].as_ptr() as usize;
                assert_eq!(p % io.buffer_align(), 0, "chunk {chunk}, buffer {i}");
            }
        }
    }
}
