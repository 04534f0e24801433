//! known_hosts lines as OpenSSH writes them (pure: names, keys and salt in, text out).
//!
//! New keys are recorded hashed (`HashKnownHosts yes`, Debian's default): the line names
//! the host only as `|1|base64(salt)|base64(HMAC-SHA1(salt, name))`, so a stolen
//! known_hosts file does not list the cluster's addresses. libssh2 and OpenSSH read both
//! hashed and plain lines.

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use ring::hmac;

/// The known_hosts name of a host: `addr` on port 22, `[addr]:port` otherwise.
pub fn host_name(address: &str, port: u16) -> String {
    if port == 22 {
        address.to_string()
    } else {
        format!("[{address}]:{port}")
    }
}

/// `name` hashed with `salt` as OpenSSH's `HashKnownHosts` does (SHA-1 HMAC, 20-byte salt).
pub fn hashed_name(name: &str, salt: &[u8; 20]) -> String {
    let key = hmac::Key::new(hmac::HMAC_SHA1_FOR_LEGACY_USE_ONLY, salt);
    let tag = hmac::sign(&key, name.as_bytes());
    format!(
        "|1|{}|{}",
        STANDARD.encode(salt),
        STANDARD.encode(tag.as_ref())
    )
}

/// One hashed known_hosts line, newline included: `key_type` is the SSH name of the key's
/// type (`ssh-ed25519`, …) and `key` the key blob the server sent.
pub fn hashed_line(name: &str, salt: &[u8; 20], key_type: &str, key: &[u8]) -> String {
    format!(
        "{} {key_type} {}\n",
        hashed_name(name, salt),
        STANDARD.encode(key)
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_carry_the_port_only_when_it_is_not_22() {
        assert_eq!(host_name("10.0.0.1", 22), "10.0.0.1");
        assert_eq!(host_name("127.0.0.1", 2222), "[127.0.0.1]:2222");
    }

    #[test]
    fn hashing_matches_openssh() {
        // What `ssh-keygen -H` (OpenSSH 9.2) wrote for a plain "192.168.31.63" line.
        let salt: [u8; 20] = STANDARD
            .decode("XOjIEQfKkJ0l5l0pxJXR2CLKHZo=")
            .unwrap()
            .try_into()
            .unwrap();
        assert_eq!(
            hashed_name("192.168.31.63", &salt),
            "|1|XOjIEQfKkJ0l5l0pxJXR2CLKHZo=|ki0cN9IEQrQkf7SewQIY+9H9Wl0="
        );
    }

    #[test]
    fn lines_hold_the_type_and_the_key() {
        let line = hashed_line("h", &[7; 20], "ssh-ed25519", b"foobar");
        assert!(
            line.starts_with("|1|BwcHBwcHBwcHBwcHBwcHBwcHBwc=|"),
            "{line}"
        );
        assert!(line.ends_with(" ssh-ed25519 Zm9vYmFy\n"), "{line}");
    }
}
