//! Platforms as image indexes name them (`linux/arm64/v8`) and how an index entry is chosen.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

use crate::client::error::{Error, Result};

/// An `os/architecture[/variant]` triple, in Go's names (`amd64`, `arm64`, `arm`+`v7`).
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct Platform {
    pub os: String,
    pub architecture: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub variant: Option<String>,
}

impl Platform {
    pub fn new(os: &str, architecture: &str, variant: Option<&str>) -> Self {
        Self {
            os: os.to_owned(),
            architecture: architecture.to_owned(),
            variant: variant.map(str::to_owned),
        }
        .normalized()
    }

    /// The platform of this machine, as Docker picks from an index by default.
    pub fn host() -> Self {
        let (architecture, variant) = match std::env::consts::ARCH {
            "x86_64" => ("amd64", None),
            "aarch64" => ("arm64", None),
            "arm" => ("arm", Some("v7")),
            "x86" => ("386", None),
            "powerpc64" if cfg!(target_endian = "little") => ("ppc64le", None),
            "loongarch64" => ("loong64", None),
            other => (other, None), // s390x, riscv64, mips64 are spelled the same
        };
        Self::new("linux", architecture, variant)
    }

    /// How well an index entry for `candidate` serves this platform: `None` if it cannot run
    /// here, else lower is better (an exact variant before an older compatible one).
    pub(crate) fn rank(&self, candidate: &Platform) -> Option<usize> {
        let candidate = candidate.clone().normalized();
        if candidate.os != self.os || candidate.architecture != self.architecture {
            return None;
        }
        match (&self.variant, &candidate.variant) {
            (None, None) => Some(0),
            (None, Some(_)) => Some(1),
            (Some(_), None) => Some(ARM_VARIANTS.len()),
            (Some(want), Some(have)) if want == have => Some(0),
            // An armv7 machine also runs v6 and v5 images, in that order of preference.
            (Some(want), Some(have)) if self.architecture == "arm" => {
                let position = |v: &str| ARM_VARIANTS.iter().position(|x| *x == v);
                let (want, have) = (position(want)?, position(have)?);
                want.checked_sub(have).filter(|d| *d > 0)
            }
            _ => None,
        }
    }

    /// Docker's spellings: `x86_64` is `amd64`, `aarch64` is `arm64` whose `v8` is implied.
    fn normalized(mut self) -> Self {
        self.os = self.os.to_ascii_lowercase();
        let arch = self.architecture.to_ascii_lowercase();
        let (arch, implied_variant) = match arch.as_str() {
            "x86_64" | "x86-64" => ("amd64", None),
            "aarch64" => ("arm64", None),
            "armhf" => ("arm", Some("v7")),
            "armel" => ("arm", Some("v6")),
            "i386" => ("386", None),
            other => (other, None),
        };
        self.architecture = arch.to_owned();
        if self.variant.is_none() {
            self.variant = implied_variant.map(str::to_owned);
        }
        if self.architecture == "arm64" && self.variant.as_deref() == Some("v8") {
            self.variant = None;
        }
        self
    }
}

const ARM_VARIANTS: [&str; 4] = ["v5", "v6", "v7", "v8"];

impl fmt::Display for Platform {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.os, self.architecture)?;
        match &self.variant {
            Some(variant) => write!(f, "/{variant}"),
            None => Ok(()),
        }
    }
}

impl FromStr for Platform {
    type Err = Error;

    /// `os/arch[/variant]` as `--platform` takes it.
    fn from_str(s: &str) -> Result<Self> {
        let invalid = |reason| Error::InvalidPlatform {
            platform: s.to_owned(),
            reason,
        };
        let parts: Vec<&str> = s.split('/').collect();
        if parts.iter().any(|p| p.is_empty()) {
            return Err(invalid("expected os/arch[/variant]"));
        }
        match parts[..] {
            [os, arch] => Ok(Self::new(os, arch, None)),
            [os, arch, variant] => Ok(Self::new(os, arch, Some(variant))),
            _ => Err(invalid("expected os/arch[/variant]")),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn p(s: &str) -> Platform {
        s.parse().unwrap()
    }

    #[test]
    fn parses_and_normalizes() {
        assert_eq!(p("linux/amd64").to_string(), "linux/amd64");
        assert_eq!(p("Linux/x86_64").to_string(), "linux/amd64");
        assert_eq!(p("linux/arm64/v8").to_string(), "linux/arm64");
        assert_eq!(p("linux/armhf").to_string(), "linux/arm/v7");
        assert_eq!(p("linux/arm/v6").variant.as_deref(), Some("v6"));
        for bad in ["linux", "linux/", "/amd64", "a/b/c/d"] {
            assert!(bad.parse::<Platform>().is_err(), "{bad}");
        }
        let host = Platform::host();
        assert_eq!(host.os, "linux");
        assert!(!host.architecture.is_empty());
    }

    #[test]
    fn ranks_index_entries() {
        let amd64 = p("linux/amd64");
        assert_eq!(amd64.rank(&p("linux/amd64")), Some(0));
        assert_eq!(amd64.rank(&p("linux/amd64/v3")), Some(1));
        assert_eq!(amd64.rank(&p("linux/arm64")), None);
        assert_eq!(amd64.rank(&p("windows/amd64")), None);
        let unknown = Platform::new("unknown", "unknown", None);
        assert_eq!(amd64.rank(&unknown), None);
        let arm64 = p("linux/arm64");
        assert_eq!(
            arm64.rank(&Platform::new("linux", "arm64", Some("v8"))),
            Some(0)
        );
        let armv7 = p("linux/arm/v7");
        assert_eq!(armv7.rank(&p("linux/arm/v7")), Some(0));
        assert_eq!(armv7.rank(&p("linux/arm/v6")), Some(1));
        assert_eq!(armv7.rank(&p("linux/arm/v5")), Some(2));
        assert_eq!(p("linux/arm/v6").rank(&p("linux/arm/v7")), None);
    }
}
