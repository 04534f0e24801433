//! Reaching etcd: the endpoints and the client certificate, from the inventory's pki_dir
//! unless the settings name other files.

use crate::Error;
use crate::session::EtcdAccess;
use etcd_cluster::online::{ClientTls, Target};
use inventory::Inventory;
use std::path::{Path, PathBuf};

fn read(path: &Path) -> Result<String, Error> {
    std::fs::read_to_string(path).map_err(|source| Error::ClientCert {
        path: path.to_path_buf(),
        source,
    })
}

/// The etcd CA and client certificate: `<pki_dir>/etcd/{ca,client,client-key}.pem` or the
/// files `access` names.
pub fn client_tls(inv: &Inventory, access: &EtcdAccess) -> Result<ClientTls, Error> {
    let dir = inv.pki_dir.join("etcd");
    let pick = |o: &Option<PathBuf>, name: &str| o.clone().unwrap_or_else(|| dir.join(name));
    Ok(ClientTls {
        ca_pem: read(&pick(&access.cacert, "ca.pem"))?,
        cert_pem: read(&pick(&access.cert, "client.pem"))?,
        key_pem: read(&pick(&access.key, "client-key.pem"))?,
    })
}

/// The cluster to talk to: `access.endpoints`, or the inventory's members.
pub fn target(inv: &Inventory, access: &EtcdAccess) -> Result<Target, Error> {
    Ok(Target {
        endpoints: if access.endpoints.is_empty() {
            inv.etcd_endpoints()
        } else {
            access.endpoints.clone()
        },
        tls: client_tls(inv, access)?,
        timeouts: access.timeouts,
    })
}
