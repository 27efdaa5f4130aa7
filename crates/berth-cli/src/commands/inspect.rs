//! `inspect`, `container inspect`, `image inspect`: the daemon's full description of
//! objects, as JSON or through a template.

use crate::cli::ObjectInspectArgs;
use crate::client::Connector;
use crate::client::raw::get_json;
use crate::error::{CliError, bad_format, template_failure};
use crate::format::json::to_docker_json;
use crate::format::template::{MissingKey, Template};
use crate::output;

#[derive(Debug, Clone, Copy)]
pub enum Kind {
    /// A container if there is one by that name, else an image.
    Any,
    Container,
    Image,
}

pub async fn run(
    connector: &Connector,
    kind: Kind,
    args: ObjectInspectArgs,
) -> Result<(), CliError> {
    let template = match args.format.as_deref() {
        None | Some("json") => None,
        Some(format) => Some(Template::parse(format).map_err(bad_format)?),
    };
    // Connecting first starts berthd when that is allowed; the objects are then read raw.
    connector.connect().await?;
    let mut found = Vec::new();
    let mut failures = Vec::new();
    for name in &args.names {
        match inspect(connector.host(), kind, name, args.size).await {
            Ok(object) => found.push(object),
            Err(message) => failures.push(message),
        }
    }
    let printed = match &template {
        None => to_docker_json(&found)
            .map(|json| output::line(&json))
            .map_err(|e| CliError::Failed(e.to_string())),
        Some(template) => print_each(template, &found),
    };
    if !failures.is_empty() {
        return Err(CliError::Failed(failures.join("\n")));
    }
    printed
}

fn print_each(template: &Template, found: &[serde_json::Value]) -> Result<(), CliError> {
    for value in found {
        let text = template.execute(value, MissingKey::Zero);
        let text = text.map_err(template_failure("template parsing error"))?;
        output::line(&text);
    }
    Ok(())
}

/// One object's JSON as the daemon sent it, or docker's message for why there is none.
async fn inspect(
    host: &str,
    kind: Kind,
    name: &str,
    size: bool,
) -> Result<serde_json::Value, String> {
    let container_path = format!(
        "/containers/{name}/json{}",
        if size { "?size=1" } else { "" }
    );
    let image_path = format!("/images/{name}/json");
    let fetch = |path: String| async move {
        let (status, body) = get_json(host, &path).await?;
        match status {
            200 => Ok(Ok(body)),
            404 => Ok(Err(body)),
            _ => Err(daemon_error(&body)),
        }
    };
    let not_found = |body: serde_json::Value| daemon_error(&body);
    match kind {
        Kind::Container => fetch(container_path).await?.map_err(not_found),
        Kind::Image => fetch(image_path).await?.map_err(not_found),
        Kind::Any => match fetch(container_path).await? {
            Ok(c) => Ok(c),
            Err(_) => fetch(image_path)
                .await?
                .map_err(|_| format!("Error: No such object: {name}")),
        },
    }
}

fn daemon_error(body: &serde_json::Value) -> String {
    format!(
        "Error response from daemon: {}",
        body["message"].as_str().unwrap_or("unknown error")
    )
}
