//! The tree copy on real file systems, against GNU cp as the oracle: every kind
//! of entry on ext4, tmpfs, XFS and Btrfs; the choices a caller has; errors,
//! cancellation and a full disk mid-tree; a tree changing under the copy; the
//! descriptor limit; a million entries in bounded memory; as root and as nobody.

mod common;
#[path = "common/tree.rs"]
mod fixtures;

use std::fs;
use std::ops::ControlFlow;
use std::os::unix::fs::{FileTypeExt, MetadataExt, PermissionsExt, symlink};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::Mutex;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};

use common::{Mount, data, disk_dir, is_root, shm_dir, write_file};
use fixtures::{Compare, cp, differences, make_full_tree, snapshot, temp_files};
use zcio::{Existing, Follow, Method, Phase, Preserve, TreeError, TreeOptions, TreeProgress};

/// Copies `src` with `cp -a` and with zcio's archive copy, and requires the two
/// results to be the same in every way cp keeps; returns zcio's stats and copy.
fn same_as_cp_a(base: &Path, label: &str) -> (zcio::TreeStats, PathBuf) {
    let src = base.join("src");
    let made = make_full_tree(&src);
    let (by_cp, by_zc) = (base.join("cp"), base.join("zc"));
    cp(&["-a"], &src, &by_cp);
    // cp's reads moved the source's access times: give zcio the same source.
    fixtures::stamp_times(&src);
    let stats = TreeOptions::archive()
        .copy_tree(&src, &by_zc)
        .unwrap_or_else(|e| panic!("{label}: {e} {:?}", e.tree_stats()));
    let diff = differences(&snapshot(&by_cp), &snapshot(&by_zc), Compare::ALL);
    assert!(
        diff.is_empty(),
        "{label}: zcio differs from cp -a:\n{}",
        diff.join("\n")
    );
    // The root directory's own metadata too.
    let (a, b) = (
        fs::metadata(&by_cp).expect("cp root"),
        fs::metadata(&by_zc).expect("zc root"),
    );
    assert_eq!(
        (a.mode(), a.uid(), a.mtime(), a.mtime_nsec()),
        (b.mode(), b.uid(), b.mtime(), b.mtime_nsec()),
        "{label}: root"
    );
    assert!(
        temp_files(&by_zc).is_empty(),
        "{label}: temporary files left"
    );
    assert_eq!(stats.errors, 0, "{label}");
    assert_eq!(stats.symlinks, 5, "{label}");
    assert_eq!(stats.hardlinks, 3, "{label}: hl2, hl3 and pair_b are links");
    assert_eq!(stats.specials, if made.devices { 4 } else { 2 }, "{label}");
    assert_eq!(
        stats.dirs, 9,
        "{label}: the root and its 8 directories: {stats:?}"
    );
    // Holes stay holes: the sparse file takes no more room than its source.
    let s = fs::metadata(src.join("sparse")).expect("src sparse");
    let z = fs::metadata(by_zc.join("sparse")).expect("zc sparse");
    assert!(
        z.blocks() <= s.blocks() + 8,
        "{label}: sparse copy takes {} blocks, source {}",
        z.blocks(),
        s.blocks()
    );
    common::report(
        "tree",
        label,
        "same as cp -a",
        &format!(
            "{} files, {} entries compared",
            stats.files,
            snapshot(&by_zc).len()
        ),
    );
    (stats, by_zc)
}

#[test]
fn archive_copy_is_cp_a_on_ext4() {
    let d = disk_dir();
    let (st, _) = same_as_cp_a(d.path(), "ext4");
    assert!(st.files_by(Method::Reflink) == 0, "ext4 cannot reflink");
}

#[test]
fn archive_copy_is_cp_a_on_tmpfs() {
    let Some(d) = shm_dir() else { return };
    same_as_cp_a(d.path(), "tmpfs");
}

/// On a file system that clones, every regular file with data is a reflink.
fn reflinked(fs_name: &str, mount: Option<Mount>) {
    let Some(m) = mount else { return };
    let (st, _) = same_as_cp_a(&m.path(), fs_name);
    assert_eq!(st.files_by(Method::Reflink), st.files, "{fs_name}: {st:?}");
    assert!(st.bytes_reflinked >= 3 << 20, "{fs_name}: {st:?}");
    assert_eq!(st.bytes, 0, "{fs_name}: nothing written: {st:?}");
}

#[test]
fn archive_copy_is_cp_a_on_xfs_and_reflinks_the_whole_tree() {
    reflinked(
        "xfs",
        Mount::image("xfs", 300, &["mkfs.xfs", "-q", "-m", "reflink=1"]),
    );
}

#[test]
fn archive_copy_is_cp_a_on_btrfs_and_reflinks_the_whole_tree() {
    reflinked("btrfs", Mount::image("btrfs", 300, &["mkfs.btrfs", "-q"]));
}

#[test]
fn recursive_copy_is_cp_r() {
    let d = disk_dir();
    let src = d.path().join("src");
    make_full_tree(&src);
    let (by_cp, by_zc) = (d.path().join("cp"), d.path().join("zc"));
    cp(&["-r"], &src, &by_cp);
    let st = zcio::copy_tree(&src, &by_zc).expect("copy_tree");
    let what = Compare {
        owner: true,
        ..Compare::CONTENT
    };
    let diff = differences(&snapshot(&by_cp), &snapshot(&by_zc), what);
    assert!(
        diff.is_empty(),
        "zcio differs from cp -r:\n{}",
        diff.join("\n")
    );
    // cp -r keeps no hard links: each name is a file of its own.
    assert_eq!(st.hardlinks, 0);
    assert!(fs::metadata(by_zc.join("hl1")).expect("hl1").nlink() == 1);
}

