//! A source that changes while it is copied, for every method: truncated to half,
//! or extended, by the progress callback once a quarter is done. The copy may
//! succeed with a consistent file (a prefix of the source as it was; the original
//! and perhaps some of what was appended) or fail with the old destination as it
//! was; never a SIGBUS in the calling program, never a temporary file left. Moved
//! from the C suite's test_faults.c. `harness = false`: each case runs in a child
//! process, so that a SIGBUS is that case's failure, not the end of the run.

mod common;
#[path = "common/harness.rs"]
mod harness;

use std::fs::{self, OpenOptions};
use std::ops::ControlFlow;
use std::os::unix::fs::FileExt;
use std::os::unix::process::ExitStatusExt;

use common::*;
use zcio::{Engine, Method, Options, Progress};

const MIB: usize = 1 << 20;
const N: usize = 256 * MIB;
const EXT: usize = MIB + 333;
const METHODS: [Method; 7] = [
    Method::Auto,
    Method::Direct,
    Method::CopyFileRange,
    Method::Sendfile,
    Method::Splice,
    Method::Mmap,
    Method::ReadWrite,
];

fn main() {
    harness::main(
        &[(
            "source_truncated_or_extended_mid_copy",
            source_truncated_or_extended_mid_copy,
        )],
        &[("copy_while_changing", copy_while_changing)],
    )
}

fn source_truncated_or_extended_mid_copy() {
    // want[..N] is the source, want[N..] what is appended.
    let want = data(N + EXT, 99);
    let old = data(1000, 5);
    let mut failed = Vec::new();
    for d in disk_and_shm() {
        let p = d.path();
        let fsn = fs_name(p);
        let src = p.join("change.src");
        write_file(&src, &want[..N]);
        write_file(&p.join("ext"), &want[N..]);
        for truncate in [true, false] {
            let fault = if truncate {
                "source truncated to half at 25%"
            } else {
                "source extended at 25%"
            };
            for m in METHODS {
                // The source as it was, the old destination in place.
                let f = OpenOptions::new().write(true).open(&src).expect("open");
                if f.metadata().expect("meta").len() < N as u64 {
                    f.write_all_at(&want[N / 2..N], (N / 2) as u64)
                        .expect("restore");
                }
                f.set_len(N as u64).expect("restore");
                drop(f);
                let dst = p.join("change.dst");
                write_file(&dst, &old);
                let out = harness::run_child(
                    "copy_while_changing",
                    &[
                        ("ZCIO_CHANGE_DIR", p.display().to_string()),
                        ("ZCIO_CHANGE_METHOD", m.name().to_string()),
                        ("ZCIO_CHANGE_TRUNCATE", u8::from(truncate).to_string()),
                    ],
                );
                let text = String::from_utf8_lossy(&out.stdout).into_owned();
                let res: Vec<u64> = text
                    .lines()
                    .find_map(|l| l.strip_prefix("result "))
                    .map(|v| v.split(' ').filter_map(|x| x.parse().ok()).collect())
                    .unwrap_or_default();
                let temps = temp_names(p);
                let (ok, detail) = if let Some(sig) = out.status.signal() {
                    (false, format!("killed by signal {sig} (SIGBUS is 7)"))
                } else if res.len() != 4 {
                    (false, format!("child: {:?} {text}", out.status))
                } else if res[2] == 0 {
                    (
                        false,
                        "change never made: progress not called mid-copy".into(),
                    )
                } else {
                    let (err, bytes, at) = (res[0], res[1], res[3]);
                    let at = format!("changed at {:.0}%", 100.0 * at as f64 / N as f64);
                    if err == 0 {
                        let got = fs::read(&dst).expect("read");
                        let limit = if truncate { N } else { N + EXT };
                        let prefix = got.len() <= limit && got[..] == want[..got.len()];
                        let good =
                            prefix && (truncate || got.len() >= N) && bytes == got.len() as u64;
                        (
                            good,
                            format!(
                                "success, {} bytes{}; {at}",
                                got.len(),
                                if prefix {
                                    ""
                                } else {
                                    " (NOT a prefix of the source)"
                                }
                            ),
                        )
                    } else {
                        let intact = fs::read(&dst).expect("read") == old;
                        (
                            intact,
                            format!(
                                "errno {err}, old destination {}; {at}",
                                if intact { "intact" } else { "CHANGED" }
                            ),
                        )
                    }
                };
                let ok = ok && temps.is_empty();
                println!("  {fsn} | {fault} | {m} | {detail}");
                report_row(
                    "fault",
                    &[
                        &fsn,
                        fault,
                        &m.name().to_uppercase(),
                        if ok { "1" } else { "0" },
                        &detail,
                    ],
                );
                if !ok {
                    failed.push(format!("{fsn} {fault} {m}: {detail} {temps:?}"));
                }
            }
        }
        fs::remove_file(&src).expect("rm");
    }
    assert!(failed.is_empty(), "{failed:#?}");
}

/// The child: one copy, the change made from its progress callback; prints
/// `result ERRNO BYTES FIRED FIRED_AT`.
fn copy_while_changing() {
    let dir = std::path::PathBuf::from(std::env::var("ZCIO_CHANGE_DIR").expect("dir"));
    let m: Method = std::env::var("ZCIO_CHANGE_METHOD")
        .expect("method")
        .parse()
        .expect("method name");
    let truncate = std::env::var("ZCIO_CHANGE_TRUNCATE").expect("truncate") == "1";
    let src = dir.join("change.src");
    let ext = fs::read(dir.join("ext")).expect("ext");
    let f = OpenOptions::new().write(true).open(&src).expect("open");
    let fired = std::cell::Cell::new(None);
    let change = |pr: Progress| {
        let n = N as u64;
        if fired.get().is_none() && pr.done >= n / 4 && pr.done < n {
            fired.set(Some(pr.done));
            if truncate {
                f.set_len(n / 2).expect("truncate");
            } else {
                f.write_all_at(&ext, n).expect("append");
            }
        }
        ControlFlow::Continue(())
    };
    // Direct I/O on the synchronous engine, which reports after every chunk, so
    // the change comes at 25 % (the threaded engine reports after the caller's
    // own chunks, and may first report near the end).
    let r = Options::new()
        .method(m)
        .engine(Engine::Sync)
        .progress(&change)
        .copy_file(&src, dir.join("change.dst"));
    let (err, bytes) = match &r {
        Ok(st) => (0, st.bytes),
        Err(e) => (e.raw_os_error(), e.stats().map_or(0, |s| s.bytes)),
    };
    println!(
        "result {err} {bytes} {} {}",
        u8::from(fired.get().is_some()),
        fired.get().unwrap_or(0)
    );
}
