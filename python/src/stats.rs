//! What a copy reports, as read-only Python objects.

use pyo3::prelude::*;
use pyo3::sync::PyOnceLock;
use pyo3::types::PyDict;

fn strerror(py: Python<'_>, errno: i32) -> String {
    static STRERROR: PyOnceLock<Py<PyAny>> = PyOnceLock::new();
    STRERROR
        .import(py, "os", "strerror")
        .and_then(|f| f.call1((errno,)))
        .and_then(|s| s.extract::<String>())
        .unwrap_or_else(|_| format!("Unknown error {errno}"))
}

/// What one file's copy did: the method that moved the data, the methods given
/// up on the way and why, the bytes, the time.
#[pyclass(frozen, module = "zcio", name = "Stats")]
pub struct Stats {
    /// The method that moved the data ("reflink", "copy_file_range", ...).
    #[pyo3(get)]
    method: &'static str,
    /// The Direct I/O engine that ran ("io_uring", "threads", "sync"), or None.
    #[pyo3(get)]
    engine: Option<&'static str>,
    /// The Direct I/O alignment used, in bytes (0 when not a Direct I/O copy).
    #[pyo3(get)]
    alignment: u32,
    /// Bytes written to the destination.
    #[pyo3(get)]
    bytes: u64,
    /// The size of the copy: `bytes` plus the holes kept, or what a reflink shared.
    #[pyo3(get)]
    file_size: u64,
    /// System calls that moved data.
    #[pyo3(get)]
    io_calls: u64,
    /// Wall time of the whole copy, in nanoseconds.
    #[pyo3(get)]
    elapsed_ns: u64,
    /// The step that failed ("none" on success).
    #[pyo3(get)]
    failed_step: &'static str,
    /// Extended attributes copied.
    #[pyo3(get)]
    xattrs_copied: u32,
    /// Extended attributes the destination would not take.
    #[pyo3(get)]
    xattrs_skipped: u32,
    /// How an uncached copy left the page cache as it was: "dontcache" (the
    /// kernel dropped the pages), "dropped" (zcio did), or None.
    #[pyo3(get)]
    uncached: Option<&'static str>,
    gave_up: Vec<(&'static str, i32)>,
}

impl From<&zcio::Stats> for Stats {
    fn from(s: &zcio::Stats) -> Stats {
        Stats {
            method: s.method.name(),
            engine: s.engine.map(|e| e.name()),
            alignment: s.alignment,
            bytes: s.bytes,
            file_size: s.file_size,
            io_calls: s.io_calls,
            elapsed_ns: u64::try_from(s.elapsed.as_nanos()).unwrap_or(u64::MAX),
            failed_step: s.failed_step.name(),
            xattrs_copied: s.xattrs_copied,
            xattrs_skipped: s.xattrs_skipped,
            uncached: s.uncached.map(|u| u.name()),
            gave_up: s.fallbacks().map(|(m, e)| (m.name(), e)).collect(),
        }
    }
}

#[pymethods]
impl Stats {
    /// Wall time of the whole copy, in seconds.
    #[getter]
    fn elapsed(&self) -> f64 {
        self.elapsed_ns as f64 / 1e9
    }

    /// Each method tried and given up, in zcio's order, as
    /// `(method, errno, reason)`; errno 0 means it moved nothing from a file
    /// that may hide data behind a size of 0, so the next method looked.
    #[getter]
    fn fallbacks(&self, py: Python<'_>) -> Vec<(&'static str, i32, String)> {
        self.gave_up
            .iter()
            .map(|&(m, e)| {
                let why = if e == 0 {
                    "moved nothing; the next method looked".to_string()
                } else {
                    strerror(py, e)
                };
                (m, e, why)
            })
            .collect()
    }

    /// The fields as a dict.
    fn as_dict<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyDict>> {
        let d = PyDict::new(py);
        d.set_item("method", self.method)?;
        d.set_item("engine", self.engine)?;
        d.set_item("alignment", self.alignment)?;
        d.set_item("bytes", self.bytes)?;
        d.set_item("file_size", self.file_size)?;
        d.set_item("io_calls", self.io_calls)?;
        d.set_item("elapsed", self.elapsed())?;
        d.set_item("failed_step", self.failed_step)?;
        d.set_item("xattrs_copied", self.xattrs_copied)?;
        d.set_item("xattrs_skipped", self.xattrs_skipped)?;
        d.set_item("uncached", self.uncached)?;
        d.set_item("fallbacks", self.fallbacks(py))?;
        Ok(d)
    }

