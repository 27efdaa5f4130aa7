//! A tree whose only entry is one file: an ADD URL's download, a COPY here-document.

use std::ffi::OsString;
use std::fs::File;
use std::io::{self, Seek, SeekFrom};
use std::path::{Path, PathBuf};

use sha2::{Digest as _, Sha256};

use crate::error::Result;
use crate::tree::{Escape, FileData, Kind, Node, Tree};

pub(crate) struct OneFileTree {
    body: File,
    name: OsString,
    node: Node,
    digest: String,
}

impl OneFileTree {
    /// The file `body` (read from its start) named `name` (may be empty: unnamed).
    pub(crate) fn new(mut body: File, name: &str, mode: u32, mtime: u64) -> io::Result<Self> {
        let mut hasher = Sha256::new();
        body.seek(SeekFrom::Start(0))?;
        let size = io::copy(&mut body, &mut hasher)?;
        Ok(Self {
            body,
            name: OsString::from(name),
            node: Node {
                kind: Kind::File,
                mode,
                uid: 0,
                gid: 0,
                mtime,
                size,
            },
            digest: hex::encode(hasher.finalize()),
        })
    }

    /// The file's name; empty when nothing named it.
    pub(crate) fn name(&self) -> &OsString {
        &self.name
    }

    pub(crate) fn node(&self) -> &Node {
        &self.node
    }

    /// Where the file is in this tree.
    pub(crate) fn path(&self) -> PathBuf {
        PathBuf::from("file")
    }
}

impl Tree for OneFileTree {
    fn lstat(&self, path: &Path) -> Result<Option<Node>> {
        Ok(if path.as_os_str().is_empty() {
            Some(Node {
                kind: Kind::Dir,
                mode: 0o755,
                uid: 0,
                gid: 0,
                mtime: 0,
                size: 0,
            })
        } else if path == self.path() {
            Some(self.node.clone())
        } else {
            None
        })
    }

    fn walk(&self, dir: &Path) -> Result<Vec<(PathBuf, Node)>> {
        Ok(if dir.as_os_str().is_empty() {
            vec![(self.path(), self.node.clone())]
        } else {
            Vec::new()
        })
    }

    fn data(&self, _path: &Path) -> Result<FileData<'_>> {
        Ok(FileData::Spool {
            file: &self.body,
            offset: 0,
            len: self.node.size,
        })
    }

    fn content_digest(&self, _path: &Path) -> Result<String> {
        Ok(self.digest.clone())
    }

    fn escape(&self) -> Escape {
        Escape::Refuse
    }
}
