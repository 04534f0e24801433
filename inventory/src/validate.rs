//! Turning the file's strings into the typed model, collecting every problem on the way.

use crate::error::{Problem, Severity};
use crate::file::{HostFile, InventoryFile, PkiFile, SshFile};
use crate::model::*;
use crate::{Error, Version};
use ipnet::Ipv4Net;
use std::collections::{BTreeMap, BTreeSet};
use std::net::{IpAddr, Ipv4Addr};
use std::path::Path;

/// The oldest Kubernetes release kubin renders configs for: 1.20 removed the insecure port.
pub const MIN_KUBERNETES: Version = Version::new(1, 20, 0);
/// The newest Kubernetes minor release kubin knows the flags of; in step with
/// `control_plane::versions::NEWEST_MINOR` (a test there checks both bounds).
pub const MAX_KUBERNETES: Version = Version::new(1, 37, u32::MAX);
/// The oldest flannel release kubin configures.
pub const MIN_FLANNEL: Version = Version::new(0, 10, 0);

/// Collects problems while converting.
#[derive(Default)]
struct Findings(Vec<Problem>);

impl Findings {
    fn error(&mut self, path: impl Into<String>, message: impl Into<String>) {
        self.0.push(Problem {
            severity: Severity::Error,
            path: path.into(),
            message: message.into(),
            line: None,
        });
    }
    fn warn(&mut self, path: impl Into<String>, message: impl Into<String>) {
        self.0.push(Problem {
            severity: Severity::Warning,
            path: path.into(),
            message: message.into(),
            line: None,
        });
    }
}

