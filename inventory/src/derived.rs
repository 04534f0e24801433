//! Values derived from the inventory, computed once here rather than in every crate.

use crate::model::*;
use crate::{APISERVER_PORT, ETCD_CLIENT_PORT, ETCD_PEER_PORT, Version};
use std::net::{IpAddr, Ipv4Addr};

/// The first flannel release that reads its config through etcd's v3 API.
pub const FLANNEL_V3_SINCE: Version = Version::new(0, 18, 0);

/// Which etcd API a reader of the cluster's etcd uses.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EtcdApi {
    /// The v2 keys API (`/v2/keys/...`); etcd must run with `--enable-v2`.
    V2,
    /// The v3 gRPC API.
    V3,
}

fn url(address: IpAddr, port: u16) -> String {
    match address {
        IpAddr::V4(a) => format!("https://{a}:{port}"),
        IpAddr::V6(a) => format!("https://[{a}]:{port}"),
    }
}

impl Inventory {
    /// The hosts with `role`, in file order.
    pub fn with_role(&self, role: Role) -> impl Iterator<Item = &Host> {
        self.hosts.iter().filter(move |h| h.has(role))
    }

    /// The host called `name`.
    pub fn host(&self, name: &str) -> Option<&Host> {
        self.hosts.iter().find(|h| h.name == name)
    }

    /// The bundle's directory for flannel's release tarball,
    /// `flannel-v<network.flannel.version>-linux-amd64` (the tarball unpacks `flanneld` and
    /// `mk-docker-opts.sh` without a directory of its own, so the bundle names one after
    /// it).
    pub fn flannel_bundle_dir(&self) -> String {
        format!("flannel-v{}-linux-amd64", self.network.flannel.version)
    }

    /// The etcd members, in file order.
    pub fn etcd_members(&self) -> Vec<&Host> {
        self.with_role(Role::Etcd).collect()
    }

    /// The masters, in file order.
    pub fn masters(&self) -> Vec<&Host> {
        self.with_role(Role::Master).collect()
    }

    /// The nodes (kubelet hosts), in file order.
    pub fn nodes(&self) -> Vec<&Host> {
        self.with_role(Role::Node).collect()
    }

    /// A host's etcd peer URL, `https://ADDR:2380`.
    pub fn etcd_peer_url(host: &Host) -> String {
        url(host.address, ETCD_PEER_PORT)
    }

    /// A host's etcd client URL, `https://ADDR:2379`.
    pub fn etcd_client_url(host: &Host) -> String {
        url(host.address, ETCD_CLIENT_PORT)
    }

    /// `ETCD_INITIAL_CLUSTER`: `name=https://addr:2380,...` for every member, in file order.
    pub fn etcd_initial_cluster(&self) -> String {
        self.etcd_members()
            .iter()
            .map(|h| format!("{}={}", h.name, Self::etcd_peer_url(h)))
            .collect::<Vec<_>>()
            .join(",")
    }

    /// The etcd client endpoints, `https://addr:2379` for every member.
    pub fn etcd_endpoints(&self) -> Vec<String> {
        self.etcd_members()
            .iter()
            .map(|h| Self::etcd_client_url(h))
            .collect()
    }

    /// `ETCD_INITIAL_CLUSTER_TOKEN`.
    pub fn etcd_cluster_token(&self) -> String {
        format!("{}-etcd", self.cluster_name)
    }

    /// The apiserver URL clients use: the load balancer if any, else the first master.
    pub fn apiserver_url(&self) -> Option<String> {
        let address = self
            .kubernetes
            .load_balancer
            .or_else(|| self.masters().first().map(|h| h.address))?;
        Some(url(address, APISERVER_PORT))
    }

    /// The first address of the service range: the `kubernetes` service's cluster IP.
    pub fn first_service_ip(&self) -> Ipv4Addr {
        let net = u32::from(self.kubernetes.service_cidr.network());
        Ipv4Addr::from(net + 1)
    }

    /// The apiserver certificate's SANs: every master address, 127.0.0.1, the first service
    /// IP, the load balancer, and the `kubernetes.default.svc...` names for the cluster domain.
    pub fn apiserver_sans(&self) -> Vec<String> {
        let mut sans: Vec<String> = Vec::new();
        let mut push = |s: String| {
            if !sans.contains(&s) {
                sans.push(s);
            }
        };
        push("127.0.0.1".into());
        push(self.first_service_ip().to_string());
        for m in self.masters() {
            push(m.address.to_string());
        }
        if let Some(lb) = self.kubernetes.load_balancer {
            push(lb.to_string());
        }
        push("kubernetes".into());
        push("kubernetes.default".into());
        push("kubernetes.default.svc".into());
        let mut domain = String::from("kubernetes.default.svc");
        for label in self.kubernetes.cluster_domain.split('.') {
            domain.push('.');
            domain.push_str(label);
            push(domain.clone());
        }
        sans
    }

    /// The etcd API flannel reads its network config through: v2 before flannel 0.18.
    pub fn flannel_etcd_api(&self) -> EtcdApi {
        if self.network.flannel.version < FLANNEL_V3_SINCE {
            EtcdApi::V2
        } else {
            EtcdApi::V3
        }
    }

    /// Whether etcd must serve the v2 API (`--enable-v2`): flannel older than 0.18 reads
    /// its config from etcd through v2.
    pub fn etcd_needs_v2(&self) -> bool {
        self.network.flannel.mode == FlannelMode::Etcd && self.flannel_etcd_api() == EtcdApi::V2
    }
}
