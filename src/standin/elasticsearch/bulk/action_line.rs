//! One action/metadata line (`{"index":{"_index":"a","_id":"1"}}`), read token by token as
//! Jackson would, so that every complaint has ES's exact wording: a serde visitor that borrows
//! strings from the body and records ES's reason beside serde's error.

use std::borrow::Cow;
use std::fmt;

use serde::de::{self, DeserializeSeed, Deserializer, IgnoredAny, MapAccess, SeqAccess, Visitor};

use super::json_error;
use crate::standin::elasticsearch::responses::{illegal_argument, Reply};
use crate::standin::elasticsearch::EsVersion;

/// The metadata of one action line.
#[derive(Default)]
pub(super) struct Meta<'a> {
    pub(super) index: Option<Cow<'a, str>>,
    pub(super) id: Option<Cow<'a, str>>,
    pub(super) op_type: Option<Cow<'a, str>>,
    pub(super) versioned: bool,
    pub(super) require_alias: Option<bool>,
}

/// Parses `{"<action>":{<metadata>}}` with ES's checks and messages.
pub(super) fn parse_action_line(
    line: &[u8],
    number: usize,
    version: EsVersion,
) -> Result<(Cow<'_, str>, Meta<'_>), Reply> {
    let mut problem = None;
    let mut de = serde_json::Deserializer::from_slice(line);
    let seed = ActionSeed {
        line: number,
        version,
        problem: &mut problem,
    };
    // Trailing data after the object is ignored (ES only logs a deprecation).
    let parsed = seed.deserialize(&mut de);
    if let Some(reason) = problem {
        return Err(illegal_argument(&reason));
    }
    parsed.map_err(|e| json_error(&e, number, version))
}

/// A string borrowed from the input when it has no escapes.
struct Text<'a>(Cow<'a, str>);

impl<'de> de::Deserialize<'de> for Text<'de> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = Text<'de>;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("a string")
            }
            fn visit_borrowed_str<E: de::Error>(self, s: &'de str) -> Result<Text<'de>, E> {
                Ok(Text(Cow::Borrowed(s)))
            }
            fn visit_str<E: de::Error>(self, s: &str) -> Result<Text<'de>, E> {
                Ok(Text(Cow::Owned(s.to_string())))
            }
        }
        d.deserialize_str(V)
    }
}

/// A metadata value as ES's token stream sees it.
enum Token<'a> {
    Text(Cow<'a, str>),
    Bool(bool),
    Null,
    StartArray,
    StartObject,
}

impl Token<'_> {
    fn name(&self) -> &'static str {
        match self {
            Token::Text(_) => "VALUE_STRING",
            Token::Bool(_) => "VALUE_BOOLEAN",
            Token::Null => "VALUE_NULL",
            Token::StartArray => "START_ARRAY",
            Token::StartObject => "START_OBJECT",
        }
    }
}

struct TokenSeed;

impl<'de> DeserializeSeed<'de> for TokenSeed {
    type Value = Token<'de>;
    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<Token<'de>, D::Error> {
        d.deserialize_any(self)
    }
}

impl<'de> Visitor<'de> for TokenSeed {
    type Value = Token<'de>;
    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("a JSON value")
    }
    fn visit_borrowed_str<E>(self, s: &'de str) -> Result<Token<'de>, E> {
        Ok(Token::Text(Cow::Borrowed(s)))
    }
    fn visit_str<E>(self, s: &str) -> Result<Token<'de>, E> {
        Ok(Token::Text(Cow::Owned(s.to_string())))
    }
    // Numbers read as text, as Jackson's `parser.text()` does.
    fn visit_u64<E>(self, n: u64) -> Result<Token<'de>, E> {
        Ok(Token::Text(Cow::Owned(n.to_string())))
    }
    fn visit_i64<E>(self, n: i64) -> Result<Token<'de>, E> {
        Ok(Token::Text(Cow::Owned(n.to_string())))
    }
    fn visit_f64<E>(self, n: f64) -> Result<Token<'de>, E> {
        Ok(Token::Text(Cow::Owned(n.to_string())))
    }
    fn visit_bool<E>(self, b: bool) -> Result<Token<'de>, E> {
        Ok(Token::Bool(b))
    }
    fn visit_unit<E>(self) -> Result<Token<'de>, E> {
        Ok(Token::Null)
    }
    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Token<'de>, A::Error> {
        while seq.next_element::<IgnoredAny>()?.is_some() {}
        Ok(Token::StartArray)
    }
    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Token<'de>, A::Error> {
        while map.next_entry::<IgnoredAny, IgnoredAny>()?.is_some() {}
        Ok(Token::StartObject)
    }
}

/// The whole action line; ES's complaint, if any, goes to `problem`.
struct ActionSeed<'p> {
    line: usize,
    version: EsVersion,
    problem: &'p mut Option<String>,
}

impl ActionSeed<'_> {
    fn fail<T, E: de::Error>(self, reason: String) -> Result<T, E> {
        *self.problem = Some(reason);
        Err(E::custom("rejected"))
    }

    fn expected<T, E: de::Error>(self, expected: &str, found: &str) -> Result<T, E> {
        let reason = format!(
            "Malformed action/metadata line [{}], expected {expected} but found [{found}]",
            self.line
        );
        self.fail(reason)
    }
}