/// Re-runs this test binary for one test, with `env` set, and returns whether it
/// passed. The child writes no report rows (it may run as another user).
fn in_child(test: &str, env: &[(&str, &str)]) -> bool {
    let exe = std::env::current_exe().expect("test binary");
    Command::new(exe)
        .args(["--exact", test, "--nocapture", "--test-threads", "1"])
        .env("ZCIO_TREE_CHILD", "1")
        .env_remove("ZCIO_REPORT")
        .envs(env.iter().copied())
        .status()
        .expect("child")
        .success()
}

/// This process's peak resident set, in KiB (VmHWM).
fn peak_rss_kib() -> u64 {
    fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find_map(|l| l.strip_prefix("VmHWM:"))
                .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        })
        .unwrap_or(u64::MAX)
}

/// Whether this is the child `in_child` started.
fn child() -> bool {
    std::env::var_os("ZCIO_TREE_CHILD").is_some()
}

fn become_nobody() {
    // SAFETY: plain system calls changing this (single-purpose) process's ids.
    unsafe {
        assert_eq!(libc::setgroups(0, std::ptr::null()), 0);
        assert_eq!(libc::setresgid(65534, 65534, 65534), 0);
        assert_eq!(libc::setresuid(65534, 65534, 65534), 0);
    }
}

#[test]
fn child_unprivileged_archive_copy_is_cp_a() {
    if !child() {
        return;
    }
    let base = PathBuf::from(std::env::var("ZCIO_TREE_DIR").expect("dir"));
    become_nobody();
    same_as_cp_a(&base, "ext4, as nobody");
}

#[test]
fn unprivileged_archive_copy_is_cp_a() {
    if !is_root() {
        eprintln!("skip: dropping privileges needs root");
        return;
    }
    let d = disk_dir();
    fs::set_permissions(d.path(), fs::Permissions::from_mode(0o777)).expect("chmod");
    let dir = d.path().to_str().expect("utf8");
    let ok = in_child(
        "child_unprivileged_archive_copy_is_cp_a",
        &[("ZCIO_TREE_DIR", dir)],
    );
    assert!(ok, "the copy as nobody differs from cp -a (see above)");
}

#[test]
fn a_directory_into_itself_is_refused_before_anything_is_written() {
    let d = disk_dir();
    let src = d.path().join("a");
    fs::create_dir_all(src.join("b/c")).expect("dirs");
    write_file(&src.join("f"), b"x");
    let before = snapshot(&src);
    for dst in [src.join("copy"), src.join("b/c/copy"), src.clone()] {
        let e = zcio::copy_tree(&src, &dst).expect_err("into itself");
        assert_eq!(e.raw_os_error(), libc::EINVAL, "{}", dst.display());
        let diff = differences(
            &before,
            &snapshot(&src),
            Compare {
                owner: true,
                ..Compare::CONTENT
            },
        );
        assert!(
            diff.is_empty(),
            "{}: something was written: {diff:?}",
            dst.display()
        );
    }
    // A symlink to the source as the destination's parent is the same thing.
    symlink(&src, d.path().join("ln")).expect("symlink");
    let e = zcio::copy_tree(&src, d.path().join("ln/copy")).expect_err("through a link");
    assert_eq!(e.raw_os_error(), libc::EINVAL);
    assert!(differences(&before, &snapshot(&src), Compare::CONTENT).is_empty());
}

#[test]
fn existing_entries_are_replaced_kept_or_updated() {
    let d = disk_dir();
    let src = d.path().join("src");
    fs::create_dir_all(src.join("sub")).expect("dirs");
    write_file(&src.join("new"), b"new content");
    write_file(&src.join("sub/old"), b"source");
    let dst = d.path().join("dst");
    let reset = || {
        let _ = fs::remove_dir_all(&dst);
        fs::create_dir_all(dst.join("sub")).expect("dst");
        write_file(&dst.join("sub/old"), b"destination");
        write_file(&dst.join("mine"), b"not in the source");
    };
    let set_mtime = |p: &Path, t: i64| fixtures::set_times(p, (t, 0), (t, 0));
    // Replace (the default), merging into the existing directory.
    reset();
    zcio::copy_tree(&src, &dst).expect("replace");
    assert_eq!(fs::read(dst.join("sub/old")).expect("old"), b"source");
    assert_eq!(
        fs::read(dst.join("mine")).expect("mine"),
        b"not in the source"
    );
    // Keep.
    reset();
    let st = TreeOptions::new()
        .existing(Existing::Keep)
        .copy_tree(&src, &dst)
        .expect("keep");
    assert_eq!(fs::read(dst.join("sub/old")).expect("old"), b"destination");
    assert_eq!(fs::read(dst.join("new")).expect("new"), b"new content");
    assert_eq!(st.skipped, 1);
    // Newer: only where the source is newer.
    for (src_t, dst_t, replaced) in [
        (2_000_000_000, 1_000_000_000, true),
        (1_000_000_000, 2_000_000_000, false),
    ] {
        reset();
        set_mtime(&src.join("sub/old"), src_t);
        set_mtime(&dst.join("sub/old"), dst_t);
        let st = TreeOptions::new()
            .existing(Existing::Newer)
            .copy_tree(&src, &dst)
            .expect("newer");
        let want: &[u8] = if replaced { b"source" } else { b"destination" };
        assert_eq!(fs::read(dst.join("sub/old")).expect("old"), want);
        assert_eq!(st.skipped, u64::from(!replaced));
    }
    // No merging: an existing destination directory is EEXIST, untouched.
    reset();
    let e = TreeOptions::new()
        .merge(false)
        .copy_tree(&src, &dst)
        .expect_err("no merge");
    assert_eq!(e.raw_os_error(), libc::EEXIST);
    assert_eq!(fs::read(dst.join("sub/old")).expect("old"), b"destination");
    // A file where the source has a directory: that entry fails, the rest copies.
    reset();
    fs::remove_dir_all(dst.join("sub")).expect("rm");
    write_file(&dst.join("sub"), b"a file");
    let e = zcio::copy_tree(&src, &dst).expect_err("file in the way");
    assert_eq!(e.raw_os_error(), libc::ENOTDIR, "{e}");
    assert_eq!(fs::read(dst.join("new")).expect("new"), b"new content");
    assert_eq!(fs::read(dst.join("sub")).expect("sub"), b"a file");
    // An existing symlink in the destination is replaced, never written through.
    reset();
    let outside = d.path().join("outside");
    write_file(&outside, b"outside");
    fs::remove_file(dst.join("sub/old")).expect("rm");
    symlink(&outside, dst.join("sub/old")).expect("symlink");
    zcio::copy_tree(&src, &dst).expect("replace link");
    assert_eq!(fs::read(&outside).expect("outside"), b"outside");
    assert!(
        fs::symlink_metadata(dst.join("sub/old"))
            .expect("old")
            .is_file()
    );
    assert_eq!(fs::read(dst.join("sub/old")).expect("old"), b"source");
}

