//! Host-preparation plan tests: rendered files (snapshots), container handling, round trips.

use super::render::*;
use super::*;
use executor::Transport;
use executor::progress::{Output, Silent};
use executor::transport::recording::{RecordingTransport, Shared};
use executor::{ApplyOptions, apply_with};
use proptest::prelude::*;
use std::collections::BTreeMap;
use std::net::{IpAddr, Ipv4Addr};

fn inventory() -> Inventory {
    Inventory::from_yaml(inventory::example::GUIDES_EXAMPLE, "example")
        .expect("example validates")
        .0
}

fn vm_facts(os_id: &str) -> HostFacts {
    HostFacts {
        os_id: os_id.into(),
        cpus: 2,
        mem_bytes: 4 << 30,
        fstab: Some("UUID=1 / ext4 defaults 0 1\n/dev/sda2 none swap sw 0 0\n".into()),
        etc_hosts: Some("127.0.0.1 localhost\n".into()),
        swaps: vec!["/dev/sda2".into()],
        ..HostFacts::default()
    }
}

fn container_facts() -> HostFacts {
    HostFacts {
        os_id: "debian".into(),
        container: Some("systemd-nspawn".into()),
        fstab: Some("# UNCONFIGURED FSTAB\n".into()),
        etc_hosts: Some("127.0.0.1 localhost\n".into()),
        ..HostFacts::default()
    }
}

fn facts_all(f: HostFacts) -> HashMap<String, HostFacts> {
    inventory()
        .hosts
        .iter()
        .map(|h| (h.name.clone(), f.clone()))
        .collect()
}

fn file<'a>(plan: &'a Plan, host: &str, path: &str) -> &'a FileSpec {
    plan.phases[0]
        .hosts
        .iter()
        .find(|h| h.host == host)
        .and_then(|h| {
            h.steps.iter().find_map(|s| match s {
                Step::File(f) if f.path.to_str() == Some(path) => Some(f),
                _ => None,
            })
        })
        .unwrap_or_else(|| panic!("{host} has no {path}"))
}

fn text(f: &FileSpec) -> String {
    String::from_utf8(f.content.to_vec()).unwrap()
}

#[test]
fn rendered_files() {
    let plan = plan_hostprep(&inventory(), &facts_all(vm_facts("debian")));
    insta::assert_snapshot!("etc_hosts", text(file(&plan, "k8s-node1", "/etc/hosts")));
    insta::assert_snapshot!(
        "sysctl_k8s_conf",
        text(file(&plan, "k8s-node1", "/etc/sysctl.d/k8s.conf"))
    );
    insta::assert_snapshot!(
        "modules_k8s_conf",
        text(file(&plan, "k8s-node1", "/etc/modules-load.d/k8s.conf"))
    );
    insta::assert_snapshot!(
        "modules_ipvs_conf",
        text(file(&plan, "k8s-node1", "/etc/modules-load.d/ipvs.conf"))
    );
    insta::assert_snapshot!("fstab", text(file(&plan, "k8s-node1", "/etc/fstab")));
    assert_eq!(
        text(file(&plan, "k8s-node1", "/etc/hostname")),
        "k8s-node1\n"
    );
    assert!(file(&plan, "k8s-node1", "/etc/hosts").backup);
    assert!(file(&plan, "k8s-node1", "/etc/fstab").backup);
}

#[test]
fn sysctl_sets_iptables_and_ip6tables_once_each() {
    let s = render_sysctl();
    assert_eq!(
        s.matches("net.bridge.bridge-nf-call-iptables = 1").count(),
        1
    );
    assert_eq!(
        s.matches("net.bridge.bridge-nf-call-ip6tables = 1").count(),
        1
    );
    assert_eq!(s.matches("net.ipv4.ip_forward = 1").count(), 1);
}

