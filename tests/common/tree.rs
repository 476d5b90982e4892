//! Trees for the tree-copy tests: one with every kind of entry, and a snapshot of
//! a tree (everything `cp -a` keeps, entry by entry) to compare copies with.

use std::collections::{BTreeMap, HashMap};
use std::ffi::{CString, OsString};
use std::fs;
use std::os::unix::ffi::{OsStrExt, OsStringExt};
use std::os::unix::fs::{MetadataExt, PermissionsExt, symlink};
use std::path::{Path, PathBuf};
use std::process::Command;

use crate::common::{data, is_root, write_file};

/// What a tree keeps of one entry.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Node {
    pub kind: u32,
    pub mode: u32,
    pub uid: u32,
    pub gid: u32,
    /// (atime, mtime) to the nanosecond; the atime of directories is left out
    /// (reading a directory may change it).
    pub atime: Option<(i64, i64)>,
    pub mtime: (i64, i64),
    pub size: u64,
    /// File contents, link target.
    pub content: Vec<u8>,
    pub rdev: u64,
    /// The first path (in sorted order) of the entry's hard-link group.
    pub link_group: Option<PathBuf>,
    pub xattrs: BTreeMap<Vec<u8>, Vec<u8>>,
    /// Bytes of the file that are allocated (holes kept show here).
    pub blocks: u64,
}

/// Which parts of the entries to compare.
#[derive(Clone, Copy, Debug)]
pub struct Compare {
    pub owner: bool,
    pub times: bool,
    /// Access times too (a read of the source between two copies moves them).
    pub atime: bool,
    pub links: bool,
    pub xattrs: bool,
}

impl Compare {
    /// Everything but access times.
    pub const NO_ATIME: Compare = Compare {
        atime: false,
        ..Compare::ALL
    };
    pub const ALL: Compare = Compare {
        owner: true,
        times: true,
        atime: true,
        links: true,
        xattrs: true,
    };
    /// What `cp -r` keeps: kinds, modes (minus the umask), contents, link targets.
    pub const CONTENT: Compare = Compare {
        owner: false,
        times: false,
        atime: false,
        links: false,
        xattrs: false,
    };
}

fn cpath(p: &Path) -> CString {
    CString::new(p.as_os_str().as_bytes()).expect("path without NUL")
}

/// The extended attributes of `p` itself (a symlink's own).
pub fn xattrs(p: &Path) -> BTreeMap<Vec<u8>, Vec<u8>> {
    let c = cpath(p);
    let mut out = BTreeMap::new();
    let mut names = vec![0u8; 65536];
    // SAFETY: valid path and buffer.
    let n = unsafe { libc::llistxattr(c.as_ptr(), names.as_mut_ptr().cast(), names.len()) };
    if n <= 0 {
        return out;
    }
    names.truncate(n as usize);
    for name in names.split(|&b| b == 0).filter(|n| !n.is_empty()) {
        if name == b"security.selinux" {
            continue;
        }
        let cn = CString::new(name).expect("name");
        let mut v = vec![0u8; 65536];
        // SAFETY: valid path, name and buffer.
        let m = unsafe { libc::lgetxattr(c.as_ptr(), cn.as_ptr(), v.as_mut_ptr().cast(), v.len()) };
        if m >= 0 {
            v.truncate(m as usize);
            out.insert(name.to_vec(), v);
        }
    }
    out
}

/// Sets an extended attribute on `p` itself; false when the file system says no.
pub fn set_xattr(p: &Path, name: &str, value: &[u8]) -> bool {
    let (c, n) = (cpath(p), CString::new(name).expect("name"));
    // SAFETY: valid path, name and value.
    unsafe {
        libc::lsetxattr(
            c.as_ptr(),
            n.as_ptr(),
            value.as_ptr().cast(),
            value.len(),
            0,
        ) == 0
    }
}

/// Sets the times of `p` itself to the nanosecond.
pub fn set_times(p: &Path, atime: (i64, i64), mtime: (i64, i64)) {
    let c = cpath(p);
    let ts = [
        libc::timespec {
            tv_sec: atime.0,
            tv_nsec: atime.1,
        },
        libc::timespec {
            tv_sec: mtime.0,
            tv_nsec: mtime.1,
        },
    ];
    // SAFETY: valid path and two timespecs.
    let r = unsafe {
        libc::utimensat(
            libc::AT_FDCWD,
            c.as_ptr(),
            ts.as_ptr(),
            libc::AT_SYMLINK_NOFOLLOW,
        )
    };
    assert_eq!(r, 0, "utimensat {}", p.display());
}

