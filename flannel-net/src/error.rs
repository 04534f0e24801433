//! The crate's one error type, and the problems validation reports.

use ipnet::{Ipv4Net, Ipv6Net};
use std::net::{IpAddr, Ipv4Addr};

/// One thing wrong with a flannel network config, as flannel would reject it or as it
/// would break the cluster even though flannel accepts it.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum Problem {
    /// IPv4 is enabled (flannel's default) but `Network` is missing.
    #[error("Network is missing: flannel needs the pod network (\"Network\": \"10.244.0.0/16\")")]
    NoNetwork,
    /// `Network` has host bits set; flannel silently uses the masked network.
    #[error("Network {network} has host bits set: flannel would use {masked}; write that instead")]
    NetworkHostBits {
        /// As written.
        network: Ipv4Net,
        /// What flannel reads.
        masked: Ipv4Net,
    },
    /// `SubnetLen` longer than /30 leaves no room for a bridge and a tunnel address.
    #[error("SubnetLen {len} must be at most 30 (flannel: \"SubnetLen must be less than /31\")")]
    SubnetLenTooLong {
        /// The length.
        len: u8,
    },
    /// `SubnetLen` does not split `Network` into at least four subnets.
    #[error(
        "SubnetLen {len} must be at least {min} for Network {network} (flannel: \"network must be able to accommodate at least four subnets\")"
    )]
    SubnetLenTooShort {
        /// The length.
        len: u8,
        /// The shortest flannel accepts (the network's prefix + 2).
        min: u8,
        /// The network.
        network: Ipv4Net,
    },
    /// Without `SubnetLen`, a network smaller than /28 is refused.
    #[error("Network {network} is too small: flannel needs at least a /28")]
    NetworkTooSmall {
        /// The network.
        network: Ipv4Net,
    },
    /// `SubnetMin` or `SubnetMax` lies outside `Network`.
    #[error("{field} {addr} is not in Network {network}")]
    BoundOutside {
        /// `SubnetMin` or `SubnetMax`.
        field: &'static str,
        /// The address.
        addr: Ipv4Addr,
        /// The network.
        network: Ipv4Net,
    },
    /// `SubnetMin` or `SubnetMax` is not on a subnet boundary.
    #[error("{field} {addr} is not on a /{len} boundary")]
    BoundUnaligned {
        /// `SubnetMin` or `SubnetMax`.
        field: &'static str,
        /// The address.
        addr: Ipv4Addr,
        /// The subnet length.
        len: u8,
    },
    /// `SubnetMin` is above `SubnetMax`: no subnet can be leased.
    #[error("SubnetMin {min} is above SubnetMax {max}: no subnet can be leased")]
    MinAboveMax {
        /// SubnetMin.
        min: Ipv4Addr,
        /// SubnetMax.
        max: Ipv4Addr,
    },
    /// IPv6 is enabled but `IPv6Network` is missing.
    #[error("EnableIPv6 is true but IPv6Network is missing")]
    NoIpv6Network,
    /// `IPv6SubnetLen` is out of flannel's range for `IPv6Network`.
    #[error("IPv6SubnetLen {len} must be between {min} and 126 for IPv6Network {network}")]
    Ipv6SubnetLen {
        /// The length.
        len: u8,
        /// The shortest flannel accepts.
        min: u8,
        /// The network.
        network: Ipv6Net,
    },
    /// Neither IPv4 nor IPv6 is enabled.
    #[error("EnableIPv4 and EnableIPv6 are both false: flannel would configure no network")]
    NoFamily,
    /// The backend type is not one kubin writes.
    #[error("backend type {kind:?} is not one kubin configures (vxlan, host-gw, udp, wireguard)")]
    UnknownBackend {
        /// The type as written.
        kind: String,
    },
    /// The VXLAN VNI is outside 1..2^24.
    #[error("VXLAN VNI {vni} must be between 1 and 16777215")]
    VxlanVni {
        /// The VNI.
        vni: u32,
    },
    /// Fewer subnets can be leased than hosts run flanneld.
    #[error(
        "only {available} /{len} subnet(s) between SubnetMin and SubnetMax, but {needed} hosts run flanneld: use a longer SubnetLen or a larger Network"
    )]
    NotEnoughSubnets {
        /// Subnets flannel can lease.
        available: u64,
        /// Hosts that need one.
        needed: usize,
        /// The subnet length.
        len: u8,
    },
    /// The pod network overlaps the service range.
    #[error("Network {network} overlaps the service range {services}")]
    OverlapsServices {
        /// The pod network.
        network: Ipv4Net,
        /// The service range.
        services: Ipv4Net,
    },
    /// A host's own address lies inside the pod network.
    #[error("host {host}'s address {address} is inside Network {network}")]
    ContainsHost {
        /// The host's inventory name.
        host: String,
        /// Its address.
        address: IpAddr,
        /// The pod network.
        network: Ipv4Net,
    },
}

