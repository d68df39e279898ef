//! The `envk` binary end to end: exit codes, output streams and formats.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

fn envk(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_envk"))
        .args(args)
        .env_remove("NO_COLOR")
        .output()
        .expect("the envk binary runs")
}

fn stdout(output: &Output) -> String {
    String::from_utf8(output.stdout.clone()).expect("utf-8 stdout")
}

fn stderr(output: &Output) -> String {
    String::from_utf8(output.stderr.clone()).expect("utf-8 stderr")
}

/// `--message-format json`'s output: one object per line.
fn json_lines(output: &Output) -> Vec<serde_json::Value> {
    stdout(output)
        .lines()
        .map(|line| serde_json::from_str(line).expect("each line is a JSON object"))
        .collect()
}

/// A scratch folder of this test's own under the target directory.
fn scratch(name: &str) -> PathBuf {
    let dir = Path::new(env!("CARGO_TARGET_TMPDIR")).join(name);
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).expect("create scratch folder");
    dir
}

#[test]
fn a_clean_program_prints_nothing_and_exits_0() {
    let output = envk(&["check", "examples/enterprise.env.k"]);
    assert_eq!(output.status.code(), Some(0), "{}", stderr(&output));
    assert_eq!(stdout(&output), "");
    assert_eq!(stderr(&output), "");
}

#[test]
fn folders_are_searched_for_env_k_files() {
    let output = envk(&["check", "examples/multi-team"]);
    assert_eq!(output.status.code(), Some(0), "{}", stderr(&output));
    let dir = scratch("folder-search");
    std::fs::create_dir_all(dir.join("nested")).unwrap();
    std::fs::write(dir.join("nested/bad.env.k"), "clustr x { }\n").unwrap();
    std::fs::write(dir.join("ignored.txt"), "clustr x { }\n").unwrap();
    let output = envk(&["--color", "never", "check", dir.to_str().unwrap()]);
    assert_eq!(output.status.code(), Some(1));
    assert_eq!(
        stderr(&output).matches("error[E0107]").count(),
        1,
        "{}",
        stderr(&output)
    );
}

#[test]
fn three_syntax_errors_give_three_diagnostics_and_exit_1() {
    let output = envk(&[
        "--color",
        "never",
        "check",
        "tests/ui/syntax/three_errors.env.k",
    ]);
    assert_eq!(output.status.code(), Some(1));
    let err = stderr(&output);
    let headers = err
        .lines()
        .filter(|line| line.starts_with("error[E0101]: "))
        .count();
    assert_eq!(headers, 3, "{err}");
    assert!(
        err.contains("--> tests/ui/syntax/three_errors.env.k:3:14"),
        "{err}"
    );
    assert!(
        err.trim_end().ends_with("error: could not check: 3 errors"),
        "{err}"
    );
    assert!(!err.contains('\u{1b}'), "no colour with --color never");
}

#[test]
fn json_format_prints_one_object_per_diagnostic_on_stdout() {
    let output = envk(&[
        "check",
        "--message-format",
        "json",
        "tests/ui/syntax/two_errors.env.k",
    ]);
    assert_eq!(output.status.code(), Some(1));
    assert_eq!(stderr(&output), "", "JSON mode keeps stderr for I/O errors");
    let lines = json_lines(&output);
    assert_eq!(lines.len(), 2);
    let first = &lines[0];
    assert_eq!(first["file"], "tests/ui/syntax/two_errors.env.k");
    assert_eq!(first["line"], 5);
    assert_eq!(first["column"], 14);
    assert_eq!(first["code"], "E0101");
    assert_eq!(first["severity"], "error");
    assert!(first["byte_end"].as_u64() > first["byte_start"].as_u64());
    assert_eq!(lines[1]["code"], "E0104");
}

