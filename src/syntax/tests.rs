use super::ast::*;
use super::*;
use crate::source::SourceMap;

fn parse_text(text: &str) -> (Ast, Vec<Diagnostic>) {
    let mut sources = SourceMap::new();
    let id = sources.add("test.env.k", text);
    parse(sources.file(id))
}

fn parse_clean(text: &str) -> Ast {
    let (ast, diagnostics) = parse_text(text);
    assert!(
        diagnostics.is_empty(),
        "unexpected diagnostics: {diagnostics:#?}"
    );
    ast
}

fn only_item(text: &str) -> ItemKind {
    let mut ast = parse_clean(text);
    assert_eq!(ast.items.len(), 1, "{:#?}", ast.items);
    ast.items.remove(0).kind
}

fn env_stmts(text: &str) -> Vec<StmtKind> {
    match only_item(text) {
        ItemKind::Env(env) => env.body.stmts.into_iter().map(|s| s.kind).collect(),
        other => panic!("not an env: {other:?}"),
    }
}

fn text_of(string: &StringLit) -> String {
    string.as_plain().expect("no interpolation")
}

#[test]
fn empty_file_parses_to_nothing() {
    let (ast, diagnostics) = parse_text("  // only a comment\n");
    assert!(ast.items.is_empty());
    assert!(diagnostics.is_empty());
}

#[test]
fn named_env_has_its_placement_and_family_has_none() {
    let ItemKind::Env(env) = only_item("env web on prod-cluster tier critical { }") else {
        panic!("not an env")
    };
    let placement = env.placement.expect("placement");
    assert_eq!(placement.cluster.text, "prod-cluster");
    assert_eq!(placement.tier.text, "critical");
    let ItemKind::Env(family) =
        only_item("env payments {\n stage dev on dev-cluster tier standard { quota = small }\n}")
    else {
        panic!("not an env")
    };
    assert!(family.placement.is_none());
    let [
        Stmt {
            kind: StmtKind::Stage(stage),
            ..
        },
    ] = family.body.stmts.as_slice()
    else {
        panic!("one stage: {:?}", family.body.stmts)
    };
    assert_eq!(stage.placement.cluster.text, "dev-cluster");
}

#[test]
fn dotted_and_quoted_keys() {
    let stmts = env_stmts(
        r#"env e on c tier t { quota { limits.cpu = 20 } annotations { "kubernetes.io/managed-by" = "x" } }"#,
    );
    let StmtKind::Quota(Quota::Block { name: None, body }) = &stmts[0] else {
        panic!("{:?}", stmts[0])
    };
    let StmtKind::Field(field) = &body.stmts[0].kind else {
        panic!("field")
    };
    let Key::Path(path) = &field.key else {
        panic!("path")
    };
    let texts: Vec<&str> = path.iter().map(|i| i.text.as_str()).collect();
    assert_eq!(texts, ["limits", "cpu"]);
    assert_eq!(path[1].span.len(), 3);
    let StmtKind::Field(annotations) = &stmts[1] else {
        panic!("field")
    };
    let FieldValue::Block(block) = &annotations.value else {
        panic!("block")
    };
    let StmtKind::Field(inner) = &block.stmts[0].kind else {
        panic!("field")
    };
    let Key::Str(key) = &inner.key else {
        panic!("string key")
    };
    assert_eq!(text_of(key), "kubernetes.io/managed-by");
}

#[test]
fn quota_and_limits_take_every_form() {
    let stmts = env_stmts(
        "env e on c tier t {
           quota q { pods = 1 }
           quota = small * 2 * 3
           limits l container { max { cpu = 2 } }
           limits pod { }
           limits = std-limits
         }",
    );
    assert!(matches!(
        &stmts[0],
        StmtKind::Quota(Quota::Block { name: Some(_), .. })
    ));
    let StmtKind::Quota(Quota::Expr(expr)) = &stmts[1] else {
        panic!("{:?}", stmts[1])
    };
    // Left-associative: (small * 2) * 3.
    let ExprKind::Mul(left, right) = &expr.kind else {
        panic!("mul")
    };
    assert!(matches!(left.kind, ExprKind::Mul(..)));
    assert!(matches!(
        right.kind,
        ExprKind::Number(Number { mantissa: 3, .. })
    ));
    assert!(matches!(
        &stmts[2],
        StmtKind::Limits(Limits::Block {
            name: Some(_),
            kind: LimitKind::Container,
            ..
        })
    ));
    assert!(matches!(
        &stmts[3],
        StmtKind::Limits(Limits::Block {
            name: None,
            kind: LimitKind::Pod,
            ..
        })
    ));
    assert!(matches!(&stmts[4], StmtKind::Limits(Limits::Expr(_))));
}

