//! `zcio-genheader OUT`: generates the C header from src/capi into OUT.
//!
//! The version macros come from the workspace version, which zcio shares.

use std::path::Path;
use std::process::ExitCode;

fn main() -> ExitCode {
    let Some(out) = std::env::args_os().nth(1) else {
        eprintln!("usage: zcio-genheader OUT");
        return ExitCode::from(2);
    };
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../..");
    let config = match cbindgen::Config::from_file(root.join("cbindgen.toml")) {
        Ok(c) => c,
        Err(e) => {
            eprintln!("zcio-genheader: cbindgen.toml: {e}");
            return ExitCode::FAILURE;
        }
    };
    let version = format!(
        "\n#define ZCIO_VERSION_MAJOR {}\n#define ZCIO_VERSION_MINOR {}\n#define ZCIO_VERSION_PATCH {}\n#define ZCIO_VERSION_STRING \"{}\"",
        env!("CARGO_PKG_VERSION_MAJOR"),
        env!("CARGO_PKG_VERSION_MINOR"),
        env!("CARGO_PKG_VERSION_PATCH"),
        env!("CARGO_PKG_VERSION"),
    );
    let built = cbindgen::Builder::new()
        .with_config(config)
        .with_src(root.join("src/capi/mod.rs"))
        .with_after_include(version)
        .generate();
    match built {
        Ok(b) => {
            b.write_to_file(&out);
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("zcio-genheader: {e}");
            ExitCode::FAILURE
        }
    }
}
