//! A build context as the tar `/build` takes: the context directory walked without following
//! symlinks, minus what `.dockerignore` excludes, written to an anonymous temporary file so
//! that a large context is streamed, not held in memory.

use std::fs::File;
use std::io::{Seek, SeekFrom};
use std::path::{Component, Path};

use crate::error::Error;

/// Largest Dockerfile or `.dockerignore` read.
const MAX_SMALL_FILE: u64 = 4 << 20;

pub(crate) struct Packed {
    /// The tar, rewound.
    pub file: File,
    /// The Dockerfile's path inside the tar.
    pub dockerfile: String,
}

/// Packs `context`. `dockerfile` is relative to the context (or absolute); a Dockerfile
/// outside the context, or `inline` content, is added under a name of its own.
pub(crate) fn pack(
    context: &Path,
    dockerfile: &str,
    inline: Option<&str>,
) -> Result<Packed, Error> {
    let meta = std::fs::metadata(context).map_err(|e| Error::io(context, e))?;
    if !meta.is_dir() {
        return Err(Error::Failed(format!(
            "build context {} is not a directory",
            context.display()
        )));
    }
    let ignore_path = context.join(".dockerignore");
    let patterns = if ignore_path.is_file() {
        parse_ignore(&crate::read_bounded(&ignore_path, MAX_SMALL_FILE)?)
    } else {
        Vec::new()
    };
    let tmp = tempfile::tempfile().map_err(|e| Error::io(std::env::temp_dir(), e))?;
    let mut b = tar::Builder::new(tmp);
    b.follow_symlinks(false);
    let tar_err = |e: std::io::Error| {
        Error::Failed(format!(
            "packing the build context {}: {e}",
            context.display()
        ))
    };

    let (dockerfile_in_tar, extra) = match inline {
        Some(content) => (extra_name(), Some(content.as_bytes().to_vec())),
        None => {
            let path = crate::load::paths::clean(&context.join(dockerfile));
            match path.strip_prefix(context) {
                Ok(rel) if !rel.as_os_str().is_empty() => {
                    (rel.to_string_lossy().into_owned(), None)
                }
                _ => {
                    let content = crate::read_bounded(&path, MAX_SMALL_FILE)?;
                    (extra_name(), Some(content.into_bytes()))
                }
            }
        }
    };
    let keep = [dockerfile_in_tar.as_str(), ".dockerignore"];
    walk(&mut b, context, "", &patterns, &keep).map_err(tar_err)?;
    if let Some(content) = extra {
        let mut h = tar::Header::new_gnu();
        h.set_size(content.len() as u64);
        h.set_mode(0o644);
        h.set_entry_type(tar::EntryType::Regular);
        b.append_data(&mut h, &dockerfile_in_tar, content.as_slice())
            .map_err(tar_err)?;
    }
    let mut file = b.into_inner().map_err(tar_err)?;
    file.seek(SeekFrom::Start(0)).map_err(tar_err)?;
    Ok(Packed {
        file,
        dockerfile: dockerfile_in_tar,
    })
}

fn extra_name() -> String {
    let mut r = [0u8; 8];
    // Randomness only avoids clashing with a file of the context; a fixed name would do.
    let _ = getrandom::fill(&mut r);
    format!(".berth-dockerfile-{}", hex::encode(r))
}

