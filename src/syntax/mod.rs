//! The syntax stage: text to AST.
//!
//! Entry point: [`parse`]. It never panics and never stops at the first
//! error: the file is parsed one top-level item at a time, and after a
//! broken item parsing resumes at the next line that starts (in column 0)
//! with an item keyword, so several broken items give several diagnostics.
//!
//! Knows nothing of Kubernetes, of other files, or of what names mean.

pub mod ast;
mod build;
mod expected;
mod fast;
pub mod format;
pub mod keywords;
pub(crate) mod literal;
mod parser;
pub mod spans;

use pest::Parser as _;
use pest::error::{ErrorVariant, InputLocation};

use crate::diag::{Code, Diagnostic};
use crate::source::SourceFile;
use crate::suggest;
use ast::{Ast, Item};
use build::Builder;
use keywords::{ItemKeyword, StatementKeyword, ValueKeyword};
use parser::{EnvkParser, Rule};

/// Deepest nesting of `{`, `[` and `(` accepted. Real programs stay under
/// ten; the bound keeps the recursive descent far from the stack's end.
pub const MAX_NESTING: usize = 64;

/// How many `not`s, quantifiers and `implies` a policy may hold: each
/// recurses through several of the grammar's rules, so the bound is lower
/// than [`MAX_NESTING`]. Real policies nest two or three.
pub const MAX_POLICY_NESTING: usize = 32;

/// Parses one file. Spans in the AST and diagnostics are global (see
/// `source::Span`).
///
/// A large file is cut into runs of whole items, at lines that start an
/// item, and the runs are parsed on every core. Items parse independently,
/// so when each run but the last parses without a diagnostic, the result is
/// the whole file's; otherwise (a cut inside a raw string, or an item
/// broken across a cut) the file is parsed again in one piece, so errors
/// and their recovery never depend on the cut.
pub fn parse(file: &SourceFile) -> (Ast, Vec<Diagnostic>) {
    parse_with(file, Parsers::FastThenPest)
}

/// `parse` with pest alone, item by item: the reference that `parse`, which
/// reads well-formed items with a hand-written parser first, must always
/// agree with (the tests compare the two).
pub fn parse_with_pest_only(file: &SourceFile) -> (Ast, Vec<Diagnostic>) {
    parse_with(file, Parsers::PestOnly)
}

/// Which parsers read each item.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum Parsers {
    /// `fast` first, pest where it gives up: what `parse` does.
    FastThenPest,
    /// pest alone: the reference the fast parser is tested against.
    PestOnly,
}

fn parse_with(file: &SourceFile, parsers: Parsers) -> (Ast, Vec<Diagnostic>) {
    let text = file.text();
    let threads = crate::parallel::threads();
    // Below this, starting threads costs more than it saves.
    const LARGE: usize = 128 * 1024;
    if threads > 1 && text.len() >= LARGE {
        let mut cuts = vec![0];
        for part in 1..threads {
            let cut = next_item_line(text, text.len() * part / threads);
            if cut > *cuts.last().expect("starts with 0") && cut < text.len() {
                cuts.push(cut);
            }
        }
        cuts.push(text.len());
        if cuts.len() > 2 {
            let bounds: Vec<&[usize]> = cuts.windows(2).collect();
            let runs: Vec<(Vec<Item>, Vec<Diagnostic>)> =
                crate::parallel::map_each(&bounds, |run| parse_run(file, run[0], run[1], parsers));
            let last = runs.len() - 1;
            if runs[..last]
                .iter()
                .all(|(_, diagnostics)| diagnostics.is_empty())
            {
                let mut items = Vec::new();
                let mut diagnostics = Vec::new();
                for (run_items, run_diagnostics) in runs {
                    items.extend(run_items);
                    diagnostics.extend(run_diagnostics);
                }
                return (Ast { items }, diagnostics);
            }
        }
    }
    let (items, diagnostics) = parse_run(file, 0, text.len(), parsers);
    (Ast { items }, diagnostics)
}

