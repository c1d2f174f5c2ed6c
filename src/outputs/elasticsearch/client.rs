//! The hosts an output talks to: one transport of the official client per host (auth, TLS
//! and timeouts come from it; bodies arrive already gzipped, see `deliver`), which hosts are
//! healthy, and the product check.
//!
//! Requests go round-robin over the healthy hosts. A host that fails (connection refused,
//! timeout, 5xx) is left alone until its retry time, which backs off with its failures; when
//! every host is resting, the one due first is tried. A host is only used once `GET /` has
//! shown it to be Elasticsearch 7.x or 8.x ([`check_product`], as the official clients check);
//! a host that answers as something else is never used.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Mutex;
use std::time::{Duration, Instant};

use bytes::Bytes;
use elasticsearch::auth::Credentials;
use elasticsearch::cert::{Certificate, CertificateValidation};
use elasticsearch::http::headers::{HeaderMap, HeaderValue, CONTENT_TYPE};
use elasticsearch::http::transport::{SingleNodeConnectionPool, Transport, TransportBuilder};
use elasticsearch::http::{Method, Url};

/// How to reach and authenticate to the hosts.
#[derive(Clone, Debug, Default)]
pub struct ClientSettings {
    pub user: Option<String>,
    pub password: Option<String>,
    /// `id:key`, sent base64-encoded as Logstash does.
    pub api_key: Option<String>,
    /// Every certificate authority to trust, as one PEM bundle (checked when the options are
    /// read); `None`: the system's.
    pub certificate_authorities: Option<Vec<u8>>,
    pub verify_certificates: bool,
    pub timeout: Duration,
}

/// One host.
pub struct Host {
    pub url: Url,
    transport: Transport,
    state: Mutex<HostState>,
}

#[derive(Debug, Default)]
struct HostState {
    /// What `GET /` said: `None` until checked.
    product: Option<Result<Version, String>>,
    failures: u32,
    retry_at: Option<Instant>,
}

/// The version an Elasticsearch host reported.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Version {
    pub number: String,
    pub major: u32,
}

/// An answer from a host.
pub struct Answer {
    pub status: u16,
    /// The `X-elastic-product` header.
    pub product: Option<String>,
    pub body: Bytes,
}

/// Why a request got no answer.
#[derive(Debug, thiserror::Error)]
pub enum SendError {
    #[error("{url}: {message}")]
    Transport { url: String, message: String },
    #[error("{url} is not Elasticsearch: {reason}")]
    NotElasticsearch { url: String, reason: String },
    #[error("no usable host: every host answered as something other than Elasticsearch")]
    NoUsableHost,
}

/// The hosts of one output.
pub struct Hosts {
    hosts: Vec<Host>,
    next: AtomicUsize,
}

impl Hosts {
    pub fn new(urls: &[Url], settings: &ClientSettings) -> Result<Hosts, String> {
        let hosts = urls
            .iter()
            .map(|url| {
                Ok(Host {
                    url: url.clone(),
                    transport: transport(url, settings)?,
                    state: Mutex::new(HostState::default()),
                })
            })
            .collect::<Result<Vec<_>, String>>()?;
        Ok(Hosts {
            hosts,
            next: AtomicUsize::new(0),
        })
    }

    pub fn all(&self) -> &[Host] {
        &self.hosts
    }

    /// The host to use next: a healthy one in turn, else the one due first; `None` when every
    /// host has been shown not to be Elasticsearch.
    pub fn pick(&self) -> Option<&Host> {
        let now = Instant::now();
        let start = self.next.fetch_add(1, Ordering::Relaxed);
        let n = self.hosts.len();
        let mut due_first: Option<(&Host, Instant)> = None;
        for k in 0..n {
            let host = &self.hosts[(start + k) % n];
            let state = host.lock();
            if matches!(state.product, Some(Err(_))) {
                continue;
            }
            match state.retry_at {
                None => return Some(host),
                Some(at) if at <= now => return Some(host),
                Some(at) => {
                    if due_first.is_none_or(|(_, first)| at < first) {
                        due_first = Some((host, at));
                    }
                }
            }
        }
        due_first.map(|(host, _)| host)
    }

    /// Checks every host once (`GET /`); returns the versions found and the refusals.
    pub async fn check_all(&self) -> Vec<(String, Result<Version, SendError>)> {
        let mut results = Vec::new();
        for host in &self.hosts {
            results.push((host.url.to_string(), host.ensure_checked().await));
        }
        results
    }
}

impl Host {
    fn lock(&self) -> std::sync::MutexGuard<'_, HostState> {
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Sends `body` to `path` (with `query`), checking the host first if it has not been.
    pub async fn send(
        &self,
        method: Method,
        path: &str,
        query: &[(&str, &str)],
        body: Option<Bytes>,
    ) -> Result<Answer, SendError> {
        self.send_with(method, path, query, body, HeaderMap::new())
            .await
    }

