#!/usr/bin/env python3
"""Checks the HTML report as headless Chromium loaded and drew it.

Usage: report-check.py NAME DOM MODEL PNG [--require-paths]
       report-check.py --self-test

NAME   the example's name, for the messages;
DOM    what `chromium --dump-dom` printed for report/index.html;
MODEL  the build's .envk/model.json;
PNG    what `chromium --screenshot` wrote for the same page.

It checks that
  - the DOM has exactly one <section class="cluster"> per cluster of the
    model, named by data-cluster;
  - in each section, the tr.env rows, data-envs and the model's envs agree;
    the tr.binding rows, data-bindings and the model's grants (every env's
    plus the cluster's) agree; when data-paths is not "-", the <line>s of
    class path, the tr.path rows and data-paths agree, and there is no
    tr.rule; when it is "-" (more than 40 places), there is no path and one
    tr.rule per namespace; data-paths is "-" exactly when the model's
    cluster has more than 40 places (envs, externals, Prometheus);
  - with --require-paths, some cluster has data-paths > 0;
  - every <svg> has a width and a height attribute, both numbers above 0;
  - the screenshot is not blank: at least MIN_COLOURS distinct colours, and
    less than MAX_SHARE of its pixels of its most common colour.

Prints one line per example; on any failure, every failure and exit 1.
Python 3.11 standard library only. --self-test checks the PNG decoder on
images it encodes itself with every filter, and that the checks fail on a
blank image and on a DOM with a row missing.
"""

import collections
import html.parser
import json
import random
import struct
import sys
import zlib

# The page as envk writes it: above this many places a cluster's network is
# listed per namespace (src/emit/report.rs, GRAPH_LIMIT).
GRAPH_LIMIT = 40
MIN_COLOURS = 50
MAX_SHARE = 0.97


class Failed(Exception):
    pass


# --- the DOM -----------------------------------------------------------------


class Section:
    def __init__(self, attrs):
        self.attrs = attrs
        self.rows = collections.Counter()  # tr class token → count
        self.path_lines = 0


class Page(html.parser.HTMLParser):
    """The cluster sections, the rows and path lines in each, every <svg>."""

    COUNTED_ROWS = ("env", "binding", "path", "rule")

    def __init__(self):
        super().__init__(convert_charrefs=True)
        self.sections = []
        self.svgs = []  # (width, height) as written, None when missing
        self.depth = 0  # <section> nesting inside the current cluster section
        self.current = None
        self.outside = collections.Counter()  # counted rows outside any cluster

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        classes = (attrs.get("class") or "").split()
        if tag == "section":
            if self.current is not None:
                self.depth += 1
            elif "cluster" in classes:
                self.current = Section(attrs)
                self.sections.append(self.current)
                self.depth = 0
        elif tag == "tr":
            for token in self.COUNTED_ROWS:
                if token in classes:
                    if self.current is not None:
                        self.current.rows[token] += 1
                    else:
                        self.outside[token] += 1
        elif tag == "line" and "path" in classes:
            if self.current is not None:
                self.current.path_lines += 1
            else:
                self.outside["line.path"] += 1
        if tag == "svg":
            self.svgs.append((attrs.get("width"), attrs.get("height")))

    def handle_startendtag(self, tag, attrs):
        # <line ... /> as written; Chromium's serialization closes them.
        self.handle_starttag(tag, attrs)
        if tag == "section":
            self.handle_endtag(tag)

    def handle_endtag(self, tag):
        if tag == "section" and self.current is not None:
            if self.depth == 0:
                self.current = None
            else:
                self.depth -= 1


def places(cluster):
    return len(cluster["envs"]) + len(cluster["externals"]) + (1 if cluster.get("prometheus") else 0)


def positive(value):
    try:
        return float(value) > 0
    except (TypeError, ValueError):
        return False