/// A mistake reached in ten envs is one object, whose `instances` are the
/// ten, each with its own message.
#[test]
fn json_has_one_object_per_mistake_with_its_instances() {
    let output = envk(&[
        "check",
        "--message-format",
        "json",
        "tests/ui/check/one_report_per_mistake.env.k",
    ]);
    assert_eq!(output.status.code(), Some(1));
    let lines = json_lines(&output);
    let codes: Vec<&str> = lines.iter().map(|l| l["code"].as_str().unwrap()).collect();
    assert_eq!(codes, ["E0302", "E0705", "E0803"]);
    let instances = lines[0]["instances"].as_array().expect("an array");
    assert_eq!(instances.len(), 10);
    assert_eq!(instances[0]["kind"], "env");
    assert_eq!(instances[0]["name"], "search-dev");
    assert_eq!(instances[9]["name"], "billing-prod");
    assert!(
        instances[9]["message"]
            .as_str()
            .unwrap()
            .ends_with("env `billing-prod`"),
        "{}",
        instances[9]
    );
    let note = lines[0]["notes"][0].as_str().unwrap();
    assert_eq!(
        note,
        "in 10 envs: search-dev, search-prod, checkout-dev and 7 more"
    );
}

#[test]
fn colour_follows_the_flag() {
    let always = envk(&[
        "--color",
        "always",
        "check",
        "tests/ui/syntax/bad_unit.env.k",
    ]);
    assert!(
        stderr(&always).contains('\u{1b}'),
        "escape codes with --color always"
    );
    // Not a terminal: auto means no colour.
    let auto = envk(&["check", "tests/ui/syntax/bad_unit.env.k"]);
    assert!(!stderr(&auto).contains('\u{1b}'));
}

#[test]
fn an_unreadable_path_is_a_clear_error_and_exit_2() {
    let output = envk(&["check", "does/not/exist.env.k"]);
    assert_eq!(output.status.code(), Some(2));
    assert_eq!(
        stderr(&output),
        "error: cannot read `does/not/exist.env.k`: no such file or directory\n"
    );
    let dir = scratch("not-utf8");
    let file = dir.join("latin1.env.k");
    std::fs::write(&file, b"cluster caf\xe9 { }\n").unwrap();
    let output = envk(&["check", file.to_str().unwrap()]);
    assert_eq!(output.status.code(), Some(2));
    assert!(
        stderr(&output).contains("is not UTF-8 text (invalid byte at offset 11)"),
        "{}",
        stderr(&output)
    );
    let empty = scratch("empty-folder");
    let output = envk(&["check", empty.to_str().unwrap()]);
    assert_eq!(output.status.code(), Some(2));
    assert!(
        stderr(&output).contains("no `*.env.k` files in"),
        "{}",
        stderr(&output)
    );
}

#[test]
fn usage_errors_exit_2() {
    assert_eq!(
        envk(&["check"]).status.code(),
        Some(2),
        "a path is required"
    );
    assert_eq!(envk(&["frobnicate"]).status.code(), Some(2));
    assert_eq!(
        envk(&["--color", "sometimes", "check", "x"]).status.code(),
        Some(2)
    );
}

#[test]
fn version_and_help() {
    let version = envk(&["--version"]);
    assert_eq!(version.status.code(), Some(0));
    assert_eq!(
        stdout(&version),
        format!("envk {}\n", env!("CARGO_PKG_VERSION"))
    );
    for subcommand in ["check", "build", "explain"] {
        let help = envk(&["help", subcommand]);
        assert_eq!(help.status.code(), Some(0));
        assert!(
            stdout(&help).contains(&format!("Usage: envk {subcommand}")),
            "{}",
            stdout(&help)
        );
    }
    let check_help = stdout(&envk(&["check", "--help"]));
    assert!(check_help.contains("--message-format"));
    assert!(check_help.contains("--deny"));
}

