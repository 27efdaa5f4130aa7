//! The build context: the tar archive (plain or compressed) a client sends with `/build`, or a
//! lone Dockerfile. Entries are indexed in memory and file contents kept in one unnamed spool
//! file, hashed on the way in; nothing is unpacked onto the host filesystem, so odd modes,
//! device nodes or hostile names in the archive can do no harm. Entries that would land outside
//! the context are refused.

use std::collections::{BTreeMap, HashSet};
use std::fs::File;
use std::io::{self, Cursor, Read, Write};
use std::ops::Bound;
use std::path::{Component, Path, PathBuf};

use sha2::{Digest as _, Sha256};

use crate::compression::{self, BLOCK};
use crate::dockerignore::Dockerignore;
use crate::error::{BuildError, Result};
use crate::tree::{self, Escape, FileData, Kind, Node, ResolveError, Tree};

/// Entries a context may have: far more than real projects, far less than exhausts memory.
const MAX_ENTRIES: usize = 1 << 20;
/// A Dockerfile (or .dockerignore) larger than this is refused.
pub(crate) const MAX_DOCKERFILE: u64 = 16 << 20;

#[derive(Debug, Clone)]
struct Entry {
    node: Node,
    /// For regular files: offset in the spool and sha256 (hex) of the contents.
    data: Option<(u64, String)>,
}

/// An indexed build context.
pub(crate) struct BuildContext {
    spool: File,
    spool_len: u64,
    entries: BTreeMap<PathBuf, Entry>,
}

impl BuildContext {
    /// Reads a context archive, or a bare Dockerfile which becomes a context holding only
    /// `dockerfile_name`. Temporary data goes to `tmp_dir`.
    pub(crate) fn load(reader: impl Read, dockerfile_name: &str, tmp_dir: &Path) -> Result<Self> {
        let spool = tempfile::tempfile_in(tmp_dir)
            .map_err(|e| BuildError::io(format!("create a file in {}", tmp_dir.display()), e))?;
        let mut context = Self {
            spool,
            spool_len: 0,
            entries: BTreeMap::new(),
        };
        context.entries.insert(
            PathBuf::new(),
            Entry {
                node: implicit_dir(),
                data: None,
            },
        );
        let read_err = |e: io::Error| BuildError::Context(e.to_string());
        let mut reader = compression::decompress(reader).map_err(read_err)?;
        let mut head = vec![0u8; BLOCK];
        let n = compression::read_up_to(&mut reader, &mut head).map_err(read_err)?;
        head.truncate(n);
        let is_tar =
            n == BLOCK && (compression::is_tar_header(&head) || head.iter().all(|b| *b == 0));
        let stream = Cursor::new(head).chain(reader);
        if is_tar {
            context.read_tar(stream)?;
        } else if n > 0 {
            context.add_lone_dockerfile(stream, dockerfile_name)?;
        }
        Ok(context)
    }

    fn read_tar(&mut self, stream: impl Read) -> Result<()> {
        let mut archive = tar::Archive::new(stream);
        let bad = |e: io::Error| BuildError::Context(e.to_string());
        for entry in archive.entries().map_err(bad)? {
            let mut entry = entry.map_err(bad)?;
            self.add_entry(&mut entry)?;
        }
        Ok(())
    }

    fn add_entry(&mut self, entry: &mut tar::Entry<'_, impl Read>) -> Result<()> {
        let kind = entry.header().entry_type();
        if kind.is_pax_global_extensions() {
            return Ok(());
        }
        let raw = entry
            .path()
            .map_err(|e| BuildError::Context(e.to_string()))?
            .into_owned();
        let path = normalize(&raw)?;
        let header = entry.header();
        let field = |v: io::Result<u64>| v.map_err(|e| context_error(&raw, &e.to_string()));
        let mut node = Node {
            kind: Kind::File,
            mode: u32::try_from(field(header.mode().map(u64::from))? & 0o7777).unwrap_or(0),
            uid: field(header.uid())?,
            gid: field(header.gid())?,
            mtime: field(header.mtime())?,
            size: 0,
        };
        let (major, minor) = (
            header.device_major().ok().flatten().unwrap_or(0),
            header.device_minor().ok().flatten().unwrap_or(0),
        );
        let mut data = None;
        match kind {
            tar::EntryType::Regular | tar::EntryType::Continuous => {
                let (offset, len, digest) = self.spool_from(entry, &raw)?;
                node.size = len;
                data = Some((offset, digest));
            }
            tar::EntryType::Directory => node.kind = Kind::Dir,
            tar::EntryType::Symlink => {
                let target = entry
                    .link_name()
                    .map_err(|e| context_error(&raw, &e.to_string()))?
                    .ok_or_else(|| context_error(&raw, "symlink without a target"))?;
                node.kind = Kind::Symlink(target.into_owned());
            }
            tar::EntryType::Link => {
                let target = entry
                    .link_name()
                    .map_err(|e| context_error(&raw, &e.to_string()))?
                    .ok_or_else(|| context_error(&raw, "hard link without a target"))?;
                let target = normalize(&target)?;
                let linked = self
                    .entries
                    .get(&target)
                    .filter(|e| e.node.kind == Kind::File)
                    .ok_or_else(|| {
                        context_error(
                            &raw,
                            "hard link to a file that is not in the archive before it",
                        )
                    })?
                    .clone();
                return self.insert(path, linked, &raw);
            }
            tar::EntryType::Fifo => node.kind = Kind::Fifo,
            tar::EntryType::Char => node.kind = Kind::Char { major, minor },
            tar::EntryType::Block => node.kind = Kind::Block { major, minor },
            other => {
                return Err(context_error(
                    &raw,
                    &format!("unsupported entry type {:?}", other.as_byte() as char),
                ));
            }
        }
        self.insert(path, Entry { node, data }, &raw)
    }

