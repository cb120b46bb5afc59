//! The one way the service calls out on its own (webhook deliveries, later the council sync):
//! an HTTP client behind the outbound policy, because a URL an admin typed — or a stolen admin
//! token typed — must not reach the service's own network (server-side request forgery).
//!
//! The policy:
//! - only `http` and `https` URLs, without user name or password;
//! - only public addresses, checked after name resolution on every call (the client connects
//!   only to the addresses the check let through, so a name that resolves differently a second
//!   time gains nothing); a host named in `IKZ_OUTBOUND_ALLOW` may also be private or loopback;
//! - with `IKZ_OUTBOUND_PUBLIC=false` only the hosts named in `IKZ_OUTBOUND_ALLOW` (tests and
//!   CI confine every call to 127.0.0.1 this way);
//! - no redirects, no proxy from the environment, 10 s for the whole call, and at most
//!   [`MAX_ANSWER_BYTES`] of the answer read.

use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::sync::Arc;
use std::time::Duration;

use crate::error::FieldError;

/// How much of an answer is read (the rest is dropped unread).
pub const MAX_ANSWER_BYTES: usize = 4096;

/// Time for a whole call: connecting, sending and reading the answer.
pub const TIMEOUT: Duration = Duration::from_secs(10);

/// Which hosts outbound calls may reach.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Policy {
    /// Hosts (names or addresses, lower case) that may also be private or loopback.
    allow: Vec<String>,
    /// Whether public addresses may be called (`IKZ_OUTBOUND_PUBLIC`).
    public: bool,
    /// Every host, private ones too: what an operator at the shell asks for
    /// (`ikz-api sync oparl URL`), never what the service does on its own.
    everywhere: bool,
}

impl Default for Policy {
    fn default() -> Self {
        Self { allow: Vec::new(), public: true, everywhere: false }
    }
}

/// Why an outbound call was not made or failed.
#[derive(Debug, thiserror::Error)]
pub enum OutboundError {
    /// The policy refuses the URL or every address its host resolves to.
    #[error("{0}")]
    Refused(String),
    /// The call was made and failed (connection, time-out, TLS).
    #[error("{0}")]
    Failed(String),
    /// The answer is longer than the caller's limit (the rest was not read).
    #[error("the answer is larger than {0} bytes")]
    TooLarge(usize),
}

impl Policy {
    /// The policy of `IKZ_OUTBOUND_ALLOW` (comma-separated hosts) and `IKZ_OUTBOUND_PUBLIC`.
    pub fn new(allow: &str, public: bool) -> Self {
        let allow = allow
            .split(',')
            .map(|h| h.trim().trim_start_matches('[').trim_end_matches(']').to_ascii_lowercase())
            .filter(|h| !h.is_empty())
            .collect();
        Self { allow, public, everywhere: false }
    }

    /// Every host, private and loopback ones too: for a command the operator runs at the shell
    /// with a URL of their choosing (the service never calls out with this policy).
    pub fn everywhere() -> Self {
        Self { allow: Vec::new(), public: true, everywhere: true }
    }

    /// Only the given hosts, nothing public (what tests run with).
    pub fn only(hosts: &str) -> Self {
        Self::new(hosts, false)
    }

    fn allowed_host(&self, host: &str) -> bool {
        if self.everywhere {
            return true;
        }
        let host = host.trim_start_matches('[').trim_end_matches(']');
        self.allow.iter().any(|h| h.eq_ignore_ascii_case(host))
    }

    /// Whether an address may be called for `host`.
    fn address_allowed(&self, host: &str, ip: IpAddr) -> bool {
        self.allowed_host(host) || (self.public && is_public(ip))
    }

