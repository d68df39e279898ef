//! `envk lsp`: a language server over stdio.
//!
//! Entry points: [`serve_stdio`] for the binary, [`serve`] over any
//! connection (tests use `Connection::memory()`). Two threads: one reads
//! the client's messages and hands them on, so that `shutdown` and `exit`
//! are answered even while a check runs; the worker owns the [`State`]
//! and does everything else in the order the messages came. A change is
//! checked once no message has come for [`DEBOUNCE`] (at most
//! [`DEBOUNCE_MAX`] after the first), counted from when the reader got
//! them; a check parses again only the items an edit changed
//! ([`crate::syntax::reparse`]); a request is answered from a check
//! of the documents as they were when it was sent, made first if the
//! last one is stale. Edits are checked for their diagnostics only;
//! hover and inlay hints, which read the Model, have the program checked
//! for it the first time they need it after an edit. Diagnostics found
//! while an edit waits to be applied
//! describe an outdated text and are not published. A panic while
//! handling a message is caught, logged on stderr and, for a request,
//! answered with an error: the server never exits on bad input.
//!
//! Owns: the protocol. What the answers say is in the feature modules
//! (`hover`, `navigate`, `symbols`), which read an [`Analysis`].

mod actions;
mod analysis;
mod complete;
mod convert;
mod fields;
mod hints;
mod hover;
mod navigate;
mod state;
mod symbols;

use std::panic::{AssertUnwindSafe, catch_unwind};
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use crossbeam_channel::{Receiver, RecvTimeoutError, Sender};
use lsp_server::{Connection, ErrorCode, Message, Notification, Request, RequestId, Response};
use lsp_types::notification::{self as notify, Notification as _};
use lsp_types::request::{self as req, Request as _};
use lsp_types::{
    InitializeParams, OneOf, PublishDiagnosticsParams, ServerCapabilities, ServerInfo,
    TextDocumentSyncCapability, TextDocumentSyncKind,
};

use crate::check::Goal;
use analysis::Analysis;
use state::State;

/// How long the worker waits after a change for another before checking.
pub const DEBOUNCE: Duration = Duration::from_millis(20);
/// How long changes coming faster than [`DEBOUNCE`] may put a check off.
pub const DEBOUNCE_MAX: Duration = Duration::from_millis(200);

/// Serves the editor on stdin and stdout until it says `exit`: exit code 0
/// after a `shutdown`, 1 without one (the protocol's rule).
pub fn serve_stdio() -> ExitCode {
    let (connection, io_threads) = Connection::stdio();
    let served = serve(connection);
    let joined = io_threads.join();
    match (served, joined) {
        (Ok(true), Ok(())) => ExitCode::SUCCESS,
        (Ok(false), _) => ExitCode::from(1),
        (Err(error), _) => {
            eprintln!("envk lsp: {error}");
            ExitCode::from(1)
        }
        (_, Err(error)) => {
            eprintln!("envk lsp: {error}");
            ExitCode::from(1)
        }
    }
}

/// What the reader hands the worker.
enum Event {
    /// A message, and when it came.
    Message(Message, Instant),
    Shutdown(RequestId),
}

/// Serves one client: the initialize handshake, then messages until
/// `exit`. Returns whether `shutdown` came first.
pub fn serve(connection: Connection) -> Result<bool, String> {
    let (id, params) = connection
        .initialize_start()
        .map_err(|error| error.to_string())?;
    let params: InitializeParams =
        serde_json::from_value(params).map_err(|error| format!("bad initialize: {error}"))?;
    let folders = workspace_folders(&params);
    let initialized = serde_json::json!({
        "capabilities": capabilities(),
        "serverInfo": ServerInfo {
            name: "envk".to_string(),
            version: Some(env!("CARGO_PKG_VERSION").to_string()),
        },
    });
    connection
        .initialize_finish(id, initialized)
        .map_err(|error| error.to_string())?;
    if watches_files(&params) {
        // Files changed outside the editor (a checkout) are checked anew.
        let watch = lsp_types::RegistrationParams {
            registrations: vec![lsp_types::Registration {
                id: "envk-files".to_string(),
                method: notify::DidChangeWatchedFiles::METHOD.to_string(),
                register_options: serde_json::to_value(
                    lsp_types::DidChangeWatchedFilesRegistrationOptions {
                        watchers: vec![lsp_types::FileSystemWatcher {
                            glob_pattern: lsp_types::GlobPattern::String(format!(
                                "**/*{}",
                                crate::driver::EXTENSION
                            )),
                            kind: None,
                        }],
                    },
                )
                .ok(),
            }],
        };
        let _ = connection.sender.send(
            Request::new(
                RequestId::from("envk-watch".to_string()),
                req::RegisterCapability::METHOD.to_string(),
                watch,
            )
            .into(),
        );
    }

    let (to_worker, inbox) = crossbeam_channel::unbounded();
    let edits = AtomicU64::new(0);
    let sender = connection.sender.clone();
    let ((), shut_down) = crate::parallel::beside(
        || work(&folders, &inbox, &sender, &edits),
        || read(&connection, to_worker, &edits),
    );
    Ok(shut_down)
}

