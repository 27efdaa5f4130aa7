//! `RUN --mount=...`: the comma-separated (CSV) options of one mount, parsed and checked as
//! Docker's Dockerfile frontend does. Where the mount's files come from is the builder's
//! business ([`crate::builder`]); this only says what was asked for.

use std::fmt::Write as _;

use crate::abs_path::clean;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum MountType {
    /// A directory or file of the context, a stage or an image (the default type).
    Bind,
    /// A directory kept between builds, never part of a layer.
    Cache,
    Tmpfs,
    /// A secret given to the build, as a file or an environment variable.
    Secret,
}

impl MountType {
    fn name(self) -> &'static str {
        match self {
            Self::Bind => "bind",
            Self::Cache => "cache",
            Self::Tmpfs => "tmpfs",
            Self::Secret => "secret",
        }
    }
}

/// How builds running at the same time share a cache mount.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Sharing {
    /// Everyone uses the same directory at once (the default).
    Shared,
    /// A build that finds the directory in use gets a fresh one of its own.
    Private,
    /// A build waits until nobody else uses the directory.
    Locked,
}

impl Sharing {
    fn name(self) -> &'static str {
        match self {
            Self::Shared => "shared",
            Self::Private => "private",
            Self::Locked => "locked",
        }
    }
}

/// One `--mount`, values expanded.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct RunMount {
    pub(crate) kind: MountType,
    /// `from=`: a stage or image (bind, cache); the context when absent.
    pub(crate) from: Option<String>,
    /// `source=`: the path in `from` (bind, cache); for a secret, its id.
    pub(crate) source: Option<String>,
    /// `target=`: where it is mounted (relative paths are below WORKDIR).
    pub(crate) target: Option<String>,
    pub(crate) read_only: bool,
    /// `id=`: a cache's or a secret's id.
    pub(crate) id: Option<String>,
    pub(crate) sharing: Sharing,
    /// A secret that must be given.
    pub(crate) required: bool,
    pub(crate) mode: Option<u32>,
    pub(crate) uid: Option<u32>,
    pub(crate) gid: Option<u32>,
    /// A tmpfs's size in bytes.
    pub(crate) size: Option<u64>,
    /// `env=`: a secret exposed as this environment variable.
    pub(crate) env: Option<String>,
}

/// What an option value becomes before it is used: `$VAR`s expanded, or taken as is.
pub(crate) type Expander<'a> = &'a dyn Fn(&str) -> Result<String, String>;

