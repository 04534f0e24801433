//! Validation: flannel's own rules (`CheckNetworkConfig` in `pkg/subnet/config.go`), with
//! its defaults filled in, plus what flannel does not check but a cluster needs.

use crate::error::{Error, Problem};
use crate::netconf::{Backend, NetConf};
use inventory::{Inventory, Role};
use ipnet::Ipv4Net;
use std::net::{IpAddr, Ipv4Addr};

/// The config as flannel uses it, with its defaults applied.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Effective {
    /// The pod network (masked, as flannel reads it).
    pub network: Ipv4Net,
    /// Each node's subnet length.
    pub subnet_len: u8,
    /// The first subnet flannel may lease.
    pub subnet_min: Ipv4Addr,
    /// The last subnet flannel may lease.
    pub subnet_max: Ipv4Addr,
}

impl Effective {
    /// Every subnet flannel may lease, from `SubnetMin` to `SubnetMax`, in order.
    pub fn leasable(&self) -> impl Iterator<Item = Ipv4Net> + '_ {
        let min = self.subnet_min;
        let max = self.subnet_max;
        // subnets() only fails for a length shorter than the network's, which flannel's
        // rules exclude before an Effective exists.
        self.network
            .subnets(self.subnet_len)
            .into_iter()
            .flatten()
            .skip_while(move |s| s.network() < min)
            .take_while(move |s| s.network() <= max)
    }

    /// How many subnets flannel may lease.
    pub fn count(&self) -> u64 {
        let size = 1u64 << (32 - u32::from(self.subnet_len));
        (u64::from(u32::from(self.subnet_max)) - u64::from(u32::from(self.subnet_min))) / size + 1
    }
}

/// flannel's default `SubnetLen` for a network: 24 for /22 and larger networks, else the
/// prefix + 2 (four subnets); `None` below /28, which flannel refuses.
pub fn default_subnet_len(network: Ipv4Net) -> Option<u8> {
    match network.prefix_len() {
        p if p > 28 => None,
        p if p <= 22 => Some(24),
        p => Some(p + 2),
    }
}

/// Applies flannel's own checks and defaults, reporting every problem flannel (or kubin,
/// for the backend) would refuse.
pub fn flannel_rules(conf: &NetConf) -> Result<Effective, Error> {
    let mut problems = Vec::new();
    let effective = rules(conf, &mut problems);
    match effective {
        Some(e) if problems.is_empty() => Ok(e),
        _ => Err(Error::Invalid { problems }),
    }
}

