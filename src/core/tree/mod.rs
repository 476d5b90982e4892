//! Whole trees: `copy_tree` copies a directory and everything under it as
//! `cp -a` would, several entries at once, every regular file through the same
//! per-file copy as `copy_file`, relative to directory descriptors so that a tree
//! changing under the copy can redirect it neither outside the source nor outside
//! the destination.

mod dirs;
mod entry;
mod options;
mod part;
mod shared;
mod walk;

pub use options::{
    Existing, Follow, Preserve, TreeError, TreeErrorFn, TreeOptions, TreeProgress, TreeProgressFn,
};
pub use part::Phase;