    /// Checks a URL before any call: scheme, credentials, and the host as far as it can be
    /// checked without resolving it. Used when a webhook is created (a refusal is a 422) and
    /// again before every call.
    pub fn check_url(&self, url: &str) -> Result<url::Url, OutboundError> {
        let refused = |why: &str| OutboundError::Refused(why.to_owned());
        let parsed = url::Url::parse(url).map_err(|e| refused(&format!("not an absolute URL: {e}")))?;
        if !matches!(parsed.scheme(), "http" | "https") {
            return Err(refused("only http and https URLs can be called"));
        }
        if !parsed.username().is_empty() || parsed.password().is_some() {
            return Err(refused("a URL with a user name or password is not accepted; authenticate by the signature"));
        }
        let host = match parsed.host() {
            None => return Err(refused("the URL names no host")),
            Some(url::Host::Ipv4(ip)) => Some(IpAddr::V4(ip)),
            Some(url::Host::Ipv6(ip)) => Some(IpAddr::V6(ip)),
            Some(url::Host::Domain(_)) => None,
        };
        let name = parsed.host_str().unwrap_or_default().to_owned();
        match host {
            Some(ip) if !self.address_allowed(&name, ip) => {
                Err(refused(&format!("{ip} is not a public address, and IKZ_OUTBOUND_ALLOW does not name it")))
            }
            None if !self.public && !self.allowed_host(&name) => {
                Err(refused(&format!("outbound calls are confined to IKZ_OUTBOUND_ALLOW, which does not name {name}")))
            }
            None if !self.allowed_host(&name) && (name == "localhost" || name.ends_with(".localhost")) => {
                Err(refused("localhost is not a public host, and IKZ_OUTBOUND_ALLOW does not name it"))
            }
            _ => Ok(parsed),
        }
    }

    /// The problem field error for a refused URL (a 422 when a webhook is created).
    pub fn field_error(&self, field: &str, url: &str) -> Option<FieldError> {
        self.check_url(url).err().map(|e| FieldError::new(field, "url_refused", e.to_string()))
    }
}

/// Whether `ip` is an address of the public internet: not loopback, private, link-local (cloud
/// metadata services live there), carrier-grade NAT, multicast, documentation, benchmarking or
/// reserved; an IPv4 address inside IPv6 (mapped, NAT64) is judged as that IPv4 address.
pub fn is_public(ip: IpAddr) -> bool {
    match ip {
        IpAddr::V4(v4) => is_public_v4(v4),
        IpAddr::V6(v6) => {
            if let Some(v4) = v6.to_ipv4_mapped() {
                return is_public_v4(v4);
            }
            let s = v6.segments();
            if s[0] == 0x64 && s[1] == 0xff9b && s[2..6] == [0, 0, 0, 0] {
                let [a, b] = s[6].to_be_bytes();
                let [c, d] = s[7].to_be_bytes();
                return is_public_v4(Ipv4Addr::new(a, b, c, d));
            }
            !(v6.is_unspecified()
                || v6.is_loopback()
                || v6.is_multicast()
                || (s[0] & 0xfe00) == 0xfc00 // unique local
                || (s[0] & 0xffc0) == 0xfe80 // link-local
                || (s[0] & 0xffc0) == 0xfec0 // site-local (deprecated)
                || (s[0] == 0x2001 && s[1] == 0x0db8) // documentation
                || (s[0] == 0x2002) // 6to4: carries an IPv4 address of any kind
                || (s[0] == 0x2001 && s[1] == 0) // Teredo
                || s[..6] == [0, 0, 0, 0, 0, 0]) // IPv4-compatible (deprecated)
        }
    }
}

fn is_public_v4(ip: Ipv4Addr) -> bool {
    let [a, b, c, _] = ip.octets();
    !(ip.is_unspecified()
        || ip.is_loopback()
        || ip.is_private()
        || ip.is_link_local()
        || ip.is_broadcast()
        || ip.is_multicast()
        || ip.is_documentation()
        || a == 0
        || (a == 100 && (64..128).contains(&b)) // carrier-grade NAT
        || (a == 192 && b == 0 && c == 0) // IETF protocol assignments
        || (a == 198 && (18..20).contains(&b)) // benchmarking
        || a >= 240) // reserved
}

/// Resolves names for the client and lets through only the addresses the policy allows, so the
/// check holds for the very addresses the client connects to.
struct Resolver(Arc<Policy>);

