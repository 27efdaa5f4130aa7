//! `volume create`, `volume ls`, `volume rm` (`volume inspect` and `volume prune` are
//! `inspect`'s and `prune`'s).

use bollard::models::VolumeCreateRequest;
use bollard::query_parameters::{ListVolumesOptions, RemoveVolumeOptions};

use super::{each, filter_map};
use crate::cli::{VolumeCreateArgs, VolumeLsArgs, VolumeRmArgs};
use crate::client::Connector;
use crate::error::{CliError, template_failure};
use crate::format::list::ListFormat;
use crate::format::natural::natural_cmp;
use crate::format::objects::{VOLUME_QUIET, VOLUME_TABLE, volume_headers, volume_row};
use crate::opts::kv_map;
use crate::output;

pub async fn create(connector: &Connector, args: VolumeCreateArgs) -> Result<(), CliError> {
    let name = match (args.name, args.name_flag) {
        (Some(_), Some(_)) => {
            return Err(CliError::Failed(
                "conflicting options: cannot specify a volume-name through both --name and as a positional arg".to_string(),
            ));
        }
        (positional, flag) => positional.or(flag),
    };
    let request = VolumeCreateRequest {
        name,
        driver: Some(args.driver),
        driver_opts: Some(args.options.into_iter().collect()),
        labels: Some(kv_map(&args.labels).unwrap_or_default()),
        ..Default::default()
    };
    let docker = connector.connect().await?;
    let volume = docker.create_volume(request).await?;
    output::line(&volume.name);
    Ok(())
}

pub async fn list(connector: &Connector, args: VolumeLsArgs) -> Result<(), CliError> {
    let quiet = args.quiet.then_some(VOLUME_QUIET);
    let format = ListFormat::with_quiet(args.format.as_deref(), VOLUME_TABLE, quiet)
        .map_err(template_failure("template parsing error"))?;
    let docker = connector.connect().await?;
    let options = ListVolumesOptions {
        filters: filter_map(&args.filter),
    };
    let mut volumes = docker
        .list_volumes(Some(options))
        .await?
        .volumes
        .unwrap_or_default();
    volumes.sort_by(|a, b| natural_cmp(&a.name, &b.name));
    let rows: Vec<_> = volumes.iter().map(volume_row).collect();
    let text = format.render(&rows, &volume_headers());
    output::print(&text.map_err(template_failure("template parsing error"))?);
    Ok(())
}

/// Removes each volume, printing its name; failures are reported together at the end.
pub async fn remove(connector: &Connector, args: VolumeRmArgs) -> Result<(), CliError> {
    let docker = connector.connect().await?;
    let (docker, force) = (&docker, args.force);
    each(&args.names, |name| async move {
        let options = RemoveVolumeOptions { force };
        docker.remove_volume(&name, Some(options)).await?;
        Ok(Some(name))
    })
    .await
    .map_err(CliError::from)
}
