//! The path-based copies: one file (`copy_file`), and many files at once on a
//! few threads (`copy_batch`, for the Python-side tree walk).

use std::os::unix::fs::PermissionsExt;
use std::path::PathBuf;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};

use pyo3::prelude::*;
use pyo3::types::PyList;

use crate::errors::{bad_value, copy_error};
use crate::opts::{FileOpts, FileSettings};
use crate::paths::{PathArg, plain_path};
use crate::stats::{Stats, TreeProgress};
use crate::watch::{Cancel, FileWatch, run_watched};

#[derive(Clone, Copy)]
enum Kind {
    Copy,
    Direct,
    Splice,
}

/// Copies the file `src` to `dst` with zcio (`kind` "copy": the best method, or
/// the one `opts` names; "directio": Direct I/O; "splice": through splice(2)).
/// The GIL is released while it runs. `progress(done, total)` is called as bytes
/// move; an exception it raises (or a KeyboardInterrupt) stops the copy, leaves
/// the destination as it was, and is raised here.
#[pyfunction]
#[pyo3(signature = (src, dst, opts, kind="copy", progress=None))]
pub fn copy_file(
    py: Python<'_>,
    src: PathArg,
    dst: PathArg,
    opts: FileOpts,
    kind: &str,
    progress: Option<Py<PyAny>>,
) -> PyResult<Stats> {
    let settings = opts.check()?;
    let kind = match kind {
        "copy" => Kind::Copy,
        "directio" => Kind::Direct,
        "splice" => Kind::Splice,
        k => return Err(bad_value("kind", k, &["copy", "directio", "splice"])),
    };
    let watch = FileWatch::new(py, progress);
    let (s, d) = (&src.path, &dst.path);
    let r = py.detach(|| {
        let f = |p: zcio::Progress| watch.report(p);
        let o = settings.options();
        let o = if watch.wanted() { o.progress(&f) } else { o };
        match kind {
            Kind::Copy => o.copy_file(s, d),
            Kind::Direct => o.directio_copy(s, d),
            Kind::Splice => o.splice_file(s, d),
        }
    });
    if let Some(e) = watch.cancel.take() {
        return Err(e);
    }
    match r {
        Ok(st) => Ok(Stats::from(&st)),
        Err(e) => Err(copy_error(py, &e, Some(src.obj(py)), Some(dst.obj(py)))),
    }
}

/// The umask, from /proc/self/status (reading it with umask(2) would change it
/// for every other thread for a moment).
fn umask() -> Option<u32> {
    let s = std::fs::read_to_string("/proc/self/status").ok()?;
    let v = s.lines().find_map(|l| l.strip_prefix("Umask:"))?;
    u32::from_str_radix(v.trim(), 8).ok()
}