#[test]
fn record_values_carry_their_tag() {
    let ItemKind::Let(binding) = only_item("let std = limits container { default { cpu = 200m } }")
    else {
        panic!("let")
    };
    let ExprKind::Record(record) = binding.value.kind else {
        panic!("record")
    };
    assert_eq!(record.tag, Some(RecordTag::Limits(LimitKind::Container)));
    let ItemKind::Let(binding) = only_item("let small = quota { pods = 20 }") else {
        panic!("let")
    };
    let ExprKind::Record(record) = binding.value.kind else {
        panic!("record")
    };
    assert_eq!(record.tag, Some(RecordTag::Quota));
}

#[test]
fn access_and_network_statements() {
    let stmts = env_stmts(
        r#"env e on c tier t {
             grant devops-engineer to user "a@b.c" as devops-team-binding
             grant viewer to serviceaccount "ci/deployer"
             ingress allow from environment production on tcp 8080
             ingress allow from env "payments-prod"
             egress allow to any on tcp 443, udp 53, sctp 9
             egress allow dns
           }"#,
    );
    let StmtKind::Grant(grant) = &stmts[0] else {
        panic!("grant")
    };
    assert!(matches!(&grant.role, Name::Ident(role) if role.text == "devops-engineer"));
    assert_eq!(grant.subject_kind, SubjectKind::User);
    assert_eq!(text_of(&grant.subject), "a@b.c");
    assert!(matches!(&grant.binding_name, Some(Name::Ident(i)) if i.text == "devops-team-binding"));
    let StmtKind::Grant(sa) = &stmts[1] else {
        panic!("grant")
    };
    assert_eq!(sa.subject_kind, SubjectKind::ServiceAccount);
    let StmtKind::Ingress(ingress) = &stmts[2] else {
        panic!("ingress")
    };
    assert!(matches!(&ingress.from.kind, PeerKind::Environment(e) if e.text == "production"));
    assert_eq!(ingress.ports.len(), 1);
    assert_eq!(
        (ingress.ports[0].protocol, ingress.ports[0].number),
        (Protocol::Tcp, 8080)
    );
    let StmtKind::Ingress(all_ports) = &stmts[3] else {
        panic!("ingress")
    };
    assert!(all_ports.ports.is_empty());
    assert!(matches!(&all_ports.from.kind, PeerKind::Env(Name::Str(_))));
    let StmtKind::Egress(Egress::To { peer, ports }) = &stmts[4] else {
        panic!("egress")
    };
    assert_eq!(peer.kind, PeerKind::Any);
    let protocols: Vec<_> = ports.iter().map(|p| (p.protocol, p.number)).collect();
    assert_eq!(
        protocols,
        [
            (Protocol::Tcp, 443),
            (Protocol::Udp, 53),
            (Protocol::Sctp, 9)
        ]
    );
    assert_eq!(stmts[5], StmtKind::Egress(Egress::Dns));
}

#[test]
fn tier_statements() {
    let ItemKind::Tier(tier) = only_item(
        r#"tier sandbox extends standard {
             require alerts [HighPodMemoryUsage, PodCrashLooping,]
             forbid verbs [escalate, "*"]
             forbid resources [secrets]
             forbid wildcards
             accept from [production]
             network = isolated
           }"#,
    ) else {
        panic!("tier")
    };
    assert_eq!(
        tier.extends.as_ref().map(|i| i.text.as_str()),
        Some("standard")
    );
    let kinds: Vec<&StmtKind> = tier.body.stmts.iter().map(|s| &s.kind).collect();
    let StmtKind::Require(require) = kinds[0] else {
        panic!("require")
    };
    assert_eq!(require.alerts.items.len(), 2, "trailing comma allowed");
    let StmtKind::Forbid(Forbid::Verbs(verbs)) = kinds[1] else {
        panic!("verbs")
    };
    assert!(matches!(&verbs.items[1].kind, ExprKind::Str(s) if text_of(s) == "*"));
    assert!(matches!(kinds[2], StmtKind::Forbid(Forbid::Resources(_))));
    assert!(matches!(kinds[3], StmtKind::Forbid(Forbid::Wildcards)));
    assert!(matches!(kinds[4], StmtKind::Accept(_)));
    assert!(matches!(kinds[5], StmtKind::Field(_)));
}