    fn __repr__(&self, py: Python<'_>) -> String {
        let gave_up: Vec<String> = self
            .fallbacks(py)
            .into_iter()
            .map(|(m, _, why)| format!("{m}: {why}"))
            .collect();
        format!(
            "zcio.Stats(method={:?}, bytes={}, file_size={}, elapsed={:.6}, io_calls={}, engine={}, fallbacks=[{}])",
            self.method,
            self.bytes,
            self.file_size,
            self.elapsed(),
            self.io_calls,
            self.engine.map_or("None".to_string(), |e| format!("{e:?}")),
            gave_up.join("; ")
        )
    }
}

/// What a tree copy did.
#[pyclass(frozen, module = "zcio", name = "TreeStats")]
pub struct TreeStats {
    /// Regular files copied (hard links made instead count in `hardlinks`).
    #[pyo3(get)]
    files: u64,
    /// Directories created or merged into.
    #[pyo3(get)]
    dirs: u64,
    /// Symlinks recreated.
    #[pyo3(get)]
    symlinks: u64,
    /// Hard links made to a file already copied.
    #[pyo3(get)]
    hardlinks: u64,
    /// FIFOs, sockets and devices recreated.
    #[pyo3(get)]
    specials: u64,
    /// Bytes written into regular files.
    #[pyo3(get)]
    bytes: u64,
    /// Bytes shared with the source by a reflink instead of written.
    #[pyo3(get)]
    bytes_reflinked: u64,
    /// Bytes of holes kept as holes.
    #[pyo3(get)]
    bytes_in_holes: u64,
    /// Entries left as they were.
    #[pyo3(get)]
    skipped: u64,
    /// Entries that failed.
    #[pyo3(get)]
    errors: u64,
    /// Wall time of the whole copy, in nanoseconds.
    #[pyo3(get)]
    elapsed_ns: u64,
    by_method: Vec<(&'static str, u64)>,
}

impl From<&zcio::TreeStats> for TreeStats {
    fn from(s: &zcio::TreeStats) -> TreeStats {
        TreeStats {
            files: s.files,
            dirs: s.dirs,
            symlinks: s.symlinks,
            hardlinks: s.hardlinks,
            specials: s.specials,
            bytes: s.bytes,
            bytes_reflinked: s.bytes_reflinked,
            bytes_in_holes: s.bytes_in_holes,
            skipped: s.skipped,
            errors: s.errors,
            elapsed_ns: u64::try_from(s.elapsed.as_nanos()).unwrap_or(u64::MAX),
            by_method: zcio::Method::ALL
                .iter()
                .map(|&m| (m.name(), s.files_by(m)))
                .filter(|&(_, n)| n > 0)
                .collect(),
        }
    }
}

#[pymethods]
impl TreeStats {
    /// Wall time of the whole copy, in seconds.
    #[getter]
    fn elapsed(&self) -> f64 {
        self.elapsed_ns as f64 / 1e9
    }

    /// For each method that moved any file, how many it moved.
    #[getter]
    fn files_by_method<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyDict>> {
        let d = PyDict::new(py);
        for &(m, n) in &self.by_method {
            d.set_item(m, n)?;
        }
        Ok(d)
    }

    fn __repr__(&self) -> String {
        format!(
            "zcio.TreeStats(files={}, dirs={}, symlinks={}, hardlinks={}, specials={}, bytes={}, \
             bytes_reflinked={}, skipped={}, errors={}, elapsed={:.6})",
            self.files,
            self.dirs,
            self.symlinks,
            self.hardlinks,
            self.specials,
            self.bytes,
            self.bytes_reflinked,
            self.skipped,
            self.errors,
            self.elapsed()
        )
    }
}

/// How far a tree copy has got, as its progress callback is told.
#[pyclass(frozen, module = "zcio", name = "TreeProgress")]
#[derive(Clone, Copy, Default, PartialEq, Eq)]
pub struct TreeProgress {
    /// Entries finished (copied, skipped or failed).
    #[pyo3(get)]
    pub entries_done: u64,
    /// Entries found so far.
    #[pyo3(get)]
    pub entries_known: u64,
    /// Bytes of regular files dealt with so far.
    #[pyo3(get)]
    pub bytes_done: u64,
    /// Bytes of the regular files found so far.
    #[pyo3(get)]
    pub bytes_known: u64,
    /// Whether every entry has been found: the `_known` fields are then totals.
    #[pyo3(get)]
    pub walk_done: bool,
}

impl From<zcio::TreeProgress> for TreeProgress {
    fn from(p: zcio::TreeProgress) -> TreeProgress {
        TreeProgress {
            entries_done: p.entries_done,
            entries_known: p.entries_known,
            bytes_done: p.bytes_done,
            bytes_known: p.bytes_known,
            walk_done: p.walk_done,
        }
    }
}

#[pymethods]
impl TreeProgress {
    #[new]
    #[pyo3(signature = (entries_done=0, entries_known=0, bytes_done=0, bytes_known=0, walk_done=false))]
    fn new(
        entries_done: u64,
        entries_known: u64,
        bytes_done: u64,
        bytes_known: u64,
        walk_done: bool,
    ) -> TreeProgress {
        TreeProgress {
            entries_done,
            entries_known,
            bytes_done,
            bytes_known,
            walk_done,
        }
    }

    fn __repr__(&self) -> String {
        format!(
            "zcio.TreeProgress(entries_done={}, entries_known={}, bytes_done={}, bytes_known={}, walk_done={})",
            self.entries_done,
            self.entries_known,
            self.bytes_done,
            self.bytes_known,
            if self.walk_done { "True" } else { "False" }
        )
    }
}
