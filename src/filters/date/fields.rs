//! [`Parsed`]: the fields a date pattern read from text, and [`Parsed::resolve`], which turns
//! them into a [`Local`] date-time the way Joda-Time's parser bucket does.
//!
//! Joda starts from 1970-01-01T00:00 and sets each parsed field in a fixed order (larger
//! ranges first: era, year, century, year of era, month, week, day of year, day of month, day
//! of week, then the time fields). That order decides what a pattern with overlapping fields
//! means (a weekday moves the date within its ISO week; `hh` without `a` is AM), and a value
//! out of range for the date built so far (February 30th) fails the parse. A pattern whose
//! largest field is a month, week or day gets the default year first.

use crate::event::Timestamp;

use super::zone::{Local, Zone};

/// A field a pattern can read; the index into [`Parsed`]'s values.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Field {
    /// 0 = BC, 1 = AD.
    Era,
    Year,
    Weekyear,
    Century,
    YearOfEra,
    Month,
    Week,
    DayOfYear,
    DayOfMonth,
    /// ISO: 1 = Monday .. 7 = Sunday.
    DayOfWeek,
    /// 0 = AM, 1 = PM.
    Halfday,
    /// `H`: 0-23.
    HourOfDay,
    /// `k`: 1-24.
    ClockhourOfDay,
    /// `K`: 0-11.
    HourOfHalfday,
    /// `h`: 1-12.
    ClockhourOfHalfday,
    Minute,
    Second,
    Millis,
}

const FIELD_COUNT: usize = Field::Millis as usize + 1;

/// The wall clock as the filter sees it when guessing years: UTC year and month.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Now {
    pub year: i32,
    pub month: u32,
}

impl Now {
    pub fn of(ts: Timestamp) -> Now {
        let (year, month, ..) = ts.civil();
        Now { year, month }
    }

    /// Logstash's guess for a date read without a year: this year, except that a December
    /// date read in January is last year's and a January date read in December next year's.
    pub fn guess_year(self, month: u32) -> i32 {
        match (month, self.month) {
            (12, 1) => self.year - 1,
            (1, 12) => self.year + 1,
            _ => self.year,
        }
    }
}

/// The fields read so far, and the zone the text named, if any.
#[derive(Clone, Copy, Debug, Default)]
pub struct Parsed {
    present: u32,
    values: [i64; FIELD_COUNT],
    /// An offset (`Z`) or zone (`ZZZ`, `z`) read from the text.
    pub zone: Option<Zone>,
}

impl Parsed {
    /// Saves a field; a later value of the same field replaces an earlier one.
    pub fn set(&mut self, field: Field, value: i64) {
        self.present |= 1 << field as u32;
        self.values[field as usize] = value;
    }

    pub fn get(&self, field: Field) -> Option<i64> {
        (self.present & (1 << field as u32) != 0).then(|| self.values[field as usize])
    }

    fn has_any(&self, fields: &[Field]) -> bool {
        fields.iter().any(|&f| self.get(f).is_some())
    }

    /// The local date-time these fields stand for, with `default_year` where Joda would use
    /// its default year; `None` when a value is out of range.
    pub fn resolve(&self, default_year: i32) -> Option<Local> {
        use Field::*;
        let mut date = Date::EPOCH;
        let has_year = self.has_any(&[Era, Year, Weekyear, Century, YearOfEra]);
        if !has_year && self.has_any(&[Month, Week, DayOfYear, DayOfMonth, DayOfWeek]) {
            date.set_year(i64::from(default_year))?;
        }
        let steps: [(Field, Setter); 10] = [
            (Era, Date::set_era),
            (Year, Date::set_year),
            (Weekyear, Date::set_weekyear),
            (Century, Date::set_century),
            (YearOfEra, Date::set_year_of_era),
            (Month, Date::set_month),
            (Week, Date::set_week),
            (DayOfYear, Date::set_day_of_year),
            (DayOfMonth, Date::set_day),
            (DayOfWeek, Date::set_day_of_week),
        ];
        for (field, set) in steps {
            if let Some(value) = self.get(field) {
                set(&mut date, value)?;
            }
        }
        let (hour, minute, second, millis) = self.time()?;
        Some(Local {
            year: i32::try_from(date.year).ok()?,
            month: date.month,
            day: date.day,
            hour,
            minute,
            second,
            millis,
        })
    }