def check_dom(dom_text, model, require_paths=False):
    """The failures (a list of sentences) and the figures found."""
    page = Page()
    page.feed(dom_text)
    page.close()
    failures = []
    found = collections.Counter()
    clusters = model["clusters"]

    names = [section.attrs.get("data-cluster") for section in page.sections]
    duplicated = sorted({name for name in names if names.count(name) > 1}, key=str)
    if duplicated:
        failures.append(f"more than one section.cluster for {', '.join(map(str, duplicated))}")
    missing = sorted(set(clusters) - set(names))
    if missing:
        failures.append(f"no section.cluster for the model's cluster(s) {', '.join(missing)}")
    unknown = sorted({str(name) for name in names} - set(clusters))
    if unknown:
        failures.append(f"section.cluster for cluster(s) the model does not have: {', '.join(unknown)}")
    if len(page.sections) != len(clusters):
        failures.append(f"{len(page.sections)} section.cluster in the DOM, {len(clusters)} clusters in model.json")
    for what, count in sorted(page.outside.items()):
        failures.append(f"{count} {what if '.' in what else 'tr.' + what} outside every section.cluster")

    some_paths = False
    for section in page.sections:
        name = section.attrs.get("data-cluster")
        cluster = clusters.get(name)
        if cluster is None:
            continue
        where = f"cluster {name}"
        attr = section.attrs
        envs = len(cluster["envs"])
        bindings = sum(len(env.get("grants", [])) for env in cluster["envs"].values()) + len(cluster["cluster_grants"])
        rows = section.rows
        found["clusters"] += 1
        found["envs"] += rows["env"]
        found["bindings"] += rows["binding"]

        if not (rows["env"] == str_int(attr.get("data-envs")) == envs):
            failures.append(
                f"{where}: {rows['env']} tr.env, data-envs={attr.get('data-envs')!r}, {envs} envs in model.json"
            )
        if not (rows["binding"] == str_int(attr.get("data-bindings")) == bindings):
            failures.append(
                f"{where}: {rows['binding']} tr.binding, data-bindings={attr.get('data-bindings')!r}, "
                f"{bindings} grants in model.json (envs' and cluster's)"
            )
        data_paths = attr.get("data-paths")
        large = places(cluster) > GRAPH_LIMIT
        if data_paths == "-":
            found["listed"] += 1
            if not large:
                failures.append(
                    f"{where}: data-paths is \"-\" but the cluster has {places(cluster)} places, "
                    f"at most {GRAPH_LIMIT}: it should be drawn"
                )
            if section.path_lines or rows["path"]:
                failures.append(
                    f"{where}: data-paths is \"-\" and yet {section.path_lines} line.path and {rows['path']} tr.path"
                )
            if rows["rule"] != envs:
                failures.append(f"{where}: {rows['rule']} tr.rule for {envs} namespaces")
        else:
            paths = str_int(data_paths)
            if paths is None:
                failures.append(f"{where}: data-paths={data_paths!r} is neither a count nor \"-\"")
            elif not (section.path_lines == rows["path"] == paths):
                failures.append(
                    f"{where}: {section.path_lines} line.path, {rows['path']} tr.path, data-paths={data_paths}"
                )
            if large:
                failures.append(
                    f"{where}: {places(cluster)} places, more than {GRAPH_LIMIT}, and yet data-paths={data_paths!r}"
                )
            if rows["rule"]:
                failures.append(f"{where}: a graph is drawn and yet {rows['rule']} tr.rule")
            if paths:
                some_paths = True
            found["lines"] += section.path_lines
            found["paths"] += rows["path"]
    if require_paths and not some_paths:
        failures.append("no cluster has data-paths > 0, and this example has paths")

    found["svgs"] = len(page.svgs)
    if not page.svgs:
        failures.append("no <svg> in the DOM")
    for index, (width, height) in enumerate(page.svgs, 1):
        if not (positive(width) and positive(height)):
            failures.append(f"<svg> #{index} has width={width!r} height={height!r}, not both above 0")
    return failures, found


def str_int(value):
    try:
        return int(value)
    except (TypeError, ValueError):
        return None


# --- the PNG -----------------------------------------------------------------

SIGNATURE = b"\x89PNG\r\n\x1a\n"


