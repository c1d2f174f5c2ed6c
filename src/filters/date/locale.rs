//! Month, weekday, half-day and era names for the `date` filter's text fields (`MMM`, `EEE`,
//! `a`, `G`), and [`NameTable`], the compiled form a pattern matches them with.
//!
//! Joda accepts, for `MMM` and `MMMM` alike, the short or the full name, as written, all lower
//! case or all upper case, and takes the longest that matches. English is complete; the other
//! [`Locale`]s carry the CLDR names Java 11+ uses, plus their variants without the trailing dot
//! (and older JDK spellings where they differ), so they accept a superset of what Logstash does.

/// A language whose names the filter knows.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Locale {
    English,
    French,
    German,
    Spanish,
    Italian,
    Portuguese,
    Dutch,
}

/// The names of one language. Each entry lists every spelling of one value.
struct Names {
    /// January first; full name first, then short forms.
    months: [&'static [&'static str]; 12],
    /// Monday first (ISO day 1).
    days: [&'static [&'static str]; 7],
    /// AM, PM.
    halfdays: [&'static [&'static str]; 2],
    /// BC, AD.
    eras: [&'static [&'static str]; 2],
}

const ENGLISH: Names = Names {
    months: [
        &["January", "Jan"],
        &["February", "Feb"],
        &["March", "Mar"],
        &["April", "Apr"],
        &["May"],
        &["June", "Jun"],
        &["July", "Jul"],
        &["August", "Aug"],
        &["September", "Sep"],
        &["October", "Oct"],
        &["November", "Nov"],
        &["December", "Dec"],
    ],
    days: [
        &["Monday", "Mon"],
        &["Tuesday", "Tue"],
        &["Wednesday", "Wed"],
        &["Thursday", "Thu"],
        &["Friday", "Fri"],
        &["Saturday", "Sat"],
        &["Sunday", "Sun"],
    ],
    halfdays: [&["AM"], &["PM"]],
    // Joda also reads BCE/CE in English.
    eras: [&["BC", "BCE"], &["AD", "CE"]],
};

const FRENCH: Names = Names {
    months: [
        &["janvier", "janv."],
        &["février", "févr."],
        &["mars"],
        &["avril", "avr."],
        &["mai"],
        &["juin"],
        &["juillet", "juil."],
        &["août"],
        &["septembre", "sept."],
        &["octobre", "oct."],
        &["novembre", "nov."],
        &["décembre", "déc."],
    ],
    days: [
        &["lundi", "lun."],
        &["mardi", "mar."],
        &["mercredi", "mer."],
        &["jeudi", "jeu."],
        &["vendredi", "ven."],
        &["samedi", "sam."],
        &["dimanche", "dim."],
    ],
    halfdays: [&["AM"], &["PM"]],
    eras: [&["av. J.-C."], &["ap. J.-C."]],
};

const GERMAN: Names = Names {
    months: [
        &["Januar", "Jan."],
        &["Februar", "Feb."],
        &["März", "Mär"],
        &["April", "Apr."],
        &["Mai"],
        &["Juni", "Jun"],
        &["Juli", "Jul"],
        &["August", "Aug."],
        &["September", "Sep."],
        &["Oktober", "Okt."],
        &["November", "Nov."],
        &["Dezember", "Dez."],
    ],
    days: [
        &["Montag", "Mo."],
        &["Dienstag", "Di."],
        &["Mittwoch", "Mi."],
        &["Donnerstag", "Do."],
        &["Freitag", "Fr."],
        &["Samstag", "Sa."],
        &["Sonntag", "So."],
    ],
    halfdays: [&["AM", "vorm."], &["PM", "nachm."]],
    eras: [&["v. Chr."], &["n. Chr."]],
};

const SPANISH: Names = Names {
    months: [
        &["enero", "ene."],
        &["febrero", "feb."],
        &["marzo", "mar."],
        &["abril", "abr."],
        &["mayo", "may."],
        &["junio", "jun."],
        &["julio", "jul."],
        &["agosto", "ago."],
        &["septiembre", "sept.", "sep."],
        &["octubre", "oct."],
        &["noviembre", "nov."],
        &["diciembre", "dic."],
    ],
    days: [
        &["lunes", "lun."],
        &["martes", "mar."],
        &["miércoles", "mié."],
        &["jueves", "jue."],
        &["viernes", "vie."],
        &["sábado", "sáb."],
        &["domingo", "dom."],
    ],
    halfdays: [&["a. m.", "AM"], &["p. m.", "PM"]],
    eras: [&["a. C."], &["d. C."]],
};