/// Parses `type=cache,target=/root/.cache,...`. Errors are Docker's wording.
pub(crate) fn parse(raw: &str, expand: Expander<'_>) -> Result<RunMount, String> {
    let mut m = RunMount {
        kind: MountType::Bind,
        from: None,
        source: None,
        target: None,
        read_only: false,
        id: None,
        sharing: Sharing::Shared,
        required: false,
        mode: None,
        uid: None,
        gid: None,
        size: None,
        env: None,
    };
    let mut read_only: Option<bool> = None;
    let mut sharing: Option<Sharing> = None;
    let not_for_type = |key: &str, kind: MountType| {
        format!("unexpected key '{key}' for mount type '{}'", kind.name())
    };
    for field in csv_fields(raw)? {
        let Some((key, value)) = field.split_once('=') else {
            match field.to_ascii_lowercase().as_str() {
                "readonly" | "ro" => read_only = Some(true),
                "readwrite" | "rw" => read_only = Some(false),
                "required" if m.kind == MountType::Secret => m.required = true,
                "required" => return Err(not_for_type("required", m.kind)),
                _ => return Err(format!("invalid field '{field}' must be a key=value pair")),
            }
            continue;
        };
        let key = key.to_ascii_lowercase();
        let value = expand(value)?;
        let bad_value = || format!("invalid value for {key}: {value}");
        match key.as_str() {
            "type" => {
                m.kind = match value.to_ascii_lowercase().as_str() {
                    "bind" => MountType::Bind,
                    "cache" => MountType::Cache,
                    "tmpfs" => MountType::Tmpfs,
                    "secret" => MountType::Secret,
                    "ssh" => return Err("mount type \"ssh\" is not supported by berth".into()),
                    _ => return Err(format!("unsupported mount type \"{value}\"")),
                }
            }
            "from" => m.from = Some(value),
            "source" | "src" => m.source = Some(value),
            "target" | "dst" | "destination" => m.target = Some(value),
            "readonly" | "ro" => read_only = Some(parse_bool(&value).ok_or_else(bad_value)?),
            "readwrite" | "rw" => read_only = Some(!parse_bool(&value).ok_or_else(bad_value)?),
            "required" if m.kind == MountType::Secret => {
                m.required = parse_bool(&value).ok_or_else(bad_value)?;
            }
            "size" if m.kind == MountType::Tmpfs => {
                m.size = Some(parse_size(&value).ok_or_else(bad_value)?);
            }
            "env" if m.kind == MountType::Secret => m.env = Some(value),
            "required" | "size" | "env" => return Err(not_for_type(&key, m.kind)),
            "id" => m.id = Some(value),
            "sharing" => {
                sharing = Some(match value.to_ascii_lowercase().as_str() {
                    "shared" => Sharing::Shared,
                    "private" => Sharing::Private,
                    "locked" => Sharing::Locked,
                    _ => return Err(format!("unsupported sharing value \"{value}\"")),
                })
            }
            "mode" => {
                let mode = u32::from_str_radix(&value, 8)
                    .ok()
                    .filter(|m| *m <= 0o7777)
                    .ok_or_else(|| format!("invalid value {value} for mode"))?;
                m.mode = Some(mode);
            }
            "uid" | "gid" => {
                let id: u32 = value
                    .parse()
                    .map_err(|_| format!("invalid value {value} for {key}"))?;
                if key == "uid" {
                    m.uid = Some(id);
                } else {
                    m.gid = Some(id);
                }
            }
            _ => return Err(format!("unexpected key '{key}' in '{field}'")),
        }
    }
    let file_info = matches!(m.kind, MountType::Secret | MountType::Cache);
    for (name, set) in [
        ("mode", m.mode.is_some()),
        ("uid", m.uid.is_some()),
        ("gid", m.gid.is_some()),
    ] {
        if set && !file_info {
            return Err(format!(
                "{name} not allowed for \"{}\" type mounts",
                m.kind.name()
            ));
        }
    }
    // Binds and secrets are read-only unless asked otherwise; caches and tmpfs writable.
    m.read_only = read_only.unwrap_or(matches!(m.kind, MountType::Bind | MountType::Secret));
    if let Some(sharing) = sharing {
        if m.kind != MountType::Cache {
            return Err(format!(
                "invalid cache sharing set for {} mount",
                m.kind.name()
            ));
        }
        m.sharing = sharing;
    }
    match m.kind {
        MountType::Secret => {
            if m.from.is_some() {
                return Err("secret mount should not have a from".into());
            }
            if m.source.is_some() && m.id.is_some() {
                return Err("both source and id can't be set".into());
            }
            if m.source.is_none() && m.target.is_none() && m.id.is_none() {
                return Err("invalid secret mount. one of source, target required".into());
            }
        }
        MountType::Bind | MountType::Cache | MountType::Tmpfs => {
            if m.target.as_deref().is_none_or(str::is_empty) {
                return Err(format!("{} mount requires a target", m.kind.name()));
            }
        }
    }
    if m.kind == MountType::Tmpfs && m.from.is_some() {
        return Err(not_for_type("from", m.kind));
    }
    Ok(m)
}

impl RunMount {
    /// A secret's id: `id=`, else `source=`, else the target's file name.
    pub(crate) fn secret_id(&self) -> String {
        self.id
            .clone()
            .or_else(|| self.source.clone())
            .or_else(|| {
                let target = self.target.as_deref()?;
                Some(target.rsplit('/').next().unwrap_or(target).to_owned())
            })
            .unwrap_or_default()
    }

    /// Where it is mounted: absolute, relative targets below `workdir`. A secret given only
    /// as an environment variable has none.
    pub(crate) fn target_path(&self, workdir: &str) -> Option<String> {
        match (&self.target, self.kind) {
            (Some(t), _) if t.starts_with('/') => Some(clean(t)),
            (Some(t), _) => Some(clean(&format!("/{workdir}/{t}"))),
            (None, MountType::Secret) if self.env.is_some() => None,
            (None, MountType::Secret) => Some(format!("/run/secrets/{}", self.secret_id())),
            (None, _) => None,
        }
    }

