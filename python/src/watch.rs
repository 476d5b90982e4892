//! Ctrl-C and progress while a copy runs with the GIL released.
//!
//! Python runs signal handlers only on its main thread, and only when that thread
//! asks (`PyErr_CheckSignals`). A copy started on the main thread asks from
//! zcio's progress callback (one file) or from a loop that waits for the copy's
//! own thread (trees, batches); an exception there (KeyboardInterrupt, or one the
//! caller's progress callable raised) stops the copy through zcio's cancellation,
//! which leaves the destination as it was, and is raised once the copy is over.

use std::ops::ControlFlow;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc::{self, RecvTimeoutError};
use std::sync::{Mutex, OnceLock};
use std::thread::ThreadId;
use std::time::{Duration, Instant};

use pyo3::exceptions::PyRuntimeError;
use pyo3::prelude::*;

use crate::errors::os_error;

/// How often a copy on the main thread looks for signals: each look takes the
/// GIL, which another busy thread may hold for up to its switch interval (5 ms).
pub const TICK: Duration = Duration::from_millis(50);

static MAIN: OnceLock<ThreadId> = OnceLock::new();

/// Notes the main thread, when the module is imported there (as it nearly always is).
pub fn init(py: Python<'_>) -> PyResult<()> {
    if python_main(py)? {
        let _ = MAIN.set(std::thread::current().id());
    }
    Ok(())
}

fn python_main(py: Python<'_>) -> PyResult<bool> {
    let threading = py.import("threading")?;
    let cur = threading.call_method0("current_thread")?;
    Ok(cur.is(&threading.call_method0("main_thread")?))
}

/// Whether this is Python's main thread, the only one that sees signals.
pub fn on_main_thread(py: Python<'_>) -> bool {
    match MAIN.get() {
        Some(id) => *id == std::thread::current().id(),
        None => python_main(py).unwrap_or(false),
    }
}

/// The first exception that should stop a copy, and the flag zcio's callbacks read.
#[derive(Default)]
pub struct Cancel {
    flag: AtomicBool,
    err: Mutex<Option<PyErr>>,
}

impl Cancel {
    pub fn stop(&self, e: PyErr) {
        let mut slot = self.err.lock().unwrap_or_else(|p| p.into_inner());
        slot.get_or_insert(e);
        self.flag.store(true, Ordering::SeqCst);
    }

    pub fn is_set(&self) -> bool {
        self.flag.load(Ordering::Relaxed)
    }

    pub fn take(&self) -> Option<PyErr> {
        self.err.lock().unwrap_or_else(|p| p.into_inner()).take()
    }

    /// zcio's answer: stop once an exception is waiting.
    pub fn flow(&self) -> ControlFlow<()> {
        if self.is_set() {
            ControlFlow::Break(())
        } else {
            ControlFlow::Continue(())
        }
    }
}

/// The progress callback of a one-file copy, called by zcio on the thread that
/// started the copy: the caller's callable at every report, and on the main
/// thread a look for signals at most every [`TICK`].
pub struct FileWatch {
    user: Option<Py<PyAny>>,
    main: bool,
    last: Mutex<Instant>,
    pub cancel: Cancel,
}

impl FileWatch {
    pub fn new(py: Python<'_>, user: Option<Py<PyAny>>) -> FileWatch {
        FileWatch {
            user,
            main: on_main_thread(py),
            last: Mutex::new(Instant::now()),
            cancel: Cancel::default(),
        }
    }

    /// Whether zcio needs a callback at all: without one, it moves a file in as
    /// few system calls as it can.
    pub fn wanted(&self) -> bool {
        self.user.is_some() || self.main
    }

    pub fn report(&self, p: zcio::Progress) -> ControlFlow<()> {
        if self.cancel.is_set() {
            return ControlFlow::Break(());
        }
        let r = match &self.user {
            Some(f) => Python::attach(|py| {
                py.check_signals()?;
                f.call1(py, (p.done, p.total)).map(drop)
            }),
            None if self.main => {
                let mut last = self.last.lock().unwrap_or_else(|p| p.into_inner());
                if last.elapsed() < TICK {
                    return ControlFlow::Continue(());
                }
                *last = Instant::now();
                Python::attach(|py| py.check_signals())
            }
            None => Ok(()),
        };
        if let Err(e) = r {
            self.cancel.stop(e);
        }
        self.cancel.flow()
    }
}

/// Runs `work` on a thread of its own while the calling thread, the GIL
/// released, waits for it: every [`TICK`] it takes the GIL to look for signals
/// (on the main thread) and to call `tick` (the caller's progress). An exception
/// from either is put in `cancel`, which `work` is expected to heed.
pub fn run_watched<T, W, K>(
    py: Python<'_>,
    cancel: &Cancel,
    mut tick: Option<K>,
    work: W,
) -> PyResult<T>
where
    T: Send,
    W: FnOnce() -> T + Send,
    K: FnMut(Python<'_>) -> PyResult<()> + Send,
{
    let main = on_main_thread(py);
    let out = py.detach(|| {
        std::thread::scope(|s| {
            let (tx, rx) = mpsc::channel::<()>();
            let handle = std::thread::Builder::new()
                .name("zcio-python".into())
                .spawn_scoped(s, move || {
                    let r = work();
                    let _ = tx.send(());
                    r
                })
                .map_err(|e| e.raw_os_error().unwrap_or(libc::EAGAIN))?;
            if main || tick.is_some() {
                while let Err(RecvTimeoutError::Timeout) = rx.recv_timeout(TICK) {
                    if cancel.is_set() {
                        continue;
                    }
                    let r = Python::attach(|py| {
                        if main {
                            py.check_signals()?;
                        }
                        match tick.as_mut() {
                            Some(t) => t(py),
                            None => Ok(()),
                        }
                    });
                    if let Err(e) = r {
                        cancel.stop(e);
                    }
                }
            }
            Ok(handle.join())
        })
    });
    match out {
        Ok(Ok(v)) => Ok(v),
        Ok(Err(_panic)) => Err(PyRuntimeError::new_err(
            "zcio: the copy's thread panicked (a bug in zcio: please report it)",
        )),
        Err(errno) => Err(os_error(py, errno, None, None)),
    }
}
