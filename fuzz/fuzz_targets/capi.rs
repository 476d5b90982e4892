//! Fuzzes the C API (the exported `extern "C"` functions, called as C would call
//! them) against real small files, pipes, sockets and devices.
//!
//! Each input is decoded into a few operations on a pool of descriptors and paths
//! made fresh for that input in a per-process scratch directory (one on tmpfs, one
//! on the temp directory's file system, so that copies also cross file systems).
//! A panic here is a finding: a result outside `0..` / `-4095..=-1`, wrong bytes in
//! a destination, a destination changed by a failed copy, a leftover temporary
//! file, a changed `errno`, a leaked or closed descriptor.
//!
//! Nothing may block: pipes and sockets are non-blocking and `ZC_F_NONBLOCK` is
//! forced where zcio would otherwise wait for a reader's data, lengths are bounded
//! where a source never ends (or feeds itself), and a destination stream always has
//! room for what one call can write.

#![no_main]

use std::cell::{Cell, RefCell};
use std::ffi::{CStr, CString, c_int, c_void};
use std::os::fd::{AsRawFd, FromRawFd, IntoRawFd, OwnedFd, RawFd};
use std::os::unix::ffi::{OsStrExt, OsStringExt};
use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::path::{Path, PathBuf};
use std::sync::OnceLock;

use arbitrary::Arbitrary;
use libfuzzer_sys::fuzz_target;
use zcio::capi::copy::{
    directIO_copy, directio_copy, zc_copy_file, zc_options_init_sized, zc_splice_file,
    zc_stats_init_sized,
};
use zcio::capi::directio::{directio, zc_dio_alignment, zc_directio};
use zcio::capi::error::zc_strerror;
use zcio::capi::fd::{zc_copy_file_range, zc_mmap_copy, zc_reflink, zc_sendfile, zc_splice};
use zcio::capi::types::*;
use zcio::capi::version::zc_version;

/// Operations per input: enough to chain state, few enough to stay fast.
const MAX_OPS: usize = 8;
/// The most a call may move when its source never ends or could feed itself, and
/// so the most any stream destination must be able to take without a reader.
const BOUND: u64 = 16 << 10;
/// Explicit write offsets stay below this so that files stay small and sparse
/// copies of them stay fast.
const MAX_WRITE_OFF: i64 = 256 << 10;
/// The largest chunk size zcio accepts. It cuts a chunk down to the file's size,
/// so this costs no more memory than a small chunk on the fuzzer's small files.
const BIG_CHUNK: u64 = 1 << 30;
/// A descriptor number that is never open.
const CLOSED_FD: c_int = 1000;
/// Marks `errno` before each call: zcio must leave it alone.
const ERRNO_MARK: c_int = 0x5a5a;
const OPTS_SIZE: usize = std::mem::size_of::<zc_options>();
const STATS_SIZE: usize = std::mem::size_of::<zc_stats>();
/// The structs' sizes in zcio 0.1: the smallest `size` a caller may give.
const OPTS_MIN: usize = 40;
const STATS_MIN: usize = 80;
const CANARY: u8 = 0xa5;

// ---------------------------------------------------------------- the input

#[derive(Arbitrary, Debug)]
struct Input {
    /// Size of the main data file.
    data_len: u16,
    /// Copies use named temporary files instead of O_TMPFILE.
    named_temp: bool,
    ops: Vec<Op>,
}

#[derive(Arbitrary, Debug)]
enum Op {
    Path {
        func: PathFn,
        src: PathSel,
        dst: PathSel,
        opts: OptsSel,
        stats: StatsSel,
    },
    DirectIoCopyCompat {
        src: PathSel,
        dst: PathSel,
    },
    Sendfile {
        out: FdSel,
        inp: FdSel,
        off: OffSel,
        len: LenSel,
        flags: FlagSel,
    },
    Splice {
        inp: FdSel,
        in_off: OffSel,
        out: FdSel,
        out_off: OffSel,
        len: LenSel,
        flags: FlagSel,
    },
    CopyFileRange {
        inp: FdSel,
        in_off: OffSel,
        out: FdSel,
        out_off: OffSel,
        len: LenSel,
        flags: FlagSel,
    },
    Mmap {
        inp: FdSel,
        in_off: OffSel,
        out: FdSel,
        len: LenSel,
        flags: FlagSel,
    },
    Reflink {
        src: FdSel,
        dst: FdSel,
    },
    Directio {
        fd: FdSel,
        advice: i32,
        solaris: bool,
    },
    DioAlignment {
        fd: FdSel,
        want_mem: bool,
        want_off: bool,
    },
    Strerror(i32),
    OptionsInit(InitSel),
    StatsInit(InitSel),
    Version,
}

#[derive(Arbitrary, Debug, Clone, Copy, PartialEq)]
enum PathFn {
    CopyFile,
    SpliceFile,
    DirectioCopy,
}

#[derive(Arbitrary, Debug, Clone, Copy, PartialEq)]
enum PathSel {
    Data,
    Small,
    Empty,
    Sparse,
    DstOld,
    DstNew,
    Hard,
    LinkData,
    LinkDst,
    Dangling,
    Loop,
    Dir,
    DirSlash,
    DataSlash,
    MissingDir,
    Fifo,
    DevNull,
    DevFull,
    ProcVersion,
    NonUtf8New,
    DiskData,
    DiskDstOld,
    DiskDstNew,
    DiskLinkShmData,
    EmptyStr,
    Root,
    Null,
}

#[derive(Arbitrary, Debug, Clone, Copy, PartialEq)]
enum FdSel {
    DataRo,
    DataWo,
    DataRw,
    DataAppend,
    DataRwAppend,
    DataDirectRw,
    DataDirectRo,
    Empty,
    SparseRw,
    DstRw,
    DiskDataRo,
    DiskDstRw,
    DiskDirectRw,
    Memfd,
    ProcVersion,
    OPath,
    PipeR,
    PipeW,
    PipeREof,
    PipeWBroken,
    FifoRw,
    Sock,
    DevNull,
    DevZero,
    DevFull,
    Dir,
    EventFd,
    Closed,
    Minus1,
    IntMin,
}
const FD_SELS: usize = FdSel::IntMin as usize + 1;

#[derive(Arbitrary, Debug, Clone, Copy)]
enum OffSel {
    Null,
    Zero,
    Small(u16),
    Mid(u8),
    Neg(i8),
    Min,
    Max,
    Huge(u32),
}

#[derive(Arbitrary, Debug, Clone, Copy)]
enum LenSel {
    Zero,
    ToEof,
    Small(u16),
    Page(u8),
    Huge(u64),
    OverCap,
}

#[derive(Arbitrary, Debug, Clone, Copy)]
enum FlagSel {
    Known(u16),
    Raw(u32),
}

#[derive(Arbitrary, Debug, Clone, Copy)]
enum U32Sel {
    Known(u8),
    Raw(u32),
}

#[derive(Arbitrary, Debug, Clone, Copy)]
enum SizeSel {
    Exact,
    Min,
    Small(u8),
    LargerZero(u16),
    LargerNonZero(u16, u8),
    Huge(u32),
}

#[derive(Arbitrary, Debug, Clone, Copy)]
enum ChunkSel {
    Default,
    Small(u16),
    Pages(u8),
    Big,
    OverMax,
    Raw(u64),
}

#[derive(Arbitrary, Debug, Clone, Copy)]
enum ProgressSel {
    None,
    Continue,
    CancelAfter(u8),
}

#[derive(Arbitrary, Debug)]
enum OptsSel {
    Null,
    Some {
        size: SizeSel,
        method: U32Sel,
        flags: FlagSel,
        queue_depth: U32Sel,
        chunk: ChunkSel,
        engine: U32Sel,
        progress: ProgressSel,
    },
}

#[derive(Arbitrary, Debug)]
enum StatsSel {
    Null,
    Some(SizeSel),
}

#[derive(Arbitrary, Debug)]
struct InitSel {
    size: SizeSel,
    null: bool,
}

impl FlagSel {
    fn bits(self) -> u32 {
        match self {
            FlagSel::Known(b) => u32::from(b) & 0x3ff,
            FlagSel::Raw(b) => b,
        }
    }
}

impl U32Sel {
    fn value(self, known: u32) -> u32 {
        match self {
            U32Sel::Known(v) => u32::from(v) % known,
            U32Sel::Raw(v) => v,
        }
    }
}

impl SizeSel {
    /// The `size` field, the bytes the struct really has, and its tail pattern.
    fn layout(self, ours: usize, min: usize) -> (u32, usize, Option<(usize, u8)>) {
        match self {
            SizeSel::Exact => (ours as u32, ours, None),
            SizeSel::Min => (min as u32, min, None),
            SizeSel::Small(n) => {
                let n = usize::from(n) % min;
                (n as u32, n.max(4), None)
            }
            SizeSel::LargerZero(n) => {
                let n = ours + usize::from(n) % 5000;
                (n as u32, n, None)
            }
            SizeSel::LargerNonZero(n, b) => {
                let n = ours + 1 + usize::from(n) % 5000;
                (n as u32, n, Some((usize::from(b), b | 1)))
            }
            // zcio refuses any size over 4096 before reading past the size field, so
            // the buffer need not be as large as the claim.
            SizeSel::Huge(n) => (n, (n as usize).clamp(4, 8192), None),
        }
    }
}

