//! Command lines checked against the version table, and the two text formats they go
//! into: the guides' env file (`KUBE_APISERVER_OPTS="--a=b \ ..."`) and the systemd unit.

use crate::Error;
use crate::versions::{Component, Release};
use std::fmt::Display;
use std::path::Path;

/// A component's command line being built; [`Args::finish`] refuses any flag the release
/// does not accept, so a renderer bug fails the plan instead of a unit on a host.
#[derive(Debug, Clone)]
pub struct Args {
    component: Component,
    release: Release,
    flags: Vec<String>,
}

impl Args {
    /// An empty command line for `component` of `release`.
    pub fn new(component: Component, release: Release) -> Self {
        Self {
            component,
            release,
            flags: Vec::new(),
        }
    }

    /// Appends `--flag=value` (`flag` with its dashes).
    pub fn set(&mut self, flag: &str, value: impl Display) -> &mut Self {
        self.flags.push(format!("{flag}={value}"));
        self
    }

    /// Appends `--flag=path`.
    pub fn path(&mut self, flag: &str, path: &Path) -> &mut Self {
        self.set(flag, path.display())
    }

    /// The flags, each `--name=value`, once every one was checked against the table.
    pub fn finish(self) -> Result<Vec<String>, Error> {
        for f in &self.flags {
            let name = flag_name(f);
            if let Some(rule) = self
                .release
                .refused(self.component)
                .find(|r| r.flag == name)
            {
                return Err(Error::FlagRefused {
                    component: self.component,
                    flag: name.to_string(),
                    version: self.release.version(),
                    checked: rule.checked.to_string(),
                });
            }
        }
        Ok(self.flags)
    }
}

/// The name of `--name=value` (or of a bare `--name`).
pub fn flag_name(flag: &str) -> &str {
    flag.split_once('=').map_or(flag, |(n, _)| n)
}

/// The env file the unit reads, in the guides' format: one variable holding every flag,
/// one flag a line (systemd joins lines ending in a backslash).
pub fn render_env(var: &str, flags: &[String]) -> String {
    format!("{var}=\"{}\"\n", flags.join(" \\\n"))
}

/// The flags of an env file written by [`render_env`] (for checks and tests).
pub fn parse_env(text: &str) -> Vec<String> {
    let joined = text.replace("\\\n", " ");
    let value = joined
        .split_once('=')
        .map_or("", |(_, v)| v)
        .trim()
        .trim_matches('"');
    value.split_whitespace().map(str::to_string).collect()
}

/// What a unit needs besides its component.
#[derive(Debug, Clone)]
pub struct UnitParts<'a> {
    /// `Description=`.
    pub description: &'a str,
    /// Units to start after (and want): `containerd.service` for the kubelet.
    pub after: &'a [&'a str],
    /// The env file.
    pub env_file: &'a Path,
    /// The binary.
    pub binary: &'a Path,
    /// The env file's variable.
    pub var: &'a str,
}

/// A systemd unit running `binary $VAR` with the env file; restarted on failure.
pub fn render_unit(p: &UnitParts<'_>) -> String {
    let mut unit = format!(
        "[Unit]\nDescription={}\nAfter=network-online.target\nWants=network-online.target\n",
        p.description
    );
    for a in p.after {
        unit.push_str(&format!("After={a}\nWants={a}\n"));
    }
    unit.push_str(&format!(
        "\n[Service]\n\
         EnvironmentFile={env}\n\
         ExecStart={bin} ${var}\n\
         Restart=on-failure\n\
         RestartSec=5\n\
         LimitNOFILE=65536\n\
         \n\
         [Install]\n\
         WantedBy=multi-user.target\n",
        env = p.env_file.display(),
        bin = p.binary.display(),
        var = p.var,
    ));
    unit
}

#[cfg(test)]
mod tests {
    use super::*;
    use inventory::Version;

    #[test]
    fn env_round_trips() {
        let flags = vec!["--a=b".to_string(), "--c=d,e".to_string()];
        let env = render_env("X_OPTS", &flags);
        assert_eq!(env, "X_OPTS=\"--a=b \\\n--c=d,e\"\n");
        assert_eq!(parse_env(&env), flags);
    }

    #[test]
    fn a_refused_flag_is_an_error_naming_it() {
        let r = Release::new(Version::new(1, 22, 0)).unwrap();
        let mut a = Args::new(Component::Apiserver, r);
        a.set("--kubelet-https", true);
        match a.finish() {
            Err(Error::FlagRefused { flag, version, .. }) => {
                assert_eq!(flag, "--kubelet-https");
                assert_eq!(version, Version::new(1, 22, 0));
            }
            other => panic!("{other:?}"),
        }
        let r = Release::new(Version::new(1, 21, 0)).unwrap();
        let mut a = Args::new(Component::Apiserver, r);
        a.set("--kubelet-https", true);
        assert_eq!(a.finish().unwrap(), ["--kubelet-https=true"]);
    }
}
