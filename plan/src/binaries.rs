//! Executables from the offline bundle, by file name, as bytes: the one type every concern
//! crate installs release binaries from (etcd's, flannel's).

use crate::Content;
use std::collections::BTreeMap;

/// Executables by file name (`etcd`, `etcdctl`, `flanneld`, `mk-docker-opts.sh`) with their
/// bytes. Reading them from the bundle is the shell's job; a planner asks for the names it
/// installs ([`Binaries::require`]). `Debug` prints names and sizes, never the bytes (an
/// `assert_eq!` failure on two plans' inputs would otherwise print megabytes).
#[derive(Clone, Default, PartialEq, Eq)]
pub struct Binaries {
    files: BTreeMap<String, Content>,
}

impl Binaries {
    /// No binaries.
    pub fn new() -> Self {
        Self::default()
    }

    /// `self` with `name` holding `bytes` (replacing an earlier one of that name).
    pub fn with(mut self, name: impl Into<String>, bytes: impl Into<Content>) -> Self {
        self.insert(name, bytes);
        self
    }

    /// Adds (or replaces) the binary `name`.
    pub fn insert(&mut self, name: impl Into<String>, bytes: impl Into<Content>) {
        self.files.insert(name.into(), bytes.into());
    }

    /// The bytes of the binary `name`, if present.
    pub fn get(&self, name: &str) -> Option<&[u8]> {
        self.files.get(name).map(Content::as_bytes)
    }

    /// The binary `name` as shared content (no copy), if present.
    pub fn content(&self, name: &str) -> Option<Content> {
        self.files.get(name).cloned()
    }

    /// The file names present, sorted.
    pub fn names(&self) -> impl Iterator<Item = &str> {
        self.files.keys().map(String::as_str)
    }

    /// Every name of `names` that is missing (all of them, not the first), or `Ok` when
    /// every one is present.
    pub fn require(&self, names: &[&str]) -> Result<(), Vec<String>> {
        let missing: Vec<String> = names
            .iter()
            .filter(|n| !self.files.contains_key(**n))
            .map(|n| n.to_string())
            .collect();
        if missing.is_empty() {
            Ok(())
        } else {
            Err(missing)
        }
    }
}

impl<N: Into<String>, B: Into<Content>> FromIterator<(N, B)> for Binaries {
    fn from_iter<I: IntoIterator<Item = (N, B)>>(iter: I) -> Self {
        let mut b = Self::new();
        for (name, bytes) in iter {
            b.insert(name, bytes);
        }
        b
    }
}

impl std::fmt::Debug for Binaries {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        struct Size(usize);
        impl std::fmt::Debug for Size {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                write!(f, "<{} bytes>", self.0)
            }
        }
        f.debug_map()
            .entries(self.files.iter().map(|(n, b)| (n, Size(b.len()))))
            .finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn debug_prints_names_and_sizes_never_bytes() {
        let b = Binaries::new()
            .with("etcd", b"ELF-SECRET-BYTES".to_vec())
            .with("etcdctl", vec![0u8; 3]);
        let printed = format!("{b:?}");
        assert_eq!(printed, r#"{"etcd": <16 bytes>, "etcdctl": <3 bytes>}"#);
        assert!(!printed.contains("SECRET"));
    }

    #[test]
    fn require_names_every_missing_binary() {
        let b: Binaries = [("etcd", b"x".to_vec())].into_iter().collect();
        assert_eq!(b.require(&["etcd"]), Ok(()));
        assert_eq!(
            b.require(&["etcdctl", "etcd", "flanneld"]),
            Err(vec!["etcdctl".to_string(), "flanneld".to_string()])
        );
        assert_eq!(b.get("etcd"), Some(&b"x"[..]));
        assert_eq!(b.names().collect::<Vec<_>>(), ["etcd"]);
    }
}
