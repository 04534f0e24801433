//! flanneld's env file and unit, and docker's drop-in: plain text, deterministic.

use super::layout::{DOCKER_OPTS_ENV, NodeLayout, SUBNET_ENV, UNIT};
use inventory::{Host, Inventory, Runtime};

/// `<kubernetes_cfg>/flanneld`: `FLANNEL_OPTIONS` with every etcd endpoint, the CA, the
/// client certificate and key, the prefix, and this host's address as `--iface`.
pub fn render_env(inv: &Inventory, host: &Host) -> String {
    let l = NodeLayout::new(&inv.paths);
    format!(
        "# flanneld's options, written by kubin for {host}: the etcd cluster and flannel's client\n\
         # certificate, where its network config lives, and the interface to the other hosts.\n\
         FLANNEL_OPTIONS=\"--etcd-endpoints={endpoints} --etcd-cafile={ca} --etcd-certfile={cert} --etcd-keyfile={key} --etcd-prefix={prefix} --iface={iface}\"\n",
        host = host.name,
        endpoints = inv.etcd_endpoints().join(","),
        ca = l.etcd_ca.display(),
        cert = l.etcd_cert.display(),
        key = l.etcd_key.display(),
        prefix = inv.network.flannel.etcd_prefix,
        iface = host.address,
    )
}

/// `flanneld.service`. With docker, `mk-docker-opts.sh` turns the leased subnet into
/// `DOCKER_NETWORK_OPTIONS` after flanneld is up, and docker starts after flanneld.
pub fn render_unit(inv: &Inventory) -> String {
    let l = NodeLayout::new(&inv.paths);
    let docker = inv.network.runtime == Runtime::Docker;
    let mut s = String::from(
        "[Unit]\n\
         Description=flanneld: this host's pod subnet, leased through etcd\n\
         After=network-online.target network.target\n\
         Wants=network-online.target\n",
    );
    if docker {
        s.push_str("Before=docker.service\n");
    } else {
        s.push_str("Before=kubelet.service\n");
    }
    s.push_str(&format!(
        "\n[Service]\n\
         Type=notify\n\
         EnvironmentFile={env}\n\
         ExecStart={flanneld} --ip-masq $FLANNEL_OPTIONS\n",
        env = l.env_file.display(),
        flanneld = l.flanneld.display(),
    ));
    if docker {
        s.push_str(&format!(
            "ExecStartPost={mk} -k DOCKER_NETWORK_OPTIONS -d {DOCKER_OPTS_ENV}\n",
            mk = l.mk_docker_opts.display()
        ));
    }
    s.push_str(
        "Restart=on-failure\n\
         RestartSec=5\n\
         \n\
         [Install]\n\
         WantedBy=multi-user.target\n",
    );
    if docker {
        s.push_str("RequiredBy=docker.service\n");
    }
    s
}

/// docker's drop-in: start after flanneld, on the subnet flanneld leased (the bridge
/// address, MTU and masquerading come from `$DOCKER_NETWORK_OPTIONS`).
pub fn render_docker_dropin() -> String {
    format!(
        "# docker on this host's flannel subnet, written by kubin.\n\
         [Unit]\n\
         After={UNIT}\n\
         Requires={UNIT}\n\
         \n\
         [Service]\n\
         EnvironmentFile={SUBNET_ENV}\n\
         EnvironmentFile={DOCKER_OPTS_ENV}\n\
         ExecStart=\n\
         ExecStart=/usr/bin/dockerd $DOCKER_NETWORK_OPTIONS\n"
    )
}
