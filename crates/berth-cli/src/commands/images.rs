//! `images`: list images, one row per repository and tag.

use bollard::query_parameters::ListImagesOptions;
use jiff::Timestamp;

use super::filter_map;
use crate::cli::ImagesArgs;
use crate::client::Connector;
use crate::error::{CliError, template_failure};
use crate::format::images::{self, TABLE, TABLE_WITH_DIGESTS};
use crate::format::list::ListFormat;
use crate::output;

pub async fn run(connector: &Connector, args: ImagesArgs) -> Result<(), CliError> {
    let table = if args.digests {
        TABLE_WITH_DIGESTS
    } else {
        TABLE
    };
    let format = ListFormat::new(args.format.as_deref(), table, args.quiet)
        .map_err(template_failure("template parsing error"))?;
    let mut filters = args.filter.clone();
    if let Some(reference) = &args.reference {
        filters.push(("reference".to_string(), reference.clone()));
    }
    let options = ListImagesOptions {
        all: args.all,
        filters: filter_map(&filters),
        digests: args.digests,
        ..Default::default()
    };
    let docker = connector.connect().await?;
    let listed = docker.list_images(Some(options)).await?;
    let now = Timestamp::now();
    let rows: Vec<_> = listed
        .iter()
        .flat_map(|image| images::rows(image, !args.no_trunc, now))
        .collect();
    let text = format.render(&rows, &images::headers());
    output::print(&text.map_err(template_failure("template parsing error"))?);
    Ok(())
}
