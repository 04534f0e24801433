//! The scripts run by a real local `sh` (dash on Debian) in a temp directory.

use super::*;
use sha2::{Digest, Sha256};
use std::io::Write;
use std::os::unix::fs::PermissionsExt;
use std::process::{Command, Stdio};

/// Runs `script` with `sh -c`, feeding `stdin`; returns (status, stdout, stderr).
fn sh(script: &str, stdin: &[u8]) -> (i32, String, String) {
    let mut child = Command::new("sh")
        .arg("-c")
        .arg(script)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("sh runs");
    child
        .stdin
        .take()
        .expect("stdin")
        .write_all(stdin)
        .expect("stdin written");
    let out = child.wait_with_output().expect("sh ends");
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

/// `user:group` of `p`, as `stat -c %U:%G` prints it.
fn owner_of(p: &Path) -> String {
    let out = Command::new("stat")
        .args(["-c", "%U:%G"])
        .arg(p)
        .output()
        .expect("stat runs");
    String::from_utf8_lossy(&out.stdout).trim().to_string()
}

fn mode_of(p: &Path) -> u32 {
    std::fs::metadata(p).expect("exists").permissions().mode() & 0o7777
}

fn leftovers(dir: &Path) -> Vec<String> {
    std::fs::read_dir(dir)
        .expect("readable")
        .flatten()
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .filter(|n| n.starts_with(".kubin-"))
        .collect()
}

#[test]
fn stat_reports_present_and_missing_files_in_order() {
    let dir = tempfile::tempdir().unwrap();
    let a = dir.path().join("a.conf");
    let spaced = dir.path().join("with space 'quoted'");
    std::fs::write(&a, "alpha\n").unwrap();
    std::fs::set_permissions(&a, std::fs::Permissions::from_mode(0o640)).unwrap();
    std::fs::write(&spaced, "").unwrap();
    std::fs::create_dir(dir.path().join("subdir")).unwrap();
    let paths = vec![
        dir.path().join("missing"),
        a.clone(),
        dir.path().join("subdir"),
        spaced.clone(),
    ];
    let (status, stdout, stderr) = sh(&stat_command(&paths), b"");
    assert_eq!(status, 0, "{stderr}");
    let got = parse_stat_output("h", &paths, &stdout).unwrap();
    let owner = owner_of(&a);
    assert_eq!(
        got,
        vec![
            None,
            Some(FileStat {
                sha256: hex::encode(Sha256::digest(b"alpha\n")),
                mode: 0o640,
                owner: owner.clone(),
            }),
            None,
            Some(FileStat {
                sha256: hex::encode(Sha256::digest(b"")),
                mode: mode_of(&spaced),
                owner,
            }),
        ]
    );
}

#[test]
fn stat_of_only_missing_files_starts_no_stat() {
    let paths = vec![PathBuf::from("/nonexistent/kubin/a")];
    let (status, stdout, _) = sh(&stat_command(&paths), b"");
    assert_eq!(status, 0);
    assert_eq!(stdout, "-\n");
    assert_eq!(parse_stat_output("h", &paths, &stdout).unwrap(), vec![None]);
}

#[test]
fn stat_output_that_does_not_add_up_is_an_error() {
    let paths = vec![PathBuf::from("/a"), PathBuf::from("/b")];
    let sha = "a".repeat(64);
    let good = format!("+\n-\n644 root:root\n{sha}  /a\n");
    assert_eq!(
        parse_stat_output("h", &paths, &good).unwrap(),
        vec![
            Some(FileStat {
                sha256: sha.clone(),
                mode: 0o644,
                owner: "root:root".into()
            }),
            None
        ]
    );
    // An escaped name (sha256sum's leading backslash) still parses.
    let escaped = format!("+\n-\n644 root:root\n\\{sha}  /a\\nb\n");
    assert!(parse_stat_output("h", &paths, &escaped).is_ok());
    for bad in [
        "-\n".to_string(),
        "+\n-\n644 root:root\n".to_string(),
        format!("+\n-\n644\n{sha}  /a\n"),
        format!("+\n-\n9z9 root:root\n{sha}  /a\n"),
        "+\n-\n644 root:root\nnot-a-hash  /a\n".to_string(),
        format!("?\n-\n644 root:root\n{sha}  /a\n"),
    ] {
        assert!(
            matches!(
                parse_stat_output("h", &paths, &bad),
                Err(Error::Stat { .. })
            ),
            "{bad:?}"
        );
    }
}

#[test]
fn put_writes_every_kind_of_content_with_modes_and_owner() {
    let dir = tempfile::tempdir().unwrap();
    let sub = dir.path().join("sub dir");
    std::fs::create_dir(&sub).unwrap();
    let owner = owner_of(dir.path());
    let text = "key=value\nit's 100% \"quoted\" $HOME `x` \\n\n".to_string();
    let binary: Vec<u8> = (0..=255u8).cycle().take(3000).collect();
    let latin1 = b"caf\xe9\n".to_vec();
    let big = "x".repeat(INLINE_FILE_MAX + 1);
    let existing = dir.path().join("existing");
    std::fs::write(&existing, "old").unwrap();
    let files = [
        (
            dir.path().join("text.conf"),
            text.as_bytes().to_vec(),
            0o644,
        ),
        (sub.join("binary"), binary.clone(), 0o755),
        (dir.path().join("empty"), Vec::new(), 0o600),
        (sub.join("latin1"), latin1.clone(), 0o640),
        (dir.path().join("big"), big.as_bytes().to_vec(), 0o644),
        (existing.clone(), b"new\n".to_vec(), 0o444),
    ];
    let puts: Vec<PutFile<'_>> = files
        .iter()
        .map(|(p, c, m)| PutFile {
            path: p,
            content: c,
            mode: *m,
            owner: Some(&owner),
            sha256: None,
        })
        .collect();
    let (script, stdin) = put_script(&puts, true, false);
    // Text goes inside the script; binary, non-UTF-8 and big content through stdin.
    assert_eq!(
        stdin.len(),
        binary.len() + latin1.len() + big.len(),
        "{script}"
    );
    let (status, _, stderr) = sh(&script, &stdin);
    assert_eq!(status, 0, "{stderr}\n{script}");
    for (p, c, m) in &files {
        assert_eq!(&std::fs::read(p).unwrap(), c, "{}", p.display());
        assert_eq!(mode_of(p), *m, "{}", p.display());
        assert_eq!(owner_of(p), owner);
    }
    assert!(leftovers(dir.path()).is_empty());
    assert!(leftovers(&sub).is_empty());
}

#[test]
fn put_into_a_missing_directory_fails_and_leaves_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let ok = dir.path().join("ok");
    let files = [
        PutFile {
            path: &ok,
            content: b"one",
            mode: 0o644,
            owner: None,
            sha256: None,
        },
        PutFile {
            path: &dir.path().join("nope/x"),
            content: b"two",
            mode: 0o644,
            owner: None,
            sha256: None,
        },
    ];
    let (script, stdin) = put_script(&files, true, false);
    let (status, _, _) = sh(&script, &stdin);
    assert_ne!(status, 0);
    assert!(
        !ok.exists(),
        "nothing is renamed before every file is staged"
    );
    assert!(leftovers(dir.path()).is_empty());
}

