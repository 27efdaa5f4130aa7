//! `history`: the layers of an image, newest first.

use jiff::Timestamp;

use crate::cli::HistoryArgs;
use crate::client::Connector;
use crate::error::{CliError, template_failure};
use crate::format::images::{HISTORY_TABLE, HISTORY_TABLE_RAW, history_headers, history_row};
use crate::format::list::ListFormat;
use crate::output;

pub async fn run(connector: &Connector, args: HistoryArgs) -> Result<(), CliError> {
    let table = if args.human {
        HISTORY_TABLE
    } else {
        HISTORY_TABLE_RAW
    };
    let format = ListFormat::new(args.format.as_deref(), table, args.quiet)
        .map_err(template_failure("template parsing error"))?;
    let docker = connector.connect().await?;
    let layers = docker.image_history(&args.image).await?;
    let now = Timestamp::now();
    let rows: Vec<_> = layers
        .iter()
        .map(|layer| history_row(layer, args.human, !args.no_trunc, now))
        .collect();
    let text = format.render(&rows, &history_headers());
    output::print(&text.map_err(template_failure("template parsing error"))?);
    Ok(())
}
