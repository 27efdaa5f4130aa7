//! `system df`: disk usage by images, containers, volumes and build cache, summed up or
//! (`-v`) object by object.

use jiff::Timestamp;
use serde_json::{Value, json};

use crate::cli::DfArgs;
use crate::client::Connector;
use crate::client::raw::get_json;
use crate::error::{CliError, template_failure};
use crate::format::disk_usage::{
    BUILD_CACHE_TABLE, CONTAINERS_TABLE, DiskUsage, IMAGES_TABLE, SUMMARY_TABLE, VOLUMES_TABLE,
    build_cache_headers, build_cache_rows, container_rows, image_rows, summary_headers,
    summary_rows, volume_rows,
};
use crate::format::list::ListFormat;
use crate::format::objects::volume_headers;
use crate::format::template::{MissingKey, Template};
use crate::format::units::human_size;
use crate::format::{containers, images};
use crate::output;

pub async fn run(connector: &Connector, args: DfArgs) -> Result<(), CliError> {
    let host = connector.host();
    connector.connect().await?;
    let usage: DiskUsage = get_json(host, "/system/df")
        .await
        .map_err(CliError::Failed)?;
    let now = Timestamp::now();
    let failed = template_failure("template parsing error");
    let text = match (args.verbose, args.format.as_deref()) {
        (false, format) => ListFormat::new(format, SUMMARY_TABLE, false)
            .and_then(|f| f.render(&summary_rows(&usage), &summary_headers()))
            .map_err(failed)?,
        (true, None | Some("table")) => verbose_tables(&usage, now).map_err(failed)?,
        (true, Some(format)) => {
            // One template over everything; docker adds no newline after it.
            let source = if format == "json" {
                "{{json .}}"
            } else {
                format
            };
            let data = verbose_data(&usage, now);
            Template::parse(source)
                .and_then(|t| t.execute(&data, MissingKey::Error))
                .map_err(failed)?
        }
    };
    output::print(&text);
    Ok(())
}

/// `-v`'s tables, one per kind of object under its own heading.
fn verbose_tables(
    usage: &DiskUsage,
    now: Timestamp,
) -> Result<String, crate::format::template::TemplateError> {
    let table = |template: &str, rows: &[Value], headers: &Value| {
        ListFormat::new(Some(template), "", false)?.render(rows, headers)
    };
    let mut out = String::from("Images space usage:\n\n");
    out.push_str(&table(
        IMAGES_TABLE,
        &image_rows(usage, true, now),
        &images::headers(),
    )?);
    out.push_str("\nContainers space usage:\n\n");
    out.push_str(&table(
        CONTAINERS_TABLE,
        &container_rows(usage, true, now),
        &containers::headers(),
    )?);
    out.push_str("\nLocal Volumes space usage:\n\n");
    out.push_str(&table(
        VOLUMES_TABLE,
        &volume_rows(usage),
        &volume_headers(),
    )?);
    out.push_str(&format!(
        "\nBuild cache usage: {}\n\n",
        human_size(usage.builder_size(), 4)
    ));
    out.push_str(&table(
        BUILD_CACHE_TABLE,
        &build_cache_rows(usage, true, now),
        &build_cache_headers(),
    )?);
    Ok(out)
}

/// What a `-v` template sees: every object's row, by kind, untruncated.
fn verbose_data(usage: &DiskUsage, now: Timestamp) -> Value {
    json!({
        "Images": image_rows(usage, false, now),
        "Containers": container_rows(usage, false, now),
        "Volumes": volume_rows(usage),
        "BuildCache": build_cache_rows(usage, false, now),
    })
}
