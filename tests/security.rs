//! Hardening, with O_TMPFILE (the default): names planted on zcio's path are never
//! written through, the file being written is never more readable than the copy,
//! and Direct I/O padding carries only zeros. The named-temporary-file side of the
//! same checks is in `security_named_temp.rs` (its own binary: it switches O_TMPFILE
//! off for the whole process).

mod common;
#[path = "common/plant.rs"]
mod plant;
#[path = "common/readable.rs"]
mod readable;

use std::cell::RefCell;
use std::fs::{self, File, OpenOptions};
use std::ops::ControlFlow;
use std::os::fd::AsRawFd;
use std::os::unix::fs::FileExt;
use std::path::{Path, PathBuf};
use std::sync::Mutex;

use common::*;
use readable::{Dest, check_never_wider};
use zcio::{Engine, Method, Options, Progress};

/// The O_TMPFILEs of this process in `dir`, as /proc/self/fd paths: their links
/// read "<dir>/#<inode> (deleted)".
fn unnamed_in(dir: &Path) -> Vec<PathBuf> {
    let prefix = format!("{}/#", dir.canonicalize().expect("dir").display());
    let Ok(rd) = fs::read_dir("/proc/self/fd") else {
        return Vec::new();
    };
    rd.filter_map(|e| {
        let p = e.ok()?.path();
        let l = fs::read_link(&p).ok()?;
        let l = l.to_string_lossy();
        (l.starts_with(&prefix) && l.ends_with(" (deleted)")).then_some(p)
    })
    .collect()
}

/// What zcio writes into while a copy runs: the destination itself in place, else
/// its O_TMPFILE.
fn being_written(dir: &Path, dst: &Path, dest: Dest) -> Vec<PathBuf> {
    match dest {
        Dest::InPlaceNew => vec![dst.to_path_buf()],
        _ => unnamed_in(dir),
    }
}

fn xfs() -> Option<Mount> {
    Mount::image("xfs", 300, &["mkfs.xfs", "-q", "-f", "-m", "reflink=1"])
}

#[test]
fn temp_file_is_never_more_readable_than_the_copy() {
    // A 0600 source: the O_TMPFILE (and an in-place file) must be 0600 from the
    // first byte on, with every method, on tmpfs and (for reflink and real Direct
    // I/O) on XFS.
    if let Some(d) = shm_dir() {
        check_never_wider(d.path(), &being_written, 0o600, None, false);
    }
    if let Some(m) = xfs() {
        check_never_wider(&m.path(), &being_written, 0o600, None, true);
    }
    report(
        "security",
        "tmpfs, xfs",
        "temp_file_is_never_more_readable_than_the_copy",
        "a 0600 source, every method: the O_TMPFILE or in-place file stays 0600 at every progress report",
    );
}

#[test]
fn new_file_for_another_owner_is_not_group_readable_before_its_chown() {
    // As root under PRESERVE_OWNER, a new copy goes to the source's owner. Until
    // that chown (at commit) the file belongs to root and root's group: created with
    // the source's 0640, it would let root's group read data the copy keeps from them.
    if !is_root() {
        eprintln!("skip: giving a copy to another owner needs root");
        return;
    }
    let Some(d) = shm_dir() else { return };
    check_never_wider(d.path(), &being_written, 0o640, Some((65534, 65534)), false);
    report(
        "security",
        "tmpfs",
        "new_file_for_another_owner_is_not_group_readable_before_its_chown",
        "a 65534-owned 0640 source copied by root: owner-only until the chown at commit",
    );
}

