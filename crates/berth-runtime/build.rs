//! Compiles the container init program (`init/berth-init.c`) with the system C compiler into
//! a static, stripped binary, which `berth_runtime::init_binary` embeds.

use std::env;
use std::path::PathBuf;
use std::process::Command;

const SOURCE: &str = "init/berth-init.c";

fn main() {
    println!("cargo:rerun-if-changed={SOURCE}");
    println!("cargo:rerun-if-env-changed=CC");
    let out_dir = env::var_os("OUT_DIR").expect("cargo sets OUT_DIR");
    let binary = PathBuf::from(out_dir).join("berth-init");
    let cc = env::var_os("CC").unwrap_or_else(|| "cc".into());
    let output = Command::new(&cc)
        .args(["-static", "-Os", "-s", "-std=c11", "-Wall", "-Wextra", "-o"])
        .arg(&binary)
        .arg(SOURCE)
        .output()
        .unwrap_or_else(|e| panic!("running the C compiler {}: {e}", cc.to_string_lossy()));
    for line in String::from_utf8_lossy(&output.stderr).lines() {
        println!("cargo:warning={line}");
    }
    assert!(
        output.status.success(),
        "compiling {SOURCE} failed ({}): a C compiler and a static libc (libc6-dev) are needed",
        output.status
    );
}
