//! Pure naming and addressing: lab names, bridge names, subnets, host names and addresses.
//!
//! Everything here is a function of its arguments, so several labs can be planned (and
//! tested) without touching the machine.

use crate::error::{Error, Result};
use sha2::{Digest, Sha256};
use std::net::Ipv4Addr;

/// The longest lab name: it names a directory, a bridge (shortened) and the cluster.
pub const MAX_NAME_LEN: usize = 40;
/// The most hosts one lab holds (addresses `.11` to `.11 + MAX_HOSTS - 1`).
pub const MAX_HOSTS: usize = 200;
/// The first octets of every lab subnet: lab `i` uses `10.213.i.0/24`.
pub const SUBNET_BASE: [u8; 2] = [10, 213];
/// The last octet of the first host's address.
pub const FIRST_HOST_OCTET: u8 = 11;
/// The Linux limit on interface names (IFNAMSIZ - 1).
pub const IFNAME_MAX: usize = 15;

/// Checks that `name` is a usable lab name: an RFC 1123 label of at most [`MAX_NAME_LEN`].
pub fn check_name(name: &str) -> Result<()> {
    let bad = |reason: &str| {
        Err(Error::BadName {
            name: name.to_string(),
            reason: reason.to_string(),
        })
    };
    if name.is_empty() || name.len() > MAX_NAME_LEN {
        return bad(&format!("must be 1 to {MAX_NAME_LEN} characters"));
    }
    if !name
        .bytes()
        .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
    {
        return bad("only lower-case letters, digits and '-' are allowed");
    }
    if name.starts_with('-') || name.ends_with('-') {
        return bad("must not start or end with '-'");
    }
    Ok(())
}

/// Checks a host count against [`MAX_HOSTS`].
pub fn check_hosts(hosts: usize) -> Result<()> {
    if hosts == 0 || hosts > MAX_HOSTS {
        return Err(Error::BadHostCount {
            hosts,
            max: MAX_HOSTS,
        });
    }
    Ok(())
}

fn digest(name: &str) -> [u8; 32] {
    Sha256::digest(name.as_bytes()).into()
}

/// The bridge of lab `name`: `kl-` + up to 7 characters of the name + `-` + 4 hex digits of
/// its hash, at most 15 characters, so two labs never share one by accident.
pub fn bridge_name(name: &str) -> String {
    let short: String = name.chars().filter(|c| *c != '-').take(7).collect();
    let h = hex::encode(&digest(name)[..2]);
    format!("kl-{short}-{h}")
}

/// The subnet index (third octet) lab `name` prefers; the allocator probes upwards from it.
pub fn preferred_subnet(name: &str) -> u8 {
    // 1..=250: 0 and the top are left alone.
    (u16::from(digest(name)[0]) * 250 / 256 + 1) as u8
}

/// Picks the first free subnet index at or after the preferred one (wrapping), given the
/// indices in use by other labs.
pub fn pick_subnet(name: &str, used: &[u8]) -> Option<u8> {
    let start = preferred_subnet(name);
    (0..250u16)
        .map(|k| ((u16::from(start) - 1 + k) % 250 + 1) as u8)
        .find(|i| !used.contains(i))
}

/// The gateway (the outer machine's address on the bridge) of subnet `index`.
pub fn gateway(index: u8) -> Ipv4Addr {
    Ipv4Addr::new(SUBNET_BASE[0], SUBNET_BASE[1], index, 1)
}

/// The address of host number `i` (0-based) in subnet `index`.
pub fn host_address(index: u8, i: usize) -> Ipv4Addr {
    let last = usize::from(FIRST_HOST_OCTET) + i;
    Ipv4Addr::new(
        SUBNET_BASE[0],
        SUBNET_BASE[1],
        index,
        u8::try_from(last).unwrap_or(u8::MAX),
    )
}

/// The subnet `10.213.index.0/24` as text.
pub fn subnet_cidr(index: u8) -> String {
    format!("{}.{}.{index}.0/24", SUBNET_BASE[0], SUBNET_BASE[1])
}

/// The host name of host number `i` in the guides' topology: `k8s-master1`, then
/// `k8s-node1`, `k8s-node2`, ...
pub fn host_name(i: usize) -> String {
    if i == 0 {
        "k8s-master1".to_string()
    } else {
        format!("k8s-node{i}")
    }
}

/// The nspawn machine name of host `i` in subnet `index`: short and unique among live labs,
/// because nspawn names the outer end of the machine's link `vb-<machine>`.
pub fn machine_name(index: u8, i: usize) -> String {
    format!("l{index}m{}", i + 1)
}

/// The outer end of the machine's veth link, as systemd-nspawn names it.
pub fn veth_name(machine: &str) -> String {
    let mut v = format!("vb-{machine}");
    v.truncate(IFNAME_MAX);
    v
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[track_caller]
    fn check_bad(name: &str) {
        assert!(
            matches!(check_name(name), Err(Error::BadName { .. })),
            "{name:?}"
        );
    }

    #[test]
    fn names() {
        check_name("smoke").unwrap();
        check_name("lab-smoke-2").unwrap();
        for bad in ["", "-a", "a-", "A", "a_b", "a.b", &"x".repeat(41)] {
            check_bad(bad);
        }
    }

    #[test]
    fn host_counts() {
        check_hosts(1).unwrap();
        check_hosts(MAX_HOSTS).unwrap();
        assert!(check_hosts(0).is_err());
        assert!(check_hosts(MAX_HOSTS + 1).is_err());
    }

    #[test]
    fn the_guides_names_and_addresses() {
        assert_eq!(host_name(0), "k8s-master1");
        assert_eq!(host_name(2), "k8s-node2");
        assert_eq!(host_address(7, 0).to_string(), "10.213.7.11");
        assert_eq!(host_address(7, 11).to_string(), "10.213.7.22");
        assert_eq!(gateway(7).to_string(), "10.213.7.1");
        assert_eq!(subnet_cidr(7), "10.213.7.0/24");
        assert_eq!(veth_name(&machine_name(250, 199)), "vb-l250m200");
    }

    proptest! {
        #[test]
        fn bridges_fit_and_differ(a in "[a-z0-9]([a-z0-9-]{0,38}[a-z0-9])?", b in "[a-z0-9]{1,40}") {
            prop_assert!(bridge_name(&a).len() <= IFNAME_MAX);
            if a != b {
                prop_assume!(digest(&a)[..2] != digest(&b)[..2]);
                prop_assert_ne!(bridge_name(&a), bridge_name(&b));
            }
        }

        #[test]
        fn picked_subnets_are_free_and_in_range(name in "[a-z]{1,10}", used in proptest::collection::vec(1u8..=250, 0..249)) {
            let i = pick_subnet(&name, &used).unwrap();
            prop_assert!((1..=250).contains(&i));
            prop_assert!(!used.contains(&i));
        }

        #[test]
        fn machine_links_fit(index in 1u8..=250, i in 0usize..MAX_HOSTS) {
            let m = machine_name(index, i);
            prop_assert_eq!(veth_name(&m), format!("vb-{m}"));
        }
    }

    #[test]
    fn a_full_range_has_no_subnet() {
        let all: Vec<u8> = (1..=250).collect();
        assert_eq!(pick_subnet("x", &all), None);
    }
}
