//! Quoting for YAML 1.1 readers.
//!
//! serde_yaml writes YAML 1.2, where `yes`, `on`, `1_000`, `12:30` and
//! `2024-01-01` are plain strings and need no quotes. The readers of
//! envk's output (kubectl and Argo CD through go-yaml v2, Prometheus,
//! PyYAML) follow YAML 1.1, where they are a boolean, numbers and a date: a
//! label `flag: yes` would reach the cluster as `true`, or be rejected. Such
//! scalars can only be strings here (serde_yaml writes real booleans as
//! `true`/`false` and numbers in YAML 1.2 form), so quoting them changes
//! nothing for a YAML 1.2 reader and makes 1.1 readers agree.

use std::sync::LazyLock;

use regex::Regex;

/// Plain scalars that YAML 1.1 resolves to something other than a string
/// (go-yaml v2's and PyYAML's resolvers together).
static YAML_1_1_TYPED: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(concat!(
        "^(?:",
        "y|Y|yes|Yes|YES|n|N|no|No|NO|true|True|TRUE|false|False|FALSE|on|On|ON|off|Off|OFF",
        "|~|null|Null|NULL|<<|=",
        "|[-+]?0b[0-1_]+|[-+]?0[0-7_]+|[-+]?(?:0|[1-9][0-9_]*)|[-+]?0x[0-9a-fA-F_]+",
        "|[-+]?[1-9][0-9_]*(?::[0-5]?[0-9])+",
        r"|[-+]?[0-9][0-9_]*\.[0-9_]*(?:[eE][-+]?[0-9]+)?|[-+]?\.[0-9][0-9_]*(?:[eE][-+]?[0-9]+)?",
        r"|[-+]?[0-9][0-9_]*(?::[0-5]?[0-9])+\.[0-9_]*|[-+]?\.(?:inf|Inf|INF)|\.(?:nan|NaN|NAN)",
        "|[0-9]{4}-[0-9]{1,2}-[0-9]{1,2}(?:(?:[Tt]|[ \t]+)[0-9]{1,2}:[0-9]{2}:[0-9]{2}.*)?",
        ")$"
    ))
    .expect("a valid pattern")
});

/// Plain scalars that YAML 1.2's core schema (serde_yaml) types: these
/// serde_yaml writes unquoted only for real booleans, nulls and numbers.
static YAML_1_2_TYPED: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(concat!(
        "^(?:true|True|TRUE|false|False|FALSE|~|null|Null|NULL",
        "|[-+]?[0-9]+|0o[0-7]+|0x[0-9a-fA-F]+",
        r"|[-+]?(?:\.[0-9]+|[0-9]+(?:\.[0-9]*)?)(?:[eE][-+]?[0-9]+)?",
        r"|[-+]?\.(?:inf|Inf|INF)|\.(?:nan|NaN|NAN)",
        ")$"
    ))
    .expect("a valid pattern")
});

pub(super) fn ambiguous(scalar: &str) -> bool {
    !scalar.is_empty()
        && !scalar.starts_with(['\'', '"', '|', '>', '{', '[', '&', '*', '!'])
        && YAML_1_1_TYPED.is_match(scalar)
        && !YAML_1_2_TYPED.is_match(scalar)
}

