//! kube-flannel.yml: flannel as a DaemonSet with `--kube-subnet-mgr` (the guides' second
//! variant), its net-conf.json and cni-conf.json in a ConfigMap, and its RBAC.

use super::cni::render_conflist;
use crate::netconf::NetConf;
use inventory::{Inventory, Version};

/// The container images the manifest names. No registry host is written: the names
/// resolve through the container runtime's own default registry or mirror configuration.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Images {
    /// flanneld's image.
    pub flannel: String,
    /// The image whose `/flannel` is the CNI plugin binary copied to `/opt/cni/bin`.
    pub cni_plugin: String,
}

impl Images {
    /// `flannel/flannel:v<version>` and `flannel/flannel-cni-plugin:v1.1.2`.
    pub fn for_version(version: Version) -> Self {
        Self {
            flannel: format!("flannel/flannel:v{version}"),
            cni_plugin: "flannel/flannel-cni-plugin:v1.1.2".into(),
        }
    }
}

fn indent(text: &str, by: usize) -> String {
    let pad = " ".repeat(by);
    text.lines()
        .map(|l| format!("{pad}{l}\n"))
        .collect::<String>()
}

/// The manifest for `conf` (which should come from [`NetConf::from_inventory`]).
pub fn render_manifest(inv: &Inventory, conf: &NetConf, images: &Images) -> String {
    let net_conf = indent(&conf.to_json_pretty(), 4);
    let cni_conf = indent(&render_conflist(), 4);
    format!(
        r#"# flannel with --kube-subnet-mgr for cluster {cluster}, written by kubin.
# Each node's subnet is its spec.podCIDR: the controller-manager must run with
# --allocate-node-cidrs=true --cluster-cidr={pods}.
---
kind: Namespace
apiVersion: v1
metadata:
  name: kube-flannel
  labels:
    pod-security.kubernetes.io/enforce: privileged
---
kind: ServiceAccount
apiVersion: v1
metadata:
  name: flannel
  namespace: kube-flannel
---
kind: ClusterRole
apiVersion: rbac.authorization.k8s.io/v1
metadata:
  name: flannel
rules:
- apiGroups: [""]
  resources: ["pods"]
  verbs: ["get"]
- apiGroups: [""]
  resources: ["nodes"]
  verbs: ["get", "list", "watch"]
- apiGroups: [""]
  resources: ["nodes/status"]
  verbs: ["patch"]
---
kind: ClusterRoleBinding
apiVersion: rbac.authorization.k8s.io/v1
metadata:
  name: flannel
roleRef:
  apiGroup: rbac.authorization.k8s.io
  kind: ClusterRole
  name: flannel
subjects:
- kind: ServiceAccount
  name: flannel
  namespace: kube-flannel
---
kind: ConfigMap
apiVersion: v1
metadata:
  name: kube-flannel-cfg
  namespace: kube-flannel
  labels:
    app: flannel
    tier: node
data:
  cni-conf.json: |
{cni_conf}  net-conf.json: |
{net_conf}---
kind: DaemonSet
apiVersion: apps/v1
metadata:
  name: kube-flannel-ds
  namespace: kube-flannel
  labels:
    app: flannel
    tier: node
spec:
  selector:
    matchLabels:
      app: flannel
  template:
    metadata:
      labels:
        app: flannel
        tier: node
    spec:
      affinity:
        nodeAffinity:
          requiredDuringSchedulingIgnoredDuringExecution:
            nodeSelectorTerms:
            - matchExpressions:
              - key: kubernetes.io/os
                operator: In
                values: ["linux"]
      hostNetwork: true
      priorityClassName: system-node-critical
      tolerations:
      - operator: Exists
        effect: NoSchedule
      serviceAccountName: flannel
      initContainers:
      - name: install-cni-plugin
        image: {cni_plugin}
        command: ["cp"]
        args: ["-f", "/flannel", "/opt/cni/bin/flannel"]
        volumeMounts:
        - name: cni-plugin
          mountPath: /opt/cni/bin
      - name: install-cni
        image: {flannel}
        command: ["cp"]
        args: ["-f", "/etc/kube-flannel/cni-conf.json", "/etc/cni/net.d/10-flannel.conflist"]
        volumeMounts:
        - name: cni
          mountPath: /etc/cni/net.d
        - name: flannel-cfg
          mountPath: /etc/kube-flannel/
      containers:
      - name: kube-flannel
        image: {flannel}
        command: ["/opt/bin/flanneld"]
        args: ["--ip-masq", "--kube-subnet-mgr"]
        resources:
          requests:
            cpu: 100m
            memory: 50Mi
        securityContext:
          privileged: false
          capabilities:
            add: ["NET_ADMIN", "NET_RAW"]
        env:
        - name: POD_NAME
          valueFrom:
            fieldRef:
              fieldPath: metadata.name
        - name: POD_NAMESPACE
          valueFrom:
            fieldRef:
              fieldPath: metadata.namespace
        - name: EVENT_QUEUE_DEPTH
          value: "5000"
        volumeMounts:
        - name: run
          mountPath: /run/flannel
        - name: flannel-cfg
          mountPath: /etc/kube-flannel/
        - name: xtables-lock
          mountPath: /run/xtables.lock
      volumes:
      - name: run
        hostPath:
          path: /run/flannel
      - name: cni-plugin
        hostPath:
          path: /opt/cni/bin
      - name: cni
        hostPath:
          path: /etc/cni/net.d
      - name: flannel-cfg
        configMap:
          name: kube-flannel-cfg
      - name: xtables-lock
        hostPath:
          path: /run/xtables.lock
          type: FileOrCreate
"#,
        cluster = inv.cluster_name,
        pods = inv.network.pod_cidr,
        cni_plugin = images.cni_plugin,
        flannel = images.flannel,
    )
}
