//! Time as stored: [`Timestamp`], the one type of every stored instant (rows, answers, versions,
//! cursors), and the fast reading of SQLite's text timestamps and dates.
//!
//! SQLite stores `TIMESTAMP` and `DATE` as text. Diesel reads them with chrono's
//! `parse_from_str`, which interprets its format string anew for every value and tries up to a
//! dozen formats, a large part of the cost of a measure row in a list. What diesel writes has one fixed layout (`YYYY-MM-DD HH:MM:SS[.fffffffff]`,
//! `YYYY-MM-DD`); these types read exactly that layout directly and hand anything else to diesel's
//! own parser, so every text diesel accepts is still accepted. On PostgreSQL (binary values)
//! they delegate to diesel unchanged. (Measured: benches/RESULTS.md, fourth and fifth rounds.)

use chrono::{NaiveDate, NaiveDateTime, NaiveTime};
use diesel::deserialize::{self, FromSql};
use diesel::pg::{Pg, PgValue};
use diesel::serialize::{self, Output, ToSql};
use diesel::sql_types::{Date, Timestamp as SqlTimestamp};
use diesel::sqlite::{Sqlite, SqliteValue};

use super::{MultiBackend, MultiRawValue};

/// An instant in UTC, to the microsecond (what both backends store): a `TIMESTAMP` column, an
/// RFC 3339 string in JSON (`2026-11-21T14:03:22.123456Z`), the basis of a record's `ETag` and
/// of keyset cursors.
#[derive(
    Debug,
    Clone,
    Copy,
    PartialEq,
    Eq,
    PartialOrd,
    Ord,
    Hash,
    diesel::deserialize::FromSqlRow,
    diesel::expression::AsExpression,
)]
#[diesel(sql_type = SqlTimestamp)]
pub struct Timestamp(NaiveDateTime);

impl Timestamp {
    /// Now, truncated to microseconds, so that a value read back equals the value written
    /// (ETags and cursors depend on it).
    pub fn now() -> Self {
        use chrono::SubsecRound;
        Self(chrono::Utc::now().naive_utc().trunc_subsecs(6))
    }

    /// The instant truncated to microseconds, as stored (for instants read from elsewhere).
    pub fn truncated(self) -> Self {
        use chrono::SubsecRound;
        Self(self.0.trunc_subsecs(6))
    }

    /// The instant as chrono's UTC date and time.
    pub fn utc(self) -> chrono::DateTime<chrono::Utc> {
        self.0.and_utc()
    }

    /// The instant without its zone (always UTC), for date arithmetic.
    pub fn naive(self) -> NaiveDateTime {
        self.0
    }

    /// Microseconds since 1970-01-01T00:00:00Z.
    pub fn micros(self) -> i64 {
        self.0.and_utc().timestamp_micros()
    }
}

impl From<NaiveDateTime> for Timestamp {
    fn from(value: NaiveDateTime) -> Self {
        Self(value)
    }
}

impl From<chrono::DateTime<chrono::Utc>> for Timestamp {
    fn from(value: chrono::DateTime<chrono::Utc>) -> Self {
        Self(value.naive_utc())
    }
}

impl std::ops::Add<chrono::Duration> for Timestamp {
    type Output = Self;
    fn add(self, rhs: chrono::Duration) -> Self {
        Self(self.0 + rhs)
    }
}

impl std::ops::Sub<chrono::Duration> for Timestamp {
    type Output = Self;
    fn sub(self, rhs: chrono::Duration) -> Self {
        Self(self.0 - rhs)
    }
}

impl std::ops::Sub for Timestamp {
    type Output = chrono::Duration;
    fn sub(self, rhs: Self) -> chrono::Duration {
        self.0 - rhs.0
    }
}

impl serde::Serialize for Timestamp {
    /// Exactly what chrono's `Serialize` of `DateTime<Utc>` writes (RFC 3339, `Z`, 0/3/6/9
    /// fraction digits), laid out in one stack buffer instead of a dozen escaped pieces.
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let at = self.utc();
        let mut buf = [0u8; 30];
        match rfc3339_fixed(&at, &mut buf) {
            Some(text) => serializer.serialize_str(text),
            None => serializer.serialize_str(&at.to_rfc3339_opts(chrono::SecondsFormat::AutoSi, true)),
        }
    }
}

