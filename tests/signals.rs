//! zcio inside a program that uses signals: worker threads never take the host's
//! signals, every method survives a storm of signals without SA_RESTART, and
//! SIGPIPE never reaches the caller whatever its disposition. Moved from the C
//! suite (test_engines.c, test_faults.c, test_zerocopy.c; c-tests/san-signals.c
//! keeps driving the same paths under the sanitizers). `harness = false`: signal
//! dispositions and masks belong to the process, and a process-directed signal
//! may land on any thread that does not block it, a test harness's included.

mod common;
#[path = "common/harness.rs"]
mod harness;
#[path = "common/streams.rs"]
mod streams;

use std::fs;
use std::sync::atomic::{AtomicBool, AtomicI32, AtomicU64, Ordering};
use std::time::{Duration, Instant};

use common::*;
use zcio::{Engine, Method, Options};

const MIB: usize = 1 << 20;

fn main() {
    harness::main(
        &[
            (
                "worker_threads_block_the_callers_signals",
                worker_threads_block_the_callers_signals,
            ),
            ("signal_storm", signal_storm),
            (
                "sigpipe_never_reaches_the_caller",
                sigpipe_never_reaches_the_caller,
            ),
        ],
        &[("epipe_with_sigpipe_default", epipe_with_sigpipe_default)],
    )
}

fn gettid() -> i32 {
    // SAFETY: gettid cannot fail.
    unsafe { libc::gettid() }
}

/// Sets `handler` for `sig` (SA_RESTART when `restart`), returning the old action.
fn set_handler(sig: i32, handler: libc::sighandler_t, restart: bool) -> libc::sigaction {
    // SAFETY: a zeroed sigaction with an empty mask is a valid argument; the
    // handlers installed here only touch atomics.
    unsafe {
        let mut sa: libc::sigaction = std::mem::zeroed();
        sa.sa_sigaction = handler;
        sa.sa_flags = if restart { libc::SA_RESTART } else { 0 };
        libc::sigemptyset(&mut sa.sa_mask);
        let mut old: libc::sigaction = std::mem::zeroed();
        assert_eq!(libc::sigaction(sig, &sa, &mut old), 0);
        old
    }
}

fn restore(sig: i32, old: &libc::sigaction) {
    // SAFETY: puts back an action sigaction returned.
    unsafe { assert_eq!(libc::sigaction(sig, old, std::ptr::null_mut()), 0) };
}

/// Blocks (`how` SIG_BLOCK) or unblocks the signals in this thread.
fn mask(how: i32, sigs: &[i32]) {
    // SAFETY: a set built with sigemptyset/sigaddset; only this thread's mask.
    unsafe {
        let mut set: libc::sigset_t = std::mem::zeroed();
        libc::sigemptyset(&mut set);
        for &s in sigs {
            libc::sigaddset(&mut set, s);
        }
        assert_eq!(libc::pthread_sigmask(how, &set, std::ptr::null_mut()), 0);
    }
}

static MAIN_TID: AtomicI32 = AtomicI32::new(0);
static ON_MAIN: AtomicU64 = AtomicU64::new(0);
static ELSEWHERE: AtomicU64 = AtomicU64::new(0);

extern "C" fn count_where(_: i32) {
    if gettid() == MAIN_TID.load(Ordering::Relaxed) {
        ON_MAIN.fetch_add(1, Ordering::Relaxed);
    } else {
        ELSEWHERE.fetch_add(1, Ordering::Relaxed);
    }
}

/// The fault: zcio's worker threads left signals unblocked (and, after a first
/// fix, for a moment at their start), so the host's process-directed signals could
/// run its handlers on a zcio thread. SIGUSR1 goes to the process every 200 us
/// during three threaded copies: every one lands on the calling thread.
fn worker_threads_block_the_callers_signals() {
    let d = disk_dir();
    let src = d.path().join("src");
    let bytes = data(32 * MIB + 5, 9);
    write_file(&src, &bytes);
    MAIN_TID.store(gettid(), Ordering::Relaxed);
    ON_MAIN.store(0, Ordering::Relaxed);
    ELSEWHERE.store(0, Ordering::Relaxed);
    let old = set_handler(
        libc::SIGUSR1,
        count_where as extern "C" fn(i32) as libc::sighandler_t,
        true,
    );
    let stop = AtomicBool::new(false);
    let ok = std::thread::scope(|s| {
        s.spawn(|| {
            mask(libc::SIG_BLOCK, &[libc::SIGUSR1]);
            while !stop.load(Ordering::Relaxed) {
                // SAFETY: kill on this process, with a handled signal.
                unsafe { libc::kill(libc::getpid(), libc::SIGUSR1) };
                std::thread::sleep(Duration::from_micros(200));
            }
        });
        let mut ok = true;
        for _ in 0..3 {
            let r = Options::new()
                .engine(Engine::Threads)
                .chunk_size(1 << 20)
                .queue_depth(8)
                .directio_copy(&src, d.path().join("dst"));
            ok &= r.is_ok() && fs::read(d.path().join("dst")).expect("read") == bytes;
        }
        stop.store(true, Ordering::Relaxed);
        ok
    });
    restore(libc::SIGUSR1, &old);
    let (m, e) = (
        ON_MAIN.load(Ordering::Relaxed),
        ELSEWHERE.load(Ordering::Relaxed),
    );
    println!("  SIGUSR1 during threaded copies: {m} on the caller's thread, {e} elsewhere");
    regression(
        "worker_threads_block_the_callers_signals",
        ok && m > 0 && e == 0,
    );
}

