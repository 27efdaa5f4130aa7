//! A container's log configuration (`HostConfig.LogConfig`): the daemon's defaults
//! (`log-driver`, `log-opts`) merged in as Docker merges them, the options checked as Docker's
//! drivers check them, and what the shim needs to write the log.
//!
//! Docker checks option names when a container is created and their values when its logger
//! starts; berth checks both at create, so a container that could not log is never created.

use crate::error::{Error, Result};
use berth_shim_proto::LogFormat;
use serde_json::{Value, json};
use std::collections::BTreeMap;

/// The drivers berth implements.
pub const DRIVERS: [&str; 3] = ["json-file", "local", "none"];

/// Docker's other drivers: known names, refused with a clearer message than an unknown one.
const DOCKER_DRIVERS: [&str; 9] = [
    "awslogs",
    "etwlogs",
    "fluentd",
    "gcplogs",
    "gelf",
    "journald",
    "logentries",
    "splunk",
    "syslog",
];

/// Options every driver takes (Docker's logger package handles them).
const COMMON_OPTS: [&str; 2] = ["mode", "max-buffer-size"];
/// The attribute options both file drivers take.
const ATTR_OPTS: [&str; 5] = ["labels", "labels-regex", "env", "env-regex", "tag"];
const FILE_OPTS: [&str; 3] = ["max-file", "max-size", "compress"];

/// The `local` driver's defaults.
const LOCAL_MAX_SIZE: u64 = 20 * 1024 * 1024;
const LOCAL_MAX_FILES: u32 = 5;

/// daemon.json's `log-driver` and `log-opts`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DefaultLogConfig {
    pub driver: String,
    pub opts: BTreeMap<String, String>,
}

impl Default for DefaultLogConfig {
    fn default() -> Self {
        Self {
            driver: "json-file".into(),
            opts: BTreeMap::new(),
        }
    }
}

impl DefaultLogConfig {
    /// Checks the daemon's defaults as a container's configuration would be.
    pub fn validate(&self) -> Result<()> {
        validate(&json!({"Type": self.driver, "Config": self.opts}))
    }
}

/// Fills `log_config` (`{"Type", "Config"}`) from the daemon's defaults: the default driver
/// when none is named, and the default options the container does not set when it uses the
/// default driver.
pub fn merge_defaults(log_config: &Value, defaults: &DefaultLogConfig) -> Value {
    let driver = log_config["Type"]
        .as_str()
        .filter(|t| !t.is_empty())
        .unwrap_or(&defaults.driver)
        .to_string();
    let mut options = log_config["Config"]
        .as_object()
        .cloned()
        .unwrap_or_default();
    if driver == defaults.driver {
        for (key, value) in &defaults.opts {
            options.entry(key.clone()).or_insert_with(|| json!(value));
        }
    }
    json!({"Type": driver, "Config": options})
}

/// The options as strings (Docker's `map[string]string`).
fn options(log_config: &Value) -> Result<BTreeMap<String, String>> {
    let mut out = BTreeMap::new();
    for (key, value) in log_config["Config"].as_object().into_iter().flatten() {
        let Some(value) = value.as_str() else {
            return Err(Error::invalid(format!(
                "invalid value for log opt '{key}': {value}: must be a string"
            )));
        };
        out.insert(key.clone(), value.to_string());
    }
    Ok(out)
}

/// Checks the driver and its options as Docker does (names, then values).
pub fn validate(log_config: &Value) -> Result<()> {
    let settings = settings(log_config)?;
    if settings.is_some() {
        // The regular expressions must compile.
        attributes(log_config, &Value::Null, &[], &TagInfo::default())?;
    }
    Ok(())
}

/// What the shim needs to write the log.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LogSettings {
    pub format: LogFormat,
    /// 0: never rotate.
    pub max_size: u64,
    pub max_files: u32,
    pub compress: bool,
}

