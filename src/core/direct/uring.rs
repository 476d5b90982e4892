//! The io_uring engine: `depth` slots in one ring, each owning one buffer and
//! carrying one chunk from its read to its write, reads and writes of different
//! chunks overlapped; registered buffers where the memory-lock limit allows.

use std::os::fd::AsRawFd;
use std::ptr::NonNull;

use io_uring::{IoUring, opcode, squeue, types};
use nix::errno::Errno;

use super::chunk::{ChunkIo, Job, Outcome, Piece, Stop, round_up};
use crate::core::error::Error;
use crate::core::stats::{Stats, Step};
use crate::core::sys::AlignedBuf;

/// The most slots one ring gets.
const MAX_DEPTH: usize = 4096;

/// The longest the engine sleeps in one wait for a completion.
const WAIT_TICK_NS: u32 = 250_000_000;

/// Where a slot's chunk is.
#[derive(Clone, Copy, Debug)]
enum State {
    Idle,
    /// Reading the piece of `len` bytes at `base`; `filled` bytes are in so far.
    Reading {
        base: u64,
        len: usize,
        filled: usize,
    },
    /// Writing chunk `base` of `filled` data bytes; `written` of the padded length
    /// are out.
    Writing {
        base: u64,
        filled: usize,
        written: usize,
    },
}

/// What the slots share: the files, the sizes, whether buffers are registered.
struct Files {
    src: types::Fd,
    dst: types::Fd,
    fixed: bool,
    align: usize,
    chunk: usize,
}

/// One buffer and the chunk it carries.
struct Slot {
    index: u16,
    /// The slot's own part of the engine's region: `chunk` bytes, which only this
    /// slot's I/O touches.
    buf: NonNull<u8>,
    state: State,
}

/// What a completion leaves to the engine.
enum Next {
    /// Submit this request for the slot.
    Submit(squeue::Entry),
    /// The slot is idle again; `u64` data bytes of its chunk reached the
    /// destination.
    Done(u64),
    /// The slot rests: past end of file, or stopping.
    Rest,
    Fail(Stop),
}

impl Slot {
    fn read(&self, f: &Files, base: u64, len: usize, filled: usize) -> squeue::Entry {
        let ptr = self.buf.as_ptr().wrapping_add(filled);
        let (len, off) = ((len - filled) as u32, base + filled as u64);
        let e = if f.fixed {
            opcode::ReadFixed::new(f.src, ptr, len, self.index)
                .offset(off)
                .build()
        } else {
            opcode::Read::new(f.src, ptr, len).offset(off).build()
        };
        e.user_data(u64::from(self.index))
    }

    fn write(&self, f: &Files, base: u64, len: usize, written: usize) -> squeue::Entry {
        let ptr = self.buf.as_ptr().wrapping_add(written).cast_const();
        let (n, off) = ((len - written) as u32, base + written as u64);
        let e = if f.fixed {
            opcode::WriteFixed::new(f.dst, ptr, n, self.index)
                .offset(off)
                .build()
        } else {
            opcode::Write::new(f.dst, ptr, n).offset(off).build()
        };
        e.user_data(u64::from(self.index))
    }

    /// Starts reading a piece.
    fn start(&mut self, f: &Files, p: Piece) -> squeue::Entry {
        self.state = State::Reading {
            base: p.base,
            len: p.len,
            filled: 0,
        };
        self.read(f, p.base, p.len, 0)
    }

    /// The request that was in flight, again (after EINTR, EAGAIN, ECANCELED).
    fn again(&self, f: &Files) -> Option<squeue::Entry> {
        match self.state {
            State::Idle => None,
            State::Reading { base, len, filled } => Some(self.read(f, base, len, filled)),
            State::Writing {
                base,
                filled,
                written,
            } => Some(self.write(f, base, round_up(filled, f.align), written)),
        }
    }

