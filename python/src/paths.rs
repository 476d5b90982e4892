//! Paths from Python: `str`, `bytes` or any `os.PathLike`, as `os` takes them.

use std::ffi::{OsStr, OsString};
use std::os::unix::ffi::OsStrExt;
use std::path::PathBuf;

use pyo3::prelude::*;
use pyo3::sync::PyOnceLock;
use pyo3::types::{PyBytes, PyString};

/// A path argument: the bytes the kernel gets, and the object the caller gave
/// (an error names it as given, as `os` does).
pub struct PathArg {
    pub path: PathBuf,
    pub obj: Py<PyAny>,
}

/// The bytes of a `str` or `bytes` path; `None` for anything else. A `str` is
/// encoded as `os.fsencode` does (surrogateescape), so every name `os.listdir`
/// gives comes back as the same bytes.
pub fn plain_path(ob: &Bound<'_, PyAny>) -> PyResult<Option<PathBuf>> {
    if let Ok(b) = ob.cast::<PyBytes>() {
        return Ok(Some(PathBuf::from(OsStr::from_bytes(b.as_bytes()))));
    }
    if ob.is_instance_of::<PyString>() {
        return Ok(Some(PathBuf::from(ob.extract::<OsString>()?)));
    }
    Ok(None)
}

impl<'a, 'py> FromPyObject<'a, 'py> for PathArg {
    type Error = PyErr;

    fn extract(ob: Borrowed<'a, 'py, PyAny>) -> PyResult<Self> {
        let ob = ob.to_owned();
        let path = match plain_path(&ob)? {
            Some(p) => p,
            None => {
                static FSPATH: PyOnceLock<Py<PyAny>> = PyOnceLock::new();
                let fs = FSPATH.import(ob.py(), "os", "fspath")?.call1((&ob,))?;
                plain_path(&fs)?.ok_or_else(|| {
                    pyo3::exceptions::PyTypeError::new_err("os.fspath() gave neither str nor bytes")
                })?
            }
        };
        Ok(PathArg {
            path,
            obj: ob.unbind(),
        })
    }
}

impl PathArg {
    pub fn obj(&self, py: Python<'_>) -> Py<PyAny> {
        self.obj.clone_ref(py)
    }
}
