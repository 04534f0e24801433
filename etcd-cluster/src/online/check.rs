//! `kubin etcd health`: every endpoint checked in parallel, as `etcdctl endpoint health`
//! does it (connect, then a linearizable read), plus status and alarms.

use super::probe::probe;
use super::{ClientTls, Target, Timeouts, client_config, connect};
use crate::Error;
use crate::health::{EndpointHealth, HealthReport, Problem};
use etcd_client::{AlarmAction, AlarmType, GetOptions};
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

/// Checks every endpoint of `target` in parallel and judges the cluster. Each endpoint's
/// check is bounded by the connect timeout plus three request timeouts.
pub async fn health(target: &Target) -> Result<HealthReport, Error> {
    let config = client_config(&target.tls)?;
    let expired = client_cert_expired(&target.tls.cert_pem);
    let tls = target.tls.clone();
    let timeouts = target.timeouts;
    let endpoints = check_all(&target.endpoints, move |endpoint| {
        let tls = tls.clone();
        let config = config.clone();
        let expired = expired.clone();
        async move {
            match expired {
                Some(not_after) => EndpointHealth::unhealthy(
                    &endpoint,
                    Duration::ZERO,
                    Problem::ClientCertExpired { not_after },
                ),
                None => check_endpoint(&endpoint, &tls, config, timeouts).await,
            }
        }
    })
    .await;
    Ok(HealthReport::new(endpoints))
}

/// Runs `check` on every endpoint in parallel and returns one result per endpoint, in
/// order. An endpoint whose check did not finish (its task panicked) is unhealthy: the
/// report never lists fewer endpoints than it was given.
async fn check_all<F, Fut>(endpoints: &[String], check: F) -> Vec<EndpointHealth>
where
    F: Fn(String) -> Fut,
    Fut: std::future::Future<Output = EndpointHealth> + Send + 'static,
{
    let start = Instant::now();
    let mut set = tokio::task::JoinSet::new();
    let mut tasks = std::collections::HashMap::new();
    for (i, endpoint) in endpoints.iter().enumerate() {
        let handle = set.spawn(check(endpoint.clone()));
        tasks.insert(handle.id(), i);
    }
    let mut results: Vec<Option<EndpointHealth>> = vec![None; endpoints.len()];
    while let Some(joined) = set.join_next_with_id().await {
        let (id, result) = match joined {
            Ok((id, health)) => (id, health),
            Err(e) => {
                let detail = if e.is_panic() {
                    "the check panicked".to_string()
                } else {
                    "the check was cancelled".to_string()
                };
                let i = tasks.get(&e.id()).copied().unwrap_or(usize::MAX);
                let endpoint = endpoints.get(i).map_or("", String::as_str);
                let failed = Problem::CheckFailed { detail };
                (
                    e.id(),
                    EndpointHealth::unhealthy(endpoint, start.elapsed(), failed),
                )
            }
        };
        if let Some(slot) = tasks.get(&id).and_then(|i| results.get_mut(*i)) {
            *slot = Some(result);
        }
    }
    // Every task ends in `join_next_with_id`, so every slot is filled; a slot that is not
    // would still count as unhealthy rather than vanish.
    results
        .into_iter()
        .zip(endpoints)
        .map(|(r, endpoint)| {
            r.unwrap_or_else(|| {
                let failed = Problem::CheckFailed {
                    detail: "the check never reported".into(),
                };
                EndpointHealth::unhealthy(endpoint, start.elapsed(), failed)
            })
        })
        .collect()
}

/// `Some(not_after)` when the client certificate has already expired.
fn client_cert_expired(cert_pem: &str) -> Option<String> {
    let (_, pem) = x509_parser::pem::parse_x509_pem(cert_pem.as_bytes()).ok()?;
    let cert = pem.parse_x509().ok()?;
    let not_after = cert.validity().not_after;
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs() as i64)
        .unwrap_or(0);
    (not_after.timestamp() < now).then(|| {
        not_after
            .to_rfc2822()
            .unwrap_or_else(|_| not_after.timestamp().to_string())
    })
}

/// Checks one endpoint: status, alarms and a linearizable read through the v3 API, and,
/// at the same time, a TLS probe whose finding names a connection or certificate failure
/// precisely (etcd-client folds those into "transport error").
pub async fn check_endpoint(
    endpoint: &str,
    tls: &ClientTls,
    config: Arc<rustls::ClientConfig>,
    timeouts: Timeouts,
) -> EndpointHealth {
    let start = Instant::now();
    let probed = {
        let endpoint = endpoint.to_string();
        let timeout = timeouts.connect;
        tokio::task::spawn_blocking(move || probe(&endpoint, config, timeout))
    };
    let (probed, checked) = tokio::join!(probed, v3_checks(endpoint, tls, timeouts));
    let took = start.elapsed();
    match (probed, checked) {
        (Ok(Err(problem)), _) => EndpointHealth::unhealthy(endpoint, took, problem),
        (_, Err(problem)) => EndpointHealth::unhealthy(endpoint, took, problem),
        (_, Ok((version, member))) => {
            let mut h = EndpointHealth::healthy(endpoint, took, Some(version));
            h.member = member;
            h
        }
    }
}

