//! Resolving a container's `User` ("", "name", "uid", "name:group", "uid:gid") against the
//! passwd and group files of its image, as Docker does at start.

use crate::error::{Error, Result};
use std::io::Read;
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProcessUser {
    pub uid: u32,
    pub gid: u32,
    pub additional_gids: Vec<u32>,
    pub home: String,
}

/// The image's files, top-most layer first (the container's upper dir, then the image layers).
pub struct LayeredFiles {
    pub dirs: Vec<PathBuf>,
}

/// Bounded: a passwd file bigger than this is not a passwd file.
const MAX_FILE: u64 = 1 << 20;

impl LayeredFiles {
    /// Reads `etc/<name>` from the top-most layer that has it, never following a symlink (a
    /// layer's `etc` could point anywhere on the host).
    fn read_etc(&self, name: &str) -> Option<String> {
        for dir in &self.dirs {
            let etc = dir.join("etc");
            match std::fs::symlink_metadata(&etc) {
                Ok(m) if m.is_dir() => {}
                Ok(_) => return None,
                Err(_) => continue,
            }
            let file = std::fs::OpenOptions::new()
                .read(true)
                .custom_flags(libc::O_NOFOLLOW)
                .open(etc.join(name));
            if let Ok(f) = file {
                if !f.metadata().is_ok_and(|m| m.is_file()) {
                    return None;
                }
                let mut s = String::new();
                f.take(MAX_FILE).read_to_string(&mut s).ok()?;
                return Some(s);
            }
        }
        None
    }
}

struct PasswdEntry<'a> {
    name: &'a str,
    uid: u32,
    gid: u32,
    home: &'a str,
}

fn passwd_entries(text: &str) -> impl Iterator<Item = PasswdEntry<'_>> {
    text.lines().filter_map(|line| {
        let f: Vec<&str> = line.split(':').collect();
        (f.len() >= 7).then_some(())?;
        Some(PasswdEntry {
            name: f[0],
            uid: f[2].parse().ok()?,
            gid: f[3].parse().ok()?,
            home: f[5],
        })
    })
}

/// (name, gid, members) of each group line.
fn group_entries(text: &str) -> impl Iterator<Item = (&str, u32, Vec<&str>)> {
    text.lines().filter_map(|line| {
        let f: Vec<&str> = line.split(':').collect();
        (f.len() >= 4).then_some(())?;
        let members = f[3].split(',').filter(|m| !m.is_empty()).collect();
        Some((f[0], f[2].parse().ok()?, members))
    })
}

/// `spec` is the `User`; `group_add` the `--group-add` groups (names or numbers), which join the
/// user's supplementary groups.
pub fn resolve(spec: &str, group_add: &[String], files: &LayeredFiles) -> Result<ProcessUser> {
    let passwd = files.read_etc("passwd").unwrap_or_default();
    let group = files.read_etc("group").unwrap_or_default();
    let (user_part, group_part) = match spec.split_once(':') {
        Some((u, g)) => (u, Some(g)),
        None => (spec, None),
    };
    let user_part = if user_part.is_empty() { "0" } else { user_part };

    let entry = passwd_entries(&passwd).find(|e| match user_part.parse::<u32>() {
        Ok(uid) => e.uid == uid,
        Err(_) => e.name == user_part,
    });
    let (uid, mut gid, name, home) = match (&entry, user_part.parse::<u32>()) {
        (Some(e), _) => (e.uid, e.gid, Some(e.name), e.home.to_string()),
        (None, Ok(uid)) => (uid, 0, None, "/".to_string()),
        (None, Err(_)) => {
            return Err(Error::invalid(format!(
                "unable to find user {user_part}: no matching entries in passwd file"
            )));
        }
    };
    if let Some(g) = group_part {
        gid = match g.parse::<u32>() {
            Ok(n) => n,
            Err(_) => group_entries(&group)
                .find(|(n, _, _)| *n == g)
                .map(|(_, id, _)| id)
                .ok_or_else(|| {
                    Error::invalid(format!(
                        "unable to find group {g}: no matching entries in group file"
                    ))
                })?,
        };
    }
    let mut additional_gids: Vec<u32> = match name {
        Some(n) if group_part.is_none() => group_entries(&group)
            .filter(|(_, id, members)| members.contains(&n) && *id != gid)
            .map(|(_, id, _)| id)
            .collect(),
        _ => Vec::new(),
    };
    for added in group_add {
        let id = match added.parse::<u32>() {
            Ok(n) => n,
            Err(_) => group_entries(&group)
                .find(|(n, _, _)| n == added)
                .map(|(_, id, _)| id)
                .ok_or_else(|| {
                    Error::invalid(format!(
                        "Unable to find group {added}: no matching entries in group file"
                    ))
                })?,
        };
        if !additional_gids.contains(&id) {
            additional_gids.push(id);
        }
    }
    Ok(ProcessUser {
        uid,
        gid,
        additional_gids,
        home,
    })
}

