//! A client for `envk lsp` in the same process, over
//! `Connection::memory()` as rust-analyzer's tests drive theirs, and what
//! `envk check` says in the protocol's terms, computed apart from the
//! server's own conversion: the tests hold one to the other.

#![allow(dead_code)] // each test file uses part of it

use std::path::{Path, PathBuf};
use std::time::Duration;

use lsp_server::{Connection, Message, Notification, Request, RequestId};
use serde_json::{Value, json};

/// How long a test waits for the server before failing.
const PATIENCE: Duration = Duration::from_secs(60);

pub struct Client {
    connection: Connection,
    server: Option<std::thread::JoinHandle<Result<bool, String>>>,
    next_id: i32,
    /// Notifications received while waiting for something else.
    pending: Vec<Notification>,
}

impl Client {
    /// Starts a server and initializes it with `root` as the workspace.
    pub fn start(root: &Path) -> Client {
        let (server, client) = Connection::memory();
        let handle = std::thread::spawn(move || envk::lsp::serve(server));
        let mut client = Client {
            connection: client,
            server: Some(handle),
            next_id: 0,
            pending: Vec::new(),
        };
        let root = uri(root);
        let answer = client.request(
            "initialize",
            json!({ "processId": null, "rootUri": root, "capabilities": {},
                    "workspaceFolders": [{ "uri": root, "name": "root" }] }),
        );
        assert!(answer["capabilities"].is_object(), "{answer}");
        client.notify("initialized", json!({}));
        client
    }

    pub fn notify(&mut self, method: &str, params: Value) {
        self.connection
            .sender
            .send(Message::Notification(Notification::new(
                method.to_string(),
                params,
            )))
            .expect("the server is listening");
    }

    /// Sends a request and waits for its answer: the result, or the error
    /// as `{"error": …}`.
    pub fn request(&mut self, method: &str, params: Value) -> Value {
        self.next_id += 1;
        let id = RequestId::from(self.next_id);
        self.connection
            .sender
            .send(Message::Request(Request::new(
                id.clone(),
                method.to_string(),
                params,
            )))
            .expect("the server is listening");
        loop {
            match self.receive() {
                Message::Response(response) if response.id == id => {
                    return match response.response_result {
                        Err(error) => {
                            json!({ "error": { "code": error.code, "message": error.message } })
                        }
                        Ok(result) => result,
                    };
                }
                Message::Notification(notification) => self.pending.push(notification),
                other => panic!("unexpected message {other:?}"),
            }
        }
    }

    fn receive(&mut self) -> Message {
        self.connection
            .receiver
            .recv_timeout(PATIENCE)
            .expect("the server answers in time")
    }

    pub fn open(&mut self, path: &Path, text: &str, version: i32) {
        self.notify(
            "textDocument/didOpen",
            json!({ "textDocument": { "uri": uri(path), "languageId": "envk",
                                      "version": version, "text": text } }),
        );
    }

    pub fn close(&mut self, path: &Path) {
        self.notify(
            "textDocument/didClose",
            json!({ "textDocument": { "uri": uri(path) } }),
        );
    }

    /// Replaces `range` (start and end line and UTF-16 column) by `text`.
    pub fn edit(&mut self, path: &Path, version: i32, range: [u32; 4], text: &str) {
        self.notify(
            "textDocument/didChange",
            json!({ "textDocument": { "uri": uri(path), "version": version },
                    "contentChanges": [{ "range": {
                        "start": { "line": range[0], "character": range[1] },
                        "end": { "line": range[2], "character": range[3] } },
                      "text": text }] }),
        );
    }

    /// The diagnostics published for `path` at `version` (an open
    /// document's), skipping earlier publications.
    pub fn diagnostics(&mut self, path: &Path, version: Option<i32>) -> Vec<Value> {
        let wanted = uri(path);
        let matches = |notification: &Notification| {
            notification.method == "textDocument/publishDiagnostics"
                && notification.params["uri"] == wanted
                && (version.is_none()
                    || notification.params["version"] == json!(version.expect("some")))
        };
        if let Some(at) = self.pending.iter().rposition(matches) {
            let found = self.pending.remove(at);
            return found.params["diagnostics"]
                .as_array()
                .cloned()
                .unwrap_or_default();
        }
        loop {
            match self.receive() {
                Message::Notification(notification) if matches(&notification) => {
                    return notification.params["diagnostics"]
                        .as_array()
                        .cloned()
                        .unwrap_or_default();
                }
                Message::Notification(notification) => self.pending.push(notification),
                other => panic!("unexpected message {other:?}"),
            }
        }
    }

