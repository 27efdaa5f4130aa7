//! `process.rlimits`, lowered to what the host allows: raising a hard limit needs
//! `CAP_SYS_RESOURCE`, which the caller may not have (Docker asks for `nofile=1048576`; a host
//! may cap it lower). A container gets the most it can rather than failing to start.

use oci_spec::runtime::{PosixRlimit, PosixRlimitType};
use rustix::process::{Resource, Rlimit};

use crate::error::SetupError;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct RlimitRequest {
    pub resource: Resource,
    pub limit: Rlimit,
}

pub(crate) fn from_spec(rlimits: &[PosixRlimit]) -> Vec<RlimitRequest> {
    rlimits
        .iter()
        .map(|r| RlimitRequest {
            resource: resource(r.typ()),
            limit: Rlimit {
                current: finite(r.soft()),
                maximum: finite(r.hard()),
            },
        })
        .collect()
}

/// Sets each limit; one the kernel refuses is lowered to the current hard limit and set again.
pub(crate) fn apply(requests: &[RlimitRequest]) -> Result<(), SetupError> {
    for request in requests {
        let first = rustix::process::setrlimit(request.resource, request.limit);
        if first.is_ok() {
            continue;
        }
        let current = rustix::process::getrlimit(request.resource);
        let lowered = clamp(&request.limit, &current);
        rustix::process::setrlimit(request.resource, lowered)
            .map_err(|e| SetupError::sys("setrlimit", e))?;
    }
    Ok(())
}

/// `requested` with its hard limit no higher than `current`'s, and its soft limit no higher
/// than that. `None` is unlimited.
pub(crate) fn clamp(requested: &Rlimit, current: &Rlimit) -> Rlimit {
    let maximum = min(requested.maximum, current.maximum);
    Rlimit {
        current: min(requested.current, maximum),
        maximum,
    }
}

fn min(a: Option<u64>, b: Option<u64>) -> Option<u64> {
    match (a, b) {
        (Some(a), Some(b)) => Some(a.min(b)),
        (a, None) => a,
        (None, b) => b,
    }
}

fn finite(value: u64) -> Option<u64> {
    (value != u64::MAX).then_some(value)
}

fn resource(typ: PosixRlimitType) -> Resource {
    match typ {
        PosixRlimitType::RlimitCpu => Resource::Cpu,
        PosixRlimitType::RlimitFsize => Resource::Fsize,
        PosixRlimitType::RlimitData => Resource::Data,
        PosixRlimitType::RlimitStack => Resource::Stack,
        PosixRlimitType::RlimitCore => Resource::Core,
        PosixRlimitType::RlimitRss => Resource::Rss,
        PosixRlimitType::RlimitNproc => Resource::Nproc,
        PosixRlimitType::RlimitNofile => Resource::Nofile,
        PosixRlimitType::RlimitMemlock => Resource::Memlock,
        PosixRlimitType::RlimitAs => Resource::As,
        PosixRlimitType::RlimitLocks => Resource::Locks,
        PosixRlimitType::RlimitSigpending => Resource::Sigpending,
        PosixRlimitType::RlimitMsgqueue => Resource::Msgqueue,
        PosixRlimitType::RlimitNice => Resource::Nice,
        PosixRlimitType::RlimitRtprio => Resource::Rtprio,
        PosixRlimitType::RlimitRttime => Resource::Rttime,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn limit(soft: Option<u64>, hard: Option<u64>) -> Rlimit {
        Rlimit {
            current: soft,
            maximum: hard,
        }
    }

    #[test]
    fn a_hard_limit_above_the_hosts_is_lowered_to_it() {
        let host = limit(Some(1024), Some(20000));
        assert_eq!(
            clamp(&limit(Some(1048576), Some(1048576)), &host),
            limit(Some(20000), Some(20000))
        );
        assert_eq!(
            clamp(&limit(Some(1024), Some(1048576)), &host),
            limit(Some(1024), Some(20000))
        );
        assert_eq!(
            clamp(&limit(None, None), &host),
            limit(Some(20000), Some(20000))
        );
    }

    #[test]
    fn limits_within_the_hosts_are_kept() {
        assert_eq!(
            clamp(&limit(Some(10), Some(100)), &limit(Some(1), None)),
            limit(Some(10), Some(100))
        );
        assert_eq!(
            clamp(&limit(None, None), &limit(None, None)),
            limit(None, None)
        );
    }

    #[test]
    fn spec_infinity_is_unlimited() {
        let nofile = oci_spec::runtime::PosixRlimitBuilder::default()
            .typ(PosixRlimitType::RlimitNofile)
            .soft(u64::MAX)
            .hard(u64::MAX)
            .build()
            .unwrap();
        let requests = from_spec(&[nofile]);
        assert_eq!(requests[0].resource, Resource::Nofile);
        assert_eq!(requests[0].limit, limit(None, None));
    }
}