#[test]
fn alert_templates_and_uses() {
    let ast = parse_clean(
        "alert HighPodMemoryUsage(threshold: ratio = 90%, for: duration = 5m,) {
           expr = `up{namespace=\"${namespace}\"} > ${threshold}`
           severity = warning
         }
         alert Bare { expr = `up` }
         env e on c tier t {
           alert HighPodMemoryUsage { threshold = 85%  for = 10m }
           alert PodCrashLooping
         }",
    );
    let ItemKind::AlertTemplate(template) = &ast.items[0].kind else {
        panic!("template")
    };
    let params: Vec<(&str, &str, bool)> = template
        .params
        .iter()
        .map(|p| {
            (
                p.name.text.as_str(),
                p.ty.text.as_str(),
                p.default.is_some(),
            )
        })
        .collect();
    assert_eq!(
        params,
        [("threshold", "ratio", true), ("for", "duration", true)]
    );
    let StmtKind::Field(expr) = &template.body.stmts[0].kind else {
        panic!("field")
    };
    let FieldValue::Expr(Expr {
        kind: ExprKind::Str(string),
        ..
    }) = &expr.value
    else {
        panic!("string")
    };
    assert!(string.raw);
    let interps: Vec<String> = string
        .parts
        .iter()
        .filter_map(|p| match p {
            StrPart::Interp(path) => Some(path[0].text.clone()),
            StrPart::Text(_) => None,
        })
        .collect();
    assert_eq!(interps, ["namespace", "threshold"]);
    let ItemKind::AlertTemplate(bare) = &ast.items[1].kind else {
        panic!("template")
    };
    assert!(bare.params.is_empty());
    let ItemKind::Env(env) = &ast.items[2].kind else {
        panic!("env")
    };
    let StmtKind::Alert(with_args) = &env.body.stmts[0].kind else {
        panic!("alert")
    };
    assert_eq!(
        with_args.args.as_ref().map(|b| b.stmts.len()),
        Some(2),
        "`for` is a field key"
    );
    let StmtKind::Alert(bare_use) = &env.body.stmts[1].kind else {
        panic!("alert")
    };
    assert!(bare_use.args.is_none());
}

#[test]
fn strings_decode_escapes_and_literal_dollars() {
    let ItemKind::Let(binding) =
        only_item(r#"let s = "a\"b\\c\n\u{e9} $${1}:9100 $labels ${ team.name }""#)
    else {
        panic!("let")
    };
    let ExprKind::Str(string) = binding.value.kind else {
        panic!("string")
    };
    assert_eq!(
        string.parts,
        vec![
            StrPart::Text("a\"b\\c\né ${1}:9100 $labels ".to_string()),
            StrPart::Interp(vec![
                Ident {
                    text: "team".to_string(),
                    span: string.parts_span_of("team")
                },
                Ident {
                    text: "name".to_string(),
                    span: string.parts_span_of("name")
                },
            ]),
        ]
    );
}

impl StringLit {
    /// Test helper: the span of an interpolation segment by its text.
    fn parts_span_of(&self, segment: &str) -> crate::source::Span {
        self.parts
            .iter()
            .find_map(|part| match part {
                StrPart::Interp(path) => path.iter().find(|i| i.text == segment).map(|i| i.span),
                StrPart::Text(_) => None,
            })
            .expect("segment present")
    }
}

#[test]
fn for_loops_hold_items() {
    let ItemKind::For(for_loop) = only_item(
        r#"for team in ["search", "checkout"] {
             env "${team}" { stage prod on prod-cluster tier critical { quota = small } }
             role "${team}-engineer" { allow [get] on [pods] }
           }"#,
    ) else {
        panic!("for")
    };
    assert_eq!(for_loop.var.text, "team");
    assert!(matches!(&for_loop.iterable.kind, ExprKind::List(list) if list.items.len() == 2));
    assert_eq!(for_loop.items.len(), 2);
}

