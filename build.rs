// Gives libzcio.so its soname. While the version is 0.x the soname is
// libzcio.so.0; from 1.0 on it follows the major version.
fn main() {
    let major = std::env::var("CARGO_PKG_VERSION_MAJOR").unwrap_or_else(|_| "0".into());
    println!("cargo:rustc-cdylib-link-arg=-Wl,-soname,libzcio.so.{major}");
    println!("cargo:rerun-if-changed=build.rs");
}