    /// `(hour, minute, second, millis)`, each field checked against its range.
    fn time(&self) -> Option<(u32, u32, u32, u32)> {
        use Field::*;
        let mut hour = 0i64;
        if let Some(halfday) = self.get(Halfday) {
            hour = hour % 12 + 12 * in_range(halfday, 0, 1)?;
        }
        if let Some(h) = self.get(HourOfDay) {
            hour = in_range(h, 0, 23)?;
        }
        if let Some(k) = self.get(ClockhourOfDay) {
            hour = in_range(k, 1, 24)? % 24;
        }
        if let Some(k) = self.get(HourOfHalfday) {
            hour = hour / 12 * 12 + in_range(k, 0, 11)?;
        }
        if let Some(h) = self.get(ClockhourOfHalfday) {
            hour = hour / 12 * 12 + in_range(h, 1, 12)? % 12;
        }
        let minute = self.get(Minute).map_or(Some(0), |m| in_range(m, 0, 59))?;
        let second = self.get(Second).map_or(Some(0), |s| in_range(s, 0, 59))?;
        let millis = self.get(Millis).map_or(Some(0), |s| in_range(s, 0, 999))?;
        // Every value was range-checked above, so the casts are exact.
        Some((hour as u32, minute as u32, second as u32, millis as u32))
    }
}

fn in_range(value: i64, min: i64, max: i64) -> Option<i64> {
    (min..=max).contains(&value).then_some(value)
}

/// One of [`Date`]'s field setters; `None` when the value is out of range.
type Setter = fn(&mut Date, i64) -> Option<()>;

/// A proleptic Gregorian date being built field by field, with Joda's setters.
#[derive(Clone, Copy, Debug)]
struct Date {
    year: i64,
    month: u32,
    day: u32,
}

/// Joda's year range (ISO chronology).
const MIN_YEAR: i64 = -292_275_054;
const MAX_YEAR: i64 = 292_278_993;

impl Date {
    const EPOCH: Date = Date {
        year: 1970,
        month: 1,
        day: 1,
    };

    /// Days since 1970-01-01; `None` outside what a timestamp can hold.
    fn days(self) -> Option<i64> {
        let year = i32::try_from(self.year).ok()?;
        Some(Timestamp::from_civil(year, self.month, self.day, 0, 0, 0, 0)?.days_since_epoch())
    }

    fn from_days(days: i64) -> Option<Date> {
        let nanos = days.checked_mul(86_400)?.checked_mul(1_000_000_000)?;
        let (year, month, day, ..) = Timestamp::from_nanos(nanos).civil();
        Some(Date {
            year: i64::from(year),
            month,
            day,
        })
    }

    fn plus_days(self, days: i64) -> Option<Date> {
        Date::from_days(self.days()?.checked_add(days)?)
    }

    fn is_leap(year: i64) -> bool {
        year % 4 == 0 && (year % 100 != 0 || year % 400 == 0)
    }

    fn days_in_month(year: i64, month: u32) -> u32 {
        // Leap years repeat every 400 years, so the reduced year gives the same answer.
        Timestamp::days_in_month(year.rem_euclid(400) as i32 + 2000, month)
    }

    /// ISO weekday, 1 = Monday.
    fn weekday(self) -> Option<i64> {
        Some((self.days()? + 3).rem_euclid(7) + 1)
    }

    /// `(weekyear, week)` in the ISO week calendar.
    fn iso_week(self) -> Option<(i64, i64)> {
        // The Thursday of this week decides its year; its ordinal day decides the week.
        let thursday = self.plus_days(4 - self.weekday()?)?;
        let jan1 = Date {
            year: thursday.year,
            month: 1,
            day: 1,
        };
        let ordinal = thursday.days()? - jan1.days()?;
        Some((thursday.year, ordinal / 7 + 1))
    }

    /// The Monday of ISO week 1 of `weekyear`.
    fn week_one(weekyear: i64) -> Option<Date> {
        let jan4 = Date {
            year: weekyear,
            month: 1,
            day: 4,
        };
        jan4.plus_days(1 - jan4.weekday()?)
    }

