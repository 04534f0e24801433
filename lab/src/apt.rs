//! The machine's own apt configuration: the Debian mirror (read at run time, never written
//! into the repository), the harness's `deb-src` file, package installs and versions.

use crate::cmd::{cmd, output, run};
use crate::error::{Error, Result, io};
use std::path::{Path, PathBuf};

/// The suite every lab machine and the Kubernetes source come from.
pub const SUITE: &str = "bookworm";
/// The harness's own source list, holding `deb-src` twins of the machine's `deb` entries.
pub const DEB_SRC_FILE: &str = "/etc/apt/sources.list.d/kubin-src.sources";

/// One apt source entry, from either format (deb822 `.sources` or one-line `.list`).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct AptSource {
    /// `deb`, `deb-src`.
    pub types: Vec<String>,
    /// The repository URIs.
    pub uris: Vec<String>,
    /// The suites (`bookworm`, `bookworm-updates`).
    pub suites: Vec<String>,
    /// The components (`main`).
    pub components: Vec<String>,
    /// The keyring file, when given as a path.
    pub signed_by: Option<String>,
}

/// Parses deb822 `.sources` text; stanzas with `Enabled: no` are left out.
pub fn parse_deb822(text: &str) -> Vec<AptSource> {
    let mut out = Vec::new();
    let mut cur = AptSource::default();
    let mut enabled = true;
    let mut any = false;
    let mut last_key = String::new();
    let mut flush = |cur: &mut AptSource, enabled: &mut bool, any: &mut bool| {
        if *any && *enabled {
            out.push(std::mem::take(cur));
        }
        *cur = AptSource::default();
        *enabled = true;
        *any = false;
    };
    for line in text.lines() {
        if line.trim().is_empty() {
            flush(&mut cur, &mut enabled, &mut any);
            continue;
        }
        if line.starts_with('#') {
            continue;
        }
        if line.starts_with(' ') || line.starts_with('\t') {
            // A continuation line (an embedded key): a Signed-By that is not a path.
            if last_key.eq_ignore_ascii_case("signed-by") {
                cur.signed_by = None;
            }
            continue;
        }
        let Some((key, value)) = line.split_once(':') else {
            continue;
        };
        any = true;
        last_key = key.trim().to_string();
        let words = || {
            value
                .split_whitespace()
                .map(String::from)
                .collect::<Vec<_>>()
        };
        match key.trim().to_ascii_lowercase().as_str() {
            "types" => cur.types = words(),
            "uris" => cur.uris = words(),
            "suites" => cur.suites = words(),
            "components" => cur.components = words(),
            "signed-by" => {
                let v = value.trim();
                cur.signed_by = (!v.is_empty()).then(|| v.to_string());
            }
            "enabled" => enabled = !value.trim().eq_ignore_ascii_case("no"),
            _ => {}
        }
    }
    flush(&mut cur, &mut enabled, &mut any);
    out
}

/// Parses one-line `sources.list` text (`deb [options] URI SUITE COMPONENT...`).
pub fn parse_one_line(text: &str) -> Vec<AptSource> {
    let mut out = Vec::new();
    for line in text.lines() {
        let line = line.split('#').next().unwrap_or("").trim();
        let mut words = line.split_whitespace().peekable();
        let Some(kind) = words.next() else { continue };
        if kind != "deb" && kind != "deb-src" {
            continue;
        }
        let mut signed_by = None;
        if words.peek().is_some_and(|w| w.starts_with('[')) {
            for w in words.by_ref() {
                let opt = w.trim_start_matches('[').trim_end_matches(']');
                if let Some(v) = opt.strip_prefix("signed-by=") {
                    signed_by = Some(v.to_string());
                }
                if w.ends_with(']') {
                    break;
                }
            }
        }
        let (Some(uri), Some(suite)) = (words.next(), words.next()) else {
            continue;
        };
        out.push(AptSource {
            types: vec![kind.to_string()],
            uris: vec![uri.to_string()],
            suites: vec![suite.to_string()],
            components: words.map(String::from).collect(),
            signed_by,
        });
    }
    out
}

fn is_main_deb(s: &AptSource, suite: &str) -> bool {
    s.types.iter().any(|t| t == "deb")
        && s.suites.iter().any(|x| x == suite)
        && s.components.iter().any(|c| c == "main")
        && !s.uris.is_empty()
}