impl OffSel {
    /// The offset, or None for a NULL pointer. `write` keeps it small or invalid.
    fn value(self, write: bool) -> Option<i64> {
        let v = match self {
            OffSel::Null => return None,
            OffSel::Zero => 0,
            OffSel::Small(n) => i64::from(n),
            OffSel::Mid(n) => i64::from(n) * 4096,
            OffSel::Neg(n) => -1 - i64::from(n.unsigned_abs()),
            OffSel::Min => i64::MIN,
            OffSel::Max => i64::MAX,
            OffSel::Huge(n) => (1i64 << 40) + i64::from(n),
        };
        // A write far out would make a huge sparse file that later copies walk; the
        // largest offset of all still gives the interesting EFBIG/EINVAL.
        if write && v > MAX_WRITE_OFF && v != i64::MAX {
            return Some(v % MAX_WRITE_OFF);
        }
        Some(v)
    }
}

impl LenSel {
    fn value(self) -> u64 {
        match self {
            LenSel::Zero => 0,
            LenSel::ToEof => ZC_TO_EOF,
            LenSel::Small(n) => u64::from(n),
            LenSel::Page(n) => u64::from(n) * 4096,
            LenSel::Huge(n) => n | (1 << 32),
            LenSel::OverCap => 0x7fff_f001,
        }
    }
}

// ---------------------------------------------------------------- environment

struct Env {
    /// Scratch roots: tmpfs first, then the temp directory's file system.
    roots: [PathBuf; 2],
    umask: u32,
}

static ENV: OnceLock<Env> = OnceLock::new();

/// Outcomes per kind of call, printed at exit when ZCIO_FUZZ_STATS is set: shows
/// whether the inputs reach successes, failures and the content checks.
static TALLY: std::sync::Mutex<std::collections::BTreeMap<String, [u64; 3]>> =
    std::sync::Mutex::new(std::collections::BTreeMap::new());

/// Counts a call's outcome: 0 success, 1 failure, 2 bytes checked.
fn tally(kind: &str, slot: usize) {
    if let Ok(mut t) = TALLY.lock() {
        t.entry(kind.to_string()).or_default()[slot] += 1;
    }
}

fn env() -> &'static Env {
    ENV.get_or_init(|| {
        let shm = std::env::var_os("ZCIO_FUZZ_SHM")
            .map(PathBuf::from)
            .unwrap_or_else(|| {
                let p = PathBuf::from("/dev/shm");
                if p.is_dir() && access_w(&p) {
                    p
                } else {
                    std::env::temp_dir()
                }
            });
        let disk = std::env::temp_dir();
        let pid = std::process::id();
        let roots = [shm, disk].map(|r| {
            remove_stale(&r);
            let d = r.join(format!("zcio-fuzz-{pid}"));
            let _ = std::fs::remove_dir_all(&d);
            std::fs::create_dir_all(&d).expect("scratch dir");
            d
        });
        // SAFETY: umask only sets the process mask; restored to a known value.
        unsafe { libc::umask(0o022) };
        // SAFETY: registers a plain extern "C" function.
        unsafe { libc::atexit(cleanup) };
        install_sigpipe_trap();
        // SAFETY: F_GETFD on a number only inspects it.
        assert!(
            unsafe { libc::fcntl(CLOSED_FD, libc::F_GETFD) } < 0,
            "fd {CLOSED_FD} must be closed"
        );
        Env {
            roots,
            umask: 0o022,
        }
    })
}

fn access_w(p: &Path) -> bool {
    let c = CString::new(p.as_os_str().as_bytes()).unwrap();
    // SAFETY: c is a valid C string.
    unsafe { libc::access(c.as_ptr(), libc::W_OK) == 0 }
}

/// Removes scratch directories of fuzzer processes that died without cleaning up.
fn remove_stale(root: &Path) {
    let Ok(rd) = std::fs::read_dir(root) else {
        return;
    };
    for e in rd.flatten() {
        let name = e.file_name();
        let Some(pid) = name
            .to_str()
            .and_then(|n| n.strip_prefix("zcio-fuzz-"))
            .and_then(|p| p.parse::<u32>().ok())
        else {
            continue;
        };
        if !Path::new(&format!("/proc/{pid}")).exists() {
            let _ = std::fs::remove_dir_all(e.path());
        }
    }
}

extern "C" fn cleanup() {
    if std::env::var_os("ZCIO_FUZZ_STATS").is_some()
        && let Ok(t) = TALLY.lock()
    {
        eprintln!(
            "{:<28} {:>9} {:>9} {:>9}",
            "call", "ok", "failed", "checked"
        );
        for (k, v) in t.iter() {
            eprintln!("{k:<28} {:>9} {:>9} {:>9}", v[0], v[1], v[2]);
        }
    }
    if let Some(e) = ENV.get() {
        for r in &e.roots {
            let _ = std::fs::remove_dir_all(r);
        }
    }
}

/// zcio promises SIGPIPE never reaches the caller: make one a crash libFuzzer saves.
fn install_sigpipe_trap() {
    extern "C" fn on_sigpipe(_: c_int) {
        const MSG: &[u8] = b"zcio-fuzz: SIGPIPE delivered to the caller\n";
        // SAFETY: write and abort are async-signal-safe.
        unsafe {
            libc::write(2, MSG.as_ptr().cast(), MSG.len());
            libc::abort();
        }
    }
    // SAFETY: installs a handler with an empty mask.
    unsafe {
        let mut sa: libc::sigaction = std::mem::zeroed();
        sa.sa_sigaction = on_sigpipe as extern "C" fn(c_int) as usize;
        libc::sigemptyset(&mut sa.sa_mask);
        libc::sigaction(libc::SIGPIPE, &sa, std::ptr::null_mut());
    }
}

fn errno_ptr() -> *mut c_int {
    // SAFETY: always valid for the calling thread.
    unsafe { libc::__errno_location() }
}

fn set_errno(v: c_int) {
    // SAFETY: see errno_ptr.
    unsafe { *errno_ptr() = v };
}

fn get_errno() -> c_int {
    // SAFETY: see errno_ptr.
    unsafe { *errno_ptr() }
}

fn check_code(what: &str, r: i64) {
    tally(what.split('(').next().unwrap_or(""), usize::from(r < 0));
    assert!(
        r >= 0 || (-4095..=-1).contains(&r),
        "{what}: result {r} is neither success nor -errno"
    );
    assert_ne!(
        r,
        -i64::from(libc::ENOTRECOVERABLE),
        "{what}: zcio caught a panic"
    );
}

fn check_errno_kept(what: &str) {
    let e = get_errno();
    assert_eq!(e, ERRNO_MARK, "{what}: errno changed to {e}");
}

/// The open descriptors; `detail` adds what each one is.
fn open_fds(detail: bool) -> Vec<(RawFd, String)> {
    let mut v: Vec<(RawFd, String)> = std::fs::read_dir("/proc/self/fd")
        .expect("/proc/self/fd")
        .flatten()
        .filter_map(|e| {
            let fd = e.file_name().to_str()?.parse().ok()?;
            let target = if detail {
                std::fs::read_link(e.path())
                    .map(|p| p.display().to_string())
                    .unwrap_or_default()
            } else {
                String::new()
            };
            Some((fd, target))
        })
        .collect();
    v.sort();
    v
}

// ---------------------------------------------------------------- the pool

/// Deterministic bytes, different for each seed.
fn pattern(seed: u32, len: usize) -> Vec<u8> {
    let mut x = seed.wrapping_mul(0x9e37_79b9) | 1;
    (0..len)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 17;
            x ^= x << 5;
            x as u8
        })
        .collect()
}

#[derive(Clone, Copy, Default, Debug)]
struct Entry {
    fd: c_int,
    /// Index of the shadow of a regular file (or memfd, /proc file) it is open on.
    file: Option<usize>,
    /// Identity of the object behind it, 0 for none: equal objects may feed themselves.
    obj: u32,
    /// Reading ends at end of file within a few KiB.
    finite: bool,
    /// A read may wait for a writer that never comes (pipe, socket, eventfd).
    blocks_read: bool,
    /// A pipe or socket: room for `BOUND` bytes, no more.
    stream_out: bool,
    append: bool,
}

/// The regular files descriptors can be opened on (by path, when first asked for).
#[derive(Clone, Copy, Debug, PartialEq)]
enum FileId {
    Data,
    Empty,
    Sparse,
    DstOld,
    DiskData,
    DiskDstOld,
    ProcVersion,
}