const ITALIAN: Names = Names {
    months: [
        &["gennaio", "gen"],
        &["febbraio", "feb"],
        &["marzo", "mar"],
        &["aprile", "apr"],
        &["maggio", "mag"],
        &["giugno", "giu"],
        &["luglio", "lug"],
        &["agosto", "ago"],
        &["settembre", "set"],
        &["ottobre", "ott"],
        &["novembre", "nov"],
        &["dicembre", "dic"],
    ],
    days: [
        &["lunedì", "lun"],
        &["martedì", "mar"],
        &["mercoledì", "mer"],
        &["giovedì", "gio"],
        &["venerdì", "ven"],
        &["sabato", "sab"],
        &["domenica", "dom"],
    ],
    halfdays: [&["AM"], &["PM"]],
    eras: [&["a.C."], &["d.C."]],
};

const PORTUGUESE: Names = Names {
    months: [
        &["janeiro", "jan."],
        &["fevereiro", "fev."],
        &["março", "mar."],
        &["abril", "abr."],
        &["maio", "mai."],
        &["junho", "jun."],
        &["julho", "jul."],
        &["agosto", "ago."],
        &["setembro", "set."],
        &["outubro", "out."],
        &["novembro", "nov."],
        &["dezembro", "dez."],
    ],
    days: [
        &["segunda-feira", "seg."],
        &["terça-feira", "ter."],
        &["quarta-feira", "qua."],
        &["quinta-feira", "qui."],
        &["sexta-feira", "sex."],
        &["sábado", "sáb."],
        &["domingo", "dom."],
    ],
    halfdays: [&["AM"], &["PM"]],
    eras: [&["a.C."], &["d.C."]],
};

const DUTCH: Names = Names {
    months: [
        &["januari", "jan."],
        &["februari", "feb."],
        &["maart", "mrt."],
        &["april", "apr."],
        &["mei"],
        &["juni", "jun."],
        &["juli", "jul."],
        &["augustus", "aug."],
        &["september", "sep."],
        &["oktober", "okt."],
        &["november", "nov."],
        &["december", "dec."],
    ],
    days: [
        &["maandag", "ma"],
        &["dinsdag", "di"],
        &["woensdag", "wo"],
        &["donderdag", "do"],
        &["vrijdag", "vr"],
        &["zaterdag", "za"],
        &["zondag", "zo"],
    ],
    halfdays: [&["a.m.", "AM"], &["p.m.", "PM"]],
    eras: [&["v.Chr."], &["n.Chr."]],
};

/// The languages known, by BCP 47 / POSIX language subtag.
const LANGUAGES: [(&str, Locale); 7] = [
    ("en", Locale::English),
    ("fr", Locale::French),
    ("de", Locale::German),
    ("es", Locale::Spanish),
    ("it", Locale::Italian),
    ("pt", Locale::Portuguese),
    ("nl", Locale::Dutch),
];

/// Which names a text field reads.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum TextKind {
    Month,
    DayOfWeek,
    Halfday,
    Era,
}

impl Locale {
    /// Reads a `locale` option (`en`, `en-US`, `en_US`, `fr-FR`...): only the language counts.
    pub fn parse(tag: &str) -> Option<Locale> {
        let language = tag.split(['-', '_']).next().unwrap_or_default();
        LANGUAGES
            .iter()
            .find(|(code, _)| code.eq_ignore_ascii_case(language))
            .map(|&(_, locale)| locale)
    }

    /// The language codes [`Locale::parse`] accepts, for error messages.
    pub fn known() -> impl Iterator<Item = &'static str> {
        LANGUAGES.iter().map(|(code, _)| *code)
    }

    fn names(self) -> &'static Names {
        match self {
            Locale::English => &ENGLISH,
            Locale::French => &FRENCH,
            Locale::German => &GERMAN,
            Locale::Spanish => &SPANISH,
            Locale::Italian => &ITALIAN,
            Locale::Portuguese => &PORTUGUESE,
            Locale::Dutch => &DUTCH,
        }
    }

    /// The table for one text field. Values: month 1-12, ISO weekday 1-7, half-day 0-1, era
    /// 0 (BC) or 1 (AD).
    pub fn table(self, kind: TextKind) -> NameTable {
        let names = self.names();
        let (lists, first): (&[&[&str]], u8) = match kind {
            TextKind::Month => (&names.months, 1),
            TextKind::DayOfWeek => (&names.days, 1),
            TextKind::Halfday => (&names.halfdays, 0),
            TextKind::Era => (&names.eras, 0),
        };
        let spellings = lists.iter().zip(first..).flat_map(|(list, value)| {
            list.iter().flat_map(move |name| {
                let trimmed = name.strip_suffix('.').filter(|t| !t.is_empty());
                std::iter::once(*name)
                    .chain(trimmed)
                    .map(move |n| (n, value))
            })
        });
        NameTable::new(spellings)
    }
}

