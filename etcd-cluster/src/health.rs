//! Health results and what they add up to: healthy, degraded with quorum, quorum lost.
//!
//! The checks themselves are in [`crate::online`]; this module only judges and prints.

use crate::membership::quorum;
use serde::Serialize;
use std::fmt;
use std::time::Duration;

/// Why an endpoint is not healthy, named as what it is.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
#[non_exhaustive]
pub enum Problem {
    /// Nothing listens on the port (the member is stopped).
    ConnectionRefused,
    /// No answer within the timeout (a cut link, a hung member, a lost quorum).
    Timeout {
        /// What was being waited for.
        during: String,
        /// The timeout, in milliseconds.
        after_ms: u64,
    },
    /// The address is unreachable (no route).
    Unreachable {
        /// The operating system's message.
        detail: String,
    },
    /// The member's certificate is not signed by the CA kubin trusts (a wrong CA file).
    UnknownCa {
        /// The TLS library's message.
        detail: String,
    },
    /// The member's certificate has expired (or is not yet valid).
    ServerCertExpired {
        /// The TLS library's message.
        detail: String,
    },
    /// The member's certificate does not name the address connected to.
    ServerCertName {
        /// The TLS library's message.
        detail: String,
    },
    /// kubin's client certificate has expired; the member would reject it.
    ClientCertExpired {
        /// When it expired (RFC 3339).
        not_after: String,
    },
    /// The member rejected kubin's client certificate (a TLS alert).
    ClientCertRejected {
        /// The alert the member sent.
        alert: String,
    },
    /// Another TLS failure.
    Tls {
        /// The TLS library's message.
        detail: String,
    },
    /// The member answers but has no leader.
    NoLeader,
    /// The cluster has raised alarms (e.g. NOSPACE).
    Alarms {
        /// The alarms, `member-id: ALARM`.
        alarms: Vec<String>,
    },
    /// kubin's own check of the endpoint failed (its task panicked or was cancelled): the
    /// endpoint's health is unknown, so it counts as unhealthy.
    CheckFailed {
        /// What happened to the check.
        detail: String,
    },
    /// An etcd call failed for another reason.
    Rpc {
        /// The call.
        call: String,
        /// The client's message.
        detail: String,
    },
}

impl std::error::Error for Problem {}

impl fmt::Display for Problem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Problem::ConnectionRefused => write!(f, "connection refused (etcd not running?)"),
            Problem::Timeout { during, after_ms } => {
                write!(f, "timed out after {after_ms} ms {during}")
            }
            Problem::Unreachable { detail } => write!(f, "unreachable: {detail}"),
            Problem::UnknownCa { detail } => write!(
                f,
                "the member's certificate is not signed by the given CA ({detail})"
            ),
            Problem::ServerCertExpired { detail } => {
                write!(f, "the member's certificate has expired ({detail})")
            }
            Problem::ServerCertName { detail } => write!(
                f,
                "the member's certificate does not name this address ({detail})"
            ),
            Problem::ClientCertExpired { not_after } => {
                write!(f, "the client certificate expired at {not_after}")
            }
            Problem::ClientCertRejected { alert } => write!(
                f,
                "the member rejected the client certificate (alert {alert}: not signed by a CA \
                 the member trusts, or expired)"
            ),
            Problem::Tls { detail } => write!(f, "TLS failed: {detail}"),
            Problem::NoLeader => write!(f, "the member has no leader"),
            Problem::Alarms { alarms } => write!(f, "alarms raised: {}", alarms.join(", ")),
            Problem::CheckFailed { detail } => write!(f, "kubin's check failed: {detail}"),
            Problem::Rpc { call, detail } => write!(f, "{call} failed: {detail}"),
        }
    }
}

/// One endpoint's health, as `etcdctl endpoint health` reports it, with more detail.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct EndpointHealth {
    /// The endpoint, `https://ADDR:2379`.
    pub endpoint: String,
    /// Healthy: connected, status answered, no alarms, a linearizable read succeeded.
    pub healthy: bool,
    /// How long the check took, in milliseconds.
    pub took_ms: f64,
    /// The member's name, when its status answered and the member list named it.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub member: Option<String>,
    /// The etcd version the member runs, when its status answered.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub version: Option<String>,
    /// Why it is unhealthy.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub problem: Option<Problem>,
}

impl EndpointHealth {
    /// A healthy result.
    pub fn healthy(endpoint: &str, took: Duration, version: Option<String>) -> Self {
        Self {
            endpoint: endpoint.into(),
            healthy: true,
            took_ms: ms(took),
            member: None,
            version,
            problem: None,
        }
    }

    /// An unhealthy result.
    pub fn unhealthy(endpoint: &str, took: Duration, problem: Problem) -> Self {
        Self {
            endpoint: endpoint.into(),
            healthy: false,
            took_ms: ms(took),
            member: None,
            version: None,
            problem: Some(problem),
        }
    }
}

fn ms(d: Duration) -> f64 {
    (d.as_secs_f64() * 1_000_000.0).round() / 1000.0
}

