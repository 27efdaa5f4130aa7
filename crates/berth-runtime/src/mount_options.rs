//! OCI mount options (`"ro"`, `"rbind"`, `"rprivate"`, `"mode=755"`...) split into what
//! `mount(2)` takes: flags, propagation and the filesystem's data string.

use nix::mount::MsFlags;

/// A bind mount, and whether it takes the mounts below its source along.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Bind {
    Plain,
    Recursive,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct MountOptions {
    /// Flags for `mount(2)`; never `MS_BIND`, `MS_REC` or a propagation flag.
    pub flags: MsFlags,
    pub bind: Option<Bind>,
    /// A propagation change (`MS_PRIVATE`, `MS_SLAVE`... maybe with `MS_REC`) applied after the
    /// mount.
    pub propagation: Option<MsFlags>,
    /// Options the filesystem itself parses (`mode=755`, `newinstance`...), comma separated.
    pub data: Option<String>,
}

/// Options that name a `mount(2)` flag: whether they set it or clear it.
const FLAG_OPTIONS: &[(&str, bool, MsFlags)] = &[
    ("async", false, MsFlags::MS_SYNCHRONOUS),
    ("atime", false, MsFlags::MS_NOATIME),
    ("dev", false, MsFlags::MS_NODEV),
    ("diratime", false, MsFlags::MS_NODIRATIME),
    ("dirsync", true, MsFlags::MS_DIRSYNC),
    ("exec", false, MsFlags::MS_NOEXEC),
    ("mand", true, MsFlags::MS_MANDLOCK),
    ("noatime", true, MsFlags::MS_NOATIME),
    ("nodev", true, MsFlags::MS_NODEV),
    ("nodiratime", true, MsFlags::MS_NODIRATIME),
    ("noexec", true, MsFlags::MS_NOEXEC),
    ("nomand", false, MsFlags::MS_MANDLOCK),
    ("norelatime", false, MsFlags::MS_RELATIME),
    ("nostrictatime", false, MsFlags::MS_STRICTATIME),
    ("nosuid", true, MsFlags::MS_NOSUID),
    ("relatime", true, MsFlags::MS_RELATIME),
    ("ro", true, MsFlags::MS_RDONLY),
    ("rw", false, MsFlags::MS_RDONLY),
    ("strictatime", true, MsFlags::MS_STRICTATIME),
    ("suid", false, MsFlags::MS_NOSUID),
    ("sync", true, MsFlags::MS_SYNCHRONOUS),
];

const PROPAGATION_OPTIONS: &[(&str, MsFlags)] = &[
    ("private", MsFlags::MS_PRIVATE),
    ("rprivate", MsFlags::MS_PRIVATE.union(MsFlags::MS_REC)),
    ("shared", MsFlags::MS_SHARED),
    ("rshared", MsFlags::MS_SHARED.union(MsFlags::MS_REC)),
    ("slave", MsFlags::MS_SLAVE),
    ("rslave", MsFlags::MS_SLAVE.union(MsFlags::MS_REC)),
    ("unbindable", MsFlags::MS_UNBINDABLE),
    ("runbindable", MsFlags::MS_UNBINDABLE.union(MsFlags::MS_REC)),
];

/// Options runc understands that need machinery this runtime does not have yet.
const UNSUPPORTED_OPTIONS: &[&str] = &[
    "idmap",
    "ridmap",
    "tmpcopyup",
    "remount",
    "rro",
    "rrw",
    "rnosuid",
    "rsuid",
    "rnodev",
    "rdev",
    "rnoexec",
    "rexec",
    "rnodiratime",
    "rdiratime",
    "rrelatime",
    "rnorelatime",
    "rnoatime",
    "ratime",
    "rstrictatime",
    "rnostrictatime",
    "rnosymfollow",
    "rsymfollow",
];

