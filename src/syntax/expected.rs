//! Human names for grammar rules, for "expected …" messages.
//!
//! The match is exhaustive on purpose (no `_` arm): a new rule in the grammar
//! does not compile until it says how users should read it.

use super::keywords::StatementKeyword;
use super::parser::Rule;

const FIELD_OR_STATEMENT: &str = "a field or statement";

/// The grammar's rule for each statement keyword: the keywords pest reports
/// when a statement fails on its first token.
pub(super) fn statement_rule(keyword: StatementKeyword) -> Rule {
    match keyword {
        StatementKeyword::Grant => Rule::kw_grant,
        StatementKeyword::Ingress => Rule::kw_ingress,
        StatementKeyword::Egress => Rule::kw_egress,
        StatementKeyword::Metrics => Rule::kw_metrics,
        StatementKeyword::Stage => Rule::kw_stage,
        StatementKeyword::Alert => Rule::kw_alert,
        StatementKeyword::Quota => Rule::kw_quota,
        StatementKeyword::Limits => Rule::kw_limits,
        StatementKeyword::Allow => Rule::kw_allow,
        StatementKeyword::Forbid => Rule::kw_forbid,
        StatementKeyword::Require => Rule::kw_require,
        StatementKeyword::Accept => Rule::kw_accept,
        StatementKeyword::If => Rule::kw_if,
        StatementKeyword::For => Rule::kw_for,
    }
}

