//! The commented example inventory `kubin init` writes: the guides' topology.

/// The guides' topology: one master and two nodes, etcd on all three.
pub const GUIDES_EXAMPLE: &str = r#"# kubin cluster inventory: one file describes the whole cluster.
# Validate it with `kubin plan -f cluster.yaml`; nothing changes on any host until `kubin deploy`.

# Names the etcd cluster token and the kubeconfig contexts.
cluster_name: kubernetes

kubernetes:
  # The release every config is rendered for (1.20 or later: no insecure port).
  version: "1.20.2"
  # The service range; its first address (10.0.0.1) is the `kubernetes` service.
  service_cidr: 10.0.0.0/24
  cluster_dns: 10.0.0.2
  cluster_domain: cluster.local
  # An address in front of several apiservers (optional).
  # load_balancer: 192.168.31.60

network:
  # The pod network flannel hands out per-node subnets from.
  pod_cidr: 172.17.0.0/16
  # flannel: flanneld and the flannel CNI plugin from the bundle (the guides'); routes:
  # no daemon, static routes to every node's pod subnet (hosts on one L2 segment only).
  pod_network: flannel
  # containerd for current clusters; docker only before Kubernetes 1.24.
  runtime: containerd
  flannel:
    # Before 0.18 flannel reads its config through etcd's v2 API, and kubin then runs
    # etcd with --enable-v2 and writes the key through v2; from 0.18 on, through v3.
    version: "0.10.0"
    backend: vxlan
    etcd_prefix: /coreos.com/network
    mode: etcd

# Install paths on the hosts (the guides' layout).
paths:
  etcd_cfg: /opt/etcd/cfg
  etcd_bin: /opt/etcd/bin
  etcd_ssl: /opt/etcd/ssl
  etcd_data: /var/lib/etcd/default.etcd
  kubernetes_cfg: /opt/kubernetes/cfg
  kubernetes_bin: /opt/kubernetes/bin
  kubernetes_ssl: /opt/kubernetes/ssl
  systemd_units: /usr/lib/systemd/system

# Binaries, laid out as the upstream release tarballs unpack (etcd-vX-linux-amd64/,
# kubernetes/server/bin/); relative to this file.
bundle: bundle
# Certificates made on this machine; an existing CA or key is never overwritten.
pki_dir: pki
# How every certificate is made; `kubin pki cluster` and every deploy read it, so the
# certificates only change when this does. Absent: the guides' values, as below.
# pki:
#   key: rsa-2048          # rsa-2048, rsa-3072, rsa-4096, ecdsa-256, ecdsa-384
#   validity: 87600h       # every leaf
#   ca_validity: 87600h    # the etcd CA and the cluster CA
#   subject: { C: CN, ST: BeiJing, L: BeiJing }   # also O, OU

ssh:
  user: root
  port: 22
  key: ~/.ssh/id_ed25519
  # strict: host keys must be in known_hosts; accept-new: record unknown ones.
  host_key_policy: strict

hosts:
  - name: k8s-master1
    address: 192.168.31.63
    roles: [master, etcd]
  - name: k8s-node1
    address: 192.168.31.65
    roles: [node, etcd]
  - name: k8s-node2
    address: 192.168.31.66
    roles: [node, etcd]
"#;

#[cfg(test)]
mod tests {
    use crate::Inventory;

    #[test]
    fn the_example_is_valid_and_warning_free() {
        let (inv, warnings) =
            Inventory::from_yaml(super::GUIDES_EXAMPLE, "example").expect("the example validates");
        assert!(warnings.is_empty(), "{warnings:?}");
        assert_eq!(
            inv.etcd_initial_cluster(),
            "k8s-master1=https://192.168.31.63:2380,k8s-node1=https://192.168.31.65:2380,k8s-node2=https://192.168.31.66:2380"
        );
        assert_eq!(inv.first_service_ip().to_string(), "10.0.0.1");
        assert!(inv.etcd_needs_v2());
        assert_eq!(inv.pki, crate::Pki::default());
    }

    /// The commented `pki:` section, uncommented, is valid and says what the defaults are.
    #[test]
    fn the_commented_pki_section_is_the_default() {
        let text = super::GUIDES_EXAMPLE
            .lines()
            .map(|l| match l.strip_prefix("# ") {
                Some(rest) if rest.starts_with("pki:") || rest.starts_with("  ") => rest,
                _ => l,
            })
            .collect::<Vec<_>>()
            .join("\n");
        assert!(text.contains("\npki:\n  key: rsa-2048"), "{text}");
        let (inv, _) = Inventory::from_yaml(&text, "example").expect("valid");
        assert_eq!(inv.pki, crate::Pki::default());
    }
}