/// Parses `options` in order (a later option overrides an earlier one, as with mount(8)).
/// Anything that is neither a flag nor a propagation goes to the filesystem as data.
pub(crate) fn parse(options: &[String]) -> Result<MountOptions, String> {
    let mut parsed = MountOptions {
        flags: MsFlags::empty(),
        bind: None,
        propagation: None,
        data: None,
    };
    let mut data: Vec<&str> = Vec::new();
    for option in options {
        let option = option.as_str();
        match option {
            "defaults" => {}
            "bind" => parsed.bind = Some(Bind::Plain),
            "rbind" => parsed.bind = Some(Bind::Recursive),
            _ if UNSUPPORTED_OPTIONS.contains(&option) => {
                return Err(format!("mount option {option:?} is not supported"));
            }
            _ => {
                if let Some(&(_, set, flag)) = FLAG_OPTIONS.iter().find(|(n, ..)| *n == option) {
                    parsed.flags.set(flag, set);
                } else if let Some(&(_, flags)) =
                    PROPAGATION_OPTIONS.iter().find(|(n, _)| *n == option)
                {
                    parsed.propagation = Some(flags);
                } else {
                    data.push(option);
                }
            }
        }
    }
    if !data.is_empty() {
        parsed.data = Some(data.join(","));
    }
    Ok(parsed)
}

/// The propagation named by `linux.rootfsPropagation`, applied to `/` recursively before the
/// container's mounts are made.
pub(crate) fn root_propagation(name: Option<&str>) -> Result<MsFlags, String> {
    match name.unwrap_or("") {
        "" | "private" | "rprivate" => Ok(MsFlags::MS_PRIVATE | MsFlags::MS_REC),
        "slave" | "rslave" => Ok(MsFlags::MS_SLAVE | MsFlags::MS_REC),
        other => Err(format!("rootfs propagation {other:?} is not supported")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn opts(list: &[&str]) -> Vec<String> {
        list.iter().map(|s| s.to_string()).collect()
    }

    #[test]
    fn flags_propagation_and_data_are_split() {
        let p = parse(&opts(&["nosuid", "strictatime", "mode=755", "size=65536k"])).unwrap();
        assert_eq!(p.flags, MsFlags::MS_NOSUID | MsFlags::MS_STRICTATIME);
        assert_eq!(p.data.as_deref(), Some("mode=755,size=65536k"));
        assert_eq!((p.bind, p.propagation), (None, None));

        let p = parse(&opts(&["rbind", "ro", "rprivate"])).unwrap();
        assert_eq!(p.bind, Some(Bind::Recursive));
        assert_eq!(p.flags, MsFlags::MS_RDONLY);
        assert_eq!(p.propagation, Some(MsFlags::MS_PRIVATE | MsFlags::MS_REC));
        assert_eq!(p.data, None);
    }

    #[test]
    fn later_options_win() {
        assert_eq!(parse(&opts(&["ro", "rw"])).unwrap().flags, MsFlags::empty());
        assert_eq!(
            parse(&opts(&["rw", "ro"])).unwrap().flags,
            MsFlags::MS_RDONLY
        );
        assert_eq!(
            parse(&opts(&["nodev", "dev", "defaults"])).unwrap().flags,
            MsFlags::empty()
        );
    }

    #[test]
    fn devpts_options_go_to_the_filesystem() {
        let p = parse(&opts(&[
            "nosuid",
            "noexec",
            "newinstance",
            "ptmxmode=0666",
            "mode=0620",
            "gid=5",
        ]))
        .unwrap();
        assert_eq!(p.flags, MsFlags::MS_NOSUID | MsFlags::MS_NOEXEC);
        assert_eq!(
            p.data.as_deref(),
            Some("newinstance,ptmxmode=0666,mode=0620,gid=5")
        );
    }

    #[test]
    fn unsupported_options_are_refused_not_passed_on() {
        assert!(
            parse(&opts(&["rbind", "idmap"]))
                .unwrap_err()
                .contains("idmap")
        );
    }

    #[test]
    fn root_propagation_defaults_to_rprivate() {
        assert_eq!(
            root_propagation(None).unwrap(),
            MsFlags::MS_PRIVATE | MsFlags::MS_REC
        );
        assert_eq!(
            root_propagation(Some("rslave")).unwrap(),
            MsFlags::MS_SLAVE | MsFlags::MS_REC
        );
        assert!(root_propagation(Some("rshared")).is_err());
    }
}