impl<'de> DeserializeSeed<'de> for ActionSeed<'_> {
    type Value = (Cow<'de, str>, Meta<'de>);
    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<Self::Value, D::Error> {
        d.deserialize_any(self)
    }
}

macro_rules! not_an_object {
    ($($method:ident($($arg:ty)?) => $token:literal),*) => {$(
        fn $method<E: de::Error>(self $(, _: $arg)?) -> Result<Self::Value, E> {
            self.expected("START_OBJECT", $token)
        }
    )*};
}

impl<'de> Visitor<'de> for ActionSeed<'_> {
    type Value = (Cow<'de, str>, Meta<'de>);
    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("an action object")
    }
    not_an_object!(visit_str(&str) => "VALUE_STRING", visit_u64(u64) => "VALUE_NUMBER",
        visit_i64(i64) => "VALUE_NUMBER", visit_f64(f64) => "VALUE_NUMBER",
        visit_bool(bool) => "VALUE_BOOLEAN", visit_unit() => "VALUE_NULL");
    fn visit_seq<A: SeqAccess<'de>>(self, _: A) -> Result<Self::Value, A::Error> {
        self.expected("START_OBJECT", "START_ARRAY")
    }
    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
        let Some(Text(action)) = map.next_key::<Text<'de>>()? else {
            return self.expected("FIELD_NAME", "END_OBJECT");
        };
        let meta = match map.next_value_seed(TokenOrMeta {
            line: self.line,
            version: self.version,
            problem: &mut *self.problem,
        })? {
            Ok(meta) => meta,
            Err(token) => {
                return self.expected("START_OBJECT or END_OBJECT", token);
            }
        };
        while map.next_entry::<IgnoredAny, IgnoredAny>()?.is_some() {}
        Ok((action, meta))
    }
}

/// The value of the action key: metadata, or the name of the wrong token found instead.
struct TokenOrMeta<'p> {
    line: usize,
    version: EsVersion,
    problem: &'p mut Option<String>,
}

impl<'de> DeserializeSeed<'de> for TokenOrMeta<'_> {
    type Value = Result<Meta<'de>, &'static str>;
    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<Self::Value, D::Error> {
        d.deserialize_any(self)
    }
}

impl<'de> Visitor<'de> for TokenOrMeta<'_> {
    type Value = Result<Meta<'de>, &'static str>;
    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("action metadata")
    }
    fn visit_str<E>(self, _: &str) -> Result<Self::Value, E> {
        Ok(Err("VALUE_STRING"))
    }
    fn visit_u64<E>(self, _: u64) -> Result<Self::Value, E> {
        Ok(Err("VALUE_NUMBER"))
    }
    fn visit_i64<E>(self, _: i64) -> Result<Self::Value, E> {
        Ok(Err("VALUE_NUMBER"))
    }
    fn visit_f64<E>(self, _: f64) -> Result<Self::Value, E> {
        Ok(Err("VALUE_NUMBER"))
    }
    fn visit_bool<E>(self, _: bool) -> Result<Self::Value, E> {
        Ok(Err("VALUE_BOOLEAN"))
    }
    fn visit_unit<E>(self) -> Result<Self::Value, E> {
        Ok(Err("VALUE_NULL"))
    }
    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Self::Value, A::Error> {
        while seq.next_element::<IgnoredAny>()?.is_some() {}
        Ok(Err("START_ARRAY"))
    }
    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
        let mut meta = Meta::default();
        while let Some(Text(key)) = map.next_key::<Text<'de>>()? {
            let token = map.next_value_seed(TokenSeed)?;
            if let Err(reason) = set_meta(&mut meta, &key, token, self.line, self.version) {
                *self.problem = Some(reason);
                return Err(de::Error::custom("rejected"));
            }
        }
        Ok(Ok(meta))
    }
}

/// Applies one metadata entry, or says why ES would reject the line.
fn set_meta<'a>(
    meta: &mut Meta<'a>,
    key: &str,
    token: Token<'a>,
    line: usize,
    version: EsVersion,
) -> Result<(), String> {
    let simple = match &token {
        Token::Null => return Ok(()),
        Token::StartObject if key == "_source" || key == "dynamic_templates" => return Ok(()),
        Token::StartArray | Token::StartObject => {
            return Err(format!(
                "Malformed action/metadata line [{line}], expected a simple value for field [{key}] but found [{}]",
                token.name()
            ))
        }
        Token::Text(t) => t.clone(),
        Token::Bool(b) => Cow::Borrowed(if *b { "true" } else { "false" }),
    };
    match key {
        "_index" => meta.index = Some(simple),
        "_id" => meta.id = Some(simple),
        "op_type" => meta.op_type = Some(simple),
        "version" | "version_type" => meta.versioned = true,
        "require_alias" => meta.require_alias = Some(simple == "true"),
        "_type" if version.major < 8 => {}
        "routing" | "if_seq_no" | "if_primary_term" | "retry_on_conflict" | "pipeline"
        | "_source" => {}
        "require_data_stream" | "list_executed_pipelines"
            if version >= EsVersion::new(8, 13, 0) => {}
        _ => {
            return Err(format!(
                "Action/metadata line [{line}] contains an unknown parameter [{key}]"
            ))
        }
    }
    Ok(())
}
