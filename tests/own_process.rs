//! Cases that need a process of their own: a resource limit (RLIMIT_AS,
//! RLIMIT_FSIZE) set for one case, a count of the process's threads, another
//! user's identity. Each case runs in a child forked from this single-threaded
//! runner (`harness = false`), so a limit or a setuid stays in the child, and a
//! child killed by a signal (an abort, SIGXFSZ) is a failure the runner reports.

mod common;

use std::fs::{self, File};
use std::io::Write;
use std::os::fd::AsFd;
use std::os::unix::fs::PermissionsExt;
use std::path::Path;

use common::*;
use nix::sys::resource::{Resource, getrlimit, setrlimit};
use zcio::{Engine, FdFlags, Method, Options, Step, TO_EOF};

/// Exit status of a case that skips (printed reason), as the C tests use.
const SKIP: i32 = 77;

type Case = fn() -> Result<(), String>;

fn main() {
    let cases: &[(&str, Case)] = &[
        (
            "read_write_copy_under_rlimit_as_returns_enomem",
            read_write_copy_under_rlimit_as_returns_enomem,
        ),
        (
            "direct_auto_engine_steps_down_to_sync_when_buffers_cannot_be_had",
            direct_auto_engine_steps_down_to_sync_when_buffers_cannot_be_had,
        ),
        (
            "copy_exactly_at_rlimit_fsize_succeeds_and_one_byte_more_is_efbig",
            copy_exactly_at_rlimit_fsize_succeeds_and_one_byte_more_is_efbig,
        ),
        (
            "threaded_engine_caps_queue_depth",
            threaded_engine_caps_queue_depth,
        ),
        (
            "another_users_file_in_a_sticky_directory_is_eperm_unless_in_place",
            another_users_file_in_a_sticky_directory_is_eperm_unless_in_place,
        ),
    ];
    // cargo test passes name filters (and flags such as --nocapture) through.
    let filters: Vec<String> = std::env::args()
        .skip(1)
        .filter(|a| !a.starts_with('-'))
        .collect();
    let (mut passed, mut failed, mut skipped) = (0, 0, 0);
    for (name, case) in cases {
        if !filters.is_empty() && !filters.iter().any(|f| name.contains(f.as_str())) {
            continue;
        }
        match run_in_child(*case) {
            Ok(0) => {
                println!("test {name} ... ok");
                passed += 1;
            }
            Ok(SKIP) => {
                println!("test {name} ... ok (skipped)");
                skipped += 1;
            }
            Ok(code) => {
                println!("test {name} ... FAILED (exit status {code})");
                failed += 1;
            }
            Err(why) => {
                println!("test {name} ... FAILED ({why})");
                failed += 1;
            }
        }
    }
    println!(
        "\ntest result: {}. {passed} passed; {failed} failed; {skipped} skipped",
        if failed == 0 { "ok" } else { "FAILED" }
    );
    std::process::exit(if failed == 0 { 0 } else { 101 });
}

/// Runs `case` in a forked child: its exit status, or why it did not exit.
fn run_in_child(case: Case) -> Result<i32, String> {
    use nix::sys::wait::{WaitStatus, waitpid};
    use nix::unistd::{ForkResult, fork};
    let _ = std::io::stdout().flush();
    // SAFETY: the runner has one thread, so the child has every lock it needs.
    match unsafe { fork() }.map_err(|e| format!("fork: {e}"))? {
        ForkResult::Child => {
            let code = match std::panic::catch_unwind(case) {
                Ok(Ok(())) => 0,
                Ok(Err(why)) if why.starts_with("skip:") => {
                    eprintln!("{why}");
                    SKIP
                }
                Ok(Err(why)) => {
                    eprintln!("{why}");
                    1
                }
                Err(_) => 1,
            };
            let _ = std::io::stdout().flush();
            // SAFETY: leaves the child at once, running no parent's exit handlers.
            unsafe { libc::_exit(code) }
        }
        ForkResult::Parent { child } => match waitpid(child, None) {
            Ok(WaitStatus::Exited(_, code)) => Ok(code),
            Ok(WaitStatus::Signaled(_, sig, _)) => Err(format!("killed by {sig:?}")),
            other => Err(format!("waitpid: {other:?}")),
        },
    }
}