/// Files, descriptors and paths for one input. Descriptors are opened when an
/// operation first asks for them, and the files on the disk only when a path or
/// descriptor there is used: most inputs touch a few, and setting up all of them
/// would cost more than the calls.
struct Pool {
    dirs: [PathBuf; 2],
    disk_made: Cell<bool>,
    entries: RefCell<[Option<Entry>; FD_SELS]>,
    /// Read-only descriptors of the regular files, one per inode, to check contents
    /// and offsets. Per inode, not per path: a copy onto a path replaces the file, so
    /// a descriptor opened after it is on another file than one opened before.
    shadows: RefCell<Vec<((u64, u64), RawFd)>>,
    /// The other ends of pipes and sockets that zcio writes to, drained by us.
    drains: RefCell<Vec<RawFd>>,
    /// The pool's FIFO, open read-write: it is its own reader and writer, so opening
    /// it by path never blocks.
    fifo: Cell<RawFd>,
    /// Every descriptor the pool opened.
    keep: RefCell<Vec<OwnedFd>>,
}

fn cpath(p: &Path) -> CString {
    CString::new(p.as_os_str().as_bytes()).unwrap()
}

fn sys_open(p: &Path, flags: c_int) -> Option<OwnedFd> {
    let c = cpath(p);
    // SAFETY: valid C string; the result is a new descriptor or -1.
    let fd = unsafe { libc::open(c.as_ptr(), flags | libc::O_CLOEXEC, 0o644) };
    // SAFETY: fd is a fresh descriptor we own.
    (fd >= 0).then(|| unsafe { OwnedFd::from_raw_fd(fd) })
}

fn write_all(fd: RawFd, mut buf: &[u8]) {
    while !buf.is_empty() {
        // SAFETY: buf is valid for its length.
        let n = unsafe { libc::write(fd, buf.as_ptr().cast(), buf.len()) };
        assert!(n > 0, "harness write: {}", std::io::Error::last_os_error());
        buf = &buf[n as usize..];
    }
}

fn pipe_pair() -> (OwnedFd, OwnedFd) {
    let mut p = [0; 2];
    // SAFETY: p has room for two descriptors.
    let r = unsafe { libc::pipe2(p.as_mut_ptr(), libc::O_NONBLOCK | libc::O_CLOEXEC) };
    assert_eq!(r, 0, "pipe2");
    // SAFETY: fresh descriptors we own.
    let (r, w) = unsafe { (OwnedFd::from_raw_fd(p[0]), OwnedFd::from_raw_fd(p[1])) };
    // SAFETY: fcntl on our own pipe; failure only leaves the default size.
    unsafe { libc::fcntl(w.as_raw_fd(), libc::F_SETPIPE_SZ, 256 << 10) };
    (r, w)
}

/// Reads everything a non-blocking descriptor holds.
fn drain(fd: RawFd) -> Vec<u8> {
    let mut out = Vec::new();
    let mut buf = [0u8; 65536];
    loop {
        // SAFETY: buf is valid for its length.
        let n = unsafe { libc::read(fd, buf.as_mut_ptr().cast(), buf.len()) };
        if n <= 0 {
            return out;
        }
        out.extend_from_slice(&buf[..n as usize]);
    }
}

/// The whole content of a file through a descriptor, by pread.
fn read_at_all(fd: RawFd) -> Vec<u8> {
    let mut out = Vec::new();
    let mut buf = vec![0u8; 65536];
    loop {
        // SAFETY: buf is valid for its length.
        let n = unsafe {
            libc::pread(
                fd,
                buf.as_mut_ptr().cast(),
                buf.len(),
                out.len() as libc::off_t,
            )
        };
        if n <= 0 {
            return out;
        }
        out.extend_from_slice(&buf[..n as usize]);
    }
}

fn fd_pos(fd: RawFd) -> Option<i64> {
    // SAFETY: lseek only queries.
    let r = unsafe { libc::lseek(fd, 0, libc::SEEK_CUR) };
    (r >= 0).then_some(r)
}

fn fd_size(fd: RawFd) -> Option<i64> {
    // SAFETY: st is written by fstat.
    unsafe {
        let mut st: libc::stat = std::mem::zeroed();
        (libc::fstat(fd, &mut st) == 0).then_some(st.st_size)
    }
}

fn set_mode(p: &Path, mode: u32) {
    std::fs::set_permissions(p, std::fs::Permissions::from_mode(mode)).unwrap();
}

fn make_file(p: &Path, data: &[u8], mode: u32) {
    std::fs::write(p, data).expect("pool file");
    set_mode(p, mode);
}

impl Pool {
    fn new(input: &Input) -> Pool {
        let env = env();
        zcio::testing::force_named_temp(input.named_temp);
        let dirs = env.roots.clone().map(|r| r.join("w"));
        for d in &dirs {
            if d.exists() {
                std::fs::remove_dir_all(d).expect("clean work dir");
            }
        }
        let shm = &dirs[0];
        std::fs::create_dir(shm).expect("work dir");
        make_file(&shm.join("data"), &pattern(1, input.data_len.into()), 0o640);
        make_file(&shm.join("small"), &pattern(2, 100), 0o604);
        make_file(&shm.join("empty"), b"", 0o644);
        make_file(&shm.join("dst_old"), &pattern(3, 3000), 0o600);
        {
            // Data, a hole, data with an unaligned end, a trailing hole.
            use std::os::unix::fs::FileExt;
            let f = std::fs::File::create(shm.join("sparse")).unwrap();
            f.write_all_at(&pattern(6, 4096), 0).unwrap();
            f.write_all_at(&pattern(7, 5000), 40960).unwrap();
            f.set_len(65536).unwrap();
            set_mode(&shm.join("sparse"), 0o600);
        }
        std::fs::hard_link(shm.join("data"), shm.join("hard")).unwrap();
        std::os::unix::fs::symlink(shm.join("data"), shm.join("link_data")).unwrap();
        std::os::unix::fs::symlink("dst_old", shm.join("link_dst")).unwrap();
        std::os::unix::fs::symlink("nowhere", shm.join("dangling")).unwrap();
        std::os::unix::fs::symlink("loop", shm.join("loop")).unwrap();
        std::fs::create_dir(shm.join("dir")).unwrap();
        std::fs::write(shm.join("dir/inside"), b"x").unwrap();
        let fifo = cpath(&shm.join("fifo"));
        // SAFETY: valid C string.
        assert_eq!(unsafe { libc::mkfifo(fifo.as_ptr(), 0o644) }, 0, "mkfifo");
        Pool {
            dirs,
            disk_made: Cell::new(false),
            entries: RefCell::new([None; FD_SELS]),
            shadows: RefCell::new(Vec::new()),
            drains: RefCell::new(Vec::new()),
            fifo: Cell::new(-1),
            keep: RefCell::new(Vec::new()),
        }
    }

    /// The files on the temp directory's file system, made on first use.
    fn disk(&self) -> &Path {
        let disk = &self.dirs[1];
        if !self.disk_made.replace(true) {
            std::fs::create_dir(disk).expect("disk work dir");
            make_file(&disk.join("data"), &pattern(4, 9000), 0o664);
            make_file(&disk.join("dst_old"), &pattern(5, 5000), 0o640);
            std::os::unix::fs::symlink(self.dirs[0].join("data"), disk.join("link_shm_data"))
                .unwrap();
        }
        disk
    }

    /// The index of the shadow of the file open on `fd`, opened through /proc so
    /// that it is the very same inode.
    fn shadow_of(&self, fd: RawFd) -> usize {
        // SAFETY: st is written by fstat.
        let st = unsafe {
            let mut st: libc::stat = std::mem::zeroed();
            assert_eq!(libc::fstat(fd, &mut st), 0, "fstat");
            st
        };
        let key = (st.st_dev, st.st_ino);
        if let Some(i) = self.shadows.borrow().iter().position(|(k, _)| *k == key) {
            return i;
        }
        let s = sys_open(Path::new(&format!("/proc/self/fd/{fd}")), libc::O_RDONLY)
            .expect("shadow open");
        let s = self.hold(s);
        let mut v = self.shadows.borrow_mut();
        v.push((key, s));
        assert!(v.len() < 100, "object numbers of files must stay under 100");
        v.len() - 1
    }

    fn hold(&self, fd: OwnedFd) -> RawFd {
        let raw = fd.as_raw_fd();
        self.keep.borrow_mut().push(fd);
        raw
    }

    fn file_path(&self, f: FileId) -> PathBuf {
        match f {
            FileId::Data => self.dirs[0].join("data"),
            FileId::Empty => self.dirs[0].join("empty"),
            FileId::Sparse => self.dirs[0].join("sparse"),
            FileId::DstOld => self.dirs[0].join("dst_old"),
            FileId::DiskData => self.disk().join("data"),
            FileId::DiskDstOld => self.disk().join("dst_old"),
            FileId::ProcVersion => PathBuf::from("/proc/version"),
        }
    }

