//! Argo CD's AppProject rules, written here from Argo CD's code (never
//! envk's): which objects an Application of a project, syncing a given
//! repository, may create, change or delete on a cluster.
//!
//! Sources (argoproj/argo-cd at 37ee009, the commit the schemas come
//! from; `github.com/gobwas/glob` v0.2.3 as its go.mod pins):
//! - destinations: `AppProject.isDestinationMatched` and `globMatch` in
//!   `pkg/apis/application/v1alpha1/app_project_types.go`, gobwas globs
//!   with no separators, `!` negation with its asymmetric deny rules;
//! - source repositories: `AppProject.IsSourcePermitted`, gobwas globs
//!   with `/` as separator over `util/git.NormalizeGitURL`;
//! - resources: `AppProject.IsGroupKindNamePermitted`, with
//!   `isResourceInList` / `isNamedResourceInList` (`types.go`): Go's
//!   `path/filepath.Match` on the kind, then the group, then (cluster
//!   lists only) the name;
//! - a namespaced object is also a destination (`IsResourcePermitted`):
//!   its namespace on the Application's cluster must be allowed.

use serde_yaml::Value;

// ------------------------------------------------------------ gobwas glob

/// A compiled gobwas glob (v0.2.3): `*` any run of non-separators, `**`
/// any run, `?` one non-separator, `[abc]` / `[!abc]` / `[a-z]` /
/// `[!a-z]` one character (a class is a list or one range, not both),
/// `{a,b}` alternatives (patterns themselves), `\c` the character `c`.
#[derive(Clone, Debug)]
pub struct Glob {
    nodes: Vec<Node>,
    separators: Vec<char>,
    /// The text a pattern of no wildcard matches, alone: compared as is.
    literal: Option<String>,
}

#[derive(Clone, Debug)]
enum Node {
    Text(Vec<char>),
    Any,
    Super,
    Single,
    List { chars: Vec<char>, not: bool },
    Range { lo: char, hi: char, not: bool },
    AnyOf(Vec<Vec<Node>>),
}

#[derive(Clone, Debug, PartialEq)]
enum Token {
    Text(Vec<char>),
    Any,
    Super,
    Single,
    RangeOpen,
    Not,
    RangeLo(char),
    RangeBetween,
    RangeHi(char),
    RangeClose,
    TermsOpen,
    Separator,
    TermsClose,
    Eof,
}

impl Glob {
    /// `glob.Compile(pattern, separators...)`; `None` where it fails, as
    /// Argo CD's `util/glob.Match` then matches nothing.
    pub fn compile(pattern: &str, separators: &[char]) -> Option<Glob> {
        let chars: Vec<char> = pattern.chars().collect();
        let tokens = lex(&chars)?;
        let mut at = 0;
        let (nodes, _) = parse_pattern(&tokens, &mut at)?;
        let literal = match nodes.as_slice() {
            [] => Some(String::new()),
            [Node::Text(text)] => Some(text.iter().collect()),
            _ => None,
        };
        Some(Glob {
            nodes,
            separators: separators.to_vec(),
            literal,
        })
    }

    pub fn matches(&self, text: &str) -> bool {
        if let Some(literal) = &self.literal {
            return literal == text;
        }
        let text: Vec<char> = text.chars().collect();
        matches_from(&self.nodes, &text, &self.separators)
    }
}

/// `util/glob.Match`: a pattern that does not compile matches nothing.
pub fn glob_match(pattern: &str, text: &str, separators: &[char]) -> bool {
    Glob::compile(pattern, separators).is_some_and(|glob| glob.matches(text))
}

/// gobwas' lexer (`syntax/lexer/lexer.go`): any error it meets fails the
/// compilation, so the tokens are made all at once.
fn lex(pattern: &[char]) -> Option<Vec<Token>> {
    const IN_TEXT: &[char] = &['?', '*', '[', '{'];
    const IN_TERMS: &[char] = &['?', '*', '[', '{', '}', ','];
    let mut tokens = Vec::new();
    let mut at = 0;
    let mut terms = 0usize;
    loop {
        let Some(&c) = pattern.get(at) else {
            tokens.push(Token::Eof);
            return Some(tokens);
        };
        at += 1;
        match c {
            '{' => {
                terms += 1;
                tokens.push(Token::TermsOpen);
            }
            ',' if terms > 0 => tokens.push(Token::Separator),
            '}' if terms > 0 => {
                tokens.push(Token::TermsClose);
                terms -= 1;
            }
            '[' => {
                tokens.push(Token::RangeOpen);
                lex_range(pattern, &mut at, &mut tokens)?;
            }
            '?' => tokens.push(Token::Single),
            '*' if pattern.get(at) == Some(&'*') => {
                at += 1;
                tokens.push(Token::Super);
            }
            '*' => tokens.push(Token::Any),
            _ => {
                at -= 1;
                let breakers = if terms > 0 { IN_TERMS } else { IN_TEXT };
                lex_text(pattern, &mut at, breakers, &mut tokens);
            }
        }
    }
}

fn lex_text(pattern: &[char], at: &mut usize, breakers: &[char], tokens: &mut Vec<Token>) {
    let mut data = Vec::new();
    let mut escaped = false;
    while let Some(&c) = pattern.get(*at) {
        *at += 1;
        if !escaped {
            if c == '\\' {
                escaped = true;
                continue;
            }
            if breakers.contains(&c) {
                *at -= 1;
                break;
            }
        }
        escaped = false;
        data.push(c);
    }
    if !data.is_empty() {
        tokens.push(Token::Text(data));
    }
}

