//! `diff`: what changed in a container's filesystem, one `C`/`A`/`D` line per path.

use bollard::models::ChangeType;

use crate::cli::DiffArgs;
use crate::client::Connector;
use crate::error::CliError;
use crate::output;

pub async fn run(connector: &Connector, args: DiffArgs) -> Result<(), CliError> {
    if args.container.is_empty() {
        return Err(CliError::Failed(
            "Container name cannot be empty".to_string(),
        ));
    }
    let docker = connector.connect().await?;
    let changes = docker.container_changes(&args.container).await?;
    let mut text = String::new();
    for change in changes.unwrap_or_default() {
        text.push_str(&format!("{} {}\n", kind(change.kind), change.path));
    }
    output::print(&text);
    Ok(())
}

/// The letter docker shows for a kind of change.
fn kind(kind: ChangeType) -> &'static str {
    match kind {
        ChangeType::_0 => "C",
        ChangeType::_1 => "A",
        ChangeType::_2 => "D",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn change_letters() {
        assert_eq!(
            [ChangeType::_0, ChangeType::_1, ChangeType::_2].map(kind),
            ["C", "A", "D"]
        );
    }
}