def decode_png(data):
    """(width, height, bytes per pixel, rows): 8-bit RGB or RGBA, not interlaced."""
    if data[:8] != SIGNATURE:
        raise Failed("not a PNG (bad signature)")
    at = 8
    header = None
    idat = []
    while at + 8 <= len(data):
        length, kind = struct.unpack(">I4s", data[at : at + 8])
        body = data[at + 8 : at + 8 + length]
        if len(body) != length:
            raise Failed(f"PNG chunk {kind!r} is cut short")
        (crc,) = struct.unpack(">I", data[at + 8 + length : at + 12 + length])
        if zlib.crc32(kind + body) != crc:
            raise Failed(f"PNG chunk {kind!r} has a bad CRC")
        at += 12 + length
        if kind == b"IHDR":
            header = struct.unpack(">IIBBBBB", body)
        elif kind == b"IDAT":
            idat.append(body)
        elif kind == b"IEND":
            break
    if header is None:
        raise Failed("PNG without IHDR")
    width, height, depth, colour, _, _, interlace = header
    if depth != 8 or colour not in (2, 6) or interlace != 0:
        raise Failed(
            f"PNG of bit depth {depth}, colour type {colour}, interlace {interlace}: "
            "only 8-bit RGB (2) or RGBA (6), not interlaced, is read"
        )
    if width == 0 or height == 0:
        raise Failed(f"PNG of {width}x{height} pixels")
    bpp = 3 if colour == 2 else 4
    stride = width * bpp
    raw = zlib.decompress(b"".join(idat))
    if len(raw) != height * (stride + 1):
        raise Failed(f"PNG data is {len(raw)} bytes, {height * (stride + 1)} expected for {width}x{height}")
    rows = []
    previous = bytearray(stride)
    for y in range(height):
        start = y * (stride + 1)
        kind = raw[start]
        line = bytearray(raw[start + 1 : start + 1 + stride])
        if kind == 0:
            pass
        elif kind == 1:  # Sub
            for i in range(bpp, stride):
                line[i] = (line[i] + line[i - bpp]) & 0xFF
        elif kind == 2:  # Up
            line = bytearray((a + b) & 0xFF for a, b in zip(line, previous))
        elif kind == 3:  # Average
            for i in range(stride):
                left = line[i - bpp] if i >= bpp else 0
                line[i] = (line[i] + ((left + previous[i]) >> 1)) & 0xFF
        elif kind == 4:  # Paeth
            for i in range(stride):
                a = line[i - bpp] if i >= bpp else 0
                b = previous[i]
                c = previous[i - bpp] if i >= bpp else 0
                p = a + b - c
                pa, pb, pc = abs(p - a), abs(p - b), abs(p - c)
                if pa <= pb and pa <= pc:
                    predictor = a
                elif pb <= pc:
                    predictor = b
                else:
                    predictor = c
                line[i] = (line[i] + predictor) & 0xFF
        else:
            raise Failed(f"PNG row {y} has unknown filter type {kind}")
        rows.append(bytes(line))
        previous = line
    return width, height, bpp, rows


def colours(width, height, bpp, rows):
    """(distinct colours, share of the most common one)."""
    counts = collections.Counter()
    stride = width * bpp
    for row in rows:
        counts.update(row[i : i + bpp] for i in range(0, stride, bpp))
    most = counts.most_common(1)[0][1]
    return len(counts), most / (width * height)


def check_png(data):
    failures = []
    try:
        width, height, bpp, rows = decode_png(data)
    except (Failed, zlib.error, struct.error) as error:
        return [f"screenshot: {error}"], {}
    distinct, share = colours(width, height, bpp, rows)
    if distinct < MIN_COLOURS:
        failures.append(f"screenshot: {distinct} distinct colours, fewer than {MIN_COLOURS}: blank?")
    if share >= MAX_SHARE:
        failures.append(
            f"screenshot: {share:.1%} of its pixels are one colour, {MAX_SHARE:.0%} or more: blank?"
        )
    return failures, {"size": f"{width}x{height}", "colours": distinct, "share": share}


# --- the command -------------------------------------------------------------


def check(name, dom_path, model_path, png_path, require_paths):
    with open(dom_path, encoding="utf-8") as f:
        dom_text = f.read()
    with open(model_path, encoding="utf-8") as f:
        model = json.load(f)
    with open(png_path, "rb") as f:
        png = f.read()
    failures, found = check_dom(dom_text, model, require_paths)
    png_failures, image = check_png(png)
    failures += png_failures
    if failures:
        print(f"report-check: {name}: the report fails {len(failures)} check(s):", file=sys.stderr)
        for failure in failures:
            print(f"  - {failure}", file=sys.stderr)
        return 1
    paths = f"{found['paths']} paths ({found['lines']} line.path)"
    if found["listed"]:
        paths += f", {found['listed']} cluster(s) listed by rule"
    print(
        f"report-check: {name}: {found['clusters']} clusters, {found['envs']} tr.env, "
        f"{found['bindings']} tr.binding, {paths}, {found['svgs']} svg; "
        f"screenshot {image['size']}, {image['colours']} colours, "
        f"{image['share']:.1%} the most common: ok"
    )
    return 0


# --- the self-test -----------------------------------------------------------


def encode_png(width, height, bpp, rows, filters):
    """A PNG of the rows, row y filtered with filters[y % len(filters)]."""

    def chunk(kind, body):
        return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body))

    def paeth(a, b, c):
        p = a + b - c
        pa, pb, pc = abs(p - a), abs(p - b), abs(p - c)
        return a if pa <= pb and pa <= pc else b if pb <= pc else c

    raw = bytearray()
    previous = bytes(width * bpp)
    for y, row in enumerate(rows):
        kind = filters[y % len(filters)]
        out = bytearray()
        for i, x in enumerate(row):
            a = row[i - bpp] if i >= bpp else 0
            b = previous[i]
            c = previous[i - bpp] if i >= bpp else 0
            predictor = (0, a, b, (a + b) >> 1, paeth(a, b, c))[kind]
            out.append((x - predictor) & 0xFF)
        raw += bytes([kind]) + out
        previous = row
    colour = 2 if bpp == 3 else 6
    header = struct.pack(">IIBBBBB", width, height, 8, colour, 0, 0, 0)
    # Two IDAT chunks, as the data may be split anywhere.
    data = zlib.compress(bytes(raw))
    half = len(data) // 2
    return (
        SIGNATURE
        + chunk(b"IHDR", header)
        + chunk(b"IDAT", data[:half])
        + chunk(b"IDAT", data[half:])
        + chunk(b"IEND", b"")
    )


