//! The safe engine of zcio. Nothing here knows about C; `crate::capi` wraps it.

pub(crate) mod align;
pub(crate) mod clone;
pub(crate) mod direct;
pub(crate) mod directio;
pub(crate) mod error;
pub(crate) mod fdio;
pub(crate) mod file;
pub(crate) mod holes;
pub(crate) mod meta;
pub(crate) mod mmap;
pub(crate) mod options;
pub(crate) mod progress;
pub(crate) mod range;
pub(crate) mod sendfile;
pub(crate) mod signals;
pub(crate) mod splice;
pub(crate) mod stats;
pub(crate) mod sys;
pub(crate) mod target;
pub(crate) mod tree;
