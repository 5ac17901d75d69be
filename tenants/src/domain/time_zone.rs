//! The clinic's time zone: appointments are booked and every time is shown
//! in it, so a patient reads "9:30" for a 9:30 appointment whatever the
//! server's clock is set to.

use std::fmt;

use jiff::civil::DateTime;
use jiff::tz::TimeZone;

use super::{InvalidValue, Timestamp};

/// An IANA time zone name (`Europe/Berlin`) known to the bundled database.
#[derive(Clone)]
pub struct ClinicTimeZone {
    name: String,
    zone: TimeZone,
}

impl ClinicTimeZone {
    pub fn utc() -> Self {
        Self {
            name: "UTC".into(),
            zone: TimeZone::UTC,
        }
    }

    pub fn parse(raw: &str) -> Result<Self, InvalidValue> {
        let raw = raw.trim();
        let zone = jiff::tz::db().get(raw).map_err(|_| {
            InvalidValue::new(
                "time_zone",
                "must be a time zone name such as Europe/Berlin or America/Chicago",
            )
        })?;
        // The database answers case-insensitively; keep its own spelling.
        let name = zone.iana_name().unwrap_or(raw).to_owned();
        Ok(Self { name, zone })
    }

    pub fn name(&self) -> &str {
        &self.name
    }

    /// Every zone a clinic may choose, by region (`Europe/Berlin`), plus
    /// `UTC`; the legacy aliases (`US/Eastern`, `Etc/GMT+5`) are left out.
    pub fn choices() -> Vec<String> {
        let mut names: Vec<String> = jiff::tz::db()
            .available()
            .map(|n| n.to_string())
            .filter(|n| {
                let region = n.split('/').next().unwrap_or_default();
                n.contains('/')
                    && matches!(
                        region,
                        "Africa"
                            | "America"
                            | "Antarctica"
                            | "Arctic"
                            | "Asia"
                            | "Atlantic"
                            | "Australia"
                            | "Europe"
                            | "Indian"
                            | "Pacific"
                    )
            })
            .collect();
        names.push("UTC".into());
        names.sort();
        names.dedup();
        names
    }

    /// `28 November 2026, 15:00 CET`: how people read a time.
    pub fn human(&self, t: Timestamp) -> String {
        self.zoned(t)
            .map(|z| z.strftime("%-d %B %Y, %H:%M %Z").to_string())
            .unwrap_or_else(|| t.to_rfc3339())
    }

    /// `2026-11-28T15:00`: the value a `datetime-local` input shows.
    pub fn local_input(&self, t: Timestamp) -> String {
        self.zoned(t)
            .map(|z| z.strftime("%Y-%m-%dT%H:%M").to_string())
            .unwrap_or_default()
    }

    /// The instant a wall-clock time in this zone names, from a
    /// `datetime-local` input (`2026-12-01T09:30`, seconds optional). A
    /// time the clocks skip or repeat on a change to or from summer time
    /// takes the offset in force before the change, as calendars do.
    pub fn parse_local(&self, field: &'static str, raw: &str) -> Result<Timestamp, InvalidValue> {
        let invalid =
            || InvalidValue::new(field, "must be a date and time such as 2026-12-01T09:30");
        let raw = raw.trim();
        // jiff would read a bare date as its midnight; an appointment
        // needs its time said.
        if !raw.contains('T') {
            return Err(invalid());
        }
        let civil: DateTime = raw.parse().map_err(|_| invalid())?;
        let zoned = civil
            .to_zoned(self.zone.clone())
            .map_err(|_| InvalidValue::new(field, "is not a time this clinic's clock shows"))?;
        Ok(Timestamp::from_unix_millis(
            zoned.timestamp().as_millisecond(),
        ))
    }

    /// The first instant of the day `raw` (`2026-11-23`) on this clinic's
    /// clock, and the first of the day after: a filter's whole day.
    pub fn day(
        &self,
        field: &'static str,
        raw: &str,
    ) -> Result<(Timestamp, Timestamp), InvalidValue> {
        let invalid = || InvalidValue::new(field, "must be a date such as 2026-11-23");
        let date: jiff::civil::Date = raw.trim().parse().map_err(|_| invalid())?;
        let start = |d: jiff::civil::Date| {
            d.to_zoned(self.zone.clone())
                .map(|z| Timestamp::from_unix_millis(z.timestamp().as_millisecond()))
                .map_err(|_| invalid())
        };
        let next = date.tomorrow().map_err(|_| invalid())?;
        Ok((start(date)?, start(next)?))
    }

