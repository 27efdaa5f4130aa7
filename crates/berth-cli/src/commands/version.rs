//! `version`: this client's and the daemon's versions, in docker's layout or through a
//! template over `{Client, Server}`.

use bollard::API_DEFAULT_VERSION;
use bollard::models::SystemVersion;
use serde_json::{Value, json};

use crate::cli::VersionArgs;
use crate::client::Connector;
use crate::error::{CliError, bad_format, template_failure};
use crate::format::table::align_with;
use crate::format::template::{MissingKey, Template};
use crate::format::time::ansic;
use crate::output;

const VERSION: &str = env!("CARGO_PKG_VERSION");

/// `berth --version`.
pub fn short() -> String {
    format!("berth version {VERSION}")
}

pub async fn run(connector: &Connector, args: VersionArgs) -> Result<(), CliError> {
    let template = args
        .format
        .as_deref()
        .map(Template::parse)
        .transpose()
        .map_err(bad_format)?;
    let (api_version, server) = match connector.connect().await {
        Ok(docker) => {
            let server = docker.version().await;
            (
                docker.client_version().to_string(),
                server.map_err(CliError::from),
            )
        }
        Err(error) => (API_DEFAULT_VERSION.to_string(), Err(error)),
    };
    let client = json!({
        "Version": VERSION,
        "APIVersion": api_version,
        "DefaultAPIVersion": API_DEFAULT_VERSION.to_string(),
        "Os": std::env::consts::OS,
        "Arch": go_arch(),
    });
    let server_value = match &server {
        Ok(version) => server_json(version)?,
        Err(_) => Value::Null,
    };
    let text = match template {
        Some(template) => {
            let data = json!({"Client": client, "Server": server_value});
            let text = template.execute(&data, MissingKey::Zero);
            text.map_err(template_failure("template parsing error"))? + "\n"
        }
        None => render(&client, server.as_ref().ok()),
    };
    output::print(&text);
    server.map(drop)
}

/// The daemon's answer as templates see it; `APIVersion` is also offered under the name
/// docker's templates use.
fn server_json(version: &SystemVersion) -> Result<Value, CliError> {
    let mut value = serde_json::to_value(version).map_err(|e| CliError::Failed(e.to_string()))?;
    if let Some(map) = value.as_object_mut()
        && let Some(api) = map.get("ApiVersion").cloned()
    {
        map.insert("APIVersion".to_string(), api);
    }
    Ok(value)
}

/// The architecture as Go (and so docker) names it.
fn go_arch() -> &'static str {
    match std::env::consts::ARCH {
        "x86_64" => "amd64",
        "aarch64" => "arm64",
        "x86" => "386",
        "powerpc64" => "ppc64le",
        other => other,
    }
}

fn render(client: &Value, server: Option<&SystemVersion>) -> String {
    let text = |v: &Value| v.as_str().unwrap_or_default().to_string();
    let mut out = String::from("Client:\n");
    out += &format!(" Version:\t{}\n", text(&client["Version"]));
    let (api, default_api) = (
        text(&client["APIVersion"]),
        text(&client["DefaultAPIVersion"]),
    );
    out += &format!(" API version:\t{api}");
    if api != default_api {
        out += &format!(" (downgraded from {default_api})");
    }
    out += &format!(
        "\n OS/Arch:\t{}/{}\n",
        text(&client["Os"]),
        text(&client["Arch"])
    );
    if let Some(server) = server {
        out += &render_server(server);
    }
    align_with(&out, 20, 1)
}

fn render_server(server: &SystemVersion) -> String {
    let field = |value: &Option<String>| value.clone().unwrap_or_default();
    let mut out = String::from("\nServer:");
    if let Some(platform) = server.platform.as_ref().filter(|p| !p.name.is_empty()) {
        out += &format!(" {}", platform.name);
    }
    out += "\n Engine:\n";
    out += &format!("  Version:\t{}\n", field(&server.version));
    out += &format!(
        "  API version:\t{} (minimum version {})\n",
        field(&server.api_version),
        field(&server.min_api_version)
    );
    if let Some(go) = server.go_version.as_ref().filter(|g| !g.is_empty()) {
        out += &format!("  Go version:\t{go}\n");
    }
    out += &format!("  Git commit:\t{}\n", field(&server.git_commit));
    out += &format!("  Built:\t{}\n", ansic(&field(&server.build_time)));
    out += &format!(
        "  OS/Arch:\t{}/{}\n",
        field(&server.os),
        field(&server.arch)
    );
    out += &format!(
        "  Experimental:\t{}\n",
        server.experimental.unwrap_or(false)
    );
    for component in server.components.iter().flatten() {
        if component.name == "Engine" {
            continue;
        }
        out += &format!(" {}:\n  Version:\t{}\n", component.name, component.version);
        let mut details: Vec<_> = component.details.iter().flatten().collect();
        details.sort();
        for (key, value) in details {
            out += &format!("  {key}:\t{value}\n");
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn client_section_reports_downgrades() {
        let client = json!({
            "Version": "0.1.0", "APIVersion": "1.41", "DefaultAPIVersion": "1.53",
            "Os": "linux", "Arch": "amd64",
        });
        assert_eq!(
            render(&client, None),
            "Client:\n Version:           0.1.0\n API version:       1.41 (downgraded from 1.53)\n OS/Arch:           linux/amd64\n"
        );
    }

    #[test]
    fn server_section_lists_engine_and_components() {
        let server: SystemVersion = serde_json::from_value(json!({
            "Version": "0.1.0", "ApiVersion": "1.45", "MinAPIVersion": "1.24", "GitCommit": "abc",
            "Os": "linux", "Arch": "amd64", "BuildTime": "today", "Experimental": false,
            "Components": [
                {"Name": "Engine", "Version": "0.1.0"},
                {"Name": "berth-shim", "Version": "0.1.0", "Details": {"Protocol": "1"}},
            ],
        }))
        .unwrap();
        let text = render_server(&server);
        assert!(text.starts_with("\nServer:\n Engine:\n  Version:\t0.1.0\n  API version:\t1.45 (minimum version 1.24)\n"), "{text}");
        assert!(
            text.ends_with(" berth-shim:\n  Version:\t0.1.0\n  Protocol:\t1\n"),
            "{text}"
        );
        assert_eq!(server_json(&server).unwrap()["APIVersion"], "1.45");
    }
}
