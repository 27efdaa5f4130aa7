//! Test images built on the fly from Debian's busybox-static.

pub const BUSYBOX: &str = "/bin/busybox";

/// Applets the tests use, linked to busybox as the busybox image does.
const APPLETS: &[&str] = &[
    "sh", "echo", "cat", "ls", "sleep", "env", "pwd", "hostname", "id", "true", "false", "touch",
    "mkdir", "rm", "printf", "test", "ps", "kill", "nc", "wc", "head", "tail", "grep", "sed",
    "date", "uname", "mount", "readlink", "yes", "seq", "stat", "tr", "ip", "ping", "nslookup",
    "route", "netstat", "ifconfig", "tty", "stty", "unshare",
];

/// One archive entry: a regular file, a directory or a symlink.
enum Entry<'a> {
    File(&'a [u8]),
    Dir,
    Symlink(&'a str),
}

fn append(b: &mut tar::Builder<Vec<u8>>, path: &str, mode: u32, entry: Entry<'_>) {
    let mut h = tar::Header::new_gnu();
    h.set_mode(mode);
    h.set_mtime(1_700_000_000);
    h.set_uid(0);
    h.set_gid(0);
    h.set_size(0);
    match entry {
        Entry::File(data) => {
            h.set_entry_type(tar::EntryType::Regular);
            h.set_size(data.len() as u64);
            // Written raw, so tests can make the hostile names (absolute, `..`) that the tar
            // crate's path setters refuse.
            let name = &mut h.as_old_mut().name;
            name.fill(0);
            name[..path.len()].copy_from_slice(path.as_bytes());
            h.set_cksum();
            b.append(&h, data).expect("tar file");
        }
        Entry::Dir => {
            h.set_entry_type(tar::EntryType::Directory);
            b.append_data(&mut h, path, std::io::empty())
                .expect("tar dir");
        }
        Entry::Symlink(target) => {
            h.set_entry_type(tar::EntryType::Symlink);
            b.append_link(&mut h, path, target).expect("tar symlink");
        }
    }
}

/// A tar of (path, mode, contents) regular files and (path, target) symlinks, for tests that
/// need hand-made archives.
pub fn tar_of(files: &[(&str, u32, &[u8])], symlinks: &[(&str, &str)]) -> Vec<u8> {
    let mut b = tar::Builder::new(Vec::new());
    for (path, mode, data) in files {
        append(&mut b, path, *mode, Entry::File(data));
    }
    for (path, target) in symlinks {
        append(&mut b, path, 0o777, Entry::Symlink(target));
    }
    b.into_inner().expect("tar")
}

/// A root filesystem: /bin/busybox, applet links, /etc/passwd and /etc/group, /tmp.
pub fn busybox_rootfs_tar() -> Vec<u8> {
    let busybox = std::fs::read(BUSYBOX).expect("busybox-static is installed (/bin/busybox)");
    let mut b = tar::Builder::new(Vec::new());
    for (d, mode) in [
        ("bin", 0o755),
        ("etc", 0o755),
        ("tmp", 0o1777),
        ("root", 0o700),
        ("home", 0o755),
    ] {
        append(&mut b, d, mode, Entry::Dir);
    }
    append(&mut b, "bin/busybox", 0o755, Entry::File(&busybox));
    let passwd = b"root:x:0:0:root:/root:/bin/sh\nnobody:x:65534:65534:nobody:/home:/bin/false\n";
    append(&mut b, "etc/passwd", 0o644, Entry::File(passwd));
    append(
        &mut b,
        "etc/group",
        0o644,
        Entry::File(b"root:x:0:\nnogroup:x:65534:\n"),
    );
    for applet in APPLETS {
        append(
            &mut b,
            &format!("bin/{applet}"),
            0o777,
            Entry::Symlink("busybox"),
        );
    }
    b.into_inner().expect("tar")
}