/// Names compiled for matching: every spelling as written, lower case and upper case, grouped
/// by first byte and longest first, so a match is a scan of a handful of candidates.
#[derive(Clone, Debug)]
pub struct NameTable {
    /// Sorted by first byte, then longest first.
    entries: Box<[(Box<[u8]>, u8)]>,
    /// For each first byte, the range of `entries` starting with it.
    buckets: Box<[(u16, u16); 256]>,
}

impl NameTable {
    fn new<'a>(names: impl IntoIterator<Item = (&'a str, u8)>) -> NameTable {
        let mut entries: Vec<(Box<[u8]>, u8)> = Vec::new();
        for (name, value) in names {
            for spelling in [name.to_string(), name.to_lowercase(), name.to_uppercase()] {
                let bytes: Box<[u8]> = spelling.into_bytes().into();
                if !bytes.is_empty() && !entries.iter().any(|(e, _)| *e == bytes) {
                    entries.push((bytes, value));
                }
            }
        }
        entries.sort_by(|a, b| a.0[0].cmp(&b.0[0]).then(b.0.len().cmp(&a.0.len())));
        let mut buckets = Box::new([(0u16, 0u16); 256]);
        for (i, (bytes, _)) in entries.iter().enumerate() {
            let bucket = &mut buckets[usize::from(bytes[0])];
            if bucket.0 == bucket.1 {
                *bucket = (i as u16, i as u16);
            }
            bucket.1 = i as u16 + 1;
        }
        NameTable {
            entries: entries.into(),
            buckets,
        }
    }

    /// The longest name `text` starts with: its value and length in bytes.
    pub fn matches(&self, text: &[u8]) -> Option<(u8, usize)> {
        let &first = text.first()?;
        let (start, end) = self.buckets[usize::from(first)];
        self.entries[usize::from(start)..usize::from(end)]
            .iter()
            .find(|(name, _)| text.starts_with(name))
            .map(|(name, value)| (*value, name.len()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn locale_tags_are_read_by_language() {
        assert_eq!(Locale::parse("en"), Some(Locale::English));
        assert_eq!(Locale::parse("en-US"), Some(Locale::English));
        assert_eq!(Locale::parse("en_GB"), Some(Locale::English));
        assert_eq!(Locale::parse("FR-fr"), Some(Locale::French));
        assert_eq!(Locale::parse("ja-JP"), None);
        assert_eq!(Locale::parse(""), None);
    }

    #[test]
    fn english_months_match_short_full_lower_and_upper_longest_first() {
        let months = Locale::English.table(TextKind::Month);
        assert_eq!(months.matches(b"Mar 05"), Some((3, 3)));
        assert_eq!(months.matches(b"March 05"), Some((3, 5)));
        assert_eq!(months.matches(b"MARCH"), Some((3, 5)));
        assert_eq!(months.matches(b"may"), Some((5, 3)));
        assert_eq!(months.matches(b"Sept"), Some((9, 3)));
        assert_eq!(months.matches(b"mAR"), None);
        assert_eq!(months.matches(b"Xyz"), None);
        assert_eq!(months.matches(b""), None);
    }

    #[test]
    fn other_languages_read_accented_names() {
        let months = Locale::French.table(TextKind::Month);
        assert_eq!(months.matches("juillet 1789".as_bytes()), Some((7, 7)));
        assert_eq!(months.matches("juil. 1789".as_bytes()), Some((7, 5)));
        assert_eq!(months.matches("juil 1789".as_bytes()), Some((7, 4)));
        assert_eq!(months.matches("DÉCEMBRE".as_bytes()), Some((12, 9)));
        let days = Locale::German.table(TextKind::DayOfWeek);
        assert_eq!(days.matches(b"Sonntag"), Some((7, 7)));
        let halfdays = Locale::English.table(TextKind::Halfday);
        assert_eq!(halfdays.matches(b"pm"), Some((1, 2)));
    }
}
