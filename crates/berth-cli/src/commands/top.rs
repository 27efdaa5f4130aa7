//! `top`: the processes of a container, as the daemon's `ps` lists them (with the `ps`
//! options given, `-ef` otherwise), in docker's table.

use bollard::query_parameters::TopOptions;

use crate::cli::TopArgs;
use crate::client::Connector;
use crate::error::CliError;
use crate::format::table::align_with;
use crate::output;

pub async fn run(connector: &Connector, args: TopArgs) -> Result<(), CliError> {
    let docker = connector.connect().await?;
    let options = (!args.ps_args.is_empty()).then(|| TopOptions {
        ps_args: args.ps_args.join(" "),
    });
    let top = docker.top_processes(&args.container, options).await?;
    let mut text = top.titles.unwrap_or_default().join("\t");
    text.push('\n');
    for process in top.processes.unwrap_or_default() {
        text.push_str(&process.join("\t"));
        text.push('\n');
    }
    // Docker's top table: columns at least 20 wide, 3 apart.
    output::print(&align_with(&text, 20, 3));
    Ok(())
}
