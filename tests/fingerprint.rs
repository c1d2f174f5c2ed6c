//! Behaviour of the `fingerprint` filter, built from config text as a pipeline builds it.
//!
//! Expected digests come from tools independent of sluice: SHA/MD5/HMAC from the `openssl`
//! command line, run by the tests themselves; MurmurHash3 values from Python's `mmh3` package
//! (the command is noted beside each) and from logstash-filter-fingerprint's own spec, whose
//! expected values came from Logstash.

mod common;

use common::{filter_build_error as build_error, get, graph, json, tags};

use std::io::Write;
use std::process::{Command, Stdio};

use sluice::event::{Event, FieldPath, Timestamp, Value};

fn event(fields: &str) -> Event {
    match json(fields) {
        Value::Map(map) => Event::from_fields(map, Timestamp::from_secs(0)),
        other => panic!("not an object: {other:?}"),
    }
}

/// Runs one event through `filters`; it must survive.
fn run(filters: &str, fields: &str) -> Event {
    let mut batch = vec![event(fields)];
    graph(filters).process(&mut batch);
    assert_eq!(batch.len(), 1, "the event was dropped");
    batch.pop().unwrap()
}

fn get_str<'e>(e: &'e Event, path: &str) -> &'e str {
    match get(e, path) {
        Some(Value::Str(s)) => s,
        other => panic!("{path} is {other:?}, not a string"),
    }
}

/// `printf %s DATA | openssl dgst -ALG [-hmac KEY] [-binary | base64]`: the digest as the
/// openssl command line computes it.
fn openssl(alg: &str, key: Option<&str>, data: &str, base64: bool) -> String {
    let mut script = format!("openssl dgst -{alg}");
    if let Some(key) = key {
        script.push_str(&format!(" -hmac '{key}'"));
    }
    if base64 {
        script.push_str(" -binary | base64 -w0");
    } else {
        script.push_str(" -r | cut -d' ' -f1");
    }
    let mut child = Command::new("sh")
        .args(["-c", &script])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .expect("sh runs");
    child
        .stdin
        .take()
        .unwrap()
        .write_all(data.as_bytes())
        .unwrap();
    let out = child.wait_with_output().expect("openssl runs");
    assert!(out.status.success(), "openssl failed for {alg}");
    String::from_utf8(out.stdout).unwrap().trim().to_string()
}

const METHODS: [(&str, &str); 5] = [
    ("SHA1", "sha1"),
    ("SHA256", "sha256"),
    ("SHA384", "sha384"),
    ("SHA512", "sha512"),
    ("MD5", "md5"),
];

// ---- cryptographic digests --------------------------------------------------------------

