//! zcio's errors as the `OSError` Python code expects: the subclass of the errno
//! (`FileNotFoundError`, `PermissionError`...), `errno`, `strerror`, `filename`
//! and `filename2`, and zcio's own `step` and `stats` as extra attributes.

use pyo3::exceptions::{PyOSError, PyValueError};
use pyo3::prelude::*;
use pyo3::sync::PyOnceLock;

use crate::stats::{Stats, TreeStats};

/// `OSError(errno, strerror, filename, None, filename2)`: Python picks the
/// subclass from the errno, and `str()` reads as `os`'s own errors do.
pub fn os_error(
    py: Python<'_>,
    errno: i32,
    filename: Option<Py<PyAny>>,
    filename2: Option<Py<PyAny>>,
) -> PyErr {
    static STRERROR: PyOnceLock<Py<PyAny>> = PyOnceLock::new();
    let strerror = STRERROR
        .import(py, "os", "strerror")
        .and_then(|f| f.call1((errno,)))
        .and_then(|s| s.extract::<String>())
        .unwrap_or_else(|_| format!("Unknown error {errno}"));
    match (filename, filename2) {
        (None, None) => PyOSError::new_err((errno, strerror)),
        (f, None) => PyOSError::new_err((errno, strerror, f)),
        (f, f2) => PyOSError::new_err((errno, strerror, f, py.None(), f2)),
    }
}

/// Which of a copy's two paths an error at `step` is about: the source for
/// opening and reading it, the destination for everything done to it, both when
/// the arguments as a pair were refused.
pub enum Names {
    Src,
    Dst,
    Both,
}

pub fn names_of(step: zcio::Step) -> Names {
    use zcio::Step;
    match step {
        Step::OpenSrc | Step::Read => Names::Src,
        Step::OpenDst | Step::Write | Step::Size | Step::Sync | Step::Commit | Step::Metadata => {
            Names::Dst
        }
        _ => Names::Both,
    }
}

/// The `OSError` of a failed path-based copy from `src` to `dst`, with the
/// failed `step` and the copy's `stats` (and, for a tree, `tree_stats`) set.
pub fn copy_error(
    py: Python<'_>,
    e: &zcio::Error,
    src: Option<Py<PyAny>>,
    dst: Option<Py<PyAny>>,
) -> PyErr {
    let (f1, f2) = match names_of(e.step()) {
        Names::Src => (src, None),
        Names::Dst => (dst, None),
        Names::Both => (src, dst),
    };
    let err = os_error(py, e.raw_os_error(), f1, f2);
    // Extra attributes are a convenience: an exception that refused them would
    // still be the right exception.
    let v = err.value(py);
    let _ = v.setattr("step", e.step().name());
    let stats = e
        .stats()
        .and_then(|s| Py::new(py, Stats::from(s)).ok())
        .map(|s| s.into_any());
    let _ = v.setattr("stats", stats);
    let tree = e
        .tree_stats()
        .and_then(|s| Py::new(py, TreeStats::from(s)).ok())
        .map(|s| s.into_any());
    let _ = v.setattr("tree_stats", tree);
    err
}

/// A descriptor call's error: about the descriptor the step names.
pub fn fd_error(py: Python<'_>, e: &zcio::Error) -> PyErr {
    let err = os_error(py, e.raw_os_error(), None, None);
    let _ = err.value(py).setattr("step", e.step().name());
    err
}

/// A value outside what zcio takes (an unknown method name...).
pub fn bad_value(what: &str, got: &str, choices: &[&str]) -> PyErr {
    PyValueError::new_err(format!(
        "unknown {what} {got:?}; expected one of: {}",
        choices.join(", ")
    ))
}
