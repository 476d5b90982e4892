//! The synchronous engine: one chunk at a time, read, then write.

use super::chunk::{Job, Outcome, read_chunk};
use crate::core::stats::{Stats, Step};
use crate::core::sys::{self, AlignedBuf};

/// The synchronous engine: one chunk at a time.
pub(crate) fn run(job: &Job<'_>, stats: &mut Stats) -> Outcome {
    let mut buf = AlignedBuf::new(job.io.chunk, job.io.buffer_align())?;
    let mut off: u64 = 0;
    loop {
        let (n, eof) = read_chunk(&job.io, buf.as_mut_slice(), off, &mut stats.io_calls)
            .map_err(|e| job.io.classify(e, Step::Read, off))?;
        if n > 0 {
            let len = job.io.pad(buf.as_mut_slice(), n);
            sys::pwrite_all(job.io.dst, &buf.as_slice()[..len], off, &mut stats.io_calls)
                .map_err(|e| job.io.classify(e, Step::Write, off))?;
            off += n as u64;
            stats.bytes = off;
            job.progress.report(off)?;
        }
        if eof {
            break;
        }
    }
    job.io.finish(off)?;
    Ok(off)
}
