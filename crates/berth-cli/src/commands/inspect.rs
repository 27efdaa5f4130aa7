//! `inspect`, `container inspect`, `image inspect`: the daemon's full description of
//! objects, as JSON or through a template.

use bollard::Docker;
use bollard::models::{ContainerInspectResponse, ImageInspect};
use bollard::query_parameters::InspectContainerOptions;
use serde::Serialize;

use crate::cli::ObjectInspectArgs;
use crate::client::Connector;
use crate::error::{CliError, bad_format, describe, is_not_found, template_failure};
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

#[derive(Serialize)]
#[serde(untagged)]
enum Inspected {
    Container(Box<ContainerInspectResponse>),
    Image(Box<ImageInspect>),
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
    let docker = connector.connect().await?;
    let mut found = Vec::new();
    let mut failures = Vec::new();
    for name in &args.names {
        match inspect(&docker, kind, name, args.size).await {
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

fn print_each(template: &Template, found: &[Inspected]) -> Result<(), CliError> {
    for object in found {
        let value = serde_json::to_value(object).map_err(|e| CliError::Failed(e.to_string()))?;
        // Lenient about missing fields: the client library drops the ones the daemon sent
        // as null, which docker would print as "<no value>".
        let text = template.execute(&value, MissingKey::Zero);
        let text = text.map_err(template_failure("template parsing error"))?;
        output::line(&text);
    }
    Ok(())
}

async fn inspect(docker: &Docker, kind: Kind, name: &str, size: bool) -> Result<Inspected, String> {
    let container = || async {
        let options = InspectContainerOptions { size };
        docker
            .inspect_container(name, Some(options))
            .await
            .map(|c| Inspected::Container(Box::new(c)))
    };
    let image = || async {
        docker
            .inspect_image(name)
            .await
            .map(|i| Inspected::Image(Box::new(i)))
    };
    match kind {
        Kind::Container => container().await.map_err(|e| describe(&e)),
        Kind::Image => image().await.map_err(|e| describe(&e)),
        Kind::Any => match container().await {
            Err(error) if is_not_found(&error) => match image().await {
                Err(error) if is_not_found(&error) => Err(format!("Error: No such object: {name}")),
                other => other.map_err(|e| describe(&e)),
            },
            other => other.map_err(|e| describe(&e)),
        },
    }
}