fn walk(
    b: &mut tar::Builder<File>,
    dir: &Path,
    rel: &str,
    patterns: &[Pattern],
    keep: &[&str],
) -> std::io::Result<()> {
    let mut entries: Vec<_> = std::fs::read_dir(dir)?.collect::<Result<_, _>>()?;
    entries.sort_by_key(|e| e.file_name());
    let has_exceptions = patterns.iter().any(|p| p.negate);
    for e in entries {
        let name = e.file_name().to_string_lossy().into_owned();
        let path_rel = if rel.is_empty() {
            name.clone()
        } else {
            format!("{rel}/{name}")
        };
        let meta = std::fs::symlink_metadata(e.path())?;
        let excluded = excluded(patterns, &path_rel) && !keep.contains(&path_rel.as_str());
        if meta.is_dir() {
            if excluded && !has_exceptions {
                continue;
            }
            if !excluded {
                b.append_dir(&path_rel, e.path())?;
            }
            walk(b, &e.path(), &path_rel, patterns, keep)?;
        } else if excluded {
            continue;
        } else if meta.is_file() || meta.file_type().is_symlink() {
            b.append_path_with_name(e.path(), &path_rel)?;
        }
    }
    Ok(())
}

#[derive(Debug, Clone, PartialEq, Eq)]
struct Pattern {
    negate: bool,
    parts: Vec<String>,
}

fn parse_ignore(text: &str) -> Vec<Pattern> {
    text.lines()
        .map(str::trim)
        .filter(|l| !l.is_empty() && !l.starts_with('#'))
        .filter_map(|l| {
            let (negate, pat) = match l.strip_prefix('!') {
                Some(p) => (true, p.trim()),
                None => (false, l),
            };
            let mut parts: Vec<String> = Vec::new();
            for c in Path::new(pat.trim_start_matches('/')).components() {
                match c {
                    Component::Normal(s) => parts.push(s.to_string_lossy().into_owned()),
                    Component::ParentDir => {
                        parts.pop();
                    }
                    _ => {}
                }
            }
            (!parts.is_empty()).then_some(Pattern { negate, parts })
        })
        .collect()
}

/// Whether `.dockerignore` excludes `rel`: the last pattern that matches the path, or one of
/// its parent directories, decides.
fn excluded(patterns: &[Pattern], rel: &str) -> bool {
    let parts: Vec<&str> = rel.split('/').collect();
    let mut out = false;
    for p in patterns {
        let hit = (1..=parts.len()).any(|n| match_parts(&p.parts, &parts[..n]));
        if hit {
            out = !p.negate;
        }
    }
    out
}

fn match_parts(pat: &[String], path: &[&str]) -> bool {
    match pat.split_first() {
        None => path.is_empty(),
        Some((first, rest)) if first == "**" => {
            (0..=path.len()).any(|skip| match_parts(rest, &path[skip..]))
        }
        Some((first, rest)) => match path.split_first() {
            Some((seg, path_rest)) => {
                glob(first.as_bytes(), seg.as_bytes()) && match_parts(rest, path_rest)
            }
            None => false,
        },
    }
}

/// One path segment against a glob: `*`, `?`, `[...]` (with ranges and `^`/`!`), `\`
/// escape. Stars backtrack to the latest one only, so matching stays linear-ish whatever the
/// pattern.
fn glob(p: &[u8], s: &[u8]) -> bool {
    let (mut pi, mut si) = (0, 0);
    let mut star: Option<(usize, usize)> = None;
    while si < s.len() {
        if p.get(pi) == Some(&b'*') {
            star = Some((pi, si));
            pi += 1;
            continue;
        }
        if let Some(len) = one(&p[pi.min(p.len())..], s[si]) {
            pi += len;
            si += 1;
            continue;
        }
        match star {
            Some((sp, ss)) => {
                pi = sp + 1;
                si = ss + 1;
                star = Some((sp, ss + 1));
            }
            None => return false,
        }
    }
    p[pi.min(p.len())..].iter().all(|&c| c == b'*')
}

