//! Typed instructions, and a Dockerfile grouped into meta `ARG`s and build stages. Everything
//! that can be checked without running the build is checked here, so a bad Dockerfile fails
//! with its line number before anything is pulled or run.

use crate::error::{BuildError, Result};
use crate::gofmt;
use crate::heredoc::{self, Heredoc};
use crate::parser::{self, Node};
use crate::run_mount;

/// RUN, CMD, ENTRYPOINT: `["exec", "form"]` or a shell command line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum CommandLine {
    Exec(Vec<String>),
    Shell(String),
}

/// An ENV or LABEL pair as written (quotes and `$VAR`s still in it).
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct KeyValue {
    pub(crate) key: String,
    pub(crate) value: String,
}

/// COPY and ADD.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub(crate) struct CopyArgs {
    pub(crate) sources: Vec<String>,
    /// Here-documents given as sources (`COPY <<a.txt /dst/`): files named after them.
    pub(crate) inline: Vec<Heredoc>,
    pub(crate) dest: String,
    pub(crate) from: Option<String>,
    pub(crate) chown: Option<String>,
    pub(crate) chmod: Option<String>,
    /// `--link`: accepted; a classic build's layer is the same either way.
    pub(crate) link: bool,
    /// `--parents` (COPY): sources keep their parent directories below the destination.
    pub(crate) parents: bool,
}

/// RUN: the command, the here-documents it reads, and its `--mount`s and `--network`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct RunArgs {
    pub(crate) command: CommandLine,
    pub(crate) heredocs: Vec<Heredoc>,
    /// `--mount` values as written: their `$VAR`s are expanded when the step runs.
    pub(crate) mounts: Vec<String>,
    /// `--network`: `default`, `none` or `host`.
    pub(crate) network: Option<String>,
}

/// HEALTHCHECK, durations in nanoseconds as Docker stores them. `NONE` is `test == ["NONE"]`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Healthcheck {
    pub(crate) test: Vec<String>,
    pub(crate) interval: i64,
    pub(crate) timeout: i64,
    pub(crate) start_period: i64,
    pub(crate) start_interval: i64,
    pub(crate) retries: i64,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Instruction {
    From {
        image: String,
        name: Option<String>,
        platform: Option<String>,
    },
    Run(RunArgs),
    Cmd(CommandLine),
    Entrypoint(CommandLine),
    Env(Vec<KeyValue>),
    /// `expand` is false for labels given to the build as options (taken literally).
    Label {
        pairs: Vec<KeyValue>,
        expand: bool,
    },
    Arg(Vec<(String, Option<String>)>),
    Expose(Vec<String>),
    Volume(Vec<String>),
    Copy(CopyArgs),
    Add(CopyArgs),
    Workdir(String),
    User(String),
    StopSignal(String),
    Maintainer(String),
    Healthcheck(Healthcheck),
    Shell(Vec<String>),
    /// The trigger as written after `ONBUILD`.
    Onbuild(String),
}

/// An instruction with where it came from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Step {
    pub(crate) instruction: Instruction,
    pub(crate) original: String,
    pub(crate) line: usize,
}

#[derive(Debug, Clone)]
pub(crate) struct Stage {
    /// Lower-cased `AS` name.
    pub(crate) name: Option<String>,
    /// The FROM step.
    pub(crate) from: Step,
    pub(crate) steps: Vec<Step>,
}

#[derive(Debug)]
pub(crate) struct Dockerfile {
    pub(crate) escape: char,
    pub(crate) warnings: Vec<String>,
    /// ARGs before the first FROM.
    pub(crate) meta_args: Vec<Step>,
    pub(crate) stages: Vec<Stage>,
}