/// Every entry below `root` (not `root` itself) by its path relative to it. All
/// entries are looked at before any file is read, so reading does not move times.
pub fn snapshot(root: &Path) -> BTreeMap<PathBuf, Node> {
    let mut paths = Vec::new();
    let mut stack = vec![root.to_path_buf()];
    while let Some(d) = stack.pop() {
        for e in fs::read_dir(&d).expect("read_dir") {
            let e = e.expect("entry");
            let p = e.path();
            if e.file_type().expect("type").is_dir() {
                stack.push(p.clone());
            }
            paths.push(p);
        }
    }
    paths.sort();
    let metas: Vec<(PathBuf, fs::Metadata)> = paths
        .into_iter()
        .map(|p| {
            let m = fs::symlink_metadata(&p).expect("lstat");
            (p, m)
        })
        .collect();
    let mut groups: HashMap<(u64, u64), PathBuf> = HashMap::new();
    let mut out = BTreeMap::new();
    for (p, m) in &metas {
        let rel = p.strip_prefix(root).expect("below root").to_path_buf();
        let kind = m.mode() & libc::S_IFMT;
        let content = if m.file_type().is_symlink() {
            fs::read_link(p)
                .expect("readlink")
                .into_os_string()
                .into_vec()
        } else if m.is_file() {
            fs::read(p).expect("read")
        } else {
            Vec::new()
        };
        let link_group = (kind != libc::S_IFDIR && m.nlink() > 1).then(|| {
            groups
                .entry((m.dev(), m.ino()))
                .or_insert_with(|| rel.clone())
                .clone()
        });
        out.insert(
            rel,
            Node {
                kind,
                mode: m.mode() & 0o7777,
                uid: m.uid(),
                gid: m.gid(),
                atime: (kind != libc::S_IFDIR).then(|| (m.atime(), m.atime_nsec())),
                mtime: (m.mtime(), m.mtime_nsec()),
                size: if kind == libc::S_IFDIR { 0 } else { m.size() },
                content,
                rdev: m.rdev(),
                link_group,
                xattrs: xattrs(p),
                blocks: m.blocks() * 512,
            },
        );
    }
    out
}

/// The differences between two snapshots, as lines (empty when the same).
pub fn differences(
    a: &BTreeMap<PathBuf, Node>,
    b: &BTreeMap<PathBuf, Node>,
    what: Compare,
) -> Vec<String> {
    let mut out = Vec::new();
    for k in a
        .keys()
        .chain(b.keys())
        .collect::<std::collections::BTreeSet<_>>()
    {
        let (x, y) = match (a.get(k), b.get(k)) {
            (Some(x), Some(y)) => (x, y),
            (x, y) => {
                out.push(format!(
                    "{}: only in {}",
                    k.display(),
                    if x.is_some() {
                        "the first"
                    } else {
                        "the second"
                    }
                ));
                let _ = y;
                continue;
            }
        };
        let mut d = |field: &str, same: bool, show: String| {
            if !same {
                out.push(format!("{}: {field} differs: {show}", k.display()));
            }
        };
        d(
            "kind",
            x.kind == y.kind,
            format!("{:o} / {:o}", x.kind, y.kind),
        );
        // A symlink has no mode of its own to keep.
        if x.kind != libc::S_IFLNK {
            d(
                "mode",
                x.mode == y.mode,
                format!("{:o} / {:o}", x.mode, y.mode),
            );
        }
        d("size", x.size == y.size, format!("{} / {}", x.size, y.size));
        d(
            "content",
            x.content == y.content,
            format!("{} / {} bytes", x.content.len(), y.content.len()),
        );
        d("rdev", x.rdev == y.rdev, format!("{} / {}", x.rdev, y.rdev));
        if what.owner {
            d(
                "owner",
                (x.uid, x.gid) == (y.uid, y.gid),
                format!("{}:{} / {}:{}", x.uid, x.gid, y.uid, y.gid),
            );
        }
        if what.times {
            d(
                "mtime",
                x.mtime == y.mtime,
                format!("{:?} / {:?}", x.mtime, y.mtime),
            );
            if what.atime {
                d(
                    "atime",
                    x.atime == y.atime,
                    format!("{:?} / {:?}", x.atime, y.atime),
                );
            }
        }
        if what.links {
            d(
                "hard links",
                x.link_group == y.link_group,
                format!("{:?} / {:?}", x.link_group, y.link_group),
            );
        }
        if what.xattrs {
            d(
                "xattrs",
                x.xattrs == y.xattrs,
                format!("{:?} / {:?}", x.xattrs.keys(), y.xattrs.keys()),
            );
        }
    }
    out
}

