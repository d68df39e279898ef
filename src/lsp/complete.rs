//! Completion: what may be written at the cursor.
//!
//! The context is read from the text as the editor has it, not from the
//! last tree, which a half-written line would leave out: a scan from the
//! top of the file to the cursor (strings and comments skipped) gives the
//! blocks the cursor is in, each by the words before its `{`, and the
//! words of the statement being written. The blocks map to the field
//! table (`check::schema`), the words to what comes next: item keywords
//! at the top level, a block's fields and statements at the start of a
//! statement, declared names where a reference goes (tiers after `tier`,
//! clusters after `on`, roles after `grant`, templates after `alert`,
//! receivers after `route … to`), enum values after `=`, units after a
//! number, and a template's parameters inside an alert's block.

use lsp_types::{CompletionItem, CompletionItemKind, Documentation};

use crate::check::schema::{self, Field, Type};
use crate::model::{Environment, PodSecurity, QuotaKey};
use crate::resolve::refs::DeclKind;
use crate::syntax::ast::{Item, ItemKind};
use crate::syntax::keywords::{ItemKeyword, StatementKeyword};

use super::analysis::Analysis;

/// What may be written at local byte `offset` of `text`, a file of the
/// program `analysis` checked (its names are the program's).
pub fn complete(analysis: &Analysis, text: &str, offset: usize) -> Vec<CompletionItem> {
    let offset = offset.min(text.len());
    let start = item_start(text, offset);
    if text[start..].starts_with("policy") && text[start..offset].contains('{') {
        return policy_completion(&text[start..offset]);
    }
    let Some(context) = Context::read(&text[start..offset]) else {
        return Vec::new();
    };
    let mut items = Vec::new();
    let block = context.block(analysis);
    let words = &context.words;
    let previous = words.last().map(String::as_str);
    let first = words.first().map(String::as_str);
    let names = |kind: DeclKind, items: &mut Vec<CompletionItem>| {
        let mut seen: Vec<&str> = analysis
            .run
            .references
            .decls()
            .filter(|(_, decl)| decl.kind == kind)
            .map(|(_, decl)| decl.name.as_str())
            .collect();
        seen.sort_unstable();
        seen.dedup();
        items.extend(
            seen.into_iter()
                .map(|name| item(name, CompletionItemKind::REFERENCE, Some(kind.noun()), None)),
        );
    };
    if context.partial.starts_with(|c: char| c.is_ascii_digit()) {
        units(&context, block, &mut items);
        return items;
    }
    let in_list = |keyword: &str| {
        words
            .iter()
            .rposition(|word| word == keyword)
            .is_some_and(|at| {
                words[at + 1..].iter().any(|word| word == "[")
                    && !words[at + 1..].iter().any(|word| word == "]")
            })
    };
    match previous {
        None => match block {
            Block::Top => items.extend(ItemKeyword::ALL.iter().map(|keyword| {
                item(
                    keyword.as_str(),
                    CompletionItemKind::KEYWORD,
                    Some("item"),
                    None,
                )
            })),
            Block::Fields(fields, statements) => {
                items.extend(fields.iter().map(field_item));
                items.extend(statements.iter().map(|keyword| {
                    item(
                        keyword.as_str(),
                        CompletionItemKind::KEYWORD,
                        Some("statement"),
                        None,
                    )
                }));
            }
            Block::Keys(keys) => items.extend(
                keys.iter()
                    .map(|key| item(key, CompletionItemKind::PROPERTY, None, None)),
            ),
            Block::Params(params) => items.extend(params),
            Block::Free => {}
        },
        Some("on") => names(DeclKind::Cluster, &mut items),
        Some(_) if in_list("on") => names(DeclKind::Cluster, &mut items),
        Some("extends") => names(DeclKind::Tier, &mut items),
        Some("tier") if words.iter().any(|word| word == "on") => names(DeclKind::Tier, &mut items),
        Some("grant") if matches!(block, Block::Top) => names(DeclKind::ClusterRole, &mut items),
        Some("grant") => names(DeclKind::Role, &mut items),
        Some("alert") if !matches!(block, Block::Top) => names(DeclKind::AlertTemplate, &mut items),
        Some(_) if first == Some("require") && in_list("alerts") => {
            names(DeclKind::AlertTemplate, &mut items)
        }
        Some("to") if first == Some("route") => names(DeclKind::Receiver, &mut items),
        Some("env") if matches!(first, Some("ingress" | "egress")) => {
            names(DeclKind::Env, &mut items)
        }
        Some("external") if matches!(first, Some("ingress" | "egress")) => {
            names(DeclKind::External, &mut items)
        }
        Some("environment") if matches!(first, Some("ingress" | "egress")) => {
            items.extend(environments())
        }
        Some(_) if first == Some("accept") && in_list("from") => items.extend(environments()),
        Some("=") => {
            let field = words.len().checked_sub(2).map(|at| words[at].as_str());
            if let Some(field) = field.and_then(|name| block.field(name)) {
                items.extend(values(field));
            }
            names(DeclKind::Let, &mut items);
        }
        Some(_) => {}
    }
    items
}

