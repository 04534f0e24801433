//! Quoting for POSIX shell command lines, the one implementation every plan and the
//! executor use.
//!
//! Plans carry commands as text run through `sh -c`; a path or name spliced into one must
//! reach the command as one word, whatever spaces, quotes or shell syntax it holds.

use std::path::Path;

/// Quotes `s` as one POSIX shell word: unchanged when it holds only characters no shell
/// treats specially (letters, digits, `/._-:=+,@%`), otherwise in single quotes with each
/// embedded `'` written `'\''`. The empty string is `''`.
pub fn quote(s: &str) -> String {
    if !s.is_empty()
        && s.bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"/._-:=+,@%".contains(&b))
    {
        return s.to_string();
    }
    format!("'{}'", s.replace('\'', r"'\''"))
}

/// Quotes a path as one shell word (see [`quote`]; a non-UTF-8 path is taken lossily).
pub fn quote_path(p: &Path) -> String {
    quote(&p.to_string_lossy())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[track_caller]
    fn check(input: &str, expected: &str) {
        assert_eq!(quote(input), expected, "quote({input:?})");
    }

    #[test]
    fn quoting() {
        check("/etc/hosts", "/etc/hosts");
        check("etcd.service", "etcd.service");
        check("a b", "'a b'");
        check("it's", r"'it'\''s'");
        check("'", r"''\'''");
        check("a 'b c' d", r"'a '\''b c'\'' d'");
        check("", "''");
        check("$HOME", "'$HOME'");
        check("x;rm -rf /", "'x;rm -rf /'");
        check("line\nbreak", "'line\nbreak'");
        assert_eq!(
            quote_path(Path::new("/var/lib/my dir")),
            "'/var/lib/my dir'"
        );
    }

    /// What a real `sh` makes of the quoted word: exactly the input, as one argument.
    #[test]
    fn sh_reads_back_one_word() {
        for input in [
            "",
            "a b",
            "it's",
            "'",
            "\"x\" $y `z` \\",
            " lead",
            "tab\there",
        ] {
            let out = std::process::Command::new("sh")
                .arg("-c")
                .arg(format!("printf '%s|' {}", quote(input)))
                .output()
                .expect("sh runs");
            assert_eq!(String::from_utf8_lossy(&out.stdout), format!("{input}|"));
        }
    }
}