/// If the pattern element at the start of `p` matches the byte `c`, its length.
fn one(p: &[u8], c: u8) -> Option<usize> {
    match *p.first()? {
        b'?' => Some(1),
        b'[' => {
            let Some(end) = p.iter().skip(1).position(|&x| x == b']').map(|e| e + 1) else {
                return (c == b'[').then_some(1);
            };
            let (negate, set) = match p[1..end].split_first() {
                Some((b'^' | b'!', set)) => (true, set),
                _ => (false, &p[1..end]),
            };
            let mut hit = false;
            let mut i = 0;
            while i < set.len() {
                if i + 2 < set.len() && set[i + 1] == b'-' {
                    hit |= set[i] <= c && c <= set[i + 2];
                    i += 3;
                } else {
                    hit |= set[i] == c;
                    i += 1;
                }
            }
            (hit != negate).then_some(end + 1)
        }
        b'\\' if p.len() > 1 => (p[1] == c).then_some(2),
        x => (x == c).then_some(1),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dockerignore_rules() {
        let p = parse_ignore(
            "# c\n*.log\n/build\n**/tmp\n!keep.log\ndocs/*.md\n!docs/README.md\n[ab]?.txt\n",
        );
        for (path, ex) in [
            ("a.log", true),
            ("keep.log", false),
            ("sub/a.log", false),
            ("build", true),
            ("build/out/x", true),
            ("x/y/tmp/z", true),
            ("tmp", true),
            ("docs/a.md", true),
            ("docs/README.md", false),
            ("docs/sub/a.md", false),
            ("a1.txt", true),
            ("c1.txt", false),
            ("src/main.rs", false),
        ] {
            assert_eq!(excluded(&p, path), ex, "{path}");
        }
    }

    #[test]
    fn globs() {
        for (p, s, m) in [
            ("*.log", "a.log", true),
            ("*.log", "a.txt", false),
            ("a*b*c", "aXXbYYc", true),
            ("a*b*c", "aXXbYY", false),
            ("?x", "ax", true),
            ("[!a]x", "ax", false),
            ("[a-c]x", "bx", true),
            ("\\*", "*", true),
            ("\\*", "a", false),
            ("[x", "[x", true),
            ("*", "", true),
        ] {
            assert_eq!(glob(p.as_bytes(), s.as_bytes()), m, "{p} {s}");
        }
        // Many stars against a long name that does not match: no exponential search.
        let p = "*a".repeat(30) + "b";
        assert!(!glob(p.as_bytes(), "a".repeat(200).as_bytes()));
    }

    #[test]
    fn packs_a_context_without_ignored_files() {
        let dir = tempfile::tempdir().unwrap();
        let d = dir.path();
        std::fs::write(d.join("Dockerfile"), "FROM scratch\n").unwrap();
        std::fs::write(
            d.join(".dockerignore"),
            "secret\nDockerfile\nnode_modules\n",
        )
        .unwrap();
        std::fs::write(d.join("secret"), "x").unwrap();
        std::fs::create_dir_all(d.join("node_modules/m")).unwrap();
        std::fs::write(d.join("node_modules/m/i.js"), "x").unwrap();
        std::fs::create_dir(d.join("src")).unwrap();
        std::fs::write(d.join("src/a"), "a").unwrap();
        std::os::unix::fs::symlink("/etc/passwd", d.join("src/link")).unwrap();
        let packed = pack(d, "Dockerfile", None).unwrap();
        assert_eq!(packed.dockerfile, "Dockerfile");
        let mut names: Vec<String> = tar::Archive::new(packed.file)
            .entries()
            .unwrap()
            .map(|e| e.unwrap().path().unwrap().to_string_lossy().into_owned())
            .collect();
        names.sort();
        assert_eq!(
            names,
            [".dockerignore", "Dockerfile", "src", "src/a", "src/link"]
        );

        let outside = tempfile::NamedTempFile::new().unwrap();
        std::fs::write(outside.path(), "FROM x\n").unwrap();
        let packed = pack(d, outside.path().to_str().unwrap(), None).unwrap();
        assert!(packed.dockerfile.starts_with(".berth-dockerfile-"));
        let packed = pack(d, "Dockerfile", Some("FROM y\n")).unwrap();
        assert!(packed.dockerfile.starts_with(".berth-dockerfile-"));
    }
}