/// Parses the items of `file` between byte offsets `start` and `end`.
fn parse_run(
    file: &SourceFile,
    start: usize,
    end: usize,
    parsers: Parsers,
) -> (Vec<Item>, Vec<Diagnostic>) {
    let (items, diagnostics, _) = parse_items(file, start, end, parsers, |_| false);
    (items, diagnostics)
}

/// Parses the items of `file` from byte offset `start`, until `end` or an
/// item's start where `stop` says to stop. Returns where it stopped.
///
/// What it finds from an item's start on depends only on the text from
/// there on: parsing reads forward, one item after the other.
fn parse_items(
    file: &SourceFile,
    start: usize,
    end: usize,
    parsers: Parsers,
    mut stop: impl FnMut(usize) -> bool,
) -> (Vec<Item>, Vec<Diagnostic>, usize) {
    let text = &file.text()[..end];
    let mut items = Vec::new();
    let mut diagnostics = Vec::new();
    let mut pos = skip_trivia(text, start);
    while pos < text.len() && !stop(pos) {
        // The fast parser bounds nesting as `too_deep` does, counting the
        // same delimiters, so the scans pest needs come after it.
        if parsers == Parsers::FastThenPest
            && let Some((item, end)) = fast::item(text, pos, file.base())
        {
            items.push(item);
            pos = skip_trivia(text, end);
            continue;
        }
        let resume = next_item_line(text, pos);
        if let Some(deep) = too_deep(text, pos, resume) {
            let delimiter = matches!(text.as_bytes()[deep], b'{' | b'[' | b'(');
            let diagnostic = if delimiter {
                Diagnostic::new(
                    Code::E0110,
                    file.span(deep..deep + 1),
                    format!("nesting deeper than {MAX_NESTING} levels"),
                )
                .label("this delimiter is too deeply nested")
                .help("flatten the structure with `let` bindings")
            } else {
                let word = words(text, deep, resume)
                    .next()
                    .map_or(deep + 1, |(at, w)| at + w.len());
                Diagnostic::new(
                    Code::E0110,
                    file.span(deep..word),
                    format!("nesting deeper than {MAX_NESTING} levels"),
                )
                .label("this `not`, quantifier or `implies` is too deeply nested")
                .help(
                    "simplify the condition (`not not x` is `x`), or split the policy into several",
                )
            };
            diagnostics.push(diagnostic);
            pos = skip_trivia(text, resume);
            continue;
        }
        match EnvkParser::parse(Rule::item, &text[pos..]) {
            Ok(mut pairs) => {
                let pair = pairs
                    .next()
                    .expect("a successful parse of `item` yields one pair");
                let end = pos + pair.as_span().end();
                let mut builder = Builder {
                    base: file.base() + pos as u32,
                    diagnostics: &mut diagnostics,
                };
                items.push(builder.item(pair));
                pos = end;
            }
            Err(error) => {
                let at = pos
                    + match error.location {
                        InputLocation::Pos(at) => at,
                        InputLocation::Span((at, _)) => at,
                    };
                let expected = match &error.variant {
                    ErrorVariant::ParsingError { positives, .. } => positives.clone(),
                    ErrorVariant::CustomError { .. } => Vec::new(),
                };
                diagnostics.push(syntax_error(file, pos, at, &expected));
                let error_line = line_start(text, at);
                pos = if at >= text.len() {
                    text.len()
                } else if error_line > pos && starts_with_item_keyword(&text[error_line..]) {
                    // The item ran into the next one (a missing `}`): that
                    // next item is intact, so parse it.
                    error_line
                } else {
                    next_item_line(text, error_line.max(pos))
                };
            }
        }
        pos = skip_trivia(text, pos);
    }
    (items, diagnostics, pos)
}

/// A file's tree from an earlier parse that gave no diagnostics, with the
/// text and the base offset it was parsed at: what [`reparse`] starts from.
pub struct Earlier<'a> {
    pub text: &'a str,
    pub base: u32,
    pub ast: Ast,
}