/// Fails the case with `why` unless `ok`.
fn check(ok: bool, why: impl FnOnce() -> String) -> Result<(), String> {
    if ok { Ok(()) } else { Err(why()) }
}

/// This process's address space in bytes (VmSize).
fn vm_size() -> u64 {
    fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines().find_map(|l| {
                l.strip_prefix("VmSize:")
                    .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<u64>().ok())
            })
        })
        .map_or(0, |kb| kb * 1024)
}

/// Touches `kib` KiB of stack now, so that the stack needs no new address space
/// once the limit is set.
#[inline(never)]
fn touch_stack(kib: usize) {
    let mut buf = [0u8; 1024];
    buf[0] = kib as u8;
    std::hint::black_box(&mut buf);
    if kib > 1 {
        touch_stack(kib - 1);
    }
}

/// Runs `f` with the address space limited to what is in use now plus `margin`
/// bytes, then lifts the limit again (the soft limit only, which may go back up).
fn with_address_space<R>(margin: u64, f: impl FnOnce() -> R) -> R {
    touch_stack(512);
    // Room in the heap for the small allocations of a call (names, paths).
    drop(std::hint::black_box(vec![1u8; 96 << 10]));
    let (soft, hard) = getrlimit(Resource::RLIMIT_AS).expect("getrlimit");
    setrlimit(Resource::RLIMIT_AS, vm_size() + margin, hard).expect("setrlimit");
    let r = f();
    setrlimit(Resource::RLIMIT_AS, soft, hard).expect("lift the limit");
    r
}

/// Every copy that needs a buffer fails with ENOMEM under an address space too
/// small for it, leaving no destination; none aborts the process.
fn read_write_copy_under_rlimit_as_returns_enomem() -> Result<(), String> {
    let d = disk_dir();
    let src = d.path().join("src");
    let bytes = data(8 << 20, 1);
    write_file(&src, &bytes);
    let dst = d.path().join("dst");
    let ways = [
        ("read_write", Options::new().method(Method::ReadWrite)),
        ("mmap", Options::new().method(Method::Mmap)),
        ("direct", Options::new().method(Method::Direct)),
        (
            "direct, sync engine",
            Options::new().method(Method::Direct).engine(Engine::Sync),
        ),
    ];
    for (label, way) in ways {
        let r = with_address_space(64 << 10, || way.copy_file(&src, &dst));
        let e = r
            .err()
            .ok_or_else(|| format!("{label}: a copy that needs a buffer worked"))?;
        check(e.raw_os_error() == libc::ENOMEM, || {
            format!("{label}: {e}, not ENOMEM")
        })?;
        check(!dst.exists(), || format!("{label}: a destination was left"))?;
        report(
            "own_process",
            "ext4",
            &format!("{label} under RLIMIT_AS"),
            "ENOMEM, no destination, no abort",
        );
    }
    // The descriptor calls' read/write fallback too: tmpfs to ext4 is EXDEV for
    // copy_file_range.
    let Some(shm) = shm_dir() else {
        return Ok(());
    };
    let s2 = shm.path().join("src");
    write_file(&s2, &bytes);
    let (sf, df) = (
        File::open(&s2).expect("src"),
        File::create(&dst).expect("dst"),
    );
    let (mut i, mut o) = (0u64, 0u64);
    let r = with_address_space(64 << 10, || {
        zcio::copy_file_range(
            &sf,
            Some(&mut i),
            &df,
            Some(&mut o),
            TO_EOF,
            FdFlags::empty(),
        )
    });
    let code = errno(r);
    check(code == libc::ENOMEM, || {
        format!("copy_file_range's read/write fallback: errno {code}, not ENOMEM")
    })?;
    check((i, o) == (0, 0), || format!("offsets moved: {i} {o}"))?;
    // With the limit gone, the same copies work.
    Options::new()
        .method(Method::ReadWrite)
        .copy_file(&src, d.path().join("after"))
        .map_err(|e| format!("after the limit: {e}"))?;
    Ok(())
}

