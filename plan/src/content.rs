//! A file's content as shared bytes with its sha256 computed at most once.

use sha2::{Digest, Sha256};
use std::sync::{Arc, OnceLock};

/// A file's bytes, shared: cloning one is a pointer copy, so the same bundle binary in
/// every host's plan is one allocation, and its sha256 (which the executor compares with
/// the host's) is computed once however many hosts and phases install it. Compares and
/// dereferences as its bytes; `Debug` prints the size only.
#[derive(Clone, Default)]
pub struct Content(Arc<Inner>);

#[derive(Default)]
struct Inner {
    bytes: Vec<u8>,
    sha256: OnceLock<String>,
}

impl Content {
    /// The bytes.
    pub fn as_bytes(&self) -> &[u8] {
        &self.0.bytes
    }

    /// Content whose hex sha256 the caller already has, because it hashed these very
    /// bytes (a file unchanged since this process hashed it). A wrong digest would make
    /// the executor take a host's file for this content: only pass one computed from the
    /// same bytes.
    pub fn with_sha256(bytes: Vec<u8>, sha256: String) -> Self {
        Self(Arc::new(Inner {
            bytes,
            sha256: OnceLock::from(sha256),
        }))
    }

    /// The hex sha256 of the bytes, computed on the first call.
    pub fn sha256_hex(&self) -> &str {
        self.0
            .sha256
            .get_or_init(|| hex::encode(Sha256::digest(&self.0.bytes)))
    }
}

impl std::ops::Deref for Content {
    type Target = [u8];
    fn deref(&self) -> &[u8] {
        &self.0.bytes
    }
}

impl AsRef<[u8]> for Content {
    fn as_ref(&self) -> &[u8] {
        &self.0.bytes
    }
}

impl PartialEq for Content {
    fn eq(&self, other: &Self) -> bool {
        Arc::ptr_eq(&self.0, &other.0) || self.0.bytes == other.0.bytes
    }
}

impl Eq for Content {}

impl std::fmt::Debug for Content {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "<{} bytes>", self.0.bytes.len())
    }
}

impl From<Vec<u8>> for Content {
    fn from(bytes: Vec<u8>) -> Self {
        Self(Arc::new(Inner {
            bytes,
            sha256: OnceLock::new(),
        }))
    }
}

impl From<&[u8]> for Content {
    fn from(b: &[u8]) -> Self {
        b.to_vec().into()
    }
}

impl<const N: usize> From<&[u8; N]> for Content {
    fn from(b: &[u8; N]) -> Self {
        b.to_vec().into()
    }
}

impl From<&Vec<u8>> for Content {
    fn from(b: &Vec<u8>) -> Self {
        b.clone().into()
    }
}

impl From<String> for Content {
    fn from(s: String) -> Self {
        s.into_bytes().into()
    }
}

impl From<&String> for Content {
    fn from(s: &String) -> Self {
        s.as_bytes().into()
    }
}

impl From<&str> for Content {
    fn from(s: &str) -> Self {
        s.as_bytes().into()
    }
}

impl From<&Content> for Content {
    fn from(c: &Content) -> Self {
        c.clone()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn clones_share_the_bytes_and_the_digest() {
        let a = Content::from("test");
        let b = a.clone();
        assert_eq!(
            a.sha256_hex(),
            "9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08"
        );
        assert!(std::ptr::eq(a.sha256_hex(), b.sha256_hex()));
        assert_eq!(a, Content::from(b"test".to_vec()));
        assert_ne!(a, Content::from("other"));
        assert_eq!(format!("{a:?}"), "<4 bytes>");
        assert_eq!(&*a, b"test");
    }
}