/// The directories to search, top-most first: `upper` then the image's layer diffs.
pub fn layered(upper: &Path, layer_diffs: impl Iterator<Item = PathBuf>) -> LayeredFiles {
    LayeredFiles {
        dirs: std::iter::once(upper.to_path_buf())
            .chain(layer_diffs)
            .collect(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn files(passwd: &str, group: &str) -> (tempfile::TempDir, LayeredFiles) {
        let d = tempfile::tempdir().unwrap();
        let top = d.path().join("top");
        let low = d.path().join("low");
        std::fs::create_dir_all(low.join("etc")).unwrap();
        std::fs::create_dir_all(&top).unwrap();
        std::fs::write(low.join("etc/passwd"), passwd).unwrap();
        std::fs::write(low.join("etc/group"), group).unwrap();
        let lf = LayeredFiles {
            dirs: vec![top, low],
        };
        (d, lf)
    }

    const PASSWD: &str = "root:x:0:0:root:/root:/bin/sh\nwww:x:33:33:www:/var/www:/bin/false\n";
    const GROUP: &str = "root:x:0:\nwww:x:33:\nstaff:x:50:www,other\n";

    #[test]
    fn names_and_numbers() {
        let (_d, f) = files(PASSWD, GROUP);
        let root = resolve("", &[], &f).unwrap();
        assert_eq!((root.uid, root.gid, root.home.as_str()), (0, 0, "/root"));
        let www = resolve("www", &[], &f).unwrap();
        assert_eq!(
            (www.uid, www.gid, www.additional_gids.clone()),
            (33, 33, vec![50])
        );
        assert_eq!(
            resolve("1000:50", &[], &f).unwrap(),
            ProcessUser {
                uid: 1000,
                gid: 50,
                additional_gids: vec![],
                home: "/".into()
            }
        );
        assert_eq!(resolve("www:staff", &[], &f).unwrap().gid, 50);
        assert!(
            resolve("nobody", &[], &f)
                .unwrap_err()
                .message
                .contains("unable to find user nobody")
        );
        assert!(resolve("www:nogroup", &[], &f).is_err());
    }

    #[test]
    fn added_groups_by_name_or_number() {
        let (_d, f) = files(PASSWD, GROUP);
        let groups = |added: &[&str]| {
            let added: Vec<String> = added.iter().map(|g| g.to_string()).collect();
            resolve("www", &added, &f).map(|u| u.additional_gids)
        };
        assert_eq!(groups(&["root", "777", "staff"]).unwrap(), vec![50, 0, 777]);
        assert!(
            groups(&["nosuch"])
                .unwrap_err()
                .message
                .contains("Unable to find group nosuch")
        );
    }

    #[test]
    fn a_symlinked_etc_is_not_followed() {
        let d = tempfile::tempdir().unwrap();
        std::os::unix::fs::symlink("/etc", d.path().join("etc")).unwrap();
        let f = LayeredFiles {
            dirs: vec![d.path().to_path_buf()],
        };
        assert!(
            resolve("root", &[], &f).is_err(),
            "host /etc must not be read"
        );
    }
}
