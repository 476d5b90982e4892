//! The synchronous engine: one piece at a time, read, then write.

use super::chunk::{Job, Outcome, Stop, read_chunk};
use crate::core::stats::{Stats, Step};
use crate::core::sys::{self, AlignedBuf};

/// The synchronous engine: one piece at a time, in one buffer of one chunk.
pub(crate) fn run(job: &Job<'_>, stats: &mut Stats) -> Outcome {
    let mut buf = AlignedBuf::new(job.io.chunk, job.io.buffer_align())
        .map_err(|_| Stop::Unavailable(libc::ENOMEM))?;
    let mut written: u64 = 0;
    let mut eof = None;
    while let Some(p) = job.pieces.next() {
        let (n, ended) = read_chunk(
            &job.io,
            &mut buf.as_mut_slice()[..p.len],
            p.base,
            &mut stats.io_calls,
        )
        .map_err(|e| job.io.classify(e, Step::Read, written))?;
        if n > 0 {
            let len = job.io.pad(buf.as_mut_slice(), n);
            sys::pwrite_all(
                job.io.dst,
                &buf.as_slice()[..len],
                p.base,
                &mut stats.io_calls,
            )
            .map_err(|e| job.io.classify(e, Step::Write, written))?;
            written += n as u64;
            stats.bytes = written;
            job.report(written)?;
        }
        if ended {
            eof = Some(p.base + n as u64);
            break;
        }
    }
    Ok(job.finish(eof)?)
}