#[test]
fn numbers_keep_units() {
    let stmts = env_stmts("env e on c tier t { x = [10, 0.5, 200m, 20Gi, 90%, 1h30m, true] }");
    let StmtKind::Field(field) = &stmts[0] else {
        panic!("field")
    };
    let FieldValue::Expr(Expr {
        kind: ExprKind::List(list),
        ..
    }) = &field.value
    else {
        panic!("list")
    };
    let numbers: Vec<(u128, u32, Suffix)> = list
        .items
        .iter()
        .filter_map(|item| match item.kind {
            ExprKind::Number(n) => Some((n.mantissa, n.scale, n.suffix)),
            _ => None,
        })
        .collect();
    assert_eq!(
        numbers,
        [
            (10, 0, Suffix::None),
            (5, 1, Suffix::None),
            (200, 0, Suffix::Milli),
            (20, 0, Suffix::Gibi),
            (90, 0, Suffix::Percent),
            (5_400_000, 0, Suffix::Millisecond),
        ]
    );
    assert_eq!(list.items[6].kind, ExprKind::Bool(true));
}

#[test]
fn every_broken_item_is_reported_and_good_items_survive() {
    let (ast, diagnostics) = parse_text(
        "cluster a { server: 1 }\ntier ok { }\nclustr b { }\nrole r { allow [get] on [pods }\nenv fine on a tier ok { }\n",
    );
    let codes: Vec<Code> = diagnostics.iter().map(|d| d.code).collect();
    assert_eq!(codes, [Code::E0101, Code::E0107, Code::E0101]);
    let kinds: Vec<&str> = ast
        .items
        .iter()
        .map(|item| match &item.kind {
            ItemKind::Tier(_) => "tier",
            ItemKind::Env(_) => "env",
            other => panic!("broken item kept: {other:?}"),
        })
        .collect();
    assert_eq!(kinds, ["tier", "env"]);
}

#[test]
fn item_spans_cover_their_text() {
    let text = "// head\ncluster a { }\n\n  tier t { pod_security = baseline }  // tail\n";
    let ast = parse_clean(text);
    let spans: Vec<&str> = ast
        .items
        .iter()
        .map(|item| &text[item.span.start as usize..item.span.end as usize])
        .collect();
    assert_eq!(
        spans,
        ["cluster a { }", "tier t { pod_security = baseline }"]
    );
}

#[test]
fn nesting_at_the_limit_parses_and_beyond_it_is_refused() {
    let nested = |depth: usize| format!("let x = {}{}", "[".repeat(depth), "]".repeat(depth));
    // Run on a small stack, like cargo test's worker threads, to prove the
    // bound keeps recursion shallow.
    let result = std::thread::Builder::new()
        .stack_size(2 * 1024 * 1024)
        .spawn(move || {
            let (_, mut at_limit) = parse_text(&nested(MAX_NESTING));
            let records = format!(
                "let x = {} 1 {}",
                "{ a = ".repeat(MAX_NESTING - 1) + "{ a =",
                "}".repeat(MAX_NESTING)
            );
            at_limit.extend(parse_text(&records).1);
            let (_, beyond) = parse_text(&nested(10_000));
            (at_limit, beyond)
        })
        .expect("spawn")
        .join()
        .expect("no stack overflow");
    assert!(result.0.is_empty(), "{:?}", result.0);
    assert_eq!(
        result.1.iter().map(|d| d.code).collect::<Vec<_>>(),
        [Code::E0110]
    );
}

