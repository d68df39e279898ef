//! The fast YAML serializer (`src/emit/yaml.rs`) against an independent
//! YAML parser and against serde_yaml, the writer it replaces: for
//! arbitrary documents and strings, what it writes reads back as exactly the
//! value serialized, and is byte for byte what serde_yaml (plus the YAML 1.1
//! quoting pass) writes, so the build's output did not change with it.

use envk::emit::{slow_yaml, yaml};
use proptest::prelude::*;
use serde_yaml::{Mapping, Value};

/// Strings that YAML readers like to misread, and pieces of YAML syntax.
const TRICKY: &[&str] = &[
    "",
    " ",
    "yes",
    "No",
    "on",
    "OFF",
    "y",
    "n",
    "true",
    "False",
    "null",
    "~",
    "Null",
    "1_000",
    "12:30",
    "0x1F",
    "0o17",
    "0b101",
    "-0x1",
    "+1",
    "-1",
    "0123",
    "1e3",
    "1.",
    ".5",
    "-.5",
    ".inf",
    "-.Inf",
    ".nan",
    "2024-01-01",
    "<<",
    "=",
    "-",
    "- a",
    "? x",
    ":",
    "a: b",
    "a:b",
    "#x",
    "a #b",
    "a#b",
    "'q'",
    "\"d\"",
    "it's",
    "---",
    "...",
    "--- x",
    "|",
    ">",
    "%",
    "@",
    "`",
    "!",
    "&a",
    "\u{2000}",
    "\u{2000}x",
    "-x",
    "?x",
    "a - b",
    "100%",
    "%x",
    "50 %",
    "*a",
    "[a]",
    "{a}",
    "a, b",
    "x\n",
    "x\ny",
    "\nx",
    " x",
    "x ",
    "a \nb",
    "a\n b",
    "x\n\n",
    "\n",
    "\t",
    "tab\there",
    "caf\u{e9}",
    "\u{1F600}",
    "\u{85}",
    "\u{2028}",
    "\r",
    "a\r\nb",
    "\u{FEFF}",
    "\u{7}",
    "\\",
    "{{ $labels.pod }}",
    "${1}:9100",
    "(.*):10250",
    "https://x.example.com",
    "team-1-dev",
    "10Gi",
    "500m",
    "'",
    "''",
    "\"",
];

fn tricky_string() -> impl Strategy<Value = String> {
    prop_oneof![
        3 => prop::sample::select(TRICKY).prop_map(str::to_string),
        2 => "[ -~]{0,12}",
        2 => "[a-z0-9 :#'\"\\-\n]{0,12}",
        1 => any::<String>(),
        1 => (prop::sample::select(TRICKY), prop::sample::select(TRICKY))
            .prop_map(|(a, b)| format!("{a}{b}")),
    ]
}

fn scalar() -> impl Strategy<Value = Value> {
    prop_oneof![
        6 => tricky_string().prop_map(Value::String),
        1 => any::<bool>().prop_map(Value::Bool),
        1 => any::<i64>().prop_map(|n| Value::Number(n.into())),
        1 => any::<u64>().prop_map(|n| Value::Number(n.into())),
        1 => Just(Value::Null),
    ]
}

fn document() -> impl Strategy<Value = Value> {
    scalar().prop_recursive(4, 48, 6, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..5).prop_map(Value::Sequence),
            prop::collection::vec((tricky_string(), inner), 0..5).prop_map(|entries| {
                let mut mapping = Mapping::new();
                for (key, value) in entries {
                    mapping.insert(Value::String(key), value);
                }
                Value::Mapping(mapping)
            }),
        ]
    })
}

fn fast(value: &Value) -> Option<String> {
    let mut out = String::new();
    yaml::to_string_into(value, &mut out).ok().map(|()| out)
}

