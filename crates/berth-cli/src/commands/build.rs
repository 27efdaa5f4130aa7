//! `build`: sends the context (a directory archived without what .dockerignore excludes, or a
//! tar on stdin) to `/build` and prints the daemon's output as it comes.

use std::collections::BTreeMap;
use std::io::Read;

use futures_util::StreamExt;
use hyper::body::Bytes;
use serde_json::Value;

use crate::build_context;
use crate::build_secrets;
use crate::cli::BuildArgs;
use crate::client::Connector;
use crate::client::raw::{post_archive, query};
use crate::error::CliError;
use crate::output;
use crate::reference::Reference;

/// `--build-arg KEY=value`, or `KEY` alone: its value from our environment, or none (the
/// Dockerfile's default then applies), as docker reads it.
fn build_args(args: &[String]) -> BTreeMap<String, Option<String>> {
    args.iter()
        .map(|arg| match arg.split_once('=') {
            Some((key, value)) => (key.to_string(), Some(value.to_string())),
            None => (arg.clone(), std::env::var(arg).ok()),
        })
        .collect()
}

fn labels(labels: &[String]) -> BTreeMap<String, String> {
    labels
        .iter()
        .map(|l| match l.split_once('=') {
            Some((k, v)) => (k.to_string(), v.to_string()),
            None => (l.clone(), String::new()),
        })
        .collect()
}

fn read_stdin() -> Result<Vec<u8>, CliError> {
    let mut data = Vec::new();
    std::io::stdin()
        .read_to_end(&mut data)
        .map_err(|e| CliError::Failed(format!("unable to read the context from stdin: {e}")))?;
    Ok(data)
}

/// What one message of the stream asks: text to print, the image id, or the build's failure.
fn handle(message: &Value, image_id: &mut Option<String>) -> Result<(), CliError> {
    if let Some(text) = message["stream"].as_str() {
        output::print(text);
    }
    if let Some(id) = message["aux"]["ID"].as_str() {
        *image_id = Some(id.to_string());
    }
    if let Some(error) = message["errorDetail"]["message"]
        .as_str()
        .or(message["error"].as_str())
    {
        return Err(CliError::Failed(error.to_string()));
    }
    Ok(())
}

pub async fn run(connector: &Connector, args: BuildArgs) -> Result<(), CliError> {
    for tag in &args.tags {
        Reference::parse(tag).map_err(|e| CliError::Failed(format!("invalid tag {tag:?}: {e}")))?;
    }
    // Read before the context is sent, so a missing secret fails at once.
    let secrets = build_secrets::read(&args.secrets).map_err(CliError::Failed)?;
    let secrets_header = build_secrets::header(&secrets);
    let (archive, dockerfile) = if args.context == "-" {
        (read_stdin()?, args.file.clone())
    } else if ["http://", "https://", "git@", "git://"]
        .iter()
        .any(|p| args.context.starts_with(p))
    {
        return Err(CliError::Failed(
            "remote build contexts are not supported yet: give a directory or -".to_string(),
        ));
    } else {
        let context =
            build_context::from_dir(std::path::Path::new(&args.context), args.file.as_deref())
                .map_err(CliError::Failed)?;
        (context.archive, Some(context.dockerfile))
    };
    if !args.quiet {
        output::line(&format!(
            "Sending build context to Docker daemon  {}",
            crate::format::units::human_size(archive.len() as i64, 4)
        ));
    }
    let json = |v: serde_json::Result<String>| v.map_err(|e| CliError::Failed(e.to_string()));
    let build_args = json(serde_json::to_string(&build_args(&args.build_args)))?;
    let labels = json(serde_json::to_string(&labels(&args.labels)))?;
    let mut pairs: Vec<(&str, &str)> = args.tags.iter().map(|t| ("t", t.as_str())).collect();
    pairs.extend([
        ("dockerfile", dockerfile.as_deref().unwrap_or("")),
        ("buildargs", build_args.as_str()),
        ("labels", labels.as_str()),
        ("target", args.target.as_deref().unwrap_or("")),
        ("networkmode", args.network.as_str()),
        ("platform", args.platform.as_deref().unwrap_or("")),
        ("nocache", if args.no_cache { "1" } else { "0" }),
        ("pull", if args.pull { "1" } else { "0" }),
        ("q", if args.quiet { "1" } else { "0" }),
        ("rm", if args.rm { "1" } else { "0" }),
        ("forcerm", if args.force_rm { "1" } else { "0" }),
    ]);
    // Connecting first starts berthd when that is allowed; the request is then sent raw.
    connector.connect().await?;
    let path = format!("/build?{}", query(&pairs));
    // Every stored login, so base images from private registries can be pulled.
    let registry_config = crate::credentials::Store::open()
        .ok()
        .and_then(|store| store.registry_config());
    let mut headers: Vec<(&str, &str)> = registry_config
        .iter()
        .map(|c| ("X-Registry-Config", c.as_str()))
        .collect();
    if let Some(value) = &secrets_header {
        headers.push((build_secrets::HEADER, value.as_str()));
    }
    let response = post_archive(connector.host(), &path, &headers, Bytes::from(archive))
        .await
        .map_err(CliError::Failed)?;
    if response.status != 200 {
        return Err(CliError::Failed(response.error_message().await));
    }
    let mut image_id = None;
    let mut pending = Vec::new();
    let mut body = Box::pin(response.into_stream());
    while let Some(chunk) = body.next().await {
        let chunk = chunk.map_err(|e| CliError::Failed(e.to_string()))?;
        pending.extend_from_slice(&chunk);
        while let Some(end) = pending.iter().position(|b| *b == b'\n') {
            let line: Vec<u8> = pending.drain(..=end).collect();
            if let Ok(message) = serde_json::from_slice::<Value>(&line) {
                handle(&message, &mut image_id)?;
            }
        }
    }
    if let Ok(message) = serde_json::from_slice::<Value>(&pending) {
        handle(&message, &mut image_id)?;
    }
    if let Some(file) = &args.iidfile {
        let id = image_id.ok_or_else(|| {
            CliError::Failed(format!(
                "Server did not provide an image ID. Cannot write {}",
                file.display()
            ))
        })?;
        std::fs::write(file, id)
            .map_err(|e| CliError::Failed(format!("{}: {e}", file.display())))?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn build_args_without_a_value_come_from_the_environment_or_stay_unset() {
        let args = build_args(&[
            "A=1".into(),
            "PATH".into(),
            "BERTH_TEST_SURELY_UNSET".into(),
        ]);
        assert_eq!(args["A"].as_deref(), Some("1"));
        assert!(args["PATH"].is_some());
        assert_eq!(args["BERTH_TEST_SURELY_UNSET"], None);
    }

    #[test]
    fn an_error_message_ends_the_build() {
        let mut id = None;
        let aux = serde_json::json!({"aux": {"ID": "sha256:ab"}});
        handle(&aux, &mut id).unwrap();
        assert_eq!(id.as_deref(), Some("sha256:ab"));
        let failed = serde_json::json!({"errorDetail": {"message": "boom"}, "error": "boom"});
        assert!(matches!(handle(&failed, &mut id), Err(CliError::Failed(m)) if m == "boom"));
    }
}
