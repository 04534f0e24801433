//! etcd's v3 API through `etcd-client`: what flannel 0.18 and later read.

use super::{RawEntry, Stored};
use crate::error::Error;
use etcd_client::{
    Certificate, Client, Compare, CompareOp, ConnectOptions, GetOptions, Identity, TlsOptions, Txn,
    TxnOp,
};
use etcd_cluster::online::Target;
use std::future::Future;

fn etcd_err(
    target: &Target,
    message: impl ToString,
    source: impl Into<Option<crate::error::BoxError>>,
) -> Error {
    Error::Etcd {
        endpoint: target.endpoints.join(","),
        message: message.to_string(),
        source: source.into(),
    }
}

/// Runs `f` with a connected client on a runtime of its own, bounded by the timeouts.
fn with_client<T, F, Fut>(target: &Target, f: F) -> Result<T, Error>
where
    F: FnOnce(Client) -> Fut,
    Fut: Future<Output = Result<T, etcd_client::Error>>,
{
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(|e| etcd_err(target, "cannot start a runtime", Some(e.into())))?;
    let t = target.timeouts;
    rt.block_on(async {
        let options = ConnectOptions::new()
            .with_tls(
                TlsOptions::new()
                    .ca_certificate(Certificate::from_pem(&target.tls.ca_pem))
                    .identity(Identity::from_pem(
                        &target.tls.cert_pem,
                        &target.tls.key_pem,
                    )),
            )
            .with_connect_timeout(t.connect)
            .with_timeout(t.request)
            .with_require_leader(true);
        let bound = t.connect + t.request * 3;
        let work = async {
            let client = Client::connect(&target.endpoints, Some(options)).await?;
            f(client).await
        };
        match tokio::time::timeout(bound, work).await {
            Ok(r) => r.map_err(|e| etcd_err(target, "the v3 request failed", Some(e.into()))),
            Err(_) => Err(etcd_err(
                target,
                format!("no answer within {bound:?}"),
                None,
            )),
        }
    })
}

/// The value of `key` and its `mod_revision`.
pub fn get(target: &Target, key: &str) -> Result<Option<Stored>, Error> {
    let key = key.to_string();
    let found = with_client(target, |mut c| async move {
        let r = c.get(key, None).await?;
        Ok(r.kvs()
            .first()
            .map(|kv| (kv.value().to_vec(), kv.mod_revision())))
    })?;
    match found {
        None => Ok(None),
        Some((bytes, revision)) => Ok(Some(Stored {
            value: String::from_utf8(bytes)
                .map_err(|e| etcd_err(target, "the value is not UTF-8 text", Some(e.into())))?,
            revision,
        })),
    }
}

/// Puts `value` at `key` in a transaction: only if the key does not exist (`revision`
/// `None`), or only if it was last modified at `revision`.
pub fn put(target: &Target, key: &str, value: &str, revision: Option<i64>) -> Result<(), Error> {
    let compare = match revision {
        None => Compare::create_revision(key, CompareOp::Equal, 0),
        Some(r) => Compare::mod_revision(key, CompareOp::Equal, r),
    };
    let txn = Txn::new()
        .when([compare])
        .and_then([TxnOp::put(key, value, None)]);
    let ok = with_client(
        target,
        |mut c| async move { Ok(c.txn(txn).await?.succeeded()) },
    )?;
    if ok {
        Ok(())
    } else {
        Err(Error::Raced { key: key.into() })
    }
}

/// Every key under `prefix`, with its value and its lease's remaining TTL.
pub fn list(target: &Target, prefix: &str) -> Result<Vec<RawEntry>, Error> {
    let prefix = prefix.to_string();
    with_client(target, |mut c| async move {
        let r = c.get(prefix, Some(GetOptions::new().with_prefix())).await?;
        let mut out = Vec::new();
        for kv in r.kvs() {
            let ttl = if kv.lease() != 0 {
                Some(c.lease_time_to_live(kv.lease(), None).await?.ttl())
            } else {
                None
            };
            out.push((
                String::from_utf8_lossy(kv.key()).into_owned(),
                String::from_utf8_lossy(kv.value()).into_owned(),
                ttl,
            ));
        }
        Ok(out)
    })
}