/// `parse`, for a file that is an edit of an earlier one: only the items
/// the edit may have changed are parsed again; the others are moved over
/// from the earlier tree, their spans shifted to where they are now. The
/// tree and diagnostics are `parse`'s (the tests compare the two).
///
/// The text before the edit and the text after it are the earlier text's.
/// An item is parsed from its start reading forward, looking past its end
/// at most to the next token (an `if` looks for `else`): the items that end
/// well before the edit, one item's margin kept, are as they were; so are
/// those that start after it, once parsing the edited text reaches the
/// start of one of them.
pub fn reparse(earlier: Earlier<'_>, file: &SourceFile) -> (Ast, Vec<Diagnostic>) {
    let (old, new) = (earlier.text, file.text());
    let prefix = common_prefix(old.as_bytes(), new.as_bytes());
    let suffix = common_suffix(&old.as_bytes()[prefix..], &new.as_bytes()[prefix..]);
    let mut items = earlier.ast.items;
    let local = |offset: u32| (offset - earlier.base) as usize;
    // The first item that ends within a byte of the edit, and the item
    // before it: the margin its look past the end may reach into.
    let touched = items
        .iter()
        .position(|item| local(item.span.end) + 1 >= prefix)
        .unwrap_or(items.len());
    let kept = touched.saturating_sub(1);
    let start = if touched == 0 {
        0
    } else {
        local(items[kept].span.start)
    };
    // Items that start in the unchanged end, a byte past its start, so that
    // nothing they read (the line's start included) was edited.
    let unchanged_end = old.len() - suffix;
    let first_after = items[kept..]
        .iter()
        .position(|item| local(item.span.start) > unchanged_end)
        .map_or(items.len(), |index| kept + index);
    let moved = new.len() as i64 - old.len() as i64;
    let mut next_after = first_after;
    let (middle, diagnostics, stopped) =
        parse_items(file, start, new.len(), Parsers::FastThenPest, |pos| {
            while let Some(item) = items.get(next_after) {
                let now = local(item.span.start) as i64 + moved;
                if now >= pos as i64 {
                    return now == pos as i64;
                }
                next_after += 1;
            }
            false
        });
    let mut after = if stopped < new.len() {
        items.split_off(next_after)
    } else {
        Vec::new()
    };
    items.truncate(kept);
    let rebased = i64::from(file.base()) - i64::from(earlier.base);
    shift(&mut items, rebased);
    shift(&mut after, rebased + moved);
    items.extend(middle);
    items.extend(after);
    (Ast { items }, diagnostics)
}

/// Moves every span of `items` by `by` bytes.
fn shift(items: &mut [Item], by: i64) {
    if by == 0 {
        return;
    }
    let moved =
        |offset: u32| u32::try_from(i64::from(offset) + by).expect("a span inside the sources");
    for item in items {
        spans::for_each_item_span_mut(item, &mut |span| {
            *span = crate::source::Span::new(moved(span.start), moved(span.end));
        });
    }
}

/// The bytes `common_prefix` and `common_suffix` compare at a time.
const BLOCK: usize = 256;

/// How many bytes `a` and `b` start with in common, ending on a character
/// boundary of both.
fn common_prefix(a: &[u8], b: &[u8]) -> usize {
    let shorter = a.len().min(b.len());
    // Whole blocks first, compared as slices (a `memcmp`).
    let mut length = 0;
    while length + BLOCK <= shorter && a[length..length + BLOCK] == b[length..length + BLOCK] {
        length += BLOCK;
    }
    length += a[length..]
        .iter()
        .zip(&b[length..])
        .take_while(|(x, y)| x == y)
        .count();
    // Within a character, its first bytes matched: back up to its start.
    while length > 0 && length < a.len().min(b.len()) && (a[length] & 0xC0) == 0x80 {
        length -= 1;
    }
    length
}

/// How many bytes `a` and `b` end with in common, starting on a character
/// boundary of both.
fn common_suffix(a: &[u8], b: &[u8]) -> usize {
    let shorter = a.len().min(b.len());
    let mut length = 0;
    while length + BLOCK <= shorter
        && a[a.len() - length - BLOCK..a.len() - length]
            == b[b.len() - length - BLOCK..b.len() - length]
    {
        length += BLOCK;
    }
    length += a[..a.len() - length]
        .iter()
        .rev()
        .zip(b[..b.len() - length].iter().rev())
        .take_while(|(x, y)| x == y)
        .count();
    // Starting within a character: go on to the next one.
    while length > 0 && (a[a.len() - length] & 0xC0) == 0x80 {
        length -= 1;
    }
    length
}

