//! A directory as tar entries whose names start with a given base, written as given: a base
//! of `.` gives `./`, `./a`, `./sub/`, as Docker's archives do. (The tar crate drops a
//! leading `./`, and the docker CLI's `cp c:/dir/. dest` finds the entries by that prefix.)
//! Symbolic links are archived as links, never followed; sockets are left out, as Docker's
//! archives leave them.

use std::fs::{self, File, Metadata};
use std::io::{self, Read, Write};
use std::os::unix::ffi::OsStrExt;
use std::os::unix::fs::{FileTypeExt, MetadataExt};
use std::path::Path;

use tar::{Builder, EntryType, Header, HeaderMode};

/// Appends `dir` and everything below it, named `base/...`, depth first and in name order.
/// A stack rather than recursion: the container decides how deep its tree goes.
pub(crate) fn append_tree<W: Write>(
    tar: &mut Builder<W>,
    base: &str,
    dir: &Path,
) -> io::Result<()> {
    let mut pending = vec![(base.as_bytes().to_vec(), dir.to_path_buf())];
    while let Some((name, path)) = pending.pop() {
        let meta = fs::symlink_metadata(&path)?;
        let Some(dir_name) = append_entry(tar, name, &path, &meta)? else {
            continue;
        };
        let mut children: Vec<_> = fs::read_dir(&path)?.collect::<io::Result<_>>()?;
        children.sort_by_key(|child| std::cmp::Reverse(child.file_name()));
        for child in children {
            let mut child_name = dir_name.clone();
            child_name.extend_from_slice(child.file_name().as_bytes());
            pending.push((child_name, child.path()));
        }
    }
    Ok(())
}

/// Appends one entry; for a directory, returns its name (with its `/`) for its children.
fn append_entry<W: Write>(
    tar: &mut Builder<W>,
    mut name: Vec<u8>,
    path: &Path,
    meta: &Metadata,
) -> io::Result<Option<Vec<u8>>> {
    let kind = meta.file_type();
    if kind.is_socket() {
        return Ok(None);
    }
    let mut header = Header::new_gnu();
    header.set_metadata_in_mode(meta, HeaderMode::Complete);
    if !kind.is_file() {
        header.set_size(0);
    }
    if kind.is_dir() {
        name.push(b'/');
    } else if kind.is_symlink() {
        let target = fs::read_link(path)?;
        set_name(
            tar,
            &mut header,
            target.as_os_str().as_bytes(),
            Slot::LinkName,
        )?;
    } else if !kind.is_file() {
        let entry_type = if kind.is_fifo() {
            EntryType::Fifo
        } else if kind.is_char_device() {
            EntryType::Char
        } else {
            EntryType::Block
        };
        header.set_entry_type(entry_type);
        let device = meta.rdev();
        header.set_device_major(libc::major(device))?;
        header.set_device_minor(libc::minor(device))?;
    }
    set_name(tar, &mut header, &name, Slot::Name)?;
    header.set_cksum();
    if kind.is_file() {
        tar.append(&header, File::open(path)?)?;
    } else {
        tar.append(&header, io::empty())?;
    }
    Ok(kind.is_dir().then_some(name))
}

/// Which of a header's name fields a name goes to.
#[derive(Clone, Copy)]
enum Slot {
    Name,
    LinkName,
}

/// Puts `name` in its field as is; one longer than the field goes first in a GNU long-name
/// entry of its own (and cut short in the field), as GNU tar writes it.
fn set_name<W: Write>(
    tar: &mut Builder<W>,
    header: &mut Header,
    name: &[u8],
    slot: Slot,
) -> io::Result<()> {
    let field = match slot {
        Slot::Name => &mut header.as_old_mut().name,
        Slot::LinkName => &mut header.as_old_mut().linkname,
    };
    let kept = name.len().min(field.len());
    field[..kept].copy_from_slice(&name[..kept]);
    if name.len() <= field.len() {
        return Ok(());
    }
    let mut long = Header::new_gnu();
    long.as_old_mut().name[..13].copy_from_slice(b"././@LongLink");
    long.set_entry_type(match slot {
        Slot::Name => EntryType::GNULongName,
        Slot::LinkName => EntryType::GNULongLink,
    });
    long.set_mode(0o644);
    long.set_size(name.len() as u64 + 1);
    long.set_cksum();
    tar.append(&long, name.chain(&[0u8][..]))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn names(archive: &[u8]) -> Vec<(String, String)> {
        let mut read = tar::Archive::new(archive);
        read.entries()
            .unwrap()
            .map(|e| {
                let e = e.unwrap();
                let link = e
                    .link_name_bytes()
                    .map(|l| String::from_utf8_lossy(&l).into_owned())
                    .unwrap_or_default();
                (String::from_utf8_lossy(&e.path_bytes()).into_owned(), link)
            })
            .collect()
    }

    #[test]
    fn names_keep_their_base_and_long_ones_survive() {
        let dir = tempfile::tempdir().unwrap();
        fs::create_dir_all(dir.path().join("sub")).unwrap();
        fs::write(dir.path().join("a"), b"alpha").unwrap();
        let long = "n".repeat(150);
        fs::write(dir.path().join("sub").join(&long), b"").unwrap();
        std::os::unix::fs::symlink("/etc/passwd", dir.path().join("link")).unwrap();
        let far = format!("/{}", "t".repeat(120));
        std::os::unix::fs::symlink(&far, dir.path().join("far")).unwrap();
        let mut tar = Builder::new(Vec::new());
        append_tree(&mut tar, ".", dir.path()).unwrap();
        let archive = tar.into_inner().unwrap();
        assert_eq!(
            names(&archive),
            [
                ("./".into(), String::new()),
                ("./a".into(), String::new()),
                ("./far".into(), far),
                ("./link".into(), "/etc/passwd".into()),
                ("./sub/".into(), String::new()),
                (format!("./sub/{long}"), String::new()),
            ]
        );
        let mut tar = Builder::new(Vec::new());
        append_tree(&mut tar, "d", dir.path()).unwrap();
        let archive = tar.into_inner().unwrap();
        assert_eq!(names(&archive)[1].0, "d/a");
        let mut read = tar::Archive::new(&archive[..]);
        let mut a = read.entries().unwrap().nth(1).unwrap().unwrap();
        let mut content = String::new();
        a.read_to_string(&mut content).unwrap();
        assert_eq!(content, "alpha");
    }

    #[test]
    fn a_deep_tree_does_not_recurse() {
        let dir = tempfile::tempdir().unwrap();
        let mut deep = dir.path().to_path_buf();
        for _ in 0..1500 {
            deep.push("d");
        }
        fs::create_dir_all(&deep).unwrap();
        // On a small stack, as a recursive walk of 1500 levels would overflow it.
        let root = dir.path().to_path_buf();
        let entries = std::thread::Builder::new()
            .stack_size(64 * 1024)
            .spawn(move || {
                let mut tar = Builder::new(Vec::new());
                append_tree(&mut tar, ".", &root).unwrap();
                names(&tar.into_inner().unwrap()).len()
            })
            .unwrap()
            .join()
            .unwrap();
        assert_eq!(entries, 1501);
    }
}