#[test]
fn rhel_gets_selinux_and_firewalld_steps_debian_does_not() {
    let mut rhel = vm_facts("centos");
    rhel.os_like = vec!["rhel".into(), "fedora".into()];
    rhel.firewalld = true;
    rhel.chrony_unit = Some("chronyd.service".into());
    rhel.selinux_config = Some("# comment\nSELINUX=enforcing\nSELINUXTYPE=targeted\n".into());
    let plan = plan_hostprep(&inventory(), &facts_all(rhel));
    let cfg = file(&plan, "k8s-master1", "/etc/selinux/config");
    assert_eq!(
        text(cfg),
        "# comment\nSELINUX=permissive\nSELINUXTYPE=targeted\n"
    );
    let steps = &plan.phases[0].hosts[0].steps;
    assert!(steps.iter().any(|s| matches!(s, Step::Unit(u) if u.name == "firewalld.service" && !u.enabled && u.running == Some(false))));
    assert!(steps.iter().any(
        |s| matches!(s, Step::Unit(u) if u.name == "chronyd.service" && u.running == Some(true))
    ));

    let mut deb = vm_facts("debian");
    deb.selinux_config = Some("SELINUX=enforcing\n".into());
    let plan = plan_hostprep(&inventory(), &facts_all(deb));
    let steps = &plan.phases[0].hosts[0].steps;
    assert!(
        !steps
            .iter()
            .any(|s| matches!(s, Step::File(f) if f.path.starts_with("/etc/selinux")))
    );
    assert!(
        !steps
            .iter()
            .any(|s| matches!(s, Step::Unit(u) if u.name == "firewalld.service"))
    );
}

#[test]
fn in_a_container_swap_modules_sysctl_and_clock_are_not_applicable() {
    let plan = plan_hostprep(&inventory(), &facts_all(container_facts()));
    let steps = &plan.phases[0].hosts[0].steps;
    let na: Vec<(&str, &str)> = steps
        .iter()
        .filter_map(|s| match s {
            Step::NotApplicable { what, why } => Some((what.as_str(), why.as_str())),
            _ => None,
        })
        .collect();
    assert_eq!(na.len(), 4, "{na:?}");
    assert!(na.iter().all(|(_, why)| why.contains("systemd-nspawn")));
    assert!(na[0].0.starts_with("swap off"));
    assert!(na[1].0.starts_with("load kernel modules"));
    assert!(na[2].0.starts_with("apply sysctl"));
    assert_eq!(na[3].0, "time sync");
    // The config files are still written.
    file(&plan, "k8s-master1", "/etc/sysctl.d/k8s.conf");
    file(&plan, "k8s-master1", "/etc/modules-load.d/k8s.conf");
    // No fstab edit when there is no swap line, and no command that would fail.
    assert!(
        !steps
            .iter()
            .any(|s| matches!(s, Step::File(f) if f.path.ends_with("fstab")))
    );
    assert!(!steps.iter().any(|s| matches!(s, Step::Command(c) if c.command.contains("swapoff") || c.command.contains("modprobe"))));
}

#[test]
fn hosts_without_facts_are_left_out() {
    let mut facts = facts_all(container_facts());
    facts.remove("k8s-node2");
    let plan = plan_hostprep(&inventory(), &facts);
    let hosts: Vec<&str> = plan.phases[0]
        .hosts
        .iter()
        .map(|h| h.host.as_str())
        .collect();
    assert_eq!(hosts, ["k8s-master1", "k8s-node1"]);
}