/// Turns a pest failure into the most specific diagnostic we can give.
fn syntax_error(file: &SourceFile, item_start: usize, at: usize, expected: &[Rule]) -> Diagnostic {
    let text = file.text();
    let found = Token::at(text, at);
    let found_span = file.span(found.range.clone());

    // An unclosed string swallows the rest of its line, delimiters and all;
    // whatever fails after it is a consequence.
    if let Some((quote, end, raw)) = unterminated_string(text, item_start, at) {
        return build::unterminated_string(file.span(quote..quote + 1), file.span(end..end), raw);
    }

    if let Some(unclosed) = unclosed_delimiter(text, item_start, at, &found) {
        // Point at the item that the open block ran into, not at whichever
        // of its tokens pest tripped on.
        let found = match found.kind {
            TokenKind::End => found,
            _ => Token::at(text, line_start(text, at)),
        };
        let found_span = file.span(found.range.clone());
        let (line, _) = file.line_col(unclosed.open);
        let open = text.as_bytes()[unclosed.open] as char;
        let close = closing(open);
        let diagnostic = Diagnostic::new(
            Code::E0102,
            file.span(unclosed.open..unclosed.open + 1),
            format!("unclosed `{open}`"),
        )
        .label(format!("this `{open}` is never closed"))
        .secondary(
            found_span,
            match found.kind {
                TokenKind::End => format!("expected `{close}` before the end of the file"),
                _ => format!("expected `{close}` before {}", found.describe(text)),
            },
        );
        return match unclosed.misread_close {
            Some(close_at) => {
                let (close_line, _) = file.line_col(close_at);
                diagnostic
                    .secondary(
                        file.span(close_at..close_at + 1),
                        format!("this `{close}` closes the `{open}` of line {line}, but is indented like an outer block"),
                    )
                    .help(format!("add `{close}` where the block of line {line} ends, before line {close_line}"))
            }
            None => diagnostic.help(format!("add `{close}` where the block of line {line} ends")),
        };
    }

    if at == item_start {
        return match found.kind {
            TokenKind::Word => {
                let diagnostic = Diagnostic::new(
                    Code::E0107,
                    found_span,
                    format!("expected an item, found {}", found.describe(text)),
                )
                .label("not an item keyword");
                match suggest::closest(found.text(text), ItemKeyword::words()) {
                    Some(keyword) => diagnostic.help(format!("did you mean `{keyword}`?")),
                    None => diagnostic.help(items_help()),
                }
            }
            TokenKind::Punct if found.text(text) == "}" => {
                Diagnostic::new(Code::E0101, found_span, "unexpected `}`")
                    .label("this `}` closes no block")
                    .help("remove it, or look for a block above that was closed twice")
            }
            _ => Diagnostic::new(
                Code::E0101,
                found_span,
                format!("expected an item, found {}", found.describe(text)),
            )
            .label("expected an item")
            .help(match found.text(text) {
                "/" | "#" => COMMENTS_HELP.to_string(),
                _ => items_help(),
            }),
        };
    }

    let wanted = expected::list(expected);
    let diagnostic = Diagnostic::new(
        Code::E0101,
        found_span,
        format!("expected {wanted}, found {}", found.describe(text)),
    )
    .label(format!("expected {wanted}"));
    diagnostic.help(hint(text, at, &found, expected).unwrap_or_else(|| shape_of(expected, &wanted)))
}

