//! The destination rules where O_TMPFILE is not available: a named temporary file
//! that is renamed into place, or removed on failure. Its own test binary, since it
//! switches O_TMPFILE off for the whole process.

mod common;

use std::fs;
use std::ops::ControlFlow;

use common::*;
use zcio::{Options, Progress, directio_copy};

const CHUNK: usize = 1 << 20;

#[test]
fn named_temporary_file_where_there_is_no_o_tmpfile() {
    // As on a file system without O_TMPFILE (this kernel has no vfat to show it):
    // the copy goes through a named temporary file, created with O_EXCL.
    zcio::testing::force_named_temp(true);
    let m = disk_dir();
    let d = disk_dir();
    let src = d.path().join("src");
    let bytes = data(2 * CHUNK + 999, 26);
    write_file(&src, &bytes);
    let mp = m.path().to_path_buf();
    let dst = mp.join("dst");
    directio_copy(&src, &dst).expect("new");
    assert!(fs::read(&dst).expect("read") == bytes);
    let bytes2 = data(CHUNK + 5, 27);
    write_file(&src, &bytes2);
    directio_copy(&src, &dst).expect("replace");
    assert!(fs::read(&dst).expect("read") == bytes2);
    let excl = Options::new().exclusive(true);
    assert_eq!(errno(excl.directio_copy(&src, &dst)), libc::EEXIST);
    excl.directio_copy(&src, mp.join("excl")).expect("excl new");
    assert!(fs::read(mp.join("excl")).expect("read") == bytes2);
    // While the copy runs, its temporary file is visible under a .zcio- name.
    let seen = std::cell::Cell::new(false);
    let stop = |_: Progress| {
        seen.set(
            extra_entries(&mp, &["dst", "excl"])
                .iter()
                .any(|n| n.starts_with(".zcio-")),
        );
        ControlFlow::Break(())
    };
    let o = Options::new().progress(&stop);
    assert_eq!(errno(o.directio_copy(&src, &dst)), libc::ECANCELED);
    assert!(seen.get(), "no named temporary file was used");
    assert!(fs::read(&dst).expect("read") == bytes2);
    assert_eq!(extra_entries(&mp, &["dst", "excl"]), Vec::<String>::new());
}
