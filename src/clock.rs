//! The gateway's clock. Every time the gateway writes or compares is read here, at the
//! precision both databases keep, so that a value reads back exactly as it was written.

/// The current time at microsecond precision (what SQLite and PostgreSQL both keep), so that
/// a value reads back exactly as it was written on either.
pub fn now() -> chrono::DateTime<chrono::Utc> {
    use chrono::SubsecRound;
    chrono::Utc::now().trunc_subsecs(6)
}

/// The day in Japan (+09:00) of an instant.
pub fn japan_day(at: chrono::DateTime<chrono::Utc>) -> chrono::NaiveDate {
    (at + chrono::Duration::hours(9)).date_naive()
}

/// The time of day in Japan (+09:00) of an instant, as `HH:MM`.
pub fn japan_time(at: chrono::DateTime<chrono::Utc>) -> String {
    (at + chrono::Duration::hours(9))
        .format("%H:%M")
        .to_string()
}