/// The settings of a validated driver and its options, the driver's defaults filled in; None
/// for `none`.
pub fn settings(log_config: &Value) -> Result<Option<LogSettings>> {
    let driver = log_config["Type"].as_str().unwrap_or("json-file");
    if driver == "none" {
        return Ok(None);
    }
    let opts = options(log_config)?;
    check_common(&opts)?;
    if DOCKER_DRIVERS.contains(&driver) {
        return Err(Error::invalid(format!(
            "failed to create container: logging driver \"{driver}\" is not supported"
        )));
    }
    if !DRIVERS.contains(&driver) {
        return Err(Error::invalid(format!(
            "logger: no log driver named '{driver}' is registered"
        )));
    }
    for key in opts.keys() {
        let k = key.as_str();
        if !(COMMON_OPTS.contains(&k) || ATTR_OPTS.contains(&k) || FILE_OPTS.contains(&k)) {
            return Err(Error::invalid(match driver {
                "local" => format!("unknown log opt '{key}' for log driver local"),
                _ => format!("unknown log opt '{key}' for {driver} log driver"),
            }));
        }
    }
    let parsed = if driver == "local" {
        local(&opts)
    } else {
        json_file(&opts)
    };
    parsed.map(Some).map_err(Error::invalid)
}

/// `mode` and `max-buffer-size`, which Docker's logger checks for every driver.
fn check_common(opts: &BTreeMap<String, String>) -> Result<()> {
    let mode = opts.get("mode").map_or("", String::as_str);
    if !matches!(mode, "" | "blocking" | "non-blocking") {
        return Err(Error::invalid(format!(
            "logger: logging mode not supported: {mode}"
        )));
    }
    if let Some(size) = opts.get("max-buffer-size") {
        if mode != "non-blocking" {
            return Err(Error::invalid(
                "logger: max-buffer-size option is only supported with 'mode=non-blocking'",
            ));
        }
        parse_size(size, 1024).map_err(|e| {
            Error::invalid(format!(
                "logger: could not parse value of max-buffer-size: {e}"
            ))
        })?;
    }
    Ok(())
}

/// json-file: no rotation unless `max-size` is given.
fn json_file(opts: &BTreeMap<String, String>) -> std::result::Result<LogSettings, String> {
    let max_size = match opts.get("max-size") {
        None => None,
        Some(v) => match parse_size(v, 1000)? {
            0 => return Err("max-size must be a positive number".into()),
            n => Some(n),
        },
    };
    let max_files = match opts.get("max-file") {
        None => 1,
        Some(v) => match go_atoi(v)? {
            n if n < 1 => return Err("max-file cannot be less than 1".into()),
            n => n as u32,
        },
    };
    let compress = match opts.get("compress") {
        None => false,
        Some(v) => go_parse_bool(v)?,
    };
    if compress && (max_files == 1 || max_size.is_none()) {
        return Err(
            "compress cannot be true when max-file is less than 2 or max-size is not set".into(),
        );
    }
    Ok(LogSettings {
        format: LogFormat::JsonFile,
        max_size: max_size.unwrap_or(0),
        max_files,
        compress,
    })
}

/// local: 20 MiB files, five of them, compressed, unless told otherwise.
fn local(opts: &BTreeMap<String, String>) -> std::result::Result<LogSettings, String> {
    let max_size = match opts.get("max-size") {
        None => LOCAL_MAX_SIZE,
        Some(v) => {
            parse_size(v, 1000).map_err(|e| format!("invalid value for max-size: {v}: {e}"))?
        }
    };
    let max_files = match opts.get("max-file") {
        None => LOCAL_MAX_FILES as i64,
        Some(v) => go_atoi(v).map_err(|e| format!("invalid value for max-file: {v}: {e}"))?,
    };
    let compress = match opts.get("compress") {
        None => true,
        Some(v) => {
            go_parse_bool(v).map_err(|e| format!("invalid boolean value for compress: {e}"))?
        }
    };
    if max_files < 0 {
        return Err("max-file must not be negative".into());
    }
    if compress && max_files <= 1 {
        return Err("compression cannot be enabled when max file count is 1".into());
    }
    Ok(LogSettings {
        format: LogFormat::Local,
        max_size,
        max_files: u32::try_from(max_files.max(1)).unwrap_or(u32::MAX),
        compress,
    })
}

