//! Helpers shared by the integration tests: zcio results taken apart, scratch
//! directories on real file systems, test data, page-cache residency, mounts made
//! by the test.
#![allow(dead_code)]

use std::fs;
use std::io::Write;
use std::ops::ControlFlow;
use std::os::fd::AsRawFd;
use std::path::{Path, PathBuf};
use std::process::Command;

use zcio::{Error, Progress, Stats};

/// A path copy's result split in two: whether it worked, and what it did (the
/// statistics of a failed copy are the ones its error carries).
pub fn outcome(r: zcio::Result<Stats>) -> (Result<(), Error>, Stats) {
    match r {
        Ok(st) => (Ok(()), st),
        Err(e) => {
            let st = *e
                .stats()
                .expect("a path copy's error carries its statistics");
            (Err(e), st)
        }
    }
}

/// The errno of a failed zcio call, 0 when it worked.
pub fn errno<T>(r: zcio::Result<T>) -> i32 {
    r.err().map_or(0, |e| e.raw_os_error())
}

/// A progress callback that stops the copy once half the source is done (at the
/// first report when the source's size is not known).
pub fn stop_at_half(p: Progress) -> ControlFlow<()> {
    if p.total.is_none_or(|t| p.done * 2 >= t) {
        ControlFlow::Break(())
    } else {
        ControlFlow::Continue(())
    }
}

/// A scratch directory on the work disk (ext4 here), under target/.
pub fn disk_dir() -> tempfile::TempDir {
    let base = Path::new(env!("CARGO_TARGET_TMPDIR"));
    fs::create_dir_all(base).expect("target tmpdir");
    tempfile::Builder::new()
        .prefix("zcio-")
        .tempdir_in(base)
        .expect("tempdir")
}

/// A scratch directory on tmpfs (/dev/shm), or None when there is none.
pub fn shm_dir() -> Option<tempfile::TempDir> {
    let shm = Path::new("/dev/shm");
    if !shm.is_dir() {
        eprintln!("skip: no /dev/shm");
        return None;
    }
    tempfile::Builder::new()
        .prefix("zcio-")
        .tempdir_in(shm)
        .ok()
}

/// Deterministic pseudo-random bytes (xorshift), different for each seed.
pub fn data(len: usize, seed: u64) -> Vec<u8> {
    let mut x = seed.wrapping_mul(0x9e37_79b9_7f4a_7c15) | 1;
    let mut v = Vec::with_capacity(len + 8);
    while v.len() < len {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        v.extend_from_slice(&x.to_le_bytes());
    }
    v.truncate(len);
    v
}

pub fn write_file(p: &Path, bytes: &[u8]) {
    let mut f = fs::File::create(p).expect("create");
    f.write_all(bytes).expect("write");
    f.sync_all().expect("sync");
}

/// Names in `dir` other than the ones given: a leftover temporary file shows here.
pub fn extra_entries(dir: &Path, expected: &[&str]) -> Vec<String> {
    let mut v: Vec<String> = fs::read_dir(dir)
        .expect("read_dir")
        .map(|e| e.expect("entry").file_name().to_string_lossy().into_owned())
        .filter(|n| !expected.contains(&n.as_str()))
        .collect();
    v.sort();
    v
}

/// Pages of `p` resident in the page cache, by mincore on a mapping of it.
pub fn resident_pages(p: &Path) -> usize {
    let f = fs::File::open(p).expect("open");
    let len = f.metadata().expect("meta").len() as usize;
    if len == 0 {
        return 0;
    }
    let page = 4096usize;
    let pages = len.div_ceil(page);
    // SAFETY: a private read-only mapping of a file we hold open, unmapped below;
    // mincore only fills `vec`.
    unsafe {
        let m = libc::mmap(
            std::ptr::null_mut(),
            len,
            libc::PROT_READ,
            libc::MAP_SHARED,
            f.as_raw_fd(),
            0,
        );
        assert_ne!(m, libc::MAP_FAILED, "mmap");
        let mut vec = vec![0u8; pages];
        let r = libc::mincore(m, len, vec.as_mut_ptr());
        libc::munmap(m, len);
        assert_eq!(r, 0, "mincore");
        vec.iter().filter(|&&b| b & 1 != 0).count()
    }
}