#[test]
fn planted_symlink_at_the_link_name_of_an_o_tmpfile_is_refused() {
    // Replacing a destination links the O_TMPFILE to a temporary name first, then
    // renames it. A symlink planted at that name just before linkat runs must make
    // linkat fail (it never replaces) and zcio pick another name: the symlink's
    // target is never touched, the planted name is left alone.
    let d = disk_dir();
    let outside = disk_dir();
    let victim = outside.path().join("victim");
    let vbytes = data(4096, 71);
    write_file(&victim, &vbytes);
    let src = d.path().join("src");
    let bytes = data(3 << 20, 72);
    write_file(&src, &bytes);
    let dst = d.path().join("dst");
    for (meth, every) in [
        (Method::Auto, false),
        (Method::Direct, false),
        (Method::Auto, true),
        (Method::Direct, true),
    ] {
        let label = format!(
            "{meth}, planted {}",
            if every { "every time" } else { "once" }
        );
        write_file(&dst, b"old");
        let planted: Mutex<Vec<String>> = Mutex::new(Vec::new());
        let dir = d.path().to_path_buf();
        let got = plant::with_planter(
            |nr, dirfd, name| {
                if nr != libc::SYS_linkat || (!every && !planted.lock().expect("lock").is_empty()) {
                    return false;
                }
                let ok = plant::plant_symlink(dirfd, name, &victim);
                if ok {
                    planted
                        .lock()
                        .expect("lock")
                        .push(name.to_string_lossy().into_owned());
                }
                ok
            },
            || outcome(Options::new().method(meth).copy_file(&src, &dst)),
        );
        let Some(((r, st), calls)) = got else { return };
        let planted = planted.into_inner().expect("lock");
        assert!(!planted.is_empty(), "{label}: nothing was planted");
        // The data went into an O_TMPFILE, opened owner-only at most.
        let tmpfile = calls
            .iter()
            .find(|c| {
                c.nr == libc::SYS_openat && c.flags as i32 & libc::O_TMPFILE == libc::O_TMPFILE
            })
            .unwrap_or_else(|| panic!("{label}: no O_TMPFILE open in {calls:?}"));
        assert_eq!(tmpfile.mode & 0o077, 0, "{label}: {tmpfile:?}");
        if every {
            // 64 names, all taken: the copy fails, the old destination stays.
            assert_eq!(errno(r), libc::EEXIST, "{label}");
            assert_eq!(st.failed_step, zcio::Step::Commit, "{label}");
            assert!(fs::read(&dst).expect("read") == b"old", "{label}");
        } else {
            r.unwrap_or_else(|e| panic!("{label}: {e}"));
            assert!(fs::read(&dst).expect("read") == bytes, "{label}");
        }
        assert!(
            fs::read(&victim).expect("victim") == vbytes,
            "{label}: victim written"
        );
        for n in &planted {
            let l = fs::read_link(dir.join(n)).unwrap_or_else(|e| panic!("{label}: {n}: {e}"));
            assert_eq!(l, victim, "{label}: {n} changed");
            fs::remove_file(dir.join(n)).expect("rm");
        }
        assert_eq!(
            extra_entries(&dir, &["src", "dst"]),
            Vec::<String>::new(),
            "{label}"
        );
    }
    report(
        "security",
        "ext4",
        "planted_symlink_at_the_link_name_of_an_o_tmpfile_is_refused",
        "a symlink planted at the exact linkat name: another name is used, the victim untouched; all names planted: EEXIST, old destination kept",
    );
}