/// Hands the client's messages to the worker, counting the edits among
/// them, until `exit`. Returns whether `shutdown` came first.
fn read(connection: &Connection, to_worker: Sender<Event>, edits: &AtomicU64) -> bool {
    let mut shutting_down = false;
    for message in &connection.receiver {
        match message {
            Message::Notification(notification) if notification.method == notify::Exit::METHOD => {
                break;
            }
            Message::Request(request) if shutting_down => {
                let _ = connection.sender.send(
                    Response::new_err(
                        request.id,
                        ErrorCode::InvalidRequest as i32,
                        "the server is shutting down".to_string(),
                    )
                    .into(),
                );
            }
            Message::Request(request) if request.method == req::Shutdown::METHOD => {
                shutting_down = true;
                let _ = to_worker.send(Event::Shutdown(request.id));
            }
            message => {
                if let Message::Notification(notification) = &message
                    && changes_a_document(&notification.method)
                {
                    edits.fetch_add(1, Ordering::SeqCst);
                }
                let _ = to_worker.send(Event::Message(message, Instant::now()));
            }
        }
    }
    // Dropping the worker's channel ends it once it is done.
    drop(to_worker);
    shutting_down
}

fn changes_a_document(method: &str) -> bool {
    [
        notify::DidOpenTextDocument::METHOD,
        notify::DidChangeTextDocument::METHOD,
        notify::DidCloseTextDocument::METHOD,
        notify::DidSaveTextDocument::METHOD,
        notify::DidChangeWatchedFiles::METHOD,
    ]
    .contains(&method)
}

/// The worker: applies edits, checks after the debounce, answers requests.
fn work(folders: &[PathBuf], inbox: &Receiver<Event>, out: &Sender<Message>, edits: &AtomicU64) {
    let mut worker = Worker {
        state: State::new(folders),
        out,
        edits,
        applied: 0,
        retired: Vec::new(),
    };
    // When the first change since the last check came, and the last
    // message: the check waits for a pause after the last.
    let mut first_change: Option<Instant> = None;
    let mut last_message = Instant::now();
    loop {
        let event = match first_change {
            Some(first) => inbox.recv_deadline((last_message + DEBOUNCE).min(first + DEBOUNCE_MAX)),
            None => inbox.recv().map_err(|_| RecvTimeoutError::Disconnected),
        };
        if let Ok(Event::Message(_, came)) = &event {
            last_message = *came;
        }
        match event {
            Ok(Event::Message(Message::Notification(notification), came)) => {
                if changes_a_document(&notification.method) {
                    worker.applied += 1;
                    first_change.get_or_insert(came);
                }
                worker.notification(notification);
            }
            Ok(Event::Message(Message::Request(request), _)) => worker.request(request),
            Ok(Event::Message(Message::Response(_), _)) => {}
            Ok(Event::Shutdown(id)) => {
                let _ = out.send(Response::new_ok(id, ()).into());
            }
            Err(RecvTimeoutError::Timeout) => {
                worker.check_stale();
                first_change = None;
            }
            Err(RecvTimeoutError::Disconnected) => break,
        }
    }
}

