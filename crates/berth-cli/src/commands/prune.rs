//! The prune commands: `container prune`, `image prune`, `volume prune`, `network prune`,
//! and `system prune`, which runs them in turn. Each asks first (unless `-f`), then lists
//! what the daemon removed and the space it freed.

use std::collections::HashMap;

use bollard::Docker;
use bollard::query_parameters::{
    PruneBuildOptions, PruneContainersOptions, PruneImagesOptions, PruneNetworksOptions,
    PruneVolumesOptions,
};
use tokio::io::{AsyncBufReadExt, BufReader};

use super::filter_map;
use crate::cli::{BuilderPruneArgs, ImagePruneArgs, PruneArgs, SystemPruneArgs, VolumePruneArgs};
use crate::client::Connector;
use crate::error::{CliError, is_not_found};
use crate::format::natural::natural_cmp;
use crate::format::units::human_size;
use crate::output;

type Filters = HashMap<String, Vec<String>>;

/// What one prune removed: the space freed and the list docker prints ("Deleted
/// Containers:" and the IDs), empty when nothing was removed.
#[derive(Default)]
struct Pruned {
    space: i64,
    report: String,
}

impl Pruned {
    fn new(title: &str, lines: Vec<String>, space: Option<i64>) -> Self {
        if lines.is_empty() {
            return Pruned::default();
        }
        let mut report = format!("{title}:\n");
        for line in lines {
            report.push_str(&line);
            report.push('\n');
        }
        Pruned {
            space: space.unwrap_or_default(),
            report,
        }
    }

    fn print(&self) {
        if !self.report.is_empty() {
            output::line(&self.report);
        }
    }
}

fn print_total(space: i64) {
    output::line(&format!("Total reclaimed space: {}", human_size(space, 4)));
}

/// Asks `warning` on stdout and reads the answer: only "y" (in any case) goes ahead.
async fn confirm(warning: &str) -> Result<bool, CliError> {
    output::print(&format!("{warning} [y/N] "));
    let mut answer = String::new();
    BufReader::new(tokio::io::stdin())
        .read_line(&mut answer)
        .await?;
    Ok(answer.trim().eq_ignore_ascii_case("y"))
}

pub async fn containers(connector: &Connector, args: PruneArgs) -> Result<(), CliError> {
    const WARNING: &str =
        "WARNING! This will remove all stopped containers.\nAre you sure you want to continue?";
    if !args.force && !confirm(WARNING).await? {
        return Ok(());
    }
    let docker = connector.connect().await?;
    let pruned = prune_containers(&docker, filter_map(&args.filter)).await?;
    pruned.print();
    print_total(pruned.space);
    Ok(())
}

pub async fn images(connector: &Connector, args: ImagePruneArgs) -> Result<(), CliError> {
    let warning = if args.all {
        "WARNING! This will remove all images without at least one container associated to them.\nAre you sure you want to continue?"
    } else {
        "WARNING! This will remove all dangling images.\nAre you sure you want to continue?"
    };
    if !args.prune.force && !confirm(warning).await? {
        return Ok(());
    }
    let docker = connector.connect().await?;
    let pruned = prune_images(&docker, args.all, filter_map(&args.prune.filter)).await?;
    pruned.print();
    print_total(pruned.space);
    Ok(())
}

pub async fn volumes(connector: &Connector, args: VolumePruneArgs) -> Result<(), CliError> {
    let docker = connector.connect().await?;
    let mut filters = filter_map(&args.prune.filter).unwrap_or_default();
    // Before API 1.42 every unused volume went; since, only anonymous ones unless `-a`.
    let version = docker.client_version();
    let all_by_default = (version.major_version, version.minor_version) < (1, 42);
    if args.all && all_by_default {
        return Err(CliError::Failed(format!(
            "\"--all\" requires API version 1.42, but the berth daemon API version is {version}"
        )));
    }
    let warning = if all_by_default || args.all {
        "WARNING! This will remove all local volumes not used by at least one container.\nAre you sure you want to continue?"
    } else {
        "WARNING! This will remove anonymous local volumes not used by at least one container.\nAre you sure you want to continue?"
    };
    if args.all {
        if filters.contains_key("all") {
            return Err(CliError::Failed(
                "conflicting options: cannot specify both --all and --filter all=1".to_string(),
            ));
        }
        filters.insert("all".to_string(), vec!["true".to_string()]);
    }
    if !args.prune.force && !confirm(warning).await? {
        return Ok(());
    }
    let pruned = prune_volumes(&docker, Some(filters).filter(|f| !f.is_empty())).await?;
    pruned.print();
    print_total(pruned.space);
    Ok(())
}