    /// A descriptor on a regular file, with its shadow; None when the open is
    /// refused (O_DIRECT on a file system without it).
    fn file_entry(&self, f: FileId, flags: c_int) -> Option<Entry> {
        let fd = self.hold(sys_open(&self.file_path(f), flags)?);
        let shadow = self.shadow_of(fd);
        Some(Entry {
            fd,
            file: Some(shadow),
            obj: shadow as u32 + 1,
            finite: true,
            append: flags & libc::O_APPEND != 0,
            ..Entry::default()
        })
    }

    fn e(&self, s: FdSel) -> Entry {
        if let Some(e) = self.entries.borrow()[s as usize] {
            return e;
        }
        let e = self.open_entry(s);
        self.entries.borrow_mut()[s as usize] = Some(e);
        e
    }

    fn open_entry(&self, s: FdSel) -> Entry {
        let closed = Entry {
            fd: CLOSED_FD,
            ..Entry::default()
        };
        let obj = 100 + s as u32;
        // Streams, all non-blocking.
        let stream = |fd: RawFd, finite: bool, blocks_read: bool| Entry {
            fd,
            obj,
            finite,
            blocks_read,
            stream_out: true,
            ..Entry::default()
        };
        let file = |f, flags| self.file_entry(f, flags).unwrap_or(closed);
        match s {
            FdSel::DataRo => file(FileId::Data, libc::O_RDONLY),
            FdSel::DataWo => file(FileId::Data, libc::O_WRONLY),
            FdSel::DataRw => file(FileId::Data, libc::O_RDWR),
            FdSel::DataAppend => file(FileId::Data, libc::O_WRONLY | libc::O_APPEND),
            FdSel::DataRwAppend => file(FileId::Data, libc::O_RDWR | libc::O_APPEND),
            FdSel::DataDirectRw => file(FileId::Data, libc::O_RDWR | libc::O_DIRECT),
            FdSel::DataDirectRo => file(FileId::Data, libc::O_RDONLY | libc::O_DIRECT),
            FdSel::Empty => file(FileId::Empty, libc::O_RDWR),
            FdSel::SparseRw => file(FileId::Sparse, libc::O_RDWR),
            FdSel::DstRw => file(FileId::DstOld, libc::O_RDWR),
            FdSel::DiskDataRo => file(FileId::DiskData, libc::O_RDONLY),
            FdSel::DiskDstRw => file(FileId::DiskDstOld, libc::O_RDWR),
            FdSel::DiskDirectRw => file(FileId::DiskDstOld, libc::O_RDWR | libc::O_DIRECT),
            FdSel::ProcVersion => file(FileId::ProcVersion, libc::O_RDONLY),
            FdSel::Memfd => {
                // SAFETY: valid name; a new descriptor or -1.
                let fd = unsafe { libc::memfd_create(c"zcio-fuzz".as_ptr(), libc::MFD_CLOEXEC) };
                assert!(fd >= 0, "memfd_create");
                // SAFETY: fresh descriptor we own.
                let fd = self.hold(unsafe { OwnedFd::from_raw_fd(fd) });
                write_all(fd, &pattern(8, 3000));
                // SAFETY: lseek on our descriptor.
                unsafe { libc::lseek(fd, 0, libc::SEEK_SET) };
                let shadow = self.shadow_of(fd);
                Entry {
                    fd,
                    file: Some(shadow),
                    obj: shadow as u32 + 1,
                    finite: true,
                    ..Entry::default()
                }
            }
            FdSel::OPath => {
                let fd = sys_open(&self.dirs[0].join("data"), libc::O_PATH).expect("O_PATH");
                Entry {
                    fd: self.hold(fd),
                    obj,
                    finite: true,
                    ..Entry::default()
                }
            }
            FdSel::PipeR => {
                // Prefilled, writer kept open: data, then EAGAIN.
                let (r, w) = pipe_pair();
                write_all(w.as_raw_fd(), &pattern(9, 3000));
                self.hold(w);
                stream(self.hold(r), false, true)
            }
            FdSel::PipeW => {
                // Written by zcio, drained by us after each operation.
                let (r, w) = pipe_pair();
                self.drains.borrow_mut().push(self.hold(r));
                stream(self.hold(w), false, true)
            }
            FdSel::PipeREof => {
                // Prefilled, writer gone: data, then end of file.
                let (r, w) = pipe_pair();
                write_all(w.as_raw_fd(), &pattern(10, 3000));
                drop(w);
                stream(self.hold(r), true, false)
            }
            FdSel::PipeWBroken => {
                // Reader gone: EPIPE, and a SIGPIPE zcio must keep to itself.
                let (r, w) = pipe_pair();
                drop(r);
                stream(self.hold(w), true, false)
            }
            FdSel::FifoRw => {
                let fd = sys_open(&self.dirs[0].join("fifo"), libc::O_RDWR | libc::O_NONBLOCK)
                    .expect("fifo open");
                let fd = self.hold(fd);
                // SAFETY: fcntl on our FIFO; failure leaves the default size.
                unsafe { libc::fcntl(fd, libc::F_SETPIPE_SZ, 1 << 20) };
                self.fifo.set(fd);
                stream(fd, false, true)
            }
            FdSel::Sock => {
                let mut sv = [0; 2];
                // SAFETY: sv has room for two descriptors.
                let r = unsafe {
                    libc::socketpair(
                        libc::AF_UNIX,
                        libc::SOCK_STREAM | libc::SOCK_NONBLOCK | libc::SOCK_CLOEXEC,
                        0,
                        sv.as_mut_ptr(),
                    )
                };
                assert_eq!(r, 0, "socketpair");
                // SAFETY: fresh descriptors we own.
                let (a, b) = unsafe { (OwnedFd::from_raw_fd(sv[0]), OwnedFd::from_raw_fd(sv[1])) };
                write_all(b.as_raw_fd(), &pattern(11, 3000));
                self.drains.borrow_mut().push(self.hold(b));
                stream(self.hold(a), false, true)
            }
            FdSel::EventFd => {
                // SAFETY: a new descriptor or -1.
                let fd = unsafe { libc::eventfd(1, libc::EFD_NONBLOCK | libc::EFD_CLOEXEC) };
                assert!(fd >= 0, "eventfd");
                Entry {
                    // SAFETY: fresh descriptor we own.
                    fd: self.hold(unsafe { OwnedFd::from_raw_fd(fd) }),
                    obj,
                    blocks_read: true,
                    ..Entry::default()
                }
            }
            FdSel::DevNull | FdSel::DevZero | FdSel::DevFull => {
                let (path, finite) = match s {
                    FdSel::DevNull => ("/dev/null", true),
                    FdSel::DevZero => ("/dev/zero", false),
                    _ => ("/dev/full", false),
                };
                let fd = sys_open(Path::new(path), libc::O_RDWR).expect(path);
                Entry {
                    fd: self.hold(fd),
                    obj,
                    finite,
                    ..Entry::default()
                }
            }
            FdSel::Dir => {
                let fd =
                    sys_open(&self.dirs[0], libc::O_RDONLY | libc::O_DIRECTORY).expect("dir open");
                Entry {
                    fd: self.hold(fd),
                    obj,
                    finite: true,
                    ..Entry::default()
                }
            }
            FdSel::Closed => closed,
            FdSel::Minus1 => Entry {
                fd: -1,
                ..Entry::default()
            },
            FdSel::IntMin => Entry {
                fd: c_int::MIN,
                ..Entry::default()
            },
        }
    }

    /// Empties every stream zcio may have written to, so the next call has room;
    /// returns what the FIFO held.
    fn drain_outputs(&self) -> Vec<u8> {
        for &d in self.drains.borrow().iter() {
            drain(d);
        }
        match self.fifo.get() {
            -1 => Vec::new(),
            f => drain(f),
        }
    }

    fn snapshot(&self, e: Entry) -> Option<Vec<u8>> {
        let s = self.shadows.borrow()[e.file?].1;
        Some(read_at_all(s))
    }

    /// Closes every descriptor of the pool; zcio must not have closed any of them.
    fn close(self) {
        for fd in self.keep.into_inner() {
            let raw = fd.into_raw_fd();
            // SAFETY: our descriptor, closed once.
            let r = unsafe { libc::close(raw) };
            assert_eq!(r, 0, "fd {raw} of the pool was closed behind our back");
        }
    }

