//! The tree copy: zcio's `copy_tree`, run on threads of its own while the
//! calling thread watches for Ctrl-C and reports progress.

use std::ops::ControlFlow;
use std::os::unix::ffi::OsStrExt;
use std::path::Path;
use std::sync::Mutex;

use pyo3::prelude::*;
use pyo3::types::PyBytes;

use crate::errors::copy_error;
use crate::opts::{FileOpts, TreeOpts};
use crate::paths::PathArg;
use crate::stats::{TreeProgress, TreeStats};
use crate::watch::{Cancel, on_main_thread, run_watched};

/// One entry that failed: its path below `src` (empty for `src` itself), its
/// errno and the step that failed.
type Failure<'py> = (Bound<'py, PyBytes>, i32, &'static str);

/// Copies the tree `src` to `dst` with zcio's parallel tree copy. Every entry that
/// fails is skipped and listed; returns the tree's stats and that list (a failure
/// of the copy as a whole, such as a missing `src`, raises instead). `progress`
/// is called with a `TreeProgress` on this thread about every 50 ms and once at
/// the end; an exception from it, or a KeyboardInterrupt, stops the copy (the
/// files being copied are left as they were) and is raised.
#[pyfunction]
#[pyo3(signature = (src, dst, opts, tree, progress=None))]
pub fn copy_tree<'py>(
    py: Python<'py>,
    src: PathArg,
    dst: PathArg,
    opts: FileOpts,
    tree: TreeOpts,
    progress: Option<Py<PyAny>>,
) -> PyResult<(Py<TreeStats>, Vec<Failure<'py>>)> {
    let file = opts.check()?;
    let settings = tree.check()?;
    let cancel = Cancel::default();
    let latest: Mutex<Option<zcio::TreeProgress>> = Mutex::new(None);
    let failures: Mutex<Vec<(std::path::PathBuf, zcio::Error)>> = Mutex::new(Vec::new());
    // Without a reason to hear from the copy, it gets no progress callback; one
    // there only for Ctrl-C asks for no byte totals: either way zcio then skips
    // looking up every file's size.
    let watched = progress.is_some() || on_main_thread(py);
    let mut shown = TreeProgress::default();
    let tick = progress.as_ref().map(|f| {
        let latest = &latest;
        move |py: Python<'_>| -> PyResult<()> {
            let now = *latest.lock().unwrap_or_else(|p| p.into_inner());
            if let Some(p) = now.map(TreeProgress::from)
                && p != shown
            {
                shown = p;
                f.call1(py, (p,))?;
            }
            Ok(())
        }
    });
    let (s, d) = (&src.path, &dst.path);
    let result = run_watched(py, &cancel, tick, || {
        let on_progress = |p: zcio::TreeProgress| -> ControlFlow<()> {
            *latest.lock().unwrap_or_else(|e| e.into_inner()) = Some(p);
            cancel.flow()
        };
        let on_error = |e: &zcio::TreeError<'_>| -> ControlFlow<()> {
            let mut v = failures.lock().unwrap_or_else(|p| p.into_inner());
            v.push((e.path.to_path_buf(), e.error.clone()));
            ControlFlow::Continue(())
        };
        let o = settings.options(&file).on_error(&on_error);
        let o = if watched {
            o.progress(&on_progress).byte_totals(progress.is_some())
        } else {
            o
        };
        o.copy_tree(s, d)
    })?;
    if let Some(e) = cancel.take() {
        return Err(e);
    }
    let failures = failures.into_inner().unwrap_or_else(|p| p.into_inner());
    let stats = match &result {
        Ok(st) => *st,
        // Entries failed: the copy went on, and its stats say what it did.
        Err(e) if !failures.is_empty() => e.tree_stats().copied().unwrap_or_default(),
        // The copy as a whole could not start (src missing, dst refused...).
        Err(e) => return Err(copy_error(py, e, Some(src.obj(py)), Some(dst.obj(py)))),
    };
    if let Some(f) = &progress {
        let last = latest.lock().unwrap_or_else(|p| p.into_inner()).take();
        if let Some(p) = last {
            f.call1(py, (TreeProgress::from(p),))?;
        }
    }
    let list = failures
        .iter()
        .map(|(path, e)| {
            let rel = path.strip_prefix(s).unwrap_or(Path::new(path));
            (
                PyBytes::new(py, rel.as_os_str().as_bytes()),
                e.raw_os_error(),
                e.step().name(),
            )
        })
        .collect();
    Ok((Py::new(py, TreeStats::from(&stats))?, list))
}