/// Whether the fast serializer must take `value` itself rather than hand it
/// to serde_yaml: everything but single-quoted text with line breaks other
/// than `\n`, and keys that libyaml writes as complex keys (`? key`): long
/// ones and ones with line breaks.
fn must_be_fast(value: &Value) -> bool {
    let plain_breaks = |s: &str| !s.contains(['\r', '\u{85}', '\u{2028}', '\u{2029}']);
    match value {
        Value::String(s) => plain_breaks(s),
        Value::Sequence(items) => items.iter().all(must_be_fast),
        Value::Mapping(mapping) => mapping.iter().all(|(k, v)| {
            k.as_str().is_some_and(|k| {
                !k.contains(['\r', '\n', '\u{85}', '\u{2028}', '\u{2029}'])
                    && k.chars().count() <= 128
            }) && must_be_fast(v)
        }),
        _ => true,
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(
        std::env::var("PROPTEST_CASES").ok().and_then(|n| n.parse().ok()).unwrap_or(512)
    ))]

    #[test]
    fn an_independent_parser_reads_back_the_value(value in document()) {
        if let Some(text) = fast(&value) {
            let back: Value = serde_yaml::from_str(&text)
                .map_err(|e| TestCaseError::fail(format!("{e}\n{text}")))?;
            prop_assert_eq!(back, value, "{}", text);
        }
    }

    #[test]
    fn the_bytes_are_serde_yaml_s(value in document()) {
        match fast(&value) {
            Some(text) => prop_assert_eq!(text, slow_yaml(&value)),
            None => prop_assert!(!must_be_fast(&value), "fell back on {:?}", value),
        }
    }

    /// A block mapping or sequence written as a document and put under a
    /// key is what serializing it as that key's value writes: how a
    /// PrometheusRule's spec reuses its rule file's text, and objects share
    /// their specs' text.
    #[test]
    fn a_collection_put_under_a_key_is_the_key_s_value_serialized(value in document()) {
        let block = match &value {
            Value::Mapping(mapping) => !mapping.is_empty(),
            Value::Sequence(items) => !items.is_empty(),
            _ => false,
        };
        let mut field = Mapping::new();
        field.insert(Value::String("spec".into()), value.clone());
        let field = Value::Mapping(field);
        if let (true, Some(alone), Some(whole)) = (block, fast(&value), fast(&field)) {
            let mut moved = String::new();
            yaml::block_field_into(&mut moved, "spec", &alone);
            prop_assert_eq!(moved, whole);
        }
    }

    #[test]
    fn every_string_reads_back_alone_and_as_a_key(text in tricky_string()) {
        let mut mapping = Mapping::new();
        mapping.insert(Value::String(text.clone()), Value::String(text.clone()));
        for value in [Value::String(text.clone()), Value::Mapping(mapping)] {
            let written = fast(&value);
            if must_be_fast(&value) {
                prop_assert!(written.is_some(), "fell back on {:?}", text);
            }
            if let Some(written) = written {
                prop_assert_eq!(&written, &slow_yaml(&value));
                let back: Value = serde_yaml::from_str(&written)
                    .map_err(|e| TestCaseError::fail(format!("{e}\n{written}")))?;
                prop_assert_eq!(back, value);
            }
        }
    }
}

#[test]
fn every_tricky_string_is_written_as_serde_yaml_writes_it() {
    for text in TRICKY {
        let value = Value::String(text.to_string());
        let mut nested = Mapping::new();
        nested.insert(
            Value::String("k".into()),
            Value::Sequence(vec![value.clone(), Value::Mapping(Mapping::new())]),
        );
        for value in [value, Value::Mapping(nested)] {
            if let Some(written) = fast(&value) {
                assert_eq!(written, slow_yaml(&value), "{text:?}");
            } else {
                assert!(!must_be_fast(&value), "fell back on {text:?}");
            }
        }
    }
}

/// Every string of up to five characters over the ones that make `:` and
/// `#` indicators or not, alone and as a key: URLs and `a#b` are plain,
/// `a: b`, `a #b` and `a:` are not.
#[test]
fn colons_and_hashes_are_written_as_serde_yaml_writes_them() {
    let alphabet = ['a', ':', '#', ' ', '/', '-', '1'];
    let mut texts = vec![String::new()];
    for _ in 0..5 {
        let longer: Vec<String> = texts
            .iter()
            .flat_map(|text| alphabet.iter().map(move |c| format!("{text}{c}")))
            .collect();
        texts.extend(longer);
    }
    for text in &texts {
        let mut keyed = Mapping::new();
        keyed.insert(Value::String(text.clone()), Value::String(text.clone()));
        for value in [Value::String(text.clone()), Value::Mapping(keyed)] {
            if let Some(written) = fast(&value) {
                assert_eq!(written, slow_yaml(&value), "{text:?}");
            } else {
                assert!(!must_be_fast(&value), "fell back on {text:?}");
            }
        }
    }
}

#[test]
fn block_scalars_under_quoted_keys_in_sequences_end_where_the_mapping_goes_on() {
    let mut item = Mapping::new();
    item.insert(Value::String(String::new()), Value::String("\n".into()));
    item.insert(
        Value::String("A".into()),
        Value::String("2024-01-01".into()),
    );
    let value = Value::Sequence(vec![Value::Mapping(item)]);
    let expected = "- '': |2+\n\n  A: '2024-01-01'\n";
    assert_eq!(fast(&value).as_deref(), Some(expected));
    assert_eq!(slow_yaml(&value), expected);
}

#[test]
fn keys_starting_with_unicode_spaces_keep_their_block_scalars_intact() {
    let mut mapping = Mapping::new();
    mapping.insert(
        Value::String("\u{2000}".into()),
        Value::String("x\ny".into()),
    );
    let value = Value::Mapping(mapping);
    let expected = "\u{2000}: |-\n  x\n  y\n";
    assert_eq!(fast(&value).as_deref(), Some(expected));
    assert_eq!(slow_yaml(&value), expected);
}
