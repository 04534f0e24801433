//! Release versions as the inventory names them (`1.20.2`, `v0.10.0`).

use std::fmt;
use std::str::FromStr;

/// A `major.minor.patch` release version; a leading `v` is accepted and dropped.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Version {
    /// Major version.
    pub major: u32,
    /// Minor version.
    pub minor: u32,
    /// Patch version (0 when the inventory names only `major.minor`).
    pub patch: u32,
}

impl Version {
    /// A version from its parts.
    pub const fn new(major: u32, minor: u32, patch: u32) -> Self {
        Self {
            major,
            minor,
            patch,
        }
    }
}

impl fmt::Display for Version {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}.{}.{}", self.major, self.minor, self.patch)
    }
}

impl FromStr for Version {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let bare = s.trim().strip_prefix('v').unwrap_or(s.trim());
        let parts: Vec<&str> = bare.split('.').collect();
        if !(2..=3).contains(&parts.len()) {
            return Err(format!("{s:?} is not a version of the form 1.20.2"));
        }
        let num = |p: &str| {
            p.parse::<u32>()
                .map_err(|_| format!("{s:?} is not a version of the form 1.20.2"))
        };
        Ok(Self {
            major: num(parts[0])?,
            minor: num(parts[1])?,
            patch: parts.get(2).map(|p| num(p)).transpose()?.unwrap_or(0),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_with_and_without_v() {
        assert_eq!("v1.20.2".parse::<Version>(), Ok(Version::new(1, 20, 2)));
        assert_eq!("0.10".parse::<Version>(), Ok(Version::new(0, 10, 0)));
        assert!("1".parse::<Version>().is_err());
        assert!("1.x.2".parse::<Version>().is_err());
    }
}
