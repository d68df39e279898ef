//! The language server, driven in memory: what it publishes equals what
//! `envk check` reports, on every UI case and example, as documents are
//! opened and edited; each kind of request answers as recorded in
//! `tests/lsp/*.request.json` (`ENVK_BLESS=1` rewrites the `.expected.json`
//! beside each).

use std::path::{Path, PathBuf};

use serde_json::{Value, json};

// Its `orphans` pairs `.env.k` cases; requests are `.request.json`, whose
// leftovers `requests_answer_as_recorded` finds itself.
#[allow(dead_code)]
#[path = "support/golden.rs"]
mod golden;
#[path = "support/lsp_client.rs"]
mod lsp_client;

use lsp_client::{Client, expected, published, repo};

/// Every UI case, opened in a server whose workspace is `tests/ui`:
/// the diagnostics published for it are those `envk check` gives the
/// programs that hold it, by the rule `envk check --programs` uses (a
/// case imported by another is checked in its importer's program).
#[test]
fn diagnostics_equal_check_on_every_ui_case() {
    let folder = repo("tests/ui");
    let cases = golden::cases(&folder);
    let programs = envk::load::Programs::discover(&cases, &envk::load::FileSystem);
    let mut client = Client::start(&folder);
    let mut failures = Vec::new();
    for case in &cases {
        let text = std::fs::read_to_string(case).expect("a readable case");
        client.open(case, &text, 1);
        let actual = published(&client.diagnostics(case, Some(1)));
        let mut wanted = Vec::new();
        for root in programs.roots_of(&identity(case)) {
            let run = envk::driver::check(&[root]).expect("a readable program");
            for diagnostic in expected(&run, &case.display().to_string()) {
                if !wanted.contains(&diagnostic) {
                    wanted.push(diagnostic);
                }
            }
        }
        if actual != wanted {
            failures.push(format!(
                "{}:\n  published {}\n  check     {}",
                case.display(),
                Value::from(actual),
                Value::from(wanted)
            ));
        }
        client.close(case);
    }
    client.stop();
    assert!(cases.len() > 300, "the UI suite: {} cases", cases.len());
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

fn identity(path: &Path) -> PathBuf {
    std::fs::canonicalize(path).expect("an existing file")
}

/// A file of each example, opened: what is published for it is what
/// `envk check` reports of it in its program (nothing: they check clean).
#[test]
fn examples_publish_what_check_reports() {
    let folder = repo("examples");
    let mut client = Client::start(&folder);
    for (program, opened) in [
        (
            "examples/multi-team/main.env.k",
            "examples/multi-team/tiers.env.k",
        ),
        ("examples/regions/main.env.k", "examples/regions/apps.env.k"),
    ] {
        let opened = repo(opened);
        client.open(
            &opened,
            &std::fs::read_to_string(&opened).expect("readable"),
            1,
        );
        let run = envk::driver::check(&[repo(program)]).expect("readable");
        assert_eq!(
            published(&client.diagnostics(&opened, Some(1))),
            expected(&run, &opened.display().to_string()),
        );
    }
    client.stop();
}

/// A workspace of two programs sharing a file: opening the shared file
/// reports, for it, both programs' findings, and for the files it does
/// not have open, each program's own; mending the open file clears what
/// came from it, and closing it clears what only it kept shown.
#[test]
fn programs_are_found_by_their_roots() {
    let folder = lsp_client::scratch("lsp-programs");
    let write = |name: &str, text: &str| {
        let path = folder.join(name);
        std::fs::write(&path, text).expect("written");
        std::fs::canonicalize(path).expect("exists")
    };
    let shared = write(
        "shared.env.k",
        "cluster dev {\n  server = \"https://dev.example.com\"\n  environment = development\n}\n\
         tier standard { pod_security = baseline }\n",
    );
    let first = write(
        "first.env.k",
        "import \"./shared.env.k\"\nenv web on dev tier standrd { }\n",
    );
    let second = write(
        "second.env.k",
        "import \"./shared.env.k\"\nenv api on dve tier standard { }\n",
    );
    let mut client = Client::start(&folder);
    let text = std::fs::read_to_string(&shared).expect("readable");
    client.open(&shared, &text, 1);
    assert_eq!(client.diagnostics(&shared, Some(1)), Vec::<Value>::new());
    let codes = |diagnostics: Vec<Value>| -> Vec<String> {
        diagnostics
            .iter()
            .map(|d| {
                format!(
                    "{} {}",
                    d["code"].as_str().unwrap_or(""),
                    d["message"]
                        .as_str()
                        .unwrap_or("")
                        .lines()
                        .next()
                        .unwrap_or("")
                )
            })
            .collect()
    };
    assert_eq!(
        codes(client.diagnostics(&first, None)),
        ["E0201 unknown tier `standrd`"]
    );
    assert_eq!(
        codes(client.diagnostics(&second, None)),
        ["E0201 unknown cluster `dve`"]
    );
    // The shared file's tier renamed: both programs report it, in the
    // files that use it.
    client.edit(&shared, 2, [4, 5, 4, 13], "basic");
    assert_eq!(client.diagnostics(&shared, Some(2)), Vec::<Value>::new());
    assert_eq!(
        codes(client.diagnostics(&second, None)),
        [
            "E0201 unknown cluster `dve`",
            "E0201 unknown tier `standard`"
        ]
    );
    client.close(&shared);
    // Closed, the shared file is read from disk again: `standard` is back,
    // and what no open document's program reads is cleared.
    assert_eq!(client.diagnostics(&second, None), Vec::<Value>::new());
    client.stop();
}

/// An edit that breaks a file is reported at its new version, with the
/// code's page linked and the help in the message; the edit that mends
/// it clears the report.
#[test]
fn edits_are_reported_and_cleared() {
    let file = repo("examples/multi-team/tiers.env.k");
    let text = std::fs::read_to_string(&file).expect("readable");
    let mut client = Client::start(&repo("examples"));
    client.open(&file, &text, 1);
    assert_eq!(client.diagnostics(&file, Some(1)), Vec::<Value>::new());
    let line = text
        .lines()
        .position(|line| line.contains("pod_security = restricted"))
        .expect("a tier with restricted pods") as u32;
    // `pod_security` becomes `pod_secrity`.
    client.edit(&file, 2, [line, 9, line, 10], "");
    let broken = client.diagnostics(&file, Some(2));
    assert_eq!(broken.len(), 1, "{broken:?}");
    assert_eq!(broken[0]["code"], "E0302");
    assert!(
        broken[0]["message"]
            .as_str()
            .expect("text")
            .ends_with("help: did you mean `pod_security`?"),
        "{broken:?}"
    );
    let page = broken[0]["codeDescription"]["href"]
        .as_str()
        .expect("a link");
    let page = lsp_types::Url::parse(page)
        .expect("a URL")
        .to_file_path()
        .expect("a file");
    assert_eq!(
        std::fs::read_to_string(page).expect("the page is written"),
        envk::diag::Code::E0302.explanation()
    );
    client.edit(&file, 3, [line, 9, line, 9], "u");
    assert_eq!(client.diagnostics(&file, Some(3)), Vec::<Value>::new());
    client.stop();
}

/// A request the server cannot read is answered with an error, and the
/// server goes on.
#[test]
fn bad_requests_are_answered_with_errors() {
    let mut client = Client::start(&repo("examples"));
    let answer = client.request("textDocument/hover", json!({ "nonsense": true }));
    assert_eq!(answer["error"]["code"], -32602, "{answer}");
    let answer = client.request("envk/unknown", json!({}));
    assert_eq!(answer["error"]["code"], -32601, "{answer}");
    let file = repo("examples/enterprise.env.k");
    client.open(&file, &std::fs::read_to_string(&file).expect("readable"), 1);
    assert_eq!(client.diagnostics(&file, Some(1)), Vec::<Value>::new());
    client.stop();
}

/// Each `tests/lsp/NAME.request.json` names a file of the repository, a
/// method, where the cursor is (the first occurrence of `find`, at the
/// `|` in it), a range (`range_at`, empty at such a cursor, or
/// `whole_file`) and any other parameters; the answer, with paths made
/// relative to the repository, equals `NAME.expected.json`.
#[test]
fn requests_answer_as_recorded() {
    let folder = repo("tests/lsp");
    let mut cases: Vec<PathBuf> = std::fs::read_dir(&folder)
        .expect("tests/lsp")
        .map(|entry| entry.expect("an entry").path())
        .filter(|path| path.to_string_lossy().ends_with(".request.json"))
        .collect();
    cases.sort();
    assert!(cases.len() >= 6, "request cases: {}", cases.len());
    let mut client = Client::start(&repo("examples"));
    let mut failures = Vec::new();
    for case in &cases {
        let request: Value =
            serde_json::from_str(&std::fs::read_to_string(case).expect("readable")).expect("JSON");
        let file = repo(request["file"].as_str().expect("a file"));
        let text = std::fs::read_to_string(&file).expect("readable");
        client.open(&file, &text, 1);
        client.diagnostics(&file, Some(1));
        let mut params = request["params"].clone();
        if params.is_null() {
            params = json!({});
        }
        params["textDocument"] = json!({ "uri": lsp_client::uri(&file) });
        if let Some(find) = request["find"].as_str() {
            params["position"] = cursor(&text, find);
        }
        // A range: the cursor's (code actions), or the whole file (hints).
        if let Some(find) = request["range_at"].as_str() {
            let at = cursor(&text, find);
            params["range"] = json!({ "start": at, "end": at });
        }
        if request["whole_file"] == json!(true) {
            params["range"] = json!({ "start": { "line": 0, "character": 0 },
                                      "end": { "line": text.lines().count(), "character": 0 } });
        }
        let method = request["method"].as_str().expect("a method");
        let answer = client.request(method, params);
        let shown = serde_json::to_string_pretty(&relative(answer)).expect("JSON") + "\n";
        let expected = PathBuf::from(
            case.to_string_lossy()
                .replace(".request.json", ".expected.json"),
        );
        golden::compare(case, &expected, &shown, &mut failures);
        client.close(&file);
    }
    for entry in std::fs::read_dir(&folder).expect("tests/lsp") {
        let path = entry.expect("an entry").path();
        let name = path.to_string_lossy().into_owned();
        if let Some(stem) = name.strip_suffix(".expected.json")
            && !Path::new(&format!("{stem}.request.json")).exists()
        {
            failures.push(format!("{name}: no request beside it (remove it)"));
        }
    }
    client.stop();
    assert!(failures.is_empty(), "{}", failures.join("\n\n"));
}

/// The position of the `|` in the first occurrence of `find` (with the
/// `|` taken out) in `text`.
fn cursor(text: &str, find: &str) -> Value {
    let bar = find.find('|').expect("a `|` marks the cursor");
    let needle = find.replace('|', "");
    let at = text
        .find(&needle)
        .unwrap_or_else(|| panic!("`{needle}` is in the file"))
        + bar;
    let (line, character) = lsp_client::utf16_position(text, at);
    json!({ "line": line, "character": character })
}

/// URIs made relative: `file:///…/repository/` becomes `repo:/`, and the
/// stdlib's copies `std:/`.
fn relative(value: Value) -> Value {
    match value {
        Value::String(text) => Value::String(relative_text(&text)),
        Value::Array(items) => Value::Array(items.into_iter().map(relative).collect()),
        // A workspace edit's files are its keys.
        Value::Object(fields) => Value::Object(
            fields
                .into_iter()
                .map(|(key, value)| (relative_text(&key), relative(value)))
                .collect(),
        ),
        other => other,
    }
}

fn relative_text(text: &str) -> String {
    let root = lsp_client::uri(&repo("")).trim_end_matches('/').to_string();
    let text = text.replace(&format!("{root}/"), "repo:/");
    let std = lsp_types::Url::from_file_path(
        std::env::temp_dir().join(format!("envk-{}", env!("CARGO_PKG_VERSION"))),
    )
    .expect("absolute")
    .to_string();
    text.replace(&format!("{std}/"), "std:/")
}

/// A rename's edits, applied, leave a program that checks as before: a
/// tier, a record field, a role and a family, each renamed across the
/// files of a copy of the multi-team example.
#[test]
fn renames_keep_the_program_checking() {
    let folder = lsp_client::scratch("lsp-renames");
    copy_folder(&repo("examples/multi-team"), &folder);
    std::fs::copy(repo("tests/lsp/family.env.k"), folder.join("family.env.k")).expect("copied");
    let mut client = Client::start(&folder);
    for (file, find, new_name) in [
        ("teams/payments.env.k", "tier crit|ical {", "vital"),
        ("main.env.k", "team.si|ze", "scale"),
        (
            "teams/payments.env.k",
            "grant oncall-resp|onder",
            "first-responder",
        ),
        ("family.env.k", "env sh|op {", "store"),
    ] {
        let path = folder.join(file);
        let text = std::fs::read_to_string(&path).expect("readable");
        client.open(&path, &text, 1);
        client.diagnostics(&path, Some(1));
        let answer = client.request(
            "textDocument/rename",
            json!({ "textDocument": { "uri": lsp_client::uri(&path) },
                    "position": cursor(&text, find), "newName": new_name }),
        );
        let changes = answer["changes"]
            .as_object()
            .unwrap_or_else(|| panic!("{answer}"));
        assert!(!changes.is_empty());
        for (uri, edits) in changes {
            let target = lsp_types::Url::parse(uri)
                .expect("a URI")
                .to_file_path()
                .expect("a file");
            let text = std::fs::read_to_string(&target).expect("readable");
            std::fs::write(&target, apply(&text, edits.as_array().expect("edits")))
                .expect("written");
        }
        client.close(&path);
        let root = if file == "family.env.k" {
            "family.env.k"
        } else {
            "main.env.k"
        };
        let run = envk::driver::check(&[folder.join(root)]).expect("readable");
        assert!(
            !run.has_errors(),
            "after renaming to `{new_name}`:\n{}",
            envk::diag::render_plain(&run.sources, &run.diagnostics)
        );
        let renamed = std::fs::read_to_string(folder.join(file)).expect("readable");
        assert!(
            renamed.contains(new_name),
            "{file} does not name `{new_name}`"
        );
    }
    client.stop();
}

/// Edits in two files of one program, each re-parsed from the tree of the
/// check before (the root's moving every file after it, and items of the
/// other with a diagnostic): what is published, ranges and all, equals a
/// cold check of the same texts.
#[test]
fn edits_across_files_publish_what_check_reports() {
    let folder = lsp_client::scratch("lsp-edits-across-files");
    copy_folder(&repo("examples/multi-team"), &folder);
    let cold = lsp_client::scratch("lsp-edits-across-files-cold");
    copy_folder(&folder, &cold);
    let main = folder.join("main.env.k");
    let team = folder.join("teams/payments.env.k");
    let mut texts = [
        std::fs::read_to_string(&main).expect("readable"),
        std::fs::read_to_string(&team).expect("readable"),
    ];
    let mut client = Client::start(&folder);
    client.open(&main, &texts[0], 1);
    client.open(&team, &texts[1], 1);
    client.diagnostics(&team, Some(1));
    // What the editor shows, by file: the last diagnostics published.
    let mut shown: std::collections::HashMap<String, Vec<Value>> = Default::default();
    // In the root (0) or the team's file (1), at the first match of a
    // text (or the start), so many bytes replaced by another text.
    let edits = [
        (1, "std/roles", 9, "std/rolez"),
        (0, "", 0, "// one more line\n"),
        (0, "", 17, ""),
        (1, "std/rolez", 9, "std/roles"),
        (1, "small * 2", 5, "smal"),
        (0, "", 0, "// one more line\n"),
        (1, "smal * 2", 4, "small"),
    ];
    let mut versions = [1, 1];
    for (which, at, delete, insert) in edits {
        let path = [&main, &team][which];
        versions[which] += 1;
        let version = versions[which];
        let text = &mut texts[which];
        let start = text.find(at).expect("in the text");
        let (from, to) = (
            lsp_client::utf16_position(text, start),
            lsp_client::utf16_position(text, start + delete),
        );
        text.replace_range(start..start + delete, insert);
        client.edit(path, version, [from.0, from.1, to.0, to.1], insert);
        let now = client.diagnostics(path, Some(version));
        // Whatever else the check published came before the answer to a
        // request sent after it.
        client.request(
            "textDocument/documentSymbol",
            json!({ "textDocument": { "uri": lsp_client::uri(path) } }),
        );
        for notification in client.take_pending() {
            if notification.method == "textDocument/publishDiagnostics" {
                let uri = notification.params["uri"]
                    .as_str()
                    .expect("a uri")
                    .to_string();
                let diagnostics = notification.params["diagnostics"].as_array().cloned();
                shown.insert(uri, diagnostics.unwrap_or_default());
            }
        }
        shown.insert(lsp_client::uri(path), now);
        let mut shown_in = |path: &Path| published(shown.entry(lsp_client::uri(path)).or_default());
        let (now, other) = (shown_in(path), [&main, &team][1 - which]);
        let other_now = shown_in(other);
        std::fs::write(cold.join("main.env.k"), &texts[0]).expect("written");
        std::fs::write(cold.join("teams/payments.env.k"), &texts[1]).expect("written");
        let run = envk::driver::check(&[cold.join("main.env.k")]).expect("readable");
        let name = |path: &Path| {
            cold.join(path.strip_prefix(&folder).expect("in the folder"))
                .display()
                .to_string()
        };
        assert_eq!(now, expected(&run, &name(path)), "after edit {version}");
        assert_eq!(
            other_now,
            expected(&run, &name(other)),
            "after edit {version}"
        );
    }
    client.stop();
}

fn copy_folder(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).expect("a folder");
    for entry in std::fs::read_dir(from).expect("readable") {
        let path = entry.expect("an entry").path();
        let target = to.join(path.file_name().expect("a name"));
        if path.is_dir() {
            copy_folder(&path, &target);
        } else {
            std::fs::copy(&path, &target).expect("copied");
        }
    }
}