pub async fn networks(connector: &Connector, args: PruneArgs) -> Result<(), CliError> {
    const WARNING: &str = "WARNING! This will remove all custom networks not used by at least one container.\nAre you sure you want to continue?";
    if !args.force && !confirm(WARNING).await? {
        return Ok(());
    }
    let docker = connector.connect().await?;
    prune_networks(&docker, filter_map(&args.filter))
        .await?
        .print();
    Ok(())
}

pub async fn builder(connector: &Connector, args: BuilderPruneArgs) -> Result<(), CliError> {
    let warning = if args.all {
        "WARNING! This will remove all build cache. Are you sure you want to continue?"
    } else {
        "WARNING! This will remove all dangling build cache. Are you sure you want to continue?"
    };
    if !args.prune.force && !confirm(warning).await? {
        return Ok(());
    }
    let docker = connector.connect().await?;
    let options = PruneBuildOptions {
        all: Some(args.all),
        filters: filter_map(&args.prune.filter),
        reserved_space: args.keep_storage,
        ..Default::default()
    };
    let pruned = prune_build_cache(&docker, options).await?;
    pruned.print();
    print_total(pruned.space);
    Ok(())
}

pub async fn system(connector: &Connector, args: SystemPruneArgs) -> Result<(), CliError> {
    let filters = filter_map(&args.prune.filter);
    if args.volumes && filters.as_ref().is_some_and(|f| f.contains_key("until")) {
        return Err(CliError::Failed(
            "ERROR: The \"until\" filter is not supported with \"--volumes\"".to_string(),
        ));
    }
    if !args.prune.force && !confirm(&system_warning(&args)).await? {
        return Ok(());
    }
    let docker = connector.connect().await?;
    // Each step's report is printed as soon as it is done, as docker prints them.
    let mut space = 0;
    let mut report = |pruned: Pruned| {
        space += pruned.space;
        pruned.print();
    };
    report(prune_containers(&docker, filters.clone()).await?);
    report(prune_networks(&docker, filters.clone()).await?);
    if args.volumes {
        report(prune_volumes(&docker, filters.clone()).await?);
    }
    report(prune_images(&docker, args.all, filters.clone()).await?);
    let options = PruneBuildOptions {
        all: Some(args.all),
        filters,
        ..Default::default()
    };
    report(prune_build_cache(&docker, options).await?);
    print_total(space);
    Ok(())
}

/// What `system prune` is about to remove, and the filters that narrow it.
fn system_warning(args: &SystemPruneArgs) -> String {
    let mut warnings = vec![
        "all stopped containers",
        "all networks not used by at least one container",
    ];
    if args.volumes {
        warnings.push("all anonymous volumes not used by at least one container");
    }
    if args.all {
        warnings.push("all images without at least one container associated to them");
        warnings.push("all build cache");
    } else {
        warnings.push("all dangling images");
        warnings.push("unused build cache");
    }
    let mut text = String::from("WARNING! This will remove:\n");
    for warning in warnings {
        text.push_str(&format!("  - {warning}\n"));
    }
    let mut filters: Vec<String> = ["label", "label!", "until"]
        .iter()
        .flat_map(|name| {
            args.prune
                .filter
                .iter()
                .filter(move |(key, _)| key == name)
                .map(move |(_, value)| format!("{name}={value}"))
        })
        .collect();
    filters.sort_by(|a, b| natural_cmp(a, b));
    if !filters.is_empty() {
        text.push_str("\n  Items to be pruned will be filtered with:\n");
        for filter in filters {
            text.push_str(&format!("  - {filter}\n"));
        }
    }
    text.push_str("\nAre you sure you want to continue?");
    text
}