    /// The mount as it takes part in a step's cache key: every option, in one order. A
    /// secret's content never does, only its id and where it goes.
    pub(crate) fn describe(&self, workdir: &str) -> String {
        let mut out = format!("type={}", self.kind.name());
        let mut add = |key: &str, value: Option<String>| {
            if let Some(v) = value {
                let _ = write!(out, ",{key}={v:?}");
            }
        };
        add("target", self.target_path(workdir));
        add("from", self.from.clone());
        add("source", self.source.clone());
        add("id", self.id.clone());
        add("ro", Some(self.read_only.to_string()));
        add("sharing", Some(self.sharing.name().to_owned()));
        add("required", Some(self.required.to_string()));
        add("mode", self.mode.map(|m| format!("{m:o}")));
        add("uid", self.uid.map(|v| v.to_string()));
        add("gid", self.gid.map(|v| v.to_string()));
        add("size", self.size.map(|v| v.to_string()));
        add("env", self.env.clone());
        out
    }
}

/// One CSV record (Go's `encoding/csv`): fields split at commas, a field may be quoted with
/// `"`, a quote inside doubled.
fn csv_fields(raw: &str) -> Result<Vec<String>, String> {
    let mut fields = Vec::new();
    let mut field = String::new();
    let mut chars = raw.chars().peekable();
    let mut in_quotes = false;
    let mut at_start = true;
    while let Some(c) = chars.next() {
        match c {
            '"' if in_quotes && chars.peek() == Some(&'"') => {
                chars.next();
                field.push('"');
            }
            '"' if in_quotes => in_quotes = false,
            '"' if at_start => in_quotes = true,
            '"' => {
                return Err(format!(
                    "failed to parse csv mounts: bare \" in non-quoted-field: {raw}"
                ));
            }
            ',' if !in_quotes => {
                fields.push(std::mem::take(&mut field));
                at_start = true;
                continue;
            }
            c => field.push(c),
        }
        at_start = false;
    }
    if in_quotes {
        return Err(format!(
            "failed to parse csv mounts: extraneous or missing \" in quoted-field: {raw}"
        ));
    }
    fields.push(field);
    Ok(fields.into_iter().filter(|f| !f.is_empty()).collect())
}

/// Go's `strconv.ParseBool`.
fn parse_bool(value: &str) -> Option<bool> {
    match value {
        "1" | "t" | "T" | "true" | "TRUE" | "True" => Some(true),
        "0" | "f" | "F" | "false" | "FALSE" | "False" => Some(false),
        _ => None,
    }
}