impl reqwest::dns::Resolve for Resolver {
    fn resolve(&self, name: reqwest::dns::Name) -> reqwest::dns::Resolving {
        let policy = self.0.clone();
        Box::pin(async move {
            let host = name.as_str().to_owned();
            let found: Vec<SocketAddr> = tokio::net::lookup_host((host.as_str(), 0)).await?.collect();
            let allowed: Vec<SocketAddr> =
                found.iter().copied().filter(|a| policy.address_allowed(&host, a.ip())).collect();
            if allowed.is_empty() {
                let why = if found.is_empty() {
                    format!("{host} does not resolve")
                } else {
                    format!(
                        "{host} resolves only to addresses that are not public, and IKZ_OUTBOUND_ALLOW does not name it"
                    )
                };
                return Err(Box::new(OutboundError::Refused(why)) as Box<dyn std::error::Error + Send + Sync>);
            }
            Ok(Box::new(allowed.into_iter()) as reqwest::dns::Addrs)
        })
    }
}

/// What an outbound call got back: the status and the start of the body.
#[derive(Debug, Clone)]
pub struct Answer {
    /// HTTP status code.
    pub status: u16,
    /// At most [`MAX_ANSWER_BYTES`] of the body, as text (lossy).
    pub body: String,
}

/// The client every outbound call goes through.
#[derive(Clone)]
pub struct Client {
    policy: Arc<Policy>,
    http: reqwest::Client,
}

impl std::fmt::Debug for Client {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Client").field("policy", &self.policy).finish_non_exhaustive()
    }
}

impl Client {
    /// A client that enforces `policy`.
    pub fn new(policy: Policy) -> Result<Self, OutboundError> {
        let policy = Arc::new(policy);
        let http = reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .no_proxy()
            .timeout(TIMEOUT)
            .connect_timeout(Duration::from_secs(5))
            .pool_idle_timeout(Duration::from_secs(30))
            .user_agent(concat!("ikz-api/", env!("CARGO_PKG_VERSION")))
            .dns_resolver(Arc::new(Resolver(policy.clone())))
            .build()
            .map_err(|e| OutboundError::Failed(format!("cannot build the HTTP client: {e}")))?;
        Ok(Self { policy, http })
    }

    /// The policy this client enforces.
    pub fn policy(&self) -> &Policy {
        &self.policy
    }