    /// [`Host::send`] with more headers (`Content-Encoding` of a body gzipped beforehand).
    pub async fn send_with(
        &self,
        method: Method,
        path: &str,
        query: &[(&str, &str)],
        body: Option<Bytes>,
        headers: HeaderMap,
    ) -> Result<Answer, SendError> {
        self.ensure_checked().await?;
        self.raw_send(method, path, query, body, headers).await
    }

    async fn raw_send(
        &self,
        method: Method,
        path: &str,
        query: &[(&str, &str)],
        body: Option<Bytes>,
        mut headers: HeaderMap,
    ) -> Result<Answer, SendError> {
        headers.insert(CONTENT_TYPE, HeaderValue::from_static("application/json"));
        let query = (!query.is_empty()).then_some(query);
        let sent = self
            .transport
            .send(method, path, headers, query, body, None)
            .await;
        let response = sent.map_err(|e| self.transport_error(error_chain(&e)))?;
        let status = response.status_code().as_u16();
        let product = response
            .headers()
            .get("x-elastic-product")
            .and_then(|v| v.to_str().ok())
            .map(str::to_string);
        let body = response
            .bytes()
            .await
            .map_err(|e| self.transport_error(error_chain(&e)))?;
        Ok(Answer {
            status,
            product,
            body,
        })
    }

    fn transport_error(&self, message: String) -> SendError {
        SendError::Transport {
            url: self.url.to_string(),
            message,
        }
    }

    /// The host's version, asking `GET /` if not known yet.
    pub async fn ensure_checked(&self) -> Result<Version, SendError> {
        if let Some(known) = self.lock().product.clone() {
            return known.map_err(|reason| self.not_elasticsearch(reason));
        }
        let Answer {
            status,
            product,
            body,
        } = self
            .raw_send(Method::Get, "/", &[], None, HeaderMap::new())
            .await?;
        if status == 401 || status == 403 {
            return Err(self.transport_error(format!(
                "GET / answered {status}: check user/password or api_key"
            )));
        }
        if status >= 500 {
            return Err(self.transport_error(format!("GET / answered {status}")));
        }
        let checked = check_product(status, product.as_deref(), &body);
        self.lock().product = Some(checked.clone());
        checked.map_err(|reason| self.not_elasticsearch(reason))
    }

    fn not_elasticsearch(&self, reason: String) -> SendError {
        SendError::NotElasticsearch {
            url: self.url.to_string(),
            reason,
        }
    }

    /// Records a failure: the host rests for a time that doubles with each failure in a row.
    pub fn failed(&self, initial: Duration, max: Duration) {
        let mut state = self.lock();
        state.failures = state.failures.saturating_add(1);
        let rest = initial
            .saturating_mul(1 << state.failures.min(16).saturating_sub(1))
            .min(max);
        state.retry_at = Some(Instant::now() + rest);
    }

    /// Records a success: the host is healthy again.
    pub fn succeeded(&self) {
        let mut state = self.lock();
        state.failures = 0;
        state.retry_at = None;
    }
}

/// Whether a `GET /` answer comes from Elasticsearch 7.x or 8.x, as the official clients
/// decide: from 7.14 on the `X-elastic-product: Elasticsearch` header is required; 7.0-7.13
/// predate it and are recognised by `build_flavor` "default" and the tagline.
pub fn check_product(status: u16, product: Option<&str>, body: &[u8]) -> Result<Version, String> {
    if !(200..300).contains(&status) {
        return Err(format!("GET / answered {status}"));
    }
    let json: serde_json::Value =
        serde_json::from_slice(body).map_err(|_| "GET / did not answer with JSON".to_string())?;
    let number = json
        .pointer("/version/number")
        .and_then(|v| v.as_str())
        .ok_or("GET / has no version.number")?;
    let mut parts = number.split('.').map(|p| p.parse::<u32>().unwrap_or(0));
    let (major, minor) = (parts.next().unwrap_or(0), parts.next().unwrap_or(0));
    let version = Version {
        number: number.to_string(),
        major,
    };
    if !(7..=8).contains(&major) {
        return Err(format!(
            "version {number} is not supported (7.x and 8.x are)"
        ));
    }
    if major == 8 || minor >= 14 {
        return match product {
            Some("Elasticsearch") => Ok(version),
            Some(other) => Err(format!("X-elastic-product is \"{other}\"")),
            None => Err("the X-elastic-product header is missing".into()),
        };
    }
    let flavor = json
        .pointer("/version/build_flavor")
        .and_then(|v| v.as_str());
    let tagline = json.get("tagline").and_then(|v| v.as_str());
    if flavor == Some("default") && tagline == Some("You know, for Search") {
        Ok(version)
    } else {
        Err("no default build flavor and tagline (needed before 7.14)".into())
    }
}

