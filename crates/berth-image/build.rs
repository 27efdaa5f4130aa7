//! Compiles `builtin/hello.c`, the program of the built-in hello-world image, into
//! `$OUT_DIR/hello`: static, no libc, stripped, no build id, so it is small and reproducible
//! with a given compiler.

use std::env;
use std::path::PathBuf;
use std::process::Command;

const SOURCE: &str = "builtin/hello.c";

fn main() {
    println!("cargo::rerun-if-changed={SOURCE}");
    let target = env::var("TARGET").expect("cargo sets TARGET");
    let target_cc = format!("CC_{}", target.replace('-', "_"));
    println!("cargo::rerun-if-env-changed={target_cc}");
    println!("cargo::rerun-if-env-changed=CC");

    let cross = env::var("HOST").ok().as_deref() != Some(target.as_str());
    let compiler = match env::var(&target_cc) {
        Ok(cc) => cc,
        Err(_) if cross => {
            panic!("cross-compiling for {target}: set {target_cc} to a C compiler for it")
        }
        Err(_) => env::var("CC").unwrap_or_else(|_| "cc".to_owned()),
    };
    let output = PathBuf::from(env::var_os("OUT_DIR").expect("cargo sets OUT_DIR")).join("hello");
    let status = Command::new(&compiler)
        .args([
            "-nostdlib",
            "-static",
            "-Os",
            "-fno-pie",
            "-no-pie",
            "-ffreestanding",
            "-fno-stack-protector",
            "-fno-asynchronous-unwind-tables",
            "-fno-ident",
            "-Wl,--build-id=none",
            "-Wl,-z,noseparate-code",
            "-s",
            "-o",
        ])
        .arg(&output)
        .arg(SOURCE)
        .status()
        .unwrap_or_else(|e| panic!("running the C compiler {compiler:?} for {SOURCE}: {e}"));
    assert!(
        status.success(),
        "{compiler} failed to build {SOURCE} ({status})"
    );
}
