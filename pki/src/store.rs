//! The only module of `pki` that touches files: loading an existing CA, writing cfssljson's
//! names (`NAME.pem`, `NAME-key.pem` mode 0600, `NAME.csr`), never overwriting a key or a CA,
//! and backing up a leaf that a changed request reissues.
//!
//! Keys are created with `O_EXCL` (`create_new`), so an existing key can never be overwritten,
//! even by a race. A CA is loaded when both its files exist, created when neither does, and
//! anything in between is an error: replacing a CA is never implicit.

use crate::cluster::leaf_mismatch;
use crate::set::new_service_account_key;
use crate::{
    Ca, CertInfo, CertKey, ClusterSet, ClusterSetRequest, CsrRequest, Error, Issued, LeafSpec,
    PrivateKey, ServiceAccountKey, Signer, cert_info, cluster_leaves, layout,
};
use ring::rand::SecureRandom;
use std::collections::BTreeMap;
use std::fs;
use std::io::Write;
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};
use std::time::SystemTime;

/// What [`ensure_cluster_set`] did with one file set.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Status {
    /// It existed and fits: nothing written.
    Reused,
    /// It did not exist: issued and written.
    Issued,
    /// Its request changed: reissued, the old certificate (and key, if replaced) kept under
    /// these backup paths.
    Reissued {
        /// Why it was reissued.
        reason: String,
        /// Where the old files went.
        backups: Vec<PathBuf>,
    },
}

fn io(path: &Path) -> impl Fn(std::io::Error) -> Error + '_ {
    move |source| Error::Io {
        path: path.to_path_buf(),
        source,
    }
}

/// Reads a file as text.
pub fn read(path: &Path) -> Result<String, Error> {
    fs::read_to_string(path).map_err(io(path))
}

/// Writes a public file (certificate, CSR): mode 0644, through a temporary file and a rename so
/// readers never see half a file.
pub fn write_public(path: &Path, contents: &str) -> Result<(), Error> {
    create_parent(path)?;
    write_public_in_place(path, contents)
}

/// Writes a private key: mode 0600, and only if no file of that name exists (never overwrites).
pub fn write_key(path: &Path, pem: &str) -> Result<(), Error> {
    create_parent(path)?;
    write_key_in_place(path, pem)
}

/// Creates the directory `path` goes in, if it is missing.
fn create_parent(path: &Path) -> Result<(), Error> {
    match path.parent().filter(|p| !p.as_os_str().is_empty()) {
        Some(parent) => fs::create_dir_all(parent).map_err(io(parent)),
        None => Ok(()),
    }
}

/// [`write_public`] into a directory known to exist.
fn write_public_in_place(path: &Path, contents: &str) -> Result<(), Error> {
    let tmp = path.with_extension(format!("tmp{}", std::process::id()));
    {
        let mut f = fs::OpenOptions::new()
            .write(true)
            .create(true)
            .truncate(true)
            .mode(0o644)
            .open(&tmp)
            .map_err(io(&tmp))?;
        f.write_all(contents.as_bytes()).map_err(io(&tmp))?;
    }
    fs::rename(&tmp, path).map_err(io(path))
}

/// [`write_key`] into a directory known to exist.
fn write_key_in_place(path: &Path, pem: &str) -> Result<(), Error> {
    let mut f = fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(path)
        .map_err(io(path))?;
    f.write_all(pem.as_bytes()).map_err(io(path))
}

/// cfssljson's file names for a base path: `BASE.pem`, `BASE-key.pem`, `BASE.csr`.
pub fn bare_paths(base: &Path) -> (PathBuf, PathBuf, PathBuf) {
    let s = base.as_os_str().to_string_lossy();
    (
        PathBuf::from(format!("{s}.pem")),
        PathBuf::from(format!("{s}-key.pem")),
        PathBuf::from(format!("{s}.csr")),
    )
}

/// `cfssljson -bare BASE`: writes `BASE.pem`, `BASE-key.pem` (0600) and `BASE.csr`. Refuses
/// (before writing anything) when `BASE-key.pem` or, for a CA, `BASE.pem` already exists.
pub fn write_bare(base: &Path, issued: &Issued) -> Result<Vec<PathBuf>, Error> {
    let (cert, key, csr) = bare_paths(base);
    if key.exists() {
        return Err(Error::KeyConflict {
            path: key,
            message: "a key already exists".into(),
        });
    }
    // Parsing the new certificate is only needed when a `BASE.pem` is in the way, which a fresh
    // issue never meets: the common path skips the parse.
    if cert.exists() && cert_info(&issued.cert_pem, "new certificate").is_ok_and(|i| i.is_ca) {
        return Err(Error::HalfCa {
            present: cert,
            missing: key,
        });
    }
    // The three files share a directory: create it once.
    create_parent(&key)?;
    write_key_in_place(&key, &issued.key_pem)?;
    write_public_in_place(&cert, &issued.cert_pem)?;
    if !issued.csr_pem.is_empty() {
        write_public_in_place(&csr, &issued.csr_pem)?;
    }
    Ok(vec![cert, key, csr])
}