/// Drops `p` from the page cache (after writing it back).
pub fn evict(p: &Path) {
    let f = fs::File::open(p).expect("open");
    f.sync_all().ok();
    // SAFETY: plain advice on a descriptor we own.
    unsafe { libc::posix_fadvise(f.as_raw_fd(), 0, 0, libc::POSIX_FADV_DONTNEED) };
}

/// This process's umask, read without changing it (0o022 if /proc cannot tell).
pub fn umask() -> u32 {
    fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines().find_map(|l| {
                l.strip_prefix("Umask:")
                    .and_then(|v| u32::from_str_radix(v.trim(), 8).ok())
            })
        })
        .unwrap_or(0o022)
}

pub fn is_root() -> bool {
    // SAFETY: geteuid cannot fail.
    unsafe { libc::geteuid() == 0 }
}

/// A file system mounted by the test, unmounted (lazily) when dropped.
pub struct Mount {
    pub dir: tempfile::TempDir,
    /// Where the image file of a loop mount lives; removed after the unmount.
    image: Option<tempfile::TempDir>,
}

impl Mount {
    /// Mounts `fstype` with `opts` on a new directory under target/; None (with the
    /// reason printed) when not root or the mount fails.
    pub fn new(fstype: &str, source: &str, opts: &str) -> Option<Mount> {
        if !is_root() {
            eprintln!("skip: mounting {fstype} needs root");
            return None;
        }
        let dir = disk_dir();
        let mut cmd = Command::new("mount");
        cmd.args(["-t", fstype]);
        if !opts.is_empty() {
            cmd.args(["-o", opts]);
        }
        let ok = cmd
            .arg(source)
            .arg(dir.path())
            .status()
            .map(|s| s.success())
            .unwrap_or(false);
        if !ok {
            eprintln!("skip: cannot mount {fstype}");
            return None;
        }
        Some(Mount { dir, image: None })
    }

    /// Makes a `size_mib` image file with `mkfs` (a command and its arguments; the
    /// image path is appended) and loop-mounts it as `fstype`.
    pub fn image(fstype: &str, size_mib: u64, mkfs: &[&str]) -> Option<Mount> {
        if !is_root() {
            eprintln!("skip: loop-mounting {fstype} needs root");
            return None;
        }
        let holder = disk_dir();
        let img = holder.path().join("fs.img");
        let f = fs::File::create(&img).expect("image");
        f.set_len(size_mib << 20).expect("size image");
        drop(f);
        let made = Command::new(mkfs[0])
            .args(&mkfs[1..])
            .arg(&img)
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .status()
            .map(|s| s.success())
            .unwrap_or(false);
        if !made {
            eprintln!("skip: {} is missing or failed", mkfs[0]);
            return None;
        }
        let mut m = Mount::new(fstype, img.to_str().expect("utf8 path"), "loop")?;
        m.image = Some(holder);
        Some(m)
    }

    pub fn path(&self) -> PathBuf {
        self.dir.path().to_path_buf()
    }

    /// The image file of a loop mount: the raw bytes of the file system.
    pub fn image_path(&self) -> Option<PathBuf> {
        self.image.as_ref().map(|h| h.path().join("fs.img"))
    }
}

impl Drop for Mount {
    fn drop(&mut self) {
        let _ = Command::new("umount")
            .arg("-l")
            .arg(self.dir.path())
            .status();
    }
}

/// With ZCIO_REPORT=FILE (set by `make test`), records one row that passed for
/// RELIABILITY.md: the test, the file system, the case, and what was seen.
pub fn report(test: &str, fs: &str, case: &str, detail: &str) {
    let Some(path) = std::env::var_os("ZCIO_REPORT") else {
        return;
    };
    let clean = |s: &str| s.replace(['\t', '\n'], " ");
    let line = format!(
        "rust\t{}\t{}\t{}\t1\t{}\n",
        clean(test),
        clean(fs),
        clean(case),
        clean(detail)
    );
    let mut f = fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(path)
        .expect("ZCIO_REPORT");
    f.write_all(line.as_bytes()).expect("report");
}