    fn path(&self, s: PathSel) -> Option<CString> {
        let shm = &self.dirs[0];
        let p = |b: PathBuf| Some(cpath(&b));
        match s {
            PathSel::Data => p(shm.join("data")),
            PathSel::Small => p(shm.join("small")),
            PathSel::Empty => p(shm.join("empty")),
            PathSel::Sparse => p(shm.join("sparse")),
            PathSel::DstOld => p(shm.join("dst_old")),
            PathSel::DstNew => p(shm.join("dst_new")),
            PathSel::Hard => p(shm.join("hard")),
            PathSel::LinkData => p(shm.join("link_data")),
            PathSel::LinkDst => p(shm.join("link_dst")),
            PathSel::Dangling => p(shm.join("dangling")),
            PathSel::Loop => p(shm.join("loop")),
            PathSel::Dir => p(shm.join("dir")),
            PathSel::DirSlash => Some(CString::new(format!("{}/dir/", shm.display())).unwrap()),
            PathSel::DataSlash => Some(CString::new(format!("{}/data/", shm.display())).unwrap()),
            PathSel::MissingDir => p(shm.join("nodir/x")),
            PathSel::Fifo => {
                // Opened read-write by the pool first, so that zcio's open finds a reader.
                self.e(FdSel::FifoRw);
                p(shm.join("fifo"))
            }
            PathSel::DevNull => Some(c"/dev/null".into()),
            PathSel::DevFull => Some(c"/dev/full".into()),
            PathSel::ProcVersion => Some(c"/proc/version".into()),
            PathSel::NonUtf8New => {
                let mut b = shm.join("new").into_os_string().into_vec();
                b.extend_from_slice(b"\xff\xfe");
                Some(CString::new(b).unwrap())
            }
            PathSel::DiskData => p(self.disk().join("data")),
            PathSel::DiskDstOld => p(self.disk().join("dst_old")),
            PathSel::DiskDstNew => p(self.disk().join("dst_new")),
            PathSel::DiskLinkShmData => p(self.disk().join("link_shm_data")),
            PathSel::EmptyStr => Some(c"".into()),
            PathSel::Root => Some(c"/".into()),
            PathSel::Null => None,
        }
    }

    /// No temporary file of zcio's may outlive a call.
    fn check_no_temp(&self, what: &str) {
        let shm = &self.dirs[0];
        let mut dirs = vec![shm.clone(), shm.join("dir")];
        if self.disk_made.get() {
            dirs.push(self.dirs[1].clone());
        }
        for dir in dirs {
            let Ok(rd) = std::fs::read_dir(&dir) else {
                continue;
            };
            for e in rd.flatten() {
                let n = e.file_name();
                let n = n.as_bytes();
                assert!(
                    !(n.starts_with(b".zcio-") && n.ends_with(b".tmp")),
                    "{what}: temporary file {} left behind",
                    e.path().display()
                );
            }
        }
    }
}

// ---------------------------------------------------------------- structs

/// A buffer of exactly `len` bytes (rounded up to 8, so it is aligned for the
/// struct), with canary bytes after it.
struct Buf {
    words: Vec<u64>,
    len: usize,
}

const CANARY_LEN: usize = 64;

impl Buf {
    fn new(len: usize) -> Buf {
        let words = vec![u64::from_ne_bytes([CANARY; 8]); (len + CANARY_LEN).div_ceil(8)];
        let mut b = Buf { words, len };
        b.bytes_mut()[..len].fill(0);
        b
    }
    fn bytes_mut(&mut self) -> &mut [u8] {
        let n = self.words.len() * 8;
        // SAFETY: the Vec<u64> owns n initialised bytes.
        unsafe { std::slice::from_raw_parts_mut(self.words.as_mut_ptr().cast(), n) }
    }
    fn bytes(&self) -> &[u8] {
        let n = self.words.len() * 8;
        // SAFETY: as above.
        unsafe { std::slice::from_raw_parts(self.words.as_ptr().cast(), n) }
    }
    fn ptr(&mut self) -> *mut u8 {
        self.words.as_mut_ptr().cast()
    }
    fn check_canary(&self, what: &str) {
        assert!(
            self.bytes()[self.len..].iter().all(|&b| b == CANARY),
            "{what}: bytes written past the struct's size {}",
            self.len
        );
    }
}

/// What the progress callback saw.
struct Progress {
    cancel_after: Option<u32>,
    calls: u32,
    last_done: u64,
    stopped: bool,
    thread: libc::pthread_t,
    bad: Option<String>,
}

extern "C" fn progress_cb(done: u64, total: u64, arg: *mut c_void) -> c_int {
    // SAFETY: arg is the &mut Progress given with this callback, alive for the call.
    let p = unsafe { &mut *arg.cast::<Progress>() };
    let bad = if p.stopped {
        Some(format!("called again after a stop ({done}/{total})"))
    } else if done < p.last_done {
        Some(format!("done went back from {} to {done}", p.last_done))
    } else if total != 0 && done > total {
        Some(format!("done {done} > total {total}"))
    } else if
    // SAFETY: pthread_self has no preconditions.
    unsafe { libc::pthread_equal(libc::pthread_self(), p.thread) } == 0 {
        Some("called on another thread".into())
    } else {
        None
    };
    if p.bad.is_none() {
        p.bad = bad;
    }
    p.last_done = done;
    p.calls += 1;
    match p.cancel_after {
        Some(n) if p.calls > n => {
            p.stopped = true;
            1
        }
        _ => 0,
    }
}

/// A `zc_options` as the input describes it, laid out in a buffer of its `size`.
struct Opts {
    buf: Option<Buf>,
    flags: u32,
    /// Whether zcio may take these options: anything else must fail before acting.
    valid_size: bool,
    progress: Option<Box<Progress>>,
}

/// Whether a caller struct with this `size` and tail is one zcio accepts.
fn size_ok(size: u32, tail: Option<(usize, u8)>, ours: usize, min: usize) -> bool {
    let s = size as usize;
    s >= min && s <= 4096 && (s <= ours || tail.is_none())
}

fn build_opts(sel: &OptsSel) -> Opts {
    let OptsSel::Some {
        size,
        method,
        flags,
        queue_depth,
        chunk,
        engine,
        progress,
    } = sel
    else {
        return Opts {
            buf: None,
            flags: 0,
            valid_size: true,
            progress: None,
        };
    };
    let (sz, len, tail) = size.layout(OPTS_SIZE, OPTS_MIN);
    let mut prog = match progress {
        ProgressSel::None => None,
        ProgressSel::Continue => Some(None),
        ProgressSel::CancelAfter(n) => Some(Some(u32::from(*n % 4))),
    }
    .map(|cancel_after| {
        Box::new(Progress {
            cancel_after,
            calls: 0,
            last_done: 0,
            stopped: false,
            // SAFETY: no preconditions.
            thread: unsafe { libc::pthread_self() },
            bad: None,
        })
    });
    let o = zc_options {
        size: sz,
        method: method.value(ZC_METHOD_COUNT + 1),
        flags: flags.bits(),
        queue_depth: match queue_depth {
            U32Sel::Known(n) => u32::from(*n % 20),
            U32Sel::Raw(v) => *v,
        },
        chunk_size: match chunk {
            ChunkSel::Default => 0,
            ChunkSel::Small(n) => u64::from(*n),
            ChunkSel::Pages(n) => u64::from(*n) * 4096,
            ChunkSel::Big => BIG_CHUNK,
            ChunkSel::OverMax => BIG_CHUNK + 4096,
            ChunkSel::Raw(v) => *v,
        },
        progress: prog
            .as_ref()
            .map(|_| progress_cb as unsafe extern "C" fn(u64, u64, *mut c_void) -> c_int),
        progress_arg: prog
            .as_mut()
            .map_or(std::ptr::null_mut(), |p| (&raw mut **p).cast()),
        engine: engine.value(4),
    };
    let mut buf = Buf::new(len);
    // SAFETY: plain-data struct viewed as bytes.
    let raw = unsafe {
        std::slice::from_raw_parts(
            (&raw const o).cast::<u8>(),
            std::mem::size_of::<zc_options>(),
        )
    };
    let n = len.min(OPTS_SIZE);
    buf.bytes_mut()[..n].copy_from_slice(&raw[..n]);
    if len >= 4 {
        buf.bytes_mut()[..4].copy_from_slice(&sz.to_ne_bytes());
    }
    if let Some((at, b)) = tail {
        let tail_len = len - OPTS_SIZE;
        buf.bytes_mut()[OPTS_SIZE + at % tail_len] = b;
    }
    Opts {
        buf: Some(buf),
        flags: o.flags,
        valid_size: size_ok(sz, tail, OPTS_SIZE, OPTS_MIN),
        progress: prog,
    }
}

struct StatsBuf {
    buf: Option<Buf>,
    size: u32,
    valid: bool,
}

fn build_stats(sel: &StatsSel) -> StatsBuf {
    match sel {
        StatsSel::Null => StatsBuf {
            buf: None,
            size: 0,
            valid: true,
        },
        StatsSel::Some(s) => {
            let (sz, len, tail) = s.layout(STATS_SIZE, STATS_MIN);
            let mut buf = Buf::new(len);
            buf.bytes_mut()[..4].copy_from_slice(&sz.to_ne_bytes());
            // Garbage in the fields zcio fills, so that a missed write shows.
            for b in &mut buf.bytes_mut()[4..len.min(STATS_SIZE)] {
                *b = 0xee;
            }
            if let Some((at, b)) = tail {
                let tail_len = len - STATS_SIZE;
                buf.bytes_mut()[STATS_SIZE + at % tail_len] = b;
            }
            StatsBuf {
                buf: Some(buf),
                size: sz,
                valid: size_ok(sz, tail, STATS_SIZE, STATS_MIN),
            }
        }
    }
}

