//! Fetching from a council system: every request through the outbound client, at most
//! `concurrency` at a time and no faster than the source's rate limit, with time-outs, a size
//! limit, a few redirects followed (each checked by the policy again), and retries with
//! exponential backoff and jitter that honour `Retry-After`.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use rand::Rng;
use serde_json::Value;

use crate::models::sync_sources::RunCounts;
use crate::outbound::{self, OutboundError};

/// How a source is fetched.
#[derive(Debug, Clone)]
pub struct FetchSettings {
    /// Largest answer read, in bytes.
    pub max_bytes: usize,
    /// Time for one request.
    pub timeout: Duration,
    /// Tries per request (the first one included).
    pub attempts: u32,
    /// First backoff; each retry doubles it (with jitter of ±50 %).
    pub retry_base: Duration,
    /// Longest wait before a retry, also for `Retry-After`.
    pub retry_cap: Duration,
    /// Requests at most this often (the source's rate limit); zero: no limit.
    pub min_interval: Duration,
    /// Requests in flight at once.
    pub concurrency: usize,
    /// Redirects followed per request.
    pub max_redirects: u8,
}

impl Default for FetchSettings {
    fn default() -> Self {
        Self {
            max_bytes: 16 * 1024 * 1024,
            timeout: Duration::from_secs(30),
            attempts: 5,
            retry_base: Duration::from_millis(500),
            retry_cap: Duration::from_secs(60),
            min_interval: Duration::from_millis(50),
            concurrency: 4,
            max_redirects: 3,
        }
    }
}

/// Why a request failed for good.
#[derive(Debug, thiserror::Error)]
pub enum FetchError {
    /// The outbound policy refuses the URL.
    #[error("{url}: refused: {why}")]
    Refused { url: String, why: String },
    /// The server answered with an error status that retrying does not mend.
    #[error("{url}: the server answered HTTP {status}")]
    Status { url: String, status: u16 },
    /// Every try failed.
    #[error("{url}: {why} (gave up after {attempts} tries)")]
    GaveUp { url: String, why: String, attempts: u32 },
    /// The answer is not what the protocol promises.
    #[error("{url}: {why}")]
    Invalid { url: String, why: String },
}

/// What a GET brought: a JSON document, or a 404 (with its body, if it was JSON).
#[derive(Debug, Clone)]
pub enum Got {
    Found(Value),
    NotFound(Option<Value>),
}

/// The fetcher of one run: shares its counts with the run.
#[derive(Clone)]
pub struct Fetcher {
    client: outbound::Client,
    settings: FetchSettings,
    slots: Arc<tokio::sync::Semaphore>,
    next_start: Arc<tokio::sync::Mutex<tokio::time::Instant>>,
    counts: Arc<Mutex<RunCounts>>,
}

impl Fetcher {
    /// A fetcher over `client` that counts into `counts`.
    pub fn new(client: outbound::Client, settings: FetchSettings, counts: Arc<Mutex<RunCounts>>) -> Self {
        let slots = Arc::new(tokio::sync::Semaphore::new(settings.concurrency.max(1)));
        Self {
            client,
            settings,
            slots,
            next_start: Arc::new(tokio::sync::Mutex::new(tokio::time::Instant::now())),
            counts,
        }
    }

    fn count(&self, f: impl FnOnce(&mut RunCounts)) {
        if let Ok(mut counts) = self.counts.lock() {
            f(&mut counts);
        }
    }

    /// Waits for the rate limit's next slot.
    async fn pace(&self) {
        if self.settings.min_interval.is_zero() {
            return;
        }
        let mut next = self.next_start.lock().await;
        let now = tokio::time::Instant::now();
        if *next > now {
            tokio::time::sleep_until(*next).await;
        }
        *next = (*next).max(now) + self.settings.min_interval;
    }