/// The mirror serving `suite`'s `main` as a binary (`deb`) source.
pub fn mirror_for(sources: &[AptSource], suite: &str) -> Option<String> {
    sources
        .iter()
        .find(|s| is_main_deb(s, suite))
        .and_then(|s| s.uris.first().cloned())
}

/// The harness's deb-src file: a `deb-src` twin of every `deb` entry serving `suite`'s
/// `main`, with the same URIs, suites and components.
pub fn render_deb_src(sources: &[AptSource], suite: &str) -> Option<String> {
    let stanzas: Vec<String> = sources
        .iter()
        .filter(|s| is_main_deb(s, suite))
        .map(|s| {
            let mut t = format!(
                "Types: deb-src\nURIs: {}\nSuites: {}\nComponents: {}\n",
                s.uris.join(" "),
                s.suites.join(" "),
                s.components.join(" ")
            );
            if let Some(k) = &s.signed_by {
                t.push_str(&format!("Signed-By: {k}\n"));
            }
            t
        })
        .collect();
    (!stanzas.is_empty()).then(|| stanzas.join("\n"))
}

/// Reads every apt source of this machine (except the harness's own deb-src file).
pub fn machine_sources() -> Result<Vec<AptSource>> {
    let mut out = Vec::new();
    let list = Path::new("/etc/apt/sources.list");
    if list.exists() {
        let text = std::fs::read_to_string(list).map_err(io("cannot read", list))?;
        out.extend(parse_one_line(&text));
    }
    let dir = Path::new("/etc/apt/sources.list.d");
    let mut files: Vec<PathBuf> = match std::fs::read_dir(dir) {
        Ok(rd) => rd.filter_map(|e| e.ok().map(|e| e.path())).collect(),
        Err(_) => Vec::new(),
    };
    files.sort();
    for f in files {
        if f == Path::new(DEB_SRC_FILE) {
            continue;
        }
        let parse: fn(&str) -> Vec<AptSource> = match f.extension().and_then(|e| e.to_str()) {
            Some("sources") => parse_deb822,
            Some("list") => parse_one_line,
            _ => continue,
        };
        let text = std::fs::read_to_string(&f).map_err(io("cannot read", &f))?;
        out.extend(parse(&text));
    }
    Ok(out)
}

/// The Debian mirror of this machine for [`SUITE`].
pub fn mirror() -> Result<String> {
    mirror_for(&machine_sources()?, SUITE).ok_or_else(|| Error::NoMirror {
        suite: SUITE.into(),
    })
}

/// Makes sure [`DEB_SRC_FILE`] holds the deb-src twins of the machine's sources, running
/// `apt-get update` when it had to change the file.
pub fn ensure_deb_src() -> Result<()> {
    let want = render_deb_src(&machine_sources()?, SUITE).ok_or_else(|| Error::NoMirror {
        suite: SUITE.into(),
    })?;
    let have = std::fs::read_to_string(DEB_SRC_FILE).unwrap_or_default();
    if have != want {
        std::fs::write(DEB_SRC_FILE, &want).map_err(io("cannot write", DEB_SRC_FILE))?;
        run(&mut cmd("apt-get", ["update", "-q"]))?;
    }
    Ok(())
}

/// The installed version of `package`, if it is installed.
pub fn installed_version(package: &str) -> Option<String> {
    let out = output(&mut cmd(
        "dpkg-query",
        ["-W", "-f=${Status}\t${Version}", package],
    ))
    .ok()?;
    let text = String::from_utf8_lossy(&out.stdout).into_owned();
    let (status, version) = text.split_once('\t')?;
    status
        .contains("install ok installed")
        .then(|| version.trim().to_string())
}

/// Installs the packages of `wanted` that are missing (one `apt-get update` first).
/// Shared by `cargo xtask ci` and the lab's cache builders.
pub fn install_packages(wanted: &[&str]) -> Result<()> {
    let missing: Vec<&str> = wanted
        .iter()
        .copied()
        .filter(|p| installed_version(p).is_none())
        .collect();
    if missing.is_empty() {
        return Ok(());
    }
    eprintln!("installing missing packages: {}", missing.join(" "));
    run(&mut cmd("apt-get", ["update", "-q"]))?;
    let mut c = cmd(
        "apt-get",
        ["install", "-y", "-q", "--no-install-recommends"],
    );
    c.args(&missing).env("DEBIAN_FRONTEND", "noninteractive");
    run(&mut c)?;
    Ok(())
}

