//! "The file being written is never more readable than the finished copy": the
//! check that the O_TMPFILE and the named-temporary-file test binaries share. Each
//! gives its own way of finding the file zcio is writing; the progress callback
//! looks at it while the data goes in.
#![allow(dead_code)]

use std::cell::RefCell;
use std::fs;
use std::ops::ControlFlow;
use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::path::{Path, PathBuf};

use crate::common::*;
use zcio::{Engine, Method, Options, Progress};

/// Who may read and write a file.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Perm {
    pub mode: u32,
    pub uid: u32,
    pub gid: u32,
}

impl Perm {
    pub fn of(m: &fs::Metadata) -> Perm {
        Perm {
            mode: m.mode() & 0o7777,
            uid: m.uid(),
            gid: m.gid(),
        }
    }
}

/// Whether everyone who may read or write a file with permissions `t` may also
/// do so with `f` (root aside, who may anyway). A user of `t`'s group is held to
/// `f`'s group bits only when `f` has the same group, else to its "other" bits;
/// likewise for the owner.
pub fn no_wider(t: Perm, f: Perm) -> Result<(), String> {
    let rw = |m: u32, shift: u32| (m >> shift) & 0o6;
    let other = rw(f.mode, 0);
    let mut bad = Vec::new();
    if rw(t.mode, 0) & !other != 0 {
        bad.push("others");
    }
    let group = if t.gid == f.gid { rw(f.mode, 3) } else { other };
    if rw(t.mode, 3) & !group != 0 {
        bad.push("the group");
    }
    let owner = if t.uid == f.uid { rw(f.mode, 6) } else { other };
    if t.uid != 0 && rw(t.mode, 6) & !owner != 0 {
        bad.push("the owner");
    }
    if bad.is_empty() {
        Ok(())
    } else {
        Err(format!(
            "{} may do more with the file being written ({:o} {}:{}) than with the copy ({:o} {}:{})",
            bad.join(" and "),
            t.mode,
            t.uid,
            t.gid,
            f.mode,
            f.uid,
            f.gid
        ))
    }
}

/// How the destination looks before the copy.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Dest {
    /// No destination yet.
    New,
    /// No destination yet, written in place (ZC_F_IN_PLACE).
    InPlaceNew,
    /// An existing destination, mode 0600, owned by the caller, replaced.
    Replace,
}

/// Finds the files zcio is writing into for the destination `dst` (in directory
/// `dir`) while a copy runs: paths that `fs::metadata` follows to them.
pub type Finder<'f> = &'f dyn Fn(&Path, &Path, Dest) -> Vec<PathBuf>;

/// Copies a `src_mode` source owned by `owner` (None: the caller) into `dir` with
/// every method (plus `directio_copy`) onto each kind of destination, and checks
/// at every progress report that the file being written gives nobody more than the
/// finished copy does, and that the copy ends with the mode and owner documented.
pub fn check_never_wider(
    dir: &Path,
    find: Finder<'_>,
    src_mode: u32,
    owner: Option<(u32, u32)>,
    reflink: bool,
) {
    let me = (
        nix::unistd::geteuid().as_raw(),
        nix::unistd::getegid().as_raw(),
    );
    let src = dir.join("src");
    let bytes = data(16 << 20, 61);
    write_file(&src, &bytes);
    fs::set_permissions(&src, fs::Permissions::from_mode(src_mode)).expect("chmod");
    if let Some((u, g)) = owner {
        std::os::unix::fs::chown(&src, Some(u), Some(g)).expect("chown");
    }
    let mut methods: Vec<Option<Method>> = vec![
        Some(Method::Auto),
        Some(Method::Direct),
        Some(Method::CopyFileRange),
        Some(Method::Sendfile),
        Some(Method::Splice),
        Some(Method::Mmap),
        Some(Method::ReadWrite),
        None, // directio_copy
    ];
    if reflink {
        methods.push(Some(Method::Reflink));
    }
    let mask = umask();
    for meth in methods {
        for dest in [Dest::New, Dest::InPlaceNew, Dest::Replace] {
            let label = format!(
                "{} onto {dest:?} in {}",
                meth.map_or("directio_copy", |m| m.name()),
                dir.display()
            );
            let dst = dir.join("dst");
            let _ = fs::remove_file(&dst);
            if dest == Dest::Replace {
                write_file(&dst, b"old");
                fs::set_permissions(&dst, fs::Permissions::from_mode(0o600)).expect("chmod");
            }
            let seen: RefCell<Vec<(Progress, PathBuf, Perm)>> = RefCell::new(Vec::new());
            let look = |at: Progress| {
                for p in find(dir, &dst, dest) {
                    if let Ok(m) = fs::metadata(&p) {
                        seen.borrow_mut().push((at, p, Perm::of(&m)));
                    }
                }
                ControlFlow::Continue(())
            };
            // A copy goes to the source's owner only when asked (cp -p). Direct
            // I/O on the synchronous engine, which reports after every chunk: the
            // threaded one reports after the caller's own chunks, and the others
            // may finish the file first.
            let o = Options::new()
                .method(meth.unwrap_or_default())
                .engine(Engine::Sync)
                .in_place(dest == Dest::InPlaceNew)
                .preserve_owner(owner.is_some())
                .progress(&look);
            let r = match meth {
                Some(_) => o.copy_file(&src, &dst),
                None => o.directio_copy(&src, &dst),
            };
            let st = r.unwrap_or_else(|e| panic!("{label}: {e}"));
            assert!(fs::read(&dst).expect("read") == bytes, "{label}: contents");
            let fin = Perm::of(&fs::metadata(&dst).expect("stat"));
            // Preserving the owner, root gives the copy to the source's owner.
            let given = |mine: u32, theirs: Option<u32>| match theirs {
                Some(o) if me.0 == 0 => o,
                _ => mine,
            };
            let want = match (dest, meth) {
                (Dest::Replace, _) => Perm {
                    mode: 0o600,
                    uid: given(me.0, owner.map(|o| o.0)),
                    gid: given(me.1, owner.map(|o| o.1)),
                },
                (_, m) => Perm {
                    mode: if m.is_some() { src_mode & 0o777 } else { 0o644 } & !mask,
                    uid: given(me.0, owner.map(|o| o.0)),
                    gid: given(me.1, owner.map(|o| o.1)),
                },
            };
            assert_eq!(fin, want, "{label}: the copy's mode and owner");
            let seen = seen.into_inner();
            assert!(
                !seen.is_empty(),
                "{label}: never saw the file being written"
            );
            if st.method != Method::Reflink {
                assert!(
                    seen.iter()
                        .any(|(at, ..)| at.total.is_some_and(|t| at.done < t)),
                    "{label}: no report while the data went in"
                );
            }
            for (at, p, perm) in &seen {
                if let Err(why) = no_wider(*perm, fin) {
                    panic!(
                        "{label}: at {} of {:?} bytes, {}: {why}",
                        at.done,
                        at.total,
                        p.display()
                    );
                }
            }
            assert_eq!(
                extra_entries(dir, &["src", "dst"]),
                Vec::<String>::new(),
                "{label}"
            );
        }
    }
}