/// How the construct being parsed is written, from what the parser
/// expected next: the help of an "expected …" error with no better hint.
fn shape_of(expected: &[Rule], wanted: &str) -> String {
    let expects = |rule: Rule| expected.contains(&rule);
    if expects(Rule::subject_kind) {
        "a grant is written `grant ROLE to user|group|serviceaccount \"NAME\" [as BINDING]`"
            .to_string()
    } else if expects(Rule::kw_dns) || expects(Rule::egress_peer) {
        "egress is written `egress allow to any|environment NAME|env NAME|external NAME [on tcp 443, …]` or `egress allow dns`".to_string()
    } else if expects(Rule::ingress_peer) || expects(Rule::kw_from) {
        "ingress is written `ingress allow from environment NAME|env NAME|external NAME [on tcp 8080, …]`"
            .to_string()
    } else if expects(Rule::rbracket) {
        "the items of a list are separated by commas, and the list ends with `]`".to_string()
    } else if expects(Rule::expr) {
        "give it a value, such as `10`, `2Gi`, `\"text\"`, a name, a list `[…]` or a block `{ … }`"
            .to_string()
    } else if expects(Rule::rbrace) {
        "close the block with `}`, or continue it with a field (`key = value`) or a statement"
            .to_string()
    } else {
        format!("write {wanted} here; `envk explain E0101` shows how to read this error")
    }
}

const COMMENTS_HELP: &str = "comments start with `//` and run to the end of the line";

/// "a file is made of `import`, `cluster`, … and `alert` items".
fn items_help() -> String {
    let (last, init) = ItemKeyword::ALL
        .split_last()
        .expect("there are item keywords");
    let init: Vec<&str> = init.iter().map(|keyword| keyword.quoted()).collect();
    format!(
        "a file is made of {} and {} items",
        init.join(", "),
        last.quoted()
    )
}

/// Extra advice for the mistakes people make most.
fn hint(text: &str, at: usize, found: &Token, expected: &[Rule]) -> Option<String> {
    let found_text = found.text(text);
    let expects = |rule: Rule| expected.contains(&rule);
    if found_text == ":" && expects(Rule::assign) {
        return Some("fields are written `key = value`".to_string());
    }
    if expects(Rule::number)
        && previous_word(text, at).is_some_and(|w| ["tcp", "udp", "sctp"].contains(&w))
    {
        return Some(
            "a port is a number from 1 to 65535, such as `tcp 8080`; named ports are not supported"
                .to_string(),
        );
    }
    if found_text == "/" && expects(Rule::assign) {
        return Some("quote a key that contains `/`: `\"app.kubernetes.io/name\" = …`".to_string());
    }
    if found_text == "/" || found_text == "#" {
        return Some(COMMENTS_HELP.to_string());
    }
    if found.kind == TokenKind::Number
        && expects(Rule::assign)
        && previous_word(text, at).is_some_and(|word| ["tcp", "udp", "sctp"].contains(&word))
    {
        return Some("separate ports with commas: `tcp 80, tcp 443`".to_string());
    }
    if expects(Rule::block) || expects(Rule::lbrace) {
        let mut words = without_trailing_trivia(text, at).split_whitespace().rev();
        if let (Some(name), Some(keyword)) = (words.next(), words.next())
            && ValueKeyword::from_word(keyword).is_some()
        {
            return Some(format!(
                "to use a value declared with `let`, write `{keyword} = {name}`"
            ));
        }
    }
    if found_text == ";" {
        return Some(
            "envk has no semicolons: separate fields with spaces or new lines".to_string(),
        );
    }
    if expects(Rule::assign) && (expects(Rule::block) || expects(Rule::lbrace)) {
        // `grnat devops to …` parses `grnat` as a field key, then fails.
        let before = previous_word(text, at)?;
        let keyword = suggest::closest(before, StatementKeyword::words())?;
        return Some(format!(
            "`{before}` is read as a field name; did you mean the statement `{keyword}`?"
        ));
    }
    None
}

/// The word that ends right before `at`, skipping spaces and comments.
fn previous_word(text: &str, at: usize) -> Option<&str> {
    let before = without_trailing_trivia(text, at);
    // Trimming by characters keeps the cut on a character boundary, whatever
    // precedes the word (`—` in a comment is three bytes).
    let start = before
        .trim_end_matches(|c: char| c.is_ascii_alphanumeric() || c == '_' || c == '-')
        .len();
    let word = &before[start..];
    (!word.is_empty()).then_some(word)
}