static ALRM: AtomicU64 = AtomicU64::new(0);
static USR1: AtomicU64 = AtomicU64::new(0);

extern "C" fn count_storm(sig: i32) {
    if sig == libc::SIGALRM {
        ALRM.fetch_add(1, Ordering::Relaxed);
    } else {
        USR1.fetch_add(1, Ordering::Relaxed);
    }
}

fn set_timer(us: i64) {
    let t = libc::timeval {
        tv_sec: 0,
        tv_usec: us,
    };
    let it = libc::itimerval {
        it_interval: t,
        it_value: t,
    };
    // SAFETY: setitimer with a valid value and no old value wanted.
    unsafe {
        assert_eq!(
            libc::setitimer(libc::ITIMER_REAL, &it, std::ptr::null_mut()),
            0
        )
    };
}

/// Signals without SA_RESTART, so that every slow call sees EINTR: SIGUSR1 sent
/// to the copying thread in a loop and SIGALRM every 100 us, during a 64 MiB copy
/// by every method and by each Direct I/O engine, on ext4 and tmpfs. Each copy is
/// exact and leaves no temporary file. (The storm stops after 10 s, noted: a
/// threaded copy on two cores with a thread spinning on pthread_kill crawls.)
fn signal_storm() {
    let old_alrm = set_handler(
        libc::SIGALRM,
        count_storm as extern "C" fn(i32) as libc::sighandler_t,
        false,
    );
    let old_usr1 = set_handler(
        libc::SIGUSR1,
        count_storm as extern "C" fn(i32) as libc::sighandler_t,
        false,
    );
    // SAFETY: pthread_self cannot fail.
    let copier = unsafe { libc::pthread_self() };
    let runs: [(&str, Method, Option<Engine>); 10] = [
        ("AUTO", Method::Auto, None),
        ("DIRECT", Method::Direct, None),
        ("COPY_FILE_RANGE", Method::CopyFileRange, None),
        ("SENDFILE", Method::Sendfile, None),
        ("SPLICE", Method::Splice, None),
        ("MMAP", Method::Mmap, None),
        ("READ_WRITE", Method::ReadWrite, None),
        (
            "DIRECT (engine io_uring)",
            Method::Direct,
            Some(Engine::IoUring),
        ),
        (
            "DIRECT (engine threads)",
            Method::Direct,
            Some(Engine::Threads),
        ),
        ("DIRECT (engine sync)", Method::Direct, Some(Engine::Sync)),
    ];
    let mut failed = Vec::new();
    for d in disk_and_shm() {
        let p = d.path();
        let fsn = fs_name(p);
        let src = p.join("storm.src");
        let bytes = data(64 * MIB + 12345, 77);
        write_file(&src, &bytes);
        for (name, method, engine) in runs {
            let dst = p.join("storm.dst");
            ALRM.store(0, Ordering::Relaxed);
            USR1.store(0, Ordering::Relaxed);
            let stop = AtomicBool::new(false);
            let slow = AtomicBool::new(false);
            let t0 = Instant::now();
            let r = std::thread::scope(|s| {
                s.spawn(|| {
                    // Only the copying thread takes the signals, the timer's too.
                    mask(libc::SIG_BLOCK, &[libc::SIGALRM, libc::SIGUSR1]);
                    let start = Instant::now();
                    let mut sent = 0u64;
                    while !stop.load(Ordering::Relaxed) {
                        // SAFETY: the copier thread is alive until `stop` is set,
                        // which happens before the scope ends.
                        unsafe { libc::pthread_kill(copier, libc::SIGUSR1) };
                        sent += 1;
                        if sent.is_multiple_of(1024) && start.elapsed() > Duration::from_secs(10) {
                            set_timer(0);
                            slow.store(true, Ordering::Relaxed);
                            break;
                        }
                    }
                });
                set_timer(100);
                let r = Options::new()
                    .method(method)
                    .engine(engine)
                    .copy_file(&src, &dst);
                set_timer(0);
                stop.store(true, Ordering::Relaxed);
                r
            });
            let dt = t0.elapsed().as_secs_f64();
            let (a, u) = (ALRM.load(Ordering::Relaxed), USR1.load(Ordering::Relaxed));
            if engine.is_some() && errno(r.clone()) == libc::EOPNOTSUPP {
                report_row(
                    "fault",
                    &[&fsn, "signal storm", name, "1", "engine not available here"],
                );
                continue;
            }
            let exact = r.is_ok() && fs::read(&dst).expect("read") == bytes;
            let temps = temp_names(p);
            let ok = exact && temps.is_empty() && a + u > 0;
            let detail = format!(
                "{}{}, {a} SIGALRM + {u} SIGUSR1 delivered, moved by {}, {dt:.2} s",
                match &r {
                    Ok(_) if exact => "exact copy".to_string(),
                    Ok(_) => "copy differs".to_string(),
                    Err(e) => e.to_string(),
                },
                if slow.load(Ordering::Relaxed) {
                    " (slow: storm stopped after 10 s)"
                } else {
                    ""
                },
                r.as_ref()
                    .map_or("-".to_string(), |st| st.method.to_string()),
            );
            println!("  {fsn} | signal storm | {name} | {detail}");
            report_row(
                "fault",
                &[
                    &fsn,
                    "signal storm",
                    name,
                    if ok { "1" } else { "0" },
                    &detail,
                ],
            );
            if engine == Some(Engine::IoUring) && fsn == "ext4" {
                // The fault: io_uring failed with ECANCELED under the storm.
                regression("io_uring_survives_a_signal_storm", ok);
            }
            if !ok {
                failed.push(format!("{fsn} {name}: {detail}"));
            }
            let _ = fs::remove_file(&dst);
        }
    }
    restore(libc::SIGALRM, &old_alrm);
    restore(libc::SIGUSR1, &old_usr1);
    assert!(failed.is_empty(), "{failed:#?}");
}