fn lex_range(pattern: &[char], at: &mut usize, tokens: &mut Vec<Token>) -> Option<()> {
    let (mut want_hi, mut want_close, mut seen_not) = (false, false, false);
    loop {
        let &c = pattern.get(*at)?; // "unexpected end of input"
        *at += 1;
        if want_close {
            if c != ']' {
                return None; // "expected close range character"
            }
            tokens.push(Token::RangeClose);
            return Some(());
        }
        if want_hi {
            tokens.push(Token::RangeHi(c));
            want_close = true;
            continue;
        }
        if !seen_not && c == '!' {
            tokens.push(Token::Not);
            seen_not = true;
            continue;
        }
        if pattern.get(*at) == Some(&'-') {
            *at += 1;
            tokens.push(Token::RangeLo(c));
            tokens.push(Token::RangeBetween);
            want_hi = true;
            continue;
        }
        *at -= 1;
        lex_text(pattern, at, &[']'], tokens);
        want_close = true;
    }
}

/// gobwas' parser (`syntax/ast/parser.go`): a pattern up to a `,` or `}`
/// of the alternatives it is in, or the end (an unclosed `{` closes
/// there). Returns the token it stopped at.
fn parse_pattern(tokens: &[Token], at: &mut usize) -> Option<(Vec<Node>, Token)> {
    let mut nodes = Vec::new();
    loop {
        let token = tokens.get(*at)?.clone();
        *at += 1;
        match token {
            Token::Text(text) => nodes.push(Node::Text(text)),
            Token::Any => nodes.push(Node::Any),
            Token::Super => nodes.push(Node::Super),
            Token::Single => nodes.push(Node::Single),
            Token::RangeOpen => nodes.push(parse_range(tokens, at)?),
            Token::TermsOpen => {
                let mut alternatives = Vec::new();
                loop {
                    let (alternative, stop) = parse_pattern(tokens, at)?;
                    alternatives.push(alternative);
                    match stop {
                        Token::Separator => continue,
                        Token::TermsClose => break,
                        _ => {
                            nodes.push(Node::AnyOf(alternatives));
                            return Some((nodes, Token::Eof));
                        }
                    }
                }
                nodes.push(Node::AnyOf(alternatives));
            }
            Token::Separator | Token::TermsClose | Token::Eof => return Some((nodes, token)),
            _ => return None, // "unexpected token"
        }
    }
}

fn parse_range(tokens: &[Token], at: &mut usize) -> Option<Node> {
    let (mut not, mut lo, mut hi, mut chars) = (false, None, None, Vec::new());
    loop {
        let token = tokens.get(*at)?.clone();
        *at += 1;
        match token {
            Token::Not => not = true,
            Token::RangeLo(c) => lo = Some(c),
            Token::RangeBetween => {}
            Token::RangeHi(c) => {
                if lo.is_some_and(|lo| c < lo) {
                    return None; // "hi character should be greater than lo"
                }
                hi = Some(c);
            }
            Token::Text(text) => chars = text,
            Token::RangeClose => {
                let is_range = lo.is_some() && hi.is_some();
                if is_range != chars.is_empty() {
                    return None; // "could not parse range"
                }
                return Some(match (lo, hi) {
                    (Some(lo), Some(hi)) => Node::Range { lo, hi, not },
                    _ => Node::List { chars, not },
                });
            }
            _ => return None, // "unexpected end"
        }
    }
}

fn matches_from(nodes: &[Node], text: &[char], separators: &[char]) -> bool {
    let Some((first, rest)) = nodes.split_first() else {
        return text.is_empty();
    };
    let one = |accept: &dyn Fn(char) -> bool| {
        text.first()
            .is_some_and(|&c| accept(c) && matches_from(rest, &text[1..], separators))
    };
    match first {
        Node::Text(literal) => {
            text.starts_with(literal) && matches_from(rest, &text[literal.len()..], separators)
        }
        Node::Any => {
            for end in 0..=text.len() {
                if matches_from(rest, &text[end..], separators) {
                    return true;
                }
                if text.get(end).is_some_and(|c| separators.contains(c)) {
                    return false;
                }
            }
            false
        }
        Node::Super => (0..=text.len()).any(|end| matches_from(rest, &text[end..], separators)),
        Node::Single => one(&|c| !separators.contains(&c)),
        Node::List { chars, not } => one(&|c| chars.contains(&c) != *not),
        Node::Range { lo, hi, not } => one(&|c| (*lo <= c && c <= *hi) != *not),
        Node::AnyOf(alternatives) => alternatives.iter().any(|alternative| {
            let mut sequence = alternative.clone();
            sequence.extend_from_slice(rest);
            matches_from(&sequence, text, separators)
        }),
    }
}

// ------------------------------------------------------ path/filepath.Match

/// Go's `path/filepath.Match` on Unix (`/` the separator), a malformed
/// pattern (`ErrBadPattern`) matching nothing, as Argo CD's lists use it.
pub fn path_match(pattern: &str, name: &str) -> bool {
    go_match(pattern.as_bytes(), name.as_bytes()) == Ok(true)
}

struct BadPattern;

impl PartialEq for BadPattern {
    fn eq(&self, _: &Self) -> bool {
        true
    }
}

impl std::fmt::Debug for BadPattern {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("ErrBadPattern")
    }
}

fn go_match(mut pattern: &[u8], mut name: &[u8]) -> Result<bool, BadPattern> {
    'pattern: while !pattern.is_empty() {
        let (star, chunk, rest) = scan_chunk(pattern);
        pattern = rest;
        if star && chunk.is_empty() {
            // A trailing `*` matches the rest, unless it has a `/`.
            return Ok(!name.contains(&b'/'));
        }
        // At the current position; the last chunk must end the name.
        let here = match_chunk(chunk, name)?;
        if let Some(t) = here
            && (t.is_empty() || !pattern.is_empty())
        {
            name = t;
            continue;
        }
        if star {
            // Skipping 1.. bytes, never a `/`.
            let mut i = 0;
            while i < name.len() && name[i] != b'/' {
                if let Some(t) = match_chunk(chunk, &name[i + 1..])? {
                    if pattern.is_empty() && !t.is_empty() {
                        i += 1;
                        continue;
                    }
                    name = t;
                    continue 'pattern;
                }
                i += 1;
            }
        }
        // No match; the rest of the pattern must still be well formed.
        while !pattern.is_empty() {
            let (_, chunk, rest) = scan_chunk(pattern);
            pattern = rest;
            match_chunk(chunk, b"")?;
        }
        return Ok(false);
    }
    Ok(name.is_empty())
}