    /// GETs a JSON document, retrying what may mend and following a few redirects.
    pub async fn get(&self, url: &str) -> Result<Got, FetchError> {
        let mut url = url.to_owned();
        let mut redirects = 0u8;
        let mut attempt = 0u32;
        loop {
            attempt += 1;
            self.pace().await;
            let answer = {
                let _slot = self
                    .slots
                    .acquire()
                    .await
                    .map_err(|_| FetchError::Invalid { url: url.clone(), why: "the run was stopped".into() })?;
                self.count(|c| c.requests += 1);
                self.client.get(&url, self.settings.max_bytes, self.settings.timeout).await
            };
            let retry = |why: String, wait: Option<Duration>| -> Result<Duration, FetchError> {
                if attempt >= self.settings.attempts {
                    return Err(FetchError::GaveUp { url: url.clone(), why, attempts: attempt });
                }
                Ok(wait.unwrap_or_else(|| self.backoff(attempt)).min(self.settings.retry_cap))
            };
            let wait = match answer {
                Err(OutboundError::Refused(why)) => return Err(FetchError::Refused { url, why }),
                Err(OutboundError::TooLarge(n)) => {
                    return Err(FetchError::Invalid { url, why: format!("the answer is larger than {n} bytes") });
                }
                Err(OutboundError::Failed(why)) => retry(why, None)?,
                Ok(fetched) => match fetched.status {
                    200..=299 => {
                        let mut found = RunCounts::default();
                        let parsed = super::json::parse(&fetched.body, &mut found);
                        self.count(|c| {
                            for (quirk, n) in found.quirks {
                                *c.quirks.entry(quirk).or_default() += n;
                            }
                        });
                        return parsed.map(Got::Found).map_err(|why| FetchError::Invalid { url, why });
                    }
                    301 | 302 | 303 | 307 | 308 => {
                        let target = fetched.location.as_deref().and_then(|l| url::Url::parse(&url).ok()?.join(l).ok());
                        match target {
                            Some(target) if redirects < self.settings.max_redirects => {
                                redirects += 1;
                                attempt -= 1;
                                url = target.to_string();
                                continue;
                            }
                            Some(_) => {
                                return Err(FetchError::Invalid { url, why: "too many redirects".into() });
                            }
                            None => return Err(FetchError::Status { url, status: fetched.status }),
                        }
                    }
                    404 => {
                        let mut counts = RunCounts::default();
                        return Ok(Got::NotFound(super::json::parse(&fetched.body, &mut counts).ok()));
                    }
                    408 | 425 | 429 | 500 | 502 | 503 | 504 => {
                        let wait = fetched.retry_after.as_deref().and_then(retry_after);
                        retry(format!("the server answered HTTP {}", fetched.status), wait)?
                    }
                    status => return Err(FetchError::Status { url, status }),
                },
            };
            self.count(|c| c.retries += 1);
            log::info!("retrying {url} in {} ms", wait.as_millis());
            tokio::time::sleep(wait).await;
        }
    }

    /// The wait before retry `attempt` (1: the first retry): the base doubled each time, ±50 %.
    fn backoff(&self, attempt: u32) -> Duration {
        let base = self.settings.retry_base.saturating_mul(1u32 << attempt.saturating_sub(1).min(16));
        base.mul_f64(rand::rng().random_range(0.5..1.5))
    }
}

/// A `Retry-After` value: seconds, or an HTTP date.
fn retry_after(value: &str) -> Option<Duration> {
    let value = value.trim();
    if let Ok(seconds) = value.parse::<u64>() {
        return Some(Duration::from_secs(seconds));
    }
    let at = chrono::DateTime::parse_from_rfc2822(value).ok()?;
    let wait = at.with_timezone(&chrono::Utc) - chrono::Utc::now();
    Some(wait.to_std().unwrap_or(Duration::ZERO))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn retry_after_is_read_as_seconds_or_as_a_date() {
        assert_eq!(retry_after("7"), Some(Duration::from_secs(7)));
        assert_eq!(retry_after("Thu, 01 Jan 1970 00:00:00 GMT"), Some(Duration::ZERO));
        let soon = (chrono::Utc::now() + chrono::Duration::seconds(30)).to_rfc2822();
        let wait = retry_after(&soon).unwrap();
        assert!(wait > Duration::from_secs(25) && wait <= Duration::from_secs(30), "{wait:?}");
        assert_eq!(retry_after("bald"), None);
    }
}