/// Direct I/O with the engine left to zcio steps down to the synchronous engine
/// (one buffer) when the pipelined engines' buffers cannot be had; a forced engine
/// says ENOMEM.
fn direct_auto_engine_steps_down_to_sync_when_buffers_cannot_be_had() -> Result<(), String> {
    let d = disk_dir();
    let src = d.path().join("src");
    let bytes = data((40 << 20) + 777, 2);
    write_file(&src, &bytes);
    let dst = d.path().join("dst");
    // Room for one 1 MiB chunk on a huge page (4 MiB mapped while it is set up),
    // not for the threaded engine's ten (41 chunks, at least 4 each).
    let r = with_address_space(6 << 20, || zcio::directio_copy(&src, &dst));
    let st = r.map_err(|e| format!("auto engine: {e}"))?;
    check(st.method == Method::Direct, || {
        format!("method {}", st.method)
    })?;
    check(st.engine == Some(Engine::Sync), || {
        format!("engine {:?}", st.engine)
    })?;
    check(fs::read(&dst).expect("read") == bytes, || "contents".into())?;
    let _ = fs::remove_file(&dst);
    let forced = Options::new().engine(Engine::Threads);
    let r = with_address_space(6 << 20, || forced.directio_copy(&src, &dst));
    let e = r
        .err()
        .ok_or("threads engine: worked without its buffers")?;
    check(
        e.raw_os_error() == libc::ENOMEM && e.step() == Step::Resource,
        || format!("threads engine: {e} at {:?}", e.step()),
    )?;
    check(!dst.exists(), || "a destination was left".into())?;
    report(
        "own_process",
        "ext4",
        "Direct I/O under RLIMIT_AS with room for one buffer",
        "auto engine stepped down to sync; forced threads: ENOMEM",
    );
    Ok(())
}