/// The next run of the pattern without a `*` outside a class, and
/// whether `*`s came before it.
fn scan_chunk(mut pattern: &[u8]) -> (bool, &[u8], &[u8]) {
    let mut star = false;
    while pattern.first() == Some(&b'*') {
        pattern = &pattern[1..];
        star = true;
    }
    let mut in_range = false;
    let mut i = 0;
    while i < pattern.len() {
        match pattern[i] {
            // An escape takes the next byte with it, if there is one.
            b'\\' if i + 1 < pattern.len() => i += 1,
            b'[' => in_range = true,
            b']' => in_range = false,
            b'*' if !in_range => break,
            _ => {}
        }
        i += 1;
    }
    (star, &pattern[..i], &pattern[i..])
}

/// One UTF-8 character at the start of `s` (U+FFFD and 1 where invalid),
/// as Go's `utf8.DecodeRune`.
fn decode(s: &[u8]) -> (char, usize) {
    for len in 1..=s.len().min(4) {
        if let Ok(text) = std::str::from_utf8(&s[..len]) {
            return (text.chars().next().expect("a character"), len);
        }
    }
    (char::REPLACEMENT_CHARACTER, 1)
}

/// Whether `chunk` matches the start of `s`: what is left of `s` if so.
fn match_chunk<'s>(mut chunk: &[u8], mut s: &'s [u8]) -> Result<Option<&'s [u8]>, BadPattern> {
    // Once the match has failed the chunk is still read through, to
    // report a malformed pattern.
    let mut failed = false;
    while !chunk.is_empty() {
        if !failed && s.is_empty() {
            failed = true;
        }
        match chunk[0] {
            b'[' => {
                let mut r = '\0';
                if !failed {
                    let (c, n) = decode(s);
                    r = c;
                    s = &s[n..];
                }
                chunk = &chunk[1..];
                let mut negated = false;
                if chunk.first() == Some(&b'^') {
                    negated = true;
                    chunk = &chunk[1..];
                }
                let mut matched = false;
                let mut ranges = 0;
                loop {
                    if chunk.first() == Some(&b']') && ranges > 0 {
                        chunk = &chunk[1..];
                        break;
                    }
                    let (lo, rest) = get_esc(chunk)?;
                    chunk = rest;
                    let mut hi = lo;
                    if chunk[0] == b'-' {
                        let (high, rest) = get_esc(&chunk[1..])?;
                        hi = high;
                        chunk = rest;
                    }
                    if lo <= r && r <= hi {
                        matched = true;
                    }
                    ranges += 1;
                }
                if matched == negated {
                    failed = true;
                }
            }
            b'?' => {
                if !failed {
                    if s[0] == b'/' {
                        failed = true;
                    }
                    let (_, n) = decode(s);
                    s = &s[n..];
                }
                chunk = &chunk[1..];
            }
            first => {
                let literal = if first == b'\\' {
                    chunk = &chunk[1..];
                    *chunk.first().ok_or(BadPattern)?
                } else {
                    first
                };
                if !failed {
                    if literal != s[0] {
                        failed = true;
                    }
                    s = &s[1..];
                }
                chunk = &chunk[1..];
            }
        }
    }
    Ok((!failed).then_some(s))
}

/// A character of a class, maybe escaped; the class must go on after it.
fn get_esc(mut chunk: &[u8]) -> Result<(char, &[u8]), BadPattern> {
    if chunk.is_empty() || chunk[0] == b'-' || chunk[0] == b']' {
        return Err(BadPattern);
    }
    if chunk[0] == b'\\' {
        chunk = &chunk[1..];
        if chunk.is_empty() {
            return Err(BadPattern);
        }
    }
    let (r, n) = decode(chunk);
    if r == char::REPLACEMENT_CHARACTER && n == 1 {
        return Err(BadPattern);
    }
    let rest = &chunk[n..];
    if rest.is_empty() {
        return Err(BadPattern);
    }
    Ok((r, rest))
}

// ------------------------------------------------------------ Git URLs

/// `util/git.NormalizeGitURL`: trimmed and lowercased (path included),
/// an scp-like `user@host:path` read as `ssh://user@host/path`, one
/// trailing `.git` removed, then round-tripped through Go's `url.Parse`
/// (here: `""` for what it rejects, a non-numeric port, a bad `%` escape;
/// the characters Go escapes in a path escaped), and `ssh://` removed.
pub fn normalize_git_url(repo: &str) -> String {
    let mut repo = repo.trim().to_lowercase();
    if is_ssh_url(&repo) && !repo.starts_with("ssh://") {
        repo = format!("ssh://{}", repo.replacen(':', "/", 1));
    }
    if let Some(stripped) = repo.strip_suffix(".git") {
        repo = stripped.to_string();
    }
    let Some(parsed) = url_round_trip(&repo) else {
        return String::new();
    };
    parsed
        .strip_prefix("ssh://")
        .map_or(parsed.clone(), str::to_string)
}

/// `^(ssh://)?([^/:]*?)@[^@]+$`
fn is_ssh_url(url: &str) -> bool {
    let rest = url.strip_prefix("ssh://").unwrap_or(url);
    let Some(at) = rest.find('@') else {
        return false;
    };
    let (user, after) = (&rest[..at], &rest[at + 1..]);
    !user.contains(['/', ':']) && !after.is_empty() && !after.contains('@')
}

