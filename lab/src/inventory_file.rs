//! The inventory (`cluster.yaml`) a lab writes for its machines: the guides' topology (the
//! first host master and etcd, the others nodes, etcd on the first three), absolute paths
//! into the lab state for the SSH key, known_hosts and PKI, and the bundle in the cache.

use crate::LabHost;
use std::path::Path;

/// What goes into a lab's inventory.
#[derive(Debug, Clone)]
pub struct InventorySpec<'a> {
    /// `cluster_name`: the lab name.
    pub cluster_name: &'a str,
    /// The machines, master first.
    pub hosts: &'a [LabHost],
    /// The lab's private key.
    pub key: &'a Path,
    /// The lab's known_hosts.
    pub known_hosts: &'a Path,
    /// The bundle directory.
    pub bundle: &'a Path,
    /// Where the deploy keeps the cluster's certificates.
    pub pki_dir: &'a Path,
}

/// The service range of every lab's inventory; each machine has a route for it on its
/// bridge interface (and no default route), so a node reaches ClusterIPs.
pub const SERVICE_CIDR: &str = "10.0.0.0/24";

/// How many machines run etcd: the guides' three members (fewer in a smaller lab); a larger
/// lab adds nodes, not members.
pub const ETCD_MEMBERS: usize = 3;

/// The roles of host number `i` in the guides' topology.
pub fn roles(i: usize) -> &'static str {
    match i {
        0 => "[master, etcd]",
        i if i < ETCD_MEMBERS => "[node, etcd]",
        _ => "[node]",
    }
}

/// Quotes a path for YAML (double-quoted, escaping `\` and `"`).
fn q(p: &Path) -> String {
    let s = p.display().to_string();
    format!("\"{}\"", s.replace('\\', "\\\\").replace('"', "\\\""))
}

/// Renders `cluster.yaml`. The lab subnet (10.213.X.0/24) overlaps neither the service
/// range 10.0.0.0/24 nor the pod range 172.17.0.0/16.
pub fn render(spec: &InventorySpec<'_>) -> String {
    let mut s = format!(
        r#"# Written by the kubin lab for lab {name:?}: the guides' topology on lab machines.
cluster_name: {name}

kubernetes:
  version: "1.20.2"
  service_cidr: {service_cidr}
  cluster_dns: 10.0.0.2
  cluster_domain: cluster.local
  # The machines share the outer machine's disk, which other work fills: the kubelet's
  # defaults (unused images collected above 85% used, eviction below 10%/15% free) would
  # collect the images imported offline and evict pods for a disk that is not theirs.
  kubelet:
    image_gc_high_threshold_percent: 100
    eviction_hard:
      memory.available: 100Mi
      nodefs.available: 1%
      nodefs.inodesFree: 1%
      imagefs.available: 1%

network:
  pod_cidr: 172.17.0.0/16
  # The daemonless pod network: flanneld's binary is in no registry reachable here, so the
  # bundle has none; the machines share one bridge, so static routes between them do.
  pod_network: routes
  runtime: containerd
  flannel:
    version: "0.10.0"
    backend: vxlan
    etcd_prefix: /coreos.com/network
    mode: etcd

bundle: {bundle}
pki_dir: {pki}

ssh:
  user: root
  port: 22
  key: {key}
  known_hosts: {known_hosts}
  host_key_policy: strict

hosts:
"#,
        name = spec.cluster_name,
        service_cidr = SERVICE_CIDR,
        bundle = q(spec.bundle),
        pki = q(spec.pki_dir),
        key = q(spec.key),
        known_hosts = q(spec.known_hosts),
    );
    for (i, h) in spec.hosts.iter().enumerate() {
        s.push_str(&format!(
            "  - name: {}\n    address: {}\n    roles: {}\n",
            h.name,
            h.address,
            roles(i)
        ));
    }
    s
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::names;
    use std::path::PathBuf;

    fn hosts(n: usize) -> Vec<LabHost> {
        (0..n)
            .map(|i| LabHost {
                name: names::host_name(i),
                address: names::host_address(57, i),
                machine: names::machine_name(57, i),
            })
            .collect()
    }

    fn render_for(name: &str, n: usize) -> String {
        let dir = PathBuf::from("/var/lib/kubin-lab").join(name);
        render(&InventorySpec {
            cluster_name: name,
            hosts: &hosts(n),
            key: &dir.join("id_ed25519"),
            known_hosts: &dir.join("known_hosts"),
            bundle: Path::new(
                "/var/cache/kubin/bundle/etcd-3.4.23-4+b4_kubernetes-1.20.5+really1.20.2-1.1+deb12u1",
            ),
            pki_dir: &dir.join("pki"),
        })
    }

    #[test]
    fn snapshot() {
        insta::assert_snapshot!(render_for("smoke", 3));
    }

    #[test]
    fn the_written_inventory_validates() {
        for n in [1, 3, 12] {
            let text = render_for("smoke", n);
            let (inv, warnings) = inventory::Inventory::from_yaml(&text, "lab").unwrap();
            assert_eq!(inv.hosts.len(), n);
            assert_eq!(inv.masters().len(), 1);
            assert_eq!(inv.etcd_members().len(), n.min(ETCD_MEMBERS));
            assert_eq!(inv.nodes().len(), n - 1);
            // An even member count is worth a warning, nothing else is.
            assert!(warnings.len() <= 1, "{warnings:?}");
            assert_eq!(
                inv.etcd_initial_cluster().split(',').next().unwrap(),
                "k8s-master1=https://10.213.57.11:2380"
            );
        }
    }
}