/// A size as Docker's go-units reads it: a number (fractions allowed), an optional space and
/// an optional unit `b`, `k`, `m`, `g`, `t`, `p` (any case, `kb`/`kib` alike), `base` 1000 for
/// `FromHumanSize`, 1024 for `RAMInBytes`.
pub fn parse_size(s: &str, base: u64) -> std::result::Result<u64, String> {
    let invalid = || format!("invalid size: '{s}'");
    let Some(split) = s.rfind(|c: char| c.is_ascii_digit() || c == '.' || c == ' ') else {
        return Err(invalid());
    };
    let (number, suffix) = s.split_at(split + 1);
    let number = number.strip_suffix(' ').unwrap_or(number);
    let value: f64 = number
        .parse()
        .map_err(|_| format!("strconv.ParseFloat: parsing \"{number}\": invalid syntax"))?;
    if value < 0.0 || !value.is_finite() {
        return Err(invalid());
    }
    let suffix = suffix.to_ascii_lowercase();
    let bad_suffix = || format!("invalid suffix: '{suffix}'");
    let mut chars = suffix.chars();
    let factor = match chars.next() {
        None => 1,
        Some('b') if suffix.len() == 1 => 1,
        Some(unit) => {
            let power = "kmgtp".find(unit).ok_or_else(bad_suffix)? as u32 + 1;
            if !matches!(chars.as_str(), "" | "b" | "ib") {
                return Err(bad_suffix());
            }
            base.pow(power)
        }
    };
    Ok((value * factor as f64) as u64)
}

/// Go's `strconv.Atoi`, with its error text.
fn go_atoi(s: &str) -> std::result::Result<i64, String> {
    s.parse::<i64>()
        .map_err(|_| format!("strconv.Atoi: parsing \"{s}\": invalid syntax"))
}

/// Go's `strconv.ParseBool`, with its error text.
fn go_parse_bool(s: &str) -> std::result::Result<bool, String> {
    match s {
        "1" | "t" | "T" | "TRUE" | "true" | "True" => Ok(true),
        "0" | "f" | "F" | "FALSE" | "false" | "False" => Ok(false),
        _ => Err(format!(
            "strconv.ParseBool: parsing \"{s}\": invalid syntax"
        )),
    }
}

/// What a `tag` template may name (Docker's logger.Info).
#[derive(Debug, Clone, Default)]
pub struct TagInfo {
    pub id: String,
    pub name: String,
    pub image_id: String,
    pub image_name: String,
}

/// The attributes every entry carries, as Docker's `ExtraAttributes` and `tag` make them:
/// labels named by `labels` or matching `labels-regex`, environment variables named by `env`
/// or matching `env-regex`, and `tag` when one is asked for.
pub fn attributes(
    log_config: &Value,
    labels: &Value,
    env: &[String],
    tag: &TagInfo,
) -> Result<BTreeMap<String, String>> {
    let opts = options(log_config)?;
    let labels: BTreeMap<&str, &str> = labels
        .as_object()
        .into_iter()
        .flatten()
        .filter_map(|(k, v)| Some((k.as_str(), v.as_str()?)))
        .collect();
    let env: BTreeMap<&str, &str> = env.iter().filter_map(|e| e.split_once('=')).collect();
    let mut out = BTreeMap::new();
    for (names, pattern, source) in [
        ("labels", "labels-regex", &labels),
        ("env", "env-regex", &env),
    ] {
        for name in opts.get(names).into_iter().flat_map(|l| l.split(',')) {
            if let Some(value) = source.get(name) {
                out.insert(name.to_string(), value.to_string());
            }
        }
        if let Some(pattern) = opts.get(pattern).filter(|p| !p.is_empty()) {
            let re = regex::Regex::new(pattern)
                .map_err(|e| Error::invalid(format!("error parsing regexp in {pattern:?}: {e}")))?;
            for (key, value) in source.iter().filter(|(k, _)| re.is_match(k)) {
                out.insert(key.to_string(), value.to_string());
            }
        }
    }
    if let Some(template) = opts.get("tag").filter(|t| !t.is_empty()) {
        out.insert("tag".into(), expand_tag(template, tag));
    }
    Ok(out)
}