struct Worker<'a> {
    state: State,
    out: &'a Sender<Message>,
    edits: &'a AtomicU64,
    /// The edits applied so far: fewer than the reader counted means one
    /// waits in the channel, and what a check finds now is outdated.
    applied: u64,
    /// What is left of checks newer ones replaced, freed once the newer
    /// ones' diagnostics are published: off the way from an edit to its
    /// diagnostics, and within the debounce of the next edit, which counts
    /// from when it came. Freed here, on the thread that made them, and not
    /// on one of their own: memory freed by another thread is handed back
    /// to this one's allocator at its next allocations, which made the
    /// check after it a third slower (bench/README.md).
    retired: Vec<std::sync::Arc<Analysis>>,
}

impl Worker<'_> {
    fn notification(&mut self, notification: Notification) {
        let method = notification.method.clone();
        let handled = catch_unwind(AssertUnwindSafe(|| self.apply(notification)));
        if handled.is_err() {
            eprintln!("envk lsp: a panic while handling `{method}`; the server goes on");
        }
    }

    fn apply(&mut self, notification: Notification) {
        match notification.method.as_str() {
            notify::DidOpenTextDocument::METHOD => {
                if let Ok(params) = notification.extract::<lsp_types::DidOpenTextDocumentParams>(
                    notify::DidOpenTextDocument::METHOD,
                ) {
                    let document = params.text_document;
                    self.state
                        .open(document.uri, document.version, document.text);
                }
            }
            notify::DidChangeTextDocument::METHOD => {
                if let Ok(params) = notification.extract::<lsp_types::DidChangeTextDocumentParams>(
                    notify::DidChangeTextDocument::METHOD,
                ) {
                    self.change(params);
                }
            }
            notify::DidCloseTextDocument::METHOD => {
                if let Ok(params) = notification.extract::<lsp_types::DidCloseTextDocumentParams>(
                    notify::DidCloseTextDocument::METHOD,
                ) {
                    self.state.close(&params.text_document.uri);
                }
            }
            notify::DidSaveTextDocument::METHOD => {
                if let Ok(params) = notification.extract::<lsp_types::DidSaveTextDocumentParams>(
                    notify::DidSaveTextDocument::METHOD,
                ) {
                    self.state.saved(&params.text_document.uri);
                }
            }
            notify::DidChangeWatchedFiles::METHOD => {
                if let Ok(params) = notification.extract::<lsp_types::DidChangeWatchedFilesParams>(
                    notify::DidChangeWatchedFiles::METHOD,
                ) {
                    for change in params.changes {
                        self.state.changed_on_disk(&change.uri);
                    }
                }
            }
            _ => {}
        }
    }

    /// Applies a change: whole texts, or ranges in the order given, each
    /// against the text the ones before it left.
    fn change(&mut self, params: lsp_types::DidChangeTextDocumentParams) {
        let uri = params.text_document.uri;
        let Some(path) = state::path_of(&uri) else {
            return;
        };
        let Some(document) = self.state.documents.get(&path) else {
            return;
        };
        let mut text = document.text.clone();
        for change in params.content_changes {
            match change.range {
                None => text = change.text,
                Some(range) => {
                    let mut sources = crate::source::SourceMap::new();
                    let id = sources.add("", std::mem::take(&mut text));
                    let file = sources.file(id);
                    let start = convert::offset(file, range.start);
                    let end = convert::offset(file, range.end).max(start);
                    let mut edited = file.text().to_string();
                    edited.replace_range(start..end, &change.text);
                    text = edited;
                }
            }
        }
        self.state.change(&uri, params.text_document.version, text);
    }

    /// Checks every stale program and publishes what changed, unless an
    /// edit came meanwhile.
    fn check_stale(&mut self) {
        // A check can make another program stale or new (an import
        // removed makes a file a root): check until none is, a few rounds
        // at most, each of which only finds programs the last one made.
        for _ in 0..8 {
            let stale = self.state.stale();
            if stale.is_empty() {
                break;
            }
            for root in stale {
                self.check(&root);
            }
        }
        self.publish();
    }

    /// Checks a program for its diagnostics: what every edit needs, and
    /// at N = 1000 a third quicker than making the Model too.
    fn check(&mut self, root: &Path) {
        self.check_for(root, Goal::Diagnostics);
    }

    fn check_for(&mut self, root: &Path, goal: Goal) {
        let checked = catch_unwind(AssertUnwindSafe(|| self.state.check(root, goal)));
        match checked {
            Ok(left) => self.retired.extend(left),
            Err(_) => {
                eprintln!(
                    "envk lsp: a panic while checking the program of `{}`",
                    root.display()
                );
                self.state.give_up(root);
            }
        }
    }

    fn publish(&mut self) {
        if self.edits.load(Ordering::SeqCst) == self.applied {
            self.send_diagnostics();
        }
        self.retired.clear();
    }

    fn send_diagnostics(&mut self) {
        for (uri, version, diagnostics) in self.state.publish() {
            let params = PublishDiagnosticsParams {
                uri,
                diagnostics,
                version,
            };
            let _ = self.out.send(
                Notification::new(notify::PublishDiagnostics::METHOD.to_string(), params).into(),
            );
        }
    }

    /// The check of the program of the document at `uri`, made now if the
    /// last one is stale.
    /// Its diagnostics are published when the debounce ends, with those of
    /// every other program an edit made stale.
    fn analysis(&mut self, uri: &lsp_types::Url) -> Option<(std::sync::Arc<Analysis>, PathBuf)> {
        let path = state::path_of(uri)?;
        if self.state.analysis(&path).is_none() {
            let root = self.state.root_of(&path)?;
            // A program whose check failed is not checked again until a
            // file it reads changes: not once per request.
            if self.state.stale().contains(&root) {
                self.check(&root);
            }
        }
        Some((self.state.analysis(&path)?, path))
    }

    /// `analysis`, with the Model (hover, inlay hints): the program is
    /// checked again for it the first time a request needs it after an
    /// edit.
    fn analysis_with_model(
        &mut self,
        uri: &lsp_types::Url,
    ) -> Option<(std::sync::Arc<Analysis>, PathBuf)> {
        let (analysis, path) = self.analysis(uri)?;
        if analysis.goal == Goal::Model {
            return Some((analysis, path));
        }
        let root = self.state.root_of(&path)?;
        self.check_for(&root, Goal::Model);
        Some((self.state.analysis(&path)?, path))
    }

    /// The checks of every program that reads the document at `uri`, each
    /// made now if stale: what references and rename read, since a file
    /// shared by two programs is named in both.
    fn analyses(&mut self, uri: &lsp_types::Url) -> (Vec<std::sync::Arc<Analysis>>, PathBuf) {
        let Some(path) = state::path_of(uri) else {
            return (Vec::new(), PathBuf::new());
        };
        for root in self.state.roots_of(&path) {
            if self.state.stale().contains(&root) {
                self.check(&root);
            }
        }
        (self.state.analyses(&path), path)
    }

    fn request(&mut self, request: Request) {
        let id = request.id.clone();
        let method = request.method.clone();
        let answered = catch_unwind(AssertUnwindSafe(|| self.answer(request)));
        let response = match answered {
            Ok(Ok(result)) => Response::new_ok(id, result),
            Ok(Err((code, message))) => Response::new_err(id, code as i32, message),
            Err(_) => {
                eprintln!("envk lsp: a panic while answering `{method}`; the server goes on");
                Response::new_err(
                    id,
                    ErrorCode::InternalError as i32,
                    format!("envk could not answer `{method}`: an internal error"),
                )
            }
        };
        let _ = self.out.send(response.into());
    }

    fn answer(&mut self, request: Request) -> Result<serde_json::Value, (ErrorCode, String)> {
        fn params<P: serde::de::DeserializeOwned>(
            request: Request,
        ) -> Result<P, (ErrorCode, String)> {
            serde_json::from_value(request.params)
                .map_err(|error| (ErrorCode::InvalidParams, error.to_string()))
        }
        let json = |value: Result<serde_json::Value, serde_json::Error>| {
            value.map_err(|error| (ErrorCode::InternalError, error.to_string()))
        };
        match request.method.as_str() {
            req::HoverRequest::METHOD => {
                let params: lsp_types::HoverParams = params(request)?;
                let at = params.text_document_position_params;
                let answer = self
                    .analysis_with_model(&at.text_document.uri)
                    .and_then(|(analysis, path)| hover::hover(&analysis, &path, at.position));
                json(serde_json::to_value(answer))
            }
            req::GotoDefinition::METHOD => {
                let params: lsp_types::GotoDefinitionParams = params(request)?;
                let at = params.text_document_position_params;
                let answer = self
                    .analysis(&at.text_document.uri)
                    .map(|(analysis, path)| navigate::definition(&analysis, &path, at.position));
                json(serde_json::to_value(answer))
            }
            req::References::METHOD => {
                let params: lsp_types::ReferenceParams = params(request)?;
                let at = params.text_document_position;
                let (analyses, path) = self.analyses(&at.text_document.uri);
                let mut answer: Vec<lsp_types::Location> = Vec::new();
                for analysis in &analyses {
                    answer.extend(navigate::references(
                        analysis,
                        &path,
                        at.position,
                        params.context.include_declaration,
                    ));
                }
                navigate::dedup(&mut answer);
                json(serde_json::to_value(answer))
            }
            req::DocumentSymbolRequest::METHOD => {
                let params: lsp_types::DocumentSymbolParams = params(request)?;
                let answer = self
                    .analysis(&params.text_document.uri)
                    .and_then(|(analysis, path)| symbols::outline(&analysis, &path));
                json(serde_json::to_value(
                    answer.map(lsp_types::DocumentSymbolResponse::Nested),
                ))
            }
            req::PrepareRenameRequest::METHOD => {
                let at: lsp_types::TextDocumentPositionParams = params(request)?;
                let (analysis, path) = self.analysis(&at.text_document.uri).ok_or((
                    ErrorCode::InvalidParams,
                    "not a file of a program".to_string(),
                ))?;
                let (range, placeholder) = navigate::prepare_rename(&analysis, &path, at.position)
                    .map_err(|why| (ErrorCode::InvalidRequest, why))?;
                json(serde_json::to_value(
                    lsp_types::PrepareRenameResponse::RangeWithPlaceholder { range, placeholder },
                ))
            }
            req::Rename::METHOD => {
                let params: lsp_types::RenameParams = params(request)?;
                let at = params.text_document_position;
                let (analyses, path) = self.analyses(&at.text_document.uri);
                if analyses.is_empty() {
                    return Err((
                        ErrorCode::InvalidParams,
                        "not a file of a program".to_string(),
                    ));
                }
                // Each program that reads the file renames in its files;
                // a refusal in any is the answer.
                let mut edit = lsp_types::WorkspaceEdit::default();
                for analysis in &analyses {
                    let more = navigate::rename(analysis, &path, at.position, &params.new_name)
                        .map_err(|why| (ErrorCode::InvalidRequest, why))?;
                    navigate::merge(&mut edit, more);
                }
                json(serde_json::to_value(edit))
            }
            req::CodeActionRequest::METHOD => {
                let params: lsp_types::CodeActionParams = params(request)?;
                let answer = self
                    .analysis(&params.text_document.uri)
                    .map(|(analysis, path)| actions::actions(&analysis, &path, params.range));
                json(serde_json::to_value(answer))
            }
            req::InlayHintRequest::METHOD => {
                let params: lsp_types::InlayHintParams = params(request)?;
                let answer = self
                    .analysis_with_model(&params.text_document.uri)
                    .map(|(analysis, path)| hints::hints(&analysis, &path, params.range));
                json(serde_json::to_value(answer))
            }
            req::Completion::METHOD => {
                let params: lsp_types::CompletionParams = params(request)?;
                let at = params.text_document_position;
                let answer = self.complete(&at.text_document.uri, at.position);
                json(serde_json::to_value(answer))
            }
            req::Formatting::METHOD => {
                let params: lsp_types::DocumentFormattingParams = params(request)?;
                let answer = self.format(&params.text_document.uri);
                json(serde_json::to_value(answer))
            }
            _ => Err((
                ErrorCode::MethodNotFound,
                format!("envk lsp does not answer `{}`", request.method),
            )),
        }
    }

    /// What may be written at `position`: read from the document's text
    /// as the editor has it, with the names of its program's last check.
    fn complete(
        &mut self,
        uri: &lsp_types::Url,
        position: lsp_types::Position,
    ) -> Option<lsp_types::CompletionResponse> {
        let (analysis, path) = self.analysis(uri)?;
        let text = match self.state.documents.get(&path) {
            Some(document) => document.text.clone(),
            None => analysis.file(&path)?.text().to_string(),
        };
        let mut sources = crate::source::SourceMap::new();
        let id = sources.add("", text);
        let file = sources.file(id);
        let offset = convert::offset(file, position);
        let items = complete::complete(&analysis, file.text(), offset);
        Some(lsp_types::CompletionResponse::Array(items))
    }

    /// The whole document as `envk fmt` writes it; nothing when it is
    /// already so, or does not parse (its diagnostics say why).
    fn format(&self, uri: &lsp_types::Url) -> Option<Vec<lsp_types::TextEdit>> {
        let path = state::path_of(uri)?;
        let text = match self.state.documents.get(&path) {
            Some(document) => document.text.clone(),
            None => std::fs::read_to_string(&path).ok()?,
        };
        let mut sources = crate::source::SourceMap::new();
        let id = sources.add(path.display().to_string(), text);
        let file = sources.file(id);
        let formatted = crate::syntax::format::format(file).ok()?;
        if formatted == file.text() {
            return Some(Vec::new());
        }
        let end = convert::position(file, file.text().len());
        Some(vec![lsp_types::TextEdit::new(
            lsp_types::Range::new(lsp_types::Position::new(0, 0), end),
            formatted,
        )])
    }
}