/// Runs `f` on a thread of its own and panics when it has not finished within
/// `limit`: a call that blocks for ever (a FIFO opened the wrong way, a socket
/// nobody drains) fails the test instead of hanging `cargo test`.
pub fn within<T: Send + 'static>(
    limit: std::time::Duration,
    what: &str,
    f: impl FnOnce() -> T + Send + 'static,
) -> T {
    let (tx, rx) = std::sync::mpsc::channel();
    let h = std::thread::spawn(move || {
        let _ = tx.send(f());
    });
    match rx.recv_timeout(limit) {
        Ok(v) => {
            h.join().expect("thread");
            v
        }
        // The body panicked: join to pass its panic on.
        Err(std::sync::mpsc::RecvTimeoutError::Disconnected) => match h.join() {
            Err(p) => std::panic::resume_unwind(p),
            Ok(()) => panic!("{what}: finished without a result"),
        },
        Err(std::sync::mpsc::RecvTimeoutError::Timeout) => {
            panic!("{what}: did not return within {limit:?}")
        }
    }
}

/// Open descriptors of this process (the directory stream's own not counted).
pub fn open_fds() -> usize {
    fs::read_dir("/proc/self/fd")
        .expect("/proc/self/fd")
        .count()
        - 1
}

/// Names in `dir` that zcio's named temporary files have (`.zcio-…`).
pub fn temp_names(dir: &Path) -> Vec<String> {
    extra_entries(dir, &[])
        .into_iter()
        .filter(|n| n.starts_with(".zcio-"))
        .collect()
}

/// The offset of an open file description.
pub fn fd_offset(f: &impl std::os::fd::AsFd) -> u64 {
    let off = nix::unistd::lseek(f.as_fd(), 0, nix::unistd::Whence::SeekCur).expect("lseek");
    u64::try_from(off).expect("offsets are not negative")
}

/// Whether `fd` is an open descriptor (zcio never closes one it did not open).
pub fn is_open(fd: std::os::fd::RawFd) -> bool {
    // SAFETY: F_GETFD only asks whether the number is open.
    unsafe { libc::fcntl(fd, libc::F_GETFD) >= 0 }
}

/// The file system `p` is on, by the name RELIABILITY.md uses.
pub fn fs_name(p: &Path) -> String {
    match nix::sys::statfs::statfs(p).map(|s| s.filesystem_type().0 as u64) {
        Ok(0xEF53) => "ext4".into(),
        Ok(0x0102_1994) => "tmpfs".into(),
        Ok(0x5846_5342) => "xfs".into(),
        Ok(t) => format!("{t:#x}"),
        Err(_) => "?".into(),
    }
}

/// With ZCIO_REPORT=FILE, records a row of another kind than `rust` (the kinds of
/// c-tests/reliability.py: regression, fault, bad, concurrency, resources).
pub fn report_row(kind: &str, fields: &[&str]) {
    let Some(path) = std::env::var_os("ZCIO_REPORT") else {
        return;
    };
    let mut line = kind.to_string();
    for f in fields {
        line.push('\t');
        line.push_str(&f.replace(['\t', '\n'], " "));
    }
    line.push('\n');
    let mut f = fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(path)
        .expect("ZCIO_REPORT");
    f.write_all(line.as_bytes()).expect("report");
}

/// A regression check named after the fault it once found: recorded for
/// RELIABILITY.md, then asserted.
pub fn regression(name: &str, ok: bool) {
    println!("regression {name}: {}", if ok { "ok" } else { "FAILED" });
    report_row("regression", &[name, if ok { "1" } else { "0" }]);
    assert!(ok, "regression {name}");
}

/// The Direct I/O engines and `None` (zcio's choice), for loops over all four.
pub fn engines_and_auto() -> [Option<zcio::Engine>; 4] {
    [
        None,
        Some(zcio::Engine::Sync),
        Some(zcio::Engine::Threads),
        Some(zcio::Engine::IoUring),
    ]
}

/// Scratch directories on ext4 and, where there is one, on tmpfs.
pub fn disk_and_shm() -> Vec<tempfile::TempDir> {
    let mut v = vec![disk_dir()];
    v.extend(shm_dir());
    v
}
