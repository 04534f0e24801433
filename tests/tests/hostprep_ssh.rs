//! The SSH transport against a real OpenSSH `sshd` on 127.0.0.1 (temp config, host key and
//! authorized key): host-key policies, commands, atomic file writes, and an idempotent apply.

use executor::progress::Silent;
use executor::{ApplyOptions, Error, Output, SshOptions, SshTransport, Transport};
use inventory::{Host, HostKeyPolicy, Role, Ssh};
use plan::{CommandSpec, DirSpec, FileSpec, HostSteps, Plan, Step};
use std::collections::{BTreeMap, BTreeSet};
use std::net::{IpAddr, Ipv4Addr, TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// A throw-away sshd; killed on drop.
struct Sshd {
    child: Child,
    port: u16,
    dir: tempfile::TempDir,
}

impl Drop for Sshd {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn keygen(path: &Path) {
    let st = Command::new("ssh-keygen")
        .args(["-q", "-t", "ed25519", "-N", "", "-f"])
        .arg(path)
        .status()
        .expect("ssh-keygen runs (openssh-client)");
    assert!(st.success());
}

/// Whether an SSH server on `port` sends its banner.
fn greets(port: u16) -> bool {
    let Ok(mut c) = TcpStream::connect(("127.0.0.1", port)) else {
        return false;
    };
    let _ = c.set_read_timeout(Some(Duration::from_secs(2)));
    let mut banner = [0u8; 4];
    std::io::Read::read_exact(&mut c, &mut banner).is_ok() && &banner == b"SSH-"
}

impl Sshd {
    fn start() -> Sshd {
        let dir = tempfile::tempdir().unwrap();
        let d = dir.path();
        keygen(&d.join("host_key"));
        keygen(&d.join("client_key"));
        std::fs::copy(d.join("client_key.pub"), d.join("authorized_keys")).unwrap();
        // sshd's privilege separation directory.
        std::fs::create_dir_all("/run/sshd").unwrap();
        let port = TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let config = format!(
            "Port {port}\nListenAddress 127.0.0.1\nHostKey {d}/host_key\nPidFile {d}/sshd.pid\n\
             AuthorizedKeysFile {d}/authorized_keys\nStrictModes no\nPasswordAuthentication no\n\
             KbdInteractiveAuthentication no\nUsePAM no\nPermitRootLogin prohibit-password\n\
             MaxSessions 100\n",
            d = d.display()
        );
        std::fs::write(d.join("sshd_config"), config).unwrap();
        let child = Command::new("/usr/sbin/sshd")
            .args(["-D", "-e", "-f"])
            .arg(d.join("sshd_config"))
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("sshd starts (openssh-server)");
        // Ready once it greets: a listening socket alone may not be sshd's yet.
        let deadline = Instant::now() + Duration::from_secs(10);
        while !greets(port) {
            assert!(Instant::now() < deadline, "sshd did not greet on {port}");
            std::thread::sleep(Duration::from_millis(50));
        }
        Sshd { child, port, dir }
    }

    fn path(&self, name: &str) -> PathBuf {
        self.dir.path().join(name)
    }

    fn host(&self, policy: HostKeyPolicy, known_hosts: &Path) -> Host {
        Host {
            name: "local".into(),
            address: IpAddr::V4(Ipv4Addr::LOCALHOST),
            roles: BTreeSet::from([Role::Etcd]),
            ssh: Ssh {
                user: "root".into(),
                port: self.port,
                key: Some(self.path("client_key")),
                known_hosts: Some(known_hosts.to_path_buf()),
                host_key_policy: policy,
            },
        }
    }

    /// A known_hosts file that already trusts this sshd.
    fn trusted(&self) -> PathBuf {
        let pubkey = std::fs::read_to_string(self.path("host_key.pub")).unwrap();
        let mut parts = pubkey.split_whitespace();
        let line = format!(
            "[127.0.0.1]:{} {} {}\n",
            self.port,
            parts.next().unwrap(),
            parts.next().unwrap()
        );
        let kh = self.path("trusted_known_hosts");
        std::fs::write(&kh, line).unwrap();
        kh
    }
}

#[test]
fn strict_refuses_unknown_hosts_and_accept_new_records_them() {
    let sshd = Sshd::start();
    let kh = sshd.path("known_hosts");
    let err = SshTransport::connect(&sshd.host(HostKeyPolicy::Strict, &kh)).unwrap_err();
    assert!(matches!(err, Error::HostKey { .. }), "{err}");
    assert!(err.to_string().contains("not in known_hosts"), "{err}");

    SshTransport::connect(&sshd.host(HostKeyPolicy::AcceptNew, &kh)).expect("accept-new connects");
    // Recorded hashed, as Debian's OpenSSH does (HashKnownHosts yes): the address is not
    // in the file, and ssh-keygen finds the entry by name.
    let recorded = std::fs::read_to_string(&kh).unwrap();
    assert!(recorded.starts_with("|1|"), "{recorded}");
    assert!(recorded.contains(" ssh-ed25519 "), "{recorded}");
    assert!(!recorded.contains("127.0.0.1"), "{recorded}");
    let found = Command::new("ssh-keygen")
        .args(["-F", &format!("[127.0.0.1]:{}", sshd.port), "-f"])
        .arg(&kh)
        .output()
        .unwrap();
    assert!(found.status.success(), "{found:?}");
    // OpenSSH's own client agrees with what was recorded.
    let st = Command::new("ssh")
        .args([
            "-o",
            "BatchMode=yes",
            "-o",
            "StrictHostKeyChecking=yes",
            "-o",
        ])
        .arg(format!("UserKnownHostsFile={}", kh.display()))
        .arg("-i")
        .arg(sshd.path("client_key"))
        .args(["-p", &sshd.port.to_string(), "root@127.0.0.1", "true"])
        .status()
        .unwrap();
    assert!(st.success(), "ssh accepts the recorded key");
    // Now strict connects too.
    SshTransport::connect(&sshd.host(HostKeyPolicy::Strict, &kh)).expect("strict after recording");
}

/// OpenSSH's own fingerprint of the sshd's host key (`ssh-keygen -l -E sha256`).
fn ssh_keygen_fingerprint(sshd: &Sshd) -> String {
    let out = Command::new("ssh-keygen")
        .args(["-l", "-E", "sha256", "-f"])
        .arg(sshd.path("host_key.pub"))
        .output()
        .unwrap();
    assert!(out.status.success(), "{out:?}");
    String::from_utf8_lossy(&out.stdout)
        .split_whitespace()
        .nth(1)
        .unwrap()
        .to_string()
}

/// A dry run writes nothing, known_hosts included: under accept-new it trusts a new host
/// key for its own connection only, and says so; a real run then records it.
#[test]
fn a_dry_run_trusts_a_new_key_in_memory_only() {
    let sshd = Sshd::start();
    // In a directory that does not exist yet: a dry run creates neither.
    let kh = sshd.path("dry").join("known_hosts");
    let dry = SshOptions {
        dry_run: true,
        ..SshOptions::default()
    };
    let host = sshd.host(HostKeyPolicy::AcceptNew, &kh);
    let mut t = SshTransport::connect_with(&host, &dry).expect("a dry run connects");
    assert_eq!(t.run("echo ok").unwrap().stdout_text().trim(), "ok");
    let key = t.new_host_key().expect("the new key is reported").clone();
    assert!(!key.recorded);
    assert_eq!(key.key_type, "ssh-ed25519");
    assert_eq!(key.fingerprint, ssh_keygen_fingerprint(&sshd));
    assert!(
        key.to_string()
            .contains("accepted for this dry run only, not written to"),
        "{key}"
    );
    drop(t);
    assert!(!sshd.path("dry").exists(), "a dry run wrote known_hosts");

    // Strict stays strict in a dry run.
    let err = SshTransport::connect_with(&sshd.host(HostKeyPolicy::Strict, &kh), &dry).unwrap_err();
    assert!(matches!(err, Error::HostKey { .. }), "{err}");

    // A real run records the key and says so; the next connection knows it.
    let t = SshTransport::connect(&host).expect("accept-new connects");
    let key = t.new_host_key().expect("the new key is reported");
    assert!(
        key.recorded && key.to_string().contains("recorded in"),
        "{key}"
    );
    assert!(kh.exists());
    let t = SshTransport::connect(&host).expect("connects again");
    assert!(t.new_host_key().is_none());
}

/// `kubin prepare --dry-run` against a host whose key known_hosts lacks (accept-new): the
/// run gets to the host, writes no known_hosts, and its output says the key was trusted
/// for this run only.
#[test]
fn kubin_dry_run_writes_no_known_hosts() {
    let sshd = Sshd::start();
    let dir = tempfile::tempdir().unwrap();
    let kh = dir.path().join("known_hosts");
    let text = inventory::example::GUIDES_EXAMPLE
        .replace("192.168.31.63", "127.0.0.1")
        .replace("  port: 22\n", &format!("  port: {}\n", sshd.port))
        .replace("host_key_policy: strict", "host_key_policy: accept-new")
        .replace(
            "  key: ~/.ssh/id_ed25519\n",
            &format!(
                "  key: {}\n  known_hosts: {}\n",
                sshd.path("client_key").display(),
                kh.display()
            ),
        );
    assert!(text.contains("accept-new") && text.contains("127.0.0.1"));
    let inv = dir.path().join("cluster.yaml");
    std::fs::write(&inv, text).unwrap();
    let out = Command::new(tests::kubin::kubin_bin())
        .args([
            "prepare",
            "--dry-run",
            "--host",
            "k8s-master1",
            "--timeout",
            "20s",
            "-f",
        ])
        .arg(&inv)
        .output()
        .unwrap();
    let printed = tests::kubin::text(&out);
    assert!(
        printed.contains("k8s-master1: new host key for")
            && printed.contains("accepted for this dry run only, not written to"),
        "{printed}"
    );
    assert!(!kh.exists(), "a dry run wrote known_hosts:\n{printed}");
    let left: Vec<_> = std::fs::read_dir(dir.path())
        .unwrap()
        .map(|e| e.unwrap().file_name())
        .collect();
    assert_eq!(
        left,
        ["cluster.yaml"],
        "a dry run wrote locally:\n{printed}"
    );
}

#[test]
fn a_changed_key_is_refused_even_with_accept_new() {
    let sshd = Sshd::start();
    keygen(&sshd.path("other_key"));
    let other = std::fs::read_to_string(sshd.path("other_key.pub")).unwrap();
    let mut parts = other.split_whitespace();
    let kh = sshd.path("known_hosts");
    std::fs::write(
        &kh,
        format!(
            "[127.0.0.1]:{} {} {}\n",
            sshd.port,
            parts.next().unwrap(),
            parts.next().unwrap()
        ),
    )
    .unwrap();
    let err = SshTransport::connect(&sshd.host(HostKeyPolicy::AcceptNew, &kh)).unwrap_err();
    assert!(err.to_string().contains("CHANGED"), "{err}");
    assert_eq!(
        std::fs::read_to_string(&kh).unwrap().lines().count(),
        1,
        "nothing appended"
    );
}

#[test]
fn a_wrong_key_fails_authentication() {
    let sshd = Sshd::start();
    keygen(&sshd.path("stranger"));
    let mut host = sshd.host(HostKeyPolicy::Strict, &sshd.trusted());
    host.ssh.key = Some(sshd.path("stranger"));
    let err = SshTransport::connect(&host).unwrap_err();
    assert!(matches!(err, Error::Auth { .. }), "{err}");
}

/// A command silent for longer than libssh2's keepalive interval (15 s when one was set)
/// still completes: only `io_timeout` (120 s) bounds a read. With a keepalive, libssh2 gave
/// up at the next keepalive ("Timed out waiting on socket"), failing a `sha256sum` of the
/// bundle's binaries on a busy host.
#[test]
fn a_long_silent_command_completes() {
    let sshd = Sshd::start();
    let mut t = SshTransport::connect(&sshd.host(HostKeyPolicy::Strict, &sshd.trusted())).unwrap();
    let started = Instant::now();
    let out = t
        .run("sleep 17; echo done")
        .expect("a 17 s silent command completes");
    assert_eq!(out.stdout_text(), "done\n");
    assert!(started.elapsed() >= Duration::from_secs(17));
}

#[test]
fn commands_files_and_reads() {
    let sshd = Sshd::start();
    let mut t = SshTransport::connect(&sshd.host(HostKeyPolicy::Strict, &sshd.trusted())).unwrap();
    let out = t.run("echo out; echo err >&2; exit 7").unwrap();
    assert_eq!((out.status, out.stdout_text().as_str()), (7, "out\n"));
    assert_eq!(String::from_utf8_lossy(&out.stderr), "err\n");

    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("sub file.conf");
    let content: Vec<u8> = (0..200_000u32).map(|i| (i % 251) as u8).collect();
    t.put_file(&path, &content, 0o640, Some("root:root"))
        .unwrap();
    assert_eq!(std::fs::read(&path).unwrap(), content);
    let meta = std::fs::metadata(&path).unwrap();
    use std::os::unix::fs::PermissionsExt;
    assert_eq!(meta.permissions().mode() & 0o7777, 0o640);
    let names: Vec<_> = std::fs::read_dir(dir.path())
        .unwrap()
        .map(|e| e.unwrap().file_name())
        .collect();
    assert_eq!(names.len(), 1, "no temp file left behind: {names:?}");

    assert_eq!(t.read_file(&path).unwrap(), Some(content.clone()));
    assert_eq!(t.read_file(&dir.path().join("absent")).unwrap(), None);
    let stats = t
        .stat_files(&[path.clone(), dir.path().join("absent")])
        .unwrap();
    let st = stats[0].as_ref().unwrap();
    assert_eq!((st.mode, st.owner.as_str()), (0o640, "root:root"));
    let expected = Command::new("sha256sum").arg(&path).output().unwrap();
    assert!(String::from_utf8_lossy(&expected.stdout).starts_with(&st.sha256));
    assert_eq!(stats[1], None);

    // Writing into a missing directory fails with the path named, and leaves nothing.
    let err = t
        .put_file(&dir.path().join("nope/x"), b"x", 0o644, None)
        .unwrap_err();
    assert!(err.to_string().contains("nope/x"), "{err}");
}

#[test]
fn applying_a_plan_over_ssh_twice_changes_nothing_the_second_time() {
    let sshd = Sshd::start();
    let host = sshd.host(HostKeyPolicy::Strict, &sshd.trusted());
    let root = tempfile::tempdir().unwrap();
    let r = root.path().display().to_string();
    let mut steps = vec![Step::Directory(DirSpec {
        path: root.path().join("cfg"),
        mode: 0o700,
    })];
    for i in 0..20 {
        steps.push(Step::File(FileSpec::new(
            root.path().join(format!("cfg/file{i}.conf")),
            format!("value={i}\n"),
            0o644,
        )));
    }
    steps.push(Step::File(
        FileSpec::new(root.path().join("cfg/key.pem"), "SECRET-KEY", 0o600).secret(),
    ));
    steps.push(Step::File(FileSpec::new(
        root.path().join("cfg/empty"),
        "",
        0o600,
    )));
    steps.push(Step::Command(CommandSpec::new(
        "mark",
        &format!("touch {r}/marker"),
        Some(&format!("test -e {r}/marker")),
    )));
    let plan = Plan::single(
        "ssh",
        vec![HostSteps {
            host: "local".into(),
            steps,
        }],
    );
    let mut map: BTreeMap<String, Box<dyn Transport>> = BTreeMap::new();
    // The quick-check records in the temp dir, not in this machine's /var/lib/kubin.
    let manifest = root.path().join("state/manifest");
    map.insert(
        "local".into(),
        Box::new(
            SshTransport::connect(&host)
                .unwrap()
                .with_manifest(Some(manifest.clone())),
        ),
    );
    let opts = ApplyOptions {
        dry_run: false,
        parallel: 1,
        output: Output::Quiet,
    };
    let dry = executor::apply_with(
        &plan,
        &mut map,
        &ApplyOptions {
            dry_run: true,
            ..opts
        },
        &Silent,
    );
    assert_eq!(dry.total_changes(), 24);
    assert!(!root.path().join("cfg").exists(), "dry run changed nothing");

    let first = executor::apply_with(&plan, &mut map, &opts, &Silent);
    assert!(first.is_success(), "{}", first.render_text());
    assert_eq!(first.total_changes(), 24);
    assert_eq!(std::fs::read(root.path().join("cfg/empty")).unwrap(), b"");
    assert_eq!(
        std::fs::read_to_string(root.path().join("cfg/key.pem")).unwrap(),
        "SECRET-KEY"
    );
    assert_eq!(
        std::fs::read_to_string(root.path().join("cfg/file7.conf")).unwrap(),
        "value=7\n"
    );
    let started = Instant::now();
    let second = executor::apply_with(&plan, &mut map, &opts, &Silent);
    assert_eq!(second.total_changes(), 0, "{}", second.render_text());
    assert_eq!(second.hosts["local"].unchanged, 24);
    eprintln!(
        "no-change re-apply of 23 steps over ssh: {:?}",
        started.elapsed()
    );
}

/// Applies `plan` over a new connection (as a new kubin run does), with the quick-check
/// records at `manifest`.
fn apply_fresh(host: &Host, manifest: &Path, plan: &Plan, dry_run: bool) -> executor::Report {
    let mut map: BTreeMap<String, Box<dyn Transport>> = BTreeMap::new();
    let t = SshTransport::connect_with(
        host,
        &SshOptions {
            dry_run,
            ..SshOptions::default()
        },
    )
    .unwrap()
    .with_manifest(Some(manifest.to_path_buf()));
    map.insert("local".into(), Box::new(t));
    let opts = ApplyOptions {
        dry_run,
        parallel: 1,
        output: Output::Quiet,
    };
    executor::apply_with(plan, &mut map, &opts, &Silent)
}

/// The quick check: the run that writes files records them (root-only, atomically); later
/// runs trust a record only while the file keeps its stamp, so a hand edit that keeps the
/// size and puts the mtime back (the ctime moves) is still seen and undone.
#[test]
fn a_file_edited_by_hand_is_seen_and_rewritten_despite_the_records() {
    let sshd = Sshd::start();
    let host = sshd.host(HostKeyPolicy::Strict, &sshd.trusted());
    let root = tempfile::tempdir().unwrap();
    let manifest = root.path().join("state/manifest");
    let binary = root.path().join("kubelet");
    let config = root.path().join("kubelet.conf");
    let big: Vec<u8> = (0..3_000_000u32).map(|i| (i % 253) as u8).collect();
    let plan = Plan::single(
        "ssh",
        vec![HostSteps {
            host: "local".into(),
            steps: vec![
                Step::File(FileSpec::new(&binary, big.clone(), 0o755)),
                Step::File(FileSpec::new(&config, "port=10250\n", 0o644)),
            ],
        }],
    );
    let first = apply_fresh(&host, &manifest, &plan, false);
    assert!(first.is_success(), "{}", first.render_text());
    assert_eq!(first.total_changes(), 2);
    use std::os::unix::fs::PermissionsExt;
    let mode = |p: &Path| std::fs::metadata(p).unwrap().permissions().mode() & 0o777;
    assert_eq!(mode(&manifest), 0o600);
    assert_eq!(mode(manifest.parent().unwrap()), 0o700);
    let records = std::fs::read_to_string(&manifest).unwrap();
    assert_eq!(
        records.lines().filter(|l| !l.starts_with('#')).count(),
        2,
        "{records}"
    );
    let again = apply_fresh(&host, &manifest, &plan, false);
    assert_eq!(again.total_changes(), 0, "{}", again.render_text());

    // The records are what the check reads: a wrong digest recorded for an unchanged stamp
    // is believed (and the file rewritten, which records it anew).
    let config_line = |text: &str| {
        text.lines()
            .find(|l| l.ends_with(&format!("\t{}", config.display())))
            .unwrap()
            .to_string()
    };
    let line = config_line(&records);
    let wrong = format!("{}{}", "0".repeat(64), &line[64..]);
    std::fs::write(&manifest, records.replace(&line, &wrong)).unwrap();
    let believed = apply_fresh(&host, &manifest, &plan, false);
    assert_eq!(believed.total_changes(), 1, "{}", believed.render_text());
    assert_eq!(believed.changed_paths("local"), [config.as_path()]);
    assert_eq!(
        apply_fresh(&host, &manifest, &plan, false).total_changes(),
        0
    );

    // A hand edit of the same size, its mtime put back.
    let reference = root.path().join("reference");
    let st = Command::new("touch")
        .arg("-r")
        .arg(&config)
        .arg(&reference)
        .status()
        .unwrap();
    assert!(st.success());
    std::thread::sleep(Duration::from_millis(20));
    std::fs::write(&config, "port=10251\n").unwrap();
    let st = Command::new("touch")
        .args(["-m", "-r"])
        .arg(&reference)
        .arg(&config)
        .status()
        .unwrap();
    assert!(st.success());
    let before = std::fs::read_to_string(&manifest).unwrap();
    let dry = apply_fresh(&host, &manifest, &plan, true);
    assert_eq!(dry.changed_paths("local"), [config.as_path()]);
    assert_eq!(
        std::fs::read_to_string(&manifest).unwrap(),
        before,
        "a dry run writes no records"
    );
    let fixed = apply_fresh(&host, &manifest, &plan, false);
    assert_eq!(fixed.changed_paths("local"), [config.as_path()]);
    assert_eq!(std::fs::read_to_string(&config).unwrap(), "port=10250\n");
    assert_eq!(std::fs::read(&binary).unwrap(), big);
    assert_eq!(
        apply_fresh(&host, &manifest, &plan, false).total_changes(),
        0
    );
}