    /// POSTs `body` as JSON to `url` with the given headers; reads at most
    /// [`MAX_ANSWER_BYTES`] of the answer. A redirect is an answer like any other (not followed).
    pub async fn post_json(
        &self,
        url: &str,
        headers: &[(&'static str, String)],
        body: String,
    ) -> Result<Answer, OutboundError> {
        let url = self.policy.check_url(url)?;
        let mut request = self.http.post(url).header(reqwest::header::CONTENT_TYPE, "application/json").body(body);
        for (name, value) in headers {
            request = request.header(*name, value);
        }
        let mut response = request.send().await.map_err(describe)?;
        let status = response.status().as_u16();
        let mut body = Vec::new();
        while body.len() < MAX_ANSWER_BYTES {
            match response.chunk().await {
                Ok(Some(chunk)) => body.extend_from_slice(&chunk[..chunk.len().min(MAX_ANSWER_BYTES - body.len())]),
                Ok(None) | Err(_) => break,
            }
        }
        Ok(Answer { status, body: String::from_utf8_lossy(&body).into_owned() })
    }
}

/// What a GET answered: status, the headers a caller of lists needs, and the body.
#[derive(Debug, Clone)]
pub struct Fetched {
    /// HTTP status code.
    pub status: u16,
    /// `Retry-After`, as sent.
    pub retry_after: Option<String>,
    /// `Location`, as sent (redirects are not followed here).
    pub location: Option<String>,
    /// The body, at most the limit the caller gave.
    pub body: Vec<u8>,
}

impl Client {
    /// GETs `url` (asking for JSON) and reads at most `max_bytes` of the answer: a longer answer
    /// is an error, not a cut-off document. A redirect is an answer like any other.
    pub async fn get(&self, url: &str, max_bytes: usize, timeout: Duration) -> Result<Fetched, OutboundError> {
        let url = self.policy.check_url(url)?;
        let mut response = self
            .http
            .get(url)
            .header(reqwest::header::ACCEPT, "application/json")
            .timeout(timeout)
            .send()
            .await
            .map_err(describe)?;
        let header = |name: reqwest::header::HeaderName| {
            response.headers().get(name).and_then(|v| v.to_str().ok()).map(str::to_owned)
        };
        let retry_after = header(reqwest::header::RETRY_AFTER);
        let location = header(reqwest::header::LOCATION);
        let status = response.status().as_u16();
        if response.content_length().is_some_and(|n| n > max_bytes as u64) {
            return Err(OutboundError::TooLarge(max_bytes));
        }
        let mut body = Vec::new();
        while let Some(chunk) = response.chunk().await.map_err(describe)? {
            if body.len() + chunk.len() > max_bytes {
                return Err(OutboundError::TooLarge(max_bytes));
            }
            body.extend_from_slice(&chunk);
        }
        Ok(Fetched { status, retry_after, location, body })
    }
}

/// A failed call in one line, with the policy's refusal when that was the cause.
fn describe(err: reqwest::Error) -> OutboundError {
    let mut source: Option<&dyn std::error::Error> = Some(&err);
    while let Some(e) = source {
        if let Some(OutboundError::Refused(why)) = e.downcast_ref::<OutboundError>() {
            return OutboundError::Refused(why.clone());
        }
        source = e.source();
    }
    let what = if err.is_timeout() {
        "timed out"
    } else if err.is_connect() {
        "cannot connect"
    } else {
        "failed"
    };
    let mut detail = String::new();
    let mut source = std::error::Error::source(&err);
    while let Some(e) = source {
        detail = e.to_string();
        source = e.source();
    }
    OutboundError::Failed(if detail.is_empty() { what.to_owned() } else { format!("{what}: {detail}") })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_public_addresses_are_public() {
        for private in [
            "127.0.0.1",
            "10.1.2.3",
            "172.16.0.1",
            "192.168.1.1",
            "169.254.169.254",
            "100.64.0.1",
            "0.0.0.0",
            "255.255.255.255",
            "224.0.0.1",
            "192.0.2.1",
            "198.18.0.1",
            "240.0.0.1",
            "::1",
            "::",
            "fc00::1",
            "fd12:3456::1",
            "fe80::1",
            "ff02::1",
            "2001:db8::1",
            "::ffff:127.0.0.1",
            "::ffff:10.0.0.1",
            "64:ff9b::a00:1",
            "2002:7f00:1::",
        ] {
            assert!(!is_public(private.parse().unwrap()), "{private} counted as public");
        }
        for public in ["1.1.1.1", "8.8.8.8", "85.214.0.1", "2a00:1450:4001::1", "::ffff:8.8.8.8", "64:ff9b::808:808"] {
            assert!(is_public(public.parse().unwrap()), "{public} counted as private");
        }
    }

    #[test]
    fn urls_are_checked_before_any_call() {
        let default = Policy::default();
        assert!(default.check_url("https://hooks.example.org/ikz").is_ok());
        for refused in [
            "ftp://hooks.example.org/",
            "file:///etc/passwd",
            "https://user:pw@hooks.example.org/",
            "http://127.0.0.1:8080/",
            "http://[::1]/",
            "http://169.254.169.254/latest/meta-data/",
            "http://localhost/",
            "http://0x7f000001/",
            "not a url",
        ] {
            assert!(default.check_url(refused).is_err(), "{refused} was let through");
        }
        let allow = Policy::new("127.0.0.1, ris.intranet.example", true);
        assert!(allow.check_url("http://127.0.0.1:9000/hook").is_ok());
        assert!(allow.check_url("http://RIS.intranet.example/oparl").is_ok());
        assert!(allow.check_url("http://10.0.0.1/").is_err());
        let confined = Policy::only("127.0.0.1");
        assert!(confined.check_url("http://127.0.0.1:9000/hook").is_ok());
        assert!(confined.check_url("https://hooks.example.org/ikz").is_err());
        assert!(confined.check_url("http://1.1.1.1/").is_err());
    }

    #[tokio::test]
    async fn a_name_that_resolves_to_a_private_address_is_refused_at_the_call() {
        use reqwest::dns::Resolve;
        use std::str::FromStr;
        // `localhost` resolves to loopback from the hosts file on every machine, without network.
        let name = || reqwest::dns::Name::from_str("localhost").unwrap();
        let refused = Resolver(Arc::new(Policy::default())).resolve(name()).await.err().expect("refused");
        assert!(refused.to_string().contains("not public"), "{refused}");
        let Ok(allowed) = Resolver(Arc::new(Policy::new("localhost", true))).resolve(name()).await else {
            panic!("an allowed host resolves");
        };
        assert!(allowed.into_iter().all(|a| a.ip().is_loopback()));
    }
}
