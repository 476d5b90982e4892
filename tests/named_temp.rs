//! The destination rules where O_TMPFILE is not available: a named temporary file
//! that is renamed into place, or removed on failure. Its own test binary, since it
//! switches O_TMPFILE off for the whole process.

mod common;

use std::fs;
use std::ops::ControlFlow;
use std::os::unix::fs::MetadataExt;
use std::path::Path;

use common::*;
use zcio::{Method, Options, Progress, directio_copy};

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

/// A mount of c-tests/passfs.py (a libfuse2 pass-through: no O_TMPFILE, no
/// RENAME_NOREPLACE, no link) over a scratch directory; unmounted when dropped.
struct PassFs {
    mnt: tempfile::TempDir,
    _backing: tempfile::TempDir,
    child: std::process::Child,
}

impl PassFs {
    fn mount() -> Option<PassFs> {
        let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("c-tests/passfs.py");
        if !is_root() || !script.exists() || !Path::new("/dev/fuse").exists() {
            eprintln!("skip: a FUSE mount needs root, /dev/fuse and c-tests/passfs.py");
            return None;
        }
        let (backing, mnt) = (disk_dir(), disk_dir());
        let child = std::process::Command::new("/usr/bin/python3")
            .arg(&script)
            .arg(backing.path())
            .arg(mnt.path())
            .spawn()
            .ok()?;
        let mut fs = PassFs {
            mnt,
            _backing: backing,
            child,
        };
        let dev = |p: &Path| fs::metadata(p).map(|m| m.dev()).ok();
        let start = std::time::Instant::now();
        while dev(fs.mnt.path()) == dev(fs.mnt.path().parent()?) {
            if fs.child.try_wait().ok()?.is_some() || start.elapsed().as_secs() > 10 {
                eprintln!("skip: passfs.py did not mount (python3-fusepy missing?)");
                return None;
            }
            std::thread::sleep(std::time::Duration::from_millis(50));
        }
        Some(fs)
    }
}

impl Drop for PassFs {
    fn drop(&mut self) {
        let _ = std::process::Command::new("umount")
            .arg("-l")
            .arg(self.mnt.path())
            .status();
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

#[test]
fn excl_on_a_libfuse2_file_system_creates_the_name_exclusively() {
    // With neither O_TMPFILE, RENAME_NOREPLACE nor link, no temporary file can
    // become the name without replacing one that appeared meanwhile: ZC_F_EXCL
    // creates the name itself with O_EXCL and fills it (removed again on failure).
    let Some(fuse) = PassFs::mount() else { return };
    let mp = fuse.mnt.path().to_path_buf();
    let d = disk_dir();
    let src = d.path().join("src");
    let bytes = data(3 * CHUNK + 77, 28);
    write_file(&src, &bytes);
    let excl = Options::new().exclusive(true);
    for (name, m) in [
        ("auto", Method::Auto),
        ("direct", Method::Direct),
        ("rw", Method::ReadWrite),
    ] {
        let dst = mp.join(name);
        excl.method(m)
            .copy_file(&src, &dst)
            .unwrap_or_else(|e| panic!("{name}: {e}"));
        assert!(fs::read(&dst).expect("read") == bytes, "{name}");
        assert_eq!(
            errno(excl.method(m).copy_file(&src, &dst)),
            libc::EEXIST,
            "{name}: an existing name"
        );
        assert!(fs::read(&dst).expect("read") == bytes, "{name}: changed");
    }
    // A failure leaves no name behind, and no temporary file.
    let stop = |_: Progress| ControlFlow::Break(());
    let r = excl.progress(&stop).copy_file(&src, mp.join("cancelled"));
    assert_eq!(errno(r), libc::ECANCELED);
    assert_eq!(
        extra_entries(&mp, &["auto", "direct", "rw"]),
        Vec::<String>::new()
    );
    // Without EXCL the copy still goes through a temporary file and rename.
    zcio::copy_file(&src, mp.join("auto")).expect("replace");
    assert_eq!(
        extra_entries(&mp, &["auto", "direct", "rw"]),
        Vec::<String>::new()
    );
    report(
        "excl_on_a_libfuse2_file_system_creates_the_name_exclusively",
        "FUSE (passfs.py, libfuse2)",
        "ZC_F_EXCL with no O_TMPFILE, RENAME_NOREPLACE or link",
        "new names created and filled; EEXIST for existing ones; nothing left on failure",
    );
}
