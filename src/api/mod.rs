//! HTTP handlers, one module per resource, plus the extractors and helpers they share.

pub mod auth;
pub mod contacts;
pub mod cooperations;
pub mod extract;
pub mod fields;
pub mod health;
pub mod measure_workflow;
pub mod measures;
pub mod members;
pub mod pagination;
pub mod partners;
pub mod respond;
pub mod service_tokens;
pub mod users;

/// What the handlers share besides the database handle (`web::Data<Db>`) and the
/// authenticator (`web::Data<Authenticator>`): what start-up computed once.
pub struct AppState {
    /// The OpenAPI document, serialised once (served byte-identical to `openapi/openapi.json`).
    pub openapi_json: String,
    /// `IKZ_TRUST_FORWARDED_FOR`.
    pub trust_forwarded_for: bool,
}

/// Registers every API route; the OpenAPI document is collected from the same calls.
///
/// Each resource has its own scope: the router compares a scope's static prefix before it tries
/// the patterns inside, so a request is matched against its resource's few routes instead of
/// every route of the API (callgrind: ~15,000 instructions per `GET /measures/{id}` before).
pub fn configure(cfg: &mut utoipa_actix_web::service_config::ServiceConfig) {
    use utoipa_actix_web::scope;
    cfg.service(scope("/health").configure(health::configure));
    cfg.service(
        scope("/api/v1")
            .service(scope("/measures").configure(measures::configure).configure(measure_workflow::configure))
            .service(
                scope("/cooperations")
                    .configure(cooperations::configure)
                    .configure(members::configure)
                    .configure(measures::configure_in_cooperations)
                    .configure(measure_workflow::configure_in_cooperations),
            )
            .service(scope("/partners").configure(partners::configure))
            .service(scope("/contacts").configure(contacts::configure))
            .service(scope("/fields").configure(fields::configure))
            .service(scope("/auth").configure(auth::configure))
            .service(scope("/users").configure(users::configure))
            .service(scope("/service-tokens").configure(service_tokens::configure)),
    );
}

/// Serialises a timestamp exactly as chrono's `Serialize` does (RFC 3339, `Z`, 0/3/6/9 fraction
/// digits), but laid out in one stack buffer: chrono hands serde_json the text in a dozen small
/// pieces, each run through the JSON escaper (~2,500 instructions per timestamp), and even its
/// `to_rfc3339_opts` goes through `fmt` (~1,400). Years outside 0–9999 and leap seconds, which
/// the fixed layout cannot hold, are left to chrono. Use with
/// `#[serde(serialize_with = "super::rfc3339")]`.
pub fn rfc3339<S: serde::Serializer>(at: &chrono::DateTime<chrono::Utc>, serializer: S) -> Result<S::Ok, S::Error> {
    let mut buf = [0u8; 30];
    match rfc3339_fixed(at, &mut buf) {
        Some(text) => serializer.serialize_str(text),
        None => serializer.serialize_str(&at.to_rfc3339_opts(chrono::SecondsFormat::AutoSi, true)),
    }
}

/// `YYYY-MM-DDTHH:MM:SS[.fff|.ffffff|.fffffffff]Z`, or `None` where that layout does not fit.
fn rfc3339_fixed<'b>(at: &chrono::DateTime<chrono::Utc>, buf: &'b mut [u8; 30]) -> Option<&'b str> {
    use chrono::{Datelike, Timelike};
    let (year, nanos) = (at.year(), at.nanosecond());
    if !(0..=9999).contains(&year) || nanos >= 1_000_000_000 {
        return None;
    }
    fn digits(out: &mut [u8], mut value: u32) {
        for place in out.iter_mut().rev() {
            *place = b'0' + (value % 10) as u8;
            value /= 10;
        }
    }
    buf[..20].copy_from_slice(b"0000-00-00T00:00:00.");
    digits(&mut buf[0..4], year as u32);
    digits(&mut buf[5..7], at.month());
    digits(&mut buf[8..10], at.day());
    digits(&mut buf[11..13], at.hour());
    digits(&mut buf[14..16], at.minute());
    digits(&mut buf[17..19], at.second());
    let len = match nanos {
        0 => 19,
        n if n % 1_000_000 == 0 => {
            digits(&mut buf[20..23], n / 1_000_000);
            23
        }
        n if n % 1_000 == 0 => {
            digits(&mut buf[20..26], n / 1_000);
            26
        }
        n => {
            digits(&mut buf[20..29], n);
            29
        }
    };
    buf[len] = b'Z';
    std::str::from_utf8(&buf[..=len]).ok()
}

#[cfg(test)]
mod tests {
    use chrono::{DateTime, TimeZone, Utc};

    #[derive(serde::Serialize)]
    struct Ours(#[serde(serialize_with = "super::rfc3339")] DateTime<Utc>);

    #[test]
    fn timestamps_serialise_byte_identical_to_chrono() {
        let base = Utc.with_ymd_and_hms(2026, 11, 21, 14, 3, 22).unwrap();
        for nanos in [0, 120_000_000, 123_000_000, 123_456_000, 123_456_789, 1, 999_999_999, 1_000, 10_000_000] {
            let at = base + chrono::Duration::nanoseconds(nanos);
            assert_eq!(serde_json::to_string(&Ours(at)).unwrap(), serde_json::to_string(&at).unwrap(), "{nanos}");
        }
    }

    #[test]
    fn timestamps_across_the_calendar_serialise_byte_identical_to_chrono() {
        // A deterministic walk over years 0-9999 with every fraction width, plus the edges.
        let mut state: u64 = 0x9e37_79b9_7f4a_7c15;
        let mut next = move || {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            state
        };
        let first = Utc.with_ymd_and_hms(0, 1, 1, 0, 0, 0).unwrap().timestamp();
        let last = Utc.with_ymd_and_hms(9999, 12, 31, 23, 59, 59).unwrap().timestamp();
        let mut cases = vec![first, last, 0, 951_782_400 /* 2000-02-29 */];
        cases.extend((0..20_000).map(|_| first + (next() % (last - first + 1) as u64) as i64));
        for (i, secs) in cases.into_iter().enumerate() {
            let nanos = match i % 4 {
                0 => 0,
                1 => (next() % 1_000) as u32 * 1_000_000,
                2 => (next() % 1_000_000) as u32 * 1_000,
                _ => (next() % 1_000_000_000) as u32,
            };
            let at = DateTime::from_timestamp(secs, nanos).unwrap();
            assert_eq!(
                serde_json::to_string(&Ours(at)).unwrap(),
                serde_json::to_string(&at).unwrap(),
                "{secs}.{nanos}"
            );
        }
    }

    #[test]
    fn timestamps_the_fixed_layout_cannot_hold_go_to_chrono() {
        let leap = chrono::NaiveDate::from_ymd_opt(2016, 12, 31)
            .unwrap()
            .and_hms_nano_opt(23, 59, 59, 1_500_000_000)
            .unwrap()
            .and_utc();
        let before_year_0 = Utc.with_ymd_and_hms(-1, 6, 1, 12, 0, 0).unwrap();
        let after_9999 = Utc.with_ymd_and_hms(10_000, 1, 1, 0, 0, 0).unwrap();
        for at in [leap, before_year_0, after_9999] {
            assert!(super::rfc3339_fixed(&at, &mut [0; 30]).is_none(), "{at:?}");
            assert_eq!(serde_json::to_string(&Ours(at)).unwrap(), serde_json::to_string(&at).unwrap(), "{at:?}");
        }
    }
}
