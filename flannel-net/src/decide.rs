//! Whether writing a config may go ahead, given what the key holds now: a pure decision.

use crate::netconf::{NetConf, REDACTED};
use similar::TextDiff;

/// What writing the config to a key that holds `existing` means.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum WriteDecision {
    /// The key is empty: create it (only if it is still empty when written).
    Create,
    /// The key already holds this config (same meaning, whatever its spacing): nothing to do.
    Unchanged,
    /// The key holds a different config and replacing was asked for: swap it (only if it
    /// still holds `old_raw` when written).
    Replace {
        /// The value as stored, for the compare-and-swap.
        old_raw: String,
        /// The old value for display (secrets redacted).
        old_shown: String,
        /// A unified diff of old and new (secrets redacted).
        diff: String,
    },
    /// The key holds a different config and replacing was not asked for.
    Refuse {
        /// The old value for display (secrets redacted).
        old_shown: String,
        /// A unified diff of old and new (secrets redacted).
        diff: String,
    },
}

/// How a stored value is shown: redacted pretty JSON if it parses; the raw text if not,
/// unless it might hold a PSK.
pub fn shown(raw: &str) -> String {
    match serde_json::from_str::<NetConf>(raw) {
        Ok(c) => c.redacted().to_json_pretty(),
        Err(_) if raw.to_ascii_uppercase().contains("PSK") => {
            format!("(not valid flannel JSON; withheld because it may hold a PSK: {REDACTED})")
        }
        Err(_) => raw.to_string(),
    }
}

/// A unified diff of two texts, `-` for `old`, `+` for `new`.
pub fn diff(old: &str, new: &str) -> String {
    let mut old = old.to_string();
    let mut new = new.to_string();
    for s in [&mut old, &mut new] {
        if !s.ends_with('\n') {
            s.push('\n');
        }
    }
    TextDiff::from_lines(&old, &new)
        .unified_diff()
        .context_radius(3)
        .header("current", "new")
        .to_string()
}

/// Decides what writing `new` means when the key holds `existing`.
pub fn decide(existing: Option<&str>, new: &NetConf, replace: bool) -> WriteDecision {
    let Some(raw) = existing else {
        return WriteDecision::Create;
    };
    if serde_json::from_str::<NetConf>(raw).is_ok_and(|old| &old == new) {
        return WriteDecision::Unchanged;
    }
    let old_shown = shown(raw);
    let diff = diff(&old_shown, &new.redacted().to_json_pretty());
    if replace {
        WriteDecision::Replace {
            old_raw: raw.to_string(),
            old_shown,
            diff,
        }
    } else {
        WriteDecision::Refuse { old_shown, diff }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn guides() -> NetConf {
        NetConf::parse(
            r#"{"Network":"172.17.0.0/16","Backend":{"Type":"vxlan"}}"#,
            "t",
        )
        .unwrap()
    }

    #[test]
    fn empty_key_is_created_and_equal_config_is_left() {
        assert_eq!(decide(None, &guides(), false), WriteDecision::Create);
        let spaced = r#"{ "Network": "172.17.0.0/16", "Backend": { "Type": "vxlan" } }"#;
        assert_eq!(
            decide(Some(spaced), &guides(), false),
            WriteDecision::Unchanged
        );
    }

    #[test]
    fn a_different_config_is_refused_with_a_diff_unless_replace() {
        let old = r#"{"Network":"10.244.0.0/16","Backend":{"Type":"host-gw"}}"#;
        let WriteDecision::Refuse { old_shown, diff } = decide(Some(old), &guides(), false) else {
            panic!("expected a refusal");
        };
        assert!(old_shown.contains("10.244.0.0/16"));
        insta::assert_snapshot!(diff);
        assert!(matches!(
            decide(Some(old), &guides(), true),
            WriteDecision::Replace { old_raw, .. } if old_raw == old
        ));
    }

    #[test]
    fn secrets_never_show() {
        let old = r#"{"Network":"10.1.0.0/16","Backend":{"Type":"wireguard","PSK":"s3cr3t"}}"#;
        let WriteDecision::Refuse { old_shown, diff } = decide(Some(old), &guides(), false) else {
            panic!("expected a refusal");
        };
        assert!(!old_shown.contains("s3cr3t") && !diff.contains("s3cr3t"));
        assert!(!shown("{\"PSK\":\"s3cr3t\"").contains("s3cr3t"));
    }
}