#[test]
fn applying_the_prepare_plan_twice_changes_nothing() {
    let inv = inventory();
    let facts = facts_all(container_facts());
    let plan = plan_hostprep(&inv, &facts);
    let shared: Vec<Shared> = inv
        .hosts
        .iter()
        .map(|h| {
            let mut t = RecordingTransport::new(&h.name);
            t.with_file("/etc/hosts", "127.0.0.1 localhost\n", 0o644);
            Shared::new(t)
        })
        .collect();
    let mut map: BTreeMap<String, Box<dyn Transport>> = shared
        .iter()
        .map(|s| (s.host().to_string(), s.boxed()))
        .collect();
    let opts = ApplyOptions {
        dry_run: false,
        parallel: 3,
        output: Output::Quiet,
    };
    let first = apply_with(&plan, &mut map, &opts, &Silent);
    assert!(first.is_success(), "{}", first.render_text());
    assert_eq!(first.hosts["k8s-node1"].not_applicable.len(), 4);
    let hosts = shared[1].lock().text("/etc/hosts").unwrap();
    assert!(
        hosts.starts_with("127.0.0.1 localhost\n# BEGIN kubin"),
        "{hosts}"
    );
    // A second gathering would see the new /etc/hosts; the plan from it is the same.
    let mut facts2 = facts.clone();
    for f in facts2.values_mut() {
        f.etc_hosts = Some(hosts.clone());
    }
    let plan2 = plan_hostprep(&inv, &facts2);
    let second = apply_with(&plan2, &mut map, &opts, &Silent);
    assert_eq!(second.total_changes(), 0, "{}", second.render_text());
}

#[test]
fn merging_keeps_everything_outside_the_block() {
    let block = render_hosts_entries(&[(IpAddr::V4(Ipv4Addr::new(10, 0, 0, 1)), "a".into())]);
    let existing = format!(
        "127.0.0.1 localhost\n{HOSTS_BEGIN}\n1.1.1.1 old\n{HOSTS_END}\n::1 ip6-localhost\n"
    );
    let merged = merge_hosts(&existing, &block);
    assert_eq!(
        merged,
        format!("127.0.0.1 localhost\n{HOSTS_BEGIN}\n10.0.0.1 a\n{HOSTS_END}\n::1 ip6-localhost\n")
    );
    assert_eq!(merge_hosts(&merged, &block), merged);
    assert_eq!(
        merge_hosts("no newline", &block),
        format!("no newline\n{block}")
    );
}

#[test]
fn swap_lines_are_commented_once() {
    let fstab = "UUID=1 / ext4 defaults 0 1\n/swapfile none swap sw 0 0\n# /old none swap sw 0 0\n";
    let once = comment_out_swap(fstab);
    assert_eq!(
        once,
        "UUID=1 / ext4 defaults 0 1\n#kubin-swapoff# /swapfile none swap sw 0 0\n# /old none swap sw 0 0\n"
    );
    assert!(!fstab_has_swap(&once));
    assert_eq!(comment_out_swap(&once), once);
}

fn label() -> impl Strategy<Value = String> {
    "[a-z][a-z0-9-]{0,20}[a-z0-9]"
}

proptest! {
    #[test]
    fn hosts_block_round_trips(entries in proptest::collection::vec((any::<[u8; 4]>(), label()), 0..12),
                               before in "[a-z0-9 .\n]{0,60}", after in "[a-z0-9 .\n]{0,60}") {
        let entries: Vec<(IpAddr, String)> = entries
            .into_iter()
            .map(|(a, n)| (IpAddr::V4(Ipv4Addr::from(a)), n))
            .collect();
        let block = render_hosts_entries(&entries);
        let existing = format!("{before}\n{after}");
        let merged = merge_hosts(&existing, &block);
        prop_assert_eq!(parse_hosts_block(&merged), Some(entries.clone()));
        // Re-merging is a fixed point, and the text outside the block survives.
        prop_assert_eq!(merge_hosts(&merged, &block), merged.clone());
        prop_assert!(merged.starts_with(existing.trim_end_matches('\n')));
    }

    #[test]
    fn commenting_swap_is_idempotent(lines in proptest::collection::vec("[a-z/#]{1,8} [a-z/]{1,6} (swap|ext4|xfs) [a-z]{1,4} 0 0", 0..8)) {
        let fstab: String = lines.iter().map(|l| format!("{l}\n")).collect();
        let once = comment_out_swap(&fstab);
        prop_assert!(!fstab_has_swap(&once));
        prop_assert_eq!(comment_out_swap(&once), once.clone());
        prop_assert_eq!(once.lines().count(), fstab.lines().count());
    }
}
