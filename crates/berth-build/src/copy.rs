//! COPY and ADD semantics, independent of where the files come from: which sources a list of
//! paths and globs names, their content hash (the cache key), and where each lands in the
//! layer — a directory's contents into the destination, a file into it when it is (or ends in
//! `/` as) a directory, an ADD archive unpacked, missing parents created.

use std::ffi::OsString;
use std::path::{Path, PathBuf};

use sha2::{Digest as _, Sha256};

use crate::archive::{self, Spool};
use crate::error::{BuildError, Result};
use crate::layer_tar::{EntryKind, LayerEntries, TarEntry};
use crate::pattern::{self, Pattern};
use crate::tree::{self, Kind, Node, ResolveError, Tree};

/// One thing to copy: a file, directory, link or device node in some tree.
pub(crate) struct Source<'t> {
    pub(crate) tree: &'t dyn Tree,
    /// Resolved path in the tree (a symlink named directly was followed).
    pub(crate) path: PathBuf,
    pub(crate) node: Node,
    /// The name a file gets inside a destination directory: the last component as written.
    pub(crate) name: OsString,
}

/// Finds what one COPY/ADD source argument names. Errors are Docker's messages (the caller
/// prefixes `COPY failed: `).
pub(crate) fn collect<'t>(
    tree: &'t dyn Tree,
    raw: &str,
) -> std::result::Result<Vec<Source<'t>>, String> {
    let trimmed = raw.strip_prefix('/').unwrap_or(raw);
    let trimmed = trimmed.strip_prefix("./").unwrap_or(trimmed);
    if pattern::has_wildcards(trimmed) {
        let glob = Pattern::glob(trimmed).map_err(|e| format!("{e}: {raw}"))?;
        let walked = tree.walk(Path::new("")).map_err(|e| e.to_string())?;
        let mut found = Vec::new();
        for (path, _) in walked {
            if glob.matches(&path.to_string_lossy()) {
                found.push(source_at(tree, &path.to_string_lossy(), raw)?);
            }
        }
        return Ok(found);
    }
    Ok(vec![source_at(tree, trimmed, raw)?])
}

fn source_at<'t>(
    tree: &'t dyn Tree,
    path: &str,
    raw: &str,
) -> std::result::Result<Source<'t>, String> {
    let not_found = || {
        format!(
            "file not found in build context or excluded by .dockerignore: stat {raw}: file does not exist"
        )
    };
    let resolved = tree::resolve(tree, Path::new(path), true).map_err(|e| match e {
        ResolveError::Escapes => format!("forbidden path outside the build context: {raw} ()"),
        ResolveError::TooManyLinks => format!("stat {raw}: too many levels of symbolic links"),
        ResolveError::NotADirectory(_) => not_found(),
        ResolveError::Io(message) => message,
    })?;
    let node = resolved.node.ok_or_else(not_found)?;
    if raw.ends_with('/') && !node.is_dir() {
        return Err(not_found());
    }
    let name = Path::new(path)
        .file_name()
        .map_or_else(|| OsString::from("."), |n| n.to_os_string());
    Ok(Source {
        tree,
        path: resolved.path,
        node,
        name,
    })
}

/// The content hash Docker's history shows (`file:<hex>`, `dir:<hex>`): names below the
/// source, types, modes, link targets and file contents; owners only when they are kept.
pub(crate) fn source_hash(source: &Source<'_>, keep_owner: bool) -> Result<String> {
    let describe = |path: &Path, node: &Node| -> Result<String> {
        let what = match &node.kind {
            Kind::File => format!("file:{}", source.tree.content_digest(path)?),
            Kind::Dir => "dir".to_owned(),
            Kind::Symlink(target) => format!("link:{}", target.display()),
            Kind::Fifo => "fifo".to_owned(),
            Kind::Char { major, minor } => format!("char:{major},{minor}"),
            Kind::Block { major, minor } => format!("block:{major},{minor}"),
        };
        let owner = if keep_owner {
            format!("{}:{}", node.uid, node.gid)
        } else {
            String::new()
        };
        Ok(format!("{:o}\0{owner}\0{what}", node.mode))
    };
    if !source.node.is_dir() {
        let line = format!(
            "{}\0{}",
            source.name.to_string_lossy(),
            describe(&source.path, &source.node)?
        );
        return Ok(format!("file:{}", hex::encode(Sha256::digest(line))));
    }
    let mut hasher = Sha256::new();
    hasher.update(describe(&source.path, &source.node)?);
    for (path, node) in source.tree.walk(&source.path)? {
        let rel = path.strip_prefix(&source.path).unwrap_or(&path);
        hasher.update(format!("\n{}\0{}", rel.display(), describe(&path, &node)?));
    }
    Ok(format!("dir:{}", hex::encode(hasher.finalize())))
}