/// An access ACL giving user 1234 read: the raw `system.posix_acl_access` value.
pub fn acl_value() -> Vec<u8> {
    let mut v = 2u32.to_le_bytes().to_vec();
    // (tag, perm, id): user::rw-, user:1234:r--, group::r--, mask::r--, other::---
    for (tag, perm, id) in [
        (1u16, 6u16, u32::MAX),
        (2, 4, 1234),
        (4, 4, u32::MAX),
        (0x10, 4, u32::MAX),
        (0x20, 0, u32::MAX),
    ] {
        v.extend_from_slice(&tag.to_le_bytes());
        v.extend_from_slice(&perm.to_le_bytes());
        v.extend_from_slice(&id.to_le_bytes());
    }
    v
}

/// What a made tree has.
#[derive(Debug, Default)]
pub struct Made {
    pub regular_with_data: u64,
    pub bytes: u64,
    pub devices: bool,
    pub owners: bool,
    pub acl: bool,
}

/// Makes a tree with every kind of entry at `root` (which must not exist): files
/// of many sizes (empty, sparse, exact and odd sizes), modes (666, setuid,
/// read-only, a read-only directory with files in it, sticky and setgid
/// directories), symlinks (relative, absolute, dangling, to a directory), hard-link
/// groups across directories, a FIFO, a socket, devices and other owners as root,
/// extended attributes and an ACL where the file system takes them, and times to
/// the nanosecond set last.
pub fn make_full_tree(root: &Path) -> Made {
    let root_user = is_root();
    let mut made = Made::default();
    fs::create_dir(root).expect("root");
    let j = |s: &str| root.join(s);
    let counts = std::cell::Cell::new((0u64, 0u64));
    let count = |len: u64| {
        let (n, b) = counts.get();
        counts.set((n + u64::from(len > 0), b + len));
    };
    let file = |name: &str, len: usize, seed: u64| {
        write_file(&j(name), &data(len, seed));
        count(len as u64);
    };
    for d in [
        "d1",
        "d1/d2",
        "d1/d2/d3",
        "empty_dir",
        "rodir",
        "sticky",
        "setgid_dir",
        "x",
    ] {
        fs::create_dir(j(d)).expect("dir");
    }
    file("a.txt", 13, 1);
    file("big.bin", 3 << 20 | 333, 2);
    file("empty", 0, 3);
    file("page", 4096, 4);
    file("d1/d2/d3/deep.txt", 777, 5);
    file("rodir/inside", 100, 6);
    file("sticky/s", 10, 7);
    file("x/odd-\u{e9}-name with spaces", 5, 8);
    // A sparse file: 8 MiB with 4 KiB of data in the middle.
    {
        let f = fs::File::create(j("sparse")).expect("sparse");
        f.set_len(8 << 20).expect("len");
        use std::os::unix::fs::FileExt;
        f.write_all_at(&data(4096, 9), 4 << 20).expect("write");
        count(8 << 20);
    }
    // Not valid UTF-8.
    {
        let name = OsString::from_vec(vec![b'n', 0xff, b'x']);
        write_file(&root.join(&name), b"bytes");
        count(5);
    }
    let mode =
        |p: &str, m: u32| fs::set_permissions(j(p), fs::Permissions::from_mode(m)).expect("chmod");
    file("mode666", 10, 10);
    mode("mode666", 0o666);
    file("setuid", 10, 11);
    mode("setuid", 0o4755);
    file("exec", 10, 12);
    mode("exec", 0o700);
    file("ro", 10, 13);
    mode("ro", 0o444);
    mode("sticky", 0o1777);
    mode("setgid_dir", 0o2775);
    symlink("a.txt", j("link_rel")).expect("symlink");
    symlink("/etc/hostname", j("link_abs")).expect("symlink");
    symlink("nowhere", j("dangling")).expect("symlink");
    symlink("d1", j("link_dir")).expect("symlink");
    symlink("../../a.txt", j("d1/d2/up")).expect("symlink");
    file("hl1", 5000, 14);
    fs::hard_link(j("hl1"), j("d1/hl2")).expect("link");
    fs::hard_link(j("hl1"), j("d1/d2/hl3")).expect("link");
    file("pair_a", 20, 15);
    fs::hard_link(j("pair_a"), j("x/pair_b")).expect("link");
    nix::unistd::mkfifo(&j("fifo"), nix::sys::stat::Mode::from_bits_truncate(0o640)).expect("fifo");
    drop(std::os::unix::net::UnixListener::bind(j("sock")).expect("socket"));
    if root_user {
        for (name, kind, dev) in [
            ("null", libc::S_IFCHR, libc::makedev(1, 3)),
            ("blk", libc::S_IFBLK, libc::makedev(7, 200)),
        ] {
            let c = cpath(&j(name));
            // SAFETY: valid path.
            let r = unsafe { libc::mknod(c.as_ptr(), kind | 0o600, dev) };
            assert_eq!(r, 0, "mknod");
        }
        made.devices = true;
        let own = |p: &str, u: u32, g: u32| {
            let c = cpath(&j(p));
            // SAFETY: valid path.
            assert_eq!(unsafe { libc::lchown(c.as_ptr(), u, g) }, 0, "lchown");
        };
        own("a.txt", 1234, 5678);
        own("setuid", 1234, 0);
        own("link_rel", 4321, 8765);
        own("d1/d2", 1111, 2222);
        own("fifo", 99, 99);
        made.owners = true;
        set_xattr(&j("a.txt"), "trusted.zcio", b"root only");
    }
    set_xattr(&j("a.txt"), "user.zcio", b"hello");
    set_xattr(&j("d1"), "user.dir", b"on a directory");
    set_xattr(&j("big.bin"), "user.big", &data(3000, 16));
    made.acl = set_xattr(&j("page"), "system.posix_acl_access", &acl_value());
    (made.regular_with_data, made.bytes) = counts.get();
    stamp_times(root);
    made
}