/// Where the byte at `logical` of `f` lies on its block device, by FIEMAP (after
/// syncing the file, so that the block is allocated and written).
fn physical_offset(f: &File, logical: u64) -> u64 {
    #[repr(C)]
    #[derive(Clone, Copy, Default, Debug)]
    struct Extent {
        logical: u64,
        physical: u64,
        length: u64,
        reserved64: [u64; 2],
        flags: u32,
        reserved: [u32; 3],
    }
    #[repr(C)]
    struct Map {
        start: u64,
        length: u64,
        flags: u32,
        mapped: u32,
        count: u32,
        reserved: u32,
        extents: [Extent; 8],
    }
    const FS_IOC_FIEMAP: libc::c_ulong = 0xc020_660b; // _IOWR('f', 11, struct fiemap)
    const FIEMAP_FLAG_SYNC: u32 = 1;
    // Unknown place, delayed allocation, encoded, not block aligned, inline, unwritten.
    const NOT_PLAIN: u32 = 0x2 | 0x4 | 0x8 | 0x100 | 0x200 | 0x800;
    let mut m = Map {
        start: logical,
        length: 1,
        flags: FIEMAP_FLAG_SYNC,
        mapped: 0,
        count: 8,
        reserved: 0,
        extents: [Extent::default(); 8],
    };
    // SAFETY: FS_IOC_FIEMAP with a struct fiemap followed by room for `count` extents.
    let r = unsafe { libc::ioctl(f.as_raw_fd(), FS_IOC_FIEMAP, &mut m) };
    assert_eq!(r, 0, "FIEMAP: {}", std::io::Error::last_os_error());
    let e = m.extents[..m.mapped as usize]
        .iter()
        .find(|e| e.logical <= logical && logical < e.logical + e.length)
        .unwrap_or_else(|| panic!("no extent holds byte {logical}"));
    assert_eq!(e.flags & NOT_PLAIN, 0, "extent {e:?}");
    e.physical + (logical - e.logical)
}

/// The file-system block that holds the last byte of `f` (`size` bytes), read from
/// the image the file system lives on, and where the data ends inside it.
fn raw_last_block(f: &File, size: u64, image: &Path) -> (Vec<u8>, usize) {
    const BLOCK: u64 = 4096; // mkfs.ext4 -b 4096 below
    let start = (size - 1) / BLOCK * BLOCK;
    f.sync_all().expect("fsync");
    let at = physical_offset(f, start);
    let mut raw = vec![0u8; BLOCK as usize];
    File::open(image)
        .expect("image")
        .read_exact_at(&mut raw, at)
        .expect("read image");
    (raw, (size - start) as usize)
}