/// `text[..at]` without the spaces and `//` comments it ends with: the
/// words of a comment are no token the parser saw, and a hint must not
/// name them.
fn without_trailing_trivia(text: &str, at: usize) -> &str {
    let mut end = at;
    loop {
        let before = text[..end].trim_end();
        // The line is walked as the lexer reads it rather than searched for
        // `//`: `"http://…"` holds no comment.
        let mut comment = None;
        walk_delimiters(
            text,
            line_start(text, before.len()),
            before.len(),
            |event| match event {
                Scan::Comment(start, _) => {
                    comment = Some(start);
                    false
                }
                Scan::Delimiter(..) | Scan::UnterminatedString { .. } => true,
            },
        );
        match comment {
            Some(start) => end = start,
            None => return before,
        }
    }
}

#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum TokenKind {
    End,
    Word,
    Number,
    Str,
    Punct,
}

/// The token at an error position, for "found …".
struct Token {
    kind: TokenKind,
    range: std::ops::Range<usize>,
}

impl Token {
    fn at(text: &str, at: usize) -> Token {
        let rest = &text[at..];
        let Some(first) = rest.chars().next() else {
            return Token {
                kind: TokenKind::End,
                range: text.len()..text.len(),
            };
        };
        let run = |accept: fn(char) -> bool| {
            rest.char_indices()
                .find(|&(_, c)| !accept(c))
                .map_or(rest.len(), |(i, _)| i)
        };
        let (kind, len) = if first.is_ascii_alphabetic() || first == '_' {
            (
                TokenKind::Word,
                run(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-'),
            )
        } else if first.is_ascii_digit() {
            (
                TokenKind::Number,
                run(|c| c.is_ascii_alphanumeric() || c == '.' || c == '%' || c == '_'),
            )
        } else if first == '"' || first == '`' {
            (TokenKind::Str, 1)
        } else {
            (TokenKind::Punct, first.len_utf8())
        };
        Token {
            kind,
            range: at..at + len,
        }
    }

    fn text<'t>(&self, text: &'t str) -> &'t str {
        &text[self.range.clone()]
    }

    fn describe(&self, text: &str) -> String {
        match self.kind {
            TokenKind::End => "end of file".to_string(),
            TokenKind::Str => "a string".to_string(),
            TokenKind::Word | TokenKind::Number | TokenKind::Punct => {
                let token = self.text(text);
                match token.char_indices().nth(40) {
                    Some((cut, _)) => format!("`{}…`", &token[..cut]),
                    None => format!("`{token}`"),
                }
            }
        }
    }
}

/// Where the next top-level item is likely to start after `from`'s line: the
/// next line that begins, in column 0, with an item keyword. The end of the
/// text if there is none.
fn next_item_line(text: &str, from: usize) -> usize {
    let mut line = match text[from..].find('\n') {
        Some(newline) => from + newline + 1,
        None => return text.len(),
    };
    while line < text.len() {
        let rest = &text[line..];
        if starts_with_item_keyword(rest) {
            return line;
        }
        line = match rest.find('\n') {
            Some(newline) => line + newline + 1,
            None => text.len(),
        };
    }
    text.len()
}

fn starts_with_item_keyword(line: &str) -> bool {
    ItemKeyword::words().any(|keyword| {
        line.strip_prefix(keyword).is_some_and(|after| {
            let after_keyword = after.trim_start_matches([' ', '\t']);
            after.starts_with([' ', '\t'])
                && !after_keyword.starts_with('=')
                && !after_keyword.starts_with(':')
        })
    })
}

fn line_start(text: &str, at: usize) -> usize {
    text[..at].rfind('\n').map_or(0, |newline| newline + 1)
}

/// Skips whitespace and `//` comments.
fn skip_trivia(text: &str, mut pos: usize) -> usize {
    let bytes = text.as_bytes();
    loop {
        while pos < bytes.len() && matches!(bytes[pos], b' ' | b'\t' | b'\r' | b'\n') {
            pos += 1;
        }
        if bytes[pos..].starts_with(b"//") {
            pos = text[pos..]
                .find('\n')
                .map_or(text.len(), |newline| pos + newline);
        } else {
            return pos;
        }
    }
}

fn closing(open: char) -> char {
    match open {
        '{' => '}',
        '[' => ']',
        _ => ')',
    }
}

