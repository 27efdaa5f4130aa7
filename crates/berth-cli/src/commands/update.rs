//! `update`: change the resource limits and restart policy of containers, running or not.

use bollard::models::ContainerUpdateBody;

use super::create::restart_policy;
use super::each;
use crate::cli::UpdateArgs;
use crate::client::Connector;
use crate::error::CliError;

pub async fn run(connector: &Connector, args: UpdateArgs) -> Result<(), CliError> {
    let restart = restart_policy(args.restart.as_deref()).map_err(CliError::Failed)?;
    let changes_something = args.blkio_weight.is_some()
        || args.cpu_period.is_some()
        || args.cpu_quota.is_some()
        || args.cpu_shares.is_some()
        || args.cpus.is_some()
        || args.cpuset_cpus.is_some()
        || args.cpuset_mems.is_some()
        || args.memory.is_some()
        || args.memory_reservation.is_some()
        || args.memory_swap.is_some()
        || args.pids_limit.is_some()
        || restart.is_some();
    if !changes_something {
        return Err(CliError::Failed(
            "you must provide one or more flags when using this command".to_string(),
        ));
    }
    let body = ContainerUpdateBody {
        blkio_weight: args.blkio_weight,
        cpu_period: args.cpu_period,
        cpu_quota: args.cpu_quota,
        cpu_shares: args.cpu_shares,
        nano_cpus: args.cpus,
        cpuset_cpus: args.cpuset_cpus,
        cpuset_mems: args.cpuset_mems,
        memory: args.memory,
        memory_reservation: args.memory_reservation,
        memory_swap: args.memory_swap,
        pids_limit: args.pids_limit,
        restart_policy: restart,
        ..Default::default()
    };
    let docker = connector.connect().await?;
    let (docker, body) = (&docker, &body);
    each(&args.containers, |name| async move {
        docker.update_container(&name, body.clone()).await?;
        Ok(Some(name))
    })
    .await
    .map_err(CliError::from)
}
