//! The reference table resolve builds (`Run::references`): what the name
//! at an offset refers to, and where a declaration is used. This is what
//! go-to-definition, find-references and rename read, so each kind of
//! reference, each kind of declaration, a loop's declarations and the
//! variables that shadow a `let` are asked about here.

use std::path::PathBuf;

use envk::driver;
use envk::load::InMemory;
use envk::resolve::refs::{DeclId, DeclKind};

const PROGRAM: &str = r#"let owner = "platform"
let small = quota { requests.cpu = 1  requests.memory = 1Gi  pods = 10 }
let namespace = "never-read-in-an-env"
let origin = namespace

cluster prod {
  server      = "https://prod.example.com"
  environment = production
  capacity    { cpu = 100  memory = 100Gi  pods = 1000 }
}

tier base { pod_security = restricted  require alerts ["Down"] }
tier critical extends base { require alerts [Down] }

role reader {
  allow [get, list] on [pods]
}

alert Down {
  expr     = `up{namespace="${namespace}"} == 0`
  severity = warning
  summary  = "${owner} is down"
}

for team in ["web", "api"] {
  env "${team}" on prod tier critical {
    quota = small
    labels { owner = "${owner}"  ns = "${namespace}"  from = "${origin}" }
    grant reader to group "${team}-devs"
    alert Down
    ingress allow from env web on tcp 80
    grant "${team}-dev" to group "${team}-devs"
    egress allow to env "${team}" on tcp 8080
    alert "Down" as DownToo
  }
  role "${team}-dev" { allow [get] on [pods] }
}
"#;

struct Program {
    run: driver::Run,
    base: u32,
    text: &'static str,
}

impl Program {
    fn new() -> Program {
        Program::of(PROGRAM)
    }

    fn of(text: &'static str) -> Program {
        let loader = InMemory::new().with("main.env.k", text);
        let run =
            driver::check_with(&[PathBuf::from("main.env.k")], &loader).expect("the program loads");
        assert!(
            !run.has_errors(),
            "{}",
            envk::diag::render_plain(&run.sources, &run.diagnostics)
        );
        let base = run
            .sources
            .files()
            .find(|file| file.name() == "main.env.k")
            .expect("the root file is read")
            .base();
        Program { run, base, text }
    }

    /// The global offset of the `nth` (from 0) occurrence of `needle`,
    /// `skip` bytes into it.
    fn offset(&self, needle: &str, nth: usize, skip: usize) -> u32 {
        let local = self
            .text
            .match_indices(needle)
            .nth(nth)
            .unwrap_or_else(|| panic!("`{needle}` occurs {} times", nth + 1))
            .0;
        self.base + (local + skip) as u32
    }

    /// What the name at the `nth` occurrence of `needle` refers to, as
    /// (kind, name, the line its name is declared on).
    fn refers_to(&self, needle: &str, nth: usize) -> Vec<(DeclKind, String, usize)> {
        let refs = &self.run.references;
        refs.at(self.offset(needle, nth, 1))
            .into_iter()
            .map(|id| {
                let decl = refs.decl(id);
                (decl.kind, decl.name.clone(), self.line(decl.span.start))
            })
            .collect()
    }

    /// Each case: the text just before a name, which occurrence of it,
    /// and the kind, name and line of what the name refers to.
    fn assert_refer(&self, cases: &[(&str, usize, DeclKind, &str, usize)]) {
        for &(needle, nth, kind, name, line) in cases {
            assert_eq!(
                self.refers_to(needle, nth),
                [(kind, name.to_string(), line)],
                "at `{needle}`"
            );
        }
    }

    fn line(&self, offset: u32) -> usize {
        self.text[..(offset - self.base) as usize]
            .matches('\n')
            .count()
            + 1
    }

    fn declared(&self, kind: DeclKind, name: &str) -> DeclId {
        self.run
            .references
            .decls()
            .find(|(_, decl)| decl.kind == kind && decl.name == name)
            .unwrap_or_else(|| panic!("no {} `{name}`", kind.noun()))
            .0
    }

    /// The text and line of every use of a declaration.
    fn uses(&self, kind: DeclKind, name: &str) -> Vec<(String, usize)> {
        let id = self.declared(kind, name);
        self.run
            .references
            .uses_of(id)
            .into_iter()
            .map(|span| {
                let text =
                    &self.text[(span.start - self.base) as usize..(span.end - self.base) as usize];
                (text.to_string(), self.line(span.start))
            })
            .collect()
    }
}

#[test]
fn each_kind_of_reference_finds_its_declaration() {
    let program = Program::new();
    // (text just before the name, which occurrence; what it refers to)
    let cases = [
        // `on prod tier critical`
        (" prod tier", 0, DeclKind::Cluster, "prod", 6),
        (" critical {", 0, DeclKind::Tier, "critical", 13),
        // `extends base`
        (" base {", 1, DeclKind::Tier, "base", 12),
        (" reader to", 0, DeclKind::Role, "reader", 15),
        (" Down\n", 0, DeclKind::AlertTemplate, "Down", 19),
        (" web on", 0, DeclKind::Env, "web", 26),
        // `require [Down]`, and the same template named by a string.
        ("[Down]", 0, DeclKind::AlertTemplate, "Down", 19),
        ("[\"Down\"]", 0, DeclKind::AlertTemplate, "Down", 19),
        // A value reading a `let`, bare and interpolated.
        (" small\n", 0, DeclKind::Let, "small", 2),
        ("{owner}\"  ns", 0, DeclKind::Let, "owner", 1),
    ];
    program.assert_refer(&cases);
    // A keyword refers to nothing.
    assert_eq!(program.refers_to("on prod", 0)[..], []);
}