/// Loads a CA from its two files (cfssl's or kubin's), checking that they belong together.
pub fn load_ca(cert: &Path, key: &Path) -> Result<Ca, Error> {
    Ca::from_pem(
        &read(cert)?,
        &cert.display().to_string(),
        &read(key)?,
        &key.display().to_string(),
    )
}

/// Loads the CA at `BASE.pem`/`BASE-key.pem`, or creates it from `req` when neither exists.
pub fn ensure_ca(
    base: &Path,
    req: &CsrRequest,
    now: SystemTime,
    rng: &dyn SecureRandom,
) -> Result<(Ca, Status), Error> {
    let (cert, key, _) = bare_paths(base);
    match (cert.exists(), key.exists()) {
        (true, true) => Ok((load_ca(&cert, &key)?, Status::Reused)),
        (true, false) => Err(Error::HalfCa {
            present: cert,
            missing: key,
        }),
        (false, true) => Err(Error::HalfCa {
            present: key,
            missing: cert,
        }),
        (false, false) => {
            let issued = crate::init_ca(req, &cert.display().to_string(), now, rng)?;
            write_bare(base, &issued)?;
            let ca = Ca::from_pem(
                &issued.cert_pem,
                &cert.display().to_string(),
                &issued.key_pem,
                &key.display().to_string(),
            )?;
            Ok((ca, Status::Issued))
        }
    }
}

/// A free backup name: `PATH.<unix-seconds>.bak`, with a counter if that exists too.
fn backup_path(path: &Path, now: SystemTime) -> PathBuf {
    let secs = now
        .duration_since(SystemTime::UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0);
    let base = path.as_os_str().to_string_lossy().to_string();
    let mut candidate = PathBuf::from(format!("{base}.{secs}.bak"));
    let mut n = 1;
    while candidate.exists() {
        candidate = PathBuf::from(format!("{base}.{secs}.{n}.bak"));
        n += 1;
    }
    candidate
}

fn backup(path: &Path, now: SystemTime) -> Result<PathBuf, Error> {
    let to = backup_path(path, now);
    fs::rename(path, &to).map_err(io(path))?;
    Ok(to)
}

/// What is on disk for one leaf, read only.
struct Existing {
    /// Its key, if the key file exists.
    key: Option<PrivateKey>,
    /// Its certificate, if the certificate file exists.
    cert_pem: Option<String>,
    /// Why an existing certificate no longer fits (`None`: it fits, or there is none).
    why: Option<String>,
}

/// Reads the leaf `spec` under `dir` and judges it against `ca`, writing nothing.
fn existing_leaf(dir: &Path, spec: &LeafSpec, ca: &Ca) -> Result<Existing, Error> {
    let (cert_path, key_path, _) = bare_paths(&dir.join(&spec.name));
    let label = cert_path.display().to_string();
    let key = if key_path.exists() {
        Some(PrivateKey::from_pem(
            &read(&key_path)?,
            &key_path.display().to_string(),
        )?)
    } else {
        None
    };
    if !cert_path.exists() {
        return Ok(Existing {
            key,
            cert_pem: None,
            why: None,
        });
    }
    let cert_pem = read(&cert_path)?;
    let info: CertInfo = cert_info(&cert_pem, &label)?;
    if let Some(k) = &key
        && crate::ca::cert_spki(&cert_pem, &label)? != k.spki_der()
    {
        return Err(Error::KeyConflict {
            path: key_path,
            message: format!("the key does not match {label}"),
        });
    }
    let why = match (&key, leaf_mismatch(&info, spec)) {
        (_, Some(why)) => Some(why),
        (None, None) => Some("its key is missing".to_string()),
        (Some(_), None) if !ca.signed(&cert_pem) => Some("another CA signed it".to_string()),
        (Some(_), None) => None,
    };
    Ok(Existing {
        key,
        cert_pem: Some(cert_pem),
        why,
    })
}