#[test]
fn explain_prints_the_long_form_of_every_code() {
    for code in envk::diag::Code::ALL {
        let output = envk(&["explain", code.as_str()]);
        assert_eq!(output.status.code(), Some(0));
        assert_eq!(stdout(&output), code.explanation());
    }
    let lower = envk(&["explain", "e0102"]);
    assert!(stdout(&lower).starts_with("# E0102"));
    let unknown = envk(&["explain", "E9999"]);
    assert_eq!(unknown.status.code(), Some(2));
    assert!(stderr(&unknown).contains("`E9999` is not an envk diagnostic code"));
}

#[test]
fn explain_shows_a_stdlib_module() {
    for module in envk::stdlib_doc::modules() {
        let output = envk(&["explain", module]);
        assert_eq!(output.status.code(), Some(0), "{}", stderr(&output));
        assert_eq!(
            Some(stdout(&output)),
            envk::stdlib_doc::module_reference(module)
        );
        assert_eq!(stderr(&output), "");
    }
    let alerts = stdout(&envk(&["explain", "std/alerts"]));
    assert!(alerts.contains("### PodCrashLooping"), "{alerts}");
    let index = envk(&["explain", "std"]);
    assert_eq!(index.status.code(), Some(0));
    assert!(
        stdout(&index).contains("- `std/alerts`:"),
        "{}",
        stdout(&index)
    );
    assert!(
        stdout(&index).contains("- `std/roles`:"),
        "{}",
        stdout(&index)
    );
}

#[test]
fn explain_of_an_unknown_stdlib_module_is_a_usage_error() {
    let misspelt = envk(&["explain", "std/alert"]);
    assert_eq!(misspelt.status.code(), Some(2));
    assert_eq!(stdout(&misspelt), "");
    assert_eq!(
        stderr(&misspelt),
        "error: `std/alert` is not a module of the standard library; did you mean `std/alerts`? \
         (its modules: `std/alerts`, `std/roles`, `std/resources`, `std/policies`)\n"
    );
    let unknown = envk(&["explain", "std/metrics"]);
    assert_eq!(unknown.status.code(), Some(2));
    assert!(
        stderr(&unknown)
            .contains("(its modules: `std/alerts`, `std/roles`, `std/resources`, `std/policies`)"),
        "{}",
        stderr(&unknown)
    );
    // A path in another case is a module's, not a code's.
    let shouted = envk(&["explain", "STD/alerts"]);
    assert_eq!(shouted.status.code(), Some(2));
    assert!(
        stderr(&shouted).contains("did you mean `std/alerts`?"),
        "{}",
        stderr(&shouted)
    );
    let bare = envk(&["explain", "roles"]);
    assert_eq!(bare.status.code(), Some(2));
    assert!(
        stderr(&bare).contains("did you mean the standard library module `std/roles`?"),
        "{}",
        stderr(&bare)
    );
}

#[test]
fn four_mistakes_give_four_precise_diagnostics() {
    let output = envk(&[
        "--color",
        "never",
        "check",
        "tests/ui/check/four_mistakes.env.k",
    ]);
    assert_eq!(output.status.code(), Some(1));
    let err = stderr(&output);
    let headers: Vec<&str> = err
        .lines()
        .filter(|line| line.starts_with("error["))
        .collect();
    assert_eq!(headers.len(), 4, "{err}");
    for code in ["E0301", "E0405", "E0506", "E0602"] {
        assert!(
            headers.iter().any(|h| h.contains(code)),
            "{code} in {headers:?}"
        );
    }
}

#[test]
fn warnings_fail_only_under_deny_warnings() {
    let case = "tests/ui/network/selector_env_typo.env.k";
    let output = envk(&["--color", "never", "check", case]);
    assert_eq!(
        output.status.code(),
        Some(0),
        "a warning alone does not fail"
    );
    assert!(stderr(&output).contains("warning[E0601]"));
    assert!(stderr(&output).trim_end().ends_with("warning: 1 warning"));
    let denied = envk(&["--color", "never", "check", "--deny", "warnings", case]);
    assert_eq!(denied.status.code(), Some(1));
    assert!(
        stderr(&denied)
            .trim_end()
            .ends_with("error: could not check: 1 warning")
    );
}