fn rules(conf: &NetConf, problems: &mut Vec<Problem>) -> Option<Effective> {
    backend_rules(conf.backend.as_ref(), problems);
    let ipv4 = conf.enable_ipv4.unwrap_or(true);
    let ipv6 = conf.enable_ipv6.unwrap_or(false);
    if !ipv4 && !ipv6 {
        problems.push(Problem::NoFamily);
    }
    if ipv6 {
        match conf.ipv6_network {
            None => problems.push(Problem::NoIpv6Network),
            Some(net) => {
                let min = net.prefix_len().saturating_add(2);
                if let Some(len) = conf.ipv6_subnet_len
                    && (len > 126 || len < min)
                {
                    problems.push(Problem::Ipv6SubnetLen {
                        len,
                        min,
                        network: net,
                    });
                }
            }
        }
    }
    if !ipv4 {
        return None;
    }
    let Some(written) = conf.network else {
        problems.push(Problem::NoNetwork);
        return None;
    };
    let network = written.trunc();
    if network != written {
        problems.push(Problem::NetworkHostBits {
            network: written,
            masked: network,
        });
    }
    let len = match conf.subnet_len {
        Some(len) if len > 30 => {
            problems.push(Problem::SubnetLenTooLong { len });
            return None;
        }
        Some(len) if len < network.prefix_len() + 2 => {
            problems.push(Problem::SubnetLenTooShort {
                len,
                min: network.prefix_len() + 2,
                network,
            });
            return None;
        }
        Some(len) => len,
        None => match default_subnet_len(network) {
            Some(len) => len,
            None => {
                problems.push(Problem::NetworkTooSmall { network });
                return None;
            }
        },
    };
    let bound =
        |field: &'static str, addr: Option<Ipv4Addr>, default: Ipv4Addr, p: &mut Vec<Problem>| {
            let Some(addr) = addr else {
                return Some(default);
            };
            if !network.contains(&addr) {
                p.push(Problem::BoundOutside {
                    field,
                    addr,
                    network,
                });
                return None;
            }
            let aligned = Ipv4Net::new(addr, len).map(|n| n.network()).unwrap_or(addr);
            if aligned != addr {
                p.push(Problem::BoundUnaligned { field, addr, len });
                return None;
            }
            Some(addr)
        };
    // flannel skips the network's first subnet (its address is the network's own) and
    // ends with the last.
    let first = network.subnets(len).ok()?.nth(1)?.network();
    let last = Ipv4Net::new(network.broadcast(), len).ok()?.network();
    let min = bound("SubnetMin", conf.subnet_min, first, problems);
    let max = bound("SubnetMax", conf.subnet_max, last, problems);
    let (min, max) = (min?, max?);
    if min > max {
        problems.push(Problem::MinAboveMax { min, max });
        return None;
    }
    Some(Effective {
        network,
        subnet_len: len,
        subnet_min: min,
        subnet_max: max,
    })
}

fn backend_rules(backend: Option<&Backend>, problems: &mut Vec<Problem>) {
    match backend {
        Some(Backend::Unknown) => problems.push(Problem::UnknownBackend {
            kind: "(another type)".into(),
        }),
        Some(Backend::Vxlan(v)) => {
            if let Some(vni) = v.vni
                && !(1..(1 << 24)).contains(&vni)
            {
                problems.push(Problem::VxlanVni { vni });
            }
        }
        _ => {}
    }
}

/// The hosts that run flanneld and so lease a subnet: masters and nodes.
pub fn flannel_hosts(inv: &Inventory) -> Vec<&inventory::Host> {
    inv.hosts
        .iter()
        .filter(|h| h.has(Role::Node) || h.has(Role::Master))
        .collect()
}