/// What the endpoints' health adds up to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Verdict {
    /// Every endpoint is healthy.
    Healthy,
    /// Some endpoints are unhealthy, but a quorum is healthy: the cluster serves writes.
    DegradedWithQuorum,
    /// Fewer than a quorum are healthy: the cluster serves no writes (and no linearizable reads).
    QuorumLost,
}

impl Verdict {
    /// The exit status `kubin etcd health` ends with: 0 healthy, 2 degraded, 3 quorum lost
    /// (1 stays for errors before any check ran).
    pub fn exit_code(self) -> u8 {
        match self {
            Verdict::Healthy => 0,
            Verdict::DegradedWithQuorum => 2,
            Verdict::QuorumLost => 3,
        }
    }
}

impl fmt::Display for Verdict {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Verdict::Healthy => "healthy",
            Verdict::DegradedWithQuorum => "degraded, quorum kept",
            Verdict::QuorumLost => "quorum lost",
        })
    }
}

/// Judges the results of checking every member's endpoint.
pub fn verdict(results: &[EndpointHealth]) -> Verdict {
    let healthy = results.iter().filter(|r| r.healthy).count();
    if !results.is_empty() && healthy == results.len() {
        Verdict::Healthy
    } else if healthy >= quorum(results.len()) && healthy > 0 {
        Verdict::DegradedWithQuorum
    } else {
        Verdict::QuorumLost
    }
}

/// The whole report: every endpoint and the verdict.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct HealthReport {
    /// The verdict.
    pub verdict: Verdict,
    /// Healthy endpoints.
    pub healthy: usize,
    /// All endpoints checked.
    pub total: usize,
    /// Each endpoint, in inventory order.
    pub endpoints: Vec<EndpointHealth>,
}

impl HealthReport {
    /// The report of these results.
    pub fn new(endpoints: Vec<EndpointHealth>) -> Self {
        Self {
            verdict: verdict(&endpoints),
            healthy: endpoints.iter().filter(|r| r.healthy).count(),
            total: endpoints.len(),
            endpoints,
        }
    }

    /// A table: endpoint, health, took, detail; then the verdict.
    pub fn render_table(&self) -> String {
        let width = self
            .endpoints
            .iter()
            .map(|e| e.endpoint.len())
            .max()
            .unwrap_or(8)
            .max(8);
        let mut out = format!(
            "{:<width$}  {:<9}  {:>10}  DETAIL\n",
            "ENDPOINT", "HEALTH", "TOOK"
        );
        for e in &self.endpoints {
            let detail = match &e.problem {
                Some(p) => p.to_string(),
                None => {
                    let mut d = String::new();
                    if let Some(m) = &e.member {
                        d.push_str(m);
                    }
                    if let Some(v) = &e.version {
                        if !d.is_empty() {
                            d.push(' ');
                        }
                        d.push_str(&format!("etcd {v}"));
                    }
                    d
                }
            };
            out.push_str(&format!(
                "{:<width$}  {:<9}  {:>8.1}ms  {}\n",
                e.endpoint,
                if e.healthy { "healthy" } else { "UNHEALTHY" },
                e.took_ms,
                detail
            ));
        }
        out.push_str(&format!(
            "cluster: {} ({} of {} healthy)\n",
            self.verdict, self.healthy, self.total
        ));
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn results(pattern: &[bool]) -> Vec<EndpointHealth> {
        pattern
            .iter()
            .enumerate()
            .map(|(i, ok)| {
                let ep = format!("https://10.0.0.{i}:2379");
                if *ok {
                    EndpointHealth::healthy(&ep, Duration::from_millis(3), Some("3.4.23".into()))
                } else {
                    EndpointHealth::unhealthy(
                        &ep,
                        Duration::from_secs(2),
                        Problem::ConnectionRefused,
                    )
                }
            })
            .collect()
    }

    #[track_caller]
    fn check(pattern: &[bool], expected: Verdict) {
        assert_eq!(verdict(&results(pattern)), expected);
    }

    #[test]
    fn verdicts() {
        check(&[true, true, true], Verdict::Healthy);
        check(&[true, true, false], Verdict::DegradedWithQuorum);
        check(&[true, false, false], Verdict::QuorumLost);
        check(&[false, false, false], Verdict::QuorumLost);
        check(&[true], Verdict::Healthy);
        check(
            &[true, true, true, false, false],
            Verdict::DegradedWithQuorum,
        );
        check(&[true, true, false, false], Verdict::QuorumLost);
        check(&[], Verdict::QuorumLost);
        assert_eq!(
            [
                Verdict::Healthy,
                Verdict::DegradedWithQuorum,
                Verdict::QuorumLost
            ]
            .map(Verdict::exit_code),
            [0, 2, 3]
        );
    }

    #[test]
    fn table_and_json() {
        let report = HealthReport::new(results(&[true, false, true]));
        insta::assert_snapshot!("health_table", report.render_table());
        insta::assert_json_snapshot!("health_json", report);
    }
}
