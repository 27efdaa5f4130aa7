//! The platform berth runs on, in the names images use (Go's GOOS/GOARCH).

pub(crate) const OS: &str = "linux";

/// This machine's architecture as Go names it (`amd64`, `arm64`, ...).
pub(crate) fn architecture() -> &'static str {
    match std::env::consts::ARCH {
        "x86_64" => "amd64",
        "aarch64" => "arm64",
        "x86" => "386",
        "powerpc64" if cfg!(target_endian = "little") => "ppc64le",
        "loongarch64" => "loong64",
        other => other, // arm, s390x, riscv64, mips64 ... are spelled the same
    }
}