#[test]
fn the_stream_layout_and_timings_from_the_command_line() {
    let dir = scratch("stream-layout");
    let out = dir.join("out");
    let out_arg = out.to_str().unwrap();
    let output = envk(&[
        "build",
        "--layout",
        "stream",
        "--timings",
        "examples/multi-team",
        "-o",
        out_arg,
    ]);
    assert_eq!(output.status.code(), Some(0), "{}", stderr(&output));
    for file in [
        "prod-cluster/namespaces.yaml",
        "prod-cluster/monitoring/prometheusrules.yaml",
        "prod-cluster/monitoring/rules.yaml",
        // The example has a `gitops` block: `envk-argocd` syncs the
        // Applications from the `argocd` folder.
        "argocd/applications/prod-cluster.yaml",
        "argocd/platform.yaml",
        "argocd/projects.yaml",
        "argocd/kustomization.yaml",
    ] {
        assert!(out.join(file).is_file(), "{file} written");
    }
    assert!(!out.join("prod-cluster/namespaces").exists(), "no tree");
    let printed = stderr(&output);
    let phases: Vec<&str> = printed
        .lines()
        .skip_while(|line| *line != "timings:")
        .skip(1)
        .filter_map(|line| line.split_whitespace().next())
        .collect();
    assert_eq!(
        phases,
        [
            "load", "parse", "resolve", "check", "emit", "write", "total", "wrote"
        ],
        "{printed}"
    );
    // The same folder, built again in the stream layout, is up to date.
    let again = envk(&[
        "build",
        "--check",
        "--layout",
        "stream",
        "examples/multi-team",
        "-o",
        out_arg,
    ]);
    assert_eq!(again.status.code(), Some(0), "{}", stdout(&again));
    // Built in the tree layout instead, everything differs.
    let tree = envk(&["build", "--check", "examples/multi-team", "-o", out_arg]);
    assert_eq!(tree.status.code(), Some(1));
    assert!(stdout(&tree).contains("added    prod-cluster/namespaces/"));
    assert!(stdout(&tree).contains("removed  prod-cluster/namespaces.yaml"));

    let check = envk(&["check", "--timings", "examples/multi-team"]);
    assert_eq!(check.status.code(), Some(0));
    assert!(stderr(&check).contains("  check "), "{}", stderr(&check));
    assert!(!stderr(&check).contains("  emit "));
}