impl StatsBuf {
    fn ptr(&mut self) -> *mut zc_stats {
        self.buf
            .as_mut()
            .map_or(std::ptr::null_mut(), |b| b.ptr().cast())
    }

    /// The stats zcio wrote, when the struct was complete enough to hold them.
    fn read(&self) -> Option<zc_stats> {
        let b = self.buf.as_ref()?;
        if !self.valid || b.len < STATS_SIZE {
            return None;
        }
        // SAFETY: at least STATS_SIZE initialised bytes, aligned.
        Some(unsafe { b.words.as_ptr().cast::<zc_stats>().read() })
    }

    fn check(&self, what: &str, ok: bool) {
        let Some(b) = &self.buf else { return };
        b.check_canary(what);
        let size = u32::from_ne_bytes(b.bytes()[..4].try_into().unwrap());
        assert_eq!(size, self.size, "{what}: stats size field changed");
        if !self.valid {
            // Refused before anything ran: nothing written.
            assert!(
                b.bytes()[4..b.len.min(STATS_SIZE)]
                    .iter()
                    .all(|&x| x == 0xee),
                "{what}: a refused stats struct was written"
            );
            return;
        }
        if b.len < STATS_SIZE {
            return;
        }
        let s = self.read().unwrap();
        assert!(
            s.method < ZC_METHOD_COUNT,
            "{what}: stats.method {}",
            s.method
        );
        assert!(
            s.engine <= ZC_ENGINE_IO_URING,
            "{what}: stats.engine {}",
            s.engine
        );
        assert!(
            s.failed_step <= ZC_STEP_RESOURCE,
            "{what}: stats.failed_step {}",
            s.failed_step
        );
        assert!(
            s.fallbacks < 1 << ZC_METHOD_COUNT,
            "{what}: stats.fallbacks {:#x}",
            s.fallbacks
        );
        if ok {
            assert_eq!(
                s.failed_step, ZC_STEP_NONE,
                "{what}: failed_step on success"
            );
        } else {
            assert_ne!(
                s.failed_step, ZC_STEP_NONE,
                "{what}: no failed_step on failure"
            );
        }
    }
}

// ---------------------------------------------------------------- path copies

/// What a path looked like before a call.
#[derive(Debug)]
struct PathState {
    /// lstat succeeded.
    exists: bool,
    /// stat (following links): (dev, ino, mode, kind).
    target: Option<(u64, u64, u32, u32)>,
    /// Content of a regular file (following links).
    content: Option<Vec<u8>>,
    is_link: bool,
}

fn path_state(p: Option<&CString>) -> PathState {
    let Some(c) = p else {
        return PathState {
            exists: false,
            target: None,
            content: None,
            is_link: false,
        };
    };
    let path = Path::new(std::ffi::OsStr::from_bytes(c.as_bytes()));
    let l = std::fs::symlink_metadata(path).ok();
    let m = std::fs::metadata(path).ok();
    let content = m
        .as_ref()
        .filter(|m| m.is_file())
        .and_then(|_| std::fs::read(path).ok());
    PathState {
        exists: l.is_some(),
        target: m.map(|m| (m.dev(), m.ino(), m.mode() & 0o7777, m.mode() & libc::S_IFMT)),
        content,
        is_link: l.is_some_and(|l| l.file_type().is_symlink()),
    }
}

fn same_target(a: &PathState, b: &PathState) -> bool {
    matches!((a.target, b.target), (Some(x), Some(y)) if (x.0, x.1) == (y.0, y.1))
}

fn mtime(c: &CString) -> Option<(i64, i64)> {
    let m = std::fs::metadata(std::ffi::OsStr::from_bytes(c.as_bytes())).ok()?;
    Some((m.mtime(), m.mtime_nsec()))
}

fn run_path(pool: &Pool, func: PathFn, src: PathSel, dst: PathSel, os: &OptsSel, ss: &StatsSel) {
    // Sources that never end or block waiting for a writer; /proc is no destination.
    if matches!(src, PathSel::Fifo | PathSel::DevFull) || dst == PathSel::ProcVersion {
        return;
    }
    let sp = pool.path(src);
    let dp = pool.path(dst);
    let before_src = path_state(sp.as_ref());
    let before_dst = path_state(dp.as_ref());
    if dst == PathSel::Fifo {
        // The FIFO has room for one source, not more (/dev/null reads as nothing).
        // SAFETY: F_GETPIPE_SZ only queries the pool's FIFO.
        let cap = unsafe { libc::fcntl(pool.fifo.get(), libc::F_GETPIPE_SZ) }.max(0) as usize;
        if before_src.content.as_ref().map_or(0, Vec::len) >= cap {
            return;
        }
    }
    pool.drain_outputs();
    let mut opts = build_opts(os);
    let mut stats = build_stats(ss);
    let opts_copy = opts.buf.as_ref().map(|b| b.bytes().to_vec());
    let optp: *const zc_options = opts
        .buf
        .as_mut()
        .map_or(std::ptr::null(), |b| b.ptr().cast_const().cast());
    let statp = stats.ptr();
    let cp = |c: &Option<CString>| c.as_ref().map_or(std::ptr::null(), |c| c.as_ptr());
    let what = format!("{func:?}({src:?}, {dst:?}, {os:?}, {ss:?})");
    set_errno(ERRNO_MARK);
    // SAFETY: paths are NULL or C strings; options and stats are NULL or buffers of
    // at least their size (see SizeSel::layout for the oversized claims).
    let r = unsafe {
        match func {
            PathFn::CopyFile => zc_copy_file(cp(&sp), cp(&dp), optp, statp),
            PathFn::SpliceFile => zc_splice_file(cp(&sp), cp(&dp), optp, statp),
            PathFn::DirectioCopy => directio_copy(cp(&sp), cp(&dp), optp, statp),
        }
    };
    check_errno_kept(&what);
    check_code(&what, r.into());
    if let (Some(b), Some(c)) = (&opts.buf, &opts_copy) {
        assert_eq!(b.bytes(), &c[..], "{what}: options written");
    }
    stats.check(&what, r == 0);
    let prog = opts.progress.take();
    if let Some(p) = &prog {
        assert!(p.bad.is_none(), "{what}: progress callback: {:?}", p.bad);
    }
    let stopped = prog.as_ref().is_some_and(|p| p.stopped);
    assert!(
        stopped == (r == -libc::ECANCELED),
        "{what}: callback stopped: {stopped}, result {r}"
    );
    let fifo_got = pool.drain_outputs();
    let mode = match func {
        PathFn::DirectioCopy => 0o644,
        _ => before_src.target.map_or(0, |t| t.2 & 0o777),
    };
    check_path_result(
        pool,
        &what,
        r,
        PathCheck {
            flags: if opts.valid_size { opts.flags } else { 0 },
            new_mode: mode,
            sp: sp.as_ref(),
            dp: dp.as_ref(),
            before_src: &before_src,
            before_dst: &before_dst,
            fifo_got: &fifo_got,
            stats: stats.read(),
        },
    );
}

struct PathCheck<'a> {
    flags: u32,
    new_mode: u32,
    sp: Option<&'a CString>,
    dp: Option<&'a CString>,
    before_src: &'a PathState,
    before_dst: &'a PathState,
    fifo_got: &'a [u8],
    stats: Option<zc_stats>,
}

