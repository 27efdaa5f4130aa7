//! `compose images`, `top`, `port` and `version`: what the project's containers run and
//! publish, in docker compose's layouts.

use berth_compose::Compose;
use serde_json::json;

use super::failed;
use crate::cli::{ComposeImagesArgs, ComposePortArgs, ComposeVersionArgs};
use crate::error::CliError;
use crate::format::containers::truncate_id;
use crate::format::table::{align, align_with};
use crate::format::units::human_size;
use crate::output;

pub(super) async fn images(
    compose: &Compose,
    project: &str,
    args: &ComposeImagesArgs,
) -> Result<(), CliError> {
    let images = compose
        .images(project, &args.services)
        .await
        .map_err(failed)?;
    if args.quiet {
        let mut ids: Vec<&str> = Vec::new();
        for image in &images {
            let id = image.id.strip_prefix("sha256:").unwrap_or(&image.id);
            if !ids.contains(&id) {
                ids.push(id);
                output::line(id);
            }
        }
        return Ok(());
    }
    if args.format == "json" {
        let text = serde_json::to_string(&images).map_err(std::io::Error::other)?;
        output::line(&text);
        return Ok(());
    }
    let mut text = "CONTAINER\tREPOSITORY\tTAG\tIMAGE ID\tSIZE\n".to_string();
    for image in &images {
        text.push_str(&format!(
            "{}\t{}\t{}\t{}\t{}\n",
            image.container,
            image.repository,
            image.tag,
            truncate_id(&image.id),
            human_size(image.size, 3)
        ));
    }
    output::print(&align(&text));
    Ok(())
}

/// Each running container's name, then its processes in a table, then a blank line.
pub(super) async fn top(
    compose: &Compose,
    project: &str,
    services: &[String],
) -> Result<(), CliError> {
    for (name, top) in compose.top(project, services).await.map_err(failed)? {
        let mut table = top.titles.unwrap_or_default().join("\t");
        table.push('\n');
        for process in top.processes.unwrap_or_default() {
            table.push_str(&process.join("\t"));
            table.push('\n');
        }
        output::print(&format!("{name}\n{}\n", align_with(&table, 5, 3)));
    }
    Ok(())
}

pub(super) async fn port(
    compose: &Compose,
    project: &str,
    args: &ComposePortArgs,
) -> Result<(), CliError> {
    let published = compose
        .port(
            project,
            &args.service,
            args.private_port,
            &args.protocol,
            args.index,
        )
        .await
        .map_err(failed)?;
    match published {
        Some(address) => {
            output::line(&address);
            Ok(())
        }
        None => Err(CliError::Failed(format!(
            "no port {}/{} for service {:?}",
            args.private_port, args.protocol, args.service
        ))),
    }
}

pub(super) fn version(args: &ComposeVersionArgs) {
    let version = berth_compose::plan::VERSION;
    if args.short {
        output::line(version);
    } else if args.format == "json" {
        output::line(&json!({ "version": format!("v{version}") }).to_string());
    } else {
        output::line(&format!("berth compose version v{version}"));
    }
}