#[test]
fn symlinks_are_followed_as_asked() {
    let d = disk_dir();
    let real = d.path().join("real");
    fs::create_dir_all(real.join("inner")).expect("dirs");
    write_file(&real.join("f"), b"file");
    write_file(&real.join("inner/g"), b"g");
    symlink("f", real.join("to_f")).expect("symlink");
    symlink("inner", real.join("to_inner")).expect("symlink");
    let top = d.path().join("top");
    symlink(&real, &top).expect("symlink");
    // Never: the root link itself is copied as a link.
    let never = d.path().join("never");
    let st = zcio::copy_tree(&top, &never).expect("never");
    assert!(
        fs::symlink_metadata(&never)
            .expect("never")
            .file_type()
            .is_symlink()
    );
    assert_eq!(st.symlinks, 1);
    // Top: the root is followed, the links inside are links.
    let t = d.path().join("t");
    TreeOptions::new()
        .follow(Follow::Top)
        .copy_tree(&top, &t)
        .expect("top");
    assert!(fs::symlink_metadata(&t).expect("t").is_dir());
    assert!(
        fs::symlink_metadata(t.join("to_f"))
            .expect("to_f")
            .file_type()
            .is_symlink()
    );
    // All: every link is copied as what it names.
    let a = d.path().join("a");
    TreeOptions::new()
        .follow(Follow::All)
        .copy_tree(&top, &a)
        .expect("all");
    assert_eq!(fs::read(a.join("to_f")).expect("to_f"), b"file");
    assert!(
        fs::symlink_metadata(a.join("to_f"))
            .expect("to_f")
            .is_file()
    );
    assert_eq!(fs::read(a.join("to_inner/g")).expect("g"), b"g");
    // A link to a directory above it: that entry fails with ELOOP, the rest copies.
    symlink("..", real.join("inner/loop")).expect("symlink");
    let l = d.path().join("l");
    let seen = Mutex::new(Vec::new());
    let log = |e: &TreeError<'_>| {
        seen.lock()
            .expect("lock")
            .push((e.path.to_path_buf(), e.error.raw_os_error()));
        ControlFlow::Continue(())
    };
    let e = TreeOptions::new()
        .follow(Follow::All)
        .on_error(&log)
        .copy_tree(&real, &l)
        .expect_err("loop");
    assert_eq!(e.raw_os_error(), libc::ELOOP);
    let seen = seen.into_inner().expect("seen");
    assert!(
        seen.iter()
            .any(|(p, e)| p.ends_with("inner/loop") && *e == libc::ELOOP),
        "{seen:?}"
    );
    assert_eq!(fs::read(l.join("inner/g")).expect("g"), b"g");
}

#[test]
fn one_file_system_copies_a_mount_point_empty() {
    let d = disk_dir();
    let src = d.path().join("src");
    fs::create_dir_all(src.join("mnt")).expect("dirs");
    write_file(&src.join("here"), b"here");
    let Some(m) = Mount::new("tmpfs", "none", "size=1m") else {
        return;
    };
    let mounted = src.join("mnt");
    let st = Command::new("mount")
        .args(["--bind"])
        .arg(m.path())
        .arg(&mounted)
        .status()
        .expect("mount");
    assert!(st.success());
    write_file(&mounted.join("other_fs"), b"elsewhere");
    let dst = d.path().join("dst");
    let r = TreeOptions::new()
        .one_file_system(true)
        .copy_tree(&src, &dst);
    let _ = Command::new("umount").arg(&mounted).status();
    let st = r.expect("copy");
    assert!(dst.join("mnt").is_dir());
    assert!(!dst.join("mnt/other_fs").exists());
    assert_eq!(fs::read(dst.join("here")).expect("here"), b"here");
    assert_eq!(st.skipped, 1);
}

#[test]
fn child_unreadable_entries_are_reported_and_the_copy_goes_on() {
    if !child() {
        return;
    }
    let base = PathBuf::from(std::env::var("ZCIO_TREE_DIR").expect("dir"));
    become_nobody();
    let (src, dst) = (base.join("src"), base.join("dst"));
    let seen = Mutex::new(Vec::new());
    let log = |e: &TreeError<'_>| {
        seen.lock().expect("lock").push((
            e.path.to_path_buf(),
            e.error.raw_os_error(),
            e.error.step(),
        ));
        ControlFlow::Continue(())
    };
    let e = TreeOptions::new()
        .on_error(&log)
        .copy_tree(&src, &dst)
        .expect_err("unreadable");
    assert_eq!(e.raw_os_error(), libc::EACCES);
    let s = e.tree_stats().expect("tree stats");
    assert_eq!(s.errors, 2, "{s:?}");
    let seen = seen.into_inner().expect("seen");
    assert!(
        seen.iter()
            .any(|(p, e, _)| p == &src.join("secret") && *e == libc::EACCES),
        "{seen:?}"
    );
    assert!(
        seen.iter()
            .any(|(p, e, _)| p == &src.join("closed") && *e == libc::EACCES),
        "{seen:?}"
    );
    for i in 0..20 {
        assert_eq!(
            fs::read(dst.join(format!("f{i}"))).expect("copied"),
            data(1000, i)
        );
    }
    assert!(
        !dst.join("secret").exists(),
        "no partial file under the final name"
    );
    // As cp: the directory that could not be read is made (empty), with its mode.
    let closed = fs::metadata(dst.join("closed")).expect("closed");
    assert!(closed.is_dir() && closed.mode() & 0o7777 == 0, "{closed:?}");
    assert!(temp_files(&dst).is_empty());
    // Told to stop at the first error: nothing after it is started.
    let stop = |_: &TreeError<'_>| ControlFlow::Break(());
    let dst2 = base.join("dst2");
    let e = TreeOptions::new()
        .jobs(1)
        .on_error(&stop)
        .copy_tree(&src, &dst2)
        .expect_err("stopped");
    assert_eq!(e.raw_os_error(), libc::EACCES);
    assert_eq!(e.tree_stats().expect("stats").errors, 1);
    assert!(temp_files(&dst2).is_empty());
}