#[test]
fn many_files_cost_a_fixed_handful_of_processes() {
    let paths: Vec<PathBuf> = (0..20)
        .map(|i| PathBuf::from(format!("/opt/bench/file{i:02}.conf")))
        .chain([PathBuf::from("/etc/systemd/system/bench.service")])
        .collect();
    let content = b"# a config file\nkey=value\n";
    let puts: Vec<PutFile<'_>> = paths
        .iter()
        .map(|p| PutFile {
            path: p,
            content,
            mode: 0o644,
            owner: Some("root:root"),
            sha256: None,
        })
        .collect();
    let (script, stdin) = put_script(&puts, true, false);
    assert!(stdin.is_empty());
    let count = |word: &str| script.matches(word).count();
    // One staging directory and one rename per target directory; one chmod per mode, one
    // chown per owner; no process per file.
    assert_eq!(count("mktemp -d"), 2, "{script}");
    assert_eq!(count("mv -f"), 2, "{script}");
    assert_eq!(count("chmod "), 1, "{script}");
    assert_eq!(count("chown "), 1, "{script}");
    assert_eq!(count("dd "), 0, "{script}");
    let stat = stat_command(&paths);
    assert_eq!(stat.matches("stat -c").count(), 1, "{stat}");
    assert_eq!(stat.matches("sha256sum").count(), 1, "{stat}");
}