/// The fast parser and `too_deep` count the same delimiters, a template's
/// `(` included: one past the limit is refused either way.
#[test]
fn the_nesting_bound_counts_parameter_parentheses() {
    let template = |lists: usize| {
        format!(
            "alert A(x: string = {}\"a\"{}) {{ expr = \"up\" }}",
            "[".repeat(lists),
            "]".repeat(lists)
        )
    };
    let (ast, at_limit) = parse_text(&template(MAX_NESTING - 1));
    assert!(at_limit.is_empty() && ast.items.len() == 1, "{at_limit:?}");
    let (_, beyond) = parse_text(&template(MAX_NESTING));
    assert_eq!(
        beyond.iter().map(|d| d.code).collect::<Vec<_>>(),
        [Code::E0110]
    );
}

#[test]
fn the_design_example_parses() {
    let text = include_str!("../../tests/fixtures/design-example.env.k");
    let ast = parse_clean(text);
    assert_eq!(ast.items.len(), 11);
}

#[test]
fn common_label_keys_and_digit_names_are_allowed() {
    let ast = parse_clean(
        "cluster 3rd-dc { }\nenv web on 3rd-dc tier t { labels { tier = \"frontend\" role = \"api\" env = \"x\" } }\n",
    );
    let ItemKind::Env(env) = &ast.items[1].kind else {
        panic!("env")
    };
    assert_eq!(
        env.placement.as_ref().map(|p| p.cluster.text.as_str()),
        Some("3rd-dc")
    );
}

#[test]
fn an_unclosed_block_does_not_cost_the_next_item() {
    let (ast, diagnostics) = parse_text(
        "env a on c tier t {\n  x = 1\nenv b on c tier t { y = 1, }\nenv d on c tier t { z = 1, }\n",
    );
    let codes: Vec<Code> = diagnostics.iter().map(|d| d.code).collect();
    assert_eq!(codes, [Code::E0102, Code::E0106, Code::E0106]);
    assert_eq!(ast.items.len(), 2, "env b and env d are parsed");
}

#[test]
fn raw_strings_read_the_same_with_crlf_line_ends() {
    let lf = parse_clean("let x = `a\nb`\n");
    let crlf = parse_clean("let x = `a\r\nb`\r\n");
    let text = |ast: &Ast| match &ast.items[0].kind {
        ItemKind::Let(Let {
            value: Expr {
                kind: ExprKind::Str(s),
                ..
            },
            ..
        }) => s.as_plain(),
        other => panic!("{other:?}"),
    };
    assert_eq!(text(&lf), text(&crlf));
}

#[test]
fn quota_and_limits_are_not_value_names() {
    let (_, diagnostics) = parse_text("let quota = 1\n");
    assert_eq!(diagnostics.len(), 1);
    let (_, diagnostics) = parse_text("let x = limits { a = 1 }\n");
    assert_eq!(diagnostics.len(), 1);
    let position = diagnostics[0].primary.span.start;
    assert_eq!(
        position, 15,
        "points at the `{{` where a limit kind is expected"
    );
}

/// A large file is parsed in runs on several threads; whatever the file,
/// the result must be the one-piece parse's, errors and recovery included.
#[test]
fn parsing_in_runs_gives_the_one_piece_result() {
    let team = |i: usize| {
        format!(
            "role r{i} {{\n  allow [get] on [pods]\n}}\n\nenv team-{i} on c tier t {{\n  labels {{ team = \"t{i}\" }}\n  grant r{i} to user \"u{i}@example.com\"\n}}\n\n"
        )
    };
    let body: String = (0..1000).map(team).collect();
    assert!(body.len() > 128 * 1024, "large enough to be cut");
    let middle = body.len() / 2;
    let cut = next_item_line(&body, middle);
    let broken = [
        // Clean.
        body.clone(),
        // A missing `}` just before a cut.
        format!(
            "{}{}",
            &body[..cut].trim_end().trim_end_matches('}'),
            &body[cut..]
        ),
        // A raw string spanning a cut: the lines inside it are not items.
        format!(
            "{}let s = `\n{}`\n{}",
            &body[..cut],
            &body[cut..cut + 400],
            &body[cut + 400..]
        ),
        // Errors in every run.
        body.replace(
            "allow [get] on [pods]\n}\n\nenv team-7 ",
            "allow [get] on\n}\n\nenv team-7 ",
        )
        .replace("team-999 on c", "team-999 on"),
    ];
    for (case, text) in broken.iter().enumerate() {
        let mut sources = SourceMap::new();
        let id = sources.add("big.env.k", text.as_str());
        let file = sources.file(id);
        let (runs_ast, runs_diagnostics) = parse(file);
        let (items, diagnostics) = parse_run(file, 0, text.len(), Parsers::FastThenPest);
        assert_eq!(runs_ast.items, items, "case {case}: items");
        assert_eq!(
            format!("{runs_diagnostics:?}"),
            format!("{diagnostics:?}"),
            "case {case}: diagnostics"
        );
        assert_eq!(diagnostics.is_empty(), case == 0, "case {case}");
    }
}