impl<'de> serde::Deserialize<'de> for Timestamp {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        chrono::DateTime::<chrono::Utc>::deserialize(deserializer).map(Self::from)
    }
}

/// `YYYY-MM-DDTHH:MM:SS[.fff|.ffffff|.fffffffff]Z`, or `None` where that layout does not fit
/// (years outside 0–9999, leap seconds), which chrono then writes.
fn rfc3339_fixed<'b>(at: &chrono::DateTime<chrono::Utc>, buf: &'b mut [u8; 30]) -> Option<&'b str> {
    let len = fixed_layout(&at.naive_utc(), b'T', buf)?;
    buf[len] = b'Z';
    std::str::from_utf8(&buf[..=len]).ok()
}

/// Writes `YYYY-MM-DD?HH:MM:SS[.fff|.ffffff|.fffffffff]` (`?` being `separator`) to the start of
/// `buf` and returns its length, or `None` for years outside 0–9999 and leap seconds. The
/// fraction has as many digits as chrono's `%.f` writes: none for whole seconds, else 3, 6 or 9.
fn fixed_layout(at: &NaiveDateTime, separator: u8, buf: &mut [u8; 30]) -> Option<usize> {
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
    buf[10] = separator;
    digits(&mut buf[0..4], year as u32);
    digits(&mut buf[5..7], at.month());
    digits(&mut buf[8..10], at.day());
    digits(&mut buf[11..13], at.hour());
    digits(&mut buf[14..16], at.minute());
    digits(&mut buf[17..19], at.second());
    Some(match nanos {
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
    })
}

impl ToSql<SqlTimestamp, Sqlite> for Timestamp {
    /// The text diesel writes (`%F %T%.f`), laid out directly: chrono's formatter interprets its
    /// format string anew for every value, on the writer thread of every write.
    fn to_sql<'b>(&'b self, out: &mut Output<'b, '_, Sqlite>) -> serialize::Result {
        let mut buf = [0u8; 30];
        match fixed_layout(&self.0, b' ', &mut buf) {
            Some(len) => {
                out.set_value(String::from_utf8_lossy(&buf[..len]).into_owned());
                Ok(serialize::IsNull::No)
            }
            None => <NaiveDateTime as ToSql<SqlTimestamp, Sqlite>>::to_sql(&self.0, out),
        }
    }
}

impl ToSql<SqlTimestamp, Pg> for Timestamp {
    fn to_sql<'b>(&'b self, out: &mut Output<'b, '_, Pg>) -> serialize::Result {
        <NaiveDateTime as ToSql<SqlTimestamp, Pg>>::to_sql(&self.0, out)
    }
}

impl ToSql<SqlTimestamp, MultiBackend> for Timestamp {
    fn to_sql<'b>(&'b self, out: &mut Output<'b, '_, MultiBackend>) -> serialize::Result {
        out.set_value((SqlTimestamp, self));
        Ok(serialize::IsNull::No)
    }
}

/// A `DATE` column read as [`NaiveDate`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, diesel::deserialize::FromSqlRow)]
pub struct StoredDate(pub NaiveDate);

impl From<StoredDate> for NaiveDate {
    fn from(value: StoredDate) -> Self {
        value.0
    }
}

impl FromSql<SqlTimestamp, Sqlite> for Timestamp {
    fn from_sql(mut value: SqliteValue<'_, '_, '_>) -> deserialize::Result<Self> {
        if let Some(parsed) = parse_timestamp(value.read_text()) {
            return Ok(Self(parsed));
        }
        <NaiveDateTime as FromSql<SqlTimestamp, Sqlite>>::from_sql(value).map(Self)
    }
}

impl FromSql<SqlTimestamp, Pg> for Timestamp {
    fn from_sql(value: PgValue<'_>) -> deserialize::Result<Self> {
        <NaiveDateTime as FromSql<SqlTimestamp, Pg>>::from_sql(value).map(Self)
    }
}

