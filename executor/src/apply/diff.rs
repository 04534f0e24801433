//! Dry-run descriptions of a file change: a unified diff for text, a note for secrets.

use similar::TextDiff;

/// How the change from `old` to `new` is shown; a secret's content is never shown.
pub(crate) fn describe(path: &str, old: Option<&[u8]>, new: &[u8], secret: bool) -> String {
    if secret {
        return match old {
            None => format!("create ({} bytes, secret)", new.len()),
            Some(_) => "content changed (secret)".into(),
        };
    }
    let new_text = std::str::from_utf8(new);
    let old_text = old.map(std::str::from_utf8);
    match (old_text, new_text) {
        (None, Ok(n)) => unified(path, "", n),
        (Some(Ok(o)), Ok(n)) => unified(path, o, n),
        (None, Err(_)) => format!("create ({} bytes, binary)", new.len()),
        _ => format!("binary content changed ({} bytes)", new.len()),
    }
}

fn unified(path: &str, old: &str, new: &str) -> String {
    TextDiff::from_lines(old, new)
        .unified_diff()
        .context_radius(3)
        .header(&format!("{path} (on host)"), &format!("{path} (planned)"))
        .to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn secrets_are_described_not_shown() {
        let d = describe("/k", Some(b"OLD SECRET"), b"NEW SECRET", true);
        assert_eq!(d, "content changed (secret)");
        assert!(!describe("/k", None, b"NEW SECRET", true).contains("SECRET"));
    }

    #[test]
    fn text_gets_a_unified_diff() {
        let d = describe("/etc/x", Some(b"a\nb\n"), b"a\nc\n", false);
        assert!(d.contains("-b\n") && d.contains("+c\n"), "{d}");
    }
}
