//! A full XFS file system (a loop-mounted image made by the test): every method
//! fails with ENOSPC, keeps the old destination byte for byte (or leaves none),
//! leaves no temporary file, and gives all the space back. tmpfs and ext2 are
//! covered in copy_file.rs and direct.rs; the named temporary file on a full XFS
//! in security_named_temp.rs.

mod common;
#[path = "common/full.rs"]
mod full;

#[test]
fn full_xfs_keeps_the_old_destination_and_gives_the_space_back() {
    full::check_full_xfs(&full::every_way());
}