/// A size such as `64m`, `1g`, `512kb`, `1048576` (binary units, as Docker's RAMInBytes).
fn parse_size(value: &str) -> Option<u64> {
    let lower = value.trim().to_ascii_lowercase();
    let digits_end = lower
        .find(|c: char| !(c.is_ascii_digit() || c == '.'))
        .unwrap_or(lower.len());
    let number: f64 = lower[..digits_end].parse().ok()?;
    let unit = lower[digits_end..].trim();
    let unit = unit
        .strip_suffix("ib")
        .or_else(|| unit.strip_suffix('b'))
        .unwrap_or(unit);
    let shift = match unit {
        "" => 0,
        "k" => 10,
        "m" => 20,
        "g" => 30,
        "t" => 40,
        "p" => 50,
        _ => return None,
    };
    let bytes = number * (1u64 << shift) as f64;
    (bytes.is_finite() && bytes >= 0.0 && bytes < u64::MAX as f64).then_some(bytes as u64)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn as_is(v: &str) -> Result<String, String> {
        Ok(v.to_owned())
    }

    fn ok(raw: &str) -> RunMount {
        parse(raw, &as_is).unwrap_or_else(|e| panic!("{raw}: {e}"))
    }

    fn err(raw: &str) -> String {
        parse(raw, &as_is).unwrap_err()
    }

    #[test]
    fn cache_mounts_with_their_options() {
        let m = ok("type=cache,target=/root/.cache,id=pip,sharing=locked,mode=0700,uid=10,gid=20");
        assert_eq!(m.kind, MountType::Cache);
        assert_eq!(m.target.as_deref(), Some("/root/.cache"));
        assert_eq!(m.id.as_deref(), Some("pip"));
        assert_eq!(m.sharing, Sharing::Locked);
        assert_eq!((m.mode, m.uid, m.gid), (Some(0o700), Some(10), Some(20)));
        assert!(!m.read_only);
        assert!(ok("type=cache,target=/c,ro").read_only);
        assert!(ok("type=cache,dst=/c,readonly=true").read_only);
    }

    #[test]
    fn binds_default_to_read_only_and_may_be_writable() {
        let m = ok("target=/src,from=build,source=/out");
        assert_eq!(m.kind, MountType::Bind);
        assert!(m.read_only);
        assert_eq!(m.from.as_deref(), Some("build"));
        assert_eq!(m.source.as_deref(), Some("/out"));
        assert!(!ok("type=bind,target=/src,rw").read_only);
        assert!(!ok("type=bind,target=/src,readwrite=1").read_only);
    }

    #[test]
    fn tmpfs_sizes() {
        assert_eq!(ok("type=tmpfs,target=/t,size=64m").size, Some(64 << 20));
        assert_eq!(ok("type=tmpfs,target=/t,size=1024").size, Some(1024));
        assert_eq!(ok("type=tmpfs,target=/t,size=1GiB").size, Some(1 << 30));
        assert_eq!(
            err("type=tmpfs,target=/t,size=lots"),
            "invalid value for size: lots"
        );
    }

    #[test]
    fn secrets_take_their_id_and_target_from_each_other() {
        let m = ok("type=secret,id=token");
        assert!(m.read_only);
        assert_eq!(m.target_path("/"), Some("/run/secrets/token".into()));
        let m = ok("type=secret,target=/etc/app/key,required");
        assert!(m.required);
        assert_eq!(m.secret_id(), "key");
        let m = ok("type=secret,id=aws,env=AWS_KEY");
        assert_eq!(m.target_path("/"), None);
        assert_eq!(m.env.as_deref(), Some("AWS_KEY"));
        let m = ok("type=secret,id=aws,env=AWS_KEY,target=/a");
        assert_eq!(m.target_path("/"), Some("/a".into()));
    }

    #[test]
    fn relative_targets_are_below_workdir() {
        let m = ok("type=cache,target=cache/../c");
        assert_eq!(m.target_path("/app"), Some("/app/c".into()));
    }

    #[test]
    fn quoted_fields() {
        let m = ok(r#"type=bind,"source=a,b",target=/x"#);
        assert_eq!(m.source.as_deref(), Some("a,b"));
    }

    #[test]
    fn values_are_expanded() {
        let expand = |v: &str| Ok(v.replace("$ID", "42"));
        let m = parse("type=cache,id=c$ID,target=/c", &expand).unwrap();
        assert_eq!(m.id.as_deref(), Some("c42"));
    }

    #[test]
    fn bad_options_are_dockers_errors() {
        let cases = [
            ("type=weird,target=/x", "unsupported mount type \"weird\""),
            ("type=cache", "cache mount requires a target"),
            ("type=bind,source=x", "bind mount requires a target"),
            (
                "type=cache,target=/x,sharing=sometimes",
                "unsupported sharing value \"sometimes\"",
            ),
            (
                "type=cache,target=/x,bogus=1",
                "unexpected key 'bogus' in 'bogus=1'",
            ),
            (
                "type=cache,target=/x,nope",
                "invalid field 'nope' must be a key=value pair",
            ),
            (
                "type=bind,target=/x,mode=0644",
                "mode not allowed for \"bind\" type mounts",
            ),
            (
                "type=tmpfs,target=/x,sharing=locked",
                "invalid cache sharing set for tmpfs mount",
            ),
            (
                "type=cache,target=/x,required",
                "unexpected key 'required' for mount type 'cache'",
            ),
            ("type=cache,target=/x,mode=9", "invalid value 9 for mode"),
            ("type=cache,target=/x,uid=-1", "invalid value -1 for uid"),
            (
                "type=secret",
                "invalid secret mount. one of source, target required",
            ),
            (
                "type=secret,id=a,source=b",
                "both source and id can't be set",
            ),
            (
                "type=secret,id=a,from=x",
                "secret mount should not have a from",
            ),
            ("type=ssh", "mount type \"ssh\" is not supported by berth"),
            (
                "type=cache,target=\"/x",
                "failed to parse csv mounts: bare \" in non-quoted-field: type=cache,target=\"/x",
            ),
            (
                "type=cache,\"target=/x",
                "failed to parse csv mounts: extraneous or missing \" in quoted-field: type=cache,\"target=/x",
            ),
        ];
        for (raw, message) in cases {
            assert_eq!(err(raw), message, "{raw}");
        }
    }

    #[test]
    fn descriptions_change_with_every_option_but_not_with_spelling() {
        let a = ok("type=cache,target=/c").describe("/");
        assert_eq!(a, ok("type=cache,dst=/c/").describe("/"));
        assert_ne!(a, ok("type=cache,target=/c,id=x").describe("/"));
        assert_ne!(a, ok("type=cache,target=/c,sharing=locked").describe("/"));
        assert_ne!(a, ok("type=cache,target=/d").describe("/"));
        assert_ne!(a, ok("type=tmpfs,target=/c").describe("/"));
    }
}