/// Go's `url.Parse(s).String()` for the URLs a project or an Application
/// names; `None` where `url.Parse` fails.
fn url_round_trip(url: &str) -> Option<String> {
    let (head, path) = match url.find("://") {
        Some(scheme_end) => {
            let after = &url[scheme_end + 3..];
            let authority_end = after.find(['/', '?', '#']).unwrap_or(after.len());
            let authority = &after[..authority_end];
            let host = authority
                .rsplit_once('@')
                .map_or(authority, |(_, host)| host);
            if !host.starts_with('[')
                && let Some((_, port)) = host.rsplit_once(':')
                && !port.bytes().all(|b| b.is_ascii_digit())
            {
                return None; // "invalid port after host"
            }
            url.split_at(scheme_end + 3 + authority_end)
        }
        None => ("", url),
    };
    let end = path.find(['?', '#']).unwrap_or(path.len());
    let (path, tail) = path.split_at(end);
    let mut out = String::from(head);
    let bytes = path.as_bytes();
    let mut i = 0;
    while i < bytes.len() {
        let b = bytes[i];
        if b == b'%' {
            let hex = |b: Option<&u8>| b.is_some_and(u8::is_ascii_hexdigit);
            if !(hex(bytes.get(i + 1)) && hex(bytes.get(i + 2))) {
                return None; // "invalid URL escape"
            }
            out.push('%');
        } else if b.is_ascii_alphanumeric() || b"-_.~!$&'()*+,;=:@[]/".contains(&b) {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
        i += 1;
    }
    out.push_str(tail);
    Some(out)
}

// ------------------------------------------------------------ projects

/// A pattern of a destination or a source repository, as `globMatch`
/// reads it with negation allowed.
#[derive(Clone, Debug)]
struct Pattern {
    raw: String,
    /// `!…`: it matches what the rest does not.
    deny: bool,
    /// The pattern, without its `!`; `None` where it does not compile.
    glob: Option<Glob>,
}

impl Pattern {
    fn new(raw: &str, separators: &[char]) -> Pattern {
        let deny = raw.starts_with('!');
        let body = if deny { &raw[1..] } else { raw };
        Pattern {
            raw: raw.to_string(),
            deny,
            glob: Glob::compile(body, separators),
        }
    }

    /// `globMatch(pattern, value, true, separators...)`.
    fn matches(&self, value: &str) -> bool {
        let matched = || self.glob.as_ref().is_some_and(|glob| glob.matches(value));
        if self.deny {
            !matched()
        } else {
            self.raw == "*" || matched()
        }
    }
}

#[derive(Clone, Debug)]
struct Destination {
    server: Pattern,
    name: Pattern,
    namespace: Pattern,
}

/// An entry of a resource list: kind, group and (cluster lists) name
/// patterns, each matched with `filepath.Match`.
#[derive(Clone, Debug)]
struct ResourceItem {
    group: String,
    kind: String,
    /// Empty: every name.
    name: String,
}

impl ResourceItem {
    fn matches_kind(&self, group: &str, kind: &str) -> bool {
        path_match(&self.kind, kind) && path_match(&self.group, group)
    }

    fn matches_named(&self, group: &str, kind: &str, name: &str) -> bool {
        self.matches_kind(group, kind) && (self.name.is_empty() || path_match(&self.name, name))
    }
}

/// A cluster as Argo CD knows it: its API server, and the name it is
/// registered under.
#[derive(Clone, Copy, Debug)]
pub struct Cluster<'a> {
    pub server: &'a str,
    pub name: &'a str,
}

/// An object an Application's manifests may hold.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub struct Object<'a> {
    pub group: &'a str,
    pub kind: &'a str,
    pub name: &'a str,
    /// `None`: cluster-scoped.
    pub namespace: Option<&'a str>,
}

impl<'a> Object<'a> {
    pub fn new(group: &'a str, kind: &'a str, name: &'a str, namespace: Option<&'a str>) -> Self {
        Object {
            group,
            kind,
            name,
            namespace,
        }
    }

    /// An object of a Kubernetes document: its group from `apiVersion`.
    pub fn of_document(document: &'a Value) -> Self {
        let api_version = document["apiVersion"].as_str().unwrap_or("");
        let text = |value: &'a Value| value.as_str().unwrap_or("");
        Object {
            group: api_version.rsplit_once('/').map_or("", |(group, _)| group),
            kind: text(&document["kind"]),
            name: text(&document["metadata"]["name"]),
            namespace: document["metadata"]["namespace"].as_str(),
        }
    }
}

impl std::fmt::Display for Object<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let group = if self.group.is_empty() {
            "core"
        } else {
            self.group
        };
        match self.namespace {
            Some(namespace) => write!(f, "{}.{group} {namespace}/{}", self.kind, self.name),
            None => write!(f, "{}.{group} {} (cluster-scoped)", self.kind, self.name),
        }
    }
}

/// The fields of an AppProject's spec this evaluator reads, and those it
/// knows change nothing an Application may write. Any other field is
/// refused, so that a project is never judged on half of its rules.
const KNOWN_FIELDS: [&str; 8] = [
    "description",
    "sourceRepos",
    "destinations",
    "clusterResourceWhitelist",
    "clusterResourceBlacklist",
    "namespaceResourceWhitelist",
    "namespaceResourceBlacklist",
    "roles",
];

/// An AppProject, as Argo CD applies its rules.
#[derive(Clone, Debug)]
pub struct Project {
    source_repos: Vec<Pattern>,
    destinations: Vec<Destination>,
    cluster_whitelist: Vec<ResourceItem>,
    cluster_blacklist: Vec<ResourceItem>,
    /// `None`: the field is absent (nil), which allows every kind; an
    /// empty list allows none.
    namespace_whitelist: Option<Vec<ResourceItem>>,
    namespace_blacklist: Vec<ResourceItem>,
}