    /// Every notification received so far and not yet waited for.
    pub fn take_pending(&mut self) -> Vec<Notification> {
        std::mem::take(&mut self.pending)
    }

    /// `shutdown`, then `exit`: the server ends, saying it was shut down.
    pub fn stop(mut self) {
        let answer = self.request("shutdown", Value::Null);
        assert_eq!(answer, Value::Null);
        self.notify("exit", Value::Null);
        let server = self.server.take().expect("running");
        assert_eq!(server.join().expect("the server thread ends"), Ok(true));
    }
}

pub fn uri(path: &Path) -> String {
    let absolute = if path.is_absolute() {
        path.to_path_buf()
    } else {
        std::env::current_dir()
            .expect("a working folder")
            .join(path)
    };
    lsp_types::Url::from_file_path(absolute)
        .expect("an absolute path")
        .to_string()
}

/// What `envk check` reports in the file `name` of a run, in the
/// protocol's terms: code, severity, range (UTF-16 columns) and message,
/// in the order check gives them.
pub fn expected(run: &envk::driver::Run, name: &str) -> Vec<Value> {
    let mut out = Vec::new();
    for diagnostic in &run.diagnostics {
        let file = run.sources.file_of(diagnostic.primary.span);
        if file.name() != name {
            continue;
        }
        let local = file.local(diagnostic.primary.span);
        out.push(json!({
            "code": diagnostic.code.as_str(),
            "severity": if diagnostic.is_error() { 1 } else { 2 },
            "range": [position(file.text(), local.start), position(file.text(), local.end)],
            "message": diagnostic.message,
            "help": diagnostic.help,
        }));
    }
    out
}

/// The same facts of published diagnostics, to compare with [`expected`].
pub fn published(diagnostics: &[Value]) -> Vec<Value> {
    diagnostics
        .iter()
        .map(|diagnostic| {
            let message = diagnostic["message"].as_str().expect("a message");
            // The help comes last, and may run over several lines.
            let help = message
                .strip_prefix("help: ")
                .or_else(|| message.split_once("\nhelp: ").map(|(_, help)| help))
                .map(str::to_string);
            let range = &diagnostic["range"];
            json!({
                "code": diagnostic["code"],
                "severity": diagnostic["severity"],
                "range": [
                    [range["start"]["line"], range["start"]["character"]],
                    [range["end"]["line"], range["end"]["character"]],
                ],
                "message": message.lines().next().unwrap_or(""),
                "help": help,
            })
        })
        .collect()
}

/// Line and UTF-16 column of a byte offset, counted afresh.
fn position(text: &str, offset: usize) -> Value {
    let (line, column) = utf16_position(text, offset);
    json!([line, column])
}

/// The line and UTF-16 column of byte `offset` of `text`, counted afresh
/// (not with the server's conversion).
pub fn utf16_position(text: &str, offset: usize) -> (u32, u32) {
    let before = &text[..offset];
    let line = before.matches('\n').count();
    let start = before.rfind('\n').map_or(0, |at| at + 1);
    let column: usize = before[start..].chars().map(char::len_utf16).sum();
    (line as u32, column as u32)
}

/// A new, empty folder of the test's own under the target directory, by
/// its canonical path (the server names files so).
pub fn scratch(name: &str) -> PathBuf {
    let folder = Path::new(env!("CARGO_TARGET_TMPDIR")).join(name);
    let _ = std::fs::remove_dir_all(&folder);
    std::fs::create_dir_all(&folder).expect("a scratch folder");
    std::fs::canonicalize(&folder).expect("exists")
}

/// The absolute path of a repository file.
pub fn repo(path: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join(path)
}