static SIGPIPES: AtomicU64 = AtomicU64::new(0);

extern "C" fn count_sigpipe(_: i32) {
    SIGPIPES.fetch_add(1, Ordering::Relaxed);
}

fn sigpipe_pending() -> bool {
    // SAFETY: sigpending only fills the set.
    unsafe {
        let mut set: libc::sigset_t = std::mem::zeroed();
        assert_eq!(libc::sigpending(&mut set), 0);
        libc::sigismember(&set, libc::SIGPIPE) == 1
    }
}

/// Writes to readers that have gone (pipes, Unix and TCP sockets, by sendfile,
/// splice and the mmap copy) never raise SIGPIPE in the caller: with the default
/// action (a child that would die of it), with SIGPIPE blocked (none left
/// pending), and with a handler installed (never called). Rust programs start with
/// SIGPIPE ignored, so each setting is made here, explicitly.
fn sigpipe_never_reaches_the_caller() {
    let d = disk_dir();
    let out = harness::run_child(
        "epipe_with_sigpipe_default",
        &[("ZCIO_EPIPE_DIR", d.path().display().to_string())],
    );
    assert!(
        out.status.success(),
        "with SIGPIPE's default action: {:?}\n{}",
        out.status,
        String::from_utf8_lossy(&out.stderr)
    );

    // Blocked, with the default action (an ignored signal would not stay pending).
    let old = set_handler(libc::SIGPIPE, libc::SIG_DFL, false);
    mask(libc::SIG_BLOCK, &[libc::SIGPIPE]);
    streams::epipe_round(d.path());
    let pending = sigpipe_pending();
    if pending {
        // Take it, so that unblocking below does not kill the test.
        // SAFETY: a set with SIGPIPE only; a zero timeout returns at once.
        unsafe {
            let mut set: libc::sigset_t = std::mem::zeroed();
            libc::sigemptyset(&mut set);
            libc::sigaddset(&mut set, libc::SIGPIPE);
            let zero = libc::timespec {
                tv_sec: 0,
                tv_nsec: 0,
            };
            libc::sigtimedwait(&set, std::ptr::null_mut(), &zero);
        }
    }
    assert!(!pending, "SIGPIPE left pending");

    // A handler installed and SIGPIPE unblocked: never called.
    set_handler(
        libc::SIGPIPE,
        count_sigpipe as extern "C" fn(i32) as libc::sighandler_t,
        false,
    );
    mask(libc::SIG_UNBLOCK, &[libc::SIGPIPE]);
    SIGPIPES.store(0, Ordering::Relaxed);
    streams::epipe_round(d.path());
    restore(libc::SIGPIPE, &old);
    assert_eq!(
        SIGPIPES.load(Ordering::Relaxed),
        0,
        "the SIGPIPE handler ran"
    );
}

/// In a fresh process: SIGPIPE's default action, unblocked; dying of it is the
/// failure the parent sees.
fn epipe_with_sigpipe_default() {
    set_handler(libc::SIGPIPE, libc::SIG_DFL, false);
    mask(libc::SIG_UNBLOCK, &[libc::SIGPIPE]);
    let dir = std::path::PathBuf::from(std::env::var("ZCIO_EPIPE_DIR").expect("dir"));
    streams::epipe_round(&dir);
}