    /// Handles the completion `res` of this slot's request. `eof` is lowered when
    /// a read finds the end; `stopping` means start nothing new.
    fn complete(
        &mut self,
        f: &Files,
        io: &ChunkIo<'_>,
        res: i32,
        eof: &mut u64,
        done: u64,
        stopping: bool,
    ) -> Next {
        if res < 0 {
            let e = Errno::from_raw(-res);
            // Interrupted or cancelled by the kernel (zcio never cancels a request;
            // a signal storm on the submitting task can): submit it again.
            if matches!(e, Errno::EINTR | Errno::EAGAIN | Errno::ECANCELED) && !stopping {
                return self.again(f).map_or(Next::Rest, Next::Submit);
            }
            let step = if matches!(self.state, State::Reading { .. }) {
                Step::Read
            } else {
                Step::Write
            };
            self.state = State::Idle;
            return Next::Fail(io.classify(e, step, done));
        }
        let n = res as usize;
        match std::mem::replace(&mut self.state, State::Idle) {
            State::Idle => Next::Rest,
            State::Reading { base, len, filled } => {
                let filled = filled + n;
                let ended = n == 0 || !n.is_multiple_of(f.align);
                if ended {
                    *eof = (*eof).min(base + filled as u64);
                }
                if stopping || base >= *eof || filled == 0 {
                    Next::Rest
                } else if filled < len && !ended {
                    // A short read on an alignment boundary: read the rest.
                    self.state = State::Reading { base, len, filled };
                    Next::Submit(self.read(f, base, len, filled))
                } else {
                    // SAFETY: the slot's own buffer, which no I/O is using now.
                    let buf = unsafe { std::slice::from_raw_parts_mut(self.buf.as_ptr(), f.chunk) };
                    let len = io.pad(buf, filled);
                    self.state = State::Writing {
                        base,
                        filled,
                        written: 0,
                    };
                    Next::Submit(self.write(f, base, len, 0))
                }
            }
            State::Writing {
                base,
                filled,
                written,
            } => {
                let len = round_up(filled, f.align);
                let written = written + n;
                if n == 0 {
                    Next::Fail(Stop::Failed(Error::new(libc::EIO, Step::Write)))
                } else if written < len {
                    if stopping {
                        return Next::Rest;
                    }
                    self.state = State::Writing {
                        base,
                        filled,
                        written,
                    };
                    Next::Submit(self.write(f, base, len, written))
                } else {
                    Next::Done(filled as u64)
                }
            }
        }
    }
}

/// A ring, its buffers and its slots.
struct Engine {
    ring: IoUring,
    /// Freed only once nothing is in flight (or never: see `wait`).
    mem: Option<AlignedBuf>,
    slots: Vec<Slot>,
    files: Files,
    ext_arg: bool,
}

/// Builds the ring and the slots, and registers the buffers where allowed.
fn setup(job: &Job<'_>) -> Result<Engine, Stop> {
    let depth = job.depth.clamp(1, MAX_DEPTH);
    let (mut mem, stride) = job.io.buffers(depth)?;
    let ring: IoUring = IoUring::builder()
        .build((depth as u32 * 2).next_power_of_two())
        .map_err(|e| Stop::Unavailable(e.raw_os_error().unwrap_or(libc::ENOSYS)))?;
    let base = mem.as_mut_slice().as_mut_ptr();
    // Up to 4096 of each: reserved fallibly, as every buffer of a copy is.
    let nomem = |_| Stop::Unavailable(libc::ENOMEM);
    let mut slots: Vec<Slot> = Vec::new();
    slots.try_reserve_exact(depth).map_err(nomem)?;
    slots.extend((0..depth).map(|i| Slot {
        index: i as u16,
        // SAFETY: slot i's part of the region starts i strides in, inside `mem`.
        buf: unsafe { NonNull::new_unchecked(base.add(i * stride)) },
        state: State::Idle,
    }));
    let mut iovecs: Vec<libc::iovec> = Vec::new();
    iovecs.try_reserve_exact(depth).map_err(nomem)?;
    iovecs.extend(slots.iter().map(|s| libc::iovec {
        iov_base: s.buf.as_ptr().cast(),
        iov_len: job.io.chunk,
    }));
    // SAFETY: the buffers outlive the ring's use of them (every I/O is reaped
    // before `mem` is freed, or `mem` is leaked). Registration can fail under a
    // small RLIMIT_MEMLOCK: plain reads and writes on the same buffers work too.
    let fixed = unsafe { ring.submitter().register_buffers(&iovecs) }.is_ok();
    let ext_arg = ring.params().is_feature_ext_arg();
    Ok(Engine {
        ring,
        mem: Some(mem),
        slots,
        files: Files {
            src: types::Fd(job.io.src.as_raw_fd()),
            dst: types::Fd(job.io.dst.as_raw_fd()),
            fixed,
            align: job.io.align.offset as usize,
            chunk: job.io.chunk,
        },
        ext_arg,
    })
}

