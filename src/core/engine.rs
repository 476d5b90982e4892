//! The Direct I/O engines. All three copy the source in chunks of `chunk` bytes,
//! chunk k covering [k·chunk, (k+1)·chunk): a chunk is read, its unaligned end
//! (only the last one has one) padded with zeros, and written at the same offset.
//! They differ in how many chunks are in flight at once:
//!
//! - `sync`: one, in turn: read, then write.
//! - `threads`: one per worker thread, `depth` workers.
//! - `io_uring`: `depth` slots in one ring, reads and writes overlapped, on
//!   registered buffers where the memory-lock limit allows.
//!
//! End of file is where a read comes back short of an alignment boundary or
//! empty; reads are issued until one does, so a file that grows is copied to its
//! new end. The destination is cut to exactly that size at the end.

use std::os::fd::{AsRawFd, BorrowedFd};
use std::sync::Mutex;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::Duration;

use nix::errno::Errno;

use super::align::DioAlign;
use super::direct::report;
use super::error::{At, Error, Result, Step};
use super::options::{Engine, Options, Stats};
use super::sys::{self, AlignedBuf};

/// The two files and how to move chunks between them: all a worker thread needs.
#[derive(Clone, Copy)]
pub(crate) struct ChunkIo<'a> {
    pub src: BorrowedFd<'a>,
    pub dst: BorrowedFd<'a>,
    pub align: DioAlign,
    pub chunk: usize,
}

/// What the engines need to know.
pub(crate) struct Job<'a, 'o> {
    pub io: ChunkIo<'a>,
    pub depth: usize,
    /// The source's size when the copy started: for progress reports only.
    pub total: u64,
    pub opts: &'a Options<'o>,
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

fn round_up(n: usize, a: usize) -> usize {
    n.div_ceil(a) * a
}

impl ChunkIo<'_> {
    fn buffer_align(&self) -> usize {
        (self.align.mem as usize).max(4096)
    }

    /// `depth` buffers of one chunk each in one region, each starting on the
    /// memory alignment (a chunk cut to the file's size need not be a multiple of
    /// it): the region, and the distance from one buffer to the next.
    fn buffers(&self, depth: usize) -> Result<(AlignedBuf, usize)> {
        let stride = round_up(self.chunk, self.buffer_align());
        let len = stride
            .checked_mul(depth)
            .ok_or(Error::new(libc::ENOMEM, Step::Resource))?;
        Ok((AlignedBuf::new(len, self.buffer_align())?, stride))
    }

    /// Pads a chunk of `filled` bytes up to the alignment with zeros (never with
    /// older buffer contents) and returns the length to write.
    fn pad(&self, buf: &mut [u8], filled: usize) -> usize {
        let len = round_up(filled, self.align.offset as usize);
        buf[filled..len].fill(0);
        len
    }

    fn finish(&self, eof: u64) -> Result<()> {
        sys::retry(|| nix::unistd::ftruncate(self.dst, eof as libc::off_t)).at(Step::Size)
    }

    /// EINVAL before any chunk was written means "not aligned as this file system
    /// wants it": the buffered copy takes over, from the start.
    fn classify(&self, e: Errno, step: Step, done: u64) -> Stop {
        if e == Errno::EINVAL && done == 0 {
            Stop::Refused(libc::EINVAL)
        } else {
            Stop::Failed(Error::new(e as i32, step))
        }
    }
}

/// Reads chunk `base` into `buf` with pread until it is full or the file ends.
/// Returns the bytes read and whether the file ended inside the chunk.
fn read_chunk(
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

/// The synchronous engine: one chunk at a time.
pub(crate) fn run_sync(job: &Job<'_, '_>, stats: &mut Stats) -> Outcome {
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
            report(job.opts, off, job.total.max(off))?;
        }
        if eof {
            break;
        }
    }
    job.io.finish(off)?;
    Ok(off)
}

/// State shared by the worker threads.
struct Shared {
    /// The next chunk's offset to hand out.
    next: AtomicU64,
    /// End of file, once a worker found it (u64::MAX before).
    eof: AtomicU64,
    /// Bytes written so far.
    done: AtomicU64,
    calls: AtomicU64,
    stop: AtomicBool,
    /// The first failure, which every other worker stops for.
    failure: Mutex<Option<Stop>>,
    running: AtomicU64,
}