/// A namespace an earlier build deployed and the program no longer
/// declares stays in its cluster: every build names it (`.envk/namespaces`,
/// the cluster's README, a note), `--check` too, until it is declared
/// again or `--forget` says it is gone.
#[test]
fn namespaces_no_longer_declared_are_named_until_forgotten() {
    let dir = scratch("retired");
    let out = dir.join("out");
    let out_arg = out.to_str().unwrap();
    let program = |with_legacy: bool| {
        let mut text = String::from(
            "cluster dev {\n  server = \"https://dev.example.com\"\n  environment = development\n}\n\
             tier t { pod_security = baseline }\n\
             env shop on dev tier t { }\n",
        );
        if with_legacy {
            text.push_str("env legacy on dev tier t { }\n");
        }
        let path = dir.join("fleet.env.k");
        std::fs::write(&path, text).unwrap();
        path.to_str().unwrap().to_string()
    };
    let namespaces = || std::fs::read_to_string(out.join(".envk/namespaces")).unwrap();
    let first = envk(&["build", &program(true), "-o", out_arg]);
    assert_eq!(first.status.code(), Some(0), "{}", stderr(&first));
    assert!(namespaces().contains("\ndev legacy\n"), "{}", namespaces());

    let path = program(false);
    let check = envk(&["build", "--check", &path, "-o", out_arg]);
    assert_eq!(check.status.code(), Some(1));
    let note = "note: namespace `legacy` on `dev` is no longer declared";
    assert!(stderr(&check).contains(note), "{}", stderr(&check));

    for _ in 0..2 {
        // Building again keeps naming it: the build is its own history.
        let again = envk(&["build", &path, "-o", out_arg]);
        assert_eq!(again.status.code(), Some(0), "{}", stderr(&again));
        assert!(stderr(&again).contains(note), "{}", stderr(&again));
        assert!(
            namespaces().contains("\ndev legacy retired\n"),
            "{}",
            namespaces()
        );
        let readme = std::fs::read_to_string(out.join("dev/README.md")).unwrap();
        assert!(
            readme.contains("## Namespaces no longer declared"),
            "{readme}"
        );
        assert!(readme.contains("`legacy`"), "{readme}");
    }
    let up_to_date = envk(&["build", "--check", &path, "-o", out_arg]);
    assert_eq!(up_to_date.status.code(), Some(0), "{}", stderr(&up_to_date));

    let unknown = envk(&["build", &path, "-o", out_arg, "--forget", "dev/nope"]);
    assert_eq!(unknown.status.code(), Some(2));
    assert!(
        stderr(&unknown).contains("`--forget dev/nope`"),
        "{}",
        stderr(&unknown)
    );

    for (wrong, why) in [
        ("legacy", "expected `CLUSTER/NAMESPACE`"),
        ("dev/shop", "the program declares it"),
    ] {
        let refused = envk(&["build", &path, "-o", out_arg, "--forget", wrong]);
        assert_eq!(refused.status.code(), Some(2));
        assert!(stderr(&refused).contains(why), "{}", stderr(&refused));
    }
    let forgotten = envk(&["build", &path, "-o", out_arg, "--forget", "dev/legacy"]);
    assert_eq!(forgotten.status.code(), Some(0), "{}", stderr(&forgotten));
    assert!(
        !stderr(&forgotten).contains("note:"),
        "{}",
        stderr(&forgotten)
    );
    assert!(!namespaces().contains("legacy"), "{}", namespaces());
    let readme = std::fs::read_to_string(out.join("dev/README.md")).unwrap();
    assert!(!readme.contains("no longer declared"), "{readme}");

    // Declared again, it is an env like the others.
    let back = envk(&["build", &program(true), "-o", out_arg]);
    assert_eq!(back.status.code(), Some(0), "{}", stderr(&back));
    assert!(namespaces().contains("\ndev legacy\n"), "{}", namespaces());
}

/// `--programs`: each file no other imports is a root, checked with what
/// it imports, on its own; the diagnostics of each come after its name,
/// and a clean program prints nothing.
#[test]
fn programs_are_checked_each_on_its_own() {
    let output = envk(&["check", "--programs", "examples"]);
    assert_eq!(output.status.code(), Some(0), "{}", stderr(&output));
    assert_eq!(stderr(&output), "");
    let roots = envk::driver::programs(&[PathBuf::from("examples")]).expect("readable");
    let roots: Vec<String> = roots
        .iter()
        .map(|root| root.display().to_string())
        .collect();
    assert_eq!(
        roots
            .iter()
            .map(|root| root.rsplit("examples/").next().unwrap_or(""))
            .collect::<Vec<_>>(),
        [
            "enterprise.env.k",
            "multi-team/main.env.k",
            "regions/main.env.k"
        ]
    );

    let dir = scratch("programs");
    std::fs::write(
        dir.join("shared.env.k"),
        "cluster dev {\n  server = \"https://dev.example.com\"\n  environment = development\n}\n\
         tier standard { pod_security = baseline }\n",
    )
    .unwrap();
    std::fs::write(
        dir.join("a.env.k"),
        "import \"./shared.env.k\"\nenv web on dev tier standard { }\n",
    )
    .unwrap();
    std::fs::write(
        dir.join("b.env.k"),
        "import \"./shared.env.k\"\nenv web on dev tier standrd { }\n",
    )
    .unwrap();
    // As one program, the two files' `web` would be one namespace twice.
    let together = envk(&["--color", "never", "check", dir.to_str().unwrap()]);
    assert!(
        stderr(&together).contains("error[E0202]"),
        "{}",
        stderr(&together)
    );
    let output = envk(&[
        "--color",
        "never",
        "check",
        "--programs",
        dir.to_str().unwrap(),
    ]);
    assert_eq!(output.status.code(), Some(1));
    let text = stderr(&output);
    assert_eq!(text.matches("error[").count(), 1, "{text}");
    assert!(
        text.contains("error[E0201]: unknown tier `standrd`"),
        "{text}"
    );
    assert!(text.starts_with("in the program of `"), "{text}");
    assert!(
        text.lines().next().unwrap_or("").ends_with("b.env.k`:"),
        "{text}"
    );
}