    /// The date `t` falls on, on this clinic's calendar: whose birthday it
    /// is depends on where the clinic is, not on the server's clock.
    pub fn local_date(&self, t: Timestamp) -> time::Date {
        let utc = || {
            time::OffsetDateTime::from_unix_timestamp(t.unix_millis().div_euclid(1000))
                .map(|d| d.date())
                .unwrap_or(time::Date::MIN)
        };
        let Some(zoned) = self.zoned(t) else {
            return utc();
        };
        let month = time::Month::try_from(zoned.month() as u8).ok();
        month
            .and_then(|m| {
                time::Date::from_calendar_date(i32::from(zoned.year()), m, zoned.day() as u8).ok()
            })
            .unwrap_or_else(utc)
    }

    fn zoned(&self, t: Timestamp) -> Option<jiff::Zoned> {
        jiff::Timestamp::from_millisecond(t.unix_millis())
            .ok()
            .map(|ts| ts.to_zoned(self.zone.clone()))
    }
}

impl PartialEq for ClinicTimeZone {
    fn eq(&self, other: &Self) -> bool {
        self.name == other.name
    }
}

impl Eq for ClinicTimeZone {}

impl fmt::Debug for ClinicTimeZone {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.name)
    }
}

impl fmt::Display for ClinicTimeZone {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.name)
    }
}

#[cfg(test)]
mod tests {

    #[test]
    fn the_local_date_is_the_clinics_not_the_servers() {
        let late = Timestamp::parse_rfc3339("2026-11-27T23:30:00Z").unwrap();
        let berlin = ClinicTimeZone::parse("Europe/Berlin").unwrap();
        let chicago = ClinicTimeZone::parse("America/Chicago").unwrap();
        assert_eq!(berlin.local_date(late), time::macros::date!(2026 - 11 - 28));
        assert_eq!(
            chicago.local_date(late),
            time::macros::date!(2026 - 11 - 27)
        );
        assert_eq!(
            ClinicTimeZone::utc().local_date(late),
            time::macros::date!(2026 - 11 - 27)
        );
    }
    use super::*;

    fn at(rfc3339: &str) -> Timestamp {
        Timestamp::parse_rfc3339(rfc3339).unwrap()
    }

    #[test]
    fn names_are_checked_and_spelled_as_the_database_does() {
        assert_eq!(
            ClinicTimeZone::parse("europe/berlin").unwrap().name(),
            "Europe/Berlin"
        );
        assert_eq!(ClinicTimeZone::parse("UTC").unwrap(), ClinicTimeZone::utc());
        for bad in ["", "Mars/Olympus", "Europe/Berlin; DROP", "+01:00"] {
            assert!(ClinicTimeZone::parse(bad).is_err(), "{bad}");
        }
        let choices = ClinicTimeZone::choices();
        assert!(choices.iter().any(|c| c == "America/Chicago"));
        assert!(choices.iter().any(|c| c == "UTC"));
        assert!(
            !choices
                .iter()
                .any(|c| c.starts_with("US/") || c.starts_with("Etc/"))
        );
        for c in &choices {
            assert!(ClinicTimeZone::parse(c).is_ok(), "{c}");
        }
    }

    #[test]
    fn times_are_shown_in_the_clinics_zone_across_summer_time() {
        let berlin = ClinicTimeZone::parse("Europe/Berlin").unwrap();
        assert_eq!(
            berlin.human(at("2026-11-28T14:00:00Z")),
            "28 November 2026, 15:00 CET"
        );
        assert_eq!(
            berlin.human(at("2026-07-01T08:05:00Z")),
            "1 July 2026, 10:05 CEST"
        );
        assert_eq!(
            ClinicTimeZone::utc().human(at("2026-11-28T14:00:00Z")),
            "28 November 2026, 14:00 UTC"
        );
        assert_eq!(
            berlin.local_input(at("2026-07-01T08:05:00Z")),
            "2026-07-01T10:05"
        );
    }

    #[test]
    fn wall_clock_input_becomes_the_instant_it_names() {
        let chicago = ClinicTimeZone::parse("America/Chicago").unwrap();
        assert_eq!(
            chicago
                .parse_local("starts_at", "2026-12-01T09:30")
                .unwrap(),
            at("2026-12-01T15:30:00Z")
        );
        assert_eq!(
            chicago
                .parse_local("starts_at", "2026-07-01T09:30:00")
                .unwrap(),
            at("2026-07-01T14:30:00Z")
        );
        // 02:30 does not exist on 8 March 2026 in Chicago: the offset before
        // the change applies (CST), as calendar programs do.
        assert_eq!(
            chicago
                .parse_local("starts_at", "2026-03-08T02:30")
                .unwrap(),
            at("2026-03-08T08:30:00Z")
        );
        for bad in ["", "2026-12-01", "tomorrow", "2026-13-01T09:30"] {
            assert!(chicago.parse_local("starts_at", bad).is_err(), "{bad}");
        }
    }
}