#[test]
fn unreadable_entries_are_reported_and_the_copy_goes_on() {
    if !is_root() {
        eprintln!("skip: dropping privileges needs root");
        return;
    }
    let d = disk_dir();
    fs::set_permissions(d.path(), fs::Permissions::from_mode(0o777)).expect("chmod");
    let src = d.path().join("src");
    fs::create_dir_all(src.join("closed")).expect("dirs");
    for i in 0..20 {
        write_file(&src.join(format!("f{i}")), &data(1000, i));
    }
    write_file(&src.join("secret"), b"secret");
    write_file(&src.join("closed/inside"), b"x");
    fs::set_permissions(src.join("secret"), fs::Permissions::from_mode(0o000)).expect("chmod");
    fs::set_permissions(src.join("closed"), fs::Permissions::from_mode(0o000)).expect("chmod");
    let dir = d.path().to_str().expect("utf8");
    let ok = in_child(
        "child_unreadable_entries_are_reported_and_the_copy_goes_on",
        &[("ZCIO_TREE_DIR", dir)],
    );
    assert!(ok);
}

#[test]
fn a_full_disk_leaves_every_file_complete_or_absent() {
    let d = disk_dir();
    let src = d.path().join("src");
    fs::create_dir(&src).expect("src");
    for i in 0..12 {
        write_file(&src.join(format!("f{i:02}")), &data(300 << 10, i));
    }
    let Some(m) = Mount::new("tmpfs", "none", "size=2m") else {
        return;
    };
    let dst = m.path().join("dst");
    let e = zcio::copy_tree(&src, &dst).expect_err("2 MiB cannot hold 3.6 MiB");
    assert_eq!(e.raw_os_error(), libc::ENOSPC);
    let s = e.tree_stats().expect("stats");
    assert!(s.errors > 0 && s.files > 0, "{s:?}");
    let mut complete = 0;
    for i in 0..12 {
        let p = dst.join(format!("f{i:02}"));
        if p.exists() {
            assert_eq!(
                fs::read(&p).expect("read"),
                data(300 << 10, i),
                "partial file {}",
                p.display()
            );
            complete += 1;
        }
    }
    assert_eq!(complete, s.files, "{s:?}");
    assert!(temp_files(&dst).is_empty());
}

#[test]
fn a_vanished_entry_is_reported() {
    let d = disk_dir();
    let src = d.path().join("src");
    fs::create_dir(&src).expect("src");
    for i in 0..64 {
        write_file(&src.join(format!("f{i:02}")), b"data");
    }
    // After the walk has listed the directory, the last file goes away.
    let gone = AtomicBool::new(false);
    let victim = src.join("f63");
    let progress = |p: TreeProgress| {
        if p.entries_known > 0 && !gone.swap(true, Ordering::SeqCst) {
            let _ = fs::remove_file(&victim);
        }
        ControlFlow::Continue(())
    };
    let dst = d.path().join("dst");
    let e = TreeOptions::new()
        .jobs(1)
        .progress(&progress)
        .copy_tree(&src, &dst);
    if gone.load(Ordering::SeqCst) && fs::metadata(dst.join("f63")).is_err() {
        let e = e.expect_err("vanished");
        assert_eq!(e.raw_os_error(), libc::ENOENT);
        assert_eq!(e.tree_stats().expect("stats").files, 63);
    }
    assert!(temp_files(&dst).is_empty());
}

#[test]
fn cancelling_leaves_every_file_complete_or_untouched() {
    let d = disk_dir();
    let src = d.path().join("src");
    for dir in 0..4 {
        fs::create_dir_all(src.join(format!("d{dir}"))).expect("dir");
        for i in 0..200 {
            write_file(
                &src.join(format!("d{dir}/f{i}")),
                &data(64 << 10, dir * 1000 + i),
            );
        }
    }
    write_file(&src.join("big"), &data(32 << 20, 7));
    for after in [1u64, 2, 4] {
        let dst = d.path().join(format!("dst{after}"));
        let calls = AtomicU64::new(0);
        let stop = |_: TreeProgress| {
            if calls.fetch_add(1, Ordering::SeqCst) + 1 >= after {
                ControlFlow::Break(())
            } else {
                ControlFlow::Continue(())
            }
        };
        // fsync on every file: slow enough for several reports, 100 ms apart.
        let e = TreeOptions::new()
            .file_options(zcio::Options::new().fsync(true))
            .jobs(1)
            .progress(&stop)
            .copy_tree(&src, &dst)
            .expect_err("cancelled");
        assert_eq!(e.raw_os_error(), libc::ECANCELED, "after {after}");
        for (rel, node) in snapshot(&dst) {
            if node.kind == libc::S_IFREG {
                assert_eq!(
                    node.content,
                    fs::read(src.join(&rel)).expect("src"),
                    "partial {}",
                    rel.display()
                );
            }
        }
        assert!(temp_files(&dst).is_empty(), "after {after}");
    }
}