/// The version of `package` apt would install (its candidate), from the local lists.
pub fn candidate_version(package: &str) -> Result<String> {
    let text = run(&mut cmd(
        "apt-cache",
        ["show", "--no-all-versions", package],
    ))
    .unwrap_or_default();
    text.lines()
        .find_map(|l| l.strip_prefix("Version:"))
        .map(|v| v.trim().to_string())
        .ok_or_else(|| Error::NoPackage {
            what: "package",
            name: package.into(),
        })
}

/// Downloads `package` at `version` (`apt-get download`, no install, nothing runs) and
/// unpacks its files under `into` (`dpkg-deb -x`); the `.deb` is left in `into`'s parent.
pub fn download_and_unpack(package: &str, version: &str, into: &Path) -> Result<()> {
    let dir = into.parent().unwrap_or(Path::new("/"));
    std::fs::create_dir_all(into).map_err(io("cannot create", into))?;
    run(cmd(
        "apt-get",
        ["download", "-q", &format!("{package}={version}")],
    )
    .current_dir(dir))?;
    let deb = std::fs::read_dir(dir)
        .map_err(io("cannot read", dir))?
        .flatten()
        .map(|e| e.path())
        .find(|p| {
            p.extension().is_some_and(|e| e == "deb")
                && p.file_name()
                    .is_some_and(|n| n.to_string_lossy().starts_with(&format!("{package}_")))
        })
        .ok_or_else(|| Error::NoPackage {
            what: "downloadable package",
            name: format!("{package}={version}"),
        })?;
    run(cmd("dpkg-deb", ["-x"]).arg(&deb).arg(into))?;
    Ok(())
}

/// The highest version of source package `name` apt knows (needs [`ensure_deb_src`]).
pub fn source_version(name: &str) -> Result<String> {
    let text = run(&mut cmd("apt-cache", ["showsrc", "--only-source", name])).unwrap_or_default();
    let mut best: Option<String> = None;
    for v in text
        .lines()
        .filter_map(|l| l.strip_prefix("Version:"))
        .map(|v| v.trim().to_string())
    {
        let newer = match &best {
            None => true,
            Some(b) => output(&mut cmd("dpkg", ["--compare-versions", &v, "gt", b]))
                .map(|o| o.status.success())
                .unwrap_or(false),
        };
        if newer {
            best = Some(v);
        }
    }
    best.ok_or_else(|| Error::NoPackage {
        what: "source package",
        name: name.into(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    const DEB822: &str = "Types: deb\n# a comment\nURIs: http://mirror.invalid/debian\nSuites: bookworm bookworm-updates\nComponents: main\nSigned-By: /usr/share/keyrings/debian-archive-keyring.gpg\n\nTypes: deb\nURIs: http://mirror.invalid/debian-security\nSuites: bookworm-security\nComponents: main\n\nTypes: deb\nEnabled: no\nURIs: http://off.invalid/x\nSuites: bookworm\nComponents: main\n";

    #[test]
    fn deb822_mirror_and_deb_src() {
        let s = parse_deb822(DEB822);
        assert_eq!(s.len(), 2);
        assert_eq!(
            mirror_for(&s, "bookworm").as_deref(),
            Some("http://mirror.invalid/debian")
        );
        insta::assert_snapshot!(render_deb_src(&s, "bookworm").unwrap());
    }

    #[test]
    fn one_line_mirror() {
        let s = parse_one_line(
            "# deb http://x.invalid/ bookworm main\ndeb [arch=amd64 signed-by=/k.gpg] http://mirror.invalid/debian bookworm main contrib\ndeb-src http://mirror.invalid/debian bookworm main\n",
        );
        assert_eq!(s.len(), 2);
        assert_eq!(s[0].signed_by.as_deref(), Some("/k.gpg"));
        assert_eq!(
            mirror_for(&s, "bookworm").as_deref(),
            Some("http://mirror.invalid/debian")
        );
        assert_eq!(mirror_for(&s, "trixie"), None);
    }

    #[test]
    fn no_main_no_mirror() {
        let s = parse_one_line("deb http://mirror.invalid/debian bookworm contrib\n");
        assert_eq!(mirror_for(&s, "bookworm"), None);
        assert_eq!(render_deb_src(&s, "bookworm"), None);
    }
}