#[test]
fn private_files_and_sudo_scripts_carry_no_content_on_the_command_line() {
    let dir = tempfile::tempdir().unwrap();
    let key = dir.path().join("server-key.pem");
    let hosts = dir.path().join("hosts");
    let files = [
        PutFile {
            path: &key,
            content: b"-----BEGIN EC PRIVATE KEY-----\nsecret\n",
            mode: 0o600,
            owner: None,
            sha256: None,
        },
        PutFile {
            path: &hosts,
            content: b"127.0.0.1 localhost\n",
            mode: 0o644,
            owner: None,
            sha256: None,
        },
    ];
    let (script, stdin) = put_script(&files, true, false);
    assert!(!script.contains("secret"), "{script}");
    assert!(script.contains("localhost"), "{script}");
    let (status, _, stderr) = sh(&script, &stdin);
    assert_eq!(status, 0, "{stderr}");
    assert_eq!(std::fs::read(&key).unwrap(), files[0].content);
    assert_eq!(mode_of(&key), 0o600);

    let (script, stdin) = put_script(&files, false, false);
    assert!(
        !script.contains("secret") && !script.contains("localhost"),
        "{script}"
    );
    assert_eq!(stdin.len(), files[0].content.len() + files[1].content.len());
}

/// The stamps a write prints are the ones the next quick stat reads, so a file kubin wrote
/// is not hashed again; a hand edit that keeps the size and puts the mtime back still
/// changes the stamp (the ctime), so it is hashed and seen.
#[test]
fn written_stamps_match_the_quick_stat_until_the_file_is_edited() {
    let dir = tempfile::tempdir().unwrap();
    let a = dir.path().join("a.conf");
    let b = dir.path().join("sub dir/b.bin");
    std::fs::create_dir_all(b.parent().unwrap()).unwrap();
    let files = [
        PutFile {
            path: &a,
            content: b"key=value\n",
            mode: 0o644,
            owner: None,
            sha256: None,
        },
        PutFile {
            path: &b,
            content: b"\x7fELF\0binary",
            mode: 0o755,
            owner: None,
            sha256: None,
        },
    ];
    let (script, stdin) = put_script(&files, true, true);
    let (status, written, stderr) = sh(&script, &stdin);
    assert_eq!(status, 0, "{stderr}");
    let written: Vec<&str> = written.lines().collect();
    assert_eq!(written.len(), 2, "{written:?}");
    let manifest = dir.path().join("manifest");
    std::fs::write(&manifest, "the records\n").unwrap();
    let paths = vec![a.clone(), dir.path().join("absent"), b.clone()];
    let quick = |with: Option<&Path>| {
        let (status, out, stderr) = sh(&quick_stat_command(&paths, with), b"");
        assert_eq!(status, 0, "{stderr}");
        parse_quick_stat("h", &paths, &out).unwrap()
    };
    let (stats, text) = quick(Some(&manifest));
    assert_eq!(text, "the records\n");
    assert_eq!(quick(None).1, "");
    let stamps: Vec<Option<&str>> = stats
        .iter()
        .map(|s| s.as_ref().map(|s| s.stamp.as_str()))
        .collect();
    assert_eq!(stamps, [Some(written[0]), None, Some(written[1])]);
    assert_eq!(stats[2].as_ref().unwrap().mode, 0o755);
    // Same size, same inode, mtime put back: only the ctime tells.
    let reference = dir.path().join("reference");
    let (st, _, _) = sh(
        &format!("touch -r {} -- {}", quote_path(&a), quote_path(&reference)),
        b"",
    );
    assert_eq!(st, 0);
    std::thread::sleep(std::time::Duration::from_millis(20));
    std::fs::write(&a, b"key=VALUE\n").unwrap();
    let (st, _, _) = sh(
        &format!(
            "touch -m -r {} -- {}",
            quote_path(&reference),
            quote_path(&a)
        ),
        b"",
    );
    assert_eq!(st, 0);
    let (after, _) = quick(None);
    let now: Vec<&str> = after[0].as_ref().unwrap().stamp.split(' ').collect();
    let then: Vec<&str> = written[0].split(' ').collect();
    assert_eq!(
        now[..6],
        then[..6],
        "size, inode, device and mtime as written"
    );
    assert_ne!(now[6..], then[6..], "the ctime moved");
    assert_eq!(after[2].as_ref().unwrap().stamp, written[1]);
    // And the hash round trip reads what is there now.
    let (status, out, _) = sh(&hash_command(&[a.clone(), b.clone()]), b"");
    assert_eq!(status, 0);
    let hashes = parse_hashes("h", &[a.clone(), b.clone()], &out).unwrap();
    assert_eq!(hashes[0], hex::encode(Sha256::digest(b"key=VALUE\n")));
    assert_eq!(hashes[1], hex::encode(Sha256::digest(b"\x7fELF\0binary")));
}