/// `edits` (the protocol's, on one file, not overlapping) applied to
/// `text`, last first so that positions stay right.
fn apply(text: &str, edits: &[Value]) -> String {
    let offset = |position: &Value| {
        let line = position["line"].as_u64().expect("a line") as usize;
        let character = position["character"].as_u64().expect("a column") as usize;
        let start: usize = text.split_inclusive('\n').take(line).map(str::len).sum();
        let mut units = 0;
        let line_text = &text[start..];
        start
            + line_text
                .char_indices()
                .find(|&(_, c)| {
                    let reached = units >= character;
                    units += c.len_utf16();
                    reached
                })
                .map_or(line_text.len(), |(at, _)| at)
    };
    let mut ranges: Vec<(usize, usize, &str)> = edits
        .iter()
        .map(|edit| {
            (
                offset(&edit["range"]["start"]),
                offset(&edit["range"]["end"]),
                edit["newText"].as_str().expect("text"),
            )
        })
        .collect();
    ranges.sort_by_key(|&(start, _, _)| std::cmp::Reverse(start));
    let mut text = text.to_string();
    for (start, end, new) in ranges {
        text.replace_range(start..end, new);
    }
    text
}

/// A file changed on disk, not open (a checkout, another tool), is read
/// anew when the editor says so (`workspace/didChangeWatchedFiles`): the
/// open file's program reports what the new text means.
#[test]
fn files_changed_on_disk_are_read_anew() {
    let folder = lsp_client::scratch("lsp-watched");
    let shared = folder.join("shared.env.k");
    std::fs::write(
        &shared,
        "cluster dev {\n  server = \"https://dev.example.com\"\n  environment = development\n}\n",
    )
    .expect("written");
    let main = folder.join("main.env.k");
    let text = "import \"./shared.env.k\"\nenv web on dev tier basic { }\n";
    std::fs::write(&main, text).expect("written");
    let mut client = Client::start(&folder);
    client.open(&main, text, 1);
    let before = client.diagnostics(&main, Some(1));
    assert_eq!(before.len(), 1, "{before:?}");
    assert_eq!(before[0]["code"], "E0201");
    let mut declared = std::fs::read_to_string(&shared).expect("readable");
    declared.push_str("tier basic { pod_security = baseline }\n");
    std::fs::write(&shared, declared).expect("written");
    client.take_pending();
    client.notify(
        "workspace/didChangeWatchedFiles",
        json!({ "changes": [{ "uri": lsp_client::uri(&shared), "type": 2 }] }),
    );
    assert_eq!(client.diagnostics(&main, Some(1)), Vec::<Value>::new());
    client.stop();
}