#[test]
fn progress_counts_up_to_the_totals() {
    let d = disk_dir();
    let src = d.path().join("src");
    make_full_tree(&src);
    let last = Mutex::new(TreeProgress::default());
    let progress = |p: TreeProgress| {
        let mut l = last.lock().expect("lock");
        // Once the walk is done, what is known no longer grows.
        if l.walk_done {
            assert!(
                p.walk_done && p.entries_known == l.entries_known,
                "{p:?} after {l:?}"
            );
        }
        assert!(
            p.entries_done >= l.entries_done && p.bytes_done >= l.bytes_done,
            "{p:?} after {l:?}"
        );
        assert!(p.entries_done <= p.entries_known, "{p:?}");
        *l = p;
        ControlFlow::Continue(())
    };
    let st = TreeOptions::new()
        .progress(&progress)
        .copy_tree(&src, d.path().join("dst"))
        .expect("copy");
    let p = last.into_inner().expect("last");
    assert!(p.walk_done, "{p:?}");
    assert_eq!(p.entries_done, p.entries_known, "{p:?}");
    assert_eq!(p.bytes_done, p.bytes_known, "{p:?}");
    let entries = snapshot(&src).len() as u64;
    assert_eq!(p.entries_known, entries, "{p:?}");
    assert!(p.bytes_known >= (3 << 20) + (8 << 20), "{p:?}");
    assert_eq!(st.errors, 0);
}

/// Swaps `dir` with a symlink to `outside` and back, as fast as it can, until told
/// to stop.
fn swapper(dir: &Path, outside: &Path, stop: &AtomicBool) {
    let aside = dir.with_extension("aside");
    let link = dir.with_extension("link");
    let _ = symlink(outside, &link);
    while !stop.load(Ordering::Relaxed) {
        if fs::rename(dir, &aside).is_ok() {
            let _ = fs::rename(&link, dir);
            std::thread::yield_now();
            let _ = fs::rename(dir, &link);
            let _ = fs::rename(&aside, dir);
        }
    }
}

#[test]
fn a_directory_swapped_for_a_symlink_leads_neither_out_of_the_source_nor_the_destination() {
    let d = disk_dir();
    let secret = d.path().join("secret");
    fs::create_dir(&secret).expect("secret");
    write_file(&secret.join("password"), b"SECRET");
    let src = d.path().join("src");
    fs::create_dir_all(src.join("sub")).expect("sub");
    for i in 0..200 {
        write_file(&src.join(format!("sub/f{i}")), b"ok");
    }
    // The source side: sub is swapped for a link to the secret directory.
    for round in 0..20 {
        let dst = d.path().join(format!("dst{round}"));
        let stop = AtomicBool::new(false);
        std::thread::scope(|s| {
            s.spawn(|| swapper(&src.join("sub"), &secret, &stop));
            let _ = TreeOptions::new().jobs(4).copy_tree(&src, &dst);
            stop.store(true, Ordering::Relaxed);
        });
        for (rel, node) in snapshot(&dst) {
            assert_ne!(
                node.content,
                b"SECRET",
                "round {round}: {} came from outside the source",
                rel.display()
            );
            assert!(
                !rel.ends_with("password"),
                "round {round}: {}",
                rel.display()
            );
        }
        let _ = fs::remove_dir_all(&dst);
    }
    // The destination side: a directory of the copy is swapped for a link to an
    // outside directory while the copy fills it.
    let outside = d.path().join("outside");
    fs::create_dir(&outside).expect("outside");
    for round in 0..20 {
        let dst = d.path().join(format!("into{round}"));
        fs::create_dir_all(dst.join("sub")).expect("dst sub");
        let stop = AtomicBool::new(false);
        std::thread::scope(|s| {
            s.spawn(|| swapper(&dst.join("sub"), &outside, &stop));
            let _ = TreeOptions::new().jobs(4).copy_tree(&src, &dst);
            stop.store(true, Ordering::Relaxed);
        });
        let written: Vec<_> = fs::read_dir(&outside).expect("outside").collect();
        assert!(
            written.is_empty(),
            "round {round}: the copy wrote outside its destination"
        );
        let _ = fs::remove_dir_all(&dst);
    }
}

#[test]
fn child_copies_under_ulimit_n_64() {
    if !child() {
        return;
    }
    let base = PathBuf::from(std::env::var("ZCIO_TREE_DIR").expect("dir"));
    let lim = libc::rlimit {
        rlim_cur: 64,
        rlim_max: 64,
    };
    // SAFETY: sets this process's own limit.
    assert_eq!(unsafe { libc::setrlimit(libc::RLIMIT_NOFILE, &lim) }, 0);
    let (src, dst) = (base.join("src"), base.join("dst"));
    // The first look at a new file moves its access time; the second does not.
    snapshot(&src);
    let before = snapshot(&src);
    let st = TreeOptions::archive()
        .jobs(16)
        .copy_tree(&src, &dst)
        .unwrap_or_else(|e| panic!("{e}"));
    let diff = differences(&before, &snapshot(&dst), Compare::ALL);
    assert!(diff.is_empty(), "{}", diff.join("\n"));
    assert_eq!(st.errors, 0);
}

#[test]
fn copies_under_ulimit_n_64() {
    let d = disk_dir();
    let src = d.path().join("src");
    // 60 levels deep, and 30 directories of 100 files each beside them.
    let mut deep = src.clone();
    for i in 0..60 {
        deep = deep.join(format!("level{i}"));
    }
    fs::create_dir_all(&deep).expect("deep");
    write_file(&deep.join("bottom"), b"bottom");
    for dir in 0..30 {
        let p = src.join(format!("wide{dir}"));
        fs::create_dir(&p).expect("wide");
        for i in 0..100 {
            write_file(&p.join(format!("f{i}")), &data(100, dir * 1000 + i));
        }
    }
    let dir = d.path().to_str().expect("utf8");
    let ok = in_child("child_copies_under_ulimit_n_64", &[("ZCIO_TREE_DIR", dir)]);
    assert!(ok);
}