fn check_path_result(pool: &Pool, what: &str, r: c_int, c: PathCheck<'_>) {
    pool.check_no_temp(what);
    let after_src = path_state(c.sp);
    let after_dst = path_state(c.dp);
    let is_proc = c.sp.is_some_and(|p| p.as_bytes().starts_with(b"/proc/"));
    if !is_proc {
        assert_eq!(
            after_src.content, c.before_src.content,
            "{what}: source changed"
        );
    }
    let in_place = c.flags & ZC_F_IN_PLACE != 0;
    if r != 0 {
        assert_eq!(
            after_dst.exists,
            c.before_dst.exists || in_place && after_dst.exists,
            "{what}: a failed copy changed whether the destination exists"
        );
        if !in_place {
            assert_eq!(
                after_dst.content, c.before_dst.content,
                "{what}: a failed copy ({r}) changed the destination"
            );
            assert_eq!(
                after_dst.target.map(|t| (t.1, t.2)),
                c.before_dst.target.map(|t| (t.1, t.2)),
                "{what}: a failed copy replaced the destination or its mode"
            );
        }
        return;
    }
    assert!(
        !same_target(c.before_src, c.before_dst),
        "{what}: copied a file onto itself"
    );
    assert!(
        !(c.flags & ZC_F_EXCL != 0 && c.before_dst.exists),
        "{what}: ZC_F_EXCL but the destination existed"
    );
    assert!(
        !(c.flags & ZC_F_NOFOLLOW != 0 && c.before_dst.is_link),
        "{what}: ZC_F_NOFOLLOW but the destination is a symlink"
    );
    let src = c
        .before_src
        .content
        .clone()
        .or_else(|| {
            // A character device source (/dev/null) reads as empty here.
            c.before_src
                .target
                .filter(|t| t.3 == libc::S_IFCHR)
                .map(|_| Vec::new())
        })
        .unwrap_or_else(|| panic!("{what}: success from a source that is not a file"));
    match after_dst.target.map(|t| t.3) {
        Some(libc::S_IFREG) => {
            tally(what.split('(').next().unwrap_or(""), 2);
            let got = after_dst.content.as_ref().unwrap();
            if *got != src {
                panic!(
                    "{what}: destination differs: {} bytes, source {} bytes, first difference at {:?}",
                    got.len(),
                    src.len(),
                    got.iter().zip(&src).position(|(a, b)| a != b)
                );
            }
            let mode = after_dst.target.unwrap().2;
            match c.before_dst.target {
                Some((_, _, m, libc::S_IFREG)) => {
                    assert_eq!(mode, m, "{what}: an existing destination's mode changed")
                }
                _ => assert_eq!(
                    mode,
                    c.new_mode & !env().umask,
                    "{what}: a new destination's mode"
                ),
            }
            if c.flags & ZC_F_PRESERVE_TIMES != 0 && !is_proc {
                let (s, d) = (mtime(c.sp.unwrap()), mtime(c.dp.unwrap()));
                assert_eq!(s, d, "{what}: times not preserved");
            }
            if let Some(s) = c.stats {
                assert!(
                    s.bytes <= src.len() as u64,
                    "{what}: stats.bytes {} > source size {}",
                    s.bytes,
                    src.len()
                );
            }
        }
        Some(libc::S_IFIFO) => {
            assert_eq!(c.fifo_got, &src[..], "{what}: FIFO got other bytes");
        }
        Some(libc::S_IFCHR) => {}
        other => panic!("{what}: success, destination is now {other:?}"),
    }
}

fn run_directio_compat(pool: &Pool, src: PathSel, dst: PathSel) {
    if matches!(src, PathSel::Fifo | PathSel::DevFull) || dst == PathSel::ProcVersion {
        return;
    }
    let sp = pool.path(src);
    let dp = pool.path(dst);
    let before_src = path_state(sp.as_ref());
    let before_dst = path_state(dp.as_ref());
    let cp = |c: &Option<CString>| c.as_ref().map_or(std::ptr::null(), |c| c.as_ptr());
    let what = format!("directIO_copy({src:?}, {dst:?})");
    set_errno(ERRNO_MARK);
    // SAFETY: NULL or C strings.
    let ok = unsafe { directIO_copy(cp(&sp), cp(&dp)) };
    let e = get_errno();
    tally("directIO_copy", usize::from(!ok));
    if ok {
        assert_eq!(e, ERRNO_MARK, "{what}: errno changed on success");
    } else {
        assert!(
            (1..=4095).contains(&e) && e != libc::ENOTRECOVERABLE,
            "{what}: errno {e}"
        );
    }
    let fifo_got = pool.drain_outputs();
    check_path_result(
        pool,
        &what,
        if ok { 0 } else { -e },
        PathCheck {
            flags: 0,
            new_mode: 0o644,
            sp: sp.as_ref(),
            dp: dp.as_ref(),
            before_src: &before_src,
            before_dst: &before_dst,
            fifo_got: &fifo_got,
            stats: None,
        },
    );
}

// ---------------------------------------------------------------- descriptor calls

#[derive(Clone, Copy, Debug, PartialEq)]
enum FdFn {
    Sendfile,
    Splice,
    CopyFileRange,
    Mmap,
}

struct FdCall {
    func: FdFn,
    inp: FdSel,
    in_off: OffSel,
    out: FdSel,
    out_off: OffSel,
    len: LenSel,
    flags: FlagSel,
}

fn run_fd(pool: &Pool, c: FdCall) {
    let (ie, oe) = (pool.e(c.inp), pool.e(c.out));
    let mut flags = c.flags.bits();
    let mut len = c.len.value();
    if ie.blocks_read {
        // Without it zcio would wait for data no one sends.
        flags |= ZC_F_NONBLOCK;
    }
    if !ie.finite || (ie.obj != 0 && ie.obj == oe.obj) || oe.stream_out {
        len = len.min(BOUND);
    }
    if c.out == FdSel::EventFd && !matches!(c.inp, FdSel::DevZero | FdSel::DevNull | FdSel::Empty) {
        // Any non-zero count can overflow it, and zcio waits for room forever.
        return;
    }
    let in_off = c.in_off.value(false);
    // sendfile and mmap write at the descriptor's own offset.
    let out_off = match c.func {
        FdFn::Splice | FdFn::CopyFileRange => c.out_off.value(true),
        _ => None,
    };
    let what = format!(
        "{:?}(in {:?} @ {in_off:?}, out {:?} @ {out_off:?}, len {len:#x}, flags {flags:#x})",
        c.func, c.inp, c.out
    );

    // Where the data should come from and go, for regular files.
    let snap = pool.snapshot(ie);
    let in_pos0 = fd_pos(ie.fd);
    let out_pos0 = fd_pos(oe.fd);
    let out_size0 = fd_size(oe.fd);
    let in_start = in_off.or(in_pos0);
    let out_start = if oe.append {
        out_size0
    } else {
        out_off.or(out_pos0)
    };

    let mut io = in_off.unwrap_or(0);
    let mut oo = out_off.unwrap_or(0);
    let iop: *mut i64 = if in_off.is_some() {
        &raw mut io
    } else {
        std::ptr::null_mut()
    };
    let oop: *mut i64 = if out_off.is_some() {
        &raw mut oo
    } else {
        std::ptr::null_mut()
    };
    set_errno(ERRNO_MARK);
    // SAFETY: offsets are NULL or point to live i64s.
    let r = unsafe {
        match c.func {
            FdFn::Sendfile => zc_sendfile(oe.fd, ie.fd, iop, len, flags),
            FdFn::Splice => zc_splice(ie.fd, iop, oe.fd, oop, len, flags),
            FdFn::CopyFileRange => zc_copy_file_range(ie.fd, iop, oe.fd, oop, len, flags),
            FdFn::Mmap => zc_mmap_copy(ie.fd, iop, oe.fd, len, flags),
        }
    };
    check_errno_kept(&what);
    check_code(&what, r);
    if flags & !(ZC_F_NONBLOCK | ZC_F_NO_FALLBACK) != 0 {
        // EINVAL, unless another argument was refused first (a negative fd: EBADF).
        assert!(r < 0, "{what}: unknown flags accepted");
    }
    if r >= 0 {
        assert!(r as u64 <= len, "{what}: moved {r} > len {len}");
    }

    // Positions after: explicit offsets as zcio stored them, else the descriptors'.
    let in_end = if in_off.is_some() {
        Some(io)
    } else {
        fd_pos(ie.fd)
    };
    // An O_APPEND destination grows at its end, wherever its offset was.
    let out_end = if oe.append {
        fd_size(oe.fd)
    } else if out_off.is_some() {
        Some(oo)
    } else {
        fd_pos(oe.fd)
    };
    let plain = ie.file.is_some()
        && oe.file.is_some()
        && ie.obj != oe.obj
        && !(oe.append && out_off.is_some())
        && in_start.is_some_and(|s| s >= 0)
        && out_start.is_some_and(|s| s >= 0);
    // A descriptor's own offset moves only for the end that uses it.
    let same_fd = ie.fd == oe.fd;
    if in_off.is_some() && (!same_fd || out_off.is_some()) {
        assert_eq!(
            fd_pos(ie.fd),
            in_pos0,
            "{what}: explicit in offset, but the fd's moved"
        );
    }
    if out_off.is_some() && !oe.append && (!same_fd || in_off.is_some()) {
        assert_eq!(
            fd_pos(oe.fd),
            out_pos0,
            "{what}: explicit out offset, but the fd's moved"
        );
    }
    if plain {
        let (is, os) = (in_start.unwrap() as u64, out_start.unwrap() as u64);
        let (ie_, oe_) = (in_end.unwrap() as u64, out_end.unwrap() as u64);
        let moved_in = ie_.wrapping_sub(is);
        let moved_out = oe_.wrapping_sub(os);
        if r >= 0 {
            assert_eq!(
                moved_in, r as u64,
                "{what}: in offset moved {moved_in}, result {r}"
            );
            assert_eq!(
                moved_out, r as u64,
                "{what}: out offset moved {moved_out}, result {r}"
            );
        } else {
            // After a failure the offsets say how far the data got, at both ends.
            assert_eq!(
                moved_in, moved_out,
                "{what}: failed ({r}) with in offset +{moved_in}, out offset +{moved_out}"
            );
        }
        let n = moved_out as usize;
        if n > 0 && n <= 1 << 30 {
            tally(what.split('(').next().unwrap_or(""), 2);
            let snap = snap.as_ref().unwrap();
            let want = snap.get(is as usize..is as usize + n).unwrap_or_else(|| {
                panic!(
                    "{what}: moved {n} bytes from {is}, past the source's end {}",
                    snap.len()
                )
            });
            let got = pool.snapshot(oe).unwrap();
            let got = got.get(os as usize..os as usize + n);
            assert!(got == Some(want), "{what}: destination bytes differ");
        }
    }
    pool.drain_outputs();
}