/// A file two programs share is renamed in both, and its references are
/// both programs'; a stdlib module opened from a definition is the
/// programs' that import it (hover and definition work in it).
#[test]
fn shared_files_and_stdlib_modules_answer_for_every_program() {
    let folder = lsp_client::scratch("lsp-shared");
    let shared = folder.join("shared.env.k");
    let text = "import \"std/alerts\"\ncluster dev {\n  server = \"https://dev.example.com\"\n  environment = development\n}\ntier standard { pod_security = baseline }\n";
    std::fs::write(&shared, text).expect("written");
    for name in ["a", "b"] {
        std::fs::write(
            folder.join(format!("{name}.env.k")),
            format!("import \"./shared.env.k\"\nenv {name} on dev tier standard {{\n  alert PodCrashLooping\n}}\n"),
        )
        .expect("written");
    }
    let mut client = Client::start(&folder);
    client.open(&shared, text, 1);
    client.diagnostics(&shared, Some(1));
    let at = json!({ "textDocument": { "uri": lsp_client::uri(&shared) },
                     "position": cursor(text, "tier stand|ard") });
    let mut with_name = at.clone();
    with_name["newName"] = json!("basic");
    let renamed = client.request("textDocument/rename", with_name);
    let mut files: Vec<String> = renamed["changes"]
        .as_object()
        .unwrap_or_else(|| panic!("{renamed}"))
        .keys()
        .map(|uri| uri.rsplit('/').next().unwrap_or("").to_string())
        .collect();
    files.sort();
    assert_eq!(files, ["a.env.k", "b.env.k", "shared.env.k"]);
    let mut with_context = at;
    with_context["context"] = json!({ "includeDeclaration": false });
    let references = client.request("textDocument/references", with_context);
    assert_eq!(references.as_array().map(Vec::len), Some(2), "{references}");

    // Into the stdlib, and on from there.
    let a = folder.join("a.env.k");
    let a_text = std::fs::read_to_string(&a).expect("readable");
    client.open(&a, &a_text, 1);
    client.diagnostics(&a, Some(1));
    let definition = client.request(
        "textDocument/definition",
        json!({ "textDocument": { "uri": lsp_client::uri(&a) },
                "position": cursor(&a_text, "alert PodCrash|Looping") }),
    );
    let module = definition[0]["uri"]
        .as_str()
        .expect("a location")
        .to_string();
    let module_path = lsp_types::Url::parse(&module)
        .expect("a URI")
        .to_file_path()
        .expect("a file");
    let module_text = std::fs::read_to_string(&module_path).expect("the copy is written");
    client.notify(
        "textDocument/didOpen",
        json!({ "textDocument": { "uri": module, "languageId": "envk", "version": 1, "text": module_text } }),
    );
    let hover = client.request(
        "textDocument/hover",
        json!({ "textDocument": { "uri": module },
                "position": cursor(&module_text, "alert PodCrash|Looping(") }),
    );
    assert!(
        hover["contents"]["value"]
            .as_str()
            .is_some_and(|text| text.starts_with("**alert template** `PodCrashLooping`")),
        "{hover}"
    );
    client.stop();
}