/// Validates a parsed file: `Ok` with the warnings, or every error found.
pub(crate) fn validate(
    file: &InventoryFile,
    source_name: &str,
) -> Result<(Inventory, Vec<Problem>), Error> {
    let mut f = Findings::default();

    if !is_rfc1123_label(&file.cluster_name) {
        f.error(
            "cluster_name",
            format!("{:?} is not an RFC 1123 label", file.cluster_name),
        );
    }

    let k = &file.kubernetes;
    let version = match k.version.parse::<Version>() {
        Ok(v) if v < MIN_KUBERNETES || v > MAX_KUBERNETES => {
            f.error(
                "kubernetes.version",
                format!("{v} is not supported: kubin renders configs for 1.20 to 1.37"),
            );
            v
        }
        Ok(v) => v,
        Err(e) => {
            f.error("kubernetes.version", e);
            MIN_KUBERNETES
        }
    };
    let service_cidr = cidr(&mut f, "kubernetes.service_cidr", &k.service_cidr);
    let cluster_dns = match k.cluster_dns.parse::<Ipv4Addr>() {
        Ok(a) => {
            if let Some(net) = service_cidr
                && !net.contains(&a)
            {
                f.error(
                    "kubernetes.cluster_dns",
                    format!("{a} is outside the service range {net}"),
                );
            }
            a
        }
        Err(_) => {
            f.error(
                "kubernetes.cluster_dns",
                format!("{:?} is not an IPv4 address", k.cluster_dns),
            );
            Ipv4Addr::UNSPECIFIED
        }
    };
    if !k.cluster_domain.split('.').all(is_rfc1123_label) {
        f.error(
            "kubernetes.cluster_domain",
            format!("{:?} is not a DNS domain", k.cluster_domain),
        );
    }
    let load_balancer = k.load_balancer.as_ref().and_then(|lb| match lb.parse() {
        Ok(a) => Some(a),
        Err(_) => {
            f.error(
                "kubernetes.load_balancer",
                format!("{lb:?} is not an IP address"),
            );
            None
        }
    });
    let kubelet = kubelet(&mut f, &k.kubelet);

    let n = &file.network;
    let pod_cidr = cidr(&mut f, "network.pod_cidr", &n.pod_cidr);
    if let (Some(pods), Some(services)) = (pod_cidr, service_cidr)
        && overlaps(pods, services)
    {
        f.error(
            "network.pod_cidr",
            format!("{pods} overlaps the service range {services}"),
        );
    }
    let runtime = match n.runtime.as_str() {
        "containerd" => Runtime::Containerd,
        "docker" => {
            if version >= Version::new(1, 24, 0) {
                f.error(
                    "network.runtime",
                    format!("docker (dockershim) was removed in Kubernetes 1.24; {version} needs containerd"),
                );
            }
            Runtime::Docker
        }
        other => {
            f.error(
                "network.runtime",
                format!("{other:?} is not a runtime kubin installs (containerd or docker)"),
            );
            Runtime::Containerd
        }
    };
    let pod_network = match n.pod_network.as_str() {
        "flannel" => PodNetwork::Flannel,
        "routes" => PodNetwork::Routes,
        other => {
            f.error(
                "network.pod_network",
                format!(
                    "{other:?} is not a pod network kubin sets up (flannel: flanneld and the flannel CNI plugin from the bundle; routes: daemonless, hosts on one L2 segment)"
                ),
            );
            PodNetwork::Flannel
        }
    };
    let fl = &n.flannel;
    let flannel_version = match fl.version.parse::<Version>() {
        Ok(v) if v < MIN_FLANNEL => {
            f.error(
                "network.flannel.version",
                format!("{v} is older than flannel 0.10, the oldest kubin configures"),
            );
            v
        }
        Ok(v) => v,
        Err(e) => {
            f.error("network.flannel.version", e);
            MIN_FLANNEL
        }
    };
    let backend = match fl.backend.as_str() {
        "vxlan" => FlannelBackend::Vxlan,
        "host-gw" => FlannelBackend::HostGw,
        "udp" => FlannelBackend::Udp,
        "wireguard" => FlannelBackend::Wireguard,
        other => {
            f.error(
                "network.flannel.backend",
                format!("{other:?} is not a flannel backend (vxlan, host-gw, udp, wireguard)"),
            );
            FlannelBackend::Vxlan
        }
    };
    let mode = match fl.mode.as_str() {
        "etcd" => FlannelMode::Etcd,
        "kube-subnet-mgr" => FlannelMode::KubeSubnetMgr,
        other => {
            f.error(
                "network.flannel.mode",
                format!("{other:?} is not a flannel mode (etcd, kube-subnet-mgr)"),
            );
            FlannelMode::Etcd
        }
    };
    if !fl.etcd_prefix.starts_with('/') || fl.etcd_prefix.ends_with('/') {
        f.error(
            "network.flannel.etcd_prefix",
            format!(
                "{:?} must start with / and not end with one",
                fl.etcd_prefix
            ),
        );
    }
    if let (Some(len), Some(pods)) = (fl.subnet_len, pod_cidr)
        && (len <= pods.prefix_len() || len > 30)
    {
        f.error(
            "network.flannel.subnet_len",
            format!(
                "{len} must be longer than the pod network's /{} and at most 30",
                pods.prefix_len()
            ),
        );
    }

    let p = &file.paths;
    for (name, path) in [
        ("paths.etcd_cfg", &p.etcd_cfg),
        ("paths.etcd_bin", &p.etcd_bin),
        ("paths.etcd_ssl", &p.etcd_ssl),
        ("paths.etcd_data", &p.etcd_data),
        ("paths.kubernetes_cfg", &p.kubernetes_cfg),
        ("paths.kubernetes_bin", &p.kubernetes_bin),
        ("paths.kubernetes_ssl", &p.kubernetes_ssl),
        ("paths.systemd_units", &p.systemd_units),
    ] {
        if !path.is_absolute() {
            f.error(
                name,
                format!("{} must be an absolute path on the hosts", path.display()),
            );
        }
    }

    let hosts = hosts(&mut f, file, pod_cidr, service_cidr);
    let pki = pki(&mut f, file.pki.as_ref());

    let mut errors: Vec<Problem> = Vec::new();
    let mut warnings: Vec<Problem> = Vec::new();
    for p in f.0 {
        match p.severity {
            Severity::Error => errors.push(p),
            Severity::Warning => warnings.push(p),
        }
    }
    if !errors.is_empty() {
        return Err(Error::Invalid {
            source_name: source_name.to_string(),
            problems: errors,
        });
    }
    let (Some(service_cidr), Some(pod_cidr)) = (service_cidr, pod_cidr) else {
        unreachable!("a missing range is reported as an error above");
    };
    let inventory = Inventory {
        cluster_name: file.cluster_name.clone(),
        kubernetes: Kubernetes {
            version,
            service_cidr,
            cluster_dns,
            cluster_domain: k.cluster_domain.clone(),
            load_balancer,
            kubelet,
        },
        network: Network {
            pod_cidr,
            pod_network,
            flannel: Flannel {
                version: flannel_version,
                backend,
                etcd_prefix: fl.etcd_prefix.clone(),
                mode,
                subnet_len: fl.subnet_len,
            },
            runtime,
        },
        paths: Paths {
            etcd_cfg: p.etcd_cfg.clone(),
            etcd_bin: p.etcd_bin.clone(),
            etcd_ssl: p.etcd_ssl.clone(),
            etcd_data: p.etcd_data.clone(),
            kubernetes_cfg: p.kubernetes_cfg.clone(),
            kubernetes_bin: p.kubernetes_bin.clone(),
            kubernetes_ssl: p.kubernetes_ssl.clone(),
            systemd_units: p.systemd_units.clone(),
        },
        bundle: file.bundle.clone(),
        pki_dir: file.pki_dir.clone(),
        pki,
        hosts,
    };
    Ok((inventory, warnings))
}