#[test]
fn every_digest_method_matches_openssl_in_hex_and_base64() {
    let data = "123.123.123.123";
    for (method, alg) in METHODS {
        for base64 in [false, true] {
            let e = run(
                &format!(
                    "fingerprint {{ source => [\"clientip\"] method => \"{method}\" base64encode => {base64} ecs_compatibility => disabled }}"
                ),
                &format!(r#"{{"clientip": "{data}"}}"#),
            );
            assert_eq!(
                get_str(&e, "fingerprint"),
                openssl(alg, None, data, base64),
                "{method} base64={base64}"
            );
        }
    }
}

#[test]
fn a_key_makes_every_digest_an_hmac() {
    let data = "123.123.123.123";
    for (method, alg) in METHODS {
        for base64 in [false, true] {
            let e = run(
                &format!(
                    "fingerprint {{ source => \"clientip\" method => \"{method}\" key => \"longencryptionkey\" base64encode => {base64} ecs_compatibility => disabled }}"
                ),
                &format!(r#"{{"clientip": "{data}"}}"#),
            );
            assert_eq!(
                get_str(&e, "fingerprint"),
                openssl(alg, Some("longencryptionkey"), data, base64),
                "{method} base64={base64}"
            );
        }
    }
}

#[test]
fn logstash_spec_vectors_for_sha1() {
    // From logstash-filter-fingerprint's spec.
    let e = run(
        r#"fingerprint { source => "clientip" ecs_compatibility => disabled }"#,
        r#"{"clientip": "123.123.123.123"}"#,
    );
    assert_eq!(
        get_str(&e, "fingerprint"),
        "3a5076c520b4b463f43806896ea0b3978d09dcae"
    );
    let e = run(
        r#"fingerprint { source => "clientip" key => "longencryptionkey" base64encode => true ecs_compatibility => disabled }"#,
        r#"{"clientip": "123.123.123.123"}"#,
    );
    assert_eq!(get_str(&e, "fingerprint"), "/cYKzEdz3FrFaf+3j8uTyWMHl/Q=");
}

#[test]
fn the_default_source_is_message_and_non_strings_hash_as_ruby_prints_them() {
    let e = run(
        r#"fingerprint { ecs_compatibility => disabled }"#,
        r#"{"message": "hello world"}"#,
    );
    assert_eq!(
        get_str(&e, "fingerprint"),
        openssl("sha1", None, "hello world", false)
    );
    for (value, text) in [
        ("123", "123"),
        ("1.5", "1.5"),
        ("3.0", "3.0"),
        ("true", "true"),
        ("null", ""),
    ] {
        let e = run(
            r#"fingerprint { source => "n" method => "SHA256" ecs_compatibility => disabled }"#,
            &format!(r#"{{"n": {value}}}"#),
        );
        assert_eq!(
            get_str(&e, "fingerprint"),
            openssl("sha256", None, text, false),
            "value {value}"
        );
    }
}

#[test]
fn timestamps_hash_as_iso8601_with_at_least_milliseconds() {
    // Logstash 8 prints whole seconds with three decimals, more digits only when present.
    for (stamp, text) in [
        ("1970-01-01T00:00:00Z", "1970-01-01T00:00:00.000Z"),
        ("2000-01-01T05:00:00.12Z", "2000-01-01T05:00:00.120Z"),
        ("2000-01-01T05:00:00.123456Z", "2000-01-01T05:00:00.123456Z"),
    ] {
        let e = run(
            r#"fingerprint { source => "@timestamp" key => "0123" ecs_compatibility => disabled }"#,
            &format!(r#"{{"@timestamp": "{stamp}"}}"#),
        );
        assert_eq!(
            get_str(&e, "fingerprint"),
            openssl("sha1", Some("0123"), text, false),
            "{stamp}"
        );
    }
    // Logstash's spec: HMAC-SHA1 of the epoch with key "0123".
    let e = run(
        r#"fingerprint { source => "@timestamp" key => "0123" ecs_compatibility => disabled }"#,
        r#"{"@timestamp": "1970-01-01T00:00:00Z"}"#,
    );
    assert_eq!(
        get_str(&e, "fingerprint"),
        "1d5379ec92d86a67cfc642d55aa050ca312d3b9a"
    );
}

// ---- targets and ECS ----------------------------------------------------------------------

#[test]
fn the_default_target_follows_ecs_compatibility() {
    let data = r#"{"message": "x"}"#;
    let legacy = run(r#"fingerprint { ecs_compatibility => disabled }"#, data);
    assert!(get(&legacy, "fingerprint").is_some());
    assert!(get(&legacy, "[event][hash]").is_none());
    for mode in ["v1", "v8"] {
        let ecs = run(
            &format!("fingerprint {{ ecs_compatibility => {mode} }}"),
            data,
        );
        assert_eq!(
            get_str(&ecs, "[event][hash]"),
            openssl("sha1", None, "x", false)
        );
        assert!(get(&ecs, "fingerprint").is_none());
    }
    // The pipeline's default (v8) applies when the option is absent.
    let default = run(r#"fingerprint { }"#, data);
    assert!(get(&default, "[event][hash]").is_some());
    let custom = run(r#"fingerprint { target => "[@metadata][id]" }"#, data);
    assert!(get(&custom, "[@metadata][id]").is_some());
    assert!(get(&custom, "[event][hash]").is_none());
}

// ---- several sources ----------------------------------------------------------------------

#[test]
fn each_source_overwrites_the_target_and_arrays_give_arrays() {
    let e = run(
        r#"fingerprint { source => ["field1", "field2", "missing"] ecs_compatibility => disabled }"#,
        r#"{"field1": "test1", "field2": "test2"}"#,
    );
    assert_eq!(
        get_str(&e, "fingerprint"),
        "109f4b3c50d7b0df729d299bc6f8e9ef9066971f" // SHA1 of "test2", from Logstash's spec
    );
    let e = run(
        r#"fingerprint { source => "clientip" ecs_compatibility => disabled }"#,
        r#"{"clientip": ["123.123.123.123", "223.223.223.223"]}"#,
    );
    let want = Value::Array(vec![
        Value::from(openssl("sha1", None, "123.123.123.123", false)),
        Value::from(openssl("sha1", None, "223.223.223.223", false)),
    ]);
    assert_eq!(get(&e, "fingerprint"), Some(&want));
}

#[test]
fn hashes_and_arrays_hash_in_canonical_form_whatever_their_key_order() {
    let a = run(
        r#"fingerprint { source => "a" ecs_compatibility => disabled }"#,
        r#"{"a": {"a1": 1, "a0": [0, "x", {"z": null, "y": 2.5}]}}"#,
    );
    let b = run(
        r#"fingerprint { source => "a" ecs_compatibility => disabled }"#,
        r#"{"a": {"a0": [0, "x", {"y": 2.5, "z": null}], "a1": 1}}"#,
    );
    let want = openssl("sha1", None, "a0|0|x|y|2.5|z||a1|1", false);
    assert_eq!(get_str(&a, "fingerprint"), want);
    assert_eq!(get_str(&b, "fingerprint"), want);
}

#[test]
fn concatenate_sources_hashes_sorted_name_value_pairs() {
    let e = run(
        r#"fingerprint { source => ["field2", "field1", "gone"] concatenate_sources => true ecs_compatibility => disabled }"#,
        r#"{"field1": "test1", "field2": "test2"}"#,
    );
    assert_eq!(
        get_str(&e, "fingerprint"),
        openssl("sha1", None, "|field1|test1|field2|test2|gone||", false)
    );
    // Logstash's spec: SHA1 of "|field1|test1|field2|test2|".
    let e = run(
        r#"fingerprint { source => ["field1", "field2"] concatenate_sources => true ecs_compatibility => disabled }"#,
        r#"{"field1": "test1", "field2": "test2"}"#,
    );
    assert_eq!(
        get_str(&e, "fingerprint"),
        "e3b6b71eedc656f1d29408264e8a75535db985cb"
    );
}

#[test]
fn concatenate_sources_with_nested_values_and_multibyte_text() {
    // Logstash's spec: SHA1 of "|field1|inner_key|🂡|1|2|field2|🂡|".
    let e = run(
        r#"fingerprint { source => ["field1", "field2"] concatenate_sources => true ecs_compatibility => disabled }"#,
        r#"{"field1": [{"inner_key": "🂡"}, {"1": "2"}], "field2": "🂡"}"#,
    );
    assert_eq!(
        get_str(&e, "fingerprint"),
        "d2a1c14e0c9ef137d67114db23b3f2fdbcc90d08"
    );
}

#[test]
fn concatenate_all_fields_hashes_every_field_but_metadata() {
    let fields = r#"{"@timestamp": "2017-07-26T14:44:27.064Z", "clientip": "123.123.123.123",
        "message": "This is a test message", "log_level": "INFO", "offset": 123456789,
        "type": "test"}"#;
    let mut batch = vec![event(fields)];
    batch[0].insert(
        &FieldPath::parse("[@metadata][ignored]").unwrap(),
        Value::from("x"),
    );
    graph(r#"fingerprint { concatenate_all_fields => true ecs_compatibility => disabled }"#)
        .process(&mut batch);
    // Logstash's spec value for this event.
    assert_eq!(
        get_str(&batch[0], "fingerprint"),
        "cbf022518e97860403160ed8a41847c0db104e63"
    );
}

// ---- MurmurHash3 ----------------------------------------------------------------------------

#[test]
fn murmur3_gives_an_integer_and_hashes_integers_as_64_bits() {
    let cases = [
        // Logstash's spec values.
        (r#""123.123.123.123""#, 4013733395i64),
        ("123", 823512154),
        // python3 -c "import mmh3,struct; print(mmh3.hash(struct.pack('<q',-5),0,signed=False))"
        ("-5", 1222806974),
    ];
    for (value, want) in cases {
        let e = run(
            r#"fingerprint { source => "v" method => "MURMUR3" ecs_compatibility => disabled }"#,
            &format!(r#"{{"v": {value}}}"#),
        );
        assert_eq!(get(&e, "fingerprint"), Some(&Value::Int(want)), "{value}");
    }
    // python3 -c "import mmh3; print(mmh3.hash(b'|a|x|b|1.5|',0,signed=False))"
    let e = run(
        r#"fingerprint { source => ["b", "a"] concatenate_sources => true method => "MURMUR3" ecs_compatibility => disabled }"#,
        r#"{"a": "x", "b": 1.5}"#,
    );
    assert_eq!(get(&e, "fingerprint"), Some(&Value::Int(1599601990)));
    // Logstash's spec: timestamps hash as their text.
    let e = run(
        r#"fingerprint { source => "@timestamp" method => "MURMUR3" ecs_compatibility => disabled }"#,
        r#"{"@timestamp": "2000-01-01T05:00:00.123456789Z"}"#,
    );
    assert_eq!(get(&e, "fingerprint"), Some(&Value::Int(3520111535)));
}

#[test]
fn murmur3_128_hashes_with_seed_2_in_hex_or_base64() {
    // Logstash's spec values: a string, an int32 and an int64.
    let cases = [
        (
            r#""123.123.123.123""#,
            "41cbc4056eed401d091dfbeabf7ea9e0",
            "QcvEBW7tQB0JHfvqv36p4A==",
        ),
        (
            "123",
            "286816c693ac410ed63e1430dcd6f6fe",
            "KGgWxpOsQQ7WPhQw3Nb2/g==",
        ),
        (
            "2148483647",
            "fdc7699a82556c8c584131f0133ee989",
            "/cdpmoJVbIxYQTHwEz7piQ==",
        ),
        // -5 fits 32 bits, so it is hashed as 4 bytes:
        // python3 -c "import mmh3,struct,base64; b=mmh3.hash_bytes(struct.pack('<i',-5),2); print(b.hex(), base64.b64encode(b).decode())"
        (
            "-5",
            "427227eb8529ecc9de7f4df02cd2f3d9",
            "QnIn64Up7Mnef03wLNLz2Q==",
        ),
        (
            r#""hello""#,
            // python3 -c "import mmh3; print(mmh3.hash_bytes(b'hello',2).hex())"
            "648a66fb923498d0ddfbffbb29aa9d64",
            // python3 -c "import mmh3,base64; print(base64.b64encode(mmh3.hash_bytes(b'hello',2)).decode())"
            "ZIpm+5I0mNDd+/+7KaqdZA==",
        ),
    ];
    for (value, hex, b64) in cases {
        for (base64, want) in [(false, hex), (true, b64)] {
            let e = run(
                &format!("fingerprint {{ source => \"v\" method => \"MURMUR3_128\" base64encode => {base64} ecs_compatibility => disabled }}"),
                &format!(r#"{{"v": {value}}}"#),
            );
            assert_eq!(get_str(&e, "fingerprint"), want, "{value} base64={base64}");
        }
    }
    // Logstash's spec: the epoch timestamp.
    let e = run(
        r#"fingerprint { source => "@timestamp" method => "MURMUR3_128" ecs_compatibility => disabled }"#,
        r#"{"@timestamp": "1970-01-01T00:00:00Z"}"#,
    );
    assert_eq!(
        get_str(&e, "fingerprint"),
        "37785b62a8cae473acc315d39b66d86e"
    );
}

// ---- IPV4_NETWORK, PUNCTUATION, UUID --------------------------------------------------------

#[test]
fn ipv4_network_masks_the_address() {
    for (ip, key, want) in [
        ("123.123.123.123", "24", "123.123.123.0"),
        ("1.2.3.4", "16", "1.2.0.0"),
        ("1.2.3.4", "0", "0.0.0.0"),
        ("1.2.3.4", "32", "1.2.3.4"),
        ("10.1.2.3/8", "16", "10.0.0.0"),
        ("2001:db8:abcd:12::1", "48", "2001:db8:abcd::"),
    ] {
        let e = run(
            &format!("fingerprint {{ source => \"ip\" method => \"IPV4_NETWORK\" key => \"{key}\" ecs_compatibility => disabled }}"),
            &format!(r#"{{"ip": "{ip}"}}"#),
        );
        assert_eq!(get_str(&e, "fingerprint"), want, "{ip}/{key}");
    }
}

#[test]
fn ipv4_network_leaves_bad_addresses_alone_and_skips_the_common_options() {
    for ip in ["not an ip", "1.2.3", "::1/x"] {
        let e = run(
            r#"fingerprint { source => "ip" method => "IPV4_NETWORK" key => "24" add_tag => ["done"] ecs_compatibility => disabled }"#,
            &format!(r#"{{"ip": "{ip}"}}"#),
        );
        assert!(get(&e, "fingerprint").is_none(), "{ip}");
        assert_eq!(get_str(&e, "ip"), ip);
        assert!(tags(&e).is_empty());
    }
    let e = run(
        r#"fingerprint { source => "ip" method => "IPV4_NETWORK" key => "64" ecs_compatibility => disabled }"#,
        r#"{"ip": "1.2.3.4"}"#,
    );
    assert!(get(&e, "fingerprint").is_none());
}

#[test]
fn ipv4_network_needs_a_prefix_length_key() {
    let e = build_error(r#"fingerprint { method => "IPV4_NETWORK" }"#);
    assert!(e.contains("needs `key`"), "{e}");
    let e = build_error(r#"fingerprint { method => "IPV4_NETWORK" key => "abc" }"#);
    assert!(e.contains("prefix length"), "{e}");
}

#[test]
fn punctuation_keeps_only_punctuation_and_symbols() {
    // Logstash's spec case.
    let e = run(
        r#"fingerprint { source => "field1" method => "PUNCTUATION" ecs_compatibility => disabled }"#,
        r#"{"field1": "PHP Warning:  json_encode() [<a href='function.json-encode'>function.json-encode</a>]: Invalid UTF-8 sequence in argument in /var/www/htdocs/test.php on line 233"}"#,
    );
    assert_eq!(get_str(&e, "fingerprint"), ":_()[<='.-'>.-</>]:-////.");
    let e = run(
        r#"fingerprint { source => "f" method => "PUNCTUATION" ecs_compatibility => disabled }"#,
        r#"{"f": "¡Hola, señor! «€5» → ok"}"#,
    );
    assert_eq!(get_str(&e, "fingerprint"), "¡,!«€»→");
}

#[test]
fn punctuation_of_a_non_string_leaves_the_event_alone() {
    let e = run(
        r#"fingerprint { source => "n" method => "PUNCTUATION" add_tag => ["done"] ecs_compatibility => disabled }"#,
        r#"{"n": 12}"#,
    );
    assert!(get(&e, "fingerprint").is_none());
    assert!(tags(&e).is_empty());
}

#[test]
fn uuid_is_a_fresh_random_v4_uuid() {
    let a = run(
        r#"fingerprint { method => "UUID" ecs_compatibility => disabled }"#,
        "{}",
    );
    let b = run(
        r#"fingerprint { method => "UUID" ecs_compatibility => disabled }"#,
        "{}",
    );
    let (a, b) = (get_str(&a, "fingerprint"), get_str(&b, "fingerprint"));
    assert_ne!(a, b);
    for id in [a, b] {
        assert_eq!(id.len(), 36, "{id}");
        assert_eq!(&id[14..15], "4", "{id}");
        assert!(id
            .chars()
            .all(|c| c == '-' || c.is_ascii_digit() || ('a'..='f').contains(&c)));
    }
}

// ---- common options and errors ------------------------------------------------------------

#[test]
fn common_options_apply_after_fingerprinting_even_without_sources() {
    let e = run(
        r#"fingerprint { source => "field1" method => "PUNCTUATION" add_field => { "myfield" => "myvalue" } add_tag => ["mytag"] ecs_compatibility => disabled }"#,
        r#"{"field1": "Hello, World!"}"#,
    );
    assert_eq!(get_str(&e, "fingerprint"), ",!");
    assert_eq!(get_str(&e, "myfield"), "myvalue");
    assert_eq!(tags(&e), ["mytag"]);
    let e = run(
        r#"fingerprint { source => "absent" add_tag => ["mytag"] }"#,
        r#"{}"#,
    );
    assert_eq!(tags(&e), ["mytag"]);
}

#[test]
fn config_errors_point_at_the_option() {
    let e = build_error(r#"fingerprint { method => "SHA3" }"#);
    assert!(e.contains("SHA3"), "{e}");
    let e = build_error(r#"fingerprint { methd => "SHA1" }"#);
    assert!(e.contains("did you mean \"method\""), "{e}");
    let e = build_error(r#"fingerprint { target => "[a" }"#);
    assert!(e.contains("target"), "{e}");
}
