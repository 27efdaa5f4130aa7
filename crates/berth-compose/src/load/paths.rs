//! Relative paths in a file made absolute against the directory they are relative to, so
//! that files from different directories can be merged: build contexts, env files, bind
//! sources, `extends` files, secret and config files. `~` is the user's home.

use std::path::{Component, Path, PathBuf};

use crate::convert::syntax::{is_path, split_volume};
use crate::yaml::{Node, Value};

/// `path` without `.` and `..` components (resolved lexically; nothing is read).
pub fn clean(path: &Path) -> PathBuf {
    let mut out = PathBuf::new();
    for c in path.components() {
        match c {
            Component::CurDir => {}
            Component::ParentDir => {
                if !out.pop() {
                    out.push("..");
                }
            }
            other => out.push(other),
        }
    }
    out
}

/// `p` made absolute against `base`, with `~` expanded.
pub fn absolute(base: &Path, p: &str, home: Option<&str>) -> String {
    let expanded = match (p.strip_prefix('~'), home) {
        (Some(""), Some(h)) => PathBuf::from(h),
        (Some(rest), Some(h)) if rest.starts_with('/') => Path::new(h).join(&rest[1..]),
        _ => PathBuf::from(p),
    };
    clean(&base.join(expanded)).to_string_lossy().into_owned()
}

/// A build context that is a URL (git or http) stays as written.
fn is_remote(context: &str) -> bool {
    context.contains("://") || context.starts_with("git@") || context.starts_with("github.com/")
}

pub(crate) fn resolve(root: &mut Node, base: &Path, home: Option<&str>) {
    let abs = |s: &mut String| *s = absolute(base, s, home);
    if let Some(Node {
        value: Value::Map(services),
        ..
    }) = root.get_mut("services")
    {
        for (_, service) in services.iter_mut() {
            resolve_service(service, &abs);
        }
    }
    for section in ["secrets", "configs"] {
        if let Some(Node {
            value: Value::Map(objects),
            ..
        }) = root.get_mut(section)
        {
            for (_, o) in objects.iter_mut() {
                if let Some(Node {
                    value: Value::Str(f, _),
                    ..
                }) = o.get_mut("file")
                {
                    abs(f);
                }
            }
        }
    }
}

/// A `build` mapping without `context` builds `dir` (the project's directory). Applied once
/// a project's files are merged, since an override file may set the context.
pub(crate) fn default_build_context(root: &mut Node, dir: &Path) {
    if let Some(Node {
        value: Value::Map(services),
        ..
    }) = root.get_mut("services")
    {
        for (_, service) in services.iter_mut() {
            if let Some(build) = service.get_mut("build")
                && let Value::Map(_) = build.value
                && build.get("context").is_none()
            {
                let loc = build.loc.clone();
                build.set("context", Node::str(dir.to_string_lossy(), loc));
            }
        }
    }
}

fn resolve_service(service: &mut Node, abs: &impl Fn(&mut String)) {
    if let Some(build) = service.get_mut("build") {
        match &mut build.value {
            Value::Str(ctx, _) if !is_remote(ctx) => abs(ctx),
            Value::Map(_) => {
                if let Some(Node {
                    value: Value::Str(ctx, _),
                    ..
                }) = build.get_mut("context")
                    && !is_remote(ctx)
                {
                    abs(ctx);
                }
            }
            _ => {}
        }
    }
    if let Some(env_file) = service.get_mut("env_file") {
        let items: Vec<&mut Node> = match &mut env_file.value {
            Value::Seq(items) => items.iter_mut().collect(),
            _ => vec![env_file],
        };
        for item in items {
            match &mut item.value {
                Value::Str(p, _) => abs(p),
                Value::Map(_) => {
                    if let Some(Node {
                        value: Value::Str(p, _),
                        ..
                    }) = item.get_mut("path")
                    {
                        abs(p);
                    }
                }
                _ => {}
            }
        }
    }
    if let Some(Node {
        value: Value::Seq(volumes),
        ..
    }) = service.get_mut("volumes")
    {
        for v in volumes.iter_mut() {
            match &mut v.value {
                Value::Str(spec, _) => {
                    if let (Some(src), target, mode) = split_volume(spec)
                        && is_path(src)
                    {
                        let mut src = src.to_string();
                        abs(&mut src);
                        *spec = match mode {
                            Some(m) => format!("{src}:{target}:{m}"),
                            None => format!("{src}:{target}"),
                        };
                    }
                }
                Value::Map(_) => {
                    let is_bind = v.get("type").and_then(Node::as_str) == Some("bind");
                    if is_bind
                        && let Some(Node {
                            value: Value::Str(src, _),
                            ..
                        }) = v.get_mut("source")
                    {
                        abs(src);
                    }
                }
                _ => {}
            }
        }
    }
    if let Some(Node {
        value: Value::Str(f, _),
        ..
    }) = service.get_mut("extends").and_then(|e| e.get_mut("file"))
    {
        abs(f);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn absolute_paths() {
        let base = Path::new("/p/q");
        assert_eq!(absolute(base, "./a/../b", None), "/p/q/b");
        assert_eq!(absolute(base, "../x", None), "/p/x");
        assert_eq!(absolute(base, "/abs/./y", None), "/abs/y");
        assert_eq!(absolute(base, "~/d", Some("/home/u")), "/home/u/d");
        assert_eq!(absolute(base, "~", Some("/home/u")), "/home/u");
        assert_eq!(absolute(Path::new("/"), "../../x", None), "/x");
    }

    #[test]
    fn resolves_the_keys_that_hold_paths() {
        let mut n = crate::yaml::parse(
            "services:\n  a:\n    build: {dockerfile: D}\n    env_file: [e, {path: ../f}]\n    volumes: [./d:/d:ro, data:/x, /abs:/y, {type: bind, source: s, target: /z}]\n    extends: {file: base.yaml, service: b}\n  b:\n    build: https://example.com/r.git\n    env_file: x.env\nsecrets:\n  s: {file: ./s.txt}\n",
            None,
        )
        .unwrap();
        resolve(&mut n, Path::new("/proj"), None);
        default_build_context(&mut n, Path::new("/proj"));
        let j = n.to_json();
        let a = &j["services"]["a"];
        assert_eq!(a["build"]["context"], "/proj");
        assert_eq!(
            a["env_file"],
            serde_json::json!(["/proj/e", {"path": "/f"}])
        );
        assert_eq!(
            a["volumes"],
            serde_json::json!(["/proj/d:/d:ro", "data:/x", "/abs:/y", {"type": "bind", "source": "/proj/s", "target": "/z"}])
        );
        assert_eq!(a["extends"]["file"], "/proj/base.yaml");
        assert_eq!(j["services"]["b"]["build"], "https://example.com/r.git");
        assert_eq!(j["services"]["b"]["env_file"], "/proj/x.env");
        assert_eq!(j["secrets"]["s"]["file"], "/proj/s.txt");
    }
}