impl FromSql<Date, Sqlite> for StoredDate {
    fn from_sql(mut value: SqliteValue<'_, '_, '_>) -> deserialize::Result<Self> {
        if let Some(parsed) = parse_date(value.read_text().as_bytes()) {
            return Ok(Self(parsed));
        }
        <NaiveDate as FromSql<Date, Sqlite>>::from_sql(value).map(Self)
    }
}

impl FromSql<Date, Pg> for StoredDate {
    fn from_sql(value: PgValue<'_>) -> deserialize::Result<Self> {
        <NaiveDate as FromSql<Date, Pg>>::from_sql(value).map(Self)
    }
}

// Through `AnyConnection`: dispatched to the backend's own implementation above.
impl FromSql<SqlTimestamp, MultiBackend> for Timestamp {
    fn from_sql(value: MultiRawValue<'_>) -> deserialize::Result<Self> {
        value.from_sql::<Self, SqlTimestamp>()
    }
}

impl FromSql<Date, MultiBackend> for StoredDate {
    fn from_sql(value: MultiRawValue<'_>) -> deserialize::Result<Self> {
        value.from_sql::<Self, Date>()
    }
}

/// The number written as `digits` (ASCII), if they all are digits.
fn number(digits: &[u8]) -> Option<u32> {
    digits.iter().try_fold(0u32, |n, &d| d.is_ascii_digit().then(|| n * 10 + u32::from(d - b'0')))
}

/// `YYYY-MM-DD`, and nothing else.
fn parse_date(text: &[u8]) -> Option<NaiveDate> {
    match text {
        [y @ .., b'-', m1, m2, b'-', d1, d2] if y.len() == 4 => {
            NaiveDate::from_ymd_opt(number(y)? as i32, number(&[*m1, *m2])?, number(&[*d1, *d2])?)
        }
        _ => None,
    }
}

/// `YYYY-MM-DD HH:MM:SS` with an optional `.` and 1–9 digits of fraction, and nothing else.
fn parse_timestamp(text: &str) -> Option<NaiveDateTime> {
    let bytes = text.as_bytes();
    if bytes.len() < 19 || bytes[10] != b' ' || bytes[13] != b':' || bytes[16] != b':' {
        return None;
    }
    let date = parse_date(&bytes[..10])?;
    let nanos = match &bytes[19..] {
        [] => 0,
        [b'.', fraction @ ..] if (1..=9).contains(&fraction.len()) => {
            number(fraction)? * 10u32.pow(9 - fraction.len() as u32)
        }
        _ => return None,
    };
    let time =
        NaiveTime::from_hms_nano_opt(number(&bytes[11..13])?, number(&bytes[14..16])?, number(&bytes[17..19])?, nanos)?;
    Some(date.and_time(time))
}

#[cfg(test)]
mod tests {
    use chrono::Timelike;

    use super::*;

    #[test]
    fn reads_what_diesel_writes_exactly_as_chrono_does() {
        let base = NaiveDate::from_ymd_opt(2026, 11, 21).unwrap().and_hms_micro_opt(14, 3, 22, 123_456).unwrap();
        let samples = [
            base,
            base.with_nanosecond(0).unwrap(),
            base.with_nanosecond(120_000_000).unwrap(),
            base.with_nanosecond(1).unwrap(),
            NaiveDate::from_ymd_opt(1, 1, 1).unwrap().and_hms_opt(0, 0, 0).unwrap(),
            NaiveDate::from_ymd_opt(9999, 12, 31).unwrap().and_hms_micro_opt(23, 59, 59, 999_999).unwrap(),
        ];
        for sample in samples {
            // The layout diesel's `ToSql<SqlTimestamp, Sqlite>` writes.
            let text = sample.format("%F %T%.f").to_string();
            assert_eq!(parse_timestamp(&text), Some(sample), "{text}");
            let date = sample.date().format("%F").to_string();
            assert_eq!(parse_date(date.as_bytes()), Some(sample.date()), "{date}");
        }
    }