async fn prune_containers(docker: &Docker, filters: Option<Filters>) -> Result<Pruned, CliError> {
    let pruned = docker
        .prune_containers(Some(PruneContainersOptions { filters }))
        .await?;
    Ok(Pruned::new(
        "Deleted Containers",
        pruned.containers_deleted.unwrap_or_default(),
        pruned.space_reclaimed,
    ))
}

async fn prune_images(
    docker: &Docker,
    all: bool,
    filters: Option<Filters>,
) -> Result<Pruned, CliError> {
    let mut filters = filters.unwrap_or_default();
    filters
        .entry("dangling".to_string())
        .or_default()
        .push((!all).to_string());
    let pruned = docker
        .prune_images(Some(PruneImagesOptions {
            filters: Some(filters),
        }))
        .await?;
    let lines = pruned
        .images_deleted
        .unwrap_or_default()
        .into_iter()
        .map(|item| match item.untagged.filter(|u| !u.is_empty()) {
            Some(untagged) => format!("untagged: {untagged}"),
            None => format!("deleted: {}", item.deleted.unwrap_or_default()),
        })
        .collect();
    Ok(Pruned::new("Deleted Images", lines, pruned.space_reclaimed))
}

async fn prune_volumes(docker: &Docker, filters: Option<Filters>) -> Result<Pruned, CliError> {
    let pruned = docker
        .prune_volumes(Some(PruneVolumesOptions { filters }))
        .await?;
    Ok(Pruned::new(
        "Deleted Volumes",
        pruned.volumes_deleted.unwrap_or_default(),
        pruned.space_reclaimed,
    ))
}

/// Networks take no space worth counting.
async fn prune_networks(docker: &Docker, filters: Option<Filters>) -> Result<Pruned, CliError> {
    let pruned = docker
        .prune_networks(Some(PruneNetworksOptions { filters }))
        .await?;
    Ok(Pruned::new(
        "Deleted Networks",
        pruned.networks_deleted.unwrap_or_default(),
        None,
    ))
}

/// The build cache; a daemon that cannot build (berthd) has none, and says so with a 404.
async fn prune_build_cache(
    docker: &Docker,
    options: PruneBuildOptions,
) -> Result<Pruned, CliError> {
    match docker.prune_build(Some(options)).await {
        Ok(pruned) => Ok(Pruned::new(
            "Deleted build cache objects",
            pruned.caches_deleted.unwrap_or_default(),
            pruned.space_reclaimed,
        )),
        Err(error) if is_not_found(&error) => Ok(Pruned::default()),
        Err(error) => Err(error.into()),
    }
}

#[cfg(test)]
mod tests {
    use clap::Parser;

    use super::*;
    use crate::cli::{Cli, Command, SystemCommand};

    fn warning(argv: &[&str]) -> String {
        let cli = Cli::try_parse_from(["berth", "system", "prune"].iter().chain(argv)).unwrap();
        let Some(Command::System(SystemCommand::Prune(args))) = cli.command else {
            panic!("not system prune");
        };
        system_warning(&args)
    }

    #[test]
    fn system_prune_warnings() {
        assert_eq!(
            warning(&[]),
            "WARNING! This will remove:\n  - all stopped containers\n  - all networks not used by at least one container\n  - all dangling images\n  - unused build cache\n\nAre you sure you want to continue?"
        );
        assert_eq!(
            warning(&[
                "-a",
                "--volumes",
                "--filter",
                "until=1h",
                "--filter",
                "label=b",
                "--filter",
                "label=a",
                "--filter",
                "other=x"
            ]),
            "WARNING! This will remove:\n  - all stopped containers\n  - all networks not used by at least one container\n  - all anonymous volumes not used by at least one container\n  - all images without at least one container associated to them\n  - all build cache\n\n  Items to be pruned will be filtered with:\n  - label=a\n  - label=b\n  - until=1h\n\nAre you sure you want to continue?"
        );
    }

    #[test]
    fn reports_list_what_went() {
        let pruned = Pruned::new("Deleted Volumes", vec!["a".into(), "b".into()], Some(5));
        assert_eq!(pruned.report, "Deleted Volumes:\na\nb\n");
        assert_eq!(pruned.space, 5);
        let nothing = Pruned::new("Deleted Volumes", Vec::new(), Some(5));
        assert_eq!((nothing.report.as_str(), nothing.space), ("", 0));
    }
}
