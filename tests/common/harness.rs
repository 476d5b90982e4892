//! A runner for the test binaries declared `harness = false` (process.rs,
//! signals.rs, changing_source.rs): their cases measure or change what belongs to
//! the whole process (descriptor counts, memory, signal masks and dispositions,
//! fork), so they run one after another on the main thread, with no other test's
//! threads, pipes or signals around.
//!
//! Arguments as `cargo test` passes them: `--list` lists the cases, a word selects
//! the cases whose name contains it (`--exact`: equals it), other flags are
//! ignored. A case that must run in a fresh process re-executes this binary with
//! [`CHILD`] naming it ([`run_child`]).
#![allow(dead_code)]

use std::process::{Command, Output};

/// The environment variable that makes a re-executed binary run one case only.
pub const CHILD: &str = "ZCIO_TEST_CHILD";

/// A named case.
pub type Case = (&'static str, fn());

/// Runs the cases the arguments select (or, in a child, the one of `children` it
/// names) and exits: 0 when all passed, 1 otherwise.
pub fn main(cases: &[Case], children: &[Case]) -> ! {
    if let Some(name) = std::env::var_os(CHILD) {
        let name = name.to_string_lossy().into_owned();
        let Some((_, f)) = children.iter().find(|(n, _)| *n == name) else {
            eprintln!("no case {name}");
            std::process::exit(2);
        };
        f();
        std::process::exit(0);
    }
    let args: Vec<String> = std::env::args().skip(1).collect();
    let exact = args.iter().any(|a| a == "--exact");
    if args.iter().any(|a| a == "--list") {
        for (n, _) in cases {
            println!("{n}: test");
        }
        std::process::exit(0);
    }
    let filters: Vec<&String> = args.iter().filter(|a| !a.starts_with('-')).collect();
    let chosen = |n: &str| {
        filters.is_empty()
            || filters.iter().any(|f| {
                if exact {
                    n == f.as_str()
                } else {
                    n.contains(f.as_str())
                }
            })
    };
    let (mut passed, mut failed) = (0, 0);
    for (name, f) in cases.iter().filter(|(n, _)| chosen(n)) {
        println!("case {name} ...");
        let t = std::time::Instant::now();
        match std::panic::catch_unwind(f) {
            Ok(()) => {
                passed += 1;
                println!("case {name} ok ({:.2} s)", t.elapsed().as_secs_f64());
            }
            Err(_) => {
                failed += 1;
                println!("case {name} FAILED");
            }
        }
    }
    println!("{passed} passed, {failed} failed");
    std::process::exit(if failed == 0 { 0 } else { 1 });
}

/// Runs case `name` of this binary in a new process, with `env` added; returns
/// what it printed and how it ended.
pub fn run_child(name: &str, env: &[(&str, String)]) -> Output {
    let mut c = Command::new(std::env::current_exe().expect("current_exe"));
    c.env(CHILD, name);
    for (k, v) in env {
        c.env(k, v);
    }
    c.output().expect("re-execute the test binary")
}
