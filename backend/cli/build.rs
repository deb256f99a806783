//! The `footfall` binary links DuckDB's prebuilt shared library (footfall-store's `duckdb`
//! feature) from `DUCKDB_LIB_DIR`. Recording that directory as the binary's rpath lets it start
//! from anywhere, not only under `cargo run` or with scripts/env.sh's loader path.

fn main() {
    println!("cargo:rerun-if-env-changed=DUCKDB_LIB_DIR");
    let bundled = std::env::var_os("CARGO_FEATURE_BUNDLED_DUCKDB").is_some();
    let unix = std::env::var("CARGO_CFG_UNIX").is_ok();
    if let (false, true, Ok(dir)) = (bundled, unix, std::env::var("DUCKDB_LIB_DIR")) {
        println!("cargo:rustc-link-arg-bins=-Wl,-rpath,{dir}");
    }
}
