//! `--chown=user:group`: numbers as they are, names looked up in the image's `/etc/passwd`
//! and `/etc/group` (resolved inside the image), as Docker does.

use std::io::Read;
use std::path::Path;

use crate::error::{BuildError, Result};
use crate::tree::{self, Tree};

/// Account files larger than this are not read.
const MAX_ACCOUNT_FILE: u64 = 4 << 20;

/// `user`, `user:group`, `uid:gid`...; a lone user names the group too (`--chown=1000` is
/// `1000:1000`).
pub(crate) fn resolve_chown(spec: &str, rootfs: &dyn Tree) -> Result<(u64, u64)> {
    let parts: Vec<&str> = spec.split(':').collect();
    let (user, group) = match parts.as_slice() {
        [user] => (*user, *user),
        [user, group] => (*user, *group),
        _ => {
            return Err(BuildError::invalid(format!(
                "invalid chown string format: {spec}"
            )));
        }
    };
    let uid = lookup(user, "/etc/passwd", rootfs).map_err(|reason| {
        BuildError::invalid(format!("can't find uid for user {user}: {reason}"))
    })?;
    let gid = lookup(group, "/etc/group", rootfs).map_err(|reason| {
        BuildError::invalid(format!("can't find gid for group {group}: {reason}"))
    })?;
    Ok((uid, gid))
}

/// A number, or the third field of the line whose first field is `name`.
fn lookup(name: &str, file: &str, rootfs: &dyn Tree) -> std::result::Result<u64, String> {
    if let Ok(id) = name.parse::<u64>() {
        return Ok(id);
    }
    let what = if file.ends_with("passwd") {
        "user"
    } else {
        "group"
    };
    let missing = || format!("no such {what}: {name}");
    let contents = read_account_file(file, rootfs)?.ok_or_else(missing)?;
    contents
        .lines()
        .map(|line| line.split(':').collect::<Vec<_>>())
        .find(|fields| fields.len() >= 3 && fields[0] == name)
        .map(|fields| fields[2].parse::<u64>().map_err(|_| missing()))
        .unwrap_or_else(|| Err(missing()))
}

fn read_account_file(file: &str, rootfs: &dyn Tree) -> std::result::Result<Option<String>, String> {
    let Ok(resolved) = tree::resolve(rootfs, Path::new(file), true) else {
        return Ok(None);
    };
    match &resolved.node {
        Some(node) if node.kind == tree::Kind::File => {}
        _ => return Ok(None),
    }
    let data = rootfs.data(&resolved.path).map_err(|e| e.to_string())?;
    let mut text = String::new();
    data.open()
        .and_then(|r| r.take(MAX_ACCOUNT_FILE).read_to_string(&mut text))
        .map_err(|e| format!("read {file}: {e}"))?;
    Ok(Some(text))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::tree::RootfsTree;

    fn rootfs() -> tempfile::TempDir {
        let root = tempfile::tempdir().unwrap();
        std::fs::create_dir(root.path().join("etc")).unwrap();
        std::fs::write(
            root.path().join("etc/passwd"),
            "root:x:0:0:root:/root:/bin/sh\napp:x:1000:1000::/home/app:/bin/sh\n",
        )
        .unwrap();
        std::fs::write(root.path().join("etc/group"), "root:x:0:\nstaff:x:50:app\n").unwrap();
        root
    }

    #[test]
    fn numbers_and_names() {
        let root = rootfs();
        let tree = RootfsTree::new(root.path());
        assert_eq!(resolve_chown("1:2", &tree).unwrap(), (1, 2));
        assert_eq!(resolve_chown("42", &tree).unwrap(), (42, 42));
        assert_eq!(resolve_chown("app:staff", &tree).unwrap(), (1000, 50));
        assert_eq!(resolve_chown("app:7", &tree).unwrap(), (1000, 7));
    }

    #[test]
    fn unknown_names_are_errors() {
        let root = rootfs();
        let tree = RootfsTree::new(root.path());
        assert_eq!(
            resolve_chown("app", &tree).unwrap_err().to_string(),
            "can't find gid for group app: no such group: app"
        );
        assert_eq!(
            resolve_chown("bob:staff", &tree).unwrap_err().to_string(),
            "can't find uid for user bob: no such user: bob"
        );
        assert_eq!(
            resolve_chown("a:b:c", &tree).unwrap_err().to_string(),
            "invalid chown string format: a:b:c"
        );
        let empty = tempfile::tempdir().unwrap();
        let tree = RootfsTree::new(empty.path());
        assert!(resolve_chown("app", &tree).is_err());
    }
}
