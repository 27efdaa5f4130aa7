//! `ps`: list containers.

use bollard::query_parameters::ListContainersOptions;
use jiff::Timestamp;

use super::filter_map;
use crate::cli::PsArgs;
use crate::client::Connector;
use crate::error::{CliError, template_failure};
use crate::format::containers::{self, TABLE, TABLE_WITH_SIZE};
use crate::format::list::ListFormat;
use crate::output;

pub async fn run(connector: &Connector, args: PsArgs) -> Result<(), CliError> {
    let table = if args.size { TABLE_WITH_SIZE } else { TABLE };
    let format = ListFormat::new(args.format.as_deref(), table, args.quiet)
        .map_err(template_failure("failed to parse template"))?;
    let limit = if args.latest && args.last == -1 {
        1
    } else {
        args.last
    };
    let options = ListContainersOptions {
        all: args.all,
        limit: (limit > 0).then_some(limit),
        size: wants_sizes(&args),
        filters: filter_map(&args.filter),
    };
    let docker = connector.connect().await?;
    let listed = docker.list_containers(Some(options)).await?;
    let now = Timestamp::now();
    let rows: Vec<_> = listed
        .iter()
        .map(|c| containers::row(c, !args.no_trunc, now))
        .collect();
    let text = format.render(&rows, &containers::headers());
    output::print(&text.map_err(template_failure("failed to execute template"))?);
    Ok(())
}

/// Sizes are slow for the daemon to compute: only ask when they will be shown, as docker
/// decides it (a template that uses `.Size`, or marshals the whole row; not `json`).
fn wants_sizes(args: &PsArgs) -> bool {
    args.size
        || args
            .format
            .as_deref()
            .is_some_and(|format| format.contains(".Size") || format.contains("json .}}"))
}