    fn weeks_in(weekyear: i64) -> Option<i64> {
        let start = Date::week_one(weekyear)?.days()?;
        let next = Date::week_one(weekyear + 1)?.days()?;
        Some((next - start) / 7)
    }

    fn set_year(&mut self, year: i64) -> Option<()> {
        in_range(year, MIN_YEAR, MAX_YEAR)?;
        self.year = year;
        // Joda keeps the month and day, except that February 29th becomes the 28th.
        self.day = self.day.min(Date::days_in_month(year, self.month));
        Some(())
    }

    fn set_era(&mut self, era: i64) -> Option<()> {
        let ad = in_range(era, 0, 1)? == 1;
        if ad != (self.year > 0) {
            self.set_year(1 - self.year)?;
        }
        Some(())
    }

    fn year_of_era(&self) -> i64 {
        if self.year > 0 {
            self.year
        } else {
            1 - self.year
        }
    }

    fn set_year_of_era(&mut self, value: i64) -> Option<()> {
        in_range(value, 1, MAX_YEAR)?;
        let year = if self.year > 0 { value } else { 1 - value };
        self.set_year(year)
    }

    fn set_century(&mut self, century: i64) -> Option<()> {
        in_range(century, 0, MAX_YEAR / 100)?;
        let value = century * 100 + self.year_of_era() % 100;
        self.set_year_of_era(value)
    }

    fn set_weekyear(&mut self, weekyear: i64) -> Option<()> {
        in_range(weekyear, MIN_YEAR, MAX_YEAR)?;
        let weekday = self.weekday()?;
        let (_, week) = self.iso_week()?;
        let week = week.min(Date::weeks_in(weekyear)?);
        *self = Date::week_one(weekyear)?.plus_days((week - 1) * 7 + weekday - 1)?;
        Some(())
    }

    fn set_month(&mut self, month: i64) -> Option<()> {
        self.month = in_range(month, 1, 12)? as u32;
        self.day = self.day.min(Date::days_in_month(self.year, self.month));
        Some(())
    }

    fn set_week(&mut self, week: i64) -> Option<()> {
        let (weekyear, current) = self.iso_week()?;
        in_range(week, 1, Date::weeks_in(weekyear)?)?;
        *self = self.plus_days((week - current) * 7)?;
        Some(())
    }

    fn set_day_of_year(&mut self, day: i64) -> Option<()> {
        let len = if Date::is_leap(self.year) { 366 } else { 365 };
        in_range(day, 1, len)?;
        let jan1 = Date {
            year: self.year,
            month: 1,
            day: 1,
        };
        *self = jan1.plus_days(day - 1)?;
        Some(())
    }

    fn set_day(&mut self, day: i64) -> Option<()> {
        let max = Date::days_in_month(self.year, self.month);
        self.day = in_range(day, 1, i64::from(max))? as u32;
        Some(())
    }

    fn set_day_of_week(&mut self, weekday: i64) -> Option<()> {
        in_range(weekday, 1, 7)?;
        *self = self.plus_days(weekday - self.weekday()?)?;
        Some(())
    }
}

#[cfg(test)]
mod tests {
    use super::Field::*;
    use super::*;

    fn parsed(fields: &[(Field, i64)]) -> Parsed {
        let mut p = Parsed::default();
        for &(f, v) in fields {
            p.set(f, v);
        }
        p
    }

    fn ymd(p: &Parsed) -> Option<(i32, u32, u32)> {
        p.resolve(2026).map(|l| (l.year, l.month, l.day))
    }

    #[test]
    fn nothing_parsed_is_the_epoch_and_time_only_stays_in_1970() {
        assert_eq!(ymd(&parsed(&[])), Some((1970, 1, 1)));
        let local = parsed(&[(HourOfDay, 5), (Minute, 6)])
            .resolve(2026)
            .unwrap();
        assert_eq!((local.year, local.hour, local.minute), (1970, 5, 6));
    }

