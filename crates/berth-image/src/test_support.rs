//! Helpers for this crate's tests: hand-made tars (including malicious ones) and stores.

use std::fs;
use std::path::{Path, PathBuf};

use crate::store::ImageStore;

pub(crate) const UID: u64 = 1000;
pub(crate) const GID: u64 = 1001;
pub(crate) const MTIME: u64 = 1_600_000_000;

/// Builds tars entry by entry, writing names and link targets verbatim (the `tar` crate's own
/// path checks would refuse the malicious ones these tests need).
pub(crate) struct TarBuilder {
    tar: tar::Builder<Vec<u8>>,
}

impl TarBuilder {
    pub(crate) fn new() -> Self {
        Self {
            tar: tar::Builder::new(Vec::new()),
        }
    }

    pub(crate) fn dir(self, path: &str, mode: u32) -> Self {
        self.entry(tar::EntryType::Directory, path, "", mode, b"")
    }

    pub(crate) fn file(self, path: &str, mode: u32, content: &[u8]) -> Self {
        self.entry(tar::EntryType::Regular, path, "", mode, content)
    }

    pub(crate) fn symlink(self, path: &str, target: &str) -> Self {
        self.entry(tar::EntryType::Symlink, path, target, 0o777, b"")
    }

    pub(crate) fn hardlink(self, path: &str, target: &str) -> Self {
        self.entry(tar::EntryType::Link, path, target, 0o644, b"")
    }

    pub(crate) fn char_device(mut self, path: &str, major: u32, minor: u32) -> Self {
        let mut header = header(tar::EntryType::Char, path, "", 0o666, 0);
        header.set_device_major(major).unwrap();
        header.set_device_minor(minor).unwrap();
        header.set_cksum();
        self.tar.append(&header, &b""[..]).unwrap();
        self
    }

    /// A PAX header giving the next entry the extended attribute `key`.
    pub(crate) fn xattr(mut self, key: &str, value: &str) -> Self {
        let record = |len: usize| format!("{len} SCHILY.xattr.{key}={value}\n");
        let mut len = record(0).len();
        while record(len).len() != len {
            len = record(len).len();
        }
        let data = record(len);
        let header = header(tar::EntryType::XHeader, "pax", "", 0o644, data.len() as u64);
        self.tar.append(&header, data.as_bytes()).unwrap();
        self
    }

    pub(crate) fn entry(
        mut self,
        kind: tar::EntryType,
        path: &str,
        link: &str,
        mode: u32,
        data: &[u8],
    ) -> Self {
        let header = header(kind, path, link, mode, data.len() as u64);
        self.tar.append(&header, data).unwrap();
        self
    }

    pub(crate) fn finish(self) -> Vec<u8> {
        self.tar.into_inner().unwrap()
    }
}

fn header(kind: tar::EntryType, path: &str, link: &str, mode: u32, size: u64) -> tar::Header {
    let mut header = tar::Header::new_gnu();
    let old = header.as_old_mut();
    old.name[..path.len()].copy_from_slice(path.as_bytes());
    old.linkname[..link.len()].copy_from_slice(link.as_bytes());
    header.set_entry_type(kind);
    header.set_mode(mode);
    header.set_uid(UID);
    header.set_gid(GID);
    header.set_mtime(MTIME);
    header.set_size(size);
    header.set_cksum();
    header
}

pub(crate) fn gzip(data: &[u8]) -> Vec<u8> {
    use std::io::Write;
    let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
    gz.write_all(data).unwrap();
    gz.finish().unwrap()
}

/// A store in a fresh temp dir (removed when the guard drops).
pub(crate) fn store() -> (tempfile::TempDir, ImageStore) {
    let dir = tempfile::tempdir().unwrap();
    let store = ImageStore::open(dir.path()).unwrap();
    (dir, store)
}

/// Names in a directory, sorted.
pub(crate) fn entries(dir: &Path) -> Vec<String> {
    let mut names: Vec<String> = fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().into_string().unwrap())
        .collect();
    names.sort();
    names
}

/// The names in `layers/` and `content/blobs/sha256/`: both empty for an untouched store.
pub(crate) fn store_contents(root: &Path) -> (Vec<String>, Vec<String>) {
    (
        entries(&root.join("layers")),
        entries(&root.join("content/blobs/sha256")),
    )
}

pub(crate) fn layer_diff(root: &Path, chain: &crate::ChainId) -> PathBuf {
    root.join("layers").join(chain.hex()).join("diff")
}

/// Unpacking layers needs root (chown, device nodes, trusted xattrs). Skips locally without
/// it; CI (`CI=true`) must run these tests.
pub(crate) fn root_or_skip() -> bool {
    if rustix::process::geteuid().is_root() {
        return true;
    }
    assert!(
        std::env::var("CI").as_deref() != Ok("true"),
        "layer tests need root, and CI must run them"
    );
    eprintln!("skipping: unpacking layers needs root");
    false
}

/// An image config for layers with these uncompressed tars.
pub(crate) fn image_config(layer_tars: &[&[u8]]) -> Vec<u8> {
    let diff_ids: Vec<String> = layer_tars
        .iter()
        .map(|t| crate::Digest::of(t).to_string())
        .collect();
    serde_json::to_vec(&serde_json::json!({
        "architecture": "amd64",
        "os": "linux",
        "config": {"Cmd": ["/bin/sh"]},
        "rootfs": {"type": "layers", "diff_ids": diff_ids},
    }))
    .unwrap()
}

/// Two small layer tars, the second on top of the first.
pub(crate) fn two_layers() -> (Vec<u8>, Vec<u8>) {
    let bottom = TarBuilder::new()
        .dir("etc/", 0o755)
        .file("etc/os-release", 0o644, b"ID=berth\n")
        .finish();
    let top = TarBuilder::new()
        .file("etc/motd", 0o644, b"hi\n")
        .file(".wh.tmp", 0o644, b"")
        .finish();
    (bottom, top)
}

/// A legacy `docker save` archive: `<hex>.json` config, `layerN/layer.tar` symlinked to
/// `layerN.tar` (as Docker links duplicate layers), `manifest.json`, `repositories`.
pub(crate) fn legacy_archive(config: &[u8], layer_tars: &[&[u8]], tags: &[&str]) -> Vec<u8> {
    let config_name = format!("{}.json", crate::Digest::of(config).hex());
    let mut tar = TarBuilder::new().file(&config_name, 0o644, config);
    let mut layer_paths = Vec::new();
    for (i, layer) in layer_tars.iter().enumerate() {
        tar = tar
            .file(&format!("layer{i}.tar"), 0o644, layer)
            .dir(&format!("layer{i}/"), 0o755)
            .file(&format!("layer{i}/VERSION"), 0o644, b"1.0")
            .symlink(&format!("layer{i}/layer.tar"), &format!("../layer{i}.tar"));
        layer_paths.push(format!("layer{i}/layer.tar"));
    }
    let manifest =
        serde_json::json!([{"Config": config_name, "RepoTags": tags, "Layers": layer_paths}]);
    tar.file(
        "manifest.json",
        0o644,
        &serde_json::to_vec(&manifest).unwrap(),
    )
    .file("repositories", 0o644, b"{}")
    .finish()
}

pub(crate) fn fixture(name: &str) -> Vec<u8> {
    fs::read(
        Path::new(
            &std::env::var("CARGO_MANIFEST_DIR").expect("cargo test sets CARGO_MANIFEST_DIR"),
        )
        .join("tests/fixtures")
        .join(name),
    )
    .unwrap()
}