impl Engine {
    /// Waits for at least one completion, in ticks, never unbounded. Seen once on
    /// tmpfs: reads submitted, no completion, no io_uring worker started, the wait
    /// asleep for good. Each return from a wait runs the work the kernel queued for
    /// this task, so a lost wake-up costs a tick, not the copy.
    fn wait(&mut self) -> Result<(), Stop> {
        let waited = if self.ext_arg {
            let tick = types::Timespec::new().nsec(WAIT_TICK_NS);
            let args = types::SubmitArgs::new().timespec(&tick);
            self.ring.submitter().submit_with_args(1, &args)
        } else {
            self.ring.submit_and_wait(1)
        };
        match waited.map_err(|e| e.raw_os_error()) {
            Ok(_) | Err(Some(libc::EINTR | libc::EBUSY | libc::EAGAIN | libc::ETIME)) => Ok(()),
            Err(other) => {
                // The ring is broken with I/O in flight: the kernel may still write
                // into the buffers, so they are never freed.
                std::mem::forget(self.mem.take());
                Err(Stop::Failed(Error::new(
                    other.unwrap_or(libc::EIO),
                    Step::Resource,
                )))
            }
        }
    }
}

/// Runs the engine: keeps every idle slot reading the next chunk until end of file
/// is known, turns each finished read into a write of the same chunk, and reports
/// after every batch of completions.
pub(crate) fn run(job: &Job<'_>, stats: &mut Stats) -> Outcome {
    let mut e = setup(job)?;
    let (mut eof, mut done) = (u64::MAX, 0u64);
    // Set once no piece is left, or the one handed out lies past the end.
    let mut drained = false;
    let mut inflight = 0usize;
    let mut failure: Option<Stop> = None;
    // At most one entry per slot: pushes never grow it past this.
    let mut queue: Vec<squeue::Entry> = Vec::new();
    queue
        .try_reserve_exact(e.slots.len())
        .map_err(|_| Stop::Unavailable(libc::ENOMEM))?;
    loop {
        if failure.is_none() {
            for s in e.slots.iter_mut() {
                if !matches!(s.state, State::Idle) || drained {
                    continue;
                }
                match job.pieces.next() {
                    Some(p) if p.base < eof => queue.push(s.start(&e.files, p)),
                    _ => drained = true,
                }
            }
        }
        for entry in queue.drain(..) {
            // SAFETY: each entry points into its own slot's buffer and stays within
            // it; the ring holds 2 x depth entries and each slot has at most one I/O.
            if unsafe { e.ring.submission().push(&entry) }.is_ok() {
                inflight += 1;
            } else {
                failure.get_or_insert(Stop::Failed(Error::new(libc::EBUSY, Step::Resource)));
            }
        }
        if inflight == 0 {
            break;
        }
        e.wait()?;
        for c in e.ring.completion() {
            let (i, res) = (c.user_data() as usize, c.result());
            inflight -= 1;
            if res >= 0 {
                stats.io_calls += 1;
            }
            let Some(slot) = e.slots.get_mut(i) else {
                continue;
            };
            match slot.complete(&e.files, &job.io, res, &mut eof, done, failure.is_some()) {
                Next::Submit(entry) => queue.push(entry),
                Next::Done(n) => done += n,
                Next::Rest => {}
                Next::Fail(stop) => {
                    failure.get_or_insert(stop);
                }
            }
        }
        if failure.is_none()
            && let Err(err) = job.report(done)
        {
            failure = Some(Stop::Failed(err));
        }
        if failure.is_some() {
            queue.clear(); // stopping: only reap what is in flight
        }
    }
    drop(e);
    stats.bytes = done;
    if let Some(f) = failure {
        return Err(f);
    }
    Ok(job.finish((eof != u64::MAX).then_some(eof))?)
}
