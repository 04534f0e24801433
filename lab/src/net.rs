//! The lab's links on the outer machine: its bridge and the machines' veth ends.

use crate::cmd::{cmd, output, run};
use crate::error::Result;
use std::net::Ipv4Addr;

/// Whether interface `name` exists.
pub(crate) fn link_exists(name: &str) -> bool {
    output(&mut cmd("ip", ["link", "show", "dev", name]))
        .map(|o| o.status.success())
        .unwrap_or(false)
}

/// Creates bridge `name` with `gateway/24` and brings it up (replacing a stale one).
pub(crate) fn create_bridge(name: &str, gateway: Ipv4Addr) -> Result<()> {
    delete_link(name)?;
    run(&mut cmd("ip", ["link", "add", name, "type", "bridge"]))?;
    run(&mut cmd(
        "ip",
        ["addr", "add", &format!("{gateway}/24"), "dev", name],
    ))?;
    run(&mut cmd("ip", ["link", "set", name, "up"]))?;
    Ok(())
}

/// Deletes interface `name` if it exists.
pub(crate) fn delete_link(name: &str) -> Result<()> {
    if link_exists(name) {
        run(&mut cmd("ip", ["link", "del", name]))?;
    }
    Ok(())
}

/// Sets interface `name` up or down.
pub(crate) fn set_link(name: &str, up: bool) -> Result<()> {
    run(&mut cmd(
        "ip",
        ["link", "set", "dev", name, if up { "up" } else { "down" }],
    ))?;
    Ok(())
}

/// Third octets of every `10.213.X.Y` address configured on this machine.
pub(crate) fn subnets_in_use() -> Vec<u8> {
    let text = run(&mut cmd("ip", ["-o", "-4", "addr", "show"])).unwrap_or_default();
    parse_lab_subnets(&text)
}

/// The third octets of `10.213.X.Y/..` addresses in `ip -o -4 addr` output.
pub(crate) fn parse_lab_subnets(text: &str) -> Vec<u8> {
    text.split_whitespace()
        .filter_map(|w| w.split('/').next())
        .filter_map(|a| a.parse::<Ipv4Addr>().ok())
        .filter(|a| a.octets()[..2] == crate::names::SUBNET_BASE)
        .map(|a| a.octets()[2])
        .collect()
}

#[cfg(test)]
mod tests {
    #[test]
    fn finds_lab_subnets() {
        let text = "1: lo    inet 127.0.0.1/8 scope host lo\n5: kl-x-1234    inet 10.213.42.1/24 scope global kl-x-1234\n6: eth0 inet 10.214.1.1/24\n";
        assert_eq!(super::parse_lab_subnets(text), vec![42]);
    }
}
