//! `zcio._zcio`: the extension module under the Python package `zcio`.
//!
//! A thin layer over zcio's public Rust API, as `src/capi` is for C: each
//! function converts its arguments, calls zcio with the GIL released, and turns
//! the result into Python objects (an `OSError` subclass with `errno`,
//! `filename` and `filename2` on failure). No copying is done here; the
//! shutil-shaped functions are in `python/zcio/_shutil.py`.

mod copy;
mod errors;
mod fd;
mod opts;
mod paths;
mod stats;
mod tree;
mod watch;

use pyo3::prelude::*;

#[pymodule]
fn _zcio(m: &Bound<'_, PyModule>) -> PyResult<()> {
    watch::init(m.py())?;
    m.add("__version__", env!("CARGO_PKG_VERSION"))?;
    m.add("TO_EOF", zcio::TO_EOF)?;
    m.add(
        "METHODS",
        zcio::Method::ALL
            .iter()
            .map(|m| m.name())
            .collect::<Vec<_>>(),
    )?;
    m.add(
        "ENGINES",
        zcio::Engine::ALL
            .iter()
            .map(|e| e.name())
            .collect::<Vec<_>>(),
    )?;
    // Which path an error at each step names, for the tree copy's failures.
    let steps = pyo3::types::PyDict::new(m.py());
    for s in zcio::Step::ALL {
        let which = match errors::names_of(s) {
            errors::Names::Src => "src",
            errors::Names::Dst => "dst",
            errors::Names::Both => "both",
        };
        steps.set_item(s.name(), which)?;
    }
    m.add("STEP_PATHS", steps)?;
    m.add_class::<stats::Stats>()?;
    m.add_class::<stats::TreeStats>()?;
    m.add_class::<stats::TreeProgress>()?;
    m.add_function(wrap_pyfunction!(copy::copy_file, m)?)?;
    m.add_function(wrap_pyfunction!(copy::copy_batch, m)?)?;
    m.add_function(wrap_pyfunction!(tree::copy_tree, m)?)?;
    m.add_function(wrap_pyfunction!(fd::sendfile, m)?)?;
    m.add_function(wrap_pyfunction!(fd::splice, m)?)?;
    m.add_function(wrap_pyfunction!(fd::copy_file_range, m)?)?;
    m.add_function(wrap_pyfunction!(fd::mmap_copy, m)?)?;
    m.add_function(wrap_pyfunction!(fd::reflink, m)?)?;
    m.add_function(wrap_pyfunction!(fd::directio, m)?)?;
    m.add_function(wrap_pyfunction!(fd::dio_alignment, m)?)?;
    Ok(())
}