/// Gives every entry below `root` its own access and modification times, to the
/// nanosecond, deepest first (setting them on a directory's entries changes it).
pub fn stamp_times(root: &Path) {
    let mut all: Vec<PathBuf> = Vec::new();
    let mut stack = vec![root.to_path_buf()];
    while let Some(d) = stack.pop() {
        for e in fs::read_dir(&d).expect("read_dir") {
            let p = e.expect("entry").path();
            if fs::symlink_metadata(&p).expect("lstat").is_dir() {
                stack.push(p.clone());
            }
            all.push(p);
        }
    }
    all.sort_by(|a, b| {
        b.components()
            .count()
            .cmp(&a.components().count())
            .then(a.cmp(b))
    });
    for (i, p) in all.iter().enumerate() {
        let i = i as i64;
        set_times(
            p,
            (1_600_000_000 + i, 123_456_789),
            (1_500_000_000 + i * 7, 987_654_321 - i),
        );
    }
}

/// Runs `cp ARGS SRC DST`; panics when it fails.
pub fn cp(args: &[&str], src: &Path, dst: &Path) {
    let st = Command::new("cp")
        .args(args)
        .arg(src)
        .arg(dst)
        .status()
        .expect("cp");
    assert!(st.success(), "cp {args:?} failed");
}

/// Names below `root` that look like zcio's temporary files.
pub fn temp_files(root: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    let mut stack = vec![root.to_path_buf()];
    while let Some(d) = stack.pop() {
        let Ok(rd) = fs::read_dir(&d) else { continue };
        for e in rd.flatten() {
            let p = e.path();
            if e.file_name().as_bytes().starts_with(b".zcio-") {
                out.push(p.clone());
            }
            if e.file_type().is_ok_and(|t| t.is_dir()) {
                stack.push(p);
            }
        }
    }
    out
}
