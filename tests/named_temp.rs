//! The destination rules where O_TMPFILE is not available: a named temporary file
//! that is renamed into place, or removed on failure. Its own test binary, since it
//! switches O_TMPFILE off for the whole process.

mod common;

use std::fs;
use std::ops::ControlFlow;
use std::path::Path;

use common::*;
use zcio::{Flags, Options, Stats, directio_copy};

const CHUNK: usize = 1 << 20;

fn run(src: &Path, dst: &Path, opts: &Options<'_>) -> (Result<(), zcio::Error>, Stats) {
    let mut st = Stats::default();
    let r = directio_copy(src, dst, opts, &mut st);
    (r, st)
}

fn errno(r: Result<(), zcio::Error>) -> i32 {
    r.err().map(|e| e.errno()).unwrap_or(0)
}

#[test]
fn named_temporary_file_where_there_is_no_o_tmpfile() {
    // As on a file system without O_TMPFILE (this kernel has no vfat to show it):
    // the copy goes through a named temporary file, created with O_EXCL.
    zcio::core::testing::force_named_temp(true);
    let m = disk_dir();
    let d = disk_dir();
    let src = d.path().join("src");
    let bytes = data(2 * CHUNK + 999, 26);
    write_file(&src, &bytes);
    let mp = m.path().to_path_buf();
    let dst = mp.join("dst");
    run(&src, &dst, &Options::default()).0.expect("new");
    assert!(fs::read(&dst).expect("read") == bytes);
    let bytes2 = data(CHUNK + 5, 27);
    write_file(&src, &bytes2);
    run(&src, &dst, &Options::default()).0.expect("replace");
    assert!(fs::read(&dst).expect("read") == bytes2);
    let excl = Options {
        flags: Flags::EXCL,
        ..Default::default()
    };
    assert_eq!(errno(run(&src, &dst, &excl).0), libc::EEXIST);
    run(&src, &mp.join("excl"), &excl).0.expect("excl new");
    assert!(fs::read(mp.join("excl")).expect("read") == bytes2);
    // While the copy runs, its temporary file is visible under a .zcio- name.
    let seen = std::cell::Cell::new(false);
    let stop = |_: u64, _: u64| {
        seen.set(
            extra_entries(&mp, &["dst", "excl"])
                .iter()
                .any(|n| n.starts_with(".zcio-")),
        );
        ControlFlow::Break(())
    };
    let o = Options {
        progress: Some(&stop),
        ..Default::default()
    };
    assert_eq!(errno(run(&src, &dst, &o).0), libc::ECANCELED);
    assert!(seen.get(), "no named temporary file was used");
    assert!(fs::read(&dst).expect("read") == bytes2);
    assert_eq!(extra_entries(&mp, &["dst", "excl"]), Vec::<String>::new());
}