/// A policy violation in JSON: at the line that breaks it, with the
/// policy's line beside it, as a warning for a `severity = warning`
/// policy; the twin just inside the policies checks clean.
#[test]
fn json_reports_policy_violations_at_the_offending_line() {
    let output = envk(&[
        "check",
        "--message-format",
        "json",
        "tests/ui/policies/violations.env.k",
    ]);
    assert_eq!(output.status.code(), Some(1));
    let lines = json_lines(&output);
    let found: Vec<(u64, &str)> = lines
        .iter()
        .map(|l| (l["line"].as_u64().unwrap(), l["severity"].as_str().unwrap()))
        .collect();
    assert_eq!(
        found,
        [(34, "error"), (44, "error"), (41, "warning"), (46, "error")]
    );
    assert!(lines.iter().all(|l| l["code"] == "E0901"));
    let first = &lines[0];
    assert_eq!(first["message"], "no dev env asks for more than 4 cpu");
    assert_eq!(
        first["label"],
        "`env.quota.requests.cpu` is `6`, the policy allows at most `4`"
    );
    let policy_line = first["secondary"]
        .as_array()
        .unwrap()
        .iter()
        .find(|label| label["label"] == "policy `small-dev`")
        .expect("the policy beside it");
    assert_eq!(policy_line["line"], 19);
    let warned = envk(&["check", "tests/ui/policies/violations_ok.env.k"]);
    assert_eq!(warned.status.code(), Some(0), "{}", stderr(&warned));
}