/// Expands the fields of Docker's tag templates (`{{.Name}}`, `{{.ID}}`, `{{.FullID}}`,
/// `{{.ImageName}}`, `{{.ImageID}}`, `{{.ImageFullID}}`, `{{.DaemonName}}`); any other text is
/// kept as written.
fn expand_tag(template: &str, info: &TagInfo) -> String {
    let short = |id: &str| {
        let id = id.strip_prefix("sha256:").unwrap_or(id);
        id[..id.len().min(12)].to_string()
    };
    let image_full = info
        .image_id
        .strip_prefix("sha256:")
        .unwrap_or(&info.image_id);
    let fields = [
        ("Name", info.name.trim_start_matches('/').to_string()),
        ("ID", short(&info.id)),
        ("FullID", info.id.clone()),
        ("ImageName", info.image_name.clone()),
        ("ImageID", short(&info.image_id)),
        ("ImageFullID", image_full.to_string()),
        ("DaemonName", "berth".to_string()),
    ];
    let mut out = String::new();
    let mut rest = template;
    while let Some(start) = rest.find("{{") {
        let Some(len) = rest[start..].find("}}") else {
            break;
        };
        let inner = rest[start + 2..start + len].trim();
        out.push_str(&rest[..start]);
        match fields
            .iter()
            .find(|(f, _)| inner.strip_prefix('.') == Some(f))
        {
            Some((_, value)) => out.push_str(value),
            None => out.push_str(&rest[start..start + len + 2]),
        }
        rest = &rest[start + len + 2..];
    }
    out.push_str(rest);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn check(driver: &str, opts: Value) -> std::result::Result<Option<LogSettings>, String> {
        settings(&json!({"Type": driver, "Config": opts})).map_err(|e| e.message)
    }

    #[test]
    fn sizes_read_as_docker_reads_them() {
        assert_eq!(parse_size("10m", 1000), Ok(10_000_000));
        assert_eq!(parse_size("2k", 1000), Ok(2000));
        assert_eq!(parse_size("1.5KiB", 1024), Ok(1536));
        assert_eq!(parse_size("20 MB", 1000), Ok(20_000_000));
        assert_eq!(parse_size("42", 1000), Ok(42));
        assert_eq!(parse_size("7b", 1000), Ok(7));
        assert_eq!(parse_size("-1", 1000), Err("invalid size: '-1'".into()));
        assert_eq!(parse_size("abc", 1000), Err("invalid size: 'abc'".into()));
        assert_eq!(parse_size("10x", 1000), Err("invalid suffix: 'x'".into()));
        assert_eq!(parse_size("10kx", 1000), Err("invalid suffix: 'kx'".into()));
    }

    #[test]
    fn json_file_options_are_checked_as_docker_does() {
        assert_eq!(
            check("json-file", json!({})),
            Ok(Some(LogSettings {
                format: LogFormat::JsonFile,
                max_size: 0,
                max_files: 1,
                compress: false
            }))
        );
        assert_eq!(
            check(
                "json-file",
                json!({"max-size": "1m", "max-file": "3", "compress": "true", "labels": "a"})
            )
            .unwrap()
            .unwrap(),
            LogSettings {
                format: LogFormat::JsonFile,
                max_size: 1_000_000,
                max_files: 3,
                compress: true
            }
        );
        let refused = [
            (
                json!({"foo": "1"}),
                "unknown log opt 'foo' for json-file log driver",
            ),
            (
                json!({"max-size": "0"}),
                "max-size must be a positive number",
            ),
            (json!({"max-size": "-5m"}), "invalid size: '-5m'"),
            (json!({"max-file": "0"}), "max-file cannot be less than 1"),
            (
                json!({"max-file": "x"}),
                "strconv.Atoi: parsing \"x\": invalid syntax",
            ),
            (
                json!({"max-size": "1m", "compress": "true"}),
                "compress cannot be true when max-file is less than 2 or max-size is not set",
            ),
            (
                json!({"max-file": "3", "compress": "1"}),
                "compress cannot be true when max-file is less than 2 or max-size is not set",
            ),
            (
                json!({"compress": "yes"}),
                "strconv.ParseBool: parsing \"yes\": invalid syntax",
            ),
            (
                json!({"mode": "fast"}),
                "logger: logging mode not supported: fast",
            ),
            (
                json!({"max-buffer-size": "4m"}),
                "logger: max-buffer-size option is only supported with 'mode=non-blocking'",
            ),
        ];
        for (opts, message) in refused {
            assert_eq!(
                check("json-file", opts.clone()),
                Err(message.into()),
                "{opts}"
            );
        }
        // max-file without max-size is allowed, as in Docker (nothing rotates).
        assert!(check("json-file", json!({"max-file": "3"})).is_ok());
        assert!(
            check(
                "json-file",
                json!({"mode": "non-blocking", "max-buffer-size": "4m"})
            )
            .is_ok()
        );
    }

    #[test]
    fn local_has_its_defaults_and_checks() {
        assert_eq!(
            check("local", json!({})).unwrap().unwrap(),
            LogSettings {
                format: LogFormat::Local,
                max_size: 20 * 1024 * 1024,
                max_files: 5,
                compress: true
            }
        );
        assert_eq!(
            check("local", json!({"bogus": "1"})),
            Err("unknown log opt 'bogus' for log driver local".into())
        );
        assert_eq!(
            check("local", json!({"max-file": "1"})),
            Err("compression cannot be enabled when max file count is 1".into())
        );
        assert!(check("local", json!({"max-file": "1", "compress": "false"})).is_ok());
        assert_eq!(
            check("local", json!({"max-file": "-2", "compress": "false"})),
            Err("max-file must not be negative".into())
        );
        assert_eq!(
            check("local", json!({"max-size": "huge"})),
            Err("invalid value for max-size: huge: invalid size: 'huge'".into())
        );
    }

    #[test]
    fn drivers_are_known_or_refused() {
        assert_eq!(check("none", json!({"anything": "goes"})), Ok(None));
        assert_eq!(
            check("nope", json!({})),
            Err("logger: no log driver named 'nope' is registered".into())
        );
        assert!(
            check("syslog", json!({}))
                .unwrap_err()
                .contains("\"syslog\" is not supported")
        );
        assert!(
            validate(&json!({"Type": "json-file", "Config": {"env-regex": "("}})).is_err(),
            "a bad regular expression is refused"
        );
    }

    #[test]
    fn daemon_defaults_merge_under_the_containers_options() {
        let defaults = DefaultLogConfig {
            driver: "local".into(),
            opts: BTreeMap::from([
                ("max-size".to_string(), "5m".to_string()),
                ("max-file".to_string(), "3".to_string()),
            ]),
        };
        assert_eq!(
            merge_defaults(&json!({"Type": "", "Config": {"max-file": "9"}}), &defaults),
            json!({"Type": "local", "Config": {"max-size": "5m", "max-file": "9"}})
        );
        assert_eq!(
            merge_defaults(&json!({"Type": "json-file", "Config": null}), &defaults),
            json!({"Type": "json-file", "Config": {}}),
            "another driver takes none of the defaults"
        );
    }

    #[test]
    fn attributes_come_from_labels_env_and_tag() {
        let config = json!({"Type": "json-file", "Config": {
            "labels": "team,missing", "labels-regex": "^com\\.x\\.", "env": "STAGE",
            "env-regex": "^REGION", "tag": "{{.Name}}/{{.ID}} {{.Unknown}}"}});
        let labels = json!({"team": "core", "com.x.tier": "web", "other": "no"});
        let env = [
            "STAGE=prod".to_string(),
            "REGION_A=eu".to_string(),
            "X=1".to_string(),
        ];
        let info = TagInfo {
            id: "0123456789abcdef0123".into(),
            name: "/web".into(),
            ..Default::default()
        };
        let attrs = attributes(&config, &labels, &env, &info).unwrap();
        assert_eq!(
            attrs,
            BTreeMap::from([
                ("REGION_A".to_string(), "eu".to_string()),
                ("STAGE".to_string(), "prod".to_string()),
                ("com.x.tier".to_string(), "web".to_string()),
                (
                    "tag".to_string(),
                    "web/0123456789ab {{.Unknown}}".to_string()
                ),
                ("team".to_string(), "core".to_string()),
            ])
        );
    }
}
