//! Where a problem's path (`hosts[2].address`, `network.pod_cidr`) is in the file's text: its
//! line, found by indentation in block-style YAML, so an error names the line to edit.

/// One step of a path.
enum Segment<'a> {
    Key(&'a str),
    Index(usize),
}

fn segments(path: &str) -> Vec<Segment<'_>> {
    let mut out = Vec::new();
    for part in path.split('.') {
        let (key, mut rest) = part.split_once('[').map_or((part, ""), |(k, r)| (k, r));
        if !key.is_empty() {
            out.push(Segment::Key(key));
        }
        while let Some((n, after)) = rest.split_once(']') {
            if let Ok(i) = n.parse() {
                out.push(Segment::Index(i));
            }
            rest = after.strip_prefix('[').unwrap_or(after);
        }
    }
    out
}

/// A content line's shape: key indentation, whether it opens a list item, its key.
type Shape<'a> = (usize, bool, Option<&'a str>);

/// A content line's key indentation (after a list item's `- `), whether it opens a list
/// item, and its key (`None` for a plain list value).
fn shape(line: &str) -> Option<Shape<'_>> {
    let trimmed = line.trim_start();
    if trimmed.is_empty() || trimmed.starts_with('#') {
        return None;
    }
    let mut indent = line.len() - trimmed.len();
    let (item, rest) = match trimmed.strip_prefix("- ") {
        Some(r) => {
            indent += 2;
            (true, r.trim_start())
        }
        None => (trimmed == "-", trimmed),
    };
    let key = rest
        .split_once(':')
        .map(|(k, _)| k.trim().trim_matches(|c| c == '"' || c == '\''));
    Some((indent, item, key))
}

/// The 1-based line of `path` in `text`; `None` when it cannot be found (flow style, a key
/// the file lacks because a default applies).
pub fn line_of(text: &str, path: &str) -> Option<usize> {
    let lines: Vec<&str> = text.lines().collect();
    let (mut start, mut end) = (0, lines.len());
    let mut found = None;
    for seg in segments(path) {
        let content: Vec<(usize, Shape<'_>)> = (start..end)
            .filter_map(|i| shape(lines[i]).map(|s| (i, s)))
            .collect();
        let level = content.iter().map(|(_, (ind, ..))| *ind).min()?;
        let at = match seg {
            Segment::Key(k) => content
                .iter()
                .find(|(_, (ind, _, key))| *ind == level && *key == Some(k))
                .map(|(i, _)| *i)?,
            Segment::Index(n) => content
                .iter()
                .filter(|(_, (ind, item, _))| *item && *ind == level)
                .nth(n)
                .map(|(i, _)| *i)?,
        };
        let next = content
            .iter()
            .find(|(i, (ind, item, _))| {
                *i > at
                    && (*ind < level
                        || (*ind == level && (matches!(seg, Segment::Key(_)) || *item)))
            })
            .map_or(end, |(i, _)| *i);
        found = Some(at);
        // A key's children start below it; a list item's keys start on its own line.
        start = if matches!(seg, Segment::Key(_)) {
            at + 1
        } else {
            at
        };
        end = next;
    }
    found.map(|i| i + 1)
}

#[cfg(test)]
mod tests {
    use super::line_of;

    const TEXT: &str = "# a comment\ncluster_name: lab\n\nnetwork:\n  pod_cidr: 172.17.0.0/16\n  flannel:\n    backend: vxlan\nhosts:\n  - name: a\n    address: 10.0.0.1\n  - name: b\n    address: 10.0.0.2\n    roles: [etcd]\npki_dir: pki\n";

    #[track_caller]
    fn check(path: &str, line: Option<usize>) {
        assert_eq!(line_of(TEXT, path), line, "{path}");
    }

    #[test]
    fn lines_of_paths() {
        check("cluster_name", Some(2));
        check("network.pod_cidr", Some(5));
        check("network.flannel.backend", Some(7));
        check("hosts[0]", Some(9));
        check("hosts[1].address", Some(12));
        check("hosts[1].name", Some(11));
        check("hosts[1].roles", Some(13));
        check("pki_dir", Some(14));
        check("hosts[2].address", None);
        check("kubernetes.version", None);
    }
}