fn hosts(
    f: &mut Findings,
    file: &InventoryFile,
    pod_cidr: Option<Ipv4Net>,
    service_cidr: Option<Ipv4Net>,
) -> Vec<Host> {
    let mut out = Vec::new();
    let mut names: BTreeMap<&str, usize> = BTreeMap::new();
    let mut addresses: BTreeMap<IpAddr, usize> = BTreeMap::new();
    if file.hosts.is_empty() {
        f.error("hosts", "no hosts: the cluster needs at least one machine");
    }
    for (i, h) in file.hosts.iter().enumerate() {
        let at = format!("hosts[{i}]");
        if !is_rfc1123_label(&h.name) {
            f.error(
                format!("{at}.name"),
                format!(
                    "{:?} is not an RFC 1123 host name (lower-case letters, digits and '-', at most 63)",
                    h.name
                ),
            );
        }
        if let Some(first) = names.insert(&h.name, i) {
            f.error(
                format!("{at}.name"),
                format!("{:?} is already the name of hosts[{first}]", h.name),
            );
        }
        let address = match h.address.parse::<IpAddr>() {
            Ok(a) => {
                if let Some(first) = addresses.insert(a, i) {
                    f.error(
                        format!("{at}.address"),
                        format!("{a} is already the address of hosts[{first}]"),
                    );
                }
                if let IpAddr::V4(v4) = a {
                    for (net, what) in [(pod_cidr, "pod network"), (service_cidr, "service range")]
                    {
                        if let Some(net) = net
                            && net.contains(&v4)
                        {
                            f.error(
                                format!("{at}.address"),
                                format!("{a} lies inside the {what} {net}"),
                            );
                        }
                    }
                }
                a
            }
            Err(_) => {
                f.error(
                    format!("{at}.address"),
                    format!("{:?} is not an IP address", h.address),
                );
                IpAddr::V4(Ipv4Addr::UNSPECIFIED)
            }
        };
        let mut roles = BTreeSet::new();
        for (j, r) in h.roles.iter().enumerate() {
            match r.as_str() {
                "etcd" => roles.insert(Role::Etcd),
                "master" => roles.insert(Role::Master),
                "node" => roles.insert(Role::Node),
                other => {
                    f.error(
                        format!("{at}.roles[{j}]"),
                        format!("{other:?} is not a role (etcd, master, node)"),
                    );
                    false
                }
            };
        }
        if h.roles.is_empty() {
            f.error(
                format!("{at}.roles"),
                "no roles: give the host etcd, master or node",
            );
        }
        let ssh = ssh(f, &at, &file.ssh, h);
        out.push(Host {
            name: h.name.clone(),
            address,
            roles,
            ssh,
        });
    }
    // Pod subnets are routed between hosts: the hosts' own network must not overlap them.
    if let Some(pods) = pod_cidr {
        let host_nets: BTreeSet<Ipv4Net> = out
            .iter()
            .filter_map(|h| match h.address {
                IpAddr::V4(a) => Ipv4Net::new(a, 24).ok().map(|n| n.trunc()),
                IpAddr::V6(_) => None,
            })
            .collect();
        for net in host_nets {
            if overlaps(net, pods) && !out.iter().any(|h| ip_in(h.address, pods)) {
                f.error(
                    "network.pod_cidr",
                    format!("{pods} overlaps the hosts' network {net}"),
                );
            }
        }
    }
    let count = |role| out.iter().filter(|h| h.has(role)).count();
    if !file.hosts.is_empty() {
        if count(Role::Master) == 0 {
            f.error("hosts", "no host has the master role");
        }
        let etcd = count(Role::Etcd);
        if etcd == 0 {
            f.error("hosts", "no host has the etcd role");
        } else if etcd % 2 == 0 {
            f.warn(
                "hosts",
                format!(
                    "{etcd} etcd members tolerate no more failures than {}: use an odd count",
                    etcd - 1
                ),
            );
        }
    }
    out
}