#[test]
fn a_name_declared_in_a_loop_is_each_of_its_expansions() {
    let program = Program::new();
    let declared = program.refers_to("\"${team}\" on", 0);
    assert_eq!(
        declared,
        vec![
            (DeclKind::Env, "web".to_string(), 26),
            (DeclKind::Env, "api".to_string(), 26)
        ]
    );
}

#[test]
fn an_interpolated_reference_is_each_declaration_its_expansions_named() {
    let program = Program::new();
    let roles = [
        (DeclKind::Role, "web-dev".to_string(), 36),
        (DeclKind::Role, "api-dev".to_string(), 36),
    ];
    let mut found = program.refers_to("\"${team}-dev\" to", 0);
    found.sort();
    let mut expected = roles.to_vec();
    expected.sort();
    assert_eq!(found, expected);
    let mut peers = program.refers_to("\"${team}\" on tcp 8080", 0);
    peers.sort();
    assert_eq!(
        peers,
        [
            (DeclKind::Env, "api".to_string(), 26),
            (DeclKind::Env, "web".to_string(), 26)
        ]
    );
    // Each role is used where the expansion that named it is written.
    for role in ["web-dev", "api-dev"] {
        assert_eq!(
            program.uses(DeclKind::Role, role),
            [("\"${team}-dev\"".to_string(), 32)]
        );
    }
    // A template named by a string: the one declaration every expansion
    // of its env names.
    assert_eq!(
        program.refers_to("\"Down\" as", 0),
        [(DeclKind::AlertTemplate, "Down".to_string(), 19)]
    );
    assert_eq!(
        program.uses(DeclKind::AlertTemplate, "Down"),
        [
            ("\"Down\"".to_string(), 12),
            ("Down".to_string(), 13),
            ("Down".to_string(), 30),
            ("\"Down\"".to_string(), 34)
        ]
    );
}

#[test]
fn variables_shadow_a_let_of_the_same_name() {
    let program = Program::new();
    // `${namespace}` in an env and in a template is the env's namespace;
    // in a `let`, it is the `let`.
    assert_eq!(
        program.uses(DeclKind::Let, "namespace"),
        [("namespace".to_string(), 4)]
    );
    assert_eq!(program.refers_to("{namespace}\"  from", 0)[..], []);
    assert_eq!(program.refers_to("{namespace}\"}", 0)[..], []);
    // The loop variable is no declaration.
    assert_eq!(program.refers_to("{team}-devs", 0)[..], []);
}

#[test]
fn every_use_of_a_declaration_is_found_once() {
    let program = Program::new();
    // Written once in the loop's body: one use, though two envs read it.
    assert_eq!(
        program.uses(DeclKind::Let, "owner"),
        [("owner".to_string(), 22), ("owner".to_string(), 28)]
    );
    assert_eq!(
        program.uses(DeclKind::Cluster, "prod"),
        [("prod".to_string(), 26)]
    );
    assert_eq!(
        program.uses(DeclKind::Tier, "base"),
        [("base".to_string(), 13)]
    );
    // By name, and by the peer each expansion of `env "${team}"` named.
    assert_eq!(
        program.uses(DeclKind::Env, "web"),
        [("web".to_string(), 31), ("\"${team}\"".to_string(), 33)]
    );
    assert_eq!(
        program.uses(DeclKind::Env, "api"),
        [("\"${team}\"".to_string(), 33)]
    );
    assert_eq!(
        program.uses(DeclKind::Let, "origin"),
        [("origin".to_string(), 28)]
    );
}

const FLEET: &str = r#"cluster eu {
  server      = "https://eu.example.com"
  environment = production
}
cluster us {
  server      = "https://us.example.com"
  environment = production
}

tier critical { pod_security = restricted }

external ingress on [eu, us]

cluster_role reader { allow [get] on [nodes] }

grant reader to group "sre" on cluster [eu, us]

env shop on [eu, us] tier critical {
  ingress allow from external ingress on tcp 8080
}
"#;

/// The fleet's names: an external named by a rule, a cluster role by a
/// cluster-wide grant, and the clusters of every list.
#[test]
fn fleet_references_find_their_declarations() {
    let program = Program::of(FLEET);
    let cases = [
        (" ingress on", 1, DeclKind::External, "ingress", 12),
        (" reader to", 0, DeclKind::ClusterRole, "reader", 14),
        ("[eu, us]", 0, DeclKind::Cluster, "eu", 1),
        (" us]", 0, DeclKind::Cluster, "us", 5),
        (" us] tier", 0, DeclKind::Cluster, "us", 5),
        ("[eu, us] tier", 0, DeclKind::Cluster, "eu", 1),
    ];
    program.assert_refer(&cases);
    // An env on two clusters is two declarations of one name.
    let shops = program
        .run
        .references
        .decls()
        .filter(|(_, decl)| decl.kind == DeclKind::Env && decl.name == "shop")
        .count();
    assert_eq!(shops, 2);
}
