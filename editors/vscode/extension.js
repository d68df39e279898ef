// The client: starts `envk lsp` (the binary `envk.path` names) for
// .env.k files. Everything else is the server's.
const vscode = require("vscode");
const { LanguageClient } = require("vscode-languageclient/node");

let client;

function activate(context) {
  const command = vscode.workspace.getConfiguration("envk").get("path", "envk");
  client = new LanguageClient(
    "envk",
    "envk",
    { command, args: ["lsp"] },
    { documentSelector: [{ scheme: "file", language: "envk" }] }
  );
  context.subscriptions.push(client);
  return client.start();
}

function deactivate() {
  return client ? client.stop() : undefined;
}

module.exports = { activate, deactivate };