#[test]
fn direct_io_tail_padding_is_zeros_in_every_engine() {
    // Direct I/O writes a file's unaligned tail as a whole aligned block, padded,
    // then cuts the file back to its size. The padding must be zeros, never what
    // the buffer held before (an earlier chunk of the source: every run below
    // reuses its buffers, queue depth 1 or 3 over 3 to 81 chunks).
    //
    // What proves it: the progress report after the last chunk comes before the
    // cut, so the callback finds the file (its O_TMPFILE through /proc/self/fd, or
    // the destination itself in place) still padded to the alignment, and reads
    // (1) the padding through the file and (2) the whole last block straight from
    // the ext4 image after an fsync: what a crash at that moment would leave on
    // disk. Every byte past the data must be zero.
    //
    // What does not: the last block on disk after the copy is also checked, but
    // there ext4 (like XFS and tmpfs) zeroes the rest of a block itself when a file
    // is truncated, whatever was written there; that check only shows the end state.
    let Some(m) = Mount::image("ext4", 64, &["mkfs.ext4", "-q", "-F", "-b", "4096"]) else {
        return;
    };
    let image = m.image_path().expect("image");
    let mp = m.path();
    // A source on tmpfs, whose O_DIRECT reads stop at end of file, leaves the rest
    // of the buffer as it was; one on ext4 gets the rest of its last block (zeros)
    // from the disk. Both are copied; the first is the one that shows a bad pad.
    let shm = shm_dir();
    let mut sources = vec![mp.join("src")];
    if let Some(s) = &shm {
        sources.push(s.path().join("src"));
    }
    for (src, (chunk, size)) in sources.iter().flat_map(|s| {
        [
            (s, (65536u64, 5 * 65536 + 4097)),
            (s, (4096, 80 * 4096 + 3000)),
        ]
    }) {
        let bytes = data(size as usize, size);
        write_file(src, &bytes);
        for engine in Engine::ALL {
            for depth in [1u32, 3] {
                for dest in ["new", "replace", "in place"] {
                    let label = format!(
                        "{} to ext4, {engine:?}, depth {depth}, chunk {chunk}, {dest}",
                        src.display()
                    );
                    let dst = mp.join("dst");
                    let _ = fs::remove_file(&dst);
                    let in_place = dest == "in place";
                    if dest != "new" {
                        // Larger than the copy and full of a marker, which must not
                        // show through anywhere either.
                        let mut f = OpenOptions::new()
                            .create(true)
                            .truncate(true)
                            .write(true)
                            .open(&dst)
                            .expect("dst");
                        std::io::Write::write_all(&mut f, &vec![0x5a; size as usize + (3 << 20)])
                            .expect("marker");
                        f.sync_all().expect("sync");
                    }
                    // (file size seen, padding all zero, raw block as expected)
                    let seen: RefCell<Vec<(u64, bool, bool)>> = RefCell::new(Vec::new());
                    let look = |_: Progress| {
                        let p = if in_place {
                            Some(dst.clone())
                        } else {
                            unnamed_in(&mp).into_iter().next()
                        };
                        let f = p
                            .and_then(|p| File::open(p).ok())
                            .expect("the file being written");
                        let len = f.metadata().expect("stat").len();
                        if len > size {
                            let mut pad = vec![1u8; (len - size) as usize];
                            f.read_exact_at(&mut pad, size).expect("read padding");
                            let (raw, end) = raw_last_block(&f, len.min(size), &image);
                            let tail = &bytes[bytes.len() - end..];
                            let raw_ok = raw[..end] == *tail && raw[end..].iter().all(|&b| b == 0);
                            seen.borrow_mut()
                                .push((len, pad.iter().all(|&b| b == 0), raw_ok));
                        }
                        ControlFlow::Continue(())
                    };
                    let st = Options::new()
                        .method(Method::Direct)
                        .engine(engine)
                        .queue_depth(depth)
                        .chunk_size(chunk)
                        .in_place(in_place)
                        .progress(&look)
                        .copy_file(src, &dst)
                        .unwrap_or_else(|e| panic!("{label}: {e}"));
                    assert_eq!(
                        (st.method, st.engine),
                        (Method::Direct, Some(engine)),
                        "{label}"
                    );
                    let a = u64::from(st.alignment);
                    assert!(a > 0 && size % a != 0, "{label}: alignment {a}");
                    let seen = seen.into_inner();
                    assert!(!seen.is_empty(), "{label}: never saw the padded file");
                    for &(len, pad_zero, raw_ok) in &seen {
                        assert_eq!(len, size.div_ceil(a) * a, "{label}");
                        assert!(pad_zero, "{label}: padding past byte {size} is not zeros");
                        assert!(
                            raw_ok,
                            "{label}: the last block on disk is not data then zeros"
                        );
                    }
                    // The end state: exact contents, and on disk data then zeros.
                    let f = File::open(&dst).expect("dst");
                    assert_eq!(f.metadata().expect("stat").len(), size, "{label}");
                    assert!(fs::read(&dst).expect("read") == bytes, "{label}");
                    let (raw, end) = raw_last_block(&f, size, &image);
                    assert!(raw[..end] == bytes[bytes.len() - end..], "{label}");
                    assert!(raw[end..].iter().all(|&b| b == 0), "{label}: after the cut");
                    assert_eq!(
                        extra_entries(&mp, &["src", "dst", "lost+found"]),
                        Vec::<String>::new(),
                        "{label}"
                    );
                }
            }
        }
    }
    report(
        "security",
        "ext4 image, tmpfs",
        "direct_io_tail_padding_is_zeros_in_every_engine",
        "sync/threads/io_uring, depth 1 and 3, 4 KiB and 64 KiB chunks, new/replaced/in-place: padding past the end is zeros in the file and in the raw block",
    );
}
