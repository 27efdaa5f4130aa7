//! Per-layer progress of a pull or push, in the statuses of Docker's JSON progress messages.

use std::fmt;

use berth_image::Digest;

/// One progress event for one layer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Progress {
    /// The layer: its blob digest when pulling, its diff id when pushing (as Docker shows).
    pub id: Digest,
    pub status: ProgressStatus,
}

impl Progress {
    /// The 12-digit id Docker shows (`"id"` of a JSON progress message).
    pub fn short_id(&self) -> &str {
        &self.id.hex()[..12]
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ProgressStatus {
    // Pull
    PullingFsLayer,
    Waiting,
    Downloading { current: u64, total: u64 },
    VerifyingChecksum,
    DownloadComplete,
    Extracting,
    PullComplete,
    AlreadyExists,
    // Push
    Preparing,
    Pushing { current: u64, total: u64 },
    Pushed,
    LayerAlreadyExists,
    MountedFrom { repository: String },
}

impl ProgressStatus {
    /// `(current, total)` bytes for a `progressDetail`, where Docker sends one.
    pub fn detail(&self) -> Option<(u64, u64)> {
        match self {
            Self::Downloading { current, total } | Self::Pushing { current, total } => {
                Some((*current, *total))
            }
            _ => None,
        }
    }
}

impl fmt::Display for ProgressStatus {
    /// The `"status"` text of Docker's message.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::PullingFsLayer => f.write_str("Pulling fs layer"),
            Self::Waiting => f.write_str("Waiting"),
            Self::Downloading { .. } => f.write_str("Downloading"),
            Self::VerifyingChecksum => f.write_str("Verifying Checksum"),
            Self::DownloadComplete => f.write_str("Download complete"),
            Self::Extracting => f.write_str("Extracting"),
            Self::PullComplete => f.write_str("Pull complete"),
            Self::AlreadyExists => f.write_str("Already exists"),
            Self::Preparing => f.write_str("Preparing"),
            Self::Pushing { .. } => f.write_str("Pushing"),
            Self::Pushed => f.write_str("Pushed"),
            Self::LayerAlreadyExists => f.write_str("Layer already exists"),
            Self::MountedFrom { repository } => write!(f, "Mounted from {repository}"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn statuses_read_as_docker_messages() {
        let id = Digest::of(b"layer");
        let progress = Progress {
            id: id.clone(),
            status: ProgressStatus::MountedFrom {
                repository: "library/busybox".into(),
            },
        };
        assert_eq!(progress.short_id(), &id.hex()[..12]);
        assert_eq!(progress.status.to_string(), "Mounted from library/busybox");
        let downloading = ProgressStatus::Downloading {
            current: 1,
            total: 2,
        };
        assert_eq!(downloading.detail(), Some((1, 2)));
        assert_eq!(ProgressStatus::AlreadyExists.detail(), None);
        assert_eq!(
            ProgressStatus::VerifyingChecksum.to_string(),
            "Verifying Checksum"
        );
        assert_eq!(
            ProgressStatus::LayerAlreadyExists.to_string(),
            "Layer already exists"
        );
    }
}