/// What the value written at local byte `offset` of `text` is read as:
/// the type of the field (or of the quota's resource) it is assigned to.
pub fn value_type(analysis: &Analysis, text: &str, offset: usize) -> Option<Type> {
    let offset = offset.min(text.len());
    let context = Context::read(&text[item_start(text, offset)..offset])?;
    let block = context.block(analysis);
    assigned_type(&context, &block)
}

fn assigned_type(context: &Context, block: &Block) -> Option<Type> {
    let key = match context.words.as_slice() {
        [.., key, equals] if equals == "=" => key.as_str(),
        _ => return None,
    };
    block.field(key).map(|field| field.ty).or_else(|| {
        QuotaKey::ALL
            .iter()
            .find(|quota| quota.as_str() == key)
            .map(|quota| match quota.dimension() {
                crate::model::Dimension::Cpu => Type::Cpu,
                crate::model::Dimension::Memory => Type::Memory,
                crate::model::Dimension::Count => Type::Count,
            })
    })
}

/// Where the top-level item the cursor is in starts: the last line before
/// it that starts, in column 0, with an item keyword (the parser's own
/// rule for where an item begins, when it recovers). The context is read
/// from there, not from the top of a file of thousands of items.
fn item_start(text: &str, offset: usize) -> usize {
    let mut end = offset;
    while let Some(newline) = text[..end].rfind('\n') {
        let line = &text[newline + 1..];
        if starts_an_item(line) {
            return newline + 1;
        }
        end = newline;
    }
    0
}

fn starts_an_item(line: &str) -> bool {
    let word_end = line
        .find(|c: char| !(c.is_ascii_alphanumeric() || c == '_'))
        .unwrap_or(line.len());
    ItemKeyword::from_word(&line[..word_end]).is_some()
        && line[word_end..].starts_with([' ', '{', '"', '\t'])
}

/// The units a number may take where it is written.
fn units(context: &Context, block: Block, items: &mut Vec<CompletionItem>) {
    let ty = assigned_type(context, &block);
    let suffixes: &[(&str, &str)] = match ty {
        Some(Type::Cpu) => &[("m", "milli-cores: `500m` is half a core")],
        Some(Type::Memory) => &[
            ("Mi", "mebibytes (2^20 bytes)"),
            ("Gi", "gibibytes (2^30 bytes)"),
            ("Ki", "kibibytes (2^10 bytes)"),
            ("Ti", "tebibytes (2^40 bytes)"),
            ("M", "megabytes (10^6 bytes)"),
            ("G", "gigabytes (10^9 bytes)"),
        ],
        Some(Type::Duration) => &[
            ("s", "seconds"),
            ("m", "minutes"),
            ("h", "hours"),
            ("ms", "milliseconds"),
            ("d", "days"),
        ],
        _ => &[],
    };
    let number: String = context
        .partial
        .chars()
        .take_while(|c| c.is_ascii_digit() || *c == '.')
        .collect();
    items.extend(suffixes.iter().map(|(suffix, doc)| CompletionItem {
        label: format!("{number}{suffix}"),
        kind: Some(CompletionItemKind::UNIT),
        detail: Some((*doc).to_string()),
        ..CompletionItem::default()
    }));
}

fn environments() -> Vec<CompletionItem> {
    Environment::ALL
        .iter()
        .map(|environment| {
            item(
                environment.as_str(),
                CompletionItemKind::ENUM_MEMBER,
                Some("environment"),
                None,
            )
        })
        .collect()
}

/// The values a field's type names.
fn values(field: &Field) -> Vec<CompletionItem> {
    let words: Vec<&str> = match field.ty {
        Type::Environment => Environment::ALL.iter().map(|e| e.as_str()).collect(),
        Type::PodSecurity => PodSecurity::ALL
            .iter()
            .map(|level| level.as_str())
            .collect(),
        Type::Word { words, .. } => words.to_vec(),
        Type::Bool => vec!["true", "false"],
        _ => Vec::new(),
    };
    words
        .into_iter()
        .map(|word| {
            item(
                word,
                CompletionItemKind::ENUM_MEMBER,
                Some(field.name),
                None,
            )
        })
        .collect()
}