    #[test]
    fn a_month_or_day_without_year_gets_the_default_year() {
        assert_eq!(
            ymd(&parsed(&[(Month, 3), (DayOfMonth, 9)])),
            Some((2026, 3, 9))
        );
        assert_eq!(ymd(&parsed(&[(DayOfYear, 32)])), Some((2026, 2, 1)));
        assert_eq!(ymd(&parsed(&[(Year, 1999)])), Some((1999, 1, 1)));
    }

    #[test]
    fn days_are_checked_against_the_month_and_year() {
        assert_eq!(
            ymd(&parsed(&[(Year, 2013), (Month, 2), (DayOfMonth, 29)])),
            None
        );
        assert_eq!(
            ymd(&parsed(&[(Year, 2012), (Month, 2), (DayOfMonth, 29)])),
            Some((2012, 2, 29))
        );
        assert_eq!(ymd(&parsed(&[(Year, 2013), (Month, 13)])), None);
        assert_eq!(ymd(&parsed(&[(Year, 2013), (DayOfYear, 366)])), None);
        assert_eq!(
            ymd(&parsed(&[(Year, 2012), (DayOfYear, 366)])),
            Some((2012, 12, 31))
        );
    }

    #[test]
    fn a_weekday_moves_the_date_within_its_iso_week() {
        // 2024-01-03 is a Wednesday; Joda sets Monday by moving back two days.
        let p = parsed(&[(Year, 2024), (Month, 1), (DayOfMonth, 3), (DayOfWeek, 1)]);
        assert_eq!(ymd(&p), Some((2024, 1, 1)));
        let p = parsed(&[(Year, 2024), (Month, 1), (DayOfMonth, 3), (DayOfWeek, 3)]);
        assert_eq!(ymd(&p), Some((2024, 1, 3)));
    }

    #[test]
    fn week_dates_follow_the_iso_calendar() {
        // 2009-W53-7 is 2010-01-03; 2008-W01-1 is 2007-12-31.
        let p = parsed(&[(Weekyear, 2009), (Week, 53), (DayOfWeek, 7)]);
        assert_eq!(ymd(&p), Some((2010, 1, 3)));
        let p = parsed(&[(Weekyear, 2008), (Week, 1), (DayOfWeek, 1)]);
        assert_eq!(ymd(&p), Some((2007, 12, 31)));
        assert_eq!(ymd(&parsed(&[(Weekyear, 2010), (Week, 53)])), None);
    }

    #[test]
    fn half_day_clock_hours_and_eras() {
        let time = |fields: &[(Field, i64)]| parsed(fields).resolve(2026).map(|l| l.hour);
        assert_eq!(time(&[(ClockhourOfHalfday, 12)]), Some(0));
        assert_eq!(time(&[(ClockhourOfHalfday, 12), (Halfday, 1)]), Some(12));
        assert_eq!(time(&[(ClockhourOfHalfday, 3), (Halfday, 1)]), Some(15));
        assert_eq!(time(&[(HourOfHalfday, 11), (Halfday, 0)]), Some(11));
        assert_eq!(time(&[(ClockhourOfDay, 24)]), Some(0));
        assert_eq!(time(&[(ClockhourOfHalfday, 0)]), None);
        assert_eq!(time(&[(HourOfDay, 24)]), None);
        let bc = parsed(&[(Era, 0), (YearOfEra, 44), (Month, 3), (DayOfMonth, 15)]);
        assert_eq!(bc.resolve(2026).map(|l| l.year), Some(-43));
        let century = parsed(&[(Century, 20), (YearOfEra, 1999)]);
        assert_eq!(century.resolve(2026).map(|l| l.year), Some(1999));
        assert_eq!(
            parsed(&[(Century, 19)]).resolve(2026).map(|l| l.year),
            Some(1970)
        );
    }

    #[test]
    fn years_are_guessed_across_the_new_year() {
        let january = Now {
            year: 2014,
            month: 1,
        };
        assert_eq!(january.guess_year(12), 2013);
        assert_eq!(january.guess_year(1), 2014);
        assert_eq!(january.guess_year(11), 2014);
        let december = Now {
            year: 2013,
            month: 12,
        };
        assert_eq!(december.guess_year(1), 2014);
        assert_eq!(december.guess_year(12), 2013);
    }
}
