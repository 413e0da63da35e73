"""`rpcsentry report`: the HTML page (drawn in headless Chromium: a screenshot,
the DOM, the requests it makes), the text form's options and its folding of
identical rows. Expected values are computed here from the EVE records the
sensor wrote, never written in by hand."""

import csv
import io
import json
import os
import random
import shutil
import struct
import subprocess
import tempfile
import time
import unittest
import zlib
from html.parser import HTMLParser

from common import BIN, REQUIRE_SHARED, SHARED_PCAPS, TempDir, load_jsonl, need_shared

CHROMIUM = os.environ.get("RPCSENTRY_CHROMIUM") or shutil.which("chromium") or "/usr/bin/chromium"
CLASSES = ("create", "modify", "execute", "delete")
ROW_FIELDS = ["time", "client", "target", "account", "interface", "operation", "class", "what",
              "detail", "count", "alerts", "severity", "tool", "sealed", "failed", "capture",
              "packet", "flow_id", "community_id"]


def need_chromium(test):
    """Skips without Chromium; fails in CI (RPCSENTRY_REQUIRE_SHARED=1), where
    .ci/run installs it, so that these tests cannot be skipped there unseen."""
    if os.access(CHROMIUM, os.X_OK):
        return
    if REQUIRE_SHARED:
        test.fail("chromium is missing but RPCSENTRY_REQUIRE_SHARED=1 (.ci/run installs it)")
    test.skipTest("chromium (Debian package chromium) is not installed")


def report(*args, check=True):
    p = subprocess.run([BIN, "report"] + list(args), capture_output=True, text=True, timeout=120)
    if check and p.returncode != 0:
        raise AssertionError("report %s: %d: %s" % (args, p.returncode, p.stderr))
    if "runtime error" in p.stderr or "AddressSanitizer" in p.stderr:
        raise AssertionError("report %s: %s" % (args, p.stderr))
    return p


def chromium(tmp, url, *extra, timeout=180):
    """Runs headless Chromium on url; returns (stdout, seconds, page requests).
    Every request goes to a proxy at 127.0.0.1:9 (discard: refused), so nothing
    leaves the machine; the net log says which requests the page itself made
    (initiator: the page's file:// origin) apart from Chromium's own
    (component updates and the like, which have no origin)."""
    netlog = os.path.join(tmp, "netlog-%d.json" % time.monotonic_ns())
    profile = tempfile.mkdtemp(prefix="chromium-", dir=tmp)
    args = [CHROMIUM, "--headless", "--no-sandbox", "--disable-gpu", "--no-first-run",
            "--user-data-dir=" + profile, "--proxy-server=127.0.0.1:9",
            "--log-net-log=" + netlog, "--window-size=1400,1000"] + list(extra) + [url]
    t0 = time.monotonic()
    p = subprocess.run(args, capture_output=True, text=True, timeout=timeout)
    took = time.monotonic() - t0
    if p.returncode != 0:
        raise AssertionError("chromium failed (%d): %s" % (p.returncode, p.stderr[-2000:]))
    return p.stdout, took, page_requests(netlog)


def page_requests(netlog):
    """URLs the page asked for (not file:), from Chromium's net log."""
    with open(netlog) as f:
        text = f.read()
    try:
        log = json.loads(text)
    except ValueError:  # cut short at exit: close the event list
        log = json.loads(text.rstrip().rstrip(",") + "]}")
    names = {v: k for k, v in log["constants"]["logEventTypes"].items()}
    urls = []
    for e in log.get("events", []):
        p = e.get("params") or {}
        url = p.get("url")
        if not url or names.get(e["type"]) not in ("URL_REQUEST_START_JOB", "REQUEST_ALIVE"):
            continue
        # the page's origin (file://) is opaque: "null"; Chromium's own have "not an origin"
        initiator, nik = str(p.get("initiator", "")), str(p.get("network_isolation_key", ""))
        mine = initiator == "null" or initiator.startswith("file:") or "file://" in nik
        if mine and not url.startswith("file:"):
            urls.append(url)
    return sorted(set(urls))


