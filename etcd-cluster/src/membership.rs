//! Decisions about the member list: does the running cluster match the inventory, may a
//! member be removed, which member is to be added. Pure: the shell fetches the live list.

use crate::Error;
use inventory::Inventory;
use serde::Serialize;

/// One member as the running cluster reports it (`MemberList`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct LiveMember {
    /// The member ID, as etcdctl prints it (hex).
    pub id: String,
    /// Its name (empty while an added member has not started yet).
    pub name: String,
    /// Its peer URLs.
    pub peer_urls: Vec<String>,
    /// Its client URLs (empty until it started).
    pub client_urls: Vec<String>,
    /// A learner (non-voting) member.
    pub is_learner: bool,
}

/// The quorum of a cluster of `members` voting members.
pub fn quorum(members: usize) -> usize {
    members / 2 + 1
}

/// Checks that the running cluster has exactly the inventory's members (by name and peer
/// URL); otherwise the deploy is refused and the difference named.
pub fn check_membership(inv: &Inventory, live: &[LiveMember]) -> Result<(), Error> {
    let wanted: Vec<String> = inv
        .etcd_members()
        .iter()
        .map(|h| format!("{}={}", h.name, Inventory::etcd_peer_url(h)))
        .collect();
    let running: Vec<String> = live
        .iter()
        .flat_map(|m| {
            let name = if m.name.is_empty() {
                "(unstarted)"
            } else {
                m.name.as_str()
            };
            m.peer_urls.iter().map(move |u| format!("{name}={u}"))
        })
        .collect();
    let only_live: Vec<String> = running
        .iter()
        .filter(|r| !wanted.contains(r))
        .cloned()
        .collect();
    let only_inventory: Vec<String> = wanted
        .iter()
        .filter(|w| !running.contains(w))
        .cloned()
        .collect();
    if only_live.is_empty() && only_inventory.is_empty() {
        Ok(())
    } else {
        Err(Error::MembershipChange {
            only_live,
            only_inventory,
        })
    }
}

/// Decides whether `name` may be removed: it must be a member, and the members left must
/// still have a quorum of healthy voters (`healthy` names the members that answered).
pub fn check_remove<'a>(
    live: &'a [LiveMember],
    healthy: &[String],
    name: &str,
) -> Result<&'a LiveMember, Error> {
    let target = live
        .iter()
        .find(|m| m.name == name)
        .ok_or_else(|| Error::Member {
            member: name.into(),
            message: format!(
                "not in the running cluster (members: {})",
                live.iter()
                    .map(|m| m.name.as_str())
                    .collect::<Vec<_>>()
                    .join(", ")
            ),
        })?;
    if target.is_learner {
        // A learner does not vote: removing it never changes the quorum.
        return Ok(target);
    }
    let voters_after: Vec<&LiveMember> = live
        .iter()
        .filter(|m| !m.is_learner && m.name != name)
        .collect();
    let healthy_after = voters_after
        .iter()
        .filter(|m| healthy.contains(&m.name))
        .count();
    let needed = quorum(voters_after.len());
    if voters_after.is_empty() || healthy_after < needed {
        return Err(Error::WouldLoseQuorum {
            member: name.into(),
            healthy_after,
            members_after: voters_after.len(),
            quorum: needed,
        });
    }
    Ok(target)
}

/// The peer URL of the inventory member `name` that is to join, refusing one the running
/// cluster already has.
pub fn check_add(inv: &Inventory, live: &[LiveMember], name: &str) -> Result<String, Error> {
    let host = crate::render::member(inv, name)?;
    let url = Inventory::etcd_peer_url(host);
    if let Some(m) = live
        .iter()
        .find(|m| m.name == name || m.peer_urls.contains(&url))
    {
        return Err(Error::Member {
            member: name.into(),
            message: format!(
                "already in the running cluster (id {}, peer URLs {})",
                m.id,
                m.peer_urls.join(",")
            ),
        });
    }
    Ok(url)
}

#[cfg(test)]
mod tests {
    use super::*;
    use inventory::example::GUIDES_EXAMPLE;

    fn guides() -> Inventory {
        Inventory::from_yaml(GUIDES_EXAMPLE, "example").unwrap().0
    }

    fn live(inv: &Inventory) -> Vec<LiveMember> {
        inv.etcd_members()
            .iter()
            .enumerate()
            .map(|(i, h)| LiveMember {
                id: format!("{i:x}"),
                name: h.name.clone(),
                peer_urls: vec![Inventory::etcd_peer_url(h)],
                client_urls: vec![Inventory::etcd_client_url(h)],
                is_learner: false,
            })
            .collect()
    }

    #[test]
    fn same_members_pass_and_differences_are_named() {
        let inv = guides();
        let mut members = live(&inv);
        check_membership(&inv, &members).unwrap();
        members.pop();
        members.push(LiveMember {
            id: "9".into(),
            name: "old-node".into(),
            peer_urls: vec!["https://192.168.31.70:2380".into()],
            client_urls: vec![],
            is_learner: false,
        });
        let err = check_membership(&inv, &members).unwrap_err();
        match &err {
            Error::MembershipChange {
                only_live,
                only_inventory,
            } => {
                assert_eq!(only_live, &["old-node=https://192.168.31.70:2380"]);
                assert_eq!(only_inventory, &["k8s-node2=https://192.168.31.66:2380"]);
            }
            other => panic!("{other:?}"),
        }
        assert!(err.to_string().contains("kubin etcd member add"), "{err}");
    }

    #[track_caller]
    fn check_rm(healthy: &[&str], name: &str, ok: bool) {
        let members = live(&guides());
        let healthy: Vec<String> = healthy.iter().map(|s| s.to_string()).collect();
        assert_eq!(check_remove(&members, &healthy, name).is_ok(), ok);
    }

    #[test]
    fn remove_keeps_quorum() {
        let all = ["k8s-master1", "k8s-node1", "k8s-node2"];
        check_rm(&all, "k8s-node2", true);
        // Removing a dead member from a degraded cluster is how it is repaired.
        check_rm(&["k8s-master1", "k8s-node1"], "k8s-node2", true);
        // Removing a healthy member while another is down leaves 1 of 2: no quorum.
        check_rm(&["k8s-master1", "k8s-node1"], "k8s-node1", false);
        check_rm(&all, "nobody", false);
    }

    #[test]
    fn the_last_member_is_never_removed() {
        let members = live(&guides())[..1].to_vec();
        assert!(matches!(
            check_remove(&members, &["k8s-master1".into()], "k8s-master1"),
            Err(Error::WouldLoseQuorum {
                members_after: 0,
                ..
            })
        ));
    }

    #[test]
    fn adding_an_existing_member_is_refused() {
        let inv = guides();
        let members = live(&inv);
        assert!(check_add(&inv, &members, "k8s-node1").is_err());
        assert_eq!(
            check_add(&inv, &members[..2], "k8s-node2").unwrap(),
            "https://192.168.31.66:2380"
        );
    }

    #[test]
    fn quorum_sizes() {
        assert_eq!([1, 2, 3, 4, 5].map(quorum), [1, 2, 2, 3, 3],);
    }
}
