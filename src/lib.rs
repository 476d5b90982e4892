//! zcio: fast, safe file copies for Linux.
//!
//! The Rust API lives in [`core`] and is re-exported here; [`capi`] is the C ABI
//! (`include/zcio.h`) built on top of it.
//!
//! ```no_run
//! let stats = zcio::directio_copy_path("big.img", "copy.img", &zcio::Options::default())?;
//! println!("{} bytes by {}", stats.bytes, stats.method);
//! # Ok::<(), zcio::Error>(())
//! ```

pub mod capi;
pub mod core;

pub use crate::core::align::{AlignSource, DioAlign, dio_alignment};
pub use crate::core::clone::reflink;
pub use crate::core::direct::directio_copy;
pub use crate::core::directio::{Advice, directio};
pub use crate::core::file::{copy_file, splice_file};
pub use crate::core::mmap::mmap_copy;
pub use crate::core::range::copy_file_range;
pub use crate::core::sendfile::sendfile;
pub use crate::core::splice::splice;
pub use crate::core::{
    Engine, Error, Flags, MAX_IO, Method, Options, Progress, Result, Stats, Step, TO_EOF, strerror,
};

use std::path::Path;

/// [`directio_copy`] for callers that want the statistics as the result.
pub fn directio_copy_path(
    src: impl AsRef<Path>,
    dst: impl AsRef<Path>,
    opts: &Options<'_>,
) -> Result<Stats> {
    let mut stats = Stats::default();
    directio_copy(src.as_ref(), dst.as_ref(), opts, &mut stats)?;
    Ok(stats)
}