/// The hand-written parser must read every well-formed item itself: one it
/// left to pest would still parse right (`tests/parsers.rs`), only slower.
#[test]
fn the_fast_parser_reads_every_item_of_the_examples_and_the_stdlib() {
    let programs = [
        include_str!("../../examples/enterprise.env.k"),
        include_str!("../../examples/multi-team/main.env.k"),
        include_str!("../../stdlib/alerts.env.k"),
        include_str!("../../stdlib/roles.env.k"),
        include_str!("../../tests/fixtures/all-forms.env.k"),
    ];
    for text in programs {
        let mut pos = skip_trivia(text, 0);
        while pos < text.len() {
            let Some((_, end)) = fast::item(text, pos, 0) else {
                let line = text[..pos].lines().count() + 1;
                panic!(
                    "left to pest: the item at line {line}: {}",
                    &text[pos..(pos + 200).min(text.len())]
                );
            };
            pos = skip_trivia(text, end);
        }
        let mut sources = SourceMap::new();
        let id = sources.add("program.env.k", text);
        let file = sources.file(id);
        let (ast, diagnostics) = parse(file);
        let (reference, reference_diagnostics) = parse_with_pest_only(file);
        assert!(diagnostics.is_empty() && reference_diagnostics.is_empty());
        assert_eq!(ast, reference);
    }
}

#[test]
fn subresources_are_written_bare_and_a_double_slash_is_still_a_comment() {
    let ItemKind::Role(role) = only_item(
        "role r {\n  allow [get] on [pods, pods/log, \"pods/exec\", deployments/scale]\n  allow [get] on [pods]// a comment\n}",
    ) else {
        panic!("not a role")
    };
    let StmtKind::Allow(allow) = &role.body.stmts[0].kind else {
        panic!("allow")
    };
    let names: Vec<String> = allow
        .resources
        .items
        .iter()
        .map(|item| match &item.kind {
            ExprKind::Name(ident) => ident.text.clone(),
            ExprKind::Str(string) => format!("\"{}\"", text_of(string)),
            other => panic!("{other:?}"),
        })
        .collect();
    assert_eq!(
        names,
        ["pods", "pods/log", "\"pods/exec\"", "deployments/scale"]
    );
    assert_eq!(role.body.stmts.len(), 2);
}

#[test]
fn dns_can_be_denied_and_an_alert_use_can_name_its_rule() {
    let stmts = env_stmts(
        "env e on c tier t {
           egress deny dns
           egress allow dns
           alert HighPodMemoryUsage as HighPodMemoryCritical { threshold = 95%  severity = critical }
           alert PodCrashLooping as \"${stage}Crash\"
           alert JobFailed
         }",
    );
    assert!(matches!(stmts[0], StmtKind::Egress(Egress::DenyDns)));
    assert!(matches!(stmts[1], StmtKind::Egress(Egress::Dns)));
    let renames: Vec<Option<String>> = stmts[2..]
        .iter()
        .map(|stmt| match stmt {
            StmtKind::Alert(alert) => alert.rename.as_ref().map(|name| match name {
                Name::Ident(ident) => ident.text.clone(),
                Name::Str(string) => format!("{:?}", string.parts.len()),
            }),
            other => panic!("{other:?}"),
        })
        .collect();
    assert_eq!(
        renames,
        [
            Some("HighPodMemoryCritical".to_string()),
            Some("2".to_string()),
            None
        ]
    );
    let StmtKind::Alert(renamed) = &stmts[2] else {
        panic!("alert")
    };
    assert!(renamed.args.is_some(), "the block after the rule's name");
}
