//! Progress reports to the caller's callback, and the pacing of the copies that
//! move data in pieces so that reports come often enough.

use std::ops::ControlFlow;
use std::time::Duration;

use super::error::{Error, Result};
use super::options::{Options, Progress, ProgressFn};
use super::stats::Step;

/// Tells the caller's callback how far a copy got; a request to stop becomes
/// `ECANCELED`.
#[derive(Clone, Copy)]
pub(crate) struct Reporter<'a> {
    f: Option<&'a ProgressFn<'a>>,
    /// The source's size when the copy started; `None` for streams.
    total: Option<u64>,
}

impl<'a> Reporter<'a> {
    pub(crate) fn new(opts: &Options<'a>, total: Option<u64>) -> Reporter<'a> {
        Reporter {
            f: opts.progress,
            total,
        }
    }

    /// Reports `done` bytes.
    pub(crate) fn report(&self, done: u64) -> Result<()> {
        if let Some(f) = self.f
            && let ControlFlow::Break(()) = f(Progress::new(done, self.total))
        {
            return Err(Error::new(libc::ECANCELED, Step::Cancel));
        }
        Ok(())
    }
}

/// Reports after every piece, and sizes pieces so that each takes about 30 ms:
/// reports come at least every 64 MiB and, unless one system call alone takes
/// longer, every 100 ms.
pub(crate) struct Pacer<'a> {
    reporter: Reporter<'a>,
    piece: u64,
}

const PIECE_MIN: u64 = 256 << 10;
const PIECE_MAX: u64 = 64 << 20;
const PIECE_FIRST: u64 = 4 << 20;
const PIECE_AIM: Duration = Duration::from_millis(30);

impl<'a> Pacer<'a> {
    pub(crate) fn new(reporter: Reporter<'a>) -> Pacer<'a> {
        // Without a callback no piece needs to be small: each system call moves
        // as much as the kernel takes in one.
        let piece = if reporter.f.is_some() {
            PIECE_FIRST
        } else {
            u64::MAX
        };
        Pacer { reporter, piece }
    }

    /// The most the next piece should move.
    pub(crate) fn piece(&self) -> u64 {
        self.piece
    }

    /// After a piece that moved `moved` bytes in `took`: resize, then report `done`.
    pub(crate) fn after(&mut self, done: u64, moved: u64, took: Duration) -> Result<()> {
        if moved > 0 && self.reporter.f.is_some() {
            let rate = moved as f64 / took.as_secs_f64().max(1e-6);
            self.piece = ((rate * PIECE_AIM.as_secs_f64()) as u64).clamp(PIECE_MIN, PIECE_MAX);
        }
        self.reporter.report(done)
    }

    /// The reporter, for a copy that reports on its own.
    pub(crate) fn reporter(&self) -> Reporter<'a> {
        self.reporter
    }

    /// The last report.
    pub(crate) fn finish(&self, done: u64) -> Result<()> {
        self.reporter.report(done)
    }
}
