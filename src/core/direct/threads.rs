//! The threaded engine: `depth` workers, each with one chunk in flight.

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Condvar, Mutex};
use std::time::Duration;

use super::chunk::{ChunkIo, Job, Outcome, Piece, Pieces, Stop, read_chunk};
use crate::core::signals::Blocked;
use crate::core::stats::{Stats, Step};
use crate::core::sys;

/// The most worker threads one copy starts, whatever `queue_depth` asks: more
/// only add stacks and contention (io_uring's cap is its own, 4096 slots).
pub(crate) const MAX_THREADS: usize = 64;

/// State shared by the worker threads.
struct Shared<'a> {
    pieces: &'a Pieces<'a>,
    /// End of file, once a worker found it (u64::MAX before).
    eof: AtomicU64,
    /// Bytes written so far.
    done: AtomicU64,
    calls: AtomicU64,
    stop: AtomicBool,
    /// The first failure, which every other worker stops for.
    failure: Mutex<Option<Stop>>,
    running: AtomicU64,
    /// Counts finished pieces and workers, so the reporter wakes for each.
    ticks: Mutex<u64>,
    tick: Condvar,
}

impl Shared<'_> {
    fn fail(&self, s: Stop) {
        let mut f = self.failure.lock().unwrap_or_else(|p| p.into_inner());
        if f.is_none() {
            *f = Some(s);
        }
        self.stop.store(true, Ordering::SeqCst);
    }

    fn ticked(&self) {
        *self.ticks.lock().unwrap_or_else(|p| p.into_inner()) += 1;
        self.tick.notify_one();
    }

    /// Waits (at most `limit`) for a tick after the `seen`th; returns the count.
    fn wait_tick(&self, seen: u64, limit: Duration) -> u64 {
        let g = self.ticks.lock().unwrap_or_else(|p| p.into_inner());
        let g = if *g == seen {
            self.tick
                .wait_timeout(g, limit)
                .map_or_else(|p| p.into_inner().0, |r| r.0)
        } else {
            g
        };
        *g
    }
}

/// Copies chunks until the file ends or another worker fails; `after` runs after
/// each chunk (the calling thread reports progress there).
fn worker(job: &ChunkIo<'_>, sh: &Shared<'_>, buf: &mut [u8], after: &mut dyn FnMut(&Shared<'_>)) {
    while !sh.stop.load(Ordering::SeqCst) {
        let Some(Piece { base, len }) = sh.pieces.next() else {
            break;
        };
        if base >= sh.eof.load(Ordering::SeqCst) {
            break;
        }
        let mut calls = 0;
        let (n, eof) = match read_chunk(job, &mut buf[..len], base, &mut calls) {
            Ok(r) => r,
            Err(e) => {
                sh.fail(job.classify(e, Step::Read, sh.done.load(Ordering::SeqCst)));
                break;
            }
        };
        if eof {
            sh.eof.fetch_min(base + n as u64, Ordering::SeqCst);
        }
        if n > 0 {
            let len = job.pad(buf, n);
            if let Err(e) = sys::pwrite_all(job.dst, &buf[..len], base, &mut calls) {
                sh.fail(job.classify(e, Step::Write, sh.done.load(Ordering::SeqCst)));
                break;
            }
            sh.done.fetch_add(n as u64, Ordering::SeqCst);
        }
        sh.calls.fetch_add(calls, Ordering::SeqCst);
        after(sh);
        if eof {
            break;
        }
    }
    sh.running.fetch_sub(1, Ordering::SeqCst);
    sh.ticked();
}

/// How many workers copy `job`: its depth, at most `MAX_THREADS`, and few enough
/// that each (the calling thread too) gets at least 4 chunks of the file, so the
/// caller reports at least every quarter of it.
pub(crate) fn workers(job: &Job<'_>) -> usize {
    let chunks = job.pieces.size.div_ceil(job.io.chunk.max(1) as u64);
    job.depth
        .clamp(1, MAX_THREADS)
        .min(usize::try_from(chunks / 4).unwrap_or(usize::MAX).max(1))
}

/// The threaded engine: `depth` workers, one of them the calling thread, which
/// also reports progress after each of its chunks (so that the callback runs where
/// the caller expects it, and no thread only waits), then after each of the
/// others' until they are done.
pub(crate) fn run(job: &Job<'_>, stats: &mut Stats) -> Outcome {
    let depth = workers(job);
    // One region for all workers: it is mapped in huge pages (see AlignedBuf).
    let (mut mem, stride) = job.io.buffers(depth)?;
    let mut bufs: Vec<&mut [u8]> = mem
        .as_mut_slice()
        .chunks_mut(stride)
        .map(|b| &mut b[..job.io.chunk])
        .collect();
    let sh = Shared {
        pieces: job.pieces,
        eof: AtomicU64::new(u64::MAX),
        done: AtomicU64::new(0),
        calls: AtomicU64::new(0),
        stop: AtomicBool::new(false),
        failure: Mutex::new(None),
        running: AtomicU64::new(depth as u64),
        ticks: Mutex::new(0),
        tick: Condvar::new(),
    };
    let mut last = u64::MAX;
    // Once the copy stops (cancelled, or failed), the callback hears nothing more.
    let mut tell = |sh: &Shared<'_>| {
        let done = sh.done.load(Ordering::SeqCst);
        if done != last && !sh.stop.load(Ordering::SeqCst) {
            last = done;
            if let Err(e) = job.report(done) {
                sh.fail(Stop::Failed(e));
            }
        }
    };
    std::thread::scope(|s| {
        let mine = bufs.pop();
        let blocked = Blocked::all();
        for buf in bufs {
            let (io, sh) = (&job.io, &sh);
            let spawned = std::thread::Builder::new()
                .name("zcio-dio".into())
                .spawn_scoped(s, move || worker(io, sh, buf, &mut |sh| sh.ticked()));
            // A thread that cannot be had (no memory for its stack, the thread
            // limit) leaves its share to the others: the calling thread always works.
            if spawned.is_err() {
                sh.running.fetch_sub(1, Ordering::SeqCst);
            }
        }
        drop(blocked);
        if let Some(buf) = mine {
            worker(&job.io, &sh, buf, &mut tell);
        }
        // The others finish their last chunk; report each as it ends.
        let mut seen = 0;
        while sh.running.load(Ordering::SeqCst) > 0 {
            seen = sh.wait_tick(seen, Duration::from_millis(100));
            tell(&sh);
        }
    });
    tell(&sh);
    stats.io_calls += sh.calls.load(Ordering::SeqCst);
    stats.bytes = sh.done.load(Ordering::SeqCst);
    if let Some(f) = sh.failure.into_inner().unwrap_or_else(|p| p.into_inner()) {
        return Err(f);
    }
    let eof = sh.eof.load(Ordering::SeqCst);
    Ok(job.finish((eof != u64::MAX).then_some(eof))?)
}