/// A file exactly as large as RLIMIT_FSIZE is copied by every method and every
/// descriptor call; one byte more fails with EFBIG and leaves the old destination;
/// no SIGXFSZ kills the process or is left pending.
fn copy_exactly_at_rlimit_fsize_succeeds_and_one_byte_more_is_efbig() -> Result<(), String> {
    // SAFETY: the default action, which kills the process, is what is tested.
    unsafe { libc::signal(libc::SIGXFSZ, libc::SIG_DFL) };
    let d = disk_dir();
    let mut ways: Vec<(String, Options<'static>)> = vec![
        ("auto".into(), Options::new()),
        ("auto, no reflink".into(), Options::new().reflink(false)),
    ];
    for m in [
        Method::CopyFileRange,
        Method::Sendfile,
        Method::Splice,
        Method::Mmap,
        Method::ReadWrite,
    ] {
        ways.push((m.name().into(), Options::new().method(m)));
    }
    for e in Engine::ALL {
        ways.push((
            format!("direct, {}", e.name()),
            Options::new().method(Method::Direct).engine(e),
        ));
    }
    // An aligned limit, and one the Direct I/O tail would cross padded.
    for limit in [1u64 << 20, (1 << 20) + 123] {
        let fits = d.path().join(format!("fits-{limit}"));
        let over = d.path().join(format!("over-{limit}"));
        let bytes = data(limit as usize + 1, limit);
        write_file(&fits, &bytes[..limit as usize]);
        write_file(&over, &bytes);
        let old = data(1000, 3);
        let (_, hard) = getrlimit(Resource::RLIMIT_FSIZE).expect("getrlimit");
        for (label, way) in &ways {
            let dst = d.path().join("dst");
            write_file(&dst, &old);
            setrlimit(Resource::RLIMIT_FSIZE, limit, hard).expect("setrlimit");
            let fit = way.copy_file(&fits, &dst);
            let over_r = way.copy_file(&over, &dst);
            setrlimit(Resource::RLIMIT_FSIZE, hard, hard).expect("lift");
            fit.map_err(|e| format!("{label}, {limit} bytes at a limit of {limit}: {e}"))?;
            let e = over_r
                .err()
                .ok_or_else(|| format!("{label}: {} bytes fit a limit of {limit}", limit + 1))?;
            check(e.raw_os_error() == libc::EFBIG, || {
                format!("{label}: one byte over the limit: {e}, not EFBIG")
            })?;
            check(
                fs::read(&dst).expect("read") == bytes[..limit as usize],
                || format!("{label}: the copy that fitted was replaced"),
            )?;
        }
        // The descriptor calls, each to a new file, at explicit offsets or not.
        type FdCall = fn(&File, &File) -> zcio::Result<u64>;
        let calls: [(&str, FdCall); 5] = [
            ("copy_file_range", |s, d| {
                zcio::copy_file_range(s, Some(&mut 0), d, Some(&mut 0), TO_EOF, FdFlags::empty())
            }),
            ("copy_file_range, own offsets", |s, d| {
                zcio::copy_file_range(s, None, d, None, TO_EOF, FdFlags::empty())
            }),
            ("sendfile", |s, d| {
                zcio::sendfile(d, s, None, TO_EOF, FdFlags::empty())
            }),
            ("splice", |s, d| {
                zcio::splice(s, None, d, None, TO_EOF, FdFlags::empty())
            }),
            ("mmap_copy", |s, d| {
                zcio::mmap_copy(s, None, d, TO_EOF, FdFlags::empty())
            }),
        ];
        for (label, call) in calls {
            let out = d.path().join("out");
            let (s, o) = (
                File::open(&fits).expect("src"),
                File::create(&out).expect("out"),
            );
            setrlimit(Resource::RLIMIT_FSIZE, limit, hard).expect("setrlimit");
            let r = call(&s, &o);
            setrlimit(Resource::RLIMIT_FSIZE, hard, hard).expect("lift");
            check(matches!(r, Ok(n) if n == limit), || {
                format!("{label} at the limit: {r:?}")
            })?;
            let s = File::open(&over).expect("src");
            let o = File::create(&out).expect("out");
            setrlimit(Resource::RLIMIT_FSIZE, limit, hard).expect("setrlimit");
            let r = call(&s, &o);
            setrlimit(Resource::RLIMIT_FSIZE, hard, hard).expect("lift");
            check(errno(r) == libc::EFBIG, || {
                format!("{label} over the limit")
            })?;
        }
    }
    // SAFETY: sigpending only fills the set.
    let pending = unsafe {
        let mut set = std::mem::zeroed::<libc::sigset_t>();
        libc::sigpending(&mut set);
        libc::sigismember(&set, libc::SIGXFSZ)
    };
    check(pending == 0, || "SIGXFSZ left pending".into())?;
    report(
        "own_process",
        "ext4",
        "a file exactly RLIMIT_FSIZE long, and one byte more, by every method and call",
        "copied; EFBIG with the old destination kept; no SIGXFSZ",
    );
    Ok(())
}

/// queue_depth 20,000 on the threaded engine starts no more threads than its cap.
/// The copy runs as the first process of a new PID namespace, where thread ids are
/// handed out from 1 on: the id of a thread started after the copy tells how many
/// the copy started, however short-lived they were.
fn threaded_engine_caps_queue_depth() -> Result<(), String> {
    use nix::sys::wait::{WaitStatus, waitpid};
    use nix::unistd::{ForkResult, fork};
    if !is_root() {
        return Err("skip: a PID namespace needs root".into());
    }
    let d = disk_dir();
    let src = d.path().join("src");
    let bytes = data(64 << 20, 4);
    write_file(&src, &bytes);
    // SAFETY: a new PID namespace for this process's children; nothing else changes.
    if unsafe { libc::unshare(libc::CLONE_NEWPID) } != 0 {
        return Err(format!(
            "skip: unshare: {}",
            std::io::Error::last_os_error()
        ));
    }
    // SAFETY: this process has one thread.
    match unsafe { fork() }.map_err(|e| format!("fork: {e}"))? {
        ForkResult::Child => {
            let r = (|| {
                let st = Options::new()
                    .engine(Engine::Threads)
                    .queue_depth(20_000)
                    .chunk_size(64 << 10)
                    .directio_copy(&src, d.path().join("dst"))
                    .map_err(|e| format!("copy: {e}"))?;
                // SAFETY: gettid cannot fail.
                let probe = std::thread::spawn(|| unsafe { libc::gettid() })
                    .join()
                    .map_err(|_| "probe thread".to_string())?;
                // Ids 1 (this process) and `probe` are not the copy's.
                let started = probe - 2;
                check(st.engine == Some(Engine::Threads), || {
                    format!("{:?}", st.engine)
                })?;
                check(
                    fs::read(d.path().join("dst")).expect("read") == bytes,
                    || "contents".into(),
                )?;
                // The calling thread is one of the 64 workers.
                check(started > 0 && started < 64, || {
                    format!("{started} threads started for queue_depth 20000")
                })?;
                report(
                    "own_process",
                    "ext4",
                    "threaded engine, queue_depth 20000, 1024 chunks",
                    &format!("{started} threads started besides the caller"),
                );
                Ok::<(), String>(())
            })();
            if let Err(why) = &r {
                eprintln!("{why}");
            }
            // SAFETY: leaves at once, as run_in_child's child does.
            unsafe { libc::_exit(i32::from(r.is_err())) }
        }
        ForkResult::Parent { child } => match waitpid(child, None) {
            Ok(WaitStatus::Exited(_, 0)) => Ok(()),
            other => Err(format!("the copy in its PID namespace: {other:?}")),
        },
    }
}