/// `envk cost` against figures computed by hand: at the default prices a
/// core costs 0.031611 × 730 = $23.07603 a month and a GiB 0.004237 × 730
/// = $3.09301; on cluster `b`, 0.05 × 730 = $36.50 and 0.01 × 730 = $7.30.
#[test]
fn cost_figures_are_the_hand_computed_ones() {
    let dir = scratch("cost");
    let program = dir.join("fleet.env.k");
    std::fs::write(
        &program,
        r#"cluster a { server = "https://a.example.com"  environment = development }
cluster b {
  server = "https://b.example.com"
  environment = development
  price { cpu = 0.05  memory = 0.01 }
}
tier t { pod_security = baseline }
env x on a tier t {
  labels { team = "red"  cost-center = "cc-1" }
  quota { requests.cpu = 2  requests.memory = 4Gi  limits.cpu = 4  limits.memory = 8Gi }
}
env y on b tier t {
  labels { team = "red" }
  quota { requests.cpu = 3  requests.memory = 10Gi }
}
env z on b tier t {
  labels { team = "blue"  cost-center = "cc-1" }
  quota { requests.cpu = 500m  requests.memory = 512Mi }
}
"#,
    )
    .unwrap();
    let path = program.to_str().unwrap();
    let output = envk(&["cost", "--format", "json", path]);
    assert_eq!(output.status.code(), Some(0), "{}", stderr(&output));
    let json: serde_json::Value = serde_json::from_str(&stdout(&output)).unwrap();
    let env = |name: &str| {
        json["envs"]
            .as_array()
            .unwrap()
            .iter()
            .find(|env| env["namespace"] == name)
            .unwrap()
            .clone()
    };
    // x: 2 × 23.07603 + 4 × 3.09301 = 58.5241; limits 117.0482.
    assert_eq!(env("x")["requests"], "58.52");
    assert_eq!(env("x")["limits"], "117.05");
    // y: 3 × 36.50 + 10 × 7.30 = 182.50; no limits: not bounded.
    assert_eq!(env("y")["requests"], "182.50");
    assert_eq!(env("y")["limits_bounded"], false);
    // z: 0.5 × 36.50 + 0.5 × 7.30 = 21.90.
    assert_eq!(env("z")["requests"], "21.90");
    let group = |list: &str, name: &str| {
        json[list]
            .as_array()
            .unwrap()
            .iter()
            .find(|line| line["name"] == name)
            .unwrap()["requests"]
            .clone()
    };
    assert_eq!(group("groups", "red"), "241.02");
    assert_eq!(group("groups", "blue"), "21.90");
    assert_eq!(group("clusters", "b"), "204.40");
    assert_eq!(json["total"]["requests"], "262.92");
    assert_eq!(json["hours_per_month"], 730);

    let csv = stdout(&envk(&[
        "cost",
        "--by",
        "cost-center",
        "--format",
        "csv",
        path,
    ]));
    assert!(
        csv.starts_with("scope,name,cluster,namespace,tier,group,"),
        "{csv}"
    );
    assert!(
        csv.contains("\nby:cost-center,cc-1,,,,,,,2,80.42,117.05,,true,false\n"),
        "{csv}"
    );
    assert!(
        csv.contains("\nby:cost-center,(none),,,,,,,1,182.50,0.00,,true,false\n"),
        "{csv}"
    );
    assert!(csv.contains("\ntotal,all envs,,,,,,,3,262.92,"), "{csv}");

    let table = stdout(&envk(&["cost", path]));
    assert!(table.contains("OpenCost's default prices"), "{table}");
    assert!(table.contains("$262.92"), "{table}");
    assert!(
        table.contains("a list-price estimate from quota requests"),
        "{table}"
    );
    let markdown = stdout(&envk(&["cost", "--format", "markdown", path]));
    assert!(markdown.contains("| red | 2 | $241.02 |"), "{markdown}");
}

fn build_into(program: &Path, out: &Path) {
    let output = envk(&[
        "build",
        program.to_str().unwrap(),
        "-o",
        out.to_str().unwrap(),
    ]);
    assert_eq!(output.status.code(), Some(0), "{}", stderr(&output));
}

#[test]
fn diff_exits_0_without_change_1_with_and_2_on_error() {
    let dir = scratch("diff-exit");
    let program = dir.join("p.env.k");
    let text = "cluster c { server = \"https://c.example.com\"  environment = development }\ntier t { pod_security = baseline }\nenv a on c tier t { quota { requests.cpu = 1  requests.memory = 1Gi } }\n";
    std::fs::write(&program, text).unwrap();
    build_into(&program, &dir.join("old"));
    build_into(&program, &dir.join("same"));
    std::fs::write(
        &program,
        text.replace("requests.cpu = 1 ", "requests.cpu = 2 "),
    )
    .unwrap();
    build_into(&program, &dir.join("new"));
    let folder = |name: &str| dir.join(name).to_str().unwrap().to_string();

    let same = envk(&["diff", &folder("old"), &folder("same")]);
    assert_eq!(same.status.code(), Some(0));
    assert_eq!(stdout(&same), "no changes\n");

    let changed = envk(&["diff", "--color", "never", &folder("old"), &folder("new")]);
    assert_eq!(changed.status.code(), Some(1), "{}", stderr(&changed));
    let text = stdout(&changed);
    assert!(
        text.contains("quota of `a`: `requests.cpu` 1 → 2 (+1)"),
        "{text}"
    );
    assert!(text.contains("-    requests.cpu: '1'"), "{text}");

    let json = envk(&["diff", "--format", "json", &folder("old"), &folder("new")]);
    let value: serde_json::Value = serde_json::from_str(&stdout(&json)).unwrap();
    assert_eq!(value["changed"], true);

    let parts = dir.join("comment");
    let markdown = envk(&[
        "diff",
        "--format",
        "markdown",
        "--parts-dir",
        parts.to_str().unwrap(),
        &folder("old"),
        &folder("new"),
    ]);
    assert_eq!(markdown.status.code(), Some(1));
    let comment = std::fs::read_to_string(parts.join("comment-1.md")).unwrap();
    assert!(
        comment.starts_with("<!-- envk diff -->\n## envk diff\n"),
        "{comment}"
    );

    let not_a_build = envk(&["diff", &folder("old"), dir.to_str().unwrap()]);
    assert_eq!(not_a_build.status.code(), Some(2));
    assert!(
        stderr(&not_a_build).contains("is not a build folder"),
        "{}",
        stderr(&not_a_build)
    );
    let one_side = envk(&["diff", &folder("old")]);
    assert_eq!(one_side.status.code(), Some(2));
}