    fn add_lone_dockerfile(&mut self, stream: impl Read, name: &str) -> Result<()> {
        let path = normalize(Path::new(name))?;
        let mut limited = stream.take(MAX_DOCKERFILE + 1);
        let (offset, len, digest) = self.spool_from(&mut limited, Path::new(name))?;
        if len > MAX_DOCKERFILE {
            return Err(BuildError::Dockerfile(format!(
                "the Dockerfile is larger than {MAX_DOCKERFILE} bytes"
            )));
        }
        let node = Node {
            kind: Kind::File,
            mode: 0o644,
            uid: 0,
            gid: 0,
            mtime: 0,
            size: len,
        };
        self.insert(
            path,
            Entry {
                node,
                data: Some((offset, digest)),
            },
            Path::new(name),
        )
    }

    /// Appends a file's bytes to the spool, hashing them.
    fn spool_from(&mut self, r: &mut impl Read, raw: &Path) -> Result<(u64, u64, String)> {
        let offset = self.spool_len;
        let mut sink = HashingWriter {
            inner: &mut self.spool,
            hasher: Sha256::new(),
        };
        let len = io::copy(r, &mut sink).map_err(|e| context_error(raw, &e.to_string()))?;
        let digest = hex::encode(sink.hasher.finalize());
        self.spool_len += len;
        Ok((offset, len, digest))
    }

    fn insert(&mut self, path: PathBuf, entry: Entry, raw: &Path) -> Result<()> {
        if path.as_os_str().is_empty() {
            // The archive's "./": only a directory can be the root.
            if !entry.node.is_dir() {
                return Err(context_error(raw, "the context root must be a directory"));
            }
            self.entries.insert(path, entry);
            return Ok(());
        }
        if self.entries.len() >= MAX_ENTRIES {
            return Err(BuildError::Context(format!(
                "more than {MAX_ENTRIES} entries"
            )));
        }
        for ancestor in path.ancestors().skip(1) {
            match self.entries.get(ancestor) {
                Some(e) if e.node.is_dir() => break,
                Some(_) => {
                    return Err(context_error(
                        raw,
                        &format!("{} is not a directory", ancestor.display()),
                    ));
                }
                None => {
                    self.entries.insert(
                        ancestor.to_path_buf(),
                        Entry {
                            node: implicit_dir(),
                            data: None,
                        },
                    );
                }
            }
        }
        let replaces_dir = self.entries.get(&path).is_some_and(|e| e.node.is_dir());
        if replaces_dir && !entry.node.is_dir() {
            let below: Vec<PathBuf> = self.below(&path).map(|(p, _)| p.clone()).collect();
            for p in below {
                self.entries.remove(&p);
            }
        }
        self.entries.insert(path, entry);
        Ok(())
    }

    fn below<'a>(&'a self, dir: &'a Path) -> impl Iterator<Item = (&'a PathBuf, &'a Entry)> + 'a {
        self.entries
            .range::<Path, _>((Bound::Excluded(dir), Bound::Unbounded))
            .take_while(move |(p, _)| p.starts_with(dir))
    }

