//! Test helpers: archives written byte by byte (so tests can hold hostile names), and reading
//! back what a layer tar holds.

use std::io::Read;

use sha2::{Digest as _, Sha256};

pub(crate) fn sha256_hex(bytes: &[u8]) -> String {
    hex::encode(Sha256::digest(bytes))
}

/// Writes tar archives with names taken literally (`..`, absolute links and all).
pub(crate) struct TarBuilder {
    out: Vec<u8>,
}

impl TarBuilder {
    pub(crate) fn new() -> Self {
        Self { out: Vec::new() }
    }

    fn header(kind: tar::EntryType, name: &str, mode: u32, size: u64) -> tar::Header {
        let mut h = tar::Header::new_ustar();
        h.set_entry_type(kind);
        h.set_mode(mode);
        h.set_size(size);
        h.set_uid(0);
        h.set_gid(0);
        h.set_mtime(1_700_000_000);
        let field = &mut h.as_old_mut().name;
        assert!(name.len() < field.len(), "test names fit the v7 field");
        field[..name.len()].copy_from_slice(name.as_bytes());
        h
    }

    fn push(mut self, mut h: tar::Header, data: &[u8]) -> Self {
        h.set_cksum();
        self.out.extend_from_slice(h.as_bytes());
        self.out.extend_from_slice(data);
        let pad = (512 - data.len() % 512) % 512;
        self.out.extend(std::iter::repeat_n(0u8, pad));
        self
    }

    pub(crate) fn file(self, name: &str, mode: u32, data: &[u8]) -> Self {
        let h = Self::header(tar::EntryType::Regular, name, mode, data.len() as u64);
        self.push(h, data)
    }

    pub(crate) fn file_owned(self, name: &str, mode: u32, uid: u64, gid: u64, data: &[u8]) -> Self {
        let mut h = Self::header(tar::EntryType::Regular, name, mode, data.len() as u64);
        h.set_uid(uid);
        h.set_gid(gid);
        self.push(h, data)
    }

    pub(crate) fn dir(self, name: &str, mode: u32) -> Self {
        let h = Self::header(tar::EntryType::Directory, name, mode, 0);
        self.push(h, &[])
    }

    fn link(self, kind: tar::EntryType, name: &str, target: &str) -> Self {
        let mut h = Self::header(kind, name, 0o777, 0);
        let field = &mut h.as_old_mut().linkname;
        field[..target.len()].copy_from_slice(target.as_bytes());
        self.push(h, &[])
    }

    pub(crate) fn symlink(self, name: &str, target: &str) -> Self {
        self.link(tar::EntryType::Symlink, name, target)
    }

    pub(crate) fn hardlink(self, name: &str, target: &str) -> Self {
        self.link(tar::EntryType::Link, name, target)
    }

    pub(crate) fn finish(mut self) -> Vec<u8> {
        self.out.extend_from_slice(&[0u8; 1024]);
        self.out
    }
}

/// One entry of a layer tar, as tests compare them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct TarEntry {
    pub(crate) path: String,
    /// `f` file, `d` directory, `l` symlink (`data` is the target), `p` fifo, `c` char device.
    pub(crate) kind: char,
    pub(crate) mode: u32,
    pub(crate) uid: u64,
    pub(crate) gid: u64,
    pub(crate) data: String,
}

pub(crate) fn entries(tar: &[u8]) -> Vec<TarEntry> {
    let mut archive = tar::Archive::new(tar);
    archive
        .entries()
        .unwrap()
        .map(|e| {
            let mut e = e.unwrap();
            let h = e.header().clone();
            let kind = match h.entry_type() {
                tar::EntryType::Regular => 'f',
                tar::EntryType::Directory => 'd',
                tar::EntryType::Symlink => 'l',
                tar::EntryType::Fifo => 'p',
                tar::EntryType::Char => 'c',
                other => panic!("unexpected entry type {other:?}"),
            };
            let path = String::from_utf8(e.path_bytes().into_owned()).unwrap();
            let mut data = String::new();
            if kind == 'l' {
                data = e.link_name().unwrap().unwrap().display().to_string();
            } else {
                e.read_to_string(&mut data).unwrap();
            }
            TarEntry {
                path,
                kind,
                mode: h.mode().unwrap(),
                uid: h.uid().unwrap(),
                gid: h.gid().unwrap(),
                data,
            }
        })
        .collect()
}

/// Shorthand for expected entries: `e("app/", 'd', 0o755, 0, 0, "")`.
pub(crate) fn e(path: &str, kind: char, mode: u32, uid: u64, gid: u64, data: &str) -> TarEntry {
    TarEntry {
        path: path.to_owned(),
        kind,
        mode,
        uid,
        gid,
        data: data.to_owned(),
    }
}
