// Generates the ABI test: ctest reads src/capi/types.rs (the Rust side) and
// compiles C that includes include/zcio.h (the C side).
fn main() {
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../..");
    let mut cfg = ctest::TestGenerator::new();
    cfg.header("zcio.h")
        .include(root.join("include"))
        .edition(2024);
    if let Err(e) = ctest::generate_test(&mut cfg, root.join("src/capi/types.rs"), "zcio_abi.rs") {
        panic!("ctest could not generate the ABI test: {e}");
    }
    println!(
        "cargo:rerun-if-changed={}",
        root.join("include/zcio.h").display()
    );
    println!(
        "cargo:rerun-if-changed={}",
        root.join("src/capi/types.rs").display()
    );
}