#[test]
fn child_copies_a_million_entries() {
    if !child() {
        return;
    }
    let base = PathBuf::from(std::env::var("ZCIO_TREE_DIR").expect("dir"));
    let st = zcio::copy_tree(base.join("src"), base.join("dst")).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(st.files + st.dirs, 1_001_001, "{st:?}");
    let peak = peak_rss_kib();
    fs::write(base.join("peak"), peak.to_string()).expect("peak");
    assert!(
        peak < 100 * 1024,
        "peak RSS {peak} KiB for a million entries"
    );
}

#[test]
fn a_million_entries_stay_under_100_mb() {
    let Some(d) = shm_dir() else { return };
    let src = d.path().join("src");
    // 1000 directories of 1000 empty files: 1,001,001 entries with the root.
    fs::create_dir(&src).expect("src");
    std::thread::scope(|s| {
        for part in 0..4 {
            let src = &src;
            s.spawn(move || {
                for dir in (part..1000).step_by(4) {
                    let p = src.join(format!("d{dir:03}"));
                    fs::create_dir(&p).expect("dir");
                    for i in 0..1000 {
                        fs::File::create(p.join(format!("f{i:03}"))).expect("file");
                    }
                }
            });
        }
    });
    let dir = d.path().to_str().expect("utf8");
    let ok = in_child("child_copies_a_million_entries", &[("ZCIO_TREE_DIR", dir)]);
    assert!(ok, "see the child's output above");
    let maxrss_kib: u64 = fs::read_to_string(d.path().join("peak"))
        .expect("peak")
        .parse()
        .expect("number");
    common::report(
        "tree",
        "tmpfs",
        "1,001,001 entries",
        &format!("peak RSS {maxrss_kib} KiB"),
    );
    // rm -rf in parallel: a million unlinks take long from one thread.
    let parts: Vec<PathBuf> = fs::read_dir(d.path().join("dst"))
        .expect("dst")
        .map(|e| e.expect("entry").path())
        .collect();
    std::thread::scope(|s| {
        for chunk in parts.chunks(250) {
            s.spawn(move || {
                for p in chunk {
                    let _ = fs::remove_dir_all(p);
                }
            });
        }
    });
}

#[test]
fn a_single_file_symlink_or_fifo_as_the_root() {
    let d = disk_dir();
    write_file(&d.path().join("f"), b"file");
    symlink("f", d.path().join("l")).expect("symlink");
    nix::unistd::mkfifo(
        &d.path().join("p"),
        nix::sys::stat::Mode::from_bits_truncate(0o600),
    )
    .expect("fifo");
    zcio::copy_tree(d.path().join("f"), d.path().join("f2")).expect("file");
    assert_eq!(fs::read(d.path().join("f2")).expect("f2"), b"file");
    zcio::copy_tree(d.path().join("l"), d.path().join("l2")).expect("link");
    assert_eq!(
        fs::read_link(d.path().join("l2")).expect("l2"),
        Path::new("f")
    );
    zcio::copy_tree(d.path().join("p"), d.path().join("p2")).expect("fifo");
    assert!(
        fs::symlink_metadata(d.path().join("p2"))
            .expect("p2")
            .file_type()
            .is_fifo()
    );
    let e = zcio::copy_tree(d.path().join("missing"), d.path().join("m2")).expect_err("missing");
    assert_eq!(e.raw_os_error(), libc::ENOENT);
    assert!(e.tree_stats().is_some());
}

#[test]
fn preserve_flags_one_at_a_time() {
    let d = disk_dir();
    let src = d.path().join("src");
    make_full_tree(&src);
    let from = snapshot(&src);
    for p in [
        Preserve::MODE,
        Preserve::OWNERSHIP,
        Preserve::TIMESTAMPS,
        Preserve::LINKS,
        Preserve::XATTRS,
    ] {
        let dst = d.path().join(format!("p{:x}", p.bits()));
        TreeOptions::new()
            .preserve(p)
            .copy_tree(&src, &dst)
            .expect("copy");
        let got = snapshot(&dst);
        for (rel, s) in &from {
            let g = &got[rel];
            if s.kind == libc::S_IFLNK {
                continue;
            }
            if p == Preserve::MODE {
                assert_eq!(g.mode, s.mode, "{}", rel.display());
            }
            if p == Preserve::TIMESTAMPS {
                assert_eq!(g.mtime, s.mtime, "{}", rel.display());
            } else if s.kind == libc::S_IFREG {
                assert_ne!(
                    g.mtime,
                    s.mtime,
                    "{}: times kept without being asked",
                    rel.display()
                );
            }
            if p == Preserve::OWNERSHIP {
                assert_eq!((g.uid, g.gid), (s.uid, s.gid), "{}", rel.display());
            } else if is_root() {
                assert_eq!(
                    (g.uid, g.gid),
                    (0, 0),
                    "{}: owner kept without being asked",
                    rel.display()
                );
            }
            // As in cp, the ACLs go with the mode and the other attributes with XATTRS.
            let acl = |x: &std::collections::BTreeMap<Vec<u8>, Vec<u8>>, want: bool| {
                x.iter()
                    .filter(|(k, _)| k.starts_with(b"system.posix_acl") == want)
                    .map(|(k, v)| (k.clone(), v.clone()))
                    .collect::<Vec<_>>()
            };
            if p == Preserve::MODE {
                assert_eq!(
                    acl(&g.xattrs, true),
                    acl(&s.xattrs, true),
                    "{}",
                    rel.display()
                );
            } else {
                assert!(
                    acl(&g.xattrs, true).is_empty(),
                    "{}: ACL without MODE",
                    rel.display()
                );
            }
            if p == Preserve::XATTRS {
                assert_eq!(
                    acl(&g.xattrs, false),
                    acl(&s.xattrs, false),
                    "{}",
                    rel.display()
                );
            } else {
                assert!(
                    !g.xattrs.contains_key(b"user.zcio".as_slice()),
                    "{}",
                    rel.display()
                );
            }
        }
        let links = got[Path::new("d1/hl2")].link_group.is_some();
        assert_eq!(links, p == Preserve::LINKS, "links with {p:?}");
    }
}