/// Single-quotes every plain scalar of `text` (YAML as serde_yaml writes
/// it: block style, one scalar per key or list item) that a YAML 1.1
/// reader would not read as a string.
pub(super) fn quote_for_yaml_1_1(text: String) -> String {
    let mut out = String::with_capacity(text.len() + 16);
    let mut changed = false;
    // Inside a `|` or `>` block scalar, lines are text, not YAML.
    let mut block_indent: Option<usize> = None;
    for line in text.split_inclusive('\n') {
        let content = line.trim_end_matches('\n');
        // YAML indents with spaces only: a key may start with another
        // whitespace character, such as U+2000.
        let indent = content.len() - content.trim_start_matches(' ').len();
        match block_indent {
            Some(block) if indent > block || content.trim().is_empty() => {
                out.push_str(line);
                continue;
            }
            _ => block_indent = None,
        }
        let mut rest = content.trim_start_matches(' ');
        // The column of the node's indicator: its last dash, else the line's
        // indent. A block scalar's lines are indented further.
        let mut node_column = indent;
        while let Some(item) = rest.strip_prefix("- ") {
            node_column = content.len() - rest.len();
            rest = item.trim_start_matches(' ');
        }
        let quoted_key = rest.starts_with(['\'', '"']);
        let (key, value) = if quoted_key {
            // A quoted key (or scalar): its value, if any, follows.
            (None, quoted_value(rest))
        } else {
            match rest.split_once(": ") {
                Some((key, value)) => (Some(key), Some(value)),
                None => match rest.strip_suffix(':') {
                    Some(key) => (Some(key), None),
                    None => (None, Some(rest)),
                },
            }
        };
        if value.is_some_and(|v| v.starts_with(['|', '>'])) {
            block_indent = Some(if key.is_some() || quoted_key {
                content.len() - rest.len()
            } else {
                node_column
            });
        }
        let mut replaced = content.to_string();
        // Right to left, so earlier offsets stay valid.
        for scalar in [value, key].into_iter().flatten() {
            if ambiguous(scalar) {
                let at = scalar.as_ptr() as usize - content.as_ptr() as usize;
                replaced.replace_range(at..at + scalar.len(), &format!("'{scalar}'"));
                changed = true;
            }
        }
        out.push_str(&replaced);
        if line.ends_with('\n') {
            out.push('\n');
        }
    }
    if changed { out } else { text }
}

/// The value after a quoted key: `'a b': value` → `value`.
fn quoted_value(text: &str) -> Option<&str> {
    let quote = text.chars().next()?;
    let mut chars = text.char_indices().skip(1).peekable();
    while let Some((i, c)) = chars.next() {
        if quote == '"' && c == '\\' {
            chars.next();
        } else if c == quote {
            if quote == '\'' && chars.peek().is_some_and(|&(_, next)| next == '\'') {
                chars.next();
            } else {
                return text[i + 1..].strip_prefix(": ");
            }
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::BTreeMap;

    #[test]
    fn strings_yaml_1_1_would_misread_are_quoted() {
        let map: BTreeMap<&str, &str> = [
            ("flag", "yes"),
            ("n", "no"),
            ("on", "off"),
            ("size", "1_000"),
            ("time", "12:30"),
            ("day", "2024-01-01"),
            ("plain", "web"),
            ("number", "443"),
            ("bool", "true"),
        ]
        .into_iter()
        .collect();
        let text = quote_for_yaml_1_1(serde_yaml::to_string(&map).unwrap());
        for quoted in [
            "flag: 'yes'",
            "'n': 'no'",
            "'on': 'off'",
            "size: '1_000'",
            "time: '12:30'",
            "day: '2024-01-01'",
        ] {
            assert!(text.contains(quoted), "{quoted} in:\n{text}");
        }
        assert!(text.contains("plain: web"));
        assert!(
            text.contains("number: '443'"),
            "serde_yaml's own quoting is kept"
        );
        // Same meaning for a YAML 1.2 reader.
        let back: BTreeMap<String, String> = serde_yaml::from_str(&text).unwrap();
        let expected: BTreeMap<String, String> = map
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        assert_eq!(back, expected);
    }

    #[test]
    fn typed_values_and_block_scalars_are_left_alone() {
        #[derive(serde::Serialize)]
        struct Doc {
            port: u16,
            prune: bool,
            items: Vec<&'static str>,
            text: &'static str,
        }
        let doc = Doc {
            port: 443,
            prune: true,
            items: vec!["on", "web"],
            text: "line one\nyes\n",
        };
        let text = quote_for_yaml_1_1(serde_yaml::to_string(&doc).unwrap());
        assert!(text.contains("port: 443\n"));
        assert!(text.contains("prune: true\n"));
        assert!(text.contains("- 'on'\n"));
        assert!(text.contains("\n  yes\n"), "inside a block scalar: {text}");
    }
}