def png_pixels(path):
    """(width, height, rows of (r, g, b) tuples) of an 8-bit RGB/RGBA PNG."""
    with open(path, "rb") as f:
        data = f.read()
    assert data[:8] == b"\x89PNG\r\n\x1a\n", "not a PNG"
    pos, idat, w = 8, b"", None
    while pos < len(data):
        n, kind = struct.unpack(">I4s", data[pos:pos + 8])
        body = data[pos + 8:pos + 8 + n]
        if kind == b"IHDR":
            w, h, depth, ctype, _, _, interlace = struct.unpack(">IIBBBBB", body)
            assert depth == 8 and ctype in (2, 6) and not interlace, (depth, ctype, interlace)
            bpp = 3 if ctype == 2 else 4
        elif kind == b"IDAT":
            idat += body
        pos += 12 + n
    raw, stride, prev, rows = zlib.decompress(idat), w * bpp, bytearray(w * bpp), []
    for y in range(h):
        ftype, line = raw[y * (stride + 1)], bytearray(raw[y * (stride + 1) + 1:(y + 1) * (stride + 1)])
        for i in range(stride):
            a = line[i - bpp] if i >= bpp else 0
            b, c = prev[i], prev[i - bpp] if i >= bpp else 0
            if ftype == 1:
                line[i] = (line[i] + a) & 255
            elif ftype == 2:
                line[i] = (line[i] + b) & 255
            elif ftype == 3:
                line[i] = (line[i] + (a + b) // 2) & 255
            elif ftype == 4:
                pa, pb, pc = abs(b - c), abs(a - c), abs(a + b - 2 * c)
                line[i] = (line[i] + (a if pa <= pb and pa <= pc else b if pb <= pc else c)) & 255
        rows.append([tuple(line[x * bpp:x * bpp + 3]) for x in range(w)])
        prev = line
    return w, h, rows


class Dom(HTMLParser):
    """The dumped DOM: edges, nodes, story marks, table rows and all text."""

    def __init__(self):
        super().__init__()
        self.edges, self.tags, self.rows, self.text = [], {}, [], []
        self.attrs_of = []
        self.in_rows, self.cell, self.skip = False, None, False

    def handle_starttag(self, tag, attrs):
        a = dict(attrs)
        self.skip = tag in ("script", "style")
        self.attrs_of.append((tag, a))
        cls = a.get("class", "")
        self.tags[(tag, cls)] = self.tags.get((tag, cls), 0) + 1
        if tag == "path" and cls == "edge":
            self.edges.append((a["data-client"], a["data-target"], a["data-class"],
                               int(a["data-count"])))
        if tag == "tbody" and a.get("id") == "rows":
            self.in_rows = True
        elif self.in_rows and tag == "tr":
            self.rows.append([])
        elif self.in_rows and tag == "td":
            self.cell = []

    def handle_endtag(self, tag):
        self.skip = False
        if tag == "tbody":
            self.in_rows = False
        elif tag == "td" and self.cell is not None:
            self.rows[-1].append("".join(self.cell))
            self.cell = None

    def handle_data(self, data):
        if self.skip:  # the page's own code and style are not what it shows
            return
        self.text.append(data)
        if self.cell is not None:
            self.cell.append(data)

    def count(self, tag, cls=""):
        return self.tags.get((tag, cls), 0)


def parse_dom(html):
    d = Dom()
    d.feed(html)
    d.all_text = "".join(d.text)
    return d


def target_calls(recs):
    """The records the report is about: calls of a changing class on a target interface."""
    return [r for r in recs if r.get("event_type") == "dcerpc" and r.get("rpcsentry", {})
            .get("target") is True and r["rpcsentry"].get("class") in CLASSES]


def account_of(r):
    x = r["rpcsentry"]
    auth = x.get("auth") or {}
    u, d = auth.get("user"), auth.get("domain")
    if not u:
        ntlm = (r.get("smb") or {}).get("ntlmssp") or {}
        u, d = ntlm.get("user"), ntlm.get("domain")
    return None if not u else ("%s\\%s" % (d, u) if d else u)


def what_of(r):
    args = r["rpcsentry"].get("args") or {}
    w = args.get("service_name") or args.get("path") or args.get("task_name")
    if not w and r["rpcsentry"].get("interface") == "ATSvc":
        w = "(at job)"
    return w


def call_time(r):
    return r["rpcsentry"].get("request_time") or r["timestamp"]


def colour_near(p, hexcol, tol=40):
    want = tuple(int(hexcol[i:i + 2], 16) for i in (1, 3, 5))
    return all(abs(a - b) <= tol for a, b in zip(p, want))


_shared = {}


def shared_eve(test):
    """The sensor's EVE for every shared capture, written once per run."""
    need_shared(test)
    if "eve" not in _shared:
        d = tempfile.mkdtemp(prefix="rpcsentry-report-")
        p = subprocess.run([BIN, "-q", "-r", SHARED_PCAPS, "-l", d], capture_output=True,
                           text=True, timeout=600)
        if p.returncode != 0:
            raise AssertionError("sensor failed: %s" % p.stderr)
        _shared["dir"] = d
        _shared["eve"] = os.path.join(d, "eve.json")
        _shared["recs"] = load_jsonl(_shared["eve"])
    return _shared["eve"], _shared["recs"]


def tearDownModule():
    if "dir" in _shared:
        shutil.rmtree(_shared["dir"], ignore_errors=True)


class HtmlOfSharedCaptures(unittest.TestCase):
    """The page of the shared captures' records, drawn by Chromium."""

    @classmethod
    def setUpClass(cls):
        cls.tmp = tempfile.mkdtemp(prefix="rpcsentry-html-")

    @classmethod
    def tearDownClass(cls):
        shutil.rmtree(cls.tmp, ignore_errors=True)

    def setUp(self):
        self.eve, self.recs = shared_eve(self)
        need_chromium(self)
        self.page = os.path.join(self.tmp, "report.html")
        if not os.path.exists(self.page):
            report("--html", self.page, self.eve)
        self.calls = target_calls(self.recs)
        self.assertTrue(self.calls, "no task/service calls in the shared captures' records")

    def test_screenshot_is_not_blank(self):
        png = os.path.join(self.tmp, "shot.png")
        chromium(self.tmp, "file://" + self.page, "--screenshot=" + png)
        w, h, rows = png_pixels(png)
        self.assertEqual((w, h), (1400, 1000))
        bg = rows[2][2]
        inked = sum(1 for row in rows for p in row if p != bg)
        create = sum(1 for row in rows for p in row if colour_near(p, "#c62828"))
        print("\n  screenshot: %d of %d pixels differ from the background, %d of the create "
              "colour" % (inked, w * h, create), flush=True)
        self.assertGreater(inked, w * h // 50, "the page is (nearly) blank")
        self.assertGreater(create, 200, "no create edge or mark drawn, yet there are creations")

    def test_dom_holds_the_records(self):
        dom_text, took, _ = chromium(self.tmp, "file://" + self.page, "--dump-dom")
        dom = parse_dom(dom_text)
        self.assertIn('data-rendered="1"', dom_text, "the page's script did not finish")
        # the graph: one edge per (client, target, class), with the number of calls
        want = {}
        for r in self.calls:
            k = (r["src_ip"], r["dest_ip"], r["rpcsentry"]["class"])
            want[k] = want.get(k, 0) + 1
        self.assertLessEqual(len(want), 150, "more edges than the page draws: test needs a cap")
        self.assertEqual(sorted(dom.edges), sorted((c, s, k, n) for (c, s, k), n in want.items()))
        hosts = {r["src_ip"] for r in self.calls} | {r["dest_ip"] for r in self.calls}
        node_names = [t for t in dom.text if t in hosts]
        for h in hosts:
            self.assertIn(h, node_names)
        self.assertIn("%d task/service events" % len(self.calls), dom.all_text)
        self.assertTrue("no room for a label" not in dom.all_text, "an edge went unlabelled")
        # tool labels: what the rules named (alert metadata tool) on some edge's label
        tools = {t for r in self.recs if r.get("event_type") == "alert"
                 for t in (r["alert"].get("metadata") or {}).get("tool", [])}
        self.assertTrue(tools)
        for t in tools:
            self.assertTrue(any(t in s for s in dom.text), "tool %s not on an edge" % t)
        # the table: every call a row, with its name, capture, packet, flow and community id
        self.assertEqual(len(dom.rows), len(self.calls))
        got = {(row[6], row[11], row[12], row[13], row[14]) for row in dom.rows}
        for r in self.calls:
            key = (what_of(r) or "", os.path.basename(r["pcap_filename"]), str(r["pcap_cnt"]),
                   str(r["flow_id"]), r["community_id"])
            self.assertIn(key, got)
        names = {what_of(r) for r in self.calls if what_of(r)}
        self.assertIn("PSEXESVC", names)
        # the timeline: a mark per story, sealed marks when calls were sealed
        stories = [r for r in self.recs if r.get("event_type") == "lateral_movement"]
        self.assertTrue(stories)
        self.assertEqual(dom.count("path", "story"), len(stories))
        sealed = [r for r in self.calls if r["rpcsentry"].get("sealed")]
        self.assertTrue(sealed)
        self.assertGreater(dom.count("circle", "sealed"), 0)
        self.assertGreater(dom.count("path", "alert"), 0)
        targets = {r["dest_ip"] for r in self.calls}
        self.assertGreaterEqual(dom.count("rect", "band0") + dom.count("rect", "band1"),
                                min(len(targets), 40))

    def test_filters_in_the_page(self):
        """The table's filters, set from the address as a user would type them."""
        from urllib.parse import urlencode
        both = sorted({r["src_ip"] for r in self.calls} & {r["dest_ip"] for r in self.calls})
        accounts = sorted({account_of(r) for r in self.calls if account_of(r)})
        days = sorted(call_time(r)[:10] for r in self.calls)
        day = days[len(days) // 2]
        cases = [
            ({"host": both[0]}, lambda r: both[0] in (r["src_ip"], r["dest_ip"])),
            ({"host": both[0], "class": "create"},
             lambda r: both[0] in (r["src_ip"], r["dest_ip"]) and r["rpcsentry"]["class"] == "create"),
            ({"account": accounts[0].upper()},
             lambda r: accounts[0].lower() in (account_of(r) or "").lower()),
            ({"since": day}, lambda r: call_time(r)[:10] >= day),
            ({"until": day, "class": "delete"},
             lambda r: call_time(r)[:10] <= day and r["rpcsentry"]["class"] == "delete"),
        ]
        for preset, keep in cases:
            want = [r for r in self.calls if keep(r)]
            self.assertTrue(want, preset)
            out, _, _ = chromium(self.tmp, "file://" + self.page + "#" + urlencode(preset),
                                 "--dump-dom")
            dom = parse_dom(out)
            self.assertEqual(len(dom.rows), len(want), preset)
            self.assertEqual(sorted((row[12], row[13]) for row in dom.rows),
                             sorted((str(r["pcap_cnt"]), str(r["flow_id"])) for r in want), preset)
            self.assertIn("of %d matching events" % len(want), dom.all_text)

    def test_no_network_request(self):
        """The page loads nothing from a network; the detector itself is first shown
        to catch a page that does (an image, a fetch, a stylesheet and a font)."""
        control = os.path.join(self.tmp, "control.html")
        with open(control, "w") as f:
            f.write('<!DOCTYPE html><html><head><style>@import url("http://css.rpcsentry.invalid/'
                    'a.css"); @font-face { font-family: X; src: url("https://font.rpcsentry.'
                    'invalid/x.woff2"); } p { font-family: X; }</style></head><body><p>x</p>'
                    '<img src="http://img.rpcsentry.invalid/x.png"><script>fetch("https://'
                    'fetch.rpcsentry.invalid/y").catch(function () {});</script></body></html>')
        _, _, seen = chromium(self.tmp, "file://" + control, "--dump-dom")
        for host in ("css", "font", "img", "fetch"):
            self.assertTrue(any("//%s.rpcsentry.invalid/" % host in u for u in seen),
                            "the net log check missed the control page's %s request: %s"
                            % (host, seen))
        _, _, seen = chromium(self.tmp, "file://" + self.page, "--dump-dom")
        self.assertEqual(seen, [], "the report page made requests")
        with open(self.page) as f:
            html = f.read()
        for needle in ("http://", "https://", "//fonts.", "src=\"", "<link"):
            self.assertNotIn(needle, html.replace("http://www.w3.org/2000/svg", ""))


def call_record(i, client, target, cls, name, binary, ts, user="CORP\\alice", tool=None,
                sealed=False):
    """A dcerpc record as the sensor writes one, and the alert on it when tool is given."""
    dom, _, usr = user.partition("\\")
    op = {"create": "RCreateServiceW", "modify": "RChangeServiceConfigW",
          "execute": "RStartServiceW", "delete": "RDeleteService"}[cls]
    rec = {"timestamp": ts, "flow_id": 1000 + i, "pcap_filename": "gen/cap%d.pcap" % (i % 7),
           "pcap_cnt": 10 + i, "event_type": "dcerpc", "src_ip": client, "src_port": 50000,
           "dest_ip": target, "dest_port": 445, "proto": "TCP", "app_proto": "dcerpc",
           "community_id": "1:gen%d=" % i, "tx_id": 0,
           "dcerpc": {"request": "REQUEST", "response": "RESPONSE"},
           "rpcsentry": {"interface": "svcctl", "operation": op, "class": cls, "target": True,
                         "sealed": sealed, "auth": {"user": usr, "domain": dom},
                         "args": {} if sealed else {"service_name": name, "binary_path": binary},
                         "request_time": ts}}
    out = [rec]
    if tool:
        out.append({"timestamp": ts, "flow_id": 1000 + i, "pcap_filename": rec["pcap_filename"],
                    "pcap_cnt": 10 + i, "event_type": "alert", "src_ip": client,
                    "dest_ip": target, "tx_id": 0,
                    "alert": {"signature_id": 1, "signature": "generated", "severity": 1,
                              "metadata": {"tool": [tool]}}})
    return out


def write_eve(path, recs):
    with open(path, "w") as f:
        for r in recs:
            f.write(json.dumps(r) + "\n")


class HtmlEscaping(unittest.TestCase):
    NAME = "<script>alert(1)</script>"
    CLOSE = "</script><script>document.documentElement.setAttribute('data-xss','1')</script>"
    IMG = "<img src=x onerror=\"document.documentElement.setAttribute('data-xss','2')\">"

    def test_attacker_strings_are_text(self):
        need_chromium(self)
        with TempDir() as d:
            recs = (call_record(1, "10.0.0.1", "10.0.0.2", "create", self.NAME, self.CLOSE,
                                "2024-01-01T00:00:00.000000+0000", tool=self.IMG)
                    + call_record(2, "10.0.0.1", "10.0.0.2", "execute", self.IMG, None,
                                  "2024-01-01T00:00:01.000000+0000", user="EVIL\\" + self.CLOSE))
            recs.append({"timestamp": "2024-01-01T00:00:02.000000+0000",
                         "event_type": "lateral_movement", "src_ip": "10.0.0.1",
                         "dest_ip": "10.0.0.2", "pcap_filename": self.IMG, "pcap_cnt": 3,
                         "rpcsentry": {"story": {"summary": self.CLOSE, "user": "x"}}})
            eve, page = os.path.join(d, "eve.json"), os.path.join(d, "xss.html")
            write_eve(eve, recs)
            report("--html", page, eve)
            with open(page) as f:
                html = f.read()
            # two script elements (the data and the code): none from the records
            self.assertEqual(html.count("<script"), 2)
            self.assertEqual(html.count("</script"), 2)
            self.assertNotIn("<img", html)
            dom_text, _, seen = chromium(d, "file://" + page, "--dump-dom")
        dom = parse_dom(dom_text)
        html_attrs = [a for t, a in dom.attrs_of if t == "html"][0]
        self.assertEqual(html_attrs.get("data-rendered"), "1", "the page's script did not finish")
        self.assertFalse([a for _, a in dom.attrs_of if "data-xss" in a],
                         "a string from a record ran as script")
        self.assertEqual([t for t, _ in dom.attrs_of].count("img"), 0)
        self.assertEqual([t for t, _ in dom.attrs_of].count("script"), 2)
        self.assertEqual(seen, [], "the img onerror payload made a request")
        self.assertIn("&lt;script&gt;alert(1)&lt;/script&gt;", dom_text)
        self.assertEqual(len(dom.rows), 2)
        self.assertEqual(dom.rows[0][6], self.NAME)
        self.assertEqual(dom.rows[0][7], self.CLOSE)
        self.assertEqual(dom.rows[0][9], self.IMG)
        self.assertEqual(dom.rows[1][6], self.IMG)
        self.assertEqual(dom.rows[1][3], "EVIL\\" + self.CLOSE)


class HtmlOfTenThousandEvents(unittest.TestCase):
    N = 10000

    def test_renders_in_time_with_bounded_marks(self):
        need_chromium(self)
        rnd = random.Random(20)
        clients = ["10.1.%d.%d" % (i // 200, i % 200 + 1) for i in range(80)]
        targets = ["10.2.%d.%d" % (i // 200, i % 200 + 1) for i in range(400)]
        # a few hosts do most, as in a real network: weights fall as 1/rank
        cw = [1 / (i + 1) for i in range(len(clients))]
        tw = [1 / (i + 1) ** 0.7 for i in range(len(targets))]
        recs, triples = [], set()
        for i in range(self.N):
            c, s = rnd.choices(clients, cw)[0], rnd.choices(targets, tw)[0]
            k = rnd.choice(CLASSES)
            triples.add((c, s, k))
            t = 1700000000 + i * 37 + rnd.randrange(30)
            ts = time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(t)) + ".000000+0000"
            recs += call_record(i, c, s, k, "svc%d" % (i % 500), "C:\\x%d.exe" % i, ts,
                                tool="PsExec" if i % 10 == 0 else None)
        with TempDir() as d:
            eve, page = os.path.join(d, "eve.json"), os.path.join(d, "big.html")
            write_eve(eve, recs)
            t0 = time.monotonic()
            report("--html", page, eve)
            gen = time.monotonic() - t0
            size = os.path.getsize(page)
            dom_text, took, seen = chromium(d, "file://" + page, "--dump-dom")
        print("\n  10,000 events: page written in %.2f s (%d bytes), drawn and dumped by "
              "Chromium in %.1f s" % (gen, size, took), flush=True)
        self.assertLess(took, 90, "Chromium took too long on 10,000 events")
        self.assertEqual(seen, [])
        dom = parse_dom(dom_text)
        self.assertIn('data-rendered="1"', dom_text)
        self.assertGreater(len(triples), 150)
        self.assertEqual(len(dom.edges), 150, "the graph draws at most 150 edges")
        self.assertLessEqual(dom.count("g", "node"), 80)
        self.assertIn("smaller edges of", dom.all_text)
        self.assertIn("other hosts", dom.all_text)
        named = [e for e in dom.edges if not e[0].startswith("(") and not e[1].startswith("(")]
        self.assertTrue(named, "no edge between two hosts drawn by name")
        # the drawn edges are the largest of the aggregate the page computed: none of the
        # (client, target, class) triples between named hosts exceeds the smallest drawn
        want = {}
        for r in recs:
            if r["event_type"] == "dcerpc":
                k = (r["src_ip"], r["dest_ip"], r["rpcsentry"]["class"])
                want[k] = want.get(k, 0) + 1
        for c, s, k, n in named:
            self.assertEqual(want[(c, s, k)], n)
        # every call is in one drawn edge or in the note's count; drawn counts are the largest
        counts = sorted((e[3] for e in dom.edges), reverse=True)
        self.assertEqual(counts, sorted(counts, reverse=True))
        self.assertEqual(len(dom.rows), 200, "the table draws one page of rows")
        self.assertIn("of %d matching events" % self.N, dom.all_text)
        self.assertLessEqual(dom.count("rect", "band0") + dom.count("rect", "band1"), 40)
        svg_marks = sum(n for (tag, _), n in dom.tags.items()
                        if tag in ("path", "rect", "circle", "text", "line"))
        self.assertLess(svg_marks, 15000, "too many SVG elements for 10,000 events")
        self.assertIn("%d task/service events" % self.N, dom.all_text)


def text_rows(out):
    """The text form's rows: (line, count, capture, packet)."""
    import re
    rows = []
    for line in out.splitlines():
        at = line.rfind("  (")
        m = re.match(r"^(.*), packet (\d+|\?)\)$", line[at + 3:]) if at >= 0 else None
        if m and re.match(r"^\d{4}-\d\d-\d\d ", line):
            n = re.search(r"  x(\d+)(  \[|  \()", line)
            rows.append((line, int(n.group(1)) if n else 1, m.group(1), m.group(2)))
    return rows


class TextOptions(unittest.TestCase):
    def setUp(self):
        self.eve, self.recs = shared_eve(self)
        self.calls = target_calls(self.recs)

    def json_rows(self, *args):
        out = report("--format", "json", *args, self.eve).stdout
        return [json.loads(l) for l in out.splitlines()]

    def test_identical_rows_are_counted_once(self):
        out = report(self.eve).stdout
        rows = text_rows(out)
        self.assertEqual(sum(r[1] for r in rows), len(self.calls))
        self.assertIn("%d task/service changes" % len(self.calls), out)
        # PsExec's PSEXESVC creation, sent the same way in several captures
        psexec = [r for r in self.calls if what_of(r) == "PSEXESVC"
                  and r["rpcsentry"]["operation"] == "RCreateServiceWOW64W"
                  and r["dest_ip"] == "192.168.10.10"]
        self.assertGreater(len(psexec), 1, "the shared captures hold repeated PSEXESVC creations")
        first = min(psexec, key=lambda r: (call_time(r), self.recs.index(r)))
        row = [r for r in rows if "RCreateServiceWOW64W" in r[0] and "PSEXESVC" in r[0]
               and "192.168.10.10" in r[0]]
        self.assertEqual(len(row), 1, out)
        self.assertIn("  x%d  " % len(psexec), row[0][0])
        self.assertEqual((row[0][2], row[0][3]), (first["pcap_filename"], str(first["pcap_cnt"])))
        # every row names a capture and packet of one of the calls
        where = {(r["pcap_filename"], str(r["pcap_cnt"])) for r in self.calls}
        for r in rows:
            self.assertIn((r[2], r[3]), where)

    def test_host(self):
        both = ({r["src_ip"] for r in self.calls} & {r["dest_ip"] for r in self.calls})
        self.assertTrue(both, "no host is both client and target in the shared captures")
        h = sorted(both)[0]
        want = [r for r in self.calls if h in (r["src_ip"], r["dest_ip"])]
        rows = self.json_rows("--host", h)
        self.assertEqual(sum(r["count"] for r in rows), len(want))
        self.assertTrue(all(h in (r["client"], r["target"]) for r in rows))
        self.assertTrue(any(r["client"] == h for r in rows) and any(r["target"] == h for r in rows))
        out = report("--host", h, self.eve).stdout
        self.assertIn("%d task/service changes" % len(want), out)

    def test_account(self):
        accounts = sorted({account_of(r) for r in self.calls if account_of(r)})
        self.assertTrue(accounts)
        a = next(x for x in accounts if "\\" in x)
        want = [r for r in self.calls if (account_of(r) or "").lower() == a.lower()]
        rows = self.json_rows("--account", a.upper())
        self.assertEqual(sum(r["count"] for r in rows), len(want))
        self.assertTrue(all(r["account"].lower() == a.lower() for r in rows))
        # the user alone matches it in any domain
        user = a.split("\\", 1)[1]
        want = [r for r in self.calls if (account_of(r) or "").lower().split("\\")[-1]
                == user.lower()]
        self.assertEqual(sum(r["count"] for r in self.json_rows("--account", user)), len(want))

    def test_since_until(self):
        times = sorted(call_time(r) for r in self.calls)
        t = times[len(times) // 2]
        since = [r for r in self.calls if call_time(r) >= t]
        until = [r for r in self.calls if call_time(r) <= t]
        self.assertEqual(sum(r["count"] for r in self.json_rows("--since", t)), len(since))
        self.assertEqual(sum(r["count"] for r in self.json_rows("--until", t)), len(until))
        both = self.json_rows("--since", t, "--until", t)
        self.assertEqual(sum(r["count"] for r in both), len([x for x in times if x == t]))
        # a date alone: --until takes in the whole day, --since starts at its midnight
        day = t[:10]
        self.assertEqual(sum(r["count"] for r in self.json_rows("--until", day)),
                         len([x for x in times if x[:10] <= day]))
        self.assertEqual(sum(r["count"] for r in self.json_rows("--since", day)),
                         len([x for x in times if x[:10] >= day]))
        # the same instant written in another zone
        later = [x for x in times if x > t]
        if later:
            u = later[0]
            h = int(u[11:13])
            shifted = "%sT%02d%s+01:00" % (u[:10], h + 1, u[13:19]) if h < 23 else None
            if shifted:
                n = sum(r["count"] for r in self.json_rows("--since", shifted))
                self.assertEqual(n, len([x for x in times if x[:19] >= u[:19]]))
        p = report("--since", "yesterday", self.eve, check=False)
        self.assertEqual(p.returncode, 2)
        self.assertIn("not a time", p.stderr)

    def test_csv_and_json(self):
        out = report("--format", "csv", self.eve).stdout
        rows = list(csv.reader(io.StringIO(out)))
        self.assertEqual(rows[0], ROW_FIELDS)
        jrows = self.json_rows()
        self.assertEqual(len(rows) - 1, len(jrows))
        self.assertEqual(len(jrows), len(text_rows(report(self.eve).stdout)))
        self.assertEqual(sum(int(r[9]) for r in rows[1:]), len(self.calls))
        self.assertEqual(sum(r["count"] for r in jrows), len(self.calls))
        for c, j in zip(rows[1:], jrows):
            self.assertEqual(list(j), ROW_FIELDS)
            self.assertEqual(c[ROW_FIELDS.index("what")], j["what"] or "")
            self.assertEqual(c[ROW_FIELDS.index("packet")], str(j["packet"]))
        # commands keep their commas and quotes (the CSV quotes them) in full
        by_flow = {(r["flow_id"], r["pcap_cnt"], r["pcap_filename"]): r for r in self.calls}
        long = [j for j in jrows if j["detail"] and len(j["detail"]) > 160]
        self.assertTrue(long, "no long command in the shared captures")
        for j in jrows:
            r = by_flow[(j["flow_id"], j["packet"], j["capture"])]
            self.assertEqual(j["capture"], r["pcap_filename"])
            self.assertEqual(j["community_id"], r["community_id"])
            self.assertEqual(j["operation"], r["rpcsentry"]["operation"])
            self.assertEqual(j["class"], r["rpcsentry"]["class"])
            self.assertEqual(j["account"], account_of(r))
        p = report("--format", "xml", self.eve, check=False)
        self.assertEqual(p.returncode, 2)


if __name__ == "__main__":
    unittest.main()