/// Everything that can go wrong in this crate.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// The config is not one flannel (or the cluster) can use.
    #[error("the flannel network config is invalid:\n  - {}", .problems.iter().map(ToString::to_string).collect::<Vec<_>>().join("\n  - "))]
    Invalid {
        /// Every problem found.
        problems: Vec<Problem>,
    },
    /// The text is not flannel net-conf JSON.
    #[error("{what} is not a flannel network config")]
    Parse {
        /// Where the text came from (a key, a file).
        what: String,
        /// serde_json's error, with line and column.
        #[source]
        source: serde_json::Error,
    },
    /// A config exists at the key and differs from the one to write.
    #[error(
        "{key} already holds a different network config; kubin does not replace it without --replace\n--- current value ---\n{old}\n--- difference (- current, + new) ---\n{diff}"
    )]
    Differs {
        /// The key.
        key: String,
        /// The current value (secrets redacted).
        old: String,
        /// A unified diff of current and new (secrets redacted).
        diff: String,
    },
    /// The etcd member does not serve the v2 API this flannel release reads.
    #[error(
        "{endpoint} does not serve etcd's v2 API ({detail}): flannel {flannel} reads its config only through v2, so etcd must run with --enable-v2 (etcd 3.4 and 3.5; 3.6 removed v2). Redeploy etcd with flannel's version in the inventory so kubin adds --enable-v2, or use flannel 0.18 or later, which reads the v3 key"
    )]
    V2NotEnabled {
        /// The endpoint asked.
        endpoint: String,
        /// What it answered.
        detail: String,
        /// The flannel release in the inventory.
        flannel: String,
    },
    /// An etcd request failed.
    #[error("etcd at {endpoint}: {message}")]
    Etcd {
        /// The endpoint (or the endpoint list).
        endpoint: String,
        /// What failed.
        message: String,
        /// The client's error (etcd-client's for v3, reqwest's or serde_json's for v2), when
        /// there is one.
        #[source]
        source: Option<BoxError>,
    },
    /// The binaries given to the node plan lack some of flannel's.
    #[error("flannel's binaries lack {}: they come from flannel's release tarball in the bundle", .missing.join(" and "))]
    MissingBinaries {
        /// Every missing file name.
        missing: Vec<String>,
    },
    /// No endpoint answered.
    #[error("no etcd endpoint answered:\n  {}", .failures.join("\n  "))]
    NoEndpoint {
        /// One line per endpoint.
        failures: Vec<String>,
    },
    /// Someone changed the key between kubin's read and its write.
    #[error("{key} changed while kubin was writing it; run the command again to see the new value")]
    Raced {
        /// The key.
        key: String,
    },
    /// What was read back after writing is not what was written.
    #[error("{key} read back as {found:?} after writing; expected the config kubin wrote")]
    ReadBack {
        /// The key.
        key: String,
        /// What was read.
        found: Option<String>,
    },
    /// The TLS client cannot be set up: unusable PEM (never shown), or the HTTPS client.
    #[error("cannot set up TLS to etcd")]
    Tls {
        /// `etcd_cluster::Error::Pem` naming the PEM at fault, or reqwest's error.
        #[source]
        source: BoxError,
    },
}

/// A cause of any type, kept for [`std::error::Error::source`].
pub type BoxError = Box<dyn std::error::Error + Send + Sync>;

#[cfg(test)]
mod tests {
    /// The chain as the CLI prints it (`{:#}`): each `source()` level joined by ": ".
    fn chain(e: super::Error) -> String {
        format!("{:#}", anyhow::Error::new(e))
    }

    #[test]
    fn the_parser_cause_is_printed_once() {
        let e = crate::NetConf::parse("{\"Network\": ", "/coreos.com/network/config").unwrap_err();
        let cause = std::error::Error::source(&e)
            .expect("serde_json's error")
            .to_string();
        let printed = chain(e);
        assert_eq!(printed.matches(&cause).count(), 1, "{printed}");
        assert!(
            printed.starts_with("/coreos.com/network/config is not a flannel network config: "),
            "{printed}"
        );
    }
}