pub(crate) fn parse_dockerfile(text: &str) -> Result<Dockerfile> {
    let lines = parser::parse(text)?;
    if lines.nodes.is_empty() {
        return Err(BuildError::Dockerfile(
            "file with no instructions".to_owned(),
        ));
    }
    let mut meta_args = Vec::new();
    let mut stages: Vec<Stage> = Vec::new();
    for node in &lines.nodes {
        let step = parse_node(node, lines.escape)?;
        match (&step.instruction, stages.last_mut()) {
            (Instruction::From { name, .. }, _) => {
                if let Some(name) = name
                    && stages.iter().any(|s| s.name.as_ref() == Some(name))
                {
                    return Err(BuildError::parse(
                        step.line,
                        format!("{name} stage name already used"),
                    ));
                }
                stages.push(Stage {
                    name: name.clone(),
                    from: step,
                    steps: Vec::new(),
                });
            }
            (_, Some(stage)) => stage.steps.push(step),
            (Instruction::Arg(_), None) => meta_args.push(step),
            (_, None) => {
                return Err(BuildError::parse(
                    step.line,
                    "no build stage in current context",
                ));
            }
        }
    }
    if stages.is_empty() {
        return Err(BuildError::Dockerfile(
            "no build stage in current context".to_owned(),
        ));
    }
    Ok(Dockerfile {
        escape: lines.escape,
        warnings: lines.warnings,
        meta_args,
        stages,
    })
}

/// Parses an ONBUILD trigger when it fires (it was checked when the image was built, but an
/// image's config is untrusted input).
pub(crate) fn parse_trigger(expression: &str, escape: char) -> Result<Step> {
    let lines = parser::parse(expression)?;
    let [node] = lines.nodes.as_slice() else {
        return Err(BuildError::invalid(
            "onbuild trigger should be a single expression",
        ));
    };
    let step = parse_node(node, escape)?;
    check_trigger(&node.keyword, node.line)?;
    Ok(step)
}

fn parse_node(node: &Node, escape: char) -> Result<Step> {
    let keyword = node.keyword.to_ascii_uppercase();
    let err = |message: String| BuildError::parse(node.line, message);
    let at_least_one = || err(format!("{keyword} requires at least one argument"));
    let exactly_one = || err(format!("{keyword} requires exactly one argument"));
    let flags = Flags::parse(node, flag_names(&node.keyword))?;
    let args = node.args.as_str();

    let instruction = match node.keyword.as_str() {
        "from" => parse_from(args, flags.get("platform"), &err)?,
        "run" => Instruction::Run(parse_run(node, &flags, &err)?),
        "cmd" => Instruction::Cmd(command_line(args, &err)?.ok_or_else(at_least_one)?),
        "entrypoint" => {
            Instruction::Entrypoint(command_line(args, &err)?.ok_or_else(at_least_one)?)
        }
        "env" => Instruction::Env(parse_name_values(args, &keyword, escape, &err)?),
        "label" => Instruction::Label {
            pairs: parse_name_values(args, &keyword, escape, &err)?,
            expand: true,
        },
        "arg" => {
            let words = parser::parse_words(args, escape);
            if words.is_empty() {
                return Err(at_least_one());
            }
            Instruction::Arg(
                words
                    .into_iter()
                    .map(|w| match w.split_once('=') {
                        Some((k, v)) => (k.to_owned(), Some(v.to_owned())),
                        None => (w, None),
                    })
                    .collect(),
            )
        }
        "expose" => Instruction::Expose(non_empty(whitespace_list(args), at_least_one)?),
        "volume" => Instruction::Volume(non_empty(list(args, &err)?, at_least_one)?),
        "copy" | "add" => {
            let mut words = list(args, &err)?;
            let mut heredocs = node.heredocs.iter();
            let mut inline = Vec::new();
            let dest = match words.len() {
                0 => return Err(err(format!("{keyword} requires at least two arguments"))),
                1 => {
                    return Err(err(format!(
                        "{keyword} requires at least two arguments, but only one was provided. \
                         Destination could not be determined."
                    )));
                }
                _ => words.pop().unwrap_or_default(),
            };
            if heredoc::parse_word(&dest).is_some() {
                return Err(err(format!(
                    "{keyword} cannot accept a heredoc as a destination"
                )));
            }
            words.retain(|word| match heredoc::parse_word(word) {
                Some(_) => {
                    inline.extend(heredocs.next().cloned());
                    false
                }
                None => true,
            });
            let copy = CopyArgs {
                sources: words,
                inline,
                dest,
                from: flags.get("from"),
                chown: flags.get("chown"),
                chmod: flags.get("chmod"),
                link: flags.enabled("link", &err)?,
                parents: flags.enabled("parents", &err)?,
            };
            if keyword == "COPY" {
                Instruction::Copy(copy)
            } else {
                Instruction::Add(copy)
            }
        }
        "workdir" => Instruction::Workdir(non_blank(args).ok_or_else(exactly_one)?),
        "user" => Instruction::User(non_blank(args).ok_or_else(exactly_one)?),
        "stopsignal" => Instruction::StopSignal(non_blank(args).ok_or_else(exactly_one)?),
        "maintainer" => Instruction::Maintainer(non_blank(args).ok_or_else(exactly_one)?),
        "healthcheck" => Instruction::Healthcheck(parse_healthcheck(args, &flags, &err)?),
        "shell" => match command_line(args, &err)? {
            Some(CommandLine::Exec(words)) if !words.is_empty() => Instruction::Shell(words),
            Some(CommandLine::Exec(_)) | None => return Err(at_least_one()),
            Some(CommandLine::Shell(_)) => {
                return Err(err(
                    "SHELL requires the arguments to be in JSON form".to_owned()
                ));
            }
        },
        "onbuild" => {
            let expression = node
                .original
                .get(node.keyword.len()..)
                .unwrap_or_default()
                .trim();
            if expression.is_empty() {
                return Err(at_least_one());
            }
            let trigger = parser::parse(expression)?;
            for sub in &trigger.nodes {
                let sub = Node {
                    line: node.line,
                    ..sub.clone()
                };
                check_trigger(&sub.keyword, node.line)?;
                parse_node(&sub, escape)?;
            }
            Instruction::Onbuild(expression.to_owned())
        }
        _ => {
            return Err(err(format!("unknown instruction: {keyword}")));
        }
    };
    Ok(Step {
        instruction,
        original: node.original.clone(),
        line: node.line,
    })
}