/// One hash for all sources: Docker's `multi:` hash when there are several.
pub(crate) fn combined_hash(hashes: &[String]) -> String {
    match hashes {
        [one] => one.clone(),
        many => format!("multi:{}", hex::encode(Sha256::digest(many.join(",")))),
    }
}

/// How copied entries are owned and moded.
pub(crate) struct Placement {
    /// `None` keeps the source's owners (COPY --from without --chown).
    pub(crate) owner: Option<(u64, u64)>,
    pub(crate) chmod: Option<u32>,
    /// The mtime of directories the copy creates.
    pub(crate) now: u64,
    /// ADD: unpack local archives.
    pub(crate) unpack: bool,
}

impl Placement {
    fn adjust<'a>(&self, mut entry: TarEntry<'a>) -> TarEntry<'a> {
        if let Some((uid, gid)) = self.owner {
            entry.uid = uid;
            entry.gid = gid;
        }
        if let Some(mode) = self.chmod
            && !matches!(entry.kind, EntryKind::Symlink(_))
        {
            entry.mode = mode;
        }
        entry
    }

    fn new_dir_owner(&self) -> (u64, u64) {
        self.owner.unwrap_or((0, 0))
    }
}

/// Puts one source into the layer at `dest` (absolute, as written after WORKDIR joining).
pub(crate) fn place<'a>(
    layer: &mut LayerEntries<'a>,
    dest_tree: &dyn Tree,
    dest: &str,
    source: &Source<'a>,
    placement: &Placement,
    spool: &mut Spool<'a>,
) -> Result<()> {
    let now = placement.now;
    let root_dirs = || TarEntry::dir(0o755, (0, 0), now);
    let data = |path: &Path| -> Result<Option<tree::FileData<'a>>> {
        Ok(match source.node.kind {
            Kind::File => Some(source.tree.data(path)?),
            _ => None,
        })
    };
    if source.node.is_dir() {
        let (target, existing) = resolve_dest(dest_tree, dest)?;
        match &existing {
            Some(node) if !node.is_dir() => {
                return Err(BuildError::invalid(format!(
                    "cannot copy to non-directory: {dest}"
                )));
            }
            Some(_) => layer.ensure_dir(dest_tree, &target, &root_dirs)?,
            None => {
                if let Some(parent) = target.parent() {
                    layer.ensure_dir(dest_tree, parent, &root_dirs)?;
                }
                let root = TarEntry::like(&source.node, None)?;
                layer.insert(target.clone(), placement.adjust(root))?;
            }
        }
        for (path, node) in source.tree.walk(&source.path)? {
            let rel = path.strip_prefix(&source.path).unwrap_or(&path);
            let file = match node.kind {
                Kind::File => Some(source.tree.data(&path)?),
                _ => None,
            };
            let entry = TarEntry::like(&node, file)?;
            layer.insert(target.join(rel), placement.adjust(entry))?;
        }
        return Ok(());
    }

    let file_data = data(&source.path)?;
    if placement.unpack
        && let Some(file) = &file_data
        && archive::is_archive(file)
    {
        let (target, existing) = resolve_dest(dest_tree, dest)?;
        if existing.as_ref().is_some_and(|n| !n.is_dir()) {
            return Err(BuildError::invalid(format!(
                "cannot copy to non-directory: {dest}"
            )));
        }
        layer.ensure_dir(dest_tree, &target, &root_dirs)?;
        let name = source.name.to_string_lossy();
        return archive::unpack(file, &name, &target, spool, layer, dest_tree, now);
    }

    let (target, existing) = resolve_dest(dest_tree, dest)?;
    let into_dir = ends_as_directory(dest) || existing.as_ref().is_some_and(Node::is_dir);
    let path = if into_dir {
        if source.name.is_empty() {
            return Err(BuildError::invalid(format!(
                "cannot determine a file name to copy into {dest}"
            )));
        }
        target.join(&source.name)
    } else {
        target
    };
    let owner = placement.new_dir_owner();
    if let Some(parent) = path.parent() {
        layer.ensure_dir(dest_tree, parent, &|| TarEntry::dir(0o755, owner, now))?;
    }
    let entry = TarEntry::like(&source.node, file_data)?;
    layer.insert(path, placement.adjust(entry))
}

