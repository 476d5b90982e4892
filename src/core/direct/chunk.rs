//! What the Direct I/O engines share. Each copies the source in chunks of `chunk`
//! bytes, chunk k covering [k·chunk, (k+1)·chunk): a chunk is read, its unaligned
//! end (only the last one has one) padded with zeros, and written at the same
//! offset. End of file is where a read comes back short of an alignment boundary
//! or empty; reads are issued until one does, so a file that grows is copied to its
//! new end. The destination is cut to exactly that size at the end.

use std::os::fd::BorrowedFd;

use nix::errno::Errno;

use crate::core::align::DioAlign;
use crate::core::error::{At, Error, Result};
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
}

/// Why an engine stopped without copying.
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
    pub(crate) fn buffers(&self, depth: usize) -> Result<(AlignedBuf, usize)> {
        let stride = round_up(self.chunk, self.buffer_align());
        let len = stride
            .checked_mul(depth)
            .ok_or(Error::new(libc::ENOMEM, Step::Resource))?;
        Ok((AlignedBuf::new(len, self.buffer_align())?, stride))
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
