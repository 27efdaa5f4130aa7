//! Build arguments: `--build-arg` values, `ARG` declarations (before FROM and per stage) and
//! Docker's predefined proxy arguments, with Docker's rules for which value wins and which
//! arguments a RUN sees and records in its history.

use std::collections::{BTreeMap, BTreeSet};

/// Usable without an `ARG` line, and kept out of the image history unless declared.
pub(crate) const PROXY_ARGS: [&str; 10] = [
    "HTTP_PROXY",
    "http_proxy",
    "HTTPS_PROXY",
    "https_proxy",
    "FTP_PROXY",
    "ftp_proxy",
    "NO_PROXY",
    "no_proxy",
    "ALL_PROXY",
    "all_proxy",
];

/// The build-wide state: values given to the build, ARGs before the first FROM, and which
/// given values some ARG declared. Each stage builds with a copy; their declarations are
/// merged back when the stages are done.
#[derive(Clone)]
pub(crate) struct BuildArgs<'o> {
    given: &'o BTreeMap<String, Option<String>>,
    meta: BTreeMap<String, Option<String>>,
    declared: BTreeSet<String>,
}

/// The ARGs declared in the current stage, with their defaults.
#[derive(Debug, Clone, Default)]
pub(crate) struct StageArgs {
    allowed: BTreeMap<String, Option<String>>,
}

impl<'o> BuildArgs<'o> {
    pub(crate) fn new(given: &'o BTreeMap<String, Option<String>>) -> Self {
        Self {
            given,
            meta: BTreeMap::new(),
            declared: BTreeSet::new(),
        }
    }

    fn given(&self, key: &str) -> Option<&'o str> {
        self.given.get(key).and_then(|v| v.as_deref())
    }

    /// An `ARG` before the first FROM.
    pub(crate) fn declare_meta(&mut self, key: &str, default: Option<String>) {
        self.declared.insert(key.to_owned());
        self.meta.insert(key.to_owned(), default);
    }

    /// An `ARG` inside a stage.
    pub(crate) fn declare(&mut self, stage: &mut StageArgs, key: &str, default: Option<String>) {
        self.declared.insert(key.to_owned());
        stage.allowed.insert(key.to_owned(), default);
    }

    /// `KEY=value` for every meta ARG that has a value: what FROM lines (and later meta ARG
    /// defaults) expand with.
    pub(crate) fn meta_env(&self) -> Vec<String> {
        self.meta
            .iter()
            .filter_map(|(k, default)| {
                let value = self.given(k).or(default.as_deref())?;
                Some(format!("{k}={value}"))
            })
            .collect()
    }

    fn value(&self, stage: &StageArgs, key: &str) -> Option<String> {
        if let Some(given) = self.given(key) {
            return Some(given.to_owned());
        }
        match stage.allowed.get(key) {
            Some(Some(default)) => Some(default.clone()),
            // `ARG X` without a default takes the value of a meta `ARG X=...`.
            Some(None) => self.meta.get(key).cloned().flatten(),
            None => None,
        }
    }

    /// `KEY=value` for every argument in scope that the image's ENV does not override:
    /// the stage's ARGs and the proxy arguments given to the build. Sorted.
    pub(crate) fn in_scope(&self, stage: &StageArgs, env: &[String]) -> Vec<String> {
        let keys: BTreeSet<&str> = stage
            .allowed
            .keys()
            .map(String::as_str)
            .chain(
                PROXY_ARGS
                    .iter()
                    .copied()
                    .filter(|k| self.given(k).is_some()),
            )
            .collect();
        let shadowed = |key: &str| {
            env.iter()
                .any(|kv| kv.split_once('=').map_or(kv.as_str(), |(k, _)| k) == key)
        };
        keys.into_iter()
            .filter(|k| !shadowed(k))
            .filter_map(|k| Some(format!("{k}={}", self.value(stage, k)?)))
            .collect()
    }

    /// Of [`Self::in_scope`], what a RUN records in its history (`|2 A=1 B=2 /bin/sh -c ...`):
    /// undeclared proxy arguments stay out, so they neither leak nor break the cache.
    pub(crate) fn recorded(&self, stage: &StageArgs, in_scope: &[String]) -> Vec<String> {
        in_scope
            .iter()
            .filter(|kv| {
                let key = kv.split_once('=').map_or(kv.as_str(), |(k, _)| k);
                stage.allowed.contains_key(key) || !PROXY_ARGS.contains(&key)
            })
            .cloned()
            .collect()
    }

    /// The names some ARG declared.
    pub(crate) fn into_declared(self) -> BTreeSet<String> {
        self.declared
    }

    /// Takes in what a stage (building with a copy of these arguments) declared.
    pub(crate) fn merge_declared(&mut self, declared: BTreeSet<String>) {
        self.declared.extend(declared);
    }

    /// Given arguments no ARG declared (proxy arguments excepted), sorted.
    pub(crate) fn unused(&self) -> Vec<String> {
        self.given
            .keys()
            .filter(|k| !self.declared.contains(*k) && !PROXY_ARGS.contains(&k.as_str()))
            .cloned()
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn given(pairs: &[(&str, Option<&str>)]) -> BTreeMap<String, Option<String>> {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.map(str::to_owned)))
            .collect()
    }

    #[test]
    fn given_values_beat_defaults_and_meta_values_fill_bare_args() {
        let given = given(&[("A", Some("given")), ("NULL", None)]);
        let mut args = BuildArgs::new(&given);
        args.declare_meta("V", Some("meta".into()));
        args.declare_meta("A", Some("meta-a".into()));
        assert_eq!(args.meta_env(), ["A=given", "V=meta"]);
        let mut stage = StageArgs::default();
        args.declare(&mut stage, "A", Some("default".into()));
        args.declare(&mut stage, "V", None);
        args.declare(&mut stage, "NULL", Some("d".into()));
        args.declare(&mut stage, "NONE", None);
        assert_eq!(args.in_scope(&stage, &[]), ["A=given", "NULL=d", "V=meta"]);
        // ENV wins over ARG.
        assert_eq!(
            args.in_scope(&stage, &["A=env".to_owned()]),
            ["NULL=d", "V=meta"]
        );
    }

    #[test]
    fn proxy_args_are_usable_but_not_recorded_unless_declared() {
        let given = given(&[("http_proxy", Some("http://p:3128")), ("UNUSED", Some("x"))]);
        let mut args = BuildArgs::new(&given);
        let mut stage = StageArgs::default();
        args.declare(&mut stage, "B", Some("1".into()));
        let scope = args.in_scope(&stage, &[]);
        assert_eq!(scope, ["B=1", "http_proxy=http://p:3128"]);
        assert_eq!(args.recorded(&stage, &scope), ["B=1"]);
        args.declare(&mut stage, "http_proxy", None);
        let scope = args.in_scope(&stage, &[]);
        assert_eq!(args.recorded(&stage, &scope), scope);
        assert_eq!(args.unused(), ["UNUSED"]);
    }
}