/// What [`ensure_cluster_set`] would do in `dir` for `req`, by base name, reading files and
/// writing nothing (a dry run): `Reused`, `Issued`, or `Reissued` with the reason (and no
/// backups, since nothing moves). Refuses what `ensure_cluster_set` refuses (half a CA, a key
/// that does not match its certificate).
pub fn check_cluster_set(
    dir: &Path,
    req: &ClusterSetRequest,
) -> Result<Vec<(String, Status)>, Error> {
    req.check()?;
    let mut report = Vec::new();
    let mut cas = BTreeMap::new();
    for (signer, name) in [
        (Signer::Etcd, layout::ETCD_CA),
        (Signer::Cluster, layout::CLUSTER_CA),
    ] {
        let (cert, key, _) = bare_paths(&dir.join(name));
        let status = match (cert.exists(), key.exists()) {
            (true, true) => {
                cas.insert(signer, load_ca(&cert, &key)?);
                Status::Reused
            }
            (false, false) => Status::Issued,
            (true, false) => {
                return Err(Error::HalfCa {
                    present: cert,
                    missing: key,
                });
            }
            (false, true) => {
                return Err(Error::HalfCa {
                    present: key,
                    missing: cert,
                });
            }
        };
        report.push((name.to_string(), status));
    }
    for spec in cluster_leaves(req) {
        let wanted = spec.request.key_spec(&spec.name)?;
        let (cert_path, key_path, _) = bare_paths(&dir.join(&spec.name));
        let status = match cas.get(&spec.signer) {
            None if cert_path.exists() || key_path.exists() => Status::Reissued {
                reason: "its CA would be new".into(),
                backups: Vec::new(),
            },
            None => Status::Issued,
            Some(ca) => {
                let Existing { key, cert_pem, why } = existing_leaf(dir, &spec, ca)?;
                let key_kind = key
                    .as_ref()
                    .filter(|k| k.spec() != wanted)
                    .map(|k| format!("key {} is now {wanted}", k.spec()));
                match (cert_pem, why.or(key_kind)) {
                    (Some(_), None) => Status::Reused,
                    (_, Some(reason)) => Status::Reissued {
                        reason,
                        backups: Vec::new(),
                    },
                    (None, None) => Status::Issued,
                }
            }
        };
        report.push((spec.name, status));
    }
    let key_path = dir.join(layout::SA_KEY);
    let pub_path = dir.join(layout::SA_PUB);
    let status = if key_path.exists() {
        let key = PrivateKey::from_pem(&read(&key_path)?, &key_path.display().to_string())?;
        if pub_path.exists() && read(&pub_path)? == key.public_key_pem() {
            Status::Reused
        } else {
            Status::Reissued {
                reason: format!("{} is missing or stale", layout::SA_PUB),
                backups: Vec::new(),
            }
        }
    } else {
        Status::Issued
    };
    report.push((layout::SA_KEY.to_string(), status));
    Ok(report)
}

/// Makes sure the leaf `spec` exists under `dir`, signed by `ca`: reuses a fitting one,
/// issues a missing one, reissues a changed one (old files kept as timestamped backups; the
/// key is kept when it is still of the requested kind).
pub fn ensure_leaf(
    dir: &Path,
    spec: &LeafSpec,
    ca: &Ca,
    now: SystemTime,
    rng: &dyn SecureRandom,
) -> Result<(CertKey, Status), Error> {
    let (cert_path, key_path, csr_path) = bare_paths(&dir.join(&spec.name));
    let wanted = spec.request.key_spec(&spec.name)?;
    let Existing { key, cert_pem, why } = existing_leaf(dir, spec, ca)?;
    let mut backups = Vec::new();
    let mut reason = None;
    if let Some(cert_pem) = cert_pem {
        match why {
            None => {
                let key_pem = key.map(|k| k.pem().to_string()).unwrap_or_default();
                return Ok((CertKey { cert_pem, key_pem }, Status::Reused));
            }
            Some(why) => {
                backups.push(backup(&cert_path, now)?);
                if csr_path.exists() {
                    backups.push(backup(&csr_path, now)?);
                }
                reason = Some(why);
            }
        }
    }
    let key = match key {
        Some(k) if k.spec() == wanted => k,
        Some(k) => {
            reason.get_or_insert_with(|| format!("key {} is now {wanted}", k.spec()));
            backups.push(backup(&key_path, now)?);
            PrivateKey::generate(wanted)?
        }
        None => PrivateKey::generate(wanted)?,
    };
    let issued =
        crate::issue_with_key(ca, &spec.request, &spec.name, &key, &spec.profile, now, rng)?;
    if !key_path.exists() {
        write_key(&key_path, &issued.key_pem)?;
    }
    write_public(&cert_path, &issued.cert_pem)?;
    write_public(&csr_path, &issued.csr_pem)?;
    let status = match reason {
        Some(reason) => Status::Reissued { reason, backups },
        None => Status::Issued,
    };
    Ok((issued.into(), status))
}