fn check_trigger(keyword: &str, line: usize) -> Result<()> {
    match keyword {
        "onbuild" => Err(BuildError::parse(
            line,
            "Chaining ONBUILD via `ONBUILD ONBUILD` isn't allowed",
        )),
        "from" | "maintainer" => Err(BuildError::parse(
            line,
            format!(
                "{} isn't allowed as an ONBUILD trigger",
                keyword.to_ascii_uppercase()
            ),
        )),
        _ => Ok(()),
    }
}

fn flag_names(keyword: &str) -> &'static [&'static str] {
    match keyword {
        "from" => &["platform"],
        "run" => &["mount", "network"],
        "copy" => &["from", "chown", "chmod", "link", "parents"],
        "add" => &["chown", "chmod", "link"],
        "healthcheck" => &[
            "interval",
            "timeout",
            "start-period",
            "start-interval",
            "retries",
        ],
        _ => &[],
    }
}

/// Flags that may be given without a value (meaning `true`).
const BOOLEAN_FLAGS: [&str; 2] = ["link", "parents"];
/// Flags that may be given more than once.
const REPEATED_FLAGS: [&str; 1] = ["mount"];

/// An instruction's `--name=value` flags, checked against the ones it takes.
struct Flags(Vec<(&'static str, String)>);

impl Flags {
    fn parse(node: &Node, allowed: &'static [&'static str]) -> Result<Self> {
        let err = |message: String| BuildError::parse(node.line, message);
        let mut values: Vec<(&'static str, String)> = Vec::new();
        for flag in &node.flags {
            let Some(flag) = flag.strip_prefix("--") else {
                return Err(err(format!("arg should start with -- : {flag}")));
            };
            let (name, value) = match flag.split_once('=') {
                Some((name, value)) => (name, Some(value)),
                None => (flag, None),
            };
            let Some(known) = allowed.iter().find(|a| **a == name) else {
                return Err(err(format!("unknown flag: {name}")));
            };
            if values.iter().any(|(n, _)| n == known) && !REPEATED_FLAGS.contains(known) {
                return Err(err(format!("duplicate flag specified: {name}")));
            }
            let value = match value {
                Some(value) => value,
                None if BOOLEAN_FLAGS.contains(known) => "true",
                None => return Err(err(format!("missing a value on flag: {name}"))),
            };
            values.push((known, value.to_owned()));
        }
        Ok(Self(values))
    }

    fn get(&self, name: &str) -> Option<String> {
        self.0
            .iter()
            .find(|(n, _)| *n == name)
            .map(|(_, v)| v.clone())
    }

    /// Every value of a repeated flag, in order.
    fn all(&self, name: &str) -> Vec<String> {
        self.0
            .iter()
            .filter(|(n, _)| *n == name)
            .map(|(_, v)| v.clone())
            .collect()
    }

    /// A boolean flag: absent is false, `--name` alone true.
    fn enabled(&self, name: &str, err: &dyn Fn(String) -> BuildError) -> Result<bool> {
        match self.get(name).as_deref() {
            None | Some("false") => Ok(false),
            Some("true") => Ok(true),
            Some(other) => Err(err(format!(
                "expecting boolean value for flag {name}, not: {other}"
            ))),
        }
    }
}

fn parse_run(node: &Node, flags: &Flags, err: &dyn Fn(String) -> BuildError) -> Result<RunArgs> {
    let command = command_line(&node.args, err)?
        .ok_or_else(|| err("RUN requires at least one argument".to_owned()))?;
    if !node.heredocs.is_empty() && matches!(command, CommandLine::Exec(_)) {
        return Err(err(
            "a here-document needs the shell form of RUN, not a JSON array".to_owned(),
        ));
    }
    let mounts = flags.all("mount");
    // Values with variables are checked once expanded, when the step runs.
    for raw in mounts.iter().filter(|m| !m.contains('$')) {
        run_mount::parse(raw, &|v| Ok(v.to_owned())).map_err(err)?;
    }
    let network = flags.get("network");
    if let Some(mode) = &network
        && !matches!(mode.as_str(), "default" | "none" | "host")
    {
        return Err(err(format!("unsupported network mode \"{mode}\"")));
    }
    Ok(RunArgs {
        command,
        heredocs: node.heredocs.clone(),
        mounts,
        network,
    })
}

fn parse_from(
    args: &str,
    platform: Option<String>,
    err: &dyn Fn(String) -> BuildError,
) -> Result<Instruction> {
    let words = whitespace_list(args);
    let (image, name) = match words.as_slice() {
        [image] => (image.clone(), None),
        [image, as_, name] if as_.eq_ignore_ascii_case("as") => {
            let name = name.to_ascii_lowercase();
            let valid = name.starts_with(|c: char| c.is_ascii_lowercase())
                && name
                    .chars()
                    .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || "-_.".contains(c));
            if !valid {
                return Err(err(format!(
                    "invalid name for build stage: {}, name can't start with a number or contain symbols",
                    gofmt::quote(&name)
                )));
            }
            (image.clone(), Some(name))
        }
        _ => return Err(err("FROM requires either one or three arguments".to_owned())),
    };
    Ok(Instruction::From {
        image,
        name,
        platform,
    })
}

/// `["exec", "form"]` when the arguments are a JSON array of strings, else the shell form.
fn command_line(args: &str, err: &dyn Fn(String) -> BuildError) -> Result<Option<CommandLine>> {
    if args.is_empty() {
        return Ok(None);
    }
    if args.starts_with('[')
        && let Ok(values) = serde_json::from_str::<Vec<serde_json::Value>>(args)
    {
        let words: Option<Vec<String>> = values
            .into_iter()
            .map(|v| v.as_str().map(str::to_owned))
            .collect();
        return match words {
            Some(words) => Ok(Some(CommandLine::Exec(words))),
            None => Err(err(
                "when using JSON array syntax, arrays must be comprised of strings only".to_owned(),
            )),
        };
    }
    Ok(Some(CommandLine::Shell(args.to_owned())))
}

/// A JSON array of strings or whitespace-separated words (COPY, ADD, VOLUME).
fn list(args: &str, err: &dyn Fn(String) -> BuildError) -> Result<Vec<String>> {
    Ok(match command_line(args, err)? {
        Some(CommandLine::Exec(words)) => words,
        Some(CommandLine::Shell(line)) => whitespace_list(&line),
        None => Vec::new(),
    })
}

fn whitespace_list(args: &str) -> Vec<String> {
    args.split_whitespace().map(str::to_owned).collect()
}

fn non_empty(words: Vec<String>, empty: impl FnOnce() -> BuildError) -> Result<Vec<String>> {
    if words.is_empty() {
        Err(empty())
    } else {
        Ok(words)
    }
}

fn non_blank(args: &str) -> Option<String> {
    (!args.is_empty()).then(|| args.to_owned())
}

/// ENV and LABEL: `KEY value with spaces` (the old form, when the first word has no `=`) or
/// `k1=v1 k2="v 2"`.
fn parse_name_values(
    args: &str,
    keyword: &str,
    escape: char,
    err: &dyn Fn(String) -> BuildError,
) -> Result<Vec<KeyValue>> {
    let words = parser::parse_words(args, escape);
    let Some(first) = words.first() else {
        return Err(err(format!("{keyword} requires at least one argument")));
    };
    let pairs = if first.contains('=') {
        words
            .iter()
            .map(|word| match word.split_once('=') {
                Some((key, value)) => Ok(KeyValue {
                    key: key.to_owned(),
                    value: value.to_owned(),
                }),
                None => Err(err(format!(
                    "Syntax error - can't find = in {}. Must be of the form: name=value",
                    gofmt::quote(word)
                ))),
            })
            .collect::<Result<Vec<_>>>()?
    } else {
        let Some((key, value)) = args.split_once(char::is_whitespace) else {
            return Err(err(format!("{keyword} must have two arguments")));
        };
        vec![KeyValue {
            key: key.to_owned(),
            value: value.trim_start().to_owned(),
        }]
    };
    if keyword == "ENV" && pairs.iter().any(|p| p.key.is_empty()) {
        return Err(err("ENV names can not be blank".to_owned()));
    }
    Ok(pairs)
}

const MINIMUM_HEALTH_INTERVAL: i64 = 1_000_000; // 1ms, Docker's container.MinimumDuration

fn parse_healthcheck(
    args: &str,
    flags: &Flags,
    err: &dyn Fn(String) -> BuildError,
) -> Result<Healthcheck> {
    let (kind, rest) = match args.split_once(char::is_whitespace) {
        Some((kind, rest)) => (kind, rest.trim_start()),
        None => (args, ""),
    };
    if kind.is_empty() {
        return Err(err("HEALTHCHECK requires at least one argument".to_owned()));
    }
    let test = match kind.to_ascii_uppercase().as_str() {
        "NONE" => {
            if !rest.is_empty() {
                return Err(err("HEALTHCHECK NONE takes no arguments".to_owned()));
            }
            vec!["NONE".to_owned()]
        }
        "CMD" => match command_line(rest, err)? {
            Some(CommandLine::Exec(words)) => {
                let mut test = vec!["CMD".to_owned()];
                test.extend(words);
                test
            }
            Some(CommandLine::Shell(line)) => vec!["CMD-SHELL".to_owned(), line],
            None => return Err(err("Missing command after HEALTHCHECK CMD".to_owned())),
        },
        other => {
            return Err(err(format!(
                "Unknown type {} in HEALTHCHECK (try CMD)",
                gofmt::quote(other)
            )));
        }
    };
    let interval = |name: &str| -> Result<i64> {
        let Some(text) = flags.get(name).filter(|v| !v.is_empty()) else {
            return Ok(0);
        };
        let nanos = gofmt::parse_duration(&text).map_err(err)?;
        if nanos < 0 {
            return Err(err(format!(
                "Interval {} cannot be negative",
                gofmt::quote(name)
            )));
        }
        if nanos != 0 && nanos < MINIMUM_HEALTH_INTERVAL {
            return Err(err(format!(
                "Interval {} cannot be less than 1ms",
                gofmt::quote(name)
            )));
        }
        Ok(nanos)
    };
    let retries = match flags.get("retries").filter(|v| !v.is_empty()) {
        None => 0,
        Some(text) => {
            let n: i64 = text.parse().map_err(|_| {
                err(format!(
                    "strconv.ParseInt: parsing {}: invalid syntax",
                    gofmt::quote(&text)
                ))
            })?;
            if n < 0 {
                return Err(err(format!("--retries cannot be negative ({n})")));
            }
            n
        }
    };
    Ok(Healthcheck {
        test,
        interval: interval("interval")?,
        timeout: interval("timeout")?,
        start_period: interval("start-period")?,
        start_interval: interval("start-interval")?,
        retries,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn one(text: &str) -> Instruction {
        let file = parse_dockerfile(&format!("FROM scratch\n{text}")).unwrap();
        file.stages[0].steps[0].instruction.clone()
    }

    fn error(text: &str) -> String {
        parse_dockerfile(text).unwrap_err().to_string()
    }

    fn s(v: &[&str]) -> Vec<String> {
        v.iter().map(|s| s.to_string()).collect()
    }

    #[test]
    fn from_with_name_and_platform() {
        let file = parse_dockerfile(
            "ARG V=1\nFROM --platform=linux/arm64 busybox:$V AS Build\nFROM build\n",
        )
        .unwrap();
        assert_eq!(file.meta_args.len(), 1);
        assert_eq!(
            file.stages[0].from.instruction,
            Instruction::From {
                image: "busybox:$V".into(),
                name: Some("build".into()),
                platform: Some("linux/arm64".into()),
            }
        );
        assert_eq!(file.stages[0].name.as_deref(), Some("build"));
        assert_eq!(
            file.stages[0].from.original,
            "FROM --platform=linux/arm64 busybox:$V AS Build"
        );
        assert_eq!(file.stages[1].from.line, 3);
    }

    #[test]
    fn run_cmd_entrypoint_forms() {
        assert_eq!(
            one("RUN echo hi && ls"),
            Instruction::Run(RunArgs {
                command: CommandLine::Shell("echo hi && ls".into()),
                heredocs: Vec::new(),
                mounts: Vec::new(),
                network: None,
            })
        );
        assert_eq!(
            one(r#"CMD ["echo", "a b"]"#),
            Instruction::Cmd(CommandLine::Exec(s(&["echo", "a b"])))
        );
        assert_eq!(
            one("ENTRYPOINT [\"bad json\""),
            Instruction::Entrypoint(CommandLine::Shell("[\"bad json\"".into()))
        );
        assert_eq!(
            one("CMD []"),
            Instruction::Cmd(CommandLine::Exec(Vec::new()))
        );
    }

    #[test]
    fn env_and_label_forms() {
        let kv = |k: &str, v: &str| KeyValue {
            key: k.into(),
            value: v.into(),
        };
        assert_eq!(
            one(r#"ENV A=1 B="two words" C=x\ y"#),
            Instruction::Env(vec![
                kv("A", "1"),
                kv("B", r#""two words""#),
                kv("C", r"x\ y")
            ])
        );
        assert_eq!(
            one("ENV PATH /usr/bin:/bin  extra"),
            Instruction::Env(vec![kv("PATH", "/usr/bin:/bin  extra")])
        );
        assert_eq!(
            one(r#"LABEL "com.example"="v" version=1"#),
            Instruction::Label {
                pairs: vec![kv(r#""com.example""#, r#""v""#), kv("version", "1")],
                expand: true
            }
        );
    }

    #[test]
    fn arg_expose_volume_shell() {
        assert_eq!(
            one("ARG A B=2"),
            Instruction::Arg(vec![("A".into(), None), ("B".into(), Some("2".into()))])
        );
        assert_eq!(
            one("EXPOSE 80 443/udp"),
            Instruction::Expose(s(&["80", "443/udp"]))
        );
        assert_eq!(
            one(r#"VOLUME ["/data", "/logs"]"#),
            Instruction::Volume(s(&["/data", "/logs"]))
        );
        assert_eq!(one("VOLUME /a /b"), Instruction::Volume(s(&["/a", "/b"])));
        assert_eq!(
            one(r#"SHELL ["/bin/bash", "-c"]"#),
            Instruction::Shell(s(&["/bin/bash", "-c"]))
        );
    }

    #[test]
    fn copy_and_add() {
        assert_eq!(
            one("COPY --from=build --chown=1:2 --chmod=600 a b /dst/"),
            Instruction::Copy(CopyArgs {
                sources: s(&["a", "b"]),
                dest: "/dst/".into(),
                from: Some("build".into()),
                chown: Some("1:2".into()),
                chmod: Some("600".into()),
                ..CopyArgs::default()
            })
        );
        assert_eq!(
            one(r#"ADD ["a file", "/x"]"#),
            Instruction::Add(CopyArgs {
                sources: s(&["a file"]),
                dest: "/x".into(),
                ..CopyArgs::default()
            })
        );
    }

    #[test]
    fn run_mounts_network_and_heredocs() {
        let Instruction::Run(run) = one(
            "RUN --mount=type=cache,target=/c --mount=type=secret,id=$ID --network=none <<EOF\necho hi\nEOF",
        ) else {
            panic!()
        };
        assert_eq!(
            run.mounts,
            s(&["type=cache,target=/c", "type=secret,id=$ID"])
        );
        assert_eq!(run.network.as_deref(), Some("none"));
        assert_eq!(run.command, CommandLine::Shell("<<EOF".into()));
        assert_eq!(run.heredocs[0].content, "echo hi\n");
    }

    #[test]
    fn copy_heredocs_link_and_parents() {
        let Instruction::Copy(copy) = one(
            "COPY --link --parents <<a.txt x <<-\"b.txt\" /dir/\none $X\na.txt\n\ttwo\n\tb.txt",
        ) else {
            panic!()
        };
        assert_eq!(copy.sources, s(&["x"]));
        assert_eq!(copy.dest, "/dir/");
        assert!(copy.link && copy.parents);
        let names: Vec<_> = copy.inline.iter().map(|h| h.name.as_str()).collect();
        assert_eq!(names, ["a.txt", "b.txt"]);
        assert_eq!(copy.inline[0].body(), "one $X\n");
        assert!(copy.inline[0].expand);
        assert_eq!(copy.inline[1].body(), "two\n");
        assert!(!copy.inline[1].expand);
    }

    #[test]
    fn single_argument_instructions() {
        assert_eq!(one("WORKDIR /app"), Instruction::Workdir("/app".into()));
        assert_eq!(one("USER app:app"), Instruction::User("app:app".into()));
        assert_eq!(
            one("STOPSIGNAL SIGKILL"),
            Instruction::StopSignal("SIGKILL".into())
        );
        assert_eq!(
            one("MAINTAINER Jane <jane@example.com>"),
            Instruction::Maintainer("Jane <jane@example.com>".into())
        );
        assert_eq!(
            one("ONBUILD RUN echo  hi"),
            Instruction::Onbuild("RUN echo  hi".into())
        );
    }

    #[test]
    fn healthcheck_forms() {
        assert_eq!(
            one(
                "HEALTHCHECK --interval=5m --timeout=3s --retries=3 CMD curl -f http://x/ || exit 1"
            ),
            Instruction::Healthcheck(Healthcheck {
                test: s(&["CMD-SHELL", "curl -f http://x/ || exit 1"]),
                interval: 300_000_000_000,
                timeout: 3_000_000_000,
                start_period: 0,
                start_interval: 0,
                retries: 3,
            })
        );
        let Instruction::Healthcheck(h) = one(r#"HEALTHCHECK CMD ["true"]"#) else {
            panic!()
        };
        assert_eq!(h.test, s(&["CMD", "true"]));
        let Instruction::Healthcheck(h) = one("HEALTHCHECK none") else {
            panic!()
        };
        assert_eq!(h.test, s(&["NONE"]));
    }

    #[test]
    fn errors_name_their_line() {
        let cases = [
            ("FROM x\nRUN a\nFOOO bar", 3, "unknown instruction: FOOO"),
            ("RUN x\nFROM y", 1, "no build stage in current context"),
            ("FROM a b", 1, "FROM requires either one or three arguments"),
            (
                "FROM a AS 1x",
                1,
                "invalid name for build stage: \"1x\", name can't start with a number or contain symbols",
            ),
            ("FROM a AS x\nFROM b AS X", 2, "x stage name already used"),
            (
                "FROM x\nCOPY a",
                2,
                "COPY requires at least two arguments, but only one was provided. Destination could not be determined.",
            ),
            (
                "FROM x\nRUN --mount=type=cache true",
                2,
                "cache mount requires a target",
            ),
            (
                "FROM x\nRUN --mount=type=nfs,target=/x true",
                2,
                "unsupported mount type \"nfs\"",
            ),
            (
                "FROM x\nRUN --network=bridge true",
                2,
                "unsupported network mode \"bridge\"",
            ),
            (
                "FROM x\nCOPY a <<EOF\nx\nEOF",
                2,
                "COPY cannot accept a heredoc as a destination",
            ),
            ("FROM x\nADD --parents a /b", 2, "unknown flag: parents"),
            (
                "FROM x\nCOPY --link=maybe a /b",
                2,
                "expecting boolean value for flag link, not: maybe",
            ),
            (
                "FROM x\nCOPY --from a b",
                2,
                "missing a value on flag: from",
            ),
            (
                "FROM x\nCOPY --from=a --from=b a b",
                2,
                "duplicate flag specified: from",
            ),
            ("FROM x\nENV A", 2, "ENV must have two arguments"),
            (
                "FROM x\nENV A=1 B",
                2,
                "Syntax error - can't find = in \"B\". Must be of the form: name=value",
            ),
            ("FROM x\nLABEL", 2, "LABEL requires at least one argument"),
            (
                "FROM x\nWORKDIR",
                2,
                "WORKDIR requires exactly one argument",
            ),
            (
                "FROM x\nSHELL /bin/sh -c",
                2,
                "SHELL requires the arguments to be in JSON form",
            ),
            (
                "FROM x\nCMD [1, 2]",
                2,
                "when using JSON array syntax, arrays must be comprised of strings only",
            ),
            (
                "FROM x\nONBUILD ONBUILD RUN x",
                2,
                "Chaining ONBUILD via `ONBUILD ONBUILD` isn't allowed",
            ),
            (
                "FROM x\nONBUILD FROM y",
                2,
                "FROM isn't allowed as an ONBUILD trigger",
            ),
            ("FROM x\nONBUILD BLAH", 2, "unknown instruction: BLAH"),
            (
                "FROM x\nHEALTHCHECK NONE x",
                2,
                "HEALTHCHECK NONE takes no arguments",
            ),
            (
                "FROM x\nHEALTHCHECK WHAT x",
                2,
                "Unknown type \"WHAT\" in HEALTHCHECK (try CMD)",
            ),
            (
                "FROM x\nHEALTHCHECK --interval=1us CMD x",
                2,
                "Interval \"interval\" cannot be less than 1ms",
            ),
            (
                "FROM x\nHEALTHCHECK --retries=-1 CMD x",
                2,
                "--retries cannot be negative (-1)",
            ),
            (
                "FROM x\n\nRUN a \\\n b\nEXPOSE",
                5,
                "EXPOSE requires at least one argument",
            ),
        ];
        for (text, line, message) in cases {
            assert_eq!(
                error(text),
                format!("dockerfile parse error on line {line}: {message}"),
                "{text}"
            );
        }
        assert_eq!(error("# only a comment\n"), "file with no instructions");
        assert_eq!(error("ARG X=1\n"), "no build stage in current context");
    }

    #[test]
    fn triggers_parse_one_instruction() {
        let step = parse_trigger("COPY . /app", '\\').unwrap();
        assert!(matches!(step.instruction, Instruction::Copy(_)));
        assert!(parse_trigger("FROM x", '\\').is_err());
        assert!(parse_trigger("", '\\').is_err());
    }
}
