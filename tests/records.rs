//! A list of records driving `for` loops builds exactly what the same
//! program written out by hand builds: records, field access in values
//! (`small * team.size`, `team.calls`), in strings (`${team.owner.email}`)
//! and in names (`alert "${team.alert}"`),
//! and `if … else if …` among items and `if`, `for` among an env's
//! statements are only a shorter way to write it.

use std::path::PathBuf;

use envk::driver;
use envk::emit::{self, Options, Tree};
use envk::load::InMemory;
use proptest::prelude::*;

const HEAD: &str = r#"let small = quota { requests.cpu = 1  requests.memory = 1Gi  limits.cpu = 2  limits.memory = 2Gi  pods = 10 }

cluster c {
  server      = "https://c.example.com"
  environment = production
  capacity    { cpu = 100000  memory = 100000Gi  pods = 1000000 }
}

tier t { pod_security = baseline }

role dev { allow [get, list] on [pods] }

alert Down { expr = `up{namespace="${namespace}"} == 0`  severity = critical }
alert Slow { expr = `rate(errors{namespace="${namespace}"}[5m]) > 1`  severity = warning }
"#;

#[derive(Clone, Debug)]
struct Team {
    name: String,
    size: u32,
    cpu: &'static str,
    owner: String,
    pci: bool,
    /// Indices of the teams it calls.
    calls: Vec<usize>,
}

fn teams() -> impl Strategy<Value = Vec<Team>> {
    (1usize..6)
        .prop_flat_map(|count| {
            prop::collection::vec(
                (
                    1u32..9,
                    prop::sample::select(vec!["500m", "2", "1.5", "250m"]),
                    "[a-z]{1,6}",
                    any::<bool>(),
                    prop::collection::vec(0..count, 0..3),
                ),
                count,
            )
        })
        .prop_map(|rows| {
            rows.into_iter()
                .enumerate()
                .map(|(index, (size, cpu, owner, pci, mut calls))| {
                    calls.sort_unstable();
                    calls.dedup();
                    Team {
                        name: format!("team-{index}"),
                        size,
                        cpu,
                        owner,
                        pci,
                        calls,
                    }
                })
                .collect()
        })
}

/// The alert template a team uses, named by a field of its record.
fn alert(team: &Team) -> &'static str {
    if team.owner.len() % 2 == 0 {
        "Down"
    } else {
        "Slow"
    }
}

/// The program with one list of records and one loop.
fn with_records(teams: &[Team]) -> String {
    let mut out = format!("{HEAD}\nlet teams = [\n");
    for team in teams {
        let calls: Vec<String> = team
            .calls
            .iter()
            .map(|&i| format!("\"{}\"", teams[i].name))
            .collect();
        out += &format!(
            "  {{ name = \"{}\"  size = {}  cpu = {}  owner = {{ email = \"{}@example.com\" }}  pci = {}  calls = [{}]  alert = \"{}\" }},\n",
            team.name,
            team.size,
            team.cpu,
            team.owner,
            team.pci,
            calls.join(", "),
            alert(team)
        );
    }
    out += r#"]

for team in teams {
  env "${team.name}" on c tier t {
    quota = small * team.size
    labels { team = "${team.name}"  cpu = "${team.cpu}" }
    grant dev to user "${team.owner.email}"
    alert "${team.alert}"
    if team.pci { labels { pci = "true" } }
    for peer in team.calls { egress allow to env "${peer}" on tcp 9090 }
  }
  for peer in team.calls {
    env "${team.name}-to-${peer}" on c tier t {
      quota = small
      egress allow to env "${peer}" on tcp 8080
    }
  }
  if team.pci and team.size > 2 {
    env "${team.name}-vault" on c tier t { quota = small  labels { pci = "true" } }
  } else if not team.pci {
    env "${team.name}-open" on c tier t { quota = small }
  }
}
"#;
    out
}

/// The same program, every env written out.
fn by_hand(teams: &[Team]) -> String {
    let mut out = format!("{HEAD}\n");
    for team in teams {
        let pci = if team.pci { "  pci = \"true\"" } else { "" };
        let calls: String = team
            .calls
            .iter()
            .map(|&peer| format!("  egress allow to env {} on tcp 9090\n", teams[peer].name))
            .collect();
        out += &format!(
            "env {name} on c tier t {{\n  quota = small * {size}\n  labels {{ team = \"{name}\"  cpu = \"{cpu}\"{pci} }}\n  grant dev to user \"{owner}@example.com\"\n  alert {alert}\n{calls}}}\n",
            name = team.name,
            size = team.size,
            cpu = team.cpu,
            owner = team.owner,
            alert = alert(team),
        );
        for &peer in &team.calls {
            out += &format!(
                "env {name}-to-{peer} on c tier t {{\n  quota = small\n  egress allow to env {peer} on tcp 8080\n}}\n",
                name = team.name,
                peer = teams[peer].name,
            );
        }
        if team.pci && team.size > 2 {
            out += &format!(
                "env {}-vault on c tier t {{ quota = small  labels {{ pci = \"true\" }} }}\n",
                team.name
            );
        } else if !team.pci {
            out += &format!("env {}-open on c tier t {{ quota = small }}\n", team.name);
        }
    }
    out
}

fn build(program: &str) -> Tree {
    let loader = InMemory::new().with("main.env.k", program);
    let run = driver::check_with(&[PathBuf::from("main.env.k")], &loader).expect("loads");
    let model = run.model.unwrap_or_else(|| {
        panic!(
            "{program}\n{}",
            envk::diag::render_plain(&run.sources, &run.diagnostics)
        )
    });
    emit::emit(&model, Options::default())
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(48))]

    #[test]
    fn records_build_what_the_program_written_out_builds(teams in teams()) {
        let records = build(&with_records(&teams));
        let written = build(&by_hand(&teams));
        prop_assert_eq!(
            records.files.keys().collect::<Vec<_>>(),
            written.files.keys().collect::<Vec<_>>()
        );
        for (name, content) in &records.files {
            prop_assert!(content == &written.files[name], "{} differs", name);
        }
    }
}

/// The negative: a field read wrong is not silently the same program.
#[test]
fn a_record_field_changes_what_is_built() {
    let teams = vec![Team {
        name: "team-0".to_string(),
        size: 2,
        cpu: "500m",
        owner: "ana".to_string(),
        pci: false,
        calls: Vec::new(),
    }];
    let mut other = teams.clone();
    other[0].size = 3;
    let records = build(&with_records(&teams));
    let written = build(&by_hand(&other));
    let differing: Vec<&String> = records
        .files
        .iter()
        .filter(|(name, content)| written.files.get(*name) != Some(content))
        .map(|(name, _)| name)
        .collect();
    // The quota, and the README's table of quotas and the summary.
    assert_eq!(
        differing,
        [
            ".envk/model.json",
            "c/README.md",
            "c/namespaces/team-0/resourcequota.yaml"
        ]
    );
}