    /// A file's contents, following symlinks inside the context; `None` if it is not there.
    pub(crate) fn read_file(&self, name: &str, limit: u64) -> Result<Option<Vec<u8>>> {
        let resolved = match tree::resolve(self, Path::new(name), true) {
            Ok(r) => r,
            Err(ResolveError::Escapes) => {
                return Err(BuildError::Context(format!(
                    "{name} is a symlink that leads outside the context"
                )));
            }
            Err(_) => return Ok(None),
        };
        let Some(Entry {
            node,
            data: Some((offset, _)),
        }) = self.entries.get(&resolved.path)
        else {
            return Ok(None);
        };
        if node.size > limit {
            return Err(BuildError::Dockerfile(format!(
                "{name} is larger than {limit} bytes"
            )));
        }
        let mut bytes = Vec::new();
        FileData::Spool {
            file: &self.spool,
            offset: *offset,
            len: node.size,
        }
        .open()
        .and_then(|mut r| r.read_to_end(&mut bytes))
        .map_err(|e| BuildError::io(format!("read {name} from the build context"), e))?;
        Ok(Some(bytes))
    }

    /// Leaves out what `.dockerignore` excludes. A directory stays when something below it
    /// was re-included with `!`.
    pub(crate) fn apply_dockerignore(&mut self, ignore: &Dockerignore) {
        let mut needed: HashSet<PathBuf> = HashSet::new();
        let mut drop = Vec::new();
        for path in self.entries.keys().rev() {
            if path.as_os_str().is_empty() || needed.contains(path) {
                continue;
            }
            if ignore.excludes(&path.to_string_lossy()) {
                drop.push(path.clone());
                continue;
            }
            for ancestor in path.ancestors().skip(1) {
                if !needed.insert(ancestor.to_path_buf()) {
                    break;
                }
            }
        }
        for path in drop {
            self.entries.remove(&path);
        }
    }
}

impl Tree for BuildContext {
    fn lstat(&self, path: &Path) -> Result<Option<Node>> {
        Ok(self.entries.get(path).map(|e| e.node.clone()))
    }

    fn walk(&self, dir: &Path) -> Result<Vec<(PathBuf, Node)>> {
        Ok(self
            .below(dir)
            .map(|(p, e)| (p.clone(), e.node.clone()))
            .collect())
    }

    fn data(&self, path: &Path) -> Result<FileData<'_>> {
        match self.entries.get(path) {
            Some(Entry {
                node,
                data: Some((offset, _)),
            }) => Ok(FileData::Spool {
                file: &self.spool,
                offset: *offset,
                len: node.size,
            }),
            _ => Err(BuildError::invalid(format!(
                "{} is not a file in the build context",
                path.display()
            ))),
        }
    }

    fn content_digest(&self, path: &Path) -> Result<String> {
        match self.entries.get(path) {
            Some(Entry {
                data: Some((_, digest)),
                ..
            }) => Ok(digest.clone()),
            _ => Err(BuildError::invalid(format!(
                "{} is not a file in the build context",
                path.display()
            ))),
        }
    }

    fn escape(&self) -> Escape {
        Escape::Refuse
    }
}

/// A directory the archive implies but does not list (a parent of an entry).
fn implicit_dir() -> Node {
    Node {
        kind: Kind::Dir,
        mode: 0o755,
        uid: 0,
        gid: 0,
        mtime: 0,
        size: 0,
    }
}

/// An archive path as a clean relative path; one that climbs out of the context is refused.
fn normalize(raw: &Path) -> Result<PathBuf> {
    let mut out = PathBuf::new();
    for c in raw.components() {
        match c {
            Component::Normal(part) => out.push(part),
            Component::ParentDir => {
                if !out.pop() {
                    return Err(context_error(raw, "the path leads outside the context"));
                }
            }
            Component::RootDir | Component::CurDir | Component::Prefix(_) => {}
        }
    }
    Ok(out)
}

fn context_error(raw: &Path, reason: &str) -> BuildError {
    BuildError::Context(format!("entry {}: {reason}", raw.display()))
}

struct HashingWriter<'a> {
    inner: &'a mut File,
    hasher: Sha256,
}

