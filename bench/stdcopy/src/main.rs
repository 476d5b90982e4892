//! `stdcopy SRC DST`: copies with `std::fs::copy`, what a Rust program gets without
//! zcio; a contender in `make bench`.

use std::process::ExitCode;

fn main() -> ExitCode {
    let args: Vec<_> = std::env::args_os().skip(1).collect();
    let [src, dst] = args.as_slice() else {
        eprintln!("usage: stdcopy SRC DST");
        return ExitCode::from(2);
    };
    match std::fs::copy(src, dst) {
        Ok(_) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!(
                "stdcopy: cannot copy '{}' to '{}': {e}",
                src.to_string_lossy(),
                dst.to_string_lossy()
            );
            ExitCode::FAILURE
        }
    }
}
