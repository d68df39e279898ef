"""The language server's latencies and memory, re-measured with one command:

    cargo build --release && python3 bench/lsp.py target/release/envk

For N = 100 and N = 1000 (bench/gen.py N --form explicit, one file), it
opens the program in `envk lsp`, then makes 100 one-line edits (a quota's
cpu, back and forth) and times each from the didChange sent to the
publishDiagnostics received for its version; hover, definition and
completion are timed 100 times each at N = 1000. A cold `envk check` of the
same file is timed 20 times, and its peak resident memory (getrusage of the
child) compared with the server's resident memory once the program is
open (VmRSS). Figures are printed as median and p95, and with the server's
debounce (20 ms) taken out where the target excludes it.

The cold checks are paired with the edits: after each edit, the same text
is written to a file of its own and checked by `envk check`, so that both
figures are measured under the same load of the machine.
"""

import json
import os
import pathlib
import statistics
import subprocess
import sys
import tempfile
import time

DEBOUNCE = 0.020
ROOT = pathlib.Path(__file__).resolve().parents[1]


class Server:
    def __init__(self, envk, folder):
        self.process = subprocess.Popen(
            [envk, "lsp"], stdin=subprocess.PIPE, stdout=subprocess.PIPE
        )
        self.next_id = 0
        self.request("initialize", {"processId": None, "rootUri": folder.as_uri(),
                                    "capabilities": {}})
        self.notify("initialized", {})

    def send(self, message):
        body = json.dumps(message).encode()
        self.process.stdin.write(b"Content-Length: %d\r\n\r\n" % len(body) + body)
        self.process.stdin.flush()

    def receive(self):
        length = None
        while True:
            line = self.process.stdout.readline().strip()
            if not line:
                break
            key, value = line.decode().split(": ", 1)
            if key == "Content-Length":
                length = int(value)
        return json.loads(self.process.stdout.read(length))

    def notify(self, method, params):
        self.send({"jsonrpc": "2.0", "method": method, "params": params})

    def request(self, method, params):
        self.next_id += 1
        self.send({"jsonrpc": "2.0", "id": self.next_id, "method": method, "params": params})
        while True:
            message = self.receive()
            if message.get("id") == self.next_id:
                return message.get("result")

    def diagnostics(self, uri, version):
        while True:
            message = self.receive()
            params = message.get("params") or {}
            if (message.get("method") == "textDocument/publishDiagnostics"
                    and params.get("uri") == uri and params.get("version") == version):
                return params["diagnostics"]

    def resident_kib(self):
        status = pathlib.Path(f"/proc/{self.process.pid}/status").read_text()
        return int(next(line for line in status.splitlines()
                        if line.startswith("VmRSS:")).split()[1])

    def stop(self):
        self.request("shutdown", None)
        self.notify("exit", None)
        return self.process.wait(30)


def summary(seconds):
    ordered = sorted(seconds)
    p95 = ordered[min(len(ordered) - 1, int(round(0.95 * len(ordered))) - 1)]
    return statistics.median(ordered) * 1000, p95 * 1000


def cold_check(envk, path):
    start = time.perf_counter()
    subprocess.run([envk, "check", str(path)], check=True, stdout=subprocess.DEVNULL)
    return time.perf_counter() - start


def check_peak_kib(envk, path):
    # The peak of `envk check` alone: measured in a process of its own,
    # whose only child it is.
    peak = subprocess.run(
        [sys.executable, "-c",
         "import resource, subprocess, sys; "
         "subprocess.run(sys.argv[1:], check=True, stdout=subprocess.DEVNULL); "
         "print(resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss)",
         envk, "check", str(path)],
        check=True, capture_output=True, text=True).stdout
    return int(peak)


def measure(envk, teams, requests):
    folder = pathlib.Path(tempfile.mkdtemp(prefix=f"envk-lsp-bench-{teams}-"))
    path = folder / "fleet.env.k"
    text = subprocess.run([sys.executable, str(ROOT / "bench/gen.py"), str(teams), "--form", "explicit"],
                          check=True, capture_output=True, text=True).stdout
    path.write_text(text)
    lines = text.splitlines()
    uri = path.as_uri()
    server = Server(envk, folder)
    server.notify("textDocument/didOpen", {"textDocument": {
        "uri": uri, "languageId": "envk", "version": 1, "text": text}})
    assert server.diagnostics(uri, 1) == []
    resident = server.resident_kib()
    # A quota's cpu, edited and put back: each edit a one-line change.
    line = next(i for i, l in enumerate(lines) if "requests.cpu" in l)
    column = lines[line].index("requests.cpu")
    cold_path = pathlib.Path(tempfile.mkdtemp(prefix=f"envk-lsp-cold-{teams}-")) / "fleet.env.k"
    edits, cold = [], []
    for version in range(2, 102):
        old = lines[line][column:]
        new = old.replace("requests.cpu", "requests.cpu ", 1) if version % 2 == 0 else old
        start = time.perf_counter()
        server.notify("textDocument/didChange", {
            "textDocument": {"uri": uri, "version": version},
            "contentChanges": [{"range": {"start": {"line": line, "character": column},
                                          "end": {"line": line, "character": len(lines[line])}},
                                "text": new}]})
        server.diagnostics(uri, version)
        edits.append(time.perf_counter() - start)
        lines[line] = lines[line][:column] + new
        cold_path.write_text("\n".join(lines) + "\n")
        cold.append(cold_check(envk, cold_path))
    results = {"teams": teams, "lines": len(lines), "edit": summary(edits),
               "edit_without_debounce": summary([t - DEBOUNCE for t in edits]),
               "server_resident_mib": resident / 1024}
    if requests:
        # The last placement of the file: completion reads the text up to
        # the cursor, so this is its slowest place.
        env_line = max(i for i, l in enumerate(lines) if " on " in l and " tier " in l)
        tier_column = lines[env_line].index(" tier ") + 7
        at = {"textDocument": {"uri": uri}, "position": {"line": env_line, "character": tier_column}}
        for method in ["textDocument/hover", "textDocument/definition", "textDocument/completion"]:
            times = []
            for _ in range(100):
                start = time.perf_counter()
                server.request(method, at)
                times.append(time.perf_counter() - start)
            results[method.split("/")[1]] = summary(times)
    assert server.stop() == 0
    results["cold_check"] = summary(cold)
    results["check_peak_mib"] = check_peak_kib(envk, path) / 1024
    return results


def main():
    envk = os.path.abspath(sys.argv[1] if len(sys.argv) > 1 else ROOT / "target/release/envk")
    for teams, requests in [(100, False), (1000, True)]:
        r = measure(envk, teams, requests)
        print(f"N={teams} ({r['lines']} lines)")
        print(f"  didChange → publishDiagnostics: median {r['edit'][0]:.1f} ms, p95 {r['edit'][1]:.1f} ms"
              f" (without the 20 ms debounce: {r['edit_without_debounce'][0]:.1f} / {r['edit_without_debounce'][1]:.1f} ms)")
        print(f"  cold envk check: median {r['cold_check'][0]:.1f} ms, p95 {r['cold_check'][1]:.1f} ms")
        for method in ["hover", "definition", "completion"]:
            if method in r:
                print(f"  {method}: median {r[method][0]:.2f} ms, p95 {r[method][1]:.2f} ms")
        print(f"  server resident after open: {r['server_resident_mib']:.0f} MiB;"
              f" envk check peak: {r['check_peak_mib']:.0f} MiB"
              f" ({r['server_resident_mib'] / r['check_peak_mib']:.1f}×)")


if __name__ == "__main__":
    main()