impl Project {
    /// Reads an AppProject document; panics on a field it does not know.
    pub fn from_yaml(document: &Value) -> Project {
        assert_eq!(
            document["kind"].as_str(),
            Some("AppProject"),
            "{document:?}"
        );
        let spec = &document["spec"];
        for key in spec.as_mapping().expect("an AppProject's spec").keys() {
            let key = key.as_str().unwrap_or("");
            assert!(
                KNOWN_FIELDS.contains(&key),
                "the evaluator does not know AppProject field `{key}`"
            );
        }
        let text = |value: &Value| value.as_str().unwrap_or("").to_string();
        let list = |key: &str| spec[key].as_sequence().cloned().unwrap_or_default();
        let resources = |key: &str| -> Vec<ResourceItem> {
            list(key)
                .iter()
                .map(|item| ResourceItem {
                    group: text(&item["group"]),
                    kind: text(&item["kind"]),
                    name: text(&item["name"]),
                })
                .collect()
        };
        let source_repos = list("sourceRepos")
            .iter()
            .map(|repo| {
                let repo = text(repo);
                let normalized = match repo.strip_prefix('!') {
                    Some(denied) => format!("!{}", normalize_git_url(denied)),
                    None => normalize_git_url(&repo),
                };
                Pattern::new(&normalized, &['/'])
            })
            .collect();
        let destinations = list("destinations")
            .iter()
            .map(|d| Destination {
                server: Pattern::new(&text(&d["server"]), &[]),
                name: Pattern::new(&text(&d["name"]), &[]),
                namespace: Pattern::new(&text(&d["namespace"]), &[]),
            })
            .collect();
        let whitelist = &spec["namespaceResourceWhitelist"];
        Project {
            source_repos,
            destinations,
            cluster_whitelist: resources("clusterResourceWhitelist"),
            cluster_blacklist: resources("clusterResourceBlacklist"),
            namespace_whitelist: (!whitelist.is_null())
                .then(|| resources("namespaceResourceWhitelist")),
            namespace_blacklist: resources("namespaceResourceBlacklist"),
        }
    }

    /// `IsSourcePermitted`: some pattern matches the normalized URL, and
    /// no `!` pattern excludes it.
    pub fn source_permitted(&self, repo: &str) -> bool {
        let repo = normalize_git_url(repo);
        let mut any = false;
        for pattern in &self.source_repos {
            if pattern.matches(&repo) {
                any = true;
            } else if pattern.deny {
                return false;
            }
        }
        any
    }

    /// `IsDestinationPermitted` (`isDestinationMatched`): an entry allows
    /// when its server or name, and its namespace, match; a `!` entry
    /// denies at once, by its name whatever the namespace, by its server
    /// only where the namespace matches, by its namespace only where the
    /// server does.
    pub fn destination_permitted(&self, cluster: Cluster, namespace: &str) -> bool {
        let mut any = false;
        for item in &self.destinations {
            let name = !cluster.name.is_empty() && item.name.matches(cluster.name);
            let server = !cluster.server.is_empty() && item.server.matches(cluster.server);
            let in_namespace = item.namespace.matches(namespace);
            // Go's `&&` binds tighter than its `||`, as Rust's does.
            let denied = (!name && item.name.deny)
                || (!server && item.server.deny) && in_namespace
                || !in_namespace && item.namespace.deny && server;
            if (server || name) && in_namespace {
                any = true;
            } else if denied {
                return false;
            }
        }
        any
    }

    /// `IsGroupKindNamePermitted`.
    pub fn kind_permitted(&self, group: &str, kind: &str, name: &str, namespaced: bool) -> bool {
        if namespaced {
            let whitelisted = match &self.namespace_whitelist {
                None => true,
                Some(list) => list.iter().any(|item| item.matches_kind(group, kind)),
            };
            let blacklisted = self
                .namespace_blacklist
                .iter()
                .any(|item| item.matches_kind(group, kind));
            return whitelisted && !blacklisted;
        }
        let whitelisted = self
            .cluster_whitelist
            .iter()
            .any(|item| item.matches_named(group, kind, name));
        let blacklisted = self
            .cluster_blacklist
            .iter()
            .any(|item| item.matches_named(group, kind, name));
        whitelisted && !blacklisted
    }

    /// Whether some Application of this project could be deployed to
    /// `cluster`: a namespace on it is a permitted destination. The
    /// namespaces tried are those the destinations name (a literal
    /// `team-*` is matched by the pattern `team-*`), `extra`, and the
    /// empty one (an Application without a namespace).
    pub fn could_target(&self, cluster: Cluster, extra: &[&str]) -> bool {
        let named = self.destinations.iter().map(|d| {
            let raw = d.namespace.raw.as_str();
            raw.strip_prefix('!').unwrap_or(raw)
        });
        named
            .chain(extra.iter().copied())
            .chain([""])
            .any(|namespace| self.destination_permitted(cluster, namespace))
    }

    /// Whether an Application of this project, syncing `repo` to
    /// `cluster`, may create, change or delete `object` there: the source
    /// is permitted, the kind (and for a cluster-scoped one its name) is,
    /// and the object's namespace on that cluster is a permitted
    /// destination (a cluster-scoped object: some namespace there is, so
    /// that such an Application may exist).
    pub fn permits(&self, repo: &str, object: &Object, cluster: Cluster) -> bool {
        self.source_permitted(repo) && self.object_permitted(object, cluster)
    }

    /// `permits` but for the source: what an Application of a permitted
    /// repository may write.
    pub fn object_permitted(&self, object: &Object, cluster: Cluster) -> bool {
        let namespaced = object.namespace.is_some();
        if !self.kind_permitted(object.group, object.kind, object.name, namespaced) {
            return false;
        }
        match object.namespace {
            Some(namespace) => self.destination_permitted(cluster, namespace),
            None => self.could_target(cluster, &["default", "kube-system", "argocd"]),
        }
    }
}

// ------------------------------------------------------------ unit tests

#[cfg(test)]
mod tests {
    use super::*;

    fn yaml(text: &str) -> Value {
        serde_yaml::from_str(text).expect("YAML")
    }

    /// A project of only these spec lines.
    fn project(spec: &str) -> Project {
        let spec = spec.replace('\n', "\n  ");
        Project::from_yaml(&yaml(&format!(
            "kind: AppProject\nmetadata: {{name: p}}\nspec:\n  {spec}\n"
        )))
    }