enum Scan {
    Delimiter(usize, u8),
    /// A `//` comment: its byte range, without the line break.
    Comment(usize, usize),
    /// A string that reaches the end of its line (`"`) or of the file (raw).
    UnterminatedString {
        quote: usize,
        end: usize,
        raw: bool,
    },
}

/// Walks `text[from..to]` lexically, reporting delimiters, comments and
/// unterminated strings (the inside of strings is skipped) until `visit`
/// returns false. The one place that knows how strings and comments end.
fn walk_delimiters(text: &str, from: usize, to: usize, mut visit: impl FnMut(Scan) -> bool) {
    let bytes = text.as_bytes();
    let mut i = from;
    while i < to {
        match bytes[i] {
            b'/' if bytes.get(i + 1) == Some(&b'/') => {
                let end = text[i..]
                    .find('\n')
                    .map_or(text.len(), |newline| i + newline);
                if !visit(Scan::Comment(i, end)) {
                    return;
                }
                i = end;
            }
            b'"' => {
                let quote = i;
                i += 1;
                while i < bytes.len() && bytes[i] != b'"' && bytes[i] != b'\n' {
                    i += if bytes[i] == b'\\' && bytes.get(i + 1) != Some(&b'\n') {
                        2
                    } else {
                        1
                    };
                }
                let end = i.min(bytes.len());
                if (i >= bytes.len() || bytes[i] == b'\n')
                    && !visit(Scan::UnterminatedString {
                        quote,
                        end,
                        raw: false,
                    })
                {
                    return;
                }
                i += 1;
            }
            b'`' => {
                let quote = i;
                i += 1;
                while i < bytes.len() && bytes[i] != b'`' {
                    i += 1;
                }
                if i >= bytes.len()
                    && !visit(Scan::UnterminatedString {
                        quote,
                        end: i,
                        raw: true,
                    })
                {
                    return;
                }
                i += 1;
            }
            byte @ (b'{' | b'[' | b'(' | b'}' | b']' | b')') => {
                if !visit(Scan::Delimiter(i, byte)) {
                    return;
                }
                i += 1;
            }
            _ => i += 1,
        }
    }
}

/// The local byte range of every `//` comment, in order (strings skipped):
/// the AST has no comments, and the formatter puts these back.
pub(crate) fn comments(text: &str) -> Vec<(usize, usize)> {
    let mut found = Vec::new();
    walk_delimiters(text, 0, text.len(), |event| {
        if let Scan::Comment(start, end) = event {
            found.push((start, end));
        }
        true
    });
    found
}

/// The first string starting in `text[from..to]` that is never closed:
/// (opening quote, where it ends, raw).
fn unterminated_string(text: &str, from: usize, to: usize) -> Option<(usize, usize, bool)> {
    let mut found = None;
    walk_delimiters(text, from, to, |event| match event {
        Scan::UnterminatedString { quote, end, raw } => {
            found = Some((quote, end, raw));
            false
        }
        Scan::Delimiter(..) | Scan::Comment(..) => true,
    });
    found
}

/// The first opening delimiter in `text[from..to]` nested deeper than
/// `MAX_NESTING`, counted from `from`; or the first word that nests deeper
/// without one: a run of `not`s (`not not … x`) is as deep as it is long,
/// and in a policy every `not`, quantifier and `implies` nests what
/// follows it (at most `MAX_POLICY_NESTING` of them).
fn too_deep(text: &str, from: usize, to: usize) -> Option<usize> {
    let mut depth = 0usize;
    // The `not`s since the last token that is neither `not` nor `(`.
    let mut nots = 0usize;
    let policy = text[from..].starts_with("policy");
    let mut policy_words = 0usize;
    let mut found = None;
    let mut last = from;
    // The first word of `text[from..to]` too deeply nested, counting on.
    let mut too_deep_word = |from: usize, to: usize, depth: usize, nots: &mut usize| {
        words(text, from, to).find_map(|(at, word)| {
            match word {
                "not" => *nots += 1,
                _ => *nots = 0,
            }
            if policy && matches!(word, "not" | "all" | "any" | "none" | "implies") {
                policy_words += 1;
            }
            (depth + *nots > MAX_NESTING || policy_words > MAX_POLICY_NESTING).then_some(at)
        })
    };
    walk_delimiters(text, from, to, |event| {
        // What lies between two events: words and operators.
        let between_end = match &event {
            Scan::Delimiter(at, _) => *at,
            Scan::Comment(start, _) => *start,
            Scan::UnterminatedString { quote, .. } => *quote,
        };
        if let Some(at) = too_deep_word(last, between_end, depth, &mut nots) {
            found = Some(at);
            return false;
        }
        last = match &event {
            Scan::Delimiter(at, _) => at + 1,
            Scan::Comment(_, end) => *end,
            Scan::UnterminatedString { end, .. } => *end,
        };
        let Scan::Delimiter(at, byte) = event else {
            return true;
        };
        match byte {
            b'(' => {}
            _ => nots = 0,
        }
        match byte {
            b'{' | b'[' | b'(' => {
                depth += 1;
                if depth + nots > MAX_NESTING {
                    found = Some(at);
                    return false;
                }
            }
            _ => depth = depth.saturating_sub(1),
        }
        true
    });
    found.or_else(|| too_deep_word(last, to, depth, &mut nots))
}