/// Diagnostics come from a check that stops at them; what hover shows
/// from the Model is made when asked, and is the edited text's.
#[test]
fn hover_after_an_edit_shows_the_edited_program() {
    let file = repo("examples/multi-team/tiers.env.k");
    let text = std::fs::read_to_string(&file).expect("readable");
    let mut client = Client::start(&repo("examples"));
    client.open(&file, &text, 1);
    client.diagnostics(&file, Some(1));
    let hover = |client: &mut Client| {
        let answer = client.request(
            "textDocument/hover",
            json!({ "textDocument": { "uri": lsp_client::uri(&file) },
                    "position": cursor(&text, "tier crit|ical {") }),
        );
        answer["contents"]["value"]
            .as_str()
            .unwrap_or("")
            .to_string()
    };
    assert!(hover(&mut client).contains("| `requests.cpu` | `16` |"));
    // The critical tier's cpu ceiling, 16 → 17.
    let at = cursor(&text, "requests.cpu = 1|6");
    let (line, column) = (
        at["line"].as_u64().expect("a line") as u32,
        at["character"].as_u64().expect("a column") as u32,
    );
    client.edit(&file, 2, [line, column, line, column + 1], "7");
    assert_eq!(client.diagnostics(&file, Some(2)), Vec::<Value>::new());
    assert!(hover(&mut client).contains("| `requests.cpu` | `17` |"));
    client.stop();
}
