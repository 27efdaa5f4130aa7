//! `inspect`, `container inspect`, `image inspect`, `network inspect`, `volume inspect`:
//! the daemon's full description of objects, as JSON or through a template.

use crate::client::Connector;
use crate::client::raw::{daemon_error, parse_json, request};
use crate::error::{CliError, bad_format, template_failure};
use crate::format::json::{to_docker_json, to_go_json_line};
use crate::format::template::{MissingKey, Template};
use crate::format::time::go_time_rfc3339;
use crate::output;

#[derive(Debug, Clone, Copy)]
pub enum Kind {
    /// The first object by that name: a container, an image, a network, a volume.
    Any,
    Container,
    Image,
    Network,
    Volume,
}

impl Kind {
    /// Where the daemon describes an object of this kind (`size`: a container's sizes too;
    /// `verbose`: a network's services on swarm).
    fn path(self, name: &str, size: bool, verbose: bool) -> String {
        match self {
            Kind::Any | Kind::Container if size => format!("/containers/{name}/json?size=1"),
            Kind::Any | Kind::Container => format!("/containers/{name}/json"),
            Kind::Image => format!("/images/{name}/json"),
            Kind::Network if verbose => format!("/networks/{name}?verbose=true"),
            Kind::Network => format!("/networks/{name}"),
            Kind::Volume => format!("/volumes/{name}"),
        }
    }
}

/// What to inspect and how to show it.
pub struct Inspect {
    pub names: Vec<String>,
    pub format: Option<String>,
    /// Containers' sizes.
    pub size: bool,
    /// Networks' details for diagnostics.
    pub verbose: bool,
}

pub async fn run(connector: &Connector, kind: Kind, args: Inspect) -> Result<(), CliError> {
    let format = args.format.as_deref();
    let template = match format {
        None | Some("json") => None,
        Some(format) => Some(Template::parse(format).map_err(bad_format)?),
    };
    // Connecting first starts berthd when that is allowed; the objects are then read raw.
    connector.connect().await?;
    let mut found = Vec::new();
    let mut failures = Vec::new();
    for name in &args.names {
        match inspect(connector.host(), kind, name, &args).await {
            Ok((kind, object)) if template.is_some() => found.push(typed_view(kind, object)),
            Ok((_, object)) => found.push(object),
            Err(message) => failures.push(message),
        }
    }
    let printed = match &template {
        None if format == Some("json") => to_go_json_line(&found)
            .map(|json| output::line(&json))
            .map_err(|e| CliError::Failed(e.to_string())),
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
    // Nothing found still ends the (empty) output with a newline, as docker's does.
    if found.is_empty() {
        output::line("");
    }
    for value in found {
        let text = template.execute(value, MissingKey::Zero);
        let text = text.map_err(template_failure("template parsing error"))?;
        output::line(&text);
    }
    Ok(())
}

/// An object as docker's templates see it: decoded into docker's types, where a network's
/// creation time is a Go time and a volume's or network's missing maps are empty ones.
fn typed_view(kind: Kind, mut object: serde_json::Value) -> serde_json::Value {
    let maps: &[&str] = match kind {
        Kind::Volume => &["Labels", "Options"],
        Kind::Network => &["Containers", "Options", "Labels"],
        _ => &[],
    };
    for key in maps {
        if object[key].is_null() {
            object[key] = serde_json::json!({});
        }
    }
    if let Kind::Network = kind {
        if let Some(created) = object["Created"].as_str() {
            object["Created"] = go_time_rfc3339(created).into();
        }
        if object["IPAM"]["Options"].is_null() {
            object["IPAM"]["Options"] = serde_json::json!({});
        }
    }
    object
}

/// One object's JSON as the daemon sent it, and its kind; or docker's message for why there
/// is none.
async fn inspect(
    host: &str,
    kind: Kind,
    name: &str,
    args: &Inspect,
) -> Result<(Kind, serde_json::Value), String> {
    let kinds: &[Kind] = match kind {
        Kind::Any => &[Kind::Container, Kind::Image, Kind::Network, Kind::Volume],
        _ => &[kind],
    };
    let mut last_missing = String::new();
    for kind in kinds {
        let path = kind.path(name, args.size, args.verbose);
        let response = request(host, hyper::Method::GET, &path, None).await?;
        let status = response.status;
        let body = response.bytes().await?;
        match status {
            200 => return parse_json(&path, &body).map(|object| (*kind, object)),
            404 => last_missing = daemon_error(status, &body),
            _ => return Err(daemon_error(status, &body)),
        }
    }
    Err(match kind {
        Kind::Any => format!("Error: No such object: {name}"),
        _ => last_missing,
    })
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn templates_see_docker_types() {
        let volume = typed_view(
            Kind::Volume,
            json!({"Name": "v", "Labels": null, "Options": null}),
        );
        assert_eq!(volume, json!({"Name": "v", "Labels": {}, "Options": {}}));
        let network = typed_view(
            Kind::Network,
            json!({"Created": "2026-11-28T09:54:25.371576026Z", "IPAM": {"Options": null}, "Labels": {"a": "b"}}),
        );
        assert_eq!(
            network["Created"],
            "2026-11-28 09:54:25.371576026 +0000 UTC"
        );
        assert_eq!(network["IPAM"]["Options"], json!({}));
        assert_eq!(network["Labels"], json!({"a": "b"}));
        assert_eq!(network["Containers"], json!({}));
        let container = json!({"Config": {"Labels": null}});
        assert_eq!(typed_view(Kind::Container, container.clone()), container);
    }
}