/// The tokens of `text[from..to]`, which holds no string, comment or
/// delimiter: each word (a name, a number, a keyword) and each run of
/// other characters (`==`, `:`, `*`) with where it starts.
fn words(text: &str, from: usize, to: usize) -> impl Iterator<Item = (usize, &str)> {
    let bytes = text.as_bytes();
    let is_word =
        |byte: u8| byte.is_ascii_alphanumeric() || byte == b'_' || byte == b'-' || byte == b'.';
    let mut at = from;
    std::iter::from_fn(move || {
        while at < to && bytes[at].is_ascii_whitespace() {
            at += 1;
        }
        if at >= to {
            return None;
        }
        let start = at;
        let word = is_word(bytes[at]);
        while at < to && !bytes[at].is_ascii_whitespace() && is_word(bytes[at]) == word {
            at += 1;
        }
        // A character that is neither (a multi-byte one) is a token alone.
        if at == start {
            at += text[at..].chars().next().map_or(1, char::len_utf8);
        }
        Some((start, &text[start..at]))
    })
}

struct Unclosed {
    open: usize,
    /// The closer that, judging by its indentation, was meant for an outer
    /// block, so `open` is the one really left unclosed.
    misread_close: Option<usize>,
}

/// When parsing stopped at the end of the file or at the next item while a
/// delimiter was still open, that delimiter is the real error.
fn unclosed_delimiter(text: &str, item_start: usize, at: usize, found: &Token) -> Option<Unclosed> {
    let error_line = line_start(text, at);
    let at_next_item = error_line > item_start && starts_with_item_keyword(&text[error_line..]);
    if found.kind != TokenKind::End && !at_next_item {
        return None;
    }
    let indent = |offset: usize| {
        let start = line_start(text, offset);
        text[start..]
            .bytes()
            .take_while(|b| *b == b' ' || *b == b'\t')
            .count()
    };
    let first_on_line = |offset: usize| text[line_start(text, offset)..offset].trim().is_empty();
    let mut stack: Vec<usize> = Vec::new();
    // (opener, closer): a closer alone on its line, indented like an outer
    // opener's line rather than like the opener it actually closes.
    let mut misread: Option<(usize, usize)> = None;
    walk_delimiters(text, item_start, at, |event| {
        let Scan::Delimiter(offset, byte) = event else {
            return true;
        };
        match byte {
            b'{' | b'[' | b'(' => stack.push(offset),
            _ => {
                if let Some(open) = stack.pop() {
                    if misread.is_none()
                        && first_on_line(offset)
                        && indent(offset) != indent(open)
                        && stack.iter().any(|&outer| indent(outer) == indent(offset))
                    {
                        misread = Some((open, offset));
                    }
                }
            }
        }
        true
    });
    let innermost = *stack.last()?;
    Some(match misread {
        Some((open, close)) => Unclosed {
            open,
            misread_close: Some(close),
        },
        None => Unclosed {
            open: innermost,
            misread_close: None,
        },
    })
}

#[cfg(test)]
mod tests;
