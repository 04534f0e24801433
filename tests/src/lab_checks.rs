//! Checks the lab tests share: units' start times (a re-run restarts nothing) and a timed
//! `kubin` run.

use lab::Lab;
use std::path::Path;
use std::process::{Command, Output, Stdio};
use std::time::Instant;

/// Each unit's `ActiveEnterTimestampMonotonic` on each host, as `host/unit` and the value:
/// equal before and after a run means that run restarted none of them.
pub fn unit_start_times(lab: &Lab, units: &[(&str, &[&str])]) -> Vec<(String, String)> {
    let mut out = Vec::new();
    for (host, units) in units {
        for u in *units {
            let t = lab
                .ssh_ok(
                    host,
                    &format!("systemctl show -p ActiveEnterTimestampMonotonic --value {u}.service"),
                )
                .unwrap();
            out.push((format!("{host}/{u}"), t.trim().to_string()));
        }
    }
    out
}

/// `kubin ARGS -f INVENTORY`, which must succeed; prints how long it took.
#[track_caller]
pub fn kubin_timed(inventory: &Path, args: &[&str]) -> String {
    let start = Instant::now();
    let out = crate::kubin::run_ok(inventory, args);
    eprintln!(
        "kubin {} took {:.1} s",
        args.join(" "),
        start.elapsed().as_secs_f64()
    );
    out
}

/// `curl` of `key` through etcd's v2 API at `endpoint`, with the etcd client certificate in
/// `pki` (flannel 0.10 reads its config there).
pub fn curl_v2(pki: &Path, endpoint: &str, key: &str) -> Output {
    Command::new("curl")
        .args(["-sS", "--max-time", "5", "--cacert"])
        .arg(pki.join("etcd/ca.pem"))
        .arg("--cert")
        .arg(pki.join("etcd/client.pem"))
        .arg("--key")
        .arg(pki.join("etcd/client-key.pem"))
        .arg(format!("{endpoint}/v2/keys{key}"))
        .output()
        .expect("curl runs")
}

/// `kubectl --kubeconfig KUBECONFIG ARGS`, each request bounded (a later
/// `--request-timeout` in `args` wins).
pub fn kubectl(bin: &Path, kubeconfig: &Path, args: &[&str]) -> Output {
    Command::new(bin)
        .arg("--kubeconfig")
        .arg(kubeconfig)
        .arg("--request-timeout=20s")
        .args(args)
        .output()
        .expect("kubectl runs")
}

/// `kubectl apply -f -` with `manifest` on stdin.
pub fn kubectl_apply(bin: &Path, kubeconfig: &Path, manifest: &str) -> Output {
    use std::io::Write as _;
    let mut child = Command::new(bin)
        .arg("--kubeconfig")
        .arg(kubeconfig)
        .args(["apply", "-f", "-"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("kubectl runs");
    child
        .stdin
        .take()
        .expect("piped")
        .write_all(manifest.as_bytes())
        .expect("kubectl reads its stdin");
    child.wait_with_output().expect("kubectl ends")
}
