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

/// The version a release directory's name carries after `prefix`, e.g. 3.5.10 in
/// `etcd-v3.5.10-linux-amd64` with prefix `etcd-` (a `v` is accepted, a `-suffix` ignored).
pub fn version_in_name(name: &str, prefix: &str) -> Option<Version> {
    let rest = name.strip_prefix(prefix)?;
    rest.split('-').next()?.parse().ok()
}

/// The newest of release directory names starting with `prefix`, compared as versions
/// (`etcd-v3.5.10` is newer than `etcd-v3.5.9`, which a string sort gets wrong). Names
/// without a readable version lose to every name with one; among themselves the last in
/// string order wins, so the choice never depends on the order of `names`.
pub fn newest_release<'a>(
    names: impl IntoIterator<Item = &'a str>,
    prefix: &str,
) -> Option<&'a str> {
    names
        .into_iter()
        .filter(|n| n.starts_with(prefix))
        .max_by(|a, b| {
            version_in_name(a, prefix)
                .cmp(&version_in_name(b, prefix))
                .then_with(|| a.cmp(b))
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn newest_release_compares_versions_not_strings() {
        let names = [
            "etcd-v3.5.9-linux-amd64",
            "etcd-v3.5.10-linux-amd64",
            "kubernetes",
        ];
        assert_eq!(
            newest_release(names, "etcd-"),
            Some("etcd-v3.5.10-linux-amd64")
        );
        let rev = ["etcd-v3.5.10", "etcd-v3.5.9"];
        assert_eq!(newest_release(rev, "etcd-"), Some("etcd-v3.5.10"));
        assert_eq!(
            newest_release(["etcd-vX", "etcd-v3.4.0"], "etcd-"),
            Some("etcd-v3.4.0")
        );
        assert_eq!(newest_release(["kubernetes"], "etcd-"), None);
        assert_eq!(
            version_in_name("etcd-v3.5.10-linux-amd64", "etcd-"),
            Some(Version::new(3, 5, 10))
        );
    }

    #[test]
    fn parses_with_and_without_v() {
        assert_eq!("v1.20.2".parse::<Version>(), Ok(Version::new(1, 20, 2)));
        assert_eq!("0.10".parse::<Version>(), Ok(Version::new(0, 10, 0)));
        assert!("1".parse::<Version>().is_err());
        assert!("1.x.2".parse::<Version>().is_err());
    }
}