fn capabilities() -> ServerCapabilities {
    ServerCapabilities {
        text_document_sync: Some(TextDocumentSyncCapability::Options(
            lsp_types::TextDocumentSyncOptions {
                open_close: Some(true),
                change: Some(TextDocumentSyncKind::INCREMENTAL),
                save: Some(lsp_types::TextDocumentSyncSaveOptions::Supported(true)),
                ..Default::default()
            },
        )),
        hover_provider: Some(lsp_types::HoverProviderCapability::Simple(true)),
        definition_provider: Some(OneOf::Left(true)),
        references_provider: Some(OneOf::Left(true)),
        document_symbol_provider: Some(OneOf::Left(true)),
        document_formatting_provider: Some(OneOf::Left(true)),
        rename_provider: Some(OneOf::Right(lsp_types::RenameOptions {
            prepare_provider: Some(true),
            work_done_progress_options: Default::default(),
        })),
        code_action_provider: Some(lsp_types::CodeActionProviderCapability::Simple(true)),
        inlay_hint_provider: Some(OneOf::Left(true)),
        completion_provider: Some(lsp_types::CompletionOptions {
            trigger_characters: Some(vec![" ".to_string(), "[".to_string()]),
            ..Default::default()
        }),
        ..Default::default()
    }
}

/// Whether the client lets the server ask it to watch files.
fn watches_files(params: &InitializeParams) -> bool {
    params
        .capabilities
        .workspace
        .as_ref()
        .and_then(|workspace| workspace.did_change_watched_files.as_ref())
        .and_then(|watched| watched.dynamic_registration)
        .unwrap_or(false)
}

/// The folders of the workspace: its folders, or the root the client
/// gave.
fn workspace_folders(params: &InitializeParams) -> Vec<PathBuf> {
    let mut folders: Vec<PathBuf> = params
        .workspace_folders
        .iter()
        .flatten()
        .filter_map(|folder| folder.uri.to_file_path().ok())
        .collect();
    #[allow(deprecated)] // the field older clients send instead
    if folders.is_empty()
        && let Some(root) = params
            .root_uri
            .as_ref()
            .and_then(|uri| uri.to_file_path().ok())
    {
        folders.push(root);
    }
    folders
}

/// What makes two paths the same file: the canonical path where the file
/// exists, else the path with `.` and `..` taken out. Documents, programs
/// and runs are matched by it.
pub fn identity(path: &Path) -> PathBuf {
    crate::load::FileSystem.identity(path)
}

use crate::load::Loader as _;