    /// gobwas' own table (`glob_test.go`, v0.2.3), in part.
    #[test]
    fn gobwas_globs() {
        let cases: &[(bool, &str, &str, &[char])] = &[
            (true, "* ?at * eyes", "my cat has very bright eyes", &[]),
            (true, "", "", &[]),
            (false, "", "b", &[]),
            (true, "*ä", "åä", &[]),
            (true, "a*c", "a12345c", &[]),
            (true, "a?c", "a1c", &[]),
            (true, "a.*", "a.b", &['.']),
            (true, "a.**", "a.b.c", &['.']),
            (true, "a.?.c", "a.b.c", &['.']),
            (true, r"\*", "*", &[]),
            (true, "**", "a.b.c", &['.']),
            (false, "?at", "at", &[]),
            (false, "?at", "fat", &['f']),
            (false, "a.*", "a.b.c", &['.']),
            (false, "a.?.c", "a.bb.c", &['.']),
            (false, "*", "a.b.c", &['.']),
            (true, "**is**a***test*", "this is a test", &[]),
            (false, "*is", "this is a test", &[]),
            (true, "[!a]*", "this is a test3", &[]),
            (true, "?*?", "ac", &[]),
            (false, "sta?n", "stagnation", &[]),
            (true, "{abc,abcd}a", "abcda", &[]),
            (true, "{a,ab}{bc,f}", "abc", &[]),
            (true, "{*,**}{a,b}", "ab", &[]),
            (false, "{*,**}{a,b}", "ac", &[]),
            (true, "/{rate,[a-z][a-z][a-z]}*", "/usd", &[]),
            (true, "{*.google.*,yandex.*}", "yandex.com", &['.']),
            (false, "{*.google.*,yandex.*}", "www.yandex.com", &['.']),
            (
                true,
                "[a-z][!a-x]*cat*[h][!b]*eyes*",
                "my cat has very bright eyes",
                &[],
            ),
            (
                false,
                "[a-z][!a-x]*cat*[h][!b]*eyes*",
                "my dog has very bright eyes",
                &[],
            ),
            (false, "https://*.google.*", "https://google.com", &[]),
            (
                true,
                "{abc*[a-c]def,abc?[d-g]def,abc[zte]?def}",
                "abczqdef",
                &[],
            ),
            // A class is a list or one range: `[a-z0-9]` does not compile.
            (false, "[a-z0-9]", "a", &[]),
            (false, "[]", "]", &[]),
            (false, "[z-a]", "m", &[]),
            // `}` and `,` outside alternatives are text; an unclosed `{`
            // closes at the end.
            (true, "a,b}", "a,b}", &[]),
            (true, "{team0,team1", "team1", &[]),
            // A class is not kept from separators.
            (true, "a[/]b", "a/b", &['/']),
            (false, "a?b", "a/b", &['/']),
        ];
        for &(expected, pattern, text, separators) in cases {
            assert_eq!(
                glob_match(pattern, text, separators),
                expected,
                "{pattern:?} ~ {text:?} with separators {separators:?}"
            );
        }
    }

    /// Go's `filepath.Match` (its `match_test.go`, in part).
    #[test]
    fn filepath_match() {
        let cases: &[(&str, &str, bool)] = &[
            ("abc", "abc", true),
            ("*", "abc", true),
            ("*", "", true),
            ("*c", "abc", true),
            ("a*", "a", true),
            ("a*", "ab/c", false),
            ("a*/b", "abc/b", true),
            ("a*b*c*d*e*/f", "axbxcxdxe/f", true),
            ("a*b*c*d*e*/f", "axbxcxdxexxx/fff", false),
            ("a*b?c*x", "abxbbxdbxebxczzx", true),
            ("a*b?c*x", "abxbbxdbxebxczzy", false),
            ("ab[c]", "abc", true),
            ("ab[b-d]", "abc", true),
            ("ab[e-g]", "abc", false),
            ("ab[^c]", "abc", false),
            ("ab[^b-d]", "abc", false),
            ("ab[^e-g]", "abc", true),
            ("a\\*b", "a*b", true),
            ("a\\*b", "ab", false),
            ("a?b", "a☺b", true),
            ("a[^a]b", "a☺b", true),
            ("a???b", "a☺b", false),
            ("a?b", "a/b", false),
            ("a*b", "a/b", false),
            ("[\\]a]", "]", true),
            ("[\\-]", "-", true),
            ("[x\\-]", "z", false),
            ("[\\-x]", "-", true),
            // Malformed: no match, whatever the name.
            ("[]a]", "]", false),
            ("[-]", "-", false),
            ("[x-]", "x", false),
            ("[a-b-c]", "a", false),
            ("[", "a", false),
            ("[^", "a", false),
            ("[^bc", "a", false),
            ("a[", "a", false),
            ("a[", "ab", false),
            ("a[", "x", false),
            ("a/b[", "x", false),
            ("*x", "xxx", true),
            ("\\", "a", false),
            // Argo CD's uses: `*` matches the core group, ''.
            ("*", "", true),
            ("", "", true),
            ("", "apps", false),
            ("team1-*", "team1-namespace", true),
            ("team1-*", "other-namespace", false),
        ];
        for &(pattern, name, expected) in cases {
            assert_eq!(
                path_match(pattern, name),
                expected,
                "{pattern:?} ~ {name:?}"
            );
        }
    }

    #[test]
    fn git_urls_are_normalized() {
        let cases = [
            (
                "https://github.com/Org/Repo.git",
                "https://github.com/org/repo",
            ),
            (
                "https://github.com/org/repo.git.git",
                "https://github.com/org/repo.git",
            ),
            (
                "  https://github.com/org/repo/  ",
                "https://github.com/org/repo/",
            ),
            ("git@github.com:Org/Repo.git", "git@github.com/org/repo"),
            (
                "https://github.com/org/{a,b}",
                "https://github.com/org/%7Ba,b%7D",
            ),
            ("https://github.com/org/*", "https://github.com/org/*"),
            ("ssh://git@GITHUB.com:argoproj/test", ""),
        ];
        for (url, normalized) in cases {
            assert_eq!(normalize_git_url(url), normalized, "{url}");
        }
    }