fn field_item(field: &Field) -> CompletionItem {
    // A value its block types itself (labels, a deploy block) is said by
    // the doc alone.
    let ty = match field.ty {
        Type::Value => None,
        ty => Some(ty.describe()),
    };
    item(
        field.name,
        CompletionItemKind::FIELD,
        ty.as_deref(),
        Some(field.doc),
    )
}

fn item(
    label: &str,
    kind: CompletionItemKind,
    detail: Option<&str>,
    doc: Option<&str>,
) -> CompletionItem {
    CompletionItem {
        label: label.to_string(),
        kind: Some(kind),
        detail: detail.map(str::to_string),
        documentation: doc.map(|doc| Documentation::String(doc.to_string())),
        ..CompletionItem::default()
    }
}

/// What the block the cursor is in holds.
#[derive(Clone)]
enum Block {
    /// Items: the top level, or the body of a top-level `for` or `if`.
    Top,
    /// A block of the field table, and the statements it takes.
    Fields(&'static [Field], &'static [StatementKeyword]),
    /// A block of data keys: a quota's or a ceiling's resources.
    Keys(Vec<&'static str>),
    /// An alert's block in an env: its template's parameters.
    Params(Vec<CompletionItem>),
    /// A block whose keys are the user's (labels) or unknown here.
    Free,
}

impl Block {
    fn field(&self, name: &str) -> Option<&'static Field> {
        match self {
            Block::Fields(fields, _) => fields.iter().find(|field| field.name == name),
            _ => None,
        }
    }
}