fn run_reflink(pool: &Pool, src: FdSel, dst: FdSel) {
    let (se, de) = (pool.e(src), pool.e(dst));
    let what = format!("zc_reflink({src:?}, {dst:?})");
    let before = pool.snapshot(de);
    let pos = (fd_pos(se.fd), fd_pos(de.fd));
    set_errno(ERRNO_MARK);
    let r = zc_reflink(se.fd, de.fd);
    check_errno_kept(&what);
    check_code(&what, r.into());
    assert_eq!(pos, (fd_pos(se.fd), fd_pos(de.fd)), "{what}: offsets moved");
    if r != 0 {
        assert_eq!(
            pool.snapshot(de),
            before,
            "{what}: failed, but the destination changed"
        );
    } else if se.obj != de.obj {
        assert_eq!(
            pool.snapshot(de),
            pool.snapshot(se),
            "{what}: clone differs"
        );
    }
}

fn run_directio(pool: &Pool, fd: FdSel, advice: i32, solaris: bool) {
    let e = pool.e(fd);
    let what = format!("directio({fd:?}, {advice}, solaris {solaris})");
    set_errno(ERRNO_MARK);
    if solaris {
        let r = directio(e.fd, advice);
        let err = get_errno();
        match r {
            0 => assert_eq!(err, ERRNO_MARK, "{what}: errno changed on success"),
            -1 => assert!((1..=4095).contains(&err), "{what}: errno {err}"),
            _ => panic!("{what}: returned {r}"),
        }
    } else {
        let r = zc_directio(e.fd, advice);
        check_errno_kept(&what);
        check_code(&what, r.into());
        if advice != ZC_DIRECTIO_ON && advice != ZC_DIRECTIO_OFF {
            assert!(r < 0, "{what}: bad advice accepted");
        }
    }
}

fn run_dio_alignment(pool: &Pool, fd: FdSel, want_mem: bool, want_off: bool) {
    let e = pool.e(fd);
    let what = format!("zc_dio_alignment({fd:?})");
    let (mut m, mut o) = (0u32, 0u32);
    set_errno(ERRNO_MARK);
    // SAFETY: each pointer is NULL or a live u32.
    let r = unsafe {
        zc_dio_alignment(
            e.fd,
            if want_mem {
                &raw mut m
            } else {
                std::ptr::null_mut()
            },
            if want_off {
                &raw mut o
            } else {
                std::ptr::null_mut()
            },
        )
    };
    check_errno_kept(&what);
    check_code(&what, r.into());
    if r == 0 {
        for (want, v) in [(want_mem, m), (want_off, o)] {
            if want {
                assert!(v.is_power_of_two() && v <= 1 << 20, "{what}: alignment {v}");
            }
        }
    }
}

fn run_strerror(err: i32) {
    set_errno(ERRNO_MARK);
    let p = zc_strerror(err);
    check_errno_kept("zc_strerror");
    assert!(!p.is_null(), "zc_strerror({err}) is NULL");
    // SAFETY: zcio returns a static C string.
    let s = unsafe { CStr::from_ptr(p) };
    assert!(
        !s.is_empty() && s.to_bytes().len() < 256,
        "zc_strerror({err}) = {s:?}"
    );
    if let Some(neg) = err.checked_neg() {
        // SAFETY: as above.
        let t = unsafe { CStr::from_ptr(zc_strerror(neg)) };
        assert_eq!(s, t, "zc_strerror({err}) and ({neg}) differ");
    }
}

fn run_init(sel: &InitSel, ours: usize, stats: bool) {
    let what = if stats {
        "zc_stats_init_sized"
    } else {
        "zc_options_init_sized"
    };
    let (_, len, _) = sel.size.layout(ours, 4);
    let len = match sel.size {
        SizeSel::Small(n) => usize::from(n) % ours,
        _ => len,
    };
    let mut b = Buf::new(len);
    b.bytes_mut()[..len].fill(0x77);
    let p = if sel.null {
        std::ptr::null_mut()
    } else {
        b.ptr()
    };
    set_errno(ERRNO_MARK);
    // SAFETY: NULL or a buffer of `len` bytes.
    unsafe {
        if stats {
            zc_stats_init_sized(p.cast(), len);
        } else {
            zc_options_init_sized(p.cast(), len);
        }
    }
    check_errno_kept(what);
    b.check_canary(what);
    if sel.null {
        assert!(
            b.bytes()[..len].iter().all(|&x| x == 0x77),
            "{what}(NULL) wrote"
        );
        return;
    }
    let bytes = &b.bytes()[..len];
    if len >= 4 {
        let size = u32::from_ne_bytes(bytes[..4].try_into().unwrap());
        assert_eq!(size as usize, len, "{what}: size field");
        assert!(bytes[4..].iter().all(|&x| x == 0), "{what}: not zeroed");
    } else {
        assert!(bytes.iter().all(|&x| x == 0), "{what}: not zeroed");
    }
}

fn run_version() {
    let p = zc_version();
    assert!(!p.is_null(), "zc_version is NULL");
    // SAFETY: a static C string.
    let s = unsafe { CStr::from_ptr(p) }.to_str().unwrap();
    let parts: Vec<&str> = s.split('.').collect();
    assert!(
        parts.len() == 3 && parts.iter().all(|x| x.parse::<u32>().is_ok()),
        "zc_version() = {s:?}"
    );
}

// ---------------------------------------------------------------- the target

fuzz_target!(|input: Input| {
    env();
    // The thread's splice pipe is zcio's to keep: make sure it exists at both ends.
    let _ = zcio::testing::thread_pipe_size();
    let fds_before = open_fds(false).len();
    let pool = Pool::new(&input);
    for op in input.ops.iter().take(MAX_OPS) {
        match op {
            Op::Path {
                func,
                src,
                dst,
                opts,
                stats,
            } => run_path(&pool, *func, *src, *dst, opts, stats),
            Op::DirectIoCopyCompat { src, dst } => run_directio_compat(&pool, *src, *dst),
            Op::Sendfile {
                out,
                inp,
                off,
                len,
                flags,
            } => run_fd(
                &pool,
                FdCall {
                    func: FdFn::Sendfile,
                    inp: *inp,
                    in_off: *off,
                    out: *out,
                    out_off: OffSel::Null,
                    len: *len,
                    flags: *flags,
                },
            ),
            Op::Splice {
                inp,
                in_off,
                out,
                out_off,
                len,
                flags,
            } => run_fd(
                &pool,
                FdCall {
                    func: FdFn::Splice,
                    inp: *inp,
                    in_off: *in_off,
                    out: *out,
                    out_off: *out_off,
                    len: *len,
                    flags: *flags,
                },
            ),
            Op::CopyFileRange {
                inp,
                in_off,
                out,
                out_off,
                len,
                flags,
            } => run_fd(
                &pool,
                FdCall {
                    func: FdFn::CopyFileRange,
                    inp: *inp,
                    in_off: *in_off,
                    out: *out,
                    out_off: *out_off,
                    len: *len,
                    flags: *flags,
                },
            ),
            Op::Mmap {
                inp,
                in_off,
                out,
                len,
                flags,
            } => run_fd(
                &pool,
                FdCall {
                    func: FdFn::Mmap,
                    inp: *inp,
                    in_off: *in_off,
                    out: *out,
                    out_off: OffSel::Null,
                    len: *len,
                    flags: *flags,
                },
            ),
            Op::Reflink { src, dst } => run_reflink(&pool, *src, *dst),
            Op::Directio {
                fd,
                advice,
                solaris,
            } => run_directio(&pool, *fd, *advice, *solaris),
            Op::DioAlignment {
                fd,
                want_mem,
                want_off,
            } => run_dio_alignment(&pool, *fd, *want_mem, *want_off),
            Op::Strerror(e) => run_strerror(*e),
            Op::OptionsInit(s) => run_init(s, OPTS_SIZE, false),
            Op::StatsInit(s) => run_init(s, STATS_SIZE, true),
            Op::Version => run_version(),
        }
    }
    pool.close();
    let _ = zcio::testing::thread_pipe_size();
    // Counted, not compared: zcio may have replaced its pipe with one at other numbers.
    let fds_after = open_fds(false).len();
    assert_eq!(
        fds_before,
        fds_after,
        "descriptors leaked or closed: now {:?}",
        open_fds(true)
    );
});
