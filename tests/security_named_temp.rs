//! Hardening where O_TMPFILE is not available: the named temporary file
//! `.zcio-<random>.tmp` is created with O_EXCL, so a name planted just before the
//! open (a symlink, or a hard link to someone else's file) is refused and another
//! name taken; and it is never more readable than the finished copy. Its own test
//! binary, since it switches O_TMPFILE off for the whole process.

mod common;
#[path = "common/full.rs"]
mod full;
#[path = "common/plant.rs"]
mod plant;
#[path = "common/readable.rs"]
mod readable;

use std::fs;
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};
use std::sync::Mutex;

use common::*;
use readable::{Dest, check_never_wider};
use zcio::{Engine, Method, Options, Stats};

/// The named temporary files in `dir` (and the destination itself in place).
fn being_written(dir: &Path, dst: &Path, dest: Dest) -> Vec<PathBuf> {
    if dest == Dest::InPlaceNew {
        return vec![dst.to_path_buf()];
    }
    fs::read_dir(dir)
        .expect("read_dir")
        .filter_map(|e| {
            let e = e.ok()?;
            e.file_name()
                .as_encoded_bytes()
                .starts_with(b".zcio-")
                .then(|| e.path())
        })
        .collect()
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Plant {
    /// A symlink to a file outside the directory.
    Symlink,
    /// A hard link to a file elsewhere on the same file system.
    HardLink,
}

/// A copy's result and statistics, the calls stopped on its way, the names planted.
type Planted = (
    (Result<(), zcio::Error>, Stats),
    Vec<plant::Call>,
    Vec<String>,
);

/// One copy of `src` onto `dst` (through `copy_file` with `meth`, or
/// `directio_copy` for None) on a thread whose temporary-file opens find `what`
/// planted at their name first: on the first open only, or on every one.
fn planted_copy(
    src: &Path,
    dst: &Path,
    meth: Option<Method>,
    what: Plant,
    victim: &Path,
    every: bool,
) -> Option<Planted> {
    let planted = Mutex::new(Vec::new());
    let got = plant::with_planter(
        |nr, dirfd, name| {
            let mut p = planted.lock().expect("lock");
            if nr != libc::SYS_openat || (!every && !p.is_empty()) {
                return false;
            }
            let ok = match what {
                Plant::Symlink => plant::plant_symlink(dirfd, name, victim),
                Plant::HardLink => plant::plant_hard_link(dirfd, name, victim),
            };
            assert!(ok, "could not plant {what:?} at {name:?}");
            p.push(name.to_string_lossy().into_owned());
            ok
        },
        || {
            let o = Options::new().method(meth.unwrap_or_default());
            outcome(match meth {
                Some(_) => o.copy_file(src, dst),
                None => o.directio_copy(src, dst),
            })
        },
    )?;
    Some((got.0, got.1, planted.into_inner().expect("lock")))
}

#[test]
fn planted_links_at_the_temp_name_are_refused() {
    // The name zcio is about to create gets a symlink to a file outside the
    // directory, or a hard link to a file elsewhere, planted just before the kernel
    // runs the open. O_EXCL makes the open fail (EEXIST) and zcio takes another
    // name; without it, the copy would be written into the victim (through the
    // hard link even with O_NOFOLLOW), then renamed over the destination.
    zcio::testing::force_named_temp(true);
    let d = disk_dir();
    let elsewhere = disk_dir(); // same file system: hard links work
    let victim = elsewhere.path().join("victim");
    let vbytes = data(5000, 81);
    let src = d.path().join("src");
    let bytes = data(3 << 20, 82);
    write_file(&src, &bytes);
    fs::set_permissions(&src, std::os::unix::fs::PermissionsExt::from_mode(0o600)).expect("chmod");
    let dst = d.path().join("dst");
    for what in [Plant::Symlink, Plant::HardLink] {
        for meth in [Some(Method::Auto), Some(Method::Direct), None] {
            for replace in [false, true] {
                let label = format!(
                    "{what:?} at the temp name, {} onto {} destination",
                    meth.map_or("directio_copy", |m| m.name()),
                    if replace { "an existing" } else { "no" }
                );
                write_file(&victim, &vbytes);
                let _ = fs::remove_file(&dst);
                if replace {
                    write_file(&dst, b"old");
                }
                let Some(((r, _), calls, planted)) =
                    planted_copy(&src, &dst, meth, what, &victim, false)
                else {
                    return;
                };
                // First of all: the victim is untouched.
                assert!(
                    fs::read(&victim).expect("victim") == vbytes,
                    "{label}: the copy went into the planted link's file"
                );
                r.unwrap_or_else(|e| panic!("{label}: {e}"));
                assert!(fs::read(&dst).expect("read") == bytes, "{label}");
                assert_eq!(planted.len(), 1, "{label}");
                // zcio's own opens of temporary names: O_CREAT | O_EXCL (and
                // O_NOFOLLOW), owner-only for a 0600 source or a replacement,
                // directio_copy's documented 0644 for a new file.
                let mode = if meth.is_none() && !replace {
                    0o644
                } else {
                    0o600
                };
                let temps: Vec<_> = calls.iter().filter(|c| c.is_temp_name()).collect();
                assert!(temps.len() >= 2, "{label}: {calls:?}");
                for c in &temps {
                    let f = c.flags as i32;
                    assert_eq!(f & libc::O_CREAT, libc::O_CREAT, "{label}: {c:?}");
                    assert_eq!(f & libc::O_EXCL, libc::O_EXCL, "{label}: {c:?}");
                    assert_eq!(f & libc::O_NOFOLLOW, libc::O_NOFOLLOW, "{label}: {c:?}");
                    assert_eq!(c.mode as u32 & !mode, 0, "{label}: {c:?}");
                }
                assert!(temps[0].planted && !temps[1].planted, "{label}: {temps:?}");
                // The planted name is still what was planted.
                let p = d.path().join(&planted[0]);
                match what {
                    Plant::Symlink => {
                        assert_eq!(fs::read_link(&p).expect("link"), victim, "{label}")
                    }
                    Plant::HardLink => {
                        let (a, b) = (
                            fs::metadata(&p).expect("p"),
                            fs::metadata(&victim).expect("v"),
                        );
                        assert_eq!((a.dev(), a.ino()), (b.dev(), b.ino()), "{label}");
                        assert_eq!(b.nlink(), 2, "{label}");
                    }
                }
                fs::remove_file(&p).expect("rm");
                assert_eq!(
                    extra_entries(d.path(), &["src", "dst"]),
                    Vec::<String>::new(),
                    "{label}"
                );
            }
        }
    }
    report(
        "security_named_temp",
        "ext4",
        "planted_links_at_the_temp_name_are_refused",
        "a symlink or hard link planted at the exact .zcio-*.tmp name before openat: O_CREAT|O_EXCL|O_NOFOLLOW, 0600, the victim untouched",
    );
}

#[test]
fn temp_names_planted_every_time_fail_with_eexist() {
    // Every name zcio tries is taken just before its open: after its 64 tries it
    // gives up with EEXIST; the old destination, the victim and every planted name
    // are as they were.
    zcio::testing::force_named_temp(true);
    let d = disk_dir();
    let elsewhere = disk_dir();
    let victim = elsewhere.path().join("victim");
    let vbytes = data(5000, 83);
    write_file(&victim, &vbytes);
    let src = d.path().join("src");
    write_file(&src, &data(1 << 20, 84));
    let dst = d.path().join("dst");
    write_file(&dst, b"old");
    for what in [Plant::Symlink, Plant::HardLink] {
        let Some(((r, st), _, planted)) =
            planted_copy(&src, &dst, Some(Method::Auto), what, &victim, true)
        else {
            return;
        };
        assert!(
            fs::read(&victim).expect("victim") == vbytes,
            "{what:?}: the copy went into the planted link's file"
        );
        assert_eq!(errno(r), libc::EEXIST, "{what:?}");
        assert_eq!(st.failed_step, zcio::Step::OpenDst, "{what:?}");
        assert_eq!(planted.len(), 64, "{what:?}");
        assert!(fs::read(&dst).expect("read") == b"old", "{what:?}");
        for n in &planted {
            let p = d.path().join(n);
            let m = fs::symlink_metadata(&p).unwrap_or_else(|e| panic!("{n}: {e}"));
            match what {
                Plant::Symlink => assert!(m.file_type().is_symlink(), "{n}"),
                Plant::HardLink => assert_eq!(m.len(), vbytes.len() as u64, "{n}"),
            }
            fs::remove_file(&p).expect("rm");
        }
        assert_eq!(
            extra_entries(d.path(), &["src", "dst"]),
            Vec::<String>::new()
        );
    }
    report(
        "security_named_temp",
        "ext4",
        "temp_names_planted_every_time_fail_with_eexist",
        "all 64 names planted: EEXIST at the open step, the old destination kept, the planted entries untouched",
    );
}

#[test]
fn named_temp_is_never_more_readable_than_the_copy() {
    zcio::testing::force_named_temp(true);
    if let Some(d) = shm_dir() {
        check_never_wider(d.path(), &being_written, 0o600, None, false);
    }
    if let Some(m) = Mount::image("xfs", 300, &["mkfs.xfs", "-q", "-f", "-m", "reflink=1"]) {
        check_never_wider(&m.path(), &being_written, 0o600, None, true);
    }
    report(
        "security_named_temp",
        "tmpfs, xfs",
        "named_temp_is_never_more_readable_than_the_copy",
        "a 0600 source, every method: the .zcio-*.tmp file stays 0600 at every progress report",
    );
}

#[test]
fn named_temp_for_another_owner_is_not_group_readable_before_its_chown() {
    // The named temporary file can be opened by name: as root, a copy for another
    // owner must not be readable by root's group while it is root's.
    zcio::testing::force_named_temp(true);
    if !is_root() {
        eprintln!("skip: giving a copy to another owner needs root");
        return;
    }
    let Some(d) = shm_dir() else { return };
    check_never_wider(d.path(), &being_written, 0o640, Some((65534, 65534)), false);
    report(
        "security_named_temp",
        "tmpfs",
        "named_temp_for_another_owner_is_not_group_readable_before_its_chown",
        "a 65534-owned 0640 source copied by root: the named temp is owner-only until the chown",
    );
}

#[test]
fn named_temp_is_removed_and_its_space_freed_when_xfs_is_full() {
    zcio::testing::force_named_temp(true);
    full::check_full_xfs(&[
        Options::new(),
        Options::new().method(Method::ReadWrite),
        Options::new()
            .method(Method::Direct)
            .engine(Engine::IoUring),
    ]);
    report(
        "security_named_temp",
        "xfs",
        "named_temp_is_removed_and_its_space_freed_when_xfs_is_full",
        "named temp on a full XFS: ENOSPC, no .zcio-*.tmp left, all space given back",
    );
}
