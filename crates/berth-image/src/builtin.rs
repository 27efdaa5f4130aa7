//! The built-in `hello-world` image: a tiny static program (see `builtin/hello.c`) that the
//! engine [imports](crate::ImageStore::import) when asked for `hello-world`, so the first
//! `berth run hello-world` needs no registry.

use std::time::{Duration, SystemTime};

/// The program, built by `build.rs`.
const HELLO: &[u8] = include_bytes!(concat!(env!("OUT_DIR"), "/hello"));
/// 2025-01-01T00:00:00Z: mtime of `/hello`, and the `created` to import the image with.
const CREATED_UNIX_SECS: u64 = 1_735_689_600;

/// A deterministic rootfs tar holding `/hello` (mode 0755, root-owned, fixed mtime).
pub fn hello_world_rootfs() -> Vec<u8> {
    let mut header = tar::Header::new_ustar();
    header.set_entry_type(tar::EntryType::Regular);
    header.set_size(HELLO.len() as u64);
    header.set_mode(0o755);
    header.set_uid(0);
    header.set_gid(0);
    header.set_mtime(CREATED_UNIX_SECS);
    let mut tar = tar::Builder::new(Vec::new());
    tar.append_data(&mut header, "hello", HELLO)
        .expect("appending to a Vec cannot fail");
    tar.into_inner().expect("finishing a Vec cannot fail")
}

/// The container config of the hello-world image (Docker's `Config` object).
pub fn hello_world_config() -> serde_json::Value {
    serde_json::json!({
        "Cmd": ["/hello"],
        "Env": ["PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"],
    })
}

/// The `created` time to import the hello-world image with, so its id never changes.
pub fn hello_world_created() -> SystemTime {
    SystemTime::UNIX_EPOCH + Duration::from_secs(CREATED_UNIX_SECS)
}

#[cfg(test)]
mod tests {
    use std::io::Read;
    use std::os::unix::fs::PermissionsExt;
    use std::process::Command;

    use super::*;

    #[test]
    fn the_program_greets_and_exits_zero() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("hello");
        std::fs::write(&path, HELLO).unwrap();
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o755)).unwrap();
        let output = Command::new(&path).output().unwrap();
        let stdout = String::from_utf8(output.stdout).unwrap();
        assert!(output.status.success(), "{:?}", output.status);
        assert!(stdout.starts_with("\nHello from berth!\n"), "{stdout}");
        assert!(stdout.contains("berth run -it busybox sh"), "{stdout}");
        assert!(output.stderr.is_empty());
    }

    #[test]
    fn the_rootfs_is_deterministic_and_holds_only_hello() {
        let tar = hello_world_rootfs();
        assert_eq!(tar, hello_world_rootfs());
        let mut archive = tar::Archive::new(&tar[..]);
        let mut entries = archive.entries().unwrap();
        let mut hello = entries.next().unwrap().unwrap();
        assert_eq!(hello.path().unwrap().to_str(), Some("hello"));
        assert_eq!(hello.header().mode().unwrap(), 0o755);
        assert_eq!(hello.header().mtime().unwrap(), CREATED_UNIX_SECS);
        let mut content = Vec::new();
        hello.read_to_end(&mut content).unwrap();
        assert_eq!(content, HELLO);
        drop(hello);
        assert!(entries.next().is_none());
    }
}