/// flannel's rules plus the cluster's: enough subnets for every host that runs flanneld,
/// no overlap with the service range, no host address inside the pod network. Reports
/// every problem at once.
pub fn check(conf: &NetConf, inv: &Inventory) -> Result<Effective, Error> {
    let mut problems = Vec::new();
    let effective = rules(conf, &mut problems);
    if let Some(e) = effective {
        let needed = flannel_hosts(inv).len();
        let available = e.count();
        if available < needed as u64 {
            problems.push(Problem::NotEnoughSubnets {
                available,
                needed,
                len: e.subnet_len,
            });
        }
    }
    if let Some(written) = conf.network {
        let network = written.trunc();
        let services = inv.kubernetes.service_cidr;
        if network.contains(&services) || services.contains(&network) {
            problems.push(Problem::OverlapsServices { network, services });
        }
        for h in &inv.hosts {
            if let IpAddr::V4(a) = h.address
                && network.contains(&a)
            {
                problems.push(Problem::ContainsHost {
                    host: h.name.clone(),
                    address: h.address,
                    network,
                });
            }
        }
    }
    match effective {
        Some(e) if problems.is_empty() => Ok(e),
        _ => Err(Error::Invalid { problems }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn conf(json: &str) -> NetConf {
        NetConf::parse(json, "test").unwrap()
    }

    #[track_caller]
    fn ok(json: &str, len: u8, min: &str, max: &str) {
        let e = flannel_rules(&conf(json)).unwrap();
        assert_eq!(
            (
                e.subnet_len,
                e.subnet_min.to_string(),
                e.subnet_max.to_string()
            ),
            (len, min.to_string(), max.to_string())
        );
    }

    #[track_caller]
    fn bad(json: &str, expected: &[Problem]) {
        match flannel_rules(&conf(json)) {
            Err(Error::Invalid { problems }) => assert_eq!(problems, expected),
            other => panic!("expected problems, got {other:?}"),
        }
    }

    #[test]
    fn flannels_defaults() {
        ok(
            r#"{"Network":"172.17.0.0/16"}"#,
            24,
            "172.17.1.0",
            "172.17.255.0",
        );
        ok(r#"{"Network":"10.0.0.0/22"}"#, 24, "10.0.1.0", "10.0.3.0");
        ok(
            r#"{"Network":"10.0.0.0/24"}"#,
            26,
            "10.0.0.64",
            "10.0.0.192",
        );
        ok(r#"{"Network":"10.0.0.0/28"}"#, 30, "10.0.0.4", "10.0.0.12");
        ok(
            r#"{"Network":"10.0.0.0/8","SubnetLen":20,"SubnetMin":"10.10.0.0","SubnetMax":"10.99.0.0"}"#,
            20,
            "10.10.0.0",
            "10.99.0.0",
        );
    }

    #[test]
    fn flannels_refusals() {
        bad(r#"{}"#, &[Problem::NoNetwork]);
        bad(
            r#"{"Network":"10.0.0.0/29"}"#,
            &[Problem::NetworkTooSmall {
                network: "10.0.0.0/29".parse().unwrap(),
            }],
        );
        bad(
            r#"{"Network":"10.0.0.0/16","SubnetLen":31}"#,
            &[Problem::SubnetLenTooLong { len: 31 }],
        );
        bad(
            r#"{"Network":"10.0.0.0/16","SubnetLen":17}"#,
            &[Problem::SubnetLenTooShort {
                len: 17,
                min: 18,
                network: "10.0.0.0/16".parse().unwrap(),
            }],
        );
        bad(
            r#"{"Network":"10.0.0.0/16","SubnetMin":"10.1.0.0","SubnetMax":"10.0.7.5"}"#,
            &[
                Problem::BoundOutside {
                    field: "SubnetMin",
                    addr: "10.1.0.0".parse().unwrap(),
                    network: "10.0.0.0/16".parse().unwrap(),
                },
                Problem::BoundUnaligned {
                    field: "SubnetMax",
                    addr: "10.0.7.5".parse().unwrap(),
                    len: 24,
                },
            ],
        );
        bad(
            r#"{"Network":"10.0.0.0/16","SubnetMin":"10.0.9.0","SubnetMax":"10.0.8.0"}"#,
            &[Problem::MinAboveMax {
                min: "10.0.9.0".parse().unwrap(),
                max: "10.0.8.0".parse().unwrap(),
            }],
        );
        bad(
            r#"{"Network":"10.0.0.1/16","Backend":{"Type":"vxlan","VNI":0}}"#,
            &[
                Problem::VxlanVni { vni: 0 },
                Problem::NetworkHostBits {
                    network: "10.0.0.1/16".parse().unwrap(),
                    masked: "10.0.0.0/16".parse().unwrap(),
                },
            ],
        );
        bad(
            r#"{"EnableIPv4":false,"EnableIPv6":true}"#,
            &[Problem::NoIpv6Network],
        );
    }

    #[test]
    fn counts_and_lists_leasable_subnets() {
        let e = flannel_rules(&conf(r#"{"Network":"10.0.0.0/24"}"#)).unwrap();
        let all: Vec<String> = e.leasable().map(|s| s.to_string()).collect();
        assert_eq!(all, ["10.0.0.64/26", "10.0.0.128/26", "10.0.0.192/26"]);
        assert_eq!(e.count(), 3);
        let big = flannel_rules(&conf(r#"{"Network":"10.0.0.0/8","SubnetLen":30}"#)).unwrap();
        assert_eq!(big.count(), (1 << 22) - 1);
    }
}