    /// `TestAppProject_IsSourcePermitted` and `IsNegatedSourcePermitted`.
    #[test]
    fn source_repos() {
        let cases: &[(&[&str], &str, bool)] = &[
            (&["*"], "https://github.com/argoproj/test.git", true),
            (
                &["https://github.com/argoproj/test.git"],
                "https://github.com/argoproj/test.git",
                true,
            ),
            (
                &["ssh://git@GITHUB.com:argoproj/test"],
                "ssh://git@github.com:argoproj/test",
                true,
            ),
            (
                &["https://github.com/argoproj/*"],
                "https://github.com/argoproj/argoproj.git",
                true,
            ),
            (
                &["https://github.com/argoproj/test1.git"],
                "https://github.com/argoproj/test2.git",
                false,
            ),
            (
                &["https://github.com/argoproj/*.git"],
                "https://github.com/argoproj1/test2.git",
                false,
            ),
            (
                &["https://github.com/argoproj/foo"],
                "https://github.com/argoproj/foo1",
                false,
            ),
            (
                &["https://gitlab.com/group/*"],
                "https://gitlab.com/group/repo/owner",
                false,
            ),
            (
                &["https://gitlab.com/group/*/*"],
                "https://gitlab.com/group/repo/owner",
                true,
            ),
            (
                &["https://gitlab.com/group/**"],
                "https://gitlab.com/group/sub-group/repo/owner",
                true,
            ),
            (
                &["!https://github.com/argoproj/test.git"],
                "https://github.com/argoproj/test.git",
                false,
            ),
            (
                &["!ssh://git@GITHUB.com:argoproj/test"],
                "ssh://git@github.com:argoproj/test",
                false,
            ),
            (
                &[
                    "https://github.com/test1/test.git",
                    "!https://github.com/test2/test.git",
                ],
                "https://github.com/test2/test.git",
                false,
            ),
            (
                &["!https://github.com/argoproj/foo*"],
                "https://github.com/argoproj/foo1",
                false,
            ),
            (
                &["!https://github.com/argoproj/*.git", "*"],
                "https://github.com/argoproj1/test2.git",
                true,
            ),
            // Case and `.git` are not differences.
            (
                &["https://git.example.com/Team0.git"],
                "https://git.example.com/team0",
                true,
            ),
            (&[], "https://git.example.com/team0", false),
        ];
        for &(repos, repo, expected) in cases {
            let list: Vec<String> = repos.iter().map(|r| format!("'{r}'")).collect();
            let project = project(&format!("sourceRepos: [{}]", list.join(", ")));
            assert_eq!(
                project.source_permitted(repo),
                expected,
                "{repos:?} ∋ {repo}"
            );
        }
    }

