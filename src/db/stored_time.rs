//! Reading SQLite's text timestamps and dates without chrono's format-string parser.
//!
//! SQLite stores `TIMESTAMP` and `DATE` as text. Diesel reads them with chrono's
//! `parse_from_str`, which interprets its format string anew for every value and tries up to a
//! dozen formats: ~2,400 instructions per timestamp, a sixth of the cost of a measure row in a
//! list (callgrind). What diesel writes has one fixed layout (`YYYY-MM-DD HH:MM:SS[.fffffffff]`,
//! `YYYY-MM-DD`); these types read exactly that layout directly and hand anything else to diesel's
//! own parser, so every text diesel accepts is still accepted. On PostgreSQL (binary values)
//! they delegate to diesel unchanged. Use them with `#[diesel(deserialize_as = …)]`.

use chrono::{NaiveDate, NaiveDateTime, NaiveTime};
use diesel::deserialize::{self, FromSql};
use diesel::pg::{Pg, PgValue};
use diesel::sql_types::{Date, Timestamp};
use diesel::sqlite::{Sqlite, SqliteValue};

use super::{MultiBackend, MultiRawValue};

/// A `TIMESTAMP` column read as [`NaiveDateTime`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, diesel::deserialize::FromSqlRow)]
pub struct StoredTimestamp(pub NaiveDateTime);

/// A `DATE` column read as [`NaiveDate`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, diesel::deserialize::FromSqlRow)]
pub struct StoredDate(pub NaiveDate);

impl From<StoredTimestamp> for NaiveDateTime {
    fn from(value: StoredTimestamp) -> Self {
        value.0
    }
}

impl From<StoredDate> for NaiveDate {
    fn from(value: StoredDate) -> Self {
        value.0
    }
}

impl FromSql<Timestamp, Sqlite> for StoredTimestamp {
    fn from_sql(mut value: SqliteValue<'_, '_, '_>) -> deserialize::Result<Self> {
        if let Some(parsed) = parse_timestamp(value.read_text()) {
            return Ok(Self(parsed));
        }
        <NaiveDateTime as FromSql<Timestamp, Sqlite>>::from_sql(value).map(Self)
    }
}

impl FromSql<Timestamp, Pg> for StoredTimestamp {
    fn from_sql(value: PgValue<'_>) -> deserialize::Result<Self> {
        <NaiveDateTime as FromSql<Timestamp, Pg>>::from_sql(value).map(Self)
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
impl FromSql<Timestamp, MultiBackend> for StoredTimestamp {
    fn from_sql(value: MultiRawValue<'_>) -> deserialize::Result<Self> {
        value.from_sql::<Self, Timestamp>()
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
            // The layout diesel's `ToSql<Timestamp, Sqlite>` writes.
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