    #[test]
    fn leaves_every_other_layout_to_diesel() {
        for text in [
            "2026-11-21T14:03:22",
            "2026-11-21 14:03",
            "2026-11-21 14:03:22Z",
            "2026-11-21 14:03:22.",
            "2026-11-21 14:03:22.1234567890",
            "2026-13-01 00:00:00",
            "2026-02-30 00:00:00",
            "2026-11-21 24:00:00",
            "20261121 14:03:22",
            "2461000.5",
            "",
            "２026-11-21 14:03:22",
        ] {
            assert_eq!(parse_timestamp(text), None, "{text}");
        }
        for text in ["2026-1-21", "2026-11-21 ", "+2026-11-21", "2026-11-3a", "99999-01-01"] {
            assert_eq!(parse_date(text.as_bytes()), None, "{text}");
        }
    }
}

#[cfg(test)]
mod serialising {
    use chrono::{DateTime, TimeZone, Utc};

    use super::Timestamp;

    #[test]
    fn a_timestamp_reads_back_what_it_writes_to_the_microsecond() {
        let now = Timestamp::now();
        let text = serde_json::to_string(&now).unwrap();
        assert_eq!(serde_json::from_str::<Timestamp>(&text).unwrap(), now, "{text}");
        assert_eq!(now.naive().and_utc().timestamp_subsec_nanos() % 1_000, 0, "truncated to microseconds");
        let later = now + chrono::Duration::seconds(90);
        assert_eq!((later - now).num_seconds(), 90);
        assert!(later > now);
    }

    #[test]
    fn timestamps_serialise_byte_identical_to_chrono() {
        let base = Utc.with_ymd_and_hms(2026, 11, 21, 14, 3, 22).unwrap();
        for nanos in [0, 120_000_000, 123_000_000, 123_456_000, 123_456_789, 1, 999_999_999, 1_000, 10_000_000] {
            let at = base + chrono::Duration::nanoseconds(nanos);
            assert_eq!(
                serde_json::to_string(&Timestamp::from(at)).unwrap(),
                serde_json::to_string(&at).unwrap(),
                "{nanos}"
            );
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
                serde_json::to_string(&Timestamp::from(at)).unwrap(),
                serde_json::to_string(&at).unwrap(),
                "{secs}.{nanos}"
            );
            let mut buf = [0; 30];
            let len = super::fixed_layout(&at.naive_utc(), b' ', &mut buf).unwrap();
            assert_eq!(&buf[..len], at.naive_utc().format("%F %T%.f").to_string().as_bytes(), "{secs}.{nanos}");
        }
    }

    #[test]
    fn sqlite_stores_a_timestamp_as_the_text_diesel_writes() {
        use diesel::prelude::*;
        use diesel::sql_types::{Text, Timestamp as SqlTimestamp};
        #[derive(QueryableByName)]
        struct Stored {
            #[diesel(sql_type = Text)]
            text: String,
        }
        let mut conn = diesel::SqliteConnection::establish(":memory:").unwrap();
        let base = Utc.with_ymd_and_hms(2026, 11, 21, 14, 3, 22).unwrap();
        let leap = chrono::NaiveDate::from_ymd_opt(2016, 12, 31)
            .unwrap()
            .and_hms_nano_opt(23, 59, 59, 1_500_000_000)
            .unwrap()
            .and_utc();
        let mut cases: Vec<DateTime<Utc>> =
            [0, 120_000_000, 123_456_000, 123_456_789, 1].map(|n| base + chrono::Duration::nanoseconds(n)).to_vec();
        cases.extend([
            leap,
            Utc.with_ymd_and_hms(-1, 6, 1, 12, 0, 0).unwrap(),
            Utc.with_ymd_and_hms(10_000, 1, 1, 0, 0, 0).unwrap(),
        ]);
        let query = "SELECT CAST(? AS TEXT) AS text";
        for at in cases {
            let ours: Stored =
                diesel::sql_query(query).bind::<SqlTimestamp, _>(Timestamp::from(at)).get_result(&mut conn).unwrap();
            let diesels: Stored =
                diesel::sql_query(query).bind::<SqlTimestamp, _>(at.naive_utc()).get_result(&mut conn).unwrap();
            assert_eq!(ours.text, diesels.text, "{at:?}");
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
            assert_eq!(
                serde_json::to_string(&Timestamp::from(at)).unwrap(),
                serde_json::to_string(&at).unwrap(),
                "{at:?}"
            );
        }
    }
}