/// Copies `src` to `dst` in `n` parts, each phase in every part at once (threads
/// standing for processes) and a barrier between phases; returns each part's
/// stats of each phase.
fn copy_in_parts(src: &Path, dst: &Path, n: u32, o: TreeOptions<'_>) -> Vec<Vec<zcio::TreeStats>> {
    let mut all = Vec::new();
    for phase in [Phase::Data, Phase::Commit, Phase::Dirs] {
        let stats: Vec<zcio::TreeStats> = std::thread::scope(|s| {
            let parts: Vec<_> = (0..n)
                .map(|i| s.spawn(move || o.part(i, n).phase(phase).copy_tree(src, dst)))
                .collect();
            parts
                .into_iter()
                .map(|p| {
                    p.join()
                        .expect("part")
                        .unwrap_or_else(|e| panic!("{phase:?}: {e}"))
                })
                .collect()
        });
        all.push(stats);
    }
    all
}

#[test]
fn parts_together_copy_the_tree_once_as_one_copy_would() {
    let d = disk_dir();
    let src = d.path().join("src");
    make_full_tree(&src);
    // A file large enough to be split between the parts, with holes and data.
    {
        use std::os::unix::fs::FileExt;
        let f = fs::File::create(src.join("x/large")).expect("large");
        f.write_all_at(&data(5 << 20, 91), 0).expect("write");
        f.write_all_at(&data(3 << 20, 92), 150 << 20)
            .expect("write");
        // And one without holes and with an unaligned end, its ranges copied
        // with Direct I/O on this disk (the tail padded, then cut).
        write_file(&src.join("x/big"), &data((129 << 20) + 777, 93));
        fixtures::stamp_times(&src);
    }
    let alone = d.path().join("alone");
    TreeOptions::archive()
        .copy_tree(&src, &alone)
        .expect("alone");
    let want = snapshot(&alone);
    for n in [1u32, 2, 3, 4] {
        let dst = d.path().join(format!("parts{n}"));
        let stats = copy_in_parts(&src, &dst, n, TreeOptions::archive());
        // Each copy reads the source, which moves its access times.
        let diff = differences(&want, &snapshot(&dst), Compare::NO_ATIME);
        assert!(diff.is_empty(), "{n} parts:\n{}", diff.join("\n"));
        assert!(
            temp_files(&dst).is_empty(),
            "{n} parts: temporary files left"
        );
        // Every file and link copied exactly once, by one part.
        let sum = |f: fn(&zcio::TreeStats) -> u64| stats.iter().flatten().map(f).sum::<u64>();
        assert_eq!(sum(|s| s.files), 18, "{n} parts: {stats:?}");
        // Both large files go with Direct I/O: whole in one part, by ranges in
        // several, as the file copied whole would.
        let direct = sum(|s| s.files_by_method[Method::Direct as usize]);
        assert_eq!(direct, 2, "{n} parts: {stats:?}");
        assert_eq!(sum(|s| s.hardlinks), 3, "{n} parts");
        assert_eq!(sum(|s| s.symlinks), 5, "{n} parts");
        assert_eq!(sum(|s| s.dirs), 9, "{n} parts: every directory made once");
        assert_eq!(sum(|s| s.errors), 0);
    }
}

/// What a copy in parts must get right that the snapshot does not show: a split
/// file keeps its holes, made directories get cp -r's modes whoever owns them
/// (one the copy cannot write into, a sticky one), an error every part meets is
/// told once, and the parts' bytes done add up to the tree's.
#[test]
fn parts_keep_holes_and_modes_and_tell_an_error_once() {
    use std::os::unix::fs::FileExt;
    let d = disk_dir();
    let src = d.path().join("src");
    fs::create_dir_all(src.join("ro")).expect("ro");
    fs::create_dir_all(src.join("sticky/in")).expect("sticky");
    fs::create_dir_all(src.join("clash/sub")).expect("clash");
    write_file(&src.join("ro/f"), &data(1000, 1));
    write_file(&src.join("small"), &data(70_000, 2));
    let f = fs::File::create(src.join("sparse")).expect("sparse");
    f.write_all_at(&data(1 << 20, 3), 0).expect("write");
    f.write_all_at(&data(1 << 20, 4), 201 << 20).expect("write");
    drop(f);
    fs::set_permissions(src.join("ro"), fs::Permissions::from_mode(0o555)).expect("chmod");
    fs::set_permissions(src.join("sticky"), fs::Permissions::from_mode(0o1755)).expect("chmod");
    let alone = d.path().join("alone");
    TreeOptions::new().copy_tree(&src, &alone).expect("alone");
    let mode = |p: &Path| fs::symlink_metadata(p).expect("stat").mode() & 0o7777;
    for n in [1u32, 2, 3] {
        let dst = d.path().join(format!("parts{n}"));
        // A file where the source has a directory: every part meets it.
        fs::create_dir(&dst).expect("dst");
        write_file(&dst.join("clash"), b"in the way");
        let errors = Mutex::new(Vec::new());
        let on_error = |e: &TreeError<'_>| {
            errors.lock().expect("lock").push(e.path.to_path_buf());
            ControlFlow::Continue(())
        };
        let last = Mutex::new(Vec::new());
        let progress = |p: TreeProgress| {
            let mut l = last.lock().expect("lock");
            l.push(p);
            ControlFlow::Continue(())
        };
        let (mut done, mut known) = (0, 0);
        for phase in [Phase::Data, Phase::Commit, Phase::Dirs] {
            for i in 0..n {
                let o = TreeOptions::new()
                    .part(i, n)
                    .phase(phase)
                    .on_error(&on_error)
                    .progress(&progress);
                let _ = o.copy_tree(&src, &dst);
                let mut l = last.lock().expect("lock");
                let p = l.last().copied().unwrap_or_default();
                done += p.bytes_done;
                if phase == Phase::Data {
                    known = p.bytes_known;
                }
                l.clear();
            }
        }
        let blocks = fs::metadata(dst.join("sparse")).expect("sparse").blocks();
        assert!(
            blocks * 512 <= 3 << 20,
            "{n} parts: the split file took {blocks} blocks"
        );
        assert_eq!(
            fs::read(dst.join("sparse")).expect("read"),
            fs::read(src.join("sparse")).expect("read"),
            "{n} parts"
        );
        for dir in ["ro", "sticky", "sticky/in"] {
            assert_eq!(
                mode(&dst.join(dir)),
                mode(&alone.join(dir)),
                "{n} parts: {dir}"
            );
        }
        assert!(
            temp_files(&dst).is_empty(),
            "{n} parts: temporary files left"
        );
        let errors = errors.into_inner().expect("lock");
        assert_eq!(errors, [src.join("clash")], "{n} parts");
        // Every byte of the tree done once, holes included, by some part.
        let size = 70_000 + 1000 + fs::metadata(src.join("sparse")).expect("meta").len();
        assert_eq!((done, known), (size, size), "{n} parts");
    }
}