/// The statements each block of the field table takes besides its
/// fields, as the checker reads them.
fn statements(table: &'static [Field]) -> &'static [StatementKeyword] {
    use StatementKeyword as S;
    if std::ptr::eq(table, schema::ENV) {
        &[
            S::Grant,
            S::Ingress,
            S::Egress,
            S::Metrics,
            S::Stage,
            S::Alert,
            S::Quota,
            S::Limits,
            S::If,
            S::For,
        ]
    } else if std::ptr::eq(table, schema::TIER) {
        &[S::Forbid, S::Require, S::Accept, S::Metrics]
    } else {
        &[]
    }
}

/// The text before the cursor, read: the blocks open there and the words
/// of the statement being written.
struct Context {
    /// For each open `{`, the words written before it in its statement.
    blocks: Vec<Vec<String>>,
    /// The words of the statement before the one being typed.
    words: Vec<String>,
    /// The word being typed.
    partial: String,
}

impl Context {
    /// None inside a string or a comment.
    fn read(text: &str) -> Option<Context> {
        let mut blocks: Vec<Vec<String>> = Vec::new();
        let mut words: Vec<String> = Vec::new();
        let mut word = String::new();
        let mut chars = text.chars().peekable();
        let end_word = |word: &mut String, words: &mut Vec<String>| {
            if !word.is_empty() {
                words.push(std::mem::take(word));
            }
        };
        while let Some(c) = chars.next() {
            match c {
                '/' if chars.peek() == Some(&'/') => {
                    end_word(&mut word, &mut words);
                    let mut closed = false;
                    for c in chars.by_ref() {
                        if c == '\n' {
                            closed = true;
                            break;
                        }
                    }
                    if !closed {
                        return None;
                    }
                    words.clear();
                }
                '"' | '`' => {
                    end_word(&mut word, &mut words);
                    let mut closed = false;
                    while let Some(inner) = chars.next() {
                        if inner == '\\' && c == '"' {
                            chars.next();
                        } else if inner == c {
                            closed = true;
                            break;
                        }
                    }
                    if !closed {
                        return None;
                    }
                    words.push("\"…\"".to_string());
                }
                '{' => {
                    end_word(&mut word, &mut words);
                    blocks.push(std::mem::take(&mut words));
                }
                '}' => {
                    end_word(&mut word, &mut words);
                    blocks.pop();
                    words.clear();
                }
                '\n' => {
                    end_word(&mut word, &mut words);
                    // A statement ends at its line, unless a list goes on.
                    let open = words.iter().filter(|w| *w == "[").count()
                        > words.iter().filter(|w| *w == "]").count();
                    if !open {
                        words.clear();
                    }
                }
                '[' | ']' | '=' | ',' | '(' | ')' | '*' | ':' => {
                    end_word(&mut word, &mut words);
                    if c != ',' {
                        words.push(c.to_string());
                    }
                }
                c if c.is_whitespace() => end_word(&mut word, &mut words),
                c => word.push(c),
            }
        }
        Some(Context {
            blocks,
            words,
            partial: word,
        })
    }

    /// What the innermost block holds.
    fn block(&self, analysis: &Analysis) -> Block {
        let mut block = Block::Top;
        for opener in &self.blocks {
            let head = opener.first().map(String::as_str).unwrap_or("");
            block = match (&block, head) {
                // The bodies of `for`, `if` and `else` hold what their
                // parent holds.
                (_, "for" | "if" | "else") => block,
                (Block::Top, keyword) => match ItemKeyword::from_word(keyword) {
                    Some(ItemKeyword::Cluster) => fields(schema::CLUSTER),
                    Some(ItemKeyword::Tier) => fields(schema::TIER),
                    Some(ItemKeyword::Env) => fields(schema::ENV),
                    Some(ItemKeyword::External) => fields(schema::EXTERNAL),
                    Some(ItemKeyword::Resource) => fields(schema::RESOURCE),
                    Some(ItemKeyword::Receiver) => fields(schema::RECEIVER),
                    Some(ItemKeyword::GitOps) => fields(schema::GITOPS),
                    Some(ItemKeyword::Federation) => fields(schema::FEDERATION),
                    Some(ItemKeyword::Alert) => fields(schema::ALERT_TEMPLATE),
                    Some(ItemKeyword::Let) if opener.iter().any(|word| word == "quota") => {
                        quota_keys()
                    }
                    _ => Block::Free,
                },
                (Block::Fields(table, _), "stage") if std::ptr::eq(*table, schema::ENV) => {
                    fields(schema::ENV)
                }
                (Block::Fields(..), "quota") => quota_keys(),
                (Block::Fields(..), "alert") => {
                    Block::Params(params(analysis, opener.get(1).map(String::as_str)))
                }
                (Block::Fields(table, _), name) => match block.field(name).map(|f| f.ty) {
                    Some(Type::Block(nested)) => fields(nested.fields),
                    _ if std::ptr::eq(*table, schema::ENV) && name == "deploy" => {
                        fields(schema::DEPLOY)
                    }
                    _ if name == "ceiling" => quota_keys(),
                    _ => Block::Free,
                },
                _ => Block::Free,
            };
        }
        block
    }
}

fn fields(table: &'static [Field]) -> Block {
    Block::Fields(table, statements(table))
}

fn quota_keys() -> Block {
    Block::Keys(QuotaKey::ALL.iter().map(|key| key.as_str()).collect())
}

/// The parameters of the template named `template`, with their types and
/// defaults.
fn params(analysis: &Analysis, template: Option<&str>) -> Vec<CompletionItem> {
    let Some(template) = template else {
        return Vec::new();
    };
    let references = &analysis.run.references;
    let Some(decl) = references
        .decls()
        .map(|(_, decl)| decl)
        .find(|decl| decl.kind == DeclKind::AlertTemplate && decl.name == template)
    else {
        return Vec::new();
    };
    let sources = &analysis.run.sources;
    let file = sources.file_of(decl.span);
    let Some(ast) = analysis.ast(file) else {
        return Vec::new();
    };
    let mut found = Vec::new();
    find_template(&ast.items, decl.span, &mut |params| {
        for param in params {
            found.push(item(
                &param.name.text,
                CompletionItemKind::PROPERTY,
                Some(sources.snippet(param.span)),
                Some("a parameter of the alert template"),
            ));
        }
    });
    found
}

fn find_template(
    items: &[Item],
    name: crate::source::Span,
    found: &mut dyn FnMut(&[crate::syntax::ast::Param]),
) {
    for item in items {
        match &item.kind {
            ItemKind::AlertTemplate(template) if template.name.span() == name => {
                found(&template.params)
            }
            ItemKind::For(each) => find_template(&each.items, name, found),
            _ => {}
        }
    }
}

/// Completion inside a `policy` item, from its text up to the cursor:
/// after `x.`, the fields of what `x.` is (through the quantifiers'
/// variables, typed by their collections); elsewhere the variables in
/// scope, the collections and the predicate's words.
fn policy_completion(text: &str) -> Vec<CompletionItem> {
    use crate::check::policy::shape::{self, Ty};
    let partial_start = text
        .rfind(|c: char| !(c.is_ascii_alphanumeric() || matches!(c, '_' | '-' | '.')))
        .map_or(0, |at| at + 1);
    let partial = &text[partial_start..];
    // Strings cannot hold what is completed; their text is left out so
    // that a word in one is not read as a variable.
    let mut code = String::with_capacity(partial_start);
    let mut quote = None;
    for c in text[..partial_start].chars() {
        match quote {
            Some(open) if c == open => quote = None,
            Some(_) => {}
            None if c == '"' || c == '`' => quote = Some(c),
            None => code.push(c),
        }
    }
    let words: Vec<&str> = code
        .split(|c: char| {
            c.is_whitespace() || matches!(c, '(' | ')' | '{' | '}' | '[' | ']' | ':' | ',')
        })
        .filter(|word| !word.is_empty())
        .collect();
    let mut vars: Vec<(String, shape::Kind)> = Vec::new();
    for window in words.windows(4) {
        if let [quantifier, var, "in", collection] = window
            && matches!(*quantifier, "all" | "any" | "none" | "count" | "unique")
            && let Some(Ty::List(kind)) = shape::path_type(collection, &vars)
        {
            vars.push((var.to_string(), kind));
        }
    }
    if let Some((prefix, _)) = partial.rsplit_once('.') {
        let Some(Ty::Object(kind)) = shape::path_type(prefix, &vars) else {
            return Vec::new();
        };
        return shape::fields(kind)
            .iter()
            .map(|field| {
                let detail = match field.optional {
                    true => format!("{}, may be unset", field.ty.describe()),
                    false => field.ty.describe(),
                };
                let doc = (!field.doc.is_empty()).then_some(field.doc);
                item(field.name, CompletionItemKind::FIELD, Some(&detail), doc)
            })
            .collect();
    }
    // `severity = |`: the field's values.
    if code.trim_end().ends_with('=') && !code.trim_end().ends_with("==") {
        return schema::POLICY.iter().flat_map(values).collect();
    }
    let mut items: Vec<CompletionItem> = schema::POLICY.iter().map(field_item).collect();
    for (name, kind) in vars.iter().rev() {
        if !items.iter().any(|item| item.label == *name) {
            items.push(item(
                name,
                CompletionItemKind::VARIABLE,
                Some(kind.noun()),
                None,
            ));
        }
    }
    items.extend(shape::COLLECTIONS.iter().map(|(name, kind, doc)| {
        let detail = format!("the {}", kind.plural());
        item(name, CompletionItemKind::MODULE, Some(&detail), Some(doc))
    }));
    items.extend(
        [
            "all",
            "any",
            "none",
            "where",
            "count",
            "unique",
            "per",
            "not",
            "and",
            "or",
            "implies",
            "has",
            "in",
            "matches",
            "starts_with",
        ]
        .map(|word| item(word, CompletionItemKind::KEYWORD, None, None)),
    );
    items
}

#[cfg(test)]
mod tests {
    //! The context read from the start of the cursor's item is the one
    //! read from the top of the file, everywhere in the examples.

    use super::*;

    fn shown(context: &Context, analysis: &Analysis) -> String {
        let block = match context.block(analysis) {
            Block::Top => "top".to_string(),
            Block::Fields(fields, _) => format!("fields {:p}", fields.as_ptr()),
            Block::Keys(keys) => format!("keys {keys:?}"),
            Block::Params(params) => format!(
                "params {:?}",
                params.iter().map(|p| p.label.clone()).collect::<Vec<_>>()
            ),
            Block::Free => "free".to_string(),
        };
        format!("{block} {:?} {:?}", context.words, context.partial)
    }

    #[test]
    fn reading_from_the_item_is_reading_from_the_top() {
        for root in [
            "examples/enterprise.env.k",
            "examples/multi-team/main.env.k",
            "examples/regions/main.env.k",
        ] {
            let run = crate::driver::check(&[std::path::PathBuf::from(root)]).expect("readable");
            let analysis = Analysis {
                run,
                goal: crate::check::Goal::Model,
            };
            let mut compared = 0;
            for file in analysis.run.sources.files() {
                let text = file.text();
                for offset in (0..text.len())
                    .step_by(7)
                    .filter(|&at| text.is_char_boundary(at))
                {
                    let whole = Context::read(&text[..offset]);
                    let from_item = Context::read(&text[item_start(text, offset)..offset]);
                    match (whole, from_item) {
                        (None, None) => {}
                        (Some(whole), Some(from_item)) => {
                            assert_eq!(
                                shown(&whole, &analysis),
                                shown(&from_item, &analysis),
                                "{} at {offset}",
                                file.name()
                            );
                            compared += 1;
                        }
                        (whole, from_item) => panic!(
                            "{} at {offset}: in a string or comment read whole: {}, from the item: {}",
                            file.name(),
                            whole.is_none(),
                            from_item.is_none()
                        ),
                    }
                }
            }
            assert!(compared > 1000, "{root}: {compared} places compared");
        }
    }
}