impl Shared {
    fn fail(&self, s: Stop) {
        let mut f = self.failure.lock().unwrap_or_else(|p| p.into_inner());
        if f.is_none() {
            *f = Some(s);
        }
        self.stop.store(true, Ordering::SeqCst);
    }
}

/// Copies chunks until the file ends or another worker fails; `after` runs after
/// each chunk (the calling thread reports progress there).
fn worker(job: &ChunkIo<'_>, sh: &Shared, buf: &mut [u8], after: &mut dyn FnMut(&Shared)) {
    let chunk = job.chunk as u64;
    while !sh.stop.load(Ordering::SeqCst) {
        let base = sh.next.fetch_add(chunk, Ordering::SeqCst);
        if base >= sh.eof.load(Ordering::SeqCst) {
            break;
        }
        let mut calls = 0;
        let (n, eof) = match read_chunk(job, buf, base, &mut calls) {
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
}

/// zcio's own threads take none of the host program's signals: those go to the
/// program's threads, whose handlers expect them. A new thread starts with its
/// creator's mask, so the creator blocks everything while it spawns (a worker that
/// blocked signals itself would be open to them until then).
struct AllSignalsBlocked {
    old: libc::sigset_t,
}

impl AllSignalsBlocked {
    fn new() -> AllSignalsBlocked {
        // SAFETY: sigfillset fills the set; pthread_sigmask changes only this thread
        // and stores the old mask in `old`.
        unsafe {
            let mut all = std::mem::zeroed::<libc::sigset_t>();
            let mut old = std::mem::zeroed::<libc::sigset_t>();
            libc::sigfillset(&mut all);
            libc::pthread_sigmask(libc::SIG_BLOCK, &all, &mut old);
            AllSignalsBlocked { old }
        }
    }
}

impl Drop for AllSignalsBlocked {
    fn drop(&mut self) {
        // SAFETY: restores the mask saved by `new` on this same thread.
        unsafe { libc::pthread_sigmask(libc::SIG_SETMASK, &self.old, std::ptr::null_mut()) };
    }
}

/// The threaded engine: `depth` workers, one of them the calling thread, which
/// also reports progress after each of its chunks (so that the callback runs where
/// the caller expects it, and no thread only waits).
pub(crate) fn run_threads(job: &Job<'_, '_>, stats: &mut Stats) -> Outcome {
    let depth = job.depth.max(1);
    // One region for all workers: it is mapped in huge pages (see AlignedBuf).
    let (mut mem, stride) = job.io.buffers(depth)?;
    let mut bufs: Vec<&mut [u8]> = mem
        .as_mut_slice()
        .chunks_mut(stride)
        .map(|b| &mut b[..job.io.chunk])
        .collect();
    let sh = Shared {
        next: AtomicU64::new(0),
        eof: AtomicU64::new(u64::MAX),
        done: AtomicU64::new(0),
        calls: AtomicU64::new(0),
        stop: AtomicBool::new(false),
        failure: Mutex::new(None),
        running: AtomicU64::new(depth as u64),
    };
    let mut last = u64::MAX;
    // Once the copy stops (cancelled, or failed), the callback hears nothing more.
    let mut tell = |sh: &Shared| {
        let done = sh.done.load(Ordering::SeqCst);
        if done != last && !sh.stop.load(Ordering::SeqCst) {
            last = done;
            if let Err(e) = report(job.opts, done, job.total.max(done)) {
                sh.fail(Stop::Failed(e));
            }
        }
    };
    std::thread::scope(|s| {
        let mine = bufs.pop();
        let blocked = AllSignalsBlocked::new();
        for buf in bufs {
            let (io, sh) = (&job.io, &sh);
            let spawned = std::thread::Builder::new()
                .name("zcio-dio".into())
                .spawn_scoped(s, move || worker(io, sh, buf, &mut |_| {}));
            if spawned.is_err() {
                sh.running.fetch_sub(1, Ordering::SeqCst);
                sh.fail(Stop::Failed(Error::new(libc::EAGAIN, Step::Resource)));
            }
        }
        drop(blocked);
        if let Some(buf) = mine {
            worker(&job.io, &sh, buf, &mut tell);
        }
        // The others finish their last chunk; keep reporting meanwhile.
        while sh.running.load(Ordering::SeqCst) > 0 {
            std::thread::sleep(Duration::from_millis(2));
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
    job.io.finish(eof)?;
    Ok(eof)
}

/// One buffer of the io_uring engine and the chunk it carries.
#[derive(Clone, Copy, Debug)]
enum Slot {
    Idle,
    /// Reading chunk `base`; `filled` bytes are in so far.
    Reading {
        base: u64,
        filled: usize,
    },
    /// Writing chunk `base` of `filled` data bytes; `written` of the padded length are out.
    Writing {
        base: u64,
        filled: usize,
        written: usize,
    },
}

/// The longest the io_uring engine sleeps in one wait for a completion.
const WAIT_TICK_NS: u32 = 250_000_000;

/// The io_uring engine.
pub(crate) fn run_uring(job: &Job<'_, '_>, stats: &mut Stats) -> Outcome {
    use io_uring::{IoUring, opcode, squeue, types};

    let depth = job.depth.clamp(1, 4096);
    let (mut mem, stride) = job.io.buffers(depth)?;
    let mut ring: IoUring = IoUring::builder()
        .build((depth as u32 * 2).next_power_of_two())
        .map_err(|e| Stop::Unavailable(e.raw_os_error().unwrap_or(libc::ENOSYS)))?;
    let base_ptr = mem.as_mut_slice().as_mut_ptr();
    let iovecs: Vec<libc::iovec> = (0..depth)
        .map(|i| libc::iovec {
            // SAFETY: each slot's slice lies inside `mem`.
            iov_base: unsafe { base_ptr.add(i * stride) }.cast(),
            iov_len: job.io.chunk,
        })
        .collect();
    // SAFETY: the buffers outlive the ring's use of them (every I/O is reaped
    // before `mem` is freed, or `mem` is leaked). Registration can fail under a
    // small RLIMIT_MEMLOCK: plain reads and writes on the same buffers work too.
    let fixed = unsafe { ring.submitter().register_buffers(&iovecs) }.is_ok();

    let a = job.io.align.offset as usize;
    let chunk = job.io.chunk;
    let (src, dst) = (
        types::Fd(job.io.src.as_raw_fd()),
        types::Fd(job.io.dst.as_raw_fd()),
    );
    let read = |i: usize, base: u64, filled: usize| -> squeue::Entry {
        let ptr = iovecs[i].iov_base.cast::<u8>().wrapping_add(filled);
        let (len, off) = ((chunk - filled) as u32, base + filled as u64);
        let e = if fixed {
            opcode::ReadFixed::new(src, ptr, len, i as u16)
                .offset(off)
                .build()
        } else {
            opcode::Read::new(src, ptr, len).offset(off).build()
        };
        e.user_data(i as u64)
    };
    let write = |i: usize, base: u64, len: usize, written: usize| -> squeue::Entry {
        let ptr = iovecs[i]
            .iov_base
            .cast::<u8>()
            .wrapping_add(written)
            .cast_const();
        let (n, off) = ((len - written) as u32, base + written as u64);
        let e = if fixed {
            opcode::WriteFixed::new(dst, ptr, n, i as u16)
                .offset(off)
                .build()
        } else {
            opcode::Write::new(dst, ptr, n).offset(off).build()
        };
        e.user_data(i as u64)
    };

    let mut slots = vec![Slot::Idle; depth];
    let (mut next, mut eof, mut done) = (0u64, u64::MAX, 0u64);
    let mut inflight = 0usize;
    let mut failure: Option<Stop> = None;
    let mut queue: Vec<squeue::Entry> = Vec::with_capacity(depth);
    let ext_arg = ring.params().is_feature_ext_arg();
    let tick = types::Timespec::new().nsec(WAIT_TICK_NS);

    loop {
        // Keep every idle slot reading the next chunk, until end of file is known.
        if failure.is_none() {
            for (i, s) in slots.iter_mut().enumerate() {
                if matches!(s, Slot::Idle) && next < eof {
                    *s = Slot::Reading {
                        base: next,
                        filled: 0,
                    };
                    queue.push(read(i, next, 0));
                    next += chunk as u64;
                }
            }
        }
        for e in queue.drain(..) {
            // SAFETY: each entry points into its own slot of `mem` and stays within
            // it; the ring holds 2 x depth entries and each slot has at most one I/O.
            if unsafe { ring.submission().push(&e) }.is_ok() {
                inflight += 1;
            } else {
                failure.get_or_insert(Stop::Failed(Error::new(libc::EBUSY, Step::Resource)));
            }
        }
        if inflight == 0 {
            break;
        }
        // Waits in ticks, never unbounded. Seen once on tmpfs: reads submitted, no
        // completion, no io_uring worker started, the wait asleep for good. Each
        // return from a wait runs the work the kernel queued for this task, so a
        // lost wake-up costs a tick, not the copy.
        let waited = if ext_arg {
            let args = types::SubmitArgs::new().timespec(&tick);
            ring.submitter().submit_with_args(1, &args)
        } else {
            ring.submit_and_wait(1)
        };
        if let Err(e) = waited {
            match e.raw_os_error() {
                Some(libc::EINTR | libc::EBUSY | libc::EAGAIN | libc::ETIME) => {}
                other => {
                    // The ring is broken with I/O in flight: the kernel may still
                    // write into the buffers, so they are never freed.
                    std::mem::forget(mem);
                    return Err(Stop::Failed(Error::new(
                        other.unwrap_or(libc::EIO),
                        Step::Resource,
                    )));
                }
            }
        }
        let cqes: Vec<(usize, i32)> = ring
            .completion()
            .map(|c| (c.user_data() as usize, c.result()))
            .collect();
        for (i, res) in cqes {
            inflight -= 1;
            let slot = std::mem::replace(&mut slots[i], Slot::Idle);
            if res < 0 {
                let e = Errno::from_raw(-res);
                let again = match slot {
                    Slot::Reading { base, filled } => read(i, base, filled),
                    Slot::Writing {
                        base,
                        filled,
                        written,
                    } => write(i, base, round_up(filled, a), written),
                    Slot::Idle => continue,
                };
                // Interrupted or cancelled by the kernel (zcio never cancels a request;
                // a signal storm on the submitting task can): submit it again.
                if matches!(e, Errno::EINTR | Errno::EAGAIN | Errno::ECANCELED) && failure.is_none()
                {
                    slots[i] = slot;
                    queue.push(again);
                } else {
                    let step = if matches!(slot, Slot::Reading { .. }) {
                        Step::Read
                    } else {
                        Step::Write
                    };
                    failure.get_or_insert(job.io.classify(e, step, done));
                }
                continue;
            }
            let n = res as usize;
            stats.io_calls += 1;
            match slot {
                Slot::Reading { base, filled } => {
                    let filled = filled + n;
                    let ended = n == 0 || n % a != 0;
                    if ended {
                        eof = eof.min(base + filled as u64);
                    }
                    if failure.is_some() || base >= eof || filled == 0 {
                        // Past the end, or stopping: the slot rests.
                    } else if filled < chunk && !ended {
                        // A short read on an alignment boundary: read the rest.
                        slots[i] = Slot::Reading { base, filled };
                        queue.push(read(i, base, filled));
                    } else {
                        // SAFETY: the slot's own buffer, which no I/O is using now.
                        let buf = unsafe {
                            std::slice::from_raw_parts_mut(iovecs[i].iov_base.cast::<u8>(), chunk)
                        };
                        let len = job.io.pad(buf, filled);
                        slots[i] = Slot::Writing {
                            base,
                            filled,
                            written: 0,
                        };
                        queue.push(write(i, base, len, 0));
                    }
                }
                Slot::Writing {
                    base,
                    filled,
                    written,
                } => {
                    let len = round_up(filled, a);
                    let written = written + n;
                    if n == 0 {
                        failure.get_or_insert(Stop::Failed(Error::new(libc::EIO, Step::Write)));
                    } else if written < len {
                        if failure.is_none() {
                            slots[i] = Slot::Writing {
                                base,
                                filled,
                                written,
                            };
                            queue.push(write(i, base, len, written));
                        }
                    } else {
                        done += filled as u64;
                    }
                }
                Slot::Idle => {}
            }
        }
        if failure.is_none()
            && let Err(e) = report(job.opts, done, job.total.max(done))
        {
            failure = Some(Stop::Failed(e));
        }
        if failure.is_some() {
            queue.clear(); // stopping: only reap what is in flight
        }
    }
    drop(ring);
    drop(mem);
    stats.bytes = done;
    if let Some(f) = failure {
        return Err(f);
    }
    job.io.finish(eof)?;
    Ok(eof)
}

/// Runs `engine`.
pub(crate) fn run(engine: Engine, job: &Job<'_, '_>, stats: &mut Stats) -> Outcome {
    match engine {
        Engine::IoUring => run_uring(job, stats),
        Engine::Threads => run_threads(job, stats),
        Engine::Sync | Engine::None => run_sync(job, stats),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
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
                align: DioAlign { mem, offset: 512 },
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