#[test]
fn a_skewed_tree_stays_balanced_between_parts() {
    let d = disk_dir();
    let src = d.path().join("src");
    fs::create_dir(&src).expect("src");
    // One large file among many small ones.
    write_file(&src.join("huge"), &data(512 << 20, 1));
    for i in 0..2000 {
        write_file(&src.join(format!("s{i:04}")), &data(4096, i));
    }
    let dst = d.path().join("dst");
    let n = 4;
    let stats = copy_in_parts(&src, &dst, n, TreeOptions::new());
    assert_eq!(
        fs::read(dst.join("huge")).expect("huge"),
        data(512 << 20, 1)
    );
    let bytes: Vec<u64> = stats[0].iter().map(|s| s.bytes).collect();
    let (lo, hi) = (
        bytes.iter().min().copied().unwrap_or(0),
        bytes.iter().max().copied().unwrap_or(0),
    );
    assert!(hi as f64 <= 1.6 * lo as f64, "bytes per part: {bytes:?}");
    let files: Vec<u64> = stats[0].iter().map(|s| s.files).collect();
    assert!(files.iter().all(|&f| f > 300), "files per part: {files:?}");
    common::report(
        "tree",
        "ext4",
        "4 parts, 512 MiB + 2000 x 4 KiB",
        &format!("bytes per part {bytes:?}"),
    );
}

#[test]
fn a_part_stopped_midway_is_finished_by_running_the_copy_again() {
    let d = disk_dir();
    let src = d.path().join("src");
    make_full_tree(&src);
    write_file(&src.join("x/large"), &data(130 << 20, 5));
    fixtures::stamp_times(&src);
    let dst = d.path().join("dst");
    // Part 1 of 2 is stopped at once: whatever it left is no partial file.
    let stop = |_: TreeProgress| ControlFlow::Break(());
    let e = TreeOptions::archive()
        .part(1, 2)
        .phase(Phase::Data)
        .progress(&stop)
        .copy_tree(&src, &dst);
    assert_eq!(e.expect_err("stopped").raw_os_error(), libc::ECANCELED);
    TreeOptions::archive()
        .part(0, 2)
        .phase(Phase::Data)
        .copy_tree(&src, &dst)
        .expect("part 0");
    for (rel, node) in snapshot(&dst) {
        if node.kind == libc::S_IFREG && !rel.to_string_lossy().contains(".zcio-") {
            assert_eq!(
                node.content,
                fs::read(src.join(&rel)).expect("src"),
                "{}",
                rel.display()
            );
        }
    }
    // The same command again, keeping what is there: the copy is complete.
    copy_in_parts(
        &src,
        &dst,
        2,
        TreeOptions::archive().existing(Existing::Newer),
    );
    let alone = d.path().join("alone");
    TreeOptions::archive()
        .copy_tree(&src, &alone)
        .expect("alone");
    let diff = differences(&snapshot(&alone), &snapshot(&dst), Compare::NO_ATIME);
    assert!(diff.is_empty(), "{}", diff.join("\n"));
    assert!(temp_files(&dst).is_empty());
}

#[test]
fn parts_refuse_what_cannot_be_shared() {
    let d = disk_dir();
    let (src, dst) = (d.path().join("src"), d.path().join("dst"));
    fs::create_dir(&src).expect("src");
    for o in [
        TreeOptions::new().part(2, 2).phase(Phase::Data),
        TreeOptions::new().part(0, 0),
        TreeOptions::new().part(0, 2),
        TreeOptions::new()
            .part(0, 2)
            .phase(Phase::Data)
            .merge(false),
    ] {
        let e = o.copy_tree(&src, &dst).expect_err("refused");
        assert_eq!(e.raw_os_error(), libc::EINVAL, "{o:?}");
        assert!(!dst.exists(), "{o:?}");
    }
}

#[test]
fn preserving_the_mode_keeps_set_id_bits_where_the_owner_is_the_same() {
    let d = disk_dir();
    let src = d.path().join("src");
    fs::create_dir_all(src.join("sgid")).expect("dirs");
    write_file(&src.join("suid"), b"x");
    fs::set_permissions(src.join("suid"), fs::Permissions::from_mode(0o4755)).expect("chmod");
    fs::set_permissions(src.join("sgid"), fs::Permissions::from_mode(0o2755)).expect("chmod");
    // The copy is the caller's, as the source is: the bits stay.
    let dst = d.path().join("dst");
    TreeOptions::new()
        .preserve(Preserve::MODE)
        .copy_tree(&src, &dst)
        .expect("copy");
    let mode = |p: &Path| fs::metadata(p).expect("meta").mode() & 0o7777;
    assert_eq!(mode(&dst.join("suid")), 0o4755);
    assert_eq!(mode(&dst.join("sgid")), 0o2755);
}
