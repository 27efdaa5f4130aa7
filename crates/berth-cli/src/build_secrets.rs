//! `berth build --secret`: buildx's syntax (`id=foo,src=path`, `id=foo,env=VAR`, `id=foo`
//! alone for the environment variable `foo`), read here and sent to berthd in the
//! `X-Berth-Build-Secrets` header (base64 of a JSON object of base64 values), over the local
//! socket. Docker's CLI has no such header: Dockerfiles needing secrets fail there with the
//! builder's error.

use std::collections::BTreeMap;

use base64::Engine as _;

pub const HEADER: &str = "X-Berth-Build-Secrets";

/// Where a secret's value comes from.
#[derive(Debug, PartialEq, Eq)]
enum Source {
    File(String),
    Env(String),
}

fn parse_spec(spec: &str) -> Result<(String, Source), String> {
    let mut id = None;
    let mut file = None;
    let mut env = None;
    let mut kind = None;
    for field in spec.split(',').filter(|f| !f.is_empty()) {
        let (key, value) = field
            .split_once('=')
            .ok_or_else(|| format!("invalid secret {spec:?}: {field:?} is not key=value"))?;
        match key.to_ascii_lowercase().as_str() {
            "id" => id = Some(value.to_string()),
            "src" | "source" => file = Some(value.to_string()),
            "env" => env = Some(value.to_string()),
            "type" if value == "file" || value == "env" => kind = Some(value.to_string()),
            _ => return Err(format!("invalid secret {spec:?}: unexpected key {key:?}")),
        }
    }
    let id = id
        .or_else(|| file.clone())
        .or_else(|| env.clone())
        .filter(|id| !id.is_empty())
        .ok_or_else(|| format!("invalid secret {spec:?}: it needs an id"))?;
    let source = match (file, env, kind.as_deref()) {
        (Some(_), Some(_), _) => {
            return Err(format!("invalid secret {spec:?}: both src and env given"));
        }
        (Some(path), None, Some("env")) => Source::Env(path),
        (Some(path), None, _) => Source::File(path),
        (None, Some(var), _) => Source::Env(var),
        (None, None, Some("file")) => Source::File(id.clone()),
        (None, None, _) => Source::Env(id.clone()),
    };
    Ok((id, source))
}

/// The secrets `--secret` names, read; the error names the secret and where it was looked for.
pub fn read(specs: &[String]) -> Result<BTreeMap<String, Vec<u8>>, String> {
    let mut secrets = BTreeMap::new();
    for spec in specs {
        let (id, source) = parse_spec(spec)?;
        let value = match source {
            Source::File(path) => std::fs::read(&path)
                .map_err(|e| format!("failed to read secret {id} from {path}: {e}"))?,
            Source::Env(var) => std::env::var_os(&var)
                .map(|v| v.into_encoded_bytes())
                .ok_or_else(|| format!("secret {id}: the environment variable {var} is not set"))?,
        };
        secrets.insert(id, value);
    }
    Ok(secrets)
}

/// The header value for `secrets`, if there are any.
pub fn header(secrets: &BTreeMap<String, Vec<u8>>) -> Option<String> {
    if secrets.is_empty() {
        return None;
    }
    let b64 = base64::engine::general_purpose::STANDARD;
    let map: BTreeMap<&str, String> = secrets
        .iter()
        .map(|(id, value)| (id.as_str(), b64.encode(value)))
        .collect();
    Some(b64.encode(serde_json::to_vec(&map).unwrap_or_default()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn specs_in_buildx_syntax() {
        let file = |p: &str| Source::File(p.into());
        let env = |v: &str| Source::Env(v.into());
        assert_eq!(parse_spec("id=a,src=/x").unwrap(), ("a".into(), file("/x")));
        assert_eq!(
            parse_spec("id=a,source=/x").unwrap(),
            ("a".into(), file("/x"))
        );
        assert_eq!(
            parse_spec("id=a,env=VAR").unwrap(),
            ("a".into(), env("VAR"))
        );
        assert_eq!(
            parse_spec("id=TOKEN").unwrap(),
            ("TOKEN".into(), env("TOKEN"))
        );
        assert_eq!(
            parse_spec("id=a,type=file").unwrap(),
            ("a".into(), file("a"))
        );
        assert_eq!(parse_spec("src=/x").unwrap(), ("/x".into(), file("/x")));
        assert!(parse_spec("id=a,src=/x,env=Y").is_err());
        assert!(parse_spec("id=a,what=1").is_err());
        assert!(parse_spec("").is_err());
    }

    #[test]
    fn missing_sources_name_the_secret() {
        let err = read(&["id=k,src=/surely/not/here".into()]).unwrap_err();
        assert!(
            err.starts_with("failed to read secret k from /surely/not/here:"),
            "{err}"
        );
        let err = read(&["id=BERTH_TEST_SURELY_UNSET".into()]).unwrap_err();
        assert!(err.contains("BERTH_TEST_SURELY_UNSET is not set"), "{err}");
    }

    #[test]
    fn the_header_is_base64_json_of_base64_values() {
        let mut secrets = BTreeMap::new();
        assert_eq!(header(&secrets), None);
        secrets.insert("a".to_string(), b"xy".to_vec());
        let b64 = base64::engine::general_purpose::STANDARD;
        let json = b64.decode(header(&secrets).unwrap()).unwrap();
        assert_eq!(json, br#"{"a":"eHk="}"#);
    }
}