/// One failed pair of a batch: its index, errno and step.
type Failure = (usize, i32, &'static str);

/// Copies every `(src, dst)` pair of `pairs` (each `str` or `bytes`) with zcio, up
/// to `jobs` at once (0: 8), the GIL released; in the order of `inodes` (the
/// sources' inode numbers, as a directory listing gives them) when given, which
/// reads a cold disk with fewer seeks. With `new_mode`, a destination
/// that did not exist gets that mode, umask applied (as `open()` would create it).
/// Returns the failures as `(index, errno, step)`, sorted by index, and the files
/// and bytes copied. `progress(TreeProgress)` is called on this thread about
/// every 50 ms; an exception from it, or a KeyboardInterrupt, stops the batch
/// (files being copied are left as they were) and is raised.
#[pyfunction]
#[pyo3(signature = (pairs, opts, *, jobs=0, new_mode=None, bytes_known=0, inodes=None, progress=None))]
#[allow(clippy::too_many_arguments)]
pub fn copy_batch(
    py: Python<'_>,
    pairs: &Bound<'_, PyList>,
    opts: FileOpts,
    jobs: usize,
    new_mode: Option<u32>,
    bytes_known: u64,
    inodes: Option<Vec<u64>>,
    progress: Option<Py<PyAny>>,
) -> PyResult<(Vec<Failure>, u64, u64)> {
    let settings = opts.check()?;
    let mut list: Vec<(PathBuf, PathBuf)> = Vec::with_capacity(pairs.len());
    for item in pairs.iter() {
        let (a, b): (Bound<'_, PyAny>, Bound<'_, PyAny>) = item.extract()?;
        let path = |o: &Bound<'_, PyAny>| -> PyResult<PathBuf> {
            plain_path(o)?.ok_or_else(|| {
                pyo3::exceptions::PyTypeError::new_err("copy_batch takes str or bytes paths")
            })
        };
        list.push((path(&a)?, path(&b)?));
    }
    let mode = new_mode.map(|m| m & !umask().unwrap_or(0o022));
    let mut order: Vec<usize> = (0..list.len()).collect();
    if let Some(ino) = &inodes {
        if ino.len() != list.len() {
            return Err(pyo3::exceptions::PyValueError::new_err(
                "inodes must have one number per pair",
            ));
        }
        order.sort_by_key(|&i| ino[i]);
    }
    let batch = Batch {
        list: &list,
        order: &order,
        settings,
        new_mode: mode,
        next: AtomicUsize::new(0),
        files: AtomicU64::new(0),
        bytes: AtomicU64::new(0),
        cancel: Cancel::default(),
    };
    let jobs = if jobs == 0 { 8 } else { jobs }.min(list.len()).max(1);
    let total = list.len() as u64;
    let mut last = TreeProgress::default();
    let tick = progress.as_ref().map(|f| {
        let batch = &batch;
        move |py: Python<'_>| -> PyResult<()> {
            let p = batch.progress(total, bytes_known);
            if p != last {
                last = p;
                f.call1(py, (p,))?;
            }
            Ok(())
        }
    });
    let mut failed = run_watched(py, &batch.cancel, tick, || {
        std::thread::scope(|s| {
            let workers: Vec<_> = (1..jobs)
                .filter_map(|_| {
                    std::thread::Builder::new()
                        .spawn_scoped(s, || batch.work())
                        .ok()
                })
                .collect();
            let mut all = batch.work();
            for w in workers {
                if let Ok(v) = w.join() {
                    all.extend(v);
                }
            }
            all
        })
    })?;
    if let Some(e) = batch.cancel.take() {
        return Err(e);
    }
    if let Some(f) = &progress {
        let mut p = batch.progress(total, bytes_known);
        p.walk_done = true;
        f.call1(py, (p,))?;
    }
    failed.sort_unstable_by_key(|f| f.0);
    Ok((
        failed,
        batch.files.load(Ordering::Relaxed),
        batch.bytes.load(Ordering::Relaxed),
    ))
}

struct Batch<'l> {
    list: &'l [(PathBuf, PathBuf)],
    /// The indices of `list` in the order to copy them.
    order: &'l [usize],
    settings: FileSettings,
    new_mode: Option<u32>,
    next: AtomicUsize,
    files: AtomicU64,
    bytes: AtomicU64,
    cancel: Cancel,
}

impl Batch<'_> {
    fn progress(&self, total: u64, bytes_known: u64) -> TreeProgress {
        let done = self.next.load(Ordering::Relaxed).min(self.list.len()) as u64;
        TreeProgress {
            entries_done: done,
            entries_known: total,
            bytes_done: self.bytes.load(Ordering::Relaxed),
            bytes_known,
            walk_done: false,
        }
    }

    /// One thread's share: pairs taken in turn until none is left.
    fn work(&self) -> Vec<Failure> {
        let mut failed = Vec::new();
        let stop = |_: zcio::Progress| self.cancel.flow();
        let o = self.settings.options().progress(&stop);
        loop {
            if self.cancel.is_set() {
                break;
            }
            let n = self.next.fetch_add(1, Ordering::Relaxed);
            let Some(&i) = self.order.get(n) else {
                break;
            };
            let Some((src, dst)) = self.list.get(i) else {
                break;
            };
            // Only a destination made by this copy gets new_mode; an existing one
            // keeps its own, as open(dst, "wb") keeps it.
            let fresh = self.new_mode.is_some() && std::fs::symlink_metadata(dst).is_err();
            match o.copy_file(src, dst) {
                Ok(st) => {
                    if let (true, Some(m)) = (fresh, self.new_mode)
                        && let Err(e) =
                            std::fs::set_permissions(dst, std::fs::Permissions::from_mode(m))
                    {
                        failed.push((i, e.raw_os_error().unwrap_or(libc::EIO), "metadata"));
                    }
                    self.files.fetch_add(1, Ordering::Relaxed);
                    self.bytes.fetch_add(st.bytes, Ordering::Relaxed);
                }
                Err(e) => failed.push((i, e.raw_os_error(), e.step().name())),
            }
        }
        failed
    }
}