SELF_TEST_MODEL = {
    "clusters": {
        "a": {
            "envs": {"x": {"grants": [{}]}, "y": {}},
            "externals": {},
            "prometheus": None,
            "cluster_grants": [{}],
        }
    }
}
SELF_TEST_DOM = """<!DOCTYPE html><html><body>
<section class="cluster" data-cluster="a" data-envs="2" data-bindings="2" data-paths="1" data-cost="1.00">
<svg width="10" height="10"><line class="path some" x1="0" y1="0" x2="1" y2="1"></line></svg>
<table><tbody><tr class="env" data-env="x"></tr><tr class="env" data-env="y"></tr></tbody></table>
<details><table><tbody><tr class="path"><td>x</td></tr></tbody></table></details>
<table><tbody><tr class="binding"></tr></tbody></table>
<table><tbody><tr class="binding"></tr></tbody></table>
</section>
<section class="fleet"></section>
</body></html>"""


def self_test():
    problems = []
    generator = random.Random(7)
    for bpp in (3, 4):
        width, height = 23, 17
        rows = [bytes(generator.randrange(256) for _ in range(width * bpp)) for _ in range(height)]
        for filters in ([0], [1], [2], [3], [4], [0, 1, 2, 3, 4]):
            png = encode_png(width, height, bpp, rows, filters)
            decoded = decode_png(png)
            if decoded != (width, height, bpp, rows):
                problems.append(f"the decoder misreads {bpp * 8}-bit pixels filtered with {filters}")
    noisy = encode_png(64, 64, 3, [bytes(generator.randrange(256) for _ in range(64 * 3)) for _ in range(64)], [4])
    if check_png(noisy)[0]:
        problems.append(f"a noisy image is taken for blank: {check_png(noisy)[0]}")
    blank = encode_png(64, 64, 4, [b"\xff\xff\xff\xff" * 64] * 64, [0, 1, 2, 3, 4])
    if not check_png(blank)[0]:
        problems.append("a blank image passes")
    mostly = [b"\xff\xff\xff" * 64] * 63 + [bytes(generator.randrange(256) for _ in range(64 * 3))]
    if not check_png(encode_png(64, 64, 3, mostly, [1]))[0]:
        problems.append("an image 98% one colour passes")

    if check_dom(SELF_TEST_DOM, SELF_TEST_MODEL, True)[0]:
        problems.append(f"the sample DOM fails: {check_dom(SELF_TEST_DOM, SELF_TEST_MODEL, True)[0]}")
    tampered = {
        "a tr.env removed": SELF_TEST_DOM.replace('<tr class="env" data-env="y"></tr>', ""),
        "a tr.binding removed": SELF_TEST_DOM.replace('<tr class="binding"></tr>', "", 1),
        "a line.path removed": SELF_TEST_DOM.replace('<line class="path some"', '<line class="other"'),
        "a tr.path removed": SELF_TEST_DOM.replace('<tr class="path">', "<tr>"),
        "data-envs changed": SELF_TEST_DOM.replace('data-envs="2"', 'data-envs="3"'),
        "the section removed": SELF_TEST_DOM.replace('class="cluster"', 'class="gone"'),
        "an svg of width 0": SELF_TEST_DOM.replace('width="10"', 'width="0"'),
        "an svg without height": SELF_TEST_DOM.replace(' height="10"', ""),
        "no path at all": SELF_TEST_DOM.replace('data-paths="1"', 'data-paths="0"')
        .replace('<line class="path some" x1="0" y1="0" x2="1" y2="1"></line>', "")
        .replace('<tr class="path"><td>x</td></tr>', ""),
    }
    for what, dom in tampered.items():
        if not check_dom(dom, SELF_TEST_MODEL, True)[0]:
            problems.append(f"a DOM with {what} passes")
    if problems:
        for problem in problems:
            print(f"report-check self-test: {problem}", file=sys.stderr)
        return 1
    print("report-check self-test: PNG decoder (every filter, RGB and RGBA), blank images and tampered DOMs: ok")
    return 0


def main(argv):
    if argv == ["--self-test"]:
        return self_test()
    require_paths = "--require-paths" in argv
    args = [arg for arg in argv if arg != "--require-paths"]
    if len(args) != 4 or any(arg.startswith("--") for arg in args):
        print(__doc__.split("\n\n")[1], file=sys.stderr)
        return 2
    return check(*args, require_paths)


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