/// `COPY --parents`: where `source`, found from the argument `raw`, goes below `dest`: its
/// parent directories kept (a directory keeps its own name too), those before a `/./` pivot
/// in `raw` left out. The result ends in `/`.
pub(crate) fn with_parents(dest: &str, raw: &str, source: &Source<'_>) -> String {
    let mut rel = source.path.clone();
    let written = raw.trim_start_matches('/');
    let written = written.strip_prefix("./").unwrap_or(written);
    if let Some((pivot, _)) = written.rsplit_once("/./") {
        let pivot: PathBuf = Path::new(pivot).components().collect();
        if let Ok(below) = rel.strip_prefix(&pivot) {
            rel = below.to_path_buf();
        }
    }
    let keep = if source.node.is_dir() {
        rel.as_path()
    } else {
        rel.parent().unwrap_or(Path::new(""))
    };
    let base = dest.trim_end_matches('/');
    if keep.as_os_str().is_empty() {
        format!("{base}/")
    } else {
        format!("{base}/{}/", keep.display())
    }
}

/// `dir/` and `dir/.` mean "into this directory".
pub(crate) fn ends_as_directory(dest: &str) -> bool {
    dest.ends_with('/') || dest.ends_with("/.")
}

/// Where `dest` is in the image: through symlinks (inside the image) to a directory if it is
/// one; otherwise the path itself, with its parents resolved.
fn resolve_dest(tree: &dyn Tree, dest: &str) -> Result<(PathBuf, Option<Node>)> {
    let map = |e: ResolveError| BuildError::invalid(format!("cannot copy to {dest}: {e}"));
    let followed = tree::resolve(tree, Path::new(dest), true).map_err(map)?;
    if followed.node.as_ref().is_some_and(Node::is_dir) {
        return Ok((followed.path, followed.node));
    }
    let plain = tree::resolve(tree, Path::new(dest), false).map_err(map)?;
    Ok((plain.path, plain.node))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::context::BuildContext;
    use crate::testing::{TarBuilder, TarEntry as Seen, e, entries};
    use crate::tree::RootfsTree;
    use std::io::Read;

    fn context() -> (tempfile::TempDir, BuildContext) {
        let tmp = tempfile::tempdir().unwrap();
        let tar = TarBuilder::new()
            .file("Dockerfile", 0o644, b"FROM scratch")
            .file("a.txt", 0o644, b"A")
            .file("b.txt", 0o600, b"B")
            .file("run.sh", 0o755, b"#!/bin/sh")
            .dir("src", 0o750)
            .file("src/main.c", 0o644, b"int main;")
            .symlink("src/link", "main.c")
            .dir("src/inc", 0o755)
            .file("src/inc/x.h", 0o644, b"#x")
            .symlink("escape", "../../etc/passwd")
            .symlink("abs", "/etc/passwd")
            .symlink("to-a", "a.txt")
            .finish();
        let ctx = BuildContext::load(&tar[..], "Dockerfile", tmp.path()).unwrap();
        (tmp, ctx)
    }

    fn image() -> tempfile::TempDir {
        use std::os::unix::fs::{PermissionsExt, symlink};
        let root = tempfile::tempdir().unwrap();
        let p = root.path();
        std::fs::create_dir_all(p.join("usr/bin")).unwrap();
        std::fs::create_dir(p.join("tmp")).unwrap();
        std::fs::set_permissions(p.join("tmp"), std::fs::Permissions::from_mode(0o1777)).unwrap();
        std::fs::set_permissions(p.join("usr"), std::fs::Permissions::from_mode(0o755)).unwrap();
        std::fs::set_permissions(p.join("usr/bin"), std::fs::Permissions::from_mode(0o755))
            .unwrap();
        symlink("/usr/bin", p.join("bin")).unwrap();
        std::fs::write(p.join("file"), b"x").unwrap();
        root
    }

    /// Runs COPY of `sources` to `dest` from the test context into the test image.
    fn copy(
        sources: &[&str],
        dest: &str,
        placement: Placement,
    ) -> std::result::Result<Vec<Seen>, String> {
        let (_tmp, ctx) = context();
        let root = image();
        let tree = RootfsTree::new(root.path());
        let mut found = Vec::new();
        for s in sources {
            found.extend(collect(&ctx, s)?);
        }
        let spool_file = tempfile::tempfile().unwrap();
        let mut spool = Spool::new(&spool_file);
        let mut layer = LayerEntries::default();
        for source in &found {
            place(&mut layer, &tree, dest, source, &placement, &mut spool)
                .map_err(|e| e.to_string())?;
        }
        let mut out = tempfile::tempfile().unwrap();
        layer.write(&mut out).unwrap();
        let mut bytes = Vec::new();
        out.read_to_end(&mut bytes).unwrap();
        let uid = {
            use std::os::unix::fs::MetadataExt;
            std::fs::metadata(root.path()).unwrap().uid() as u64
        };
        // Directories that already exist carry the test runner's uid; show them as 0.
        Ok(entries(&bytes)
            .into_iter()
            .map(|mut x| {
                if x.uid == uid && x.gid == uid && uid != 0 {
                    x.uid = 0;
                    x.gid = 0;
                }
                x
            })
            .collect())
    }

    fn root() -> Placement {
        Placement {
            owner: Some((0, 0)),
            chmod: None,
            now: 0,
            unpack: false,
        }
    }

    #[test]
    fn a_file_into_an_existing_directory_or_to_a_new_name() {
        assert_eq!(
            copy(&["a.txt"], "/tmp", root()).unwrap(),
            [
                e("tmp", 'd', 0o1777, 0, 0, ""),
                e("tmp/a.txt", 'f', 0o644, 0, 0, "A")
            ]
        );
        assert_eq!(
            copy(&["a.txt"], "/opt/renamed", root()).unwrap(),
            [
                e("opt", 'd', 0o755, 0, 0, ""),
                e("opt/renamed", 'f', 0o644, 0, 0, "A")
            ]
        );
        // A trailing slash makes a new directory.
        assert_eq!(
            copy(&["b.txt"], "/opt/new/", root()).unwrap(),
            [
                e("opt", 'd', 0o755, 0, 0, ""),
                e("opt/new", 'd', 0o755, 0, 0, ""),
                e("opt/new/b.txt", 'f', 0o600, 0, 0, "B")
            ]
        );
        // Through a symlink in the image to the directory it points at.
        assert_eq!(
            copy(&["run.sh"], "/bin/", root()).unwrap(),
            [
                e("usr", 'd', 0o755, 0, 0, ""),
                e("usr/bin", 'd', 0o755, 0, 0, ""),
                e("usr/bin/run.sh", 'f', 0o755, 0, 0, "#!/bin/sh")
            ]
        );
    }

    #[test]
    fn a_directory_copies_its_contents_with_links_kept() {
        assert_eq!(
            copy(&["src"], "/app", root()).unwrap(),
            [
                e("app", 'd', 0o750, 0, 0, ""),
                e("app/inc", 'd', 0o755, 0, 0, ""),
                e("app/inc/x.h", 'f', 0o644, 0, 0, "#x"),
                e("app/link", 'l', 0o777, 0, 0, "main.c"),
                e("app/main.c", 'f', 0o644, 0, 0, "int main;"),
            ]
        );
    }

    #[test]
    fn symlinks_inside_a_copied_directory_are_copied_not_followed() {
        let got = copy(&["."], "/ctx", root()).unwrap();
        assert!(got.contains(&e("ctx/escape", 'l', 0o777, 0, 0, "../../etc/passwd")));
        assert!(got.contains(&e("ctx/abs", 'l', 0o777, 0, 0, "/etc/passwd")));
        assert!(got.iter().all(|x| !x.data.starts_with("root:")));
    }

    #[test]
    fn globs_and_several_sources() {
        assert_eq!(
            copy(&["*.txt", "run.sh"], "/d/", root()).unwrap(),
            [
                e("d", 'd', 0o755, 0, 0, ""),
                e("d/a.txt", 'f', 0o644, 0, 0, "A"),
                e("d/b.txt", 'f', 0o600, 0, 0, "B"),
                e("d/run.sh", 'f', 0o755, 0, 0, "#!/bin/sh"),
            ]
        );
        let (_tmp, ctx) = context();
        assert_eq!(collect(&ctx, "src/*.c").unwrap().len(), 1);
        assert!(collect(&ctx, "*.none").unwrap().is_empty());
    }

    #[test]
    fn chown_and_chmod_apply_to_what_is_copied_and_created() {
        let placement = Placement {
            owner: Some((1000, 50)),
            chmod: Some(0o640),
            now: 0,
            unpack: false,
        };
        assert_eq!(
            copy(&["run.sh"], "/srv/app/", placement).unwrap(),
            [
                e("srv", 'd', 0o755, 1000, 50, ""),
                e("srv/app", 'd', 0o755, 1000, 50, ""),
                e("srv/app/run.sh", 'f', 0o640, 1000, 50, "#!/bin/sh"),
            ]
        );
    }

    #[test]
    fn a_symlink_named_as_source_is_followed_but_keeps_its_name() {
        assert_eq!(
            copy(&["to-a"], "/tmp/", root()).unwrap(),
            [
                e("tmp", 'd', 0o1777, 0, 0, ""),
                e("tmp/to-a", 'f', 0o644, 0, 0, "A")
            ]
        );
    }

    #[test]
    fn nothing_outside_the_context_is_read() {
        for (src, message) in [
            ("../x", "forbidden path outside the build context: ../x ()"),
            (
                "escape",
                "forbidden path outside the build context: escape ()",
            ),
            ("abs", "forbidden path outside the build context: abs ()"),
            (
                "missing",
                "file not found in build context or excluded by .dockerignore: stat missing: file does not exist",
            ),
            (
                "a.txt/",
                "file not found in build context or excluded by .dockerignore: stat a.txt/: file does not exist",
            ),
        ] {
            assert_eq!(copy(&[src], "/x", root()).unwrap_err(), message);
        }
    }

    #[test]
    fn destinations_that_cannot_hold_the_copy() {
        assert_eq!(
            copy(&["src"], "/file", root()).unwrap_err(),
            "cannot copy to non-directory: /file"
        );
        assert_eq!(
            copy(&["a.txt"], "/file/x", root()).unwrap_err(),
            "cannot copy to /file/x: /file is not a directory"
        );
    }

    #[test]
    fn hashes_follow_content_and_names() {
        let (_tmp, ctx) = context();
        let hash = |s: &str| source_hash(&collect(&ctx, s).unwrap()[0], false).unwrap();
        assert!(hash("a.txt").starts_with("file:"));
        assert!(hash("src").starts_with("dir:"));
        assert_ne!(hash("a.txt"), hash("b.txt"));
        assert_ne!(
            hash("a.txt"),
            hash("to-a"),
            "the name is part of a file's hash"
        );
        assert_eq!(hash("src"), hash("./src/"));
        let multi = combined_hash(&[hash("a.txt"), hash("b.txt")]);
        assert!(multi.starts_with("multi:"));
        assert_eq!(combined_hash(&[hash("a.txt")]), hash("a.txt"));
    }
}