/// Another user's writable file in a sticky directory cannot be replaced (rename
/// over it is EPERM) and is left as it was; ZC_F_IN_PLACE writes into it, as cp does.
fn another_users_file_in_a_sticky_directory_is_eperm_unless_in_place() -> Result<(), String> {
    if !is_root() {
        return Err("skip: switching users needs root".into());
    }
    let d = disk_dir();
    fs::set_permissions(d.path(), fs::Permissions::from_mode(0o755)).expect("chmod");
    let sticky = d.path().join("tmp");
    fs::create_dir(&sticky).expect("mkdir");
    fs::set_permissions(&sticky, fs::Permissions::from_mode(0o1777)).expect("chmod");
    let src = sticky.join("src");
    write_file(&src, b"new contents");
    fs::set_permissions(&src, fs::Permissions::from_mode(0o644)).expect("chmod");
    let victim = sticky.join("theirs");
    write_file(&victim, b"old");
    fs::set_permissions(&victim, fs::Permissions::from_mode(0o666)).expect("chmod");
    std::os::unix::fs::chown(&victim, Some(65534), Some(65534)).expect("chown");
    // Another user for the copies (the effective ids only: root cleans up after).
    nix::unistd::setegid(nix::unistd::Gid::from_raw(65533)).expect("setegid");
    nix::unistd::seteuid(nix::unistd::Uid::from_raw(65533)).expect("seteuid");
    let r = as_other_user(&src, &sticky, &victim);
    nix::unistd::seteuid(nix::unistd::Uid::from_raw(0)).expect("seteuid back");
    nix::unistd::setegid(nix::unistd::Gid::from_raw(0)).expect("setegid back");
    // Recorded as root: the report file is root's.
    if r.is_ok() {
        report(
            "own_process",
            "ext4",
            "another user's 0666 file in a 1777 directory",
            "EPERM and untouched; ZC_F_IN_PLACE writes into it",
        );
    }
    r
}

fn as_other_user(src: &Path, sticky: &Path, victim: &Path) -> Result<(), String> {
    // Every directory above must be searchable by the other user.
    if File::open(src).is_err() {
        return Err(format!(
            "skip: {} is not readable by uid 65533",
            src.display()
        ));
    }
    for m in [Method::Auto, Method::Direct] {
        let r = Options::new().method(m).copy_file(src, victim);
        check(errno(r) == libc::EPERM, || format!("{m}: replace"))?;
        check(fs::read(victim).expect("read") == b"old", || {
            format!("{m}: the file was changed")
        })?;
        check(extra_entries(sticky, &["src", "theirs"]).is_empty(), || {
            format!("{m}: a temporary file was left")
        })?;
    }
    Options::new()
        .in_place(true)
        .copy_file(src, victim)
        .map_err(|e| format!("in place: {e}"))?;
    check(fs::read(victim).expect("read") == b"new contents", || {
        "in place: contents".into()
    })?;
    let f = File::open(victim).expect("open");
    let st = nix::sys::stat::fstat(f.as_fd()).expect("fstat");
    check(st.st_uid == 65534, || "in place: the owner changed".into())?;
    Ok(())
}