    /// `TestAppProject_IsDestinationPermitted` and
    /// `IsNegatedDestinationPermitted`: (server, name, namespace) entries,
    /// then the Application's.
    #[test]
    fn destinations() {
        type Entry<'a> = (&'a str, &'a str, &'a str);
        let cases: &[(&[Entry], Entry, bool)] = &[
            (
                &[("https://kubernetes.default.svc", "", "default")],
                ("https://kubernetes.default.svc", "", "default"),
                true,
            ),
            (
                &[("https://kubernetes.default.svc", "", "default")],
                ("https://kubernetes.default.svc", "", "kube-system"),
                false,
            ),
            (
                &[("https://my-cluster", "", "default")],
                ("https://kubernetes.default.svc", "", "default"),
                false,
            ),
            (
                &[("https://*.default.svc", "", "default")],
                ("https://kubernetes.default.svc", "", "default"),
                true,
            ),
            (
                &[("https://kubernetes.default.svc", "", "test-*")],
                ("https://kubernetes.default.svc", "", "test"),
                false,
            ),
            (&[("", "test", "*")], ("", "test", "test"), true),
            (&[("", "test2", "*")], ("", "test", "test"), false),
            (
                &[
                    (
                        "https://kubernetes.default.svc",
                        "host-cluster",
                        "!{kube-system,argocd}",
                    ),
                    (
                        "https://eks-cluster-endpoint.ap-southeast-1.eks.amazonaws.com",
                        "destination-cluster-01",
                        "*",
                    ),
                ],
                (
                    "https://eks-cluster-endpoint.ap-southeast-1.eks.amazonaws.com",
                    "",
                    "kube-system",
                ),
                true,
            ),
            (
                &[("!https://kubernetes.default.svc", "", "default")],
                ("https://kubernetes.default.svc", "", "default"),
                false,
            ),
            (
                &[("https://kubernetes.default.svc", "", "!default")],
                ("https://kubernetes.default.svc", "", "kube-system"),
                true,
            ),
            // A negated server allows every other server.
            (
                &[("!https://my-cluster", "", "default")],
                ("https://kubernetes.default.svc", "", "default"),
                true,
            ),
            (
                &[("!https://*.default.svc", "", "default")],
                ("https://kubernetes.default.svc", "", "default"),
                false,
            ),
            (
                &[("https://kubernetes.default.svc", "", "!test-*")],
                ("https://kubernetes.default.svc", "", "test-foo"),
                false,
            ),
            (&[("", "!test", "*")], ("", "test", "test"), false),
            (&[("", "!test2", "*")], ("", "test", "test"), true),
            (
                &[("*", "", "kube-system"), ("*", "", "!kube-system")],
                ("https://kubernetes.default.svc", "", "kube-system"),
                false,
            ),
            (
                &[
                    ("https://kubernetes.default.svc", "", "*"),
                    ("!https://kubernetes.default.svc", "", "*"),
                ],
                ("https://kubernetes.default.svc", "", "kube-system"),
                false,
            ),
            (
                &[
                    ("*", "", "*"),
                    ("!https://kubernetes.default.svc", "", "kube-system"),
                    ("*", "", "!kube-system"),
                ],
                ("https://kubernetes.default.svc", "", "default"),
                true,
            ),
            (
                &[
                    ("*", "", "*"),
                    ("!https://kubernetes.default.svc", "", "kube-system"),
                    ("*", "", "!kube-system"),
                ],
                ("https://test-dev-cluster", "", "kube-system"),
                false,
            ),
            (
                &[("*", "", "test"), ("!https://test-server", "", "other")],
                ("https://test-server", "", "test"),
                true,
            ),
            (
                &[("*", "", "*"), ("https://test-server", "", "!other")],
                ("https://other-test-server", "", "other"),
                true,
            ),
            // `!namespace` denies only where the server matches, not the
            // name (research note, inferred from the code).
            (
                &[("*", "", "*"), ("", "in-cluster", "!kube-system")],
                (
                    "https://kubernetes.default.svc",
                    "in-cluster",
                    "kube-system",
                ),
                true,
            ),
            (
                &[
                    ("*", "", "*"),
                    ("https://kubernetes.default.svc", "", "!kube-system"),
                ],
                (
                    "https://kubernetes.default.svc",
                    "in-cluster",
                    "kube-system",
                ),
                false,
            ),
            // Alone, an entry whose namespace does not match allows
            // nothing.
            (
                &[("", "in-cluster", "!kube-system")],
                (
                    "https://kubernetes.default.svc",
                    "in-cluster",
                    "kube-system",
                ),
                false,
            ),
        ];
        for &(entries, (server, name, namespace), expected) in cases {
            let list: Vec<String> = entries
                .iter()
                .map(|(s, n, ns)| format!("{{server: '{s}', name: '{n}', namespace: '{ns}'}}"))
                .collect();
            let project = project(&format!("destinations: [{}]", list.join(", ")));
            assert_eq!(
                project.destination_permitted(Cluster { server, name }, namespace),
                expected,
                "{entries:?} ∋ {server} {name} {namespace}"
            );
        }
    }

    /// `TestAppProject_IsGroupKindPermitted`.
    #[test]
    fn resource_lists() {
        let p = project(
            "namespaceResourceWhitelist: []\nnamespaceResourceBlacklist: [{group: apps, kind: Deployment}]",
        );
        assert!(!p.kind_permitted("apps", "ReplicaSet", "", true));
        assert!(!p.kind_permitted("apps", "Deployment", "", true));
        let p = project(
            "namespaceResourceWhitelist: [{group: apps, kind: ReplicaSet}]\nnamespaceResourceBlacklist: [{group: apps, kind: Deployment}]",
        );
        assert!(p.kind_permitted("apps", "ReplicaSet", "", true));
        assert!(!p.kind_permitted("apps", "Action", "", true));
        let p = project("clusterResourceBlacklist: [{group: '', kind: Namespace}]");
        assert!(!p.kind_permitted("", "Namespace", "", false));
        let p = project(
            "clusterResourceWhitelist: [{group: '*', kind: '*'}]\nclusterResourceBlacklist: [{group: '*', kind: '*'}]",
        );
        assert!(!p.kind_permitted("", "Namespace", "", false));
        assert!(p.kind_permitted("apps", "Action", "", true));
        let p = project(
            "clusterResourceWhitelist: []\nnamespaceResourceWhitelist: [{group: '*', kind: '*'}]",
        );
        assert!(!p.kind_permitted("", "Namespace", "", false));
        assert!(p.kind_permitted("apps", "Action", "", true));
        let p = project("description: nothing else");
        assert!(!p.kind_permitted("", "Namespace", "", false));
        assert!(p.kind_permitted("apps", "Action", "", true));
        let p = project("clusterResourceWhitelist: [{group: '', kind: Namespace, name: team1-*}]");
        assert!(!p.kind_permitted("", "Namespace", "other-namespace", false));
        assert!(p.kind_permitted("", "Namespace", "team1-namespace", false));
        // A YAML null is Go's nil: every namespaced kind.
        let p = project("namespaceResourceWhitelist: null");
        assert!(p.kind_permitted("apps", "Deployment", "", true));
    }

    /// A whole project: what one of envk's shape lets its Application do.
    #[test]
    fn a_fence() {
        let p = project(
            "sourceRepos: [https://git.example.com/a]
destinations: [{server: 'https://c0.example.com', namespace: a}]
clusterResourceWhitelist: [{group: '', kind: Namespace, name: a}]
namespaceResourceBlacklist: [{group: networking.k8s.io, kind: NetworkPolicy}]",
        );
        let c0 = Cluster {
            server: "https://c0.example.com",
            name: "c0",
        };
        let c1 = Cluster {
            server: "https://c1.example.com",
            name: "c1",
        };
        let repo = "https://git.example.com/a";
        let deployment = |ns: &'static str| Object::new("apps", "Deployment", "web", Some(ns));
        assert!(p.permits(repo, &deployment("a"), c0));
        assert!(!p.permits("https://git.example.com/b", &deployment("a"), c0));
        assert!(p.permits("https://git.example.com/A.git", &deployment("a"), c0));
        assert!(!p.permits(repo, &deployment("b"), c0));
        assert!(!p.permits(repo, &deployment("a"), c1));
        let policy = Object::new("networking.k8s.io", "NetworkPolicy", "x", Some("a"));
        assert!(!p.permits(repo, &policy, c0));
        let namespace = |name: &'static str| Object::new("", "Namespace", name, None);
        assert!(p.permits(repo, &namespace("a"), c0));
        assert!(!p.permits(repo, &namespace("b"), c0));
        assert!(!p.permits(repo, &namespace("a"), c1));
    }

    #[test]
    #[should_panic(expected = "does not know AppProject field `permitOnlyProjectScopedClusters`")]
    fn unknown_fields_are_refused() {
        project("permitOnlyProjectScopedClusters: true");
    }
}