/// The member's version and name, or why it is not healthy.
async fn v3_checks(
    endpoint: &str,
    tls: &ClientTls,
    timeouts: Timeouts,
) -> Result<(String, Option<String>), Problem> {
    let t = timeouts.request;
    let mut client = bounded(
        "connecting",
        t,
        connect(&[endpoint.to_string()], tls, timeouts),
    )
    .await?;
    let status = bounded("status", t, client.status()).await?;
    if status.leader() == 0 {
        return Err(Problem::NoLeader);
    }
    let alarms = bounded(
        "listing alarms",
        t,
        client.alarm(AlarmAction::Get, AlarmType::None, None),
    )
    .await?;
    if !alarms.alarms().is_empty() {
        return Err(Problem::Alarms {
            alarms: alarms
                .alarms()
                .iter()
                .map(|a| format!("{:x}: {:?}", a.member_id(), a.alarm()))
                .collect(),
        });
    }
    // A linearizable read needs the leader and a quorum: the proof the member serves.
    bounded(
        "a linearizable read",
        t,
        client.get("health", Some(GetOptions::new().with_count_only())),
    )
    .await?;
    // The member's own name, from the member list on the same connection (best effort).
    let id = status.header().map(|h| h.member_id());
    let name = match bounded("member list", t, client.member_list()).await {
        Ok(list) => list
            .members()
            .iter()
            .find(|m| Some(m.id()) == id)
            .map(|m| m.name().to_string()),
        Err(_) => None,
    };
    Ok((status.version().to_string(), name))
}

/// Runs an etcd call with a hard deadline and names its failure.
pub(crate) async fn bounded<T>(
    call: &str,
    timeout: Duration,
    fut: impl Future<Output = Result<T, etcd_client::Error>>,
) -> Result<T, Problem> {
    match tokio::time::timeout(timeout, fut).await {
        Err(_) => Err(Problem::Timeout {
            during: format!("waiting for {call}"),
            after_ms: timeout.as_millis() as u64,
        }),
        Ok(Ok(v)) => Ok(v),
        Ok(Err(e)) => Err(rpc_problem(call, timeout, &e)),
    }
}

pub(crate) fn rpc_problem(call: &str, timeout: Duration, e: &etcd_client::Error) -> Problem {
    if let etcd_client::Error::GRpcStatus(s) = e {
        if s.message().contains("no leader") {
            return Problem::NoLeader;
        }
        // tonic reports its own per-request timeout as "Cancelled: Timeout expired".
        if i32::from(s.code()) == GRPC_DEADLINE_EXCEEDED || s.message().contains("Timeout expired")
        {
            return Problem::Timeout {
                during: format!("waiting for {call}"),
                after_ms: timeout.as_millis() as u64,
            };
        }
        return Problem::Rpc {
            call: call.into(),
            detail: format!("{:?}: {}", s.code(), s.message()),
        };
    }
    Problem::Rpc {
        call: call.into(),
        detail: e.to_string(),
    }
}

/// gRPC's status code 4 (tonic's `Code` is not re-exported by etcd-client).
const GRPC_DEADLINE_EXCEEDED: i32 = 4;

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn a_check_that_panics_is_an_unhealthy_endpoint() {
        let endpoints: Vec<String> = ["https://10.0.0.1:2379", "https://10.0.0.2:2379"]
            .map(String::from)
            .to_vec();
        let results = check_all(&endpoints, |endpoint| async move {
            if endpoint.contains("10.0.0.2") {
                panic!("a bug in a check");
            }
            EndpointHealth::healthy(&endpoint, Duration::ZERO, None)
        })
        .await;
        assert_eq!(results.len(), 2, "{results:?}");
        assert!(results[0].healthy);
        assert_eq!(results[1].endpoint, "https://10.0.0.2:2379");
        assert!(!results[1].healthy);
        assert!(
            matches!(results[1].problem, Some(Problem::CheckFailed { .. })),
            "{results:?}"
        );
        let report = HealthReport::new(results);
        assert_eq!((report.healthy, report.total), (1, 2));
        assert_ne!(report.verdict, crate::health::Verdict::Healthy);
    }
}