fn ssh(f: &mut Findings, at: &str, top: &SshFile, host: &HostFile) -> Ssh {
    let own = host.ssh.clone().unwrap_or_default();
    let policy_text = own
        .host_key_policy
        .or_else(|| top.host_key_policy.clone())
        .unwrap_or_else(|| "strict".into());
    let host_key_policy = match policy_text.as_str() {
        "strict" => HostKeyPolicy::Strict,
        "accept-new" => HostKeyPolicy::AcceptNew,
        other => {
            let path = if host
                .ssh
                .as_ref()
                .is_some_and(|s| s.host_key_policy.is_some())
            {
                format!("{at}.ssh.host_key_policy")
            } else {
                "ssh.host_key_policy".into()
            };
            f.error(
                path,
                format!("{other:?} is not a host key policy (strict, accept-new)"),
            );
            HostKeyPolicy::Strict
        }
    };
    let user = own
        .user
        .or_else(|| top.user.clone())
        .unwrap_or_else(|| "root".into());
    if user.is_empty() {
        f.error(format!("{at}.ssh.user"), "the SSH user is empty");
    }
    Ssh {
        user,
        port: own.port.or(top.port).unwrap_or(22),
        key: own.key.or_else(|| top.key.clone()),
        known_hosts: own.known_hosts.or_else(|| top.known_hosts.clone()),
        host_key_policy,
    }
}

/// The `pki:` section, each value checked with its path; absent values take the guides'
/// defaults, and a `subject:` given replaces the default subject as a whole.
fn pki(f: &mut Findings, file: Option<&PkiFile>) -> Pki {
    let mut pki = Pki::default();
    let Some(file) = file else { return pki };
    if let Some(name) = &file.key {
        match KeyKind::from_name(name) {
            Some(k) => pki.key = k,
            None => {
                let known: Vec<&str> = KeyKind::NAMED.iter().map(|(n, _)| *n).collect();
                f.error(
                    "pki.key",
                    format!("{name:?} is not a key kind ({})", known.join(", ")),
                );
            }
        }
    }
    let mut lifetime = |path: &str, text: &Option<String>, into: &mut std::time::Duration| {
        let Some(text) = text else { return };
        match humantime::parse_duration(text) {
            Ok(d) if d.is_zero() => f.error(path, format!("{text:?} is no lifetime")),
            Ok(d) => *into = d,
            Err(e) => f.error(
                path,
                format!("{text:?} is not a duration such as 87600h or 365d: {e}"),
            ),
        }
    };
    lifetime("pki.validity", &file.validity, &mut pki.validity);
    lifetime("pki.ca_validity", &file.ca_validity, &mut pki.ca_validity);
    if let Some(s) = &file.subject {
        let checked = |f: &mut Findings, key: &str, v: &Option<String>| {
            if let Some(v) = v
                && (v.trim().is_empty() || v.chars().any(char::is_control))
            {
                f.error(
                    format!("pki.subject.{key}"),
                    format!("{v:?} is empty or holds control characters"),
                );
            }
            v.clone()
        };
        pki.subject = Subject {
            c: checked(f, "C", &s.c),
            st: checked(f, "ST", &s.st),
            l: checked(f, "L", &s.l),
            o: checked(f, "O", &s.o),
            ou: checked(f, "OU", &s.ou),
        };
        if let Some(c) = &s.c
            && c.chars().count() != 2
        {
            f.error(
                "pki.subject.C",
                format!("{c:?} is not a two-letter country code"),
            );
        }
    }
    pki
}