fn ensure_service_account(dir: &Path) -> Result<(ServiceAccountKey, Status), Error> {
    let key_path = dir.join(layout::SA_KEY);
    let pub_path = dir.join(layout::SA_PUB);
    if key_path.exists() {
        let key = PrivateKey::from_pem(&read(&key_path)?, &key_path.display().to_string())?;
        let public_pem = key.public_key_pem();
        if !pub_path.exists() || read(&pub_path)? != public_pem {
            write_public(&pub_path, &public_pem)?;
        }
        return Ok((
            ServiceAccountKey {
                key_pem: key.pem().to_string(),
                public_pem,
            },
            Status::Reused,
        ));
    }
    let sa = new_service_account_key()?;
    write_key(&key_path, &sa.key_pem)?;
    write_public(&pub_path, &sa.public_pem)?;
    Ok((sa, Status::Issued))
}

/// Makes sure `dir` holds the whole set for `req` (file names in [`crate::layout`]):
/// loads what exists, issues what is missing, reissues a leaf whose
/// request changed (keeping the old files as `NAME.pem.<unix-time>.bak`), never overwrites
/// a key or a CA.
pub fn ensure_cluster_set(dir: &Path, req: &ClusterSetRequest) -> Result<ClusterSet, Error> {
    ensure_cluster_set_with_report(dir, req).map(|(set, _)| set)
}

/// [`ensure_cluster_set`], also telling what happened to each file set, by base name.
pub fn ensure_cluster_set_with_report(
    dir: &Path,
    req: &ClusterSetRequest,
) -> Result<(ClusterSet, Vec<(String, Status)>), Error> {
    req.check()?;
    let now = SystemTime::now();
    let rng = crate::new_rng();
    let mut report = Vec::new();
    let (etcd, s) = ensure_ca(
        &dir.join(layout::ETCD_CA),
        &req.ca_request(Signer::Etcd),
        now,
        &rng,
    )?;
    report.push((layout::ETCD_CA.to_string(), s));
    let (cluster, s) = ensure_ca(
        &dir.join(layout::CLUSTER_CA),
        &req.ca_request(Signer::Cluster),
        now,
        &rng,
    )?;
    report.push((layout::CLUSTER_CA.to_string(), s));
    let mut leaves = BTreeMap::new();
    for spec in cluster_leaves(req) {
        let ca = match spec.signer {
            Signer::Etcd => &etcd,
            Signer::Cluster => &cluster,
        };
        let (ck, s) = ensure_leaf(dir, &spec, ca, now, &rng)?;
        report.push((spec.name.clone(), s));
        leaves.insert(spec.name, ck);
    }
    let (service_account, s) = ensure_service_account(dir)?;
    report.push((layout::SA_KEY.to_string(), s));
    let ca_pair = |ca: &Ca| CertKey {
        cert_pem: ca.cert_pem().to_string(),
        key_pem: ca.key_pem().to_string(),
    };
    let set = ClusterSet {
        etcd_ca: ca_pair(&etcd),
        ca: ca_pair(&cluster),
        leaves,
        service_account,
    };
    Ok((set, report))
}

/// Reads every certificate under `dir` (recursively; `*.pem` files holding a certificate,
/// backups and keys skipped), with its path relative to `dir`, sorted by path.
pub fn read_certs(dir: &Path) -> Result<Vec<(String, CertInfo)>, Error> {
    let mut out = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        for entry in fs::read_dir(&d).map_err(io(&d))? {
            let path = entry.map_err(io(&d))?.path();
            if path.is_dir() {
                stack.push(path);
                continue;
            }
            let name = path
                .file_name()
                .map(|n| n.to_string_lossy().to_string())
                .unwrap_or_default();
            if !name.ends_with(".pem") || name.ends_with("-key.pem") {
                continue;
            }
            let text = read(&path)?;
            if !text.contains("-----BEGIN CERTIFICATE-----") {
                continue;
            }
            let rel = path
                .strip_prefix(dir)
                .unwrap_or(&path)
                .display()
                .to_string();
            out.push((rel.clone(), cert_info(&text, &path.display().to_string())?));
        }
    }
    out.sort_by(|a, b| a.0.cmp(&b.0));
    Ok(out)
}
