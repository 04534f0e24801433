//! flannel's subnet leases: keys `<prefix>/subnets/10.244.1.0-24` with the node's attributes.

use ipnet::Ipv4Net;
use serde::{Deserialize, Serialize};
use std::net::Ipv4Addr;

/// What flanneld stores in a lease (`subnet.LeaseAttrs`).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct LeaseAttrs {
    /// The node's address other nodes reach it at.
    #[serde(rename = "PublicIP", default, skip_serializing_if = "Option::is_none")]
    pub public_ip: Option<Ipv4Addr>,
    /// The backend that took the lease.
    #[serde(
        rename = "BackendType",
        default,
        skip_serializing_if = "Option::is_none"
    )]
    pub backend_type: Option<String>,
    /// Backend data (the VXLAN VTEP's MAC, a WireGuard public key).
    #[serde(
        rename = "BackendData",
        default,
        skip_serializing_if = "Option::is_none"
    )]
    pub backend_data: Option<serde_json::Value>,
}

/// One lease as kubin shows it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Lease {
    /// The leased subnet.
    pub subnet: Ipv4Net,
    /// The node's attributes, when the value parses.
    pub attrs: Option<LeaseAttrs>,
    /// Seconds until the lease expires, when etcd reports it.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub ttl: Option<i64>,
    /// Whether the subnet lies inside the configured network.
    pub in_network: bool,
}

/// The subnet a lease key names: `.../subnets/10.244.1.0-24` is `10.244.1.0/24`.
pub fn subnet_of_key(key: &str) -> Option<Ipv4Net> {
    let last = key.rsplit('/').next()?;
    let (addr, len) = last.split_once('-')?;
    Ipv4Net::new(addr.parse().ok()?, len.parse().ok()?).ok()
}

/// Builds the lease list from raw `(key, value, ttl)` entries, sorted by subnet; keys that
/// do not name a subnet are skipped.
pub fn leases(entries: &[(String, String, Option<i64>)], network: Option<Ipv4Net>) -> Vec<Lease> {
    let mut out: Vec<Lease> = entries
        .iter()
        .filter_map(|(key, value, ttl)| {
            let subnet = subnet_of_key(key)?;
            Some(Lease {
                subnet,
                attrs: serde_json::from_str(value).ok(),
                ttl: *ttl,
                in_network: network.is_some_and(|n| n.contains(&subnet)),
            })
        })
        .collect();
    out.sort_by_key(|l| l.subnet);
    out
}

/// A table of leases for the terminal.
pub fn render_table(leases: &[Lease]) -> String {
    let mut s = String::from("SUBNET              PUBLIC IP        BACKEND    TTL\n");
    for l in leases {
        let attrs = l.attrs.clone().unwrap_or_default();
        let ip = attrs
            .public_ip
            .map(|a| a.to_string())
            .unwrap_or_else(|| "-".into());
        let ttl = l.ttl.map(|t| format!("{t}s")).unwrap_or_else(|| "-".into());
        let note = if l.in_network {
            ""
        } else {
            "  (outside Network)"
        };
        s.push_str(&format!(
            "{:<19} {:<16} {:<10} {}{}\n",
            l.subnet.to_string(),
            ip,
            attrs.backend_type.as_deref().unwrap_or("-"),
            ttl,
            note
        ));
    }
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lease_keys_and_values_parse() {
        assert_eq!(
            subnet_of_key("/coreos.com/network/subnets/172.17.23.0-24"),
            Some("172.17.23.0/24".parse().unwrap())
        );
        assert_eq!(subnet_of_key("/coreos.com/network/subnets/garbage"), None);
        let entries = vec![
            (
                "/coreos.com/network/subnets/172.17.9.0-24".to_string(),
                r#"{"PublicIP":"192.168.31.65","BackendType":"vxlan","BackendData":{"VtepMAC":"aa:bb:cc:dd:ee:ff"}}"#.to_string(),
                Some(86000),
            ),
            ("/coreos.com/network/subnets/10.9.0.0-24".to_string(), "{}".to_string(), None),
        ];
        let l = leases(&entries, Some("172.17.0.0/16".parse().unwrap()));
        assert_eq!(l[0].subnet.to_string(), "10.9.0.0/24");
        assert!(!l[0].in_network);
        assert_eq!(
            l[1].attrs.as_ref().unwrap().public_ip,
            Some("192.168.31.65".parse().unwrap())
        );
        insta::assert_snapshot!(render_table(&l));
    }
}
