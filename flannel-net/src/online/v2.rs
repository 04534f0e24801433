//! etcd's v2 keys API over HTTPS with a client certificate: what flannel before 0.18 reads.
//!
//! An etcd 3.4/3.5 started without `--enable-v2` has no `/v2/keys` handler at all and
//! answers 404 with Go's plain "404 page not found"; a missing key under an enabled v2
//! API is a 404 with a JSON body (`errorCode` 100). That difference is how kubin tells
//! "v2 not enabled" from "not written yet".

use super::{Access, RawEntry, Stored};
use crate::error::Error;
use reqwest::StatusCode;
use reqwest::blocking::{Client as Http, Response};
use serde::Deserialize;

/// v2's "Key not found".
const KEY_NOT_FOUND: i64 = 100;
/// v2's "Compare failed".
const COMPARE_FAILED: i64 = 101;
/// v2's "Key already exists".
const NODE_EXIST: i64 = 105;

#[derive(Debug, Deserialize)]
struct V2Error {
    #[serde(rename = "errorCode")]
    error_code: i64,
    message: String,
}

#[derive(Debug, Deserialize)]
struct V2Response {
    node: V2Node,
}

#[derive(Debug, Deserialize)]
struct V2Node {
    key: String,
    #[serde(default)]
    value: Option<String>,
    #[serde(default)]
    ttl: Option<i64>,
    #[serde(default, rename = "modifiedIndex")]
    modified_index: i64,
    #[serde(default)]
    nodes: Vec<V2Node>,
}

/// A v2 client for the access's endpoints, tried in order until one answers.
pub struct Client<'a> {
    access: &'a Access,
    http: Http,
}

/// An HTTP answer: status and body.
struct Answer {
    endpoint: String,
    status: StatusCode,
    body: String,
}

impl<'a> Client<'a> {
    /// A client with the access's TLS material and timeouts.
    pub fn new(access: &'a Access) -> Result<Self, Error> {
        let config =
            etcd_cluster::online::client_config(&access.target.tls).map_err(|e| Error::Tls {
                source: Box::new(e),
            })?;
        let t = access.target.timeouts;
        let http = Http::builder()
            .tls_backend_preconfigured(std::sync::Arc::unwrap_or_clone(config))
            .connect_timeout(t.connect)
            .timeout(t.connect + t.request)
            .build()
            .map_err(|e| Error::Tls {
                source: Box::new(e),
            })?;
        Ok(Self { access, http })
    }

    fn send(
        &self,
        build: impl Fn(&Http, &str) -> reqwest::blocking::RequestBuilder,
    ) -> Result<Answer, Error> {
        let mut failures = Vec::new();
        for endpoint in &self.access.target.endpoints {
            let base = endpoint.trim_end_matches('/');
            match build(&self.http, base).send() {
                Ok(r) => return answer(endpoint, r),
                Err(e) => failures.push(format!("{endpoint}: {}", describe(&e))),
            }
        }
        Err(Error::NoEndpoint { failures })
    }

    /// Turns a 404 without v2's JSON into the explanation; other non-v2 answers into errors.
    fn v2_error(&self, a: &Answer) -> Result<V2Error, Error> {
        if let Ok(e) = serde_json::from_str::<V2Error>(&a.body) {
            return Ok(e);
        }
        if a.status == StatusCode::NOT_FOUND {
            let version = self
                .http
                .get(format!("{}/version", a.endpoint.trim_end_matches('/')))
                .send()
                .ok()
                .and_then(|r| r.text().ok())
                .unwrap_or_default();
            let mut detail = format!("HTTP 404 {:?} for /v2/keys", a.body.trim());
            if !version.is_empty() {
                detail.push_str(&format!("; /version says {}", version.trim()));
            }
            return Err(Error::V2NotEnabled {
                endpoint: a.endpoint.clone(),
                detail,
                flannel: self.access.flannel.to_string(),
            });
        }
        Err(Error::Etcd {
            endpoint: a.endpoint.clone(),
            message: format!("HTTP {}: {}", a.status, a.body.trim()),
            source: None,
        })
    }

    /// `GET /v2/keys<key>`.
    pub fn get(&self, key: &str) -> Result<Option<Stored>, Error> {
        let a = self.send(|h, base| h.get(format!("{base}/v2/keys{key}")))?;
        if a.status.is_success() {
            let r = parse(&a)?;
            return Ok(Some(Stored {
                value: r.node.value.unwrap_or_default(),
                revision: r.node.modified_index,
            }));
        }
        match self.v2_error(&a)? {
            e if e.error_code == KEY_NOT_FOUND => Ok(None),
            e => Err(Error::Etcd {
                endpoint: a.endpoint,
                message: format!("reading {key}: {} (v2 error {})", e.message, e.error_code),
                source: None,
            }),
        }
    }

    /// `PUT /v2/keys<key>` with `value=`, only if absent (`prevExist=false`) or only if
    /// unchanged since `revision` (`prevIndex=`).
    pub fn put(&self, key: &str, value: &str, revision: Option<i64>) -> Result<(), Error> {
        let condition = match revision {
            None => "prevExist=false".to_string(),
            Some(r) => format!("prevIndex={r}"),
        };
        let a = self.send(|h, base| {
            h.put(format!("{base}/v2/keys{key}?{condition}"))
                .form(&[("value", value)])
        })?;
        if a.status.is_success() {
            return Ok(());
        }
        match self.v2_error(&a)? {
            e if e.error_code == COMPARE_FAILED || e.error_code == NODE_EXIST => {
                Err(Error::Raced { key: key.into() })
            }
            e => Err(Error::Etcd {
                endpoint: a.endpoint,
                message: format!("writing {key}: {} (v2 error {})", e.message, e.error_code),
                source: None,
            }),
        }
    }

    /// The keys directly under directory `dir` with their values and TTLs.
    pub fn list(&self, dir: &str) -> Result<Vec<RawEntry>, Error> {
        let a = self.send(|h, base| h.get(format!("{base}/v2/keys{dir}")))?;
        if a.status.is_success() {
            let r = parse(&a)?;
            return Ok(r
                .node
                .nodes
                .into_iter()
                .map(|n| (n.key, n.value.unwrap_or_default(), n.ttl))
                .collect());
        }
        match self.v2_error(&a)? {
            e if e.error_code == KEY_NOT_FOUND => Ok(Vec::new()),
            e => Err(Error::Etcd {
                endpoint: a.endpoint,
                message: format!("listing {dir}: {} (v2 error {})", e.message, e.error_code),
                source: None,
            }),
        }
    }
}

fn answer(endpoint: &str, r: Response) -> Result<Answer, Error> {
    let status = r.status();
    let body = r.text().map_err(|e| Error::Etcd {
        endpoint: endpoint.into(),
        message: "reading the answer".into(),
        source: Some(e.into()),
    })?;
    Ok(Answer {
        endpoint: endpoint.into(),
        status,
        body,
    })
}

fn parse(a: &Answer) -> Result<V2Response, Error> {
    serde_json::from_str(&a.body).map_err(|e| Error::Etcd {
        endpoint: a.endpoint.clone(),
        message: format!("not a v2 keys answer: {}", a.body.trim()),
        source: Some(e.into()),
    })
}

/// reqwest's error with its causes (the TLS or connect reason is in the chain).
fn describe(e: &reqwest::Error) -> String {
    let mut s = e.to_string();
    let mut source = std::error::Error::source(e);
    while let Some(cause) = source {
        s.push_str(": ");
        s.push_str(&cause.to_string());
        source = cause.source();
    }
    s
}