fn git(dir: &Path, args: &[&str]) -> String {
    let output = Command::new("git")
        .current_dir(dir)
        .args(["-c", "user.name=t", "-c", "user.email=t@example.com"])
        .args(args)
        .output()
        .expect("git runs");
    assert!(output.status.success(), "git {args:?}: {}", stderr(&output));
    stdout(&output)
}

/// `--base REV` builds the program as it was at REV from git's objects:
/// imports resolve there too, and the work tree and index stay as they
/// were, uncommitted changes included.
#[test]
fn diff_base_reads_the_revision_from_git_and_leaves_the_work_tree_alone() {
    let repo = scratch("diff-base");
    git(&repo, &["init", "-q"]);
    std::fs::create_dir_all(repo.join("envs")).unwrap();
    let clusters = "cluster c { server = \"https://c.example.com\"  environment = development }\ntier t { pod_security = baseline }\n";
    std::fs::write(repo.join("envs/clusters.env.k"), clusters).unwrap();
    let team = |extra: &str| {
        format!(
            "import \"./clusters.env.k\"\nenv a on c tier t {{\n  ingress allow from environment development on tcp 8080\n}}\n{extra}"
        )
    };
    std::fs::write(repo.join("envs/team.env.k"), team("")).unwrap();
    git(&repo, &["add", "."]);
    git(&repo, &["commit", "-q", "-m", "base"]);
    // Uncommitted: a second namespace.
    let changed = team("env b on c tier t { egress allow to env a on tcp 8080 }\n");
    std::fs::write(repo.join("envs/team.env.k"), &changed).unwrap();
    let status = git(&repo, &["status", "--porcelain"]);

    let output = Command::new(env!("CARGO_BIN_EXE_envk"))
        .current_dir(&repo)
        .args(["diff", "--color", "never", "--base", "HEAD", "envs"])
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(1), "{}", stderr(&output));
    let text = stdout(&output);
    assert!(text.contains("adds namespace `b`"), "{text}");
    assert!(
        text.contains("opens the path from `b` to `a` on TCP 8080"),
        "{text}"
    );
    assert_eq!(
        std::fs::read_to_string(repo.join("envs/team.env.k")).unwrap(),
        changed
    );
    assert_eq!(git(&repo, &["status", "--porcelain"]), status);

    // The same revision against itself: nothing, once the change is stashed.
    git(&repo, &["stash", "-q"]);
    let same = Command::new(env!("CARGO_BIN_EXE_envk"))
        .current_dir(repo.join("envs"))
        .args(["diff", "--base", "HEAD", "."])
        .output()
        .unwrap();
    assert_eq!(same.status.code(), Some(0), "{}", stderr(&same));

    let unknown = Command::new(env!("CARGO_BIN_EXE_envk"))
        .current_dir(&repo)
        .args(["diff", "--base", "no-such-branch", "envs"])
        .output()
        .unwrap();
    assert_eq!(unknown.status.code(), Some(2));
    assert!(
        stderr(&unknown).contains("is not a commit"),
        "{}",
        stderr(&unknown)
    );
}