impl Write for HashingWriter<'_> {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        let n = self.inner.write(buf)?;
        self.hasher.update(&buf[..n]);
        Ok(n)
    }

    fn flush(&mut self) -> io::Result<()> {
        self.inner.flush()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testing::{TarBuilder, sha256_hex};

    fn load(tar: Vec<u8>) -> BuildContext {
        let tmp = tempfile::tempdir().unwrap();
        BuildContext::load(&tar[..], "Dockerfile", tmp.path()).unwrap()
    }

    fn load_err(tar: Vec<u8>) -> String {
        let tmp = tempfile::tempdir().unwrap();
        match BuildContext::load(&tar[..], "Dockerfile", tmp.path()) {
            Ok(_) => panic!("loaded"),
            Err(e) => e.to_string(),
        }
    }

    fn paths(c: &BuildContext) -> Vec<String> {
        c.walk(Path::new(""))
            .unwrap()
            .into_iter()
            .map(|(p, _)| p.display().to_string())
            .collect()
    }

    #[test]
    fn indexes_files_dirs_links_and_implied_parents() {
        let tar = TarBuilder::new()
            .file("./Dockerfile", 0o644, b"FROM scratch\n")
            .file("src/lib/a.rs", 0o600, b"fn a() {}")
            .symlink("link", "src/lib/a.rs")
            .hardlink("hard", "Dockerfile")
            .dir("empty", 0o700)
            .finish();
        let c = load(tar);
        assert_eq!(
            paths(&c),
            [
                "Dockerfile",
                "empty",
                "hard",
                "link",
                "src",
                "src/lib",
                "src/lib/a.rs"
            ]
        );
        let a = c.lstat(Path::new("src/lib/a.rs")).unwrap().unwrap();
        assert_eq!((a.kind, a.mode, a.size), (Kind::File, 0o600, 9));
        assert_eq!(
            c.content_digest(Path::new("src/lib/a.rs")).unwrap(),
            sha256_hex(b"fn a() {}")
        );
        assert_eq!(
            c.read_file("hard", 100).unwrap().unwrap(),
            b"FROM scratch\n"
        );
        assert_eq!(c.read_file("link", 100).unwrap().unwrap(), b"fn a() {}");
        assert_eq!(c.read_file("missing", 100).unwrap(), None);
        assert_eq!(c.lstat(Path::new("src")).unwrap().unwrap().mode, 0o755);
    }

    #[test]
    fn a_compressed_context_is_read_too() {
        use std::io::Write as _;
        let tar = TarBuilder::new()
            .file("Dockerfile", 0o644, b"FROM x")
            .finish();
        let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
        gz.write_all(&tar).unwrap();
        let c = load(gz.finish().unwrap());
        assert_eq!(c.read_file("Dockerfile", 100).unwrap().unwrap(), b"FROM x");
    }

    #[test]
    fn a_bare_dockerfile_is_a_context_of_one_file() {
        let c = load(b"FROM busybox\nRUN true\n".to_vec());
        assert_eq!(paths(&c), ["Dockerfile"]);
        let empty = load(Vec::new());
        assert!(paths(&empty).is_empty());
    }

    #[test]
    fn refuses_entries_outside_the_context() {
        let tar = TarBuilder::new().file("../evil", 0o644, b"x").finish();
        assert_eq!(
            load_err(tar),
            "invalid build context: entry ../evil: the path leads outside the context"
        );
        let tar = TarBuilder::new()
            .file("a", 0o644, b"x")
            .file("a/b", 0o644, b"y")
            .finish();
        assert_eq!(
            load_err(tar),
            "invalid build context: entry a/b: a is not a directory"
        );
        let tar = TarBuilder::new().hardlink("h", "nothing").finish();
        assert!(load_err(tar).contains("hard link to a file that is not in the archive"));
    }

    #[test]
    fn a_symlinked_dockerfile_may_not_leave_the_context() {
        let tar = TarBuilder::new()
            .symlink("Dockerfile", "/etc/passwd")
            .finish();
        let c = load(tar);
        let err = c.read_file("Dockerfile", 100).unwrap_err().to_string();
        assert_eq!(
            err,
            "invalid build context: Dockerfile is a symlink that leads outside the context"
        );
    }

    #[test]
    fn a_later_entry_replaces_an_earlier_one() {
        let tar = TarBuilder::new()
            .file("d/x", 0o644, b"1")
            .file("d", 0o644, b"now a file")
            .finish();
        let c = load(tar);
        assert_eq!(paths(&c), ["d"]);
    }

    #[test]
    fn dockerignore_leaves_out_matches_but_keeps_re_included_files() {
        let tar = TarBuilder::new()
            .file("Dockerfile", 0o644, b"FROM x")
            .file("docs/a.md", 0o644, b"a")
            .file("docs/keep.md", 0o644, b"k")
            .file("target/debug/bin", 0o755, b"b")
            .file("src/main.rs", 0o644, b"m")
            .finish();
        let mut c = load(tar);
        c.apply_dockerignore(&Dockerignore::parse("docs\n!docs/keep.md\ntarget\n").unwrap());
        assert_eq!(
            paths(&c),
            ["Dockerfile", "docs", "docs/keep.md", "src", "src/main.rs"]
        );
    }
}
