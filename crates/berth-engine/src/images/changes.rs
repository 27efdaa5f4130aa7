//! The Dockerfile instructions `import --change` accepts (CMD, ENTRYPOINT, ENV, EXPOSE, LABEL,
//! USER, VOLUME, WORKDIR, STOPSIGNAL, ONBUILD), applied to an image's Config object.

use crate::error::{Error, Result};
use serde_json::{Map, Value, json};

/// Exec form (`["a","b"]`) as given; shell form wrapped in `/bin/sh -c`.
fn command(rest: &str) -> Result<Value> {
    if rest.trim_start().starts_with('[') {
        let v: Vec<String> = serde_json::from_str(rest.trim())
            .map_err(|e| Error::invalid(format!("invalid JSON array {rest:?}: {e}")))?;
        Ok(json!(v))
    } else {
        Ok(json!(["/bin/sh", "-c", rest.trim()]))
    }
}

/// `k=v k2="v 2"` or the legacy `k v` form.
fn pairs(rest: &str) -> Result<Vec<(String, String)>> {
    let rest = rest.trim();
    if !rest.contains('=') {
        return match rest.split_once(char::is_whitespace) {
            Some((k, v)) => Ok(vec![(k.to_string(), v.trim().to_string())]),
            None => Err(Error::invalid(format!("{rest:?} must have two arguments"))),
        };
    }
    let mut out = Vec::new();
    let mut chars = rest.chars().peekable();
    while chars.peek().is_some() {
        while chars.next_if(|c| c.is_whitespace()).is_some() {}
        let key: String = std::iter::from_fn(|| chars.next_if(|&c| c != '=')).collect();
        if chars.next() != Some('=') || key.is_empty() {
            return Err(Error::invalid(format!(
                "syntax error: {rest:?} is not key=value"
            )));
        }
        let mut value = String::new();
        let quote = chars.next_if(|&c| c == '"' || c == '\'');
        while let Some(c) = chars.next() {
            match (quote, c) {
                (Some(q), c) if c == q => break,
                (None, c) if c.is_whitespace() => break,
                (_, '\\') => value.extend(chars.next()),
                (_, c) => value.push(c),
            }
        }
        out.push((key, value));
    }
    Ok(out)
}

fn object<'a>(config: &'a mut Map<String, Value>, key: &str) -> &'a mut Map<String, Value> {
    let entry = config.entry(key.to_string()).or_insert_with(|| json!({}));
    if !entry.is_object() {
        *entry = json!({});
    }
    entry.as_object_mut().expect("just made an object")
}

/// Applies each change line to `config` (Docker's container Config of the new image).
pub fn apply(config: &mut Map<String, Value>, changes: &[String]) -> Result<()> {
    for line in changes {
        let line = line.trim();
        if line.is_empty() {
            continue;
        }
        let (instruction, rest) = line.split_once(char::is_whitespace).unwrap_or((line, ""));
        match instruction.to_ascii_uppercase().as_str() {
            "CMD" => {
                config.insert("Cmd".into(), command(rest)?);
            }
            "ENTRYPOINT" => {
                config.insert("Entrypoint".into(), command(rest)?);
            }
            "ENV" => {
                let env = config.entry("Env").or_insert_with(|| json!([]));
                let list = env
                    .as_array_mut()
                    .ok_or_else(|| Error::invalid("Env is not a list"))?;
                for (k, v) in pairs(rest)? {
                    let prefix = format!("{k}=");
                    list.retain(|e| !e.as_str().is_some_and(|s| s.starts_with(&prefix)));
                    list.push(json!(format!("{k}={v}")));
                }
            }
            "LABEL" => {
                for (k, v) in pairs(rest)? {
                    object(config, "Labels").insert(k, json!(v));
                }
            }
            "EXPOSE" => {
                for port in rest.split_whitespace() {
                    let port = if port.contains('/') {
                        port.to_string()
                    } else {
                        format!("{port}/tcp")
                    };
                    object(config, "ExposedPorts").insert(port, json!({}));
                }
            }
            "VOLUME" => {
                let paths: Vec<String> = if rest.trim_start().starts_with('[') {
                    serde_json::from_str(rest.trim())?
                } else {
                    rest.split_whitespace().map(str::to_string).collect()
                };
                for p in paths {
                    object(config, "Volumes").insert(p, json!({}));
                }
            }
            "USER" => {
                config.insert("User".into(), json!(rest.trim()));
            }
            "WORKDIR" => {
                config.insert("WorkingDir".into(), json!(rest.trim()));
            }
            "STOPSIGNAL" => {
                config.insert("StopSignal".into(), json!(rest.trim()));
            }
            "ONBUILD" => {
                let list = config.entry("OnBuild").or_insert_with(|| json!([]));
                if let Some(l) = list.as_array_mut() {
                    l.push(json!(rest.trim()));
                }
            }
            other => {
                return Err(Error::invalid(format!(
                    "{other} is not a valid change command"
                )));
            }
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn applies_each_instruction() {
        let mut c = Map::new();
        let changes = [
            r#"CMD ["sh"]"#,
            "ENTRYPOINT echo hi",
            "ENV A=1 B=\"two words\"",
            "ENV A 3",
            "LABEL x=y",
            "EXPOSE 80 53/udp",
            "WORKDIR /srv",
            "USER nobody",
            "VOLUME /data",
        ]
        .map(String::from);
        apply(&mut c, &changes).unwrap();
        let c = Value::Object(c);
        assert_eq!(c["Cmd"], json!(["sh"]));
        assert_eq!(c["Entrypoint"], json!(["/bin/sh", "-c", "echo hi"]));
        assert_eq!(c["Env"], json!(["B=two words", "A=3"]));
        assert_eq!(c["Labels"]["x"], "y");
        assert!(c["ExposedPorts"]["80/tcp"].is_object() && c["ExposedPorts"]["53/udp"].is_object());
        assert_eq!(
            (c["WorkingDir"].as_str(), c["User"].as_str()),
            (Some("/srv"), Some("nobody"))
        );
        assert!(c["Volumes"]["/data"].is_object());
    }

    #[test]
    fn refuses_unknown_and_malformed() {
        let mut c = Map::new();
        assert!(
            apply(&mut c, &["RUN true".into()])
                .unwrap_err()
                .message
                .contains("not a valid change")
        );
        assert!(apply(&mut c, &["CMD [\"unterminated\"".into()]).is_err());
        assert!(apply(&mut c, &["ENV =x".into()]).is_err());
    }
}