/// How a rule reads in "expected …", or `None` when it should not be listed
/// (error productions and the insides of literals).
pub(super) fn describe(rule: Rule) -> Option<&'static str> {
    Some(match rule {
        Rule::EOI => "end of file",
        Rule::file
        | Rule::item
        | Rule::import
        | Rule::cluster
        | Rule::tier
        | Rule::role
        | Rule::cluster_role
        | Rule::resource
        | Rule::gitops
        | Rule::federation
        | Rule::external
        | Rule::cluster_grant
        | Rule::let_decl
        | Rule::env
        | Rule::for_item
        | Rule::if_item
        | Rule::else_items
        | Rule::alert_template
        | Rule::receiver
        | Rule::route
        | Rule::policy
        | Rule::waive => "an item",
        Rule::waive_kind => {
            "what the waiver is for (`env`, `cluster`, `tier`, `role`, `cluster_role`, `external` or `receiver`)"
        }
        Rule::pred | Rule::pred_or | Rule::pred_and | Rule::pred_not | Rule::pred_atom => {
            "a predicate"
        }
        Rule::quantified | Rule::quantifier => "a quantifier (`all`, `any` or `none`)",
        Rule::pterm | Rule::plist | Rule::pcount | Rule::punique | Rule::ppath => "a value",
        Rule::kw_policy => "`policy`",
        Rule::kw_waive => "`waive`",
        Rule::kw_because => "`because`",
        Rule::kw_all => "`all`",
        Rule::kw_none => "`none`",
        Rule::kw_where => "`where`",
        Rule::kw_implies => "`implies`",
        Rule::kw_matches => "`matches`",
        Rule::kw_starts_with => "`starts_with`",
        Rule::kw_has => "`has`",
        Rule::kw_count => "`count`",
        Rule::kw_unique => "`unique`",
        Rule::kw_per => "`per`",
        Rule::route_match => "a label to match (`team \"NAME\"` or `severity LEVEL`) or `to`",
        Rule::placement => "`on`",
        Rule::cluster_list => "a cluster or a list of clusters `[…]`",
        Rule::resource_name => "a resource and its API group, such as `rollouts.argoproj.io`",
        Rule::params => "`(`",
        Rule::param => "a parameter",
        Rule::block => "`{`",
        Rule::field
        | Rule::key
        | Rule::key_path
        | Rule::grant
        | Rule::ingress
        | Rule::egress
        | Rule::metrics
        | Rule::stage
        | Rule::alert_use
        | Rule::quota_stmt
        | Rule::limits_stmt
        | Rule::allow
        | Rule::forbid
        | Rule::require
        | Rule::accept
        | Rule::if_stmt
        | Rule::for_stmt => FIELD_OR_STATEMENT,
        Rule::cond | Rule::cond_and | Rule::cond_not | Rule::comparison => "a condition",
        Rule::compare_op => "a comparison (`==`, `!=`, `<`, `<=`, `>`, `>=`)",
        Rule::kw_if => "`if`",
        Rule::kw_else => "`else`",
        Rule::kw_and => "`and`",
        Rule::kw_or => "`or`",
        Rule::kw_not => "`not`",
        Rule::subject_kind => "a subject kind (`user`, `group` or `serviceaccount`)",
        Rule::limit_kind => "a limit kind (`container`, `pod` or `persistentvolumeclaim`)",
        Rule::ingress_peer => "a source (`environment NAME`, `env NAME` or `external NAME`)",
        Rule::egress_peer => {
            "a destination (`any`, `environment NAME`, `env NAME` or `external NAME`)"
        }
        Rule::port_list | Rule::port => "a port such as `tcp 8080`",
        Rule::expr | Rule::record | Rule::record_tag => "a value",
        Rule::list => "a list `[…]`",
        Rule::bool => "a boolean",
        Rule::number => "a number",
        Rule::ident
        | Rule::label
        | Rule::value_ref
        | Rule::subresource
        | Rule::field_path
        | Rule::decl_name
        | Rule::interp_path => "a name",
        Rule::string_lit | Rule::string | Rule::raw_string => "a string",
        Rule::protocol => "a protocol (`tcp`, `udp` or `sctp`)",
        Rule::kw_import => "`import`",
        Rule::kw_cluster => "`cluster`",
        Rule::kw_tier => "`tier`",
        Rule::kw_extends => "`extends`",
        Rule::kw_role => "`role`",
        Rule::kw_cluster_role => "`cluster_role`",
        Rule::kw_resource => "`resource`",
        Rule::kw_gitops => "`gitops`",
        Rule::kw_federation => "`federation`",
        Rule::kw_external => "`external`",
        Rule::kw_receiver => "`receiver`",
        Rule::kw_route => "`route`",
        Rule::kw_metrics => "`metrics`",
        Rule::kw_let => "`let`",
        Rule::kw_env => "`env`",
        Rule::kw_for => "`for`",
        Rule::kw_in => "`in`",
        Rule::kw_alert => "`alert`",
        Rule::kw_on => "`on`",
        Rule::kw_grant => "`grant`",
        Rule::kw_to => "`to`",
        Rule::kw_as => "`as`",
        Rule::kw_ingress => "`ingress`",
        Rule::kw_egress => "`egress`",
        Rule::kw_allow => "`allow`",
        Rule::kw_from => "`from`",
        Rule::kw_dns => "`dns`",
        Rule::kw_deny => "`deny`",
        Rule::kw_any => "`any`",
        Rule::kw_environment => "`environment`",
        Rule::kw_stage => "`stage`",
        Rule::kw_quota => "`quota`",
        Rule::kw_limits => "`limits`",
        Rule::kw_forbid => "`forbid`",
        Rule::kw_verbs => "`verbs`",
        Rule::kw_resources => "`resources`",
        Rule::kw_wildcards => "`wildcards`",
        Rule::kw_require => "`require`",
        Rule::kw_alerts => "`alerts`",
        Rule::kw_accept => "`accept`",
        Rule::kw_user => "`user`",
        Rule::kw_group => "`group`",
        Rule::kw_serviceaccount => "`serviceaccount`",
        Rule::kw_container => "`container`",
        Rule::kw_pod => "`pod`",
        Rule::kw_persistentvolumeclaim => "`persistentvolumeclaim`",
        Rule::lbrace => "`{`",
        Rule::rbrace => "`}`",
        Rule::lbracket => "`[`",
        Rule::rbracket => "`]`",
        Rule::lparen => "`(`",
        Rule::rparen => "`)`",
        Rule::comma => "`,`",
        Rule::assign => "`=`",
        Rule::colon => "`:`",
        // `*` may follow any value; listing it everywhere is noise.
        Rule::star
        | Rule::WHITESPACE
        | Rule::COMMENT
        | Rule::for_body
        | Rule::stmt
        | Rule::operand
        | Rule::pfactor
        | Rule::ident_char
        | Rule::missing_on
        | Rule::stray_comma
        | Rule::value_keyword
        | Rule::statement_word
        | Rule::str_text
        | Rule::raw_text
        | Rule::escape
        | Rule::escaped_dollar
        | Rule::interp
        | Rule::bad_interp
        | Rule::unterminated => return None,
    })
}

/// "`}`, a field or statement" → "a field or statement or `}`", with
/// punctuation last and duplicates removed, in a stable order.
pub(super) fn list(rules: &[Rule]) -> String {
    // pest reports the keyword of a statement that failed on its first token
    // rather than the statement; "a field or statement" already covers them.
    let statement_expected = rules
        .iter()
        .any(|&rule| describe(rule) == Some(FIELD_OR_STATEMENT));
    let mut names: Vec<&str> = Vec::new();
    let listed = rules
        .iter()
        .filter(|&&rule| {
            !(statement_expected
                && StatementKeyword::ALL
                    .iter()
                    .any(|&keyword| statement_rule(keyword) == rule))
        })
        .filter_map(|&rule| describe(rule));
    for name in listed {
        if !names.contains(&name) {
            names.push(name);
        }
    }
    // Words before punctuation reads better: "a value or `]`".
    names.sort_by_key(|name| name.starts_with('`'));
    match names.as_slice() {
        [] => "something else".to_string(),
        [one] => one.to_string(),
        [init @ .., last] => format!("{} or {last}", init.join(", ")),
    }
}
