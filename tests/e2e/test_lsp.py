"""`envk lsp` over stdio, driven by an independent client: pytest-lsp (on
pygls), as an editor would. `.ci/run` runs it against the built binary
(`ENVK`, by default target/debug/envk) on the repository's examples.

Covers: initialize, didOpen, publishDiagnostics, hover, definition,
completion, formatting, didChange (an error appears and is cleared), and,
in the fixture's teardown, shutdown and exit (exit code 0).
"""

import os
import pathlib

import pytest
import pytest_lsp
from lsprotocol import types
from pytest_lsp import ClientServerConfig, LanguageClient, client_capabilities

ROOT = pathlib.Path(__file__).resolve().parents[2]
ENVK = os.environ.get("ENVK", str(ROOT / "target" / "debug" / "envk"))
EXAMPLES = ROOT / "examples"
TIERS = EXAMPLES / "multi-team" / "tiers.env.k"
PAYMENTS = EXAMPLES / "multi-team" / "teams" / "payments.env.k"
UNFORMATTED = ROOT / "tests" / "lsp" / "unformatted.env.k"


@pytest_lsp.fixture(config=ClientServerConfig(server_command=[ENVK, "lsp"]))
async def client(lsp_client: LanguageClient):
    # VS Code's capabilities let the server register a file watcher; pygls
    # does not answer that request itself, so the test does, and keeps
    # what was asked.
    lsp_client.registrations = []

    @lsp_client.feature(types.CLIENT_REGISTER_CAPABILITY)
    def register(params: types.RegistrationParams):
        lsp_client.registrations.extend(params.registrations)

    await lsp_client.initialize_session(
        types.InitializeParams(
            capabilities=client_capabilities("visual-studio-code"),
            root_uri=EXAMPLES.as_uri(),
            workspace_folders=[
                types.WorkspaceFolder(uri=EXAMPLES.as_uri(), name="examples")
            ],
        )
    )
    yield
    await lsp_client.shutdown_session()
    # pytest-lsp keeps the server's process: its exit code is the
    # protocol's verdict, 0 after `shutdown` (1 without).
    assert lsp_client._server.returncode == 0


def position_of(text: str, marked: str) -> types.Position:
    """The position of the `|` in the first occurrence of `marked`."""
    bar = marked.index("|")
    at = text.index(marked.replace("|", "")) + bar
    before = text[:at]
    line = before.count("\n")
    column = len(before[before.rfind("\n") + 1 :].encode("utf-16-le")) // 2
    return types.Position(line=line, character=column)


def open_document(client: LanguageClient, path: pathlib.Path, version: int = 1) -> str:
    text = path.read_text()
    client.text_document_did_open(
        types.DidOpenTextDocumentParams(
            text_document=types.TextDocumentItem(
                uri=path.as_uri(), language_id="envk", version=version, text=text
            )
        )
    )
    return text


def edit(client, path, version, line, start, end, text):
    """Replaces columns `start`..`end` of `line` by `text`."""
    client.text_document_did_change(
        types.DidChangeTextDocumentParams(
            text_document=types.VersionedTextDocumentIdentifier(uri=path.as_uri(), version=version),
            content_changes=[
                types.TextDocumentContentChangePartial(
                    range=types.Range(
                        start=types.Position(line=line, character=start),
                        end=types.Position(line=line, character=end),
                    ),
                    text=text,
                )
            ],
        )
    )


async def diagnostics_for(client: LanguageClient, path: pathlib.Path, version: int):
    """Waits for the diagnostics of `path` at `version`."""
    while True:
        published = await client.wait_for_notification(
            types.TEXT_DOCUMENT_PUBLISH_DIAGNOSTICS
        )
        if published.uri == path.as_uri() and published.version == version:
            return list(published.diagnostics)


@pytest.mark.asyncio
async def test_an_editor_session(client: LanguageClient):
    text = open_document(client, TIERS)
    assert await diagnostics_for(client, TIERS, 1) == []
    # The server asked to hear of `.env.k` files changed outside the editor.
    assert [r.method for r in client.registrations] == ["workspace/didChangeWatchedFiles"]

    # Hover on a tier shows what the checker made of it.
    hover = await client.text_document_hover_async(
        types.HoverParams(
            text_document=types.TextDocumentIdentifier(uri=TIERS.as_uri()),
            position=position_of(text, "tier crit|ical {"),
        )
    )
    assert "**tier** `critical`" in hover.contents.value
    assert "pod security: `restricted`" in hover.contents.value

    # A use in another file of the program leads to the declaration.
    payments = open_document(client, PAYMENTS)
    await diagnostics_for(client, PAYMENTS, 1)
    definition = await client.text_document_definition_async(
        types.DefinitionParams(
            text_document=types.TextDocumentIdentifier(uri=PAYMENTS.as_uri()),
            position=position_of(payments, "tier crit|ical {"),
        )
    )
    assert [location.uri for location in definition] == [TIERS.as_uri()]
    assert definition[0].range.start.line == text[: text.index("tier critical")].count("\n")

    # Completion after `tier` offers the program's tiers.
    completion = await client.text_document_completion_async(
        types.CompletionParams(
            text_document=types.TextDocumentIdentifier(uri=PAYMENTS.as_uri()),
            position=position_of(payments, "stage prod on prod-cluster tier |critical"),
        )
    )
    labels = [item.label for item in completion]
    assert labels == ["critical", "sandbox", "standard"]

    # An edit that breaks the file is reported, with its code and help;
    # the edit that mends it clears the report.
    line = text[: text.index("pod_security = restricted")].count("\n")
    edit(client, TIERS, 2, line, 9, 10, "")  # `pod_security` → `pod_secrity`
    broken = await diagnostics_for(client, TIERS, 2)
    assert [d.code for d in broken] == ["E0302"]
    assert broken[0].severity == types.DiagnosticSeverity.Error
    assert "did you mean `pod_security`?" in broken[0].message
    edit(client, TIERS, 3, line, 9, 9, "u")
    assert await diagnostics_for(client, TIERS, 3) == []

    # Formatting gives the text `envk fmt` writes.
    unformatted = open_document(client, UNFORMATTED)
    edits = await client.text_document_formatting_async(
        types.DocumentFormattingParams(
            text_document=types.TextDocumentIdentifier(uri=UNFORMATTED.as_uri()),
            options=types.FormattingOptions(tab_size=2, insert_spaces=True),
        )
    )
    assert len(edits) == 1
    assert edits[0].new_text.startswith("// Written by hand")
    assert "cluster dev {\n  server = " in edits[0].new_text
    assert edits[0].new_text != unformatted