/// `kubernetes.kubelet`: a GC threshold the kubelet accepts (above its low threshold,
/// 80) and eviction thresholds on signals it knows, as a percentage or a quantity.
fn kubelet(f: &mut Findings, k: &crate::file::KubeletFile) -> crate::Kubelet {
    if let Some(p) = k.image_gc_high_threshold_percent
        && !(81..=100).contains(&p)
    {
        f.error(
            "kubernetes.kubelet.image_gc_high_threshold_percent",
            format!("{p} is not between 81 and 100 (the kubelet's low threshold is 80)"),
        );
    }
    for (signal, threshold) in &k.eviction_hard {
        let at = format!("kubernetes.kubelet.eviction_hard.{signal}");
        if !crate::EVICTION_SIGNALS.contains(&signal.as_str()) {
            f.error(
                &at,
                format!(
                    "{signal:?} is not an eviction signal ({})",
                    crate::EVICTION_SIGNALS.join(", ")
                ),
            );
        }
        let ok = match threshold.strip_suffix('%') {
            Some(p) => p.parse::<f64>().is_ok_and(|p| (0.0..=100.0).contains(&p)),
            None => {
                let digits = threshold.trim_end_matches(|c: char| c.is_ascii_alphabetic());
                let unit = &threshold[digits.len()..];
                !digits.is_empty()
                    && digits.parse::<u64>().is_ok()
                    && ["", "k", "M", "G", "Ki", "Mi", "Gi", "Ti"].contains(&unit)
            }
        };
        if !ok {
            f.error(
                &at,
                format!("{threshold:?} is neither a percentage (5%) nor a quantity (100Mi)"),
            );
        }
    }
    crate::Kubelet {
        image_gc_high_threshold_percent: k.image_gc_high_threshold_percent,
        eviction_hard: k.eviction_hard.clone(),
    }
}

fn cidr(f: &mut Findings, path: &str, text: &str) -> Option<Ipv4Net> {
    match text.parse::<Ipv4Net>() {
        Ok(net) if net.trunc() != net => {
            f.error(
                path,
                format!("{net} has host bits set; the network is {}", net.trunc()),
            );
            None
        }
        Ok(net) => Some(net),
        Err(_) => {
            f.error(
                path,
                format!("{text:?} is not an IPv4 CIDR such as 10.0.0.0/24"),
            );
            None
        }
    }
}

fn overlaps(a: Ipv4Net, b: Ipv4Net) -> bool {
    a.contains(&b.network()) || b.contains(&a.network())
}

fn ip_in(a: IpAddr, net: Ipv4Net) -> bool {
    matches!(a, IpAddr::V4(v4) if net.contains(&v4))
}

/// Whether `s` is an RFC 1123 label: 1 to 63 lower-case letters, digits or '-', not at an end.
pub(crate) fn is_rfc1123_label(s: &str) -> bool {
    !s.is_empty()
        && s.len() <= 63
        && s.bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
        && !s.starts_with('-')
        && !s.ends_with('-')
}

impl Inventory {
    /// Parses and validates `cluster.yaml` text; `source_name` names it in errors.
    ///
    /// Returns the inventory and the warnings, or every error found.
    pub fn from_yaml(text: &str, source_name: &str) -> Result<(Self, Vec<Problem>), Error> {
        let file: InventoryFile = serde_saphyr::from_str(text).map_err(|e| Error::Parse {
            source_name: source_name.to_string(),
            message: e.to_string(),
        })?;
        let with_lines = |mut problems: Vec<Problem>| {
            for p in &mut problems {
                p.line = crate::locate::line_of(text, &p.path);
            }
            problems
        };
        match validate(&file, source_name) {
            Ok((inv, warnings)) => Ok((inv, with_lines(warnings))),
            Err(Error::Invalid {
                source_name,
                problems,
            }) => Err(Error::Invalid {
                source_name,
                problems: with_lines(problems),
            }),
            Err(e) => Err(e),
        }
    }

    /// Reads and validates an inventory file; relative `bundle` and `pki_dir` are resolved
    /// against the file's directory.
    pub fn load(path: &Path) -> Result<(Self, Vec<Problem>), Error> {
        let name = path.display().to_string();
        let text = std::fs::read_to_string(path).map_err(|source| Error::Read {
            path: path.to_path_buf(),
            source,
        })?;
        let (mut inv, warnings) = Self::from_yaml(&text, &name)?;
        let base = path.parent().unwrap_or(Path::new("."));
        inv.pki_dir = base.join(&inv.pki_dir);
        inv.bundle = inv.bundle.map(|b| base.join(b));
        Ok((inv, warnings))
    }
}