fn transport(url: &Url, settings: &ClientSettings) -> Result<Transport, String> {
    let mut builder = TransportBuilder::new(SingleNodeConnectionPool::new(url.clone()))
        .timeout(settings.timeout)
        .disable_proxy();
    if let Some(key) = &settings.api_key {
        let encoded = base64::Engine::encode(&base64::engine::general_purpose::STANDARD, key);
        builder = builder.auth(Credentials::EncodedApiKey(encoded));
    } else if let Some(user) = &settings.user {
        let password = settings.password.clone().unwrap_or_default();
        builder = builder.auth(Credentials::Basic(user.clone(), password));
    }
    let validation = match (
        settings.verify_certificates,
        settings.certificate_authorities.as_ref(),
    ) {
        (false, _) => CertificateValidation::None,
        (true, Some(pem)) => {
            CertificateValidation::Full(Certificate::from_pem(pem).map_err(|e| error_chain(&e))?)
        }
        (true, None) => CertificateValidation::Default,
    };
    builder = builder.cert_validation(validation);
    builder.build().map_err(|e| error_chain(&e))
}

/// An error with every cause under it (`a: b: c`): the client's own message is only "error
/// sending request"; the cause (connection refused, certificate verify failed) is below.
pub fn error_chain(error: &(dyn std::error::Error + 'static)) -> String {
    let mut text = error.to_string();
    let mut cause = error.source();
    while let Some(e) = cause {
        let part = e.to_string();
        // Wrappers often repeat their cause's text; keep each piece once.
        if !text.contains(&part) {
            text.push_str(": ");
            text.push_str(&part);
        }
        cause = e.source();
    }
    text
}

#[cfg(test)]
mod tests {
    use super::*;

    const ES8: &[u8] = br#"{"version":{"number":"8.15.0","build_flavor":"default"},"tagline":"You know, for Search"}"#;
    const ES7_10: &[u8] = br#"{"version":{"number":"7.10.2","build_flavor":"default"},"tagline":"You know, for Search"}"#;
    const OSS: &[u8] =
        br#"{"version":{"number":"7.10.2","build_flavor":"oss"},"tagline":"You know, for Search"}"#;

    fn two_hosts() -> Hosts {
        let urls = ["http://a:9200", "http://b:9200"].map(|u| Url::parse(u).unwrap());
        Hosts::new(&urls, &ClientSettings::default()).unwrap()
    }

    fn picked(hosts: &Hosts, n: usize) -> Vec<String> {
        (0..n)
            .map(|_| hosts.pick().unwrap().url.host_str().unwrap().to_string())
            .collect()
    }

    #[test]
    fn requests_go_round_robin_and_a_failed_host_rests_then_comes_back() {
        let hosts = two_hosts();
        assert_eq!(picked(&hosts, 4), ["a", "b", "a", "b"]);
        let rest = Duration::from_millis(50);
        hosts.all()[1].failed(rest, rest);
        assert_eq!(picked(&hosts, 4), ["a", "a", "a", "a"]);
        std::thread::sleep(rest + Duration::from_millis(10));
        let after = picked(&hosts, 4);
        assert!(after.contains(&"b".to_string()), "{after:?}");
    }

    #[test]
    fn when_every_host_rests_the_one_due_first_is_tried() {
        let hosts = two_hosts();
        hosts.all()[0].failed(Duration::from_secs(60), Duration::from_secs(60));
        hosts.all()[1].failed(Duration::from_secs(5), Duration::from_secs(5));
        assert_eq!(picked(&hosts, 3), ["b", "b", "b"]);
        // A host shown not to be Elasticsearch is never picked.
        hosts.all()[1].lock().product = Some(Err("not Elasticsearch".into()));
        assert_eq!(picked(&hosts, 2), ["a", "a"]);
        hosts.all()[0].lock().product = Some(Err("not Elasticsearch".into()));
        assert!(hosts.pick().is_none());
    }

    #[test]
    fn the_product_check_follows_the_official_clients() {
        assert_eq!(
            check_product(200, Some("Elasticsearch"), ES8)
                .unwrap()
                .major,
            8
        );
        assert!(check_product(200, None, ES8)
            .unwrap_err()
            .contains("X-elastic-product"));
        assert_eq!(check_product(200, None, ES7_10).unwrap().major, 7);
        assert!(check_product(200, None, OSS).is_err());
        assert!(check_product(200, None, b"<html>").is_err());
        let es6 = br#"{"version":{"number":"6.8.0"},"tagline":"You know, for Search"}"#;
        assert!(check_product(200, Some("Elasticsearch"), es6)
            .unwrap_err()
            .contains("not supported"));
        assert!(check_product(404, Some("Elasticsearch"), ES8).is_err());
    }
}
