"""The HTML report of a real mixed run, opened in headless Chromium (DOM and screenshots)."""

from __future__ import annotations

import json
import os
import random
import re
import shutil
import struct
import subprocess
import sys
import tempfile
import zlib
from collections import Counter
from html.parser import HTMLParser
from pathlib import Path
from typing import Any

import pytest

from pytest_dbmatrix.report import html as html_report
from tests.conftest import LIVE, LIVE_URLS

APP = """
import pytest
import sqlalchemy as sa

def test_string_without_length(db_connection):
    metadata = sa.MetaData()
    users = sa.Table("users", metadata, sa.Column("id", sa.Integer, primary_key=True),
                     sa.Column("name", sa.String))
    metadata.create_all(db_connection)
    db_connection.execute(users.insert().values(name="Eric"))
    assert db_connection.scalar(sa.select(users.c.name)) == "Eric"

def test_value_too_long(db_connection):
    db_connection.exec_driver_sql("CREATE TEMPORARY TABLE codes (code VARCHAR(3))")
    db_connection.exec_driver_sql("INSERT INTO codes (code) VALUES ('abcdef')")

@pytest.mark.parametrize("word", ["<b>bold</b>"])
def test_escaped(db_connection, word):
    assert db_connection.scalar(sa.text("SELECT 1")) == 1
"""
PASS_RGB, FAIL_RGB = bytes((0xC8, 0xE6, 0xC9)), bytes((0xFF, 0xCD, 0xD2))
CHROMIUM_FLAGS = ("--headless", "--no-sandbox", "--disable-gpu", "--disable-quic",
                  "--no-first-run", "--disable-background-networking",
                  "--disable-component-update", "--disable-sync", "--hide-scrollbars")


def _find_chromium() -> str | None:
    return next(filter(None, map(shutil.which, ("chromium", "chromium-browser"))), None)


@pytest.fixture(scope="session")
def chromium() -> str:
    """Debian's chromium; installed with apt-get when missing and we are root."""
    found = _find_chromium()
    if not found and os.geteuid() == 0 and shutil.which("apt-get"):
        env = dict(os.environ, DEBIAN_FRONTEND="noninteractive")
        subprocess.run(["apt-get", "update", "-qq"], check=False, env=env, timeout=600)
        subprocess.run(["apt-get", "install", "-y", "-qq", "chromium"], check=False, env=env,
                       timeout=900)
        found = _find_chromium()
    if not found:
        pytest.fail("these tests need Debian's chromium: apt-get install -y chromium")
    return found


def browse(chromium: str, page: Path, *args: str,
           url: str | None = None) -> subprocess.CompletedProcess[str]:
    """Open `page` (or `url`, e.g. the page with a #fragment) in headless Chromium."""
    with tempfile.TemporaryDirectory() as profile:
        return subprocess.run([chromium, *CHROMIUM_FLAGS, f"--user-data-dir={profile}", *args,
                               url or page.as_uri()], capture_output=True, text=True,
                              timeout=180, check=True)


def dump_dom(chromium: str, page: Path) -> str:
    return browse(chromium, page, "--dump-dom").stdout


@pytest.fixture(scope="module")
def run_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """One inner run on all live backends writing report.html (and its terminal output)."""
    path = tmp_path_factory.mktemp("html_run")
    (path / "test_app.py").write_text(APP)
    (path / "pytest.ini").write_text("[pytest]\n")
    env = {k: v for k, v in os.environ.items() if not k.startswith("DBMATRIX_")}
    env.update({f"DBMATRIX_{n.upper()}_URL": url for n, url in LIVE_URLS.items()})
    result = subprocess.run(
        [sys.executable, "-m", "pytest", "-p", "no:cacheprovider", f"--dbmatrix={LIVE}",
         "--dbmatrix-strict", "--dbmatrix-html=out/report.html"],
        cwd=path, env=env, capture_output=True, text=True, timeout=600)
    (path / "output.txt").write_text(result.stdout + result.stderr)
    assert result.returncode == 1, result.stdout[-3000:]
    return path


@pytest.fixture(scope="module")
def page(run_dir: Path) -> Path:
    return run_dir / "out" / "report.html"


def test_run_writes_one_self_contained_page(run_dir: Path, page: Path) -> None:
    assert "dbmatrix HTML report: out/report.html" in (run_dir / "output.txt").read_text()
    html = page.read_text()
    assert "<meta name='viewport' content='width=device-width, initial-scale=1'>" in html
    assert not re.search(r"<link|<img|<iframe|@import|url\(", html, re.I)
    assert not re.search(r"""\b(?:src|href|action)\s*=\s*['"](?!#)""", html, re.I)
    assert "<b>bold</b>" not in html and "&lt;b&gt;bold&lt;/b&gt;" in html


def test_matrix_and_incompatibilities_in_the_browser_dom(chromium: str, page: Path) -> None:
    dom = dump_dom(chromium, page)
    assert re.search(r"<table id=\"matrix\">", dom)
    rows = re.findall(r"<tr data-test=\"([^\"]+)\"[^>]*>", dom)
    assert rows == ["test_app.py::test_string_without_length", "test_app.py::test_value_too_long",
                    "test_app.py::test_escaped[&lt;b&gt;bold&lt;/b&gt;]"]
    assert "3 of 3 tests shown" in dom  # written by the page's script: it ran
    cells = re.findall(r'data-col="(\w+)" data-outcome="(\w+)"', dom)
    assert cells[:4] == [("sqlite", "passed"), ("postgresql", "passed"), ("mysql", "failed"),
                         ("mariadb", "failed")]
    assert cells[4:8] == [("sqlite", "passed"), ("postgresql", "failed"), ("mysql", "failed"),
                          ("mariadb", "failed")]
    assert "Incompatibilities (2)" in dom
    assert len(re.findall(r"<details class=\"inc\"", dom)) == 2
    assert "VARCHAR requires a length on dialect mysql" in dom
    assert "fix: give the column a length: String(255)" in dom
    assert "value too long for type character varying(3)" in dom
    assert "INSERT INTO codes (code) VALUES ('abcdef')" in dom  # the SQL of the failure
    assert "hazard data-too-long" in dom
    assert "<b>bold</b>" not in dom


def test_header_has_servers_providers_timings_and_facts(chromium: str, page: Path) -> None:
    dom = dump_dom(chromium, page)
    header = dom[dom.index("<table id=\"backends\">"):dom.index("</header>")]
    assert re.search(r"postgresql</a></td><td>PostgreSQL 15[\d.]*</td><td>url</td>", header)
    assert re.search(r"mysql</a></td><td>MariaDB 10\.11[\d.]*</td><td>url</td>", header)
    assert re.search(r"sqlite</a></td><td>SQLite [\d.]+</td><td>embedded</td>", header)
    assert len(re.findall(r"<td class=\"num\">\d+\.\d\d s</td>", header)) == 4
    assert "environment (2 to note)" in dom  # the MariaDB warnings: case, DDL
    assert "default isolation" in dom and "REPEATABLE READ" in dom


FILTER = """<script>
(function(){
  var s=document.getElementById('search');s.value='%s';
  s.dispatchEvent(new Event('input'));
  var o=document.getElementById('outcome');o.value='%s';o.dispatchEvent(new Event('input'));
  var b=document.querySelector('input[data-backend="%s"]');
  if(b){b.checked=false;b.dispatchEvent(new Event('input'));}
})();
</script></body>"""


def _filtered(chromium: str, page: Path, tmp_path: Path, search: str, outcome: str,
              hide: str = "") -> str:
    copy = tmp_path / f"filtered-{search or 'all'}-{outcome}-{hide}.html"
    copy.write_text(page.read_text().replace("</body>", FILTER % (search, outcome, hide)))
    return dump_dom(chromium, copy)


def _visible_rows(dom: str) -> list[str]:
    rows = re.findall(r"<tr data-test=\"([^\"]+)\"([^>]*)>", dom)
    return [test for test, rest in rows if "hidden" not in rest]


def test_filters_search_outcome_and_backend(chromium: str, page: Path, tmp_path: Path) -> None:
    dom = _filtered(chromium, page, tmp_path, "WITHOUT", "all")
    assert _visible_rows(dom) == ["test_app.py::test_string_without_length"]
    assert "1 of 3 tests shown" in dom
    dom = _filtered(chromium, page, tmp_path, "", "incompatible")
    assert len(_visible_rows(dom)) == 2
    dom = _filtered(chromium, page, tmp_path, "", "failing", hide="postgresql")
    assert len(_visible_rows(dom)) == 2
    assert re.search(r'<th data-col="postgresql" class="hidden">', dom)
    dom = _filtered(chromium, page, tmp_path, "", "differing", hide="sqlite")
    assert _visible_rows(dom) == ["test_app.py::test_string_without_length"]


def _png_rows(data: bytes) -> tuple[int, list[bytes]]:
    """Decode an 8-bit, non-interlaced RGB(A) PNG: (channels, rows of raw pixels)."""
    assert data[:8] == b"\x89PNG\r\n\x1a\n"
    pos, idat = 8, b""
    while pos < len(data):
        length, kind = struct.unpack(">I4s", data[pos:pos + 8])
        body = data[pos + 8:pos + 8 + length]
        if kind == b"IHDR":
            width, height, depth, color, _, _, interlace = struct.unpack(">IIBBBBB", body)
        elif kind == b"IDAT":
            idat += body
        pos += 12 + length
    assert depth == 8 and interlace == 0 and color in (2, 6)
    channels = 3 if color == 2 else 4
    raw, stride, rows = zlib.decompress(idat), width * channels, []
    prev = bytearray(stride)
    for y in range(height):
        start = y * (stride + 1)
        kind, line = raw[start], bytearray(raw[start + 1:start + 1 + stride])
        _unfilter(kind, line, prev, channels)
        rows.append(bytes(line))
        prev = line
    return channels, rows


def _unfilter(kind: int, line: bytearray, prev: bytearray, bpp: int) -> None:
    for i in range(len(line)):
        left = line[i - bpp] if i >= bpp else 0
        up, corner = prev[i], prev[i - bpp] if i >= bpp else 0
        if kind == 1:
            line[i] = (line[i] + left) & 255
        elif kind == 2:
            line[i] = (line[i] + up) & 255
        elif kind == 3:
            line[i] = (line[i] + (left + up) // 2) & 255
        elif kind == 4:
            p = left + up - corner
            pa, pb, pc = abs(p - left), abs(p - up), abs(p - corner)
            pred = left if pa <= pb and pa <= pc else up if pb <= pc else corner
            line[i] = (line[i] + pred) & 255


def _count(rows: list[bytes], channels: int, rgb: bytes) -> int:
    pattern = rgb + b"\xff" if channels == 4 else rgb
    return sum(row.count(pattern) for row in rows)


@pytest.mark.parametrize("size", ["1280,900", "390,844"], ids=["desktop", "phone"])
def test_screenshot_shows_the_coloured_matrix(chromium: str, page: Path, size: str,
                                              tmp_path_factory: pytest.TempPathFactory) -> None:
    shot = tmp_path_factory.mktemp("screens") / f"report-{size.replace(',', 'x')}.png"
    browse(chromium, page, f"--window-size={size}", f"--screenshot={shot}")
    channels, rows = _png_rows(shot.read_bytes())
    assert len(rows) == int(size.split(",")[1])
    passed, failed = _count(rows, channels, PASS_RGB), _count(rows, channels, FAIL_RGB)
    print(f"screenshot {shot}: {passed} pass-coloured, {failed} fail-coloured pixels")
    assert passed > 2000 and failed > 2000, (passed, failed)


def test_xdist_run_writes_the_page_once_with_every_backend(pytester: pytest.Pytester,
                                                            live_urls: dict[str, str]) -> None:
    pytester.makepyfile(test_app=APP)
    result = pytester.runpytest("-n", "2", "--dbmatrix=sqlite,postgresql", "--dbmatrix-strict",
                                "--dbmatrix-html=report.html")
    result.assert_outcomes(passed=5, failed=1)
    html = (pytester.path / "report.html").read_text()
    assert html.count("<tr data-test=") == 3
    assert "PostgreSQL 15" in html and "Incompatibilities (1)" in html


# The by-hazard view, on a synthetic report of 300 tables x 6 backends (no live run needed).

BACKENDS = ("sqlite", "postgresql", "mysql", "mariadb", "mssql", "oracle")
TABLES = tuple(f"t{n:03d}" for n in range(1, 301))
HAZARDS = (  # hazard, severity, backends, share of tables, column
    ("string-without-length", "error", ("mysql", "mariadb", "oracle"), 0.8, "name"),
    ("datetime-precision", "error", ("mysql", "mariadb", "mssql"), 0.5, "created"),
    ("case-insensitive-collation", "warning", ("mysql", "mariadb", "mssql"), 0.6, "code"),
    ("boolean-as-integer", "warning", ("mysql", "mariadb", "oracle", "mssql"), 0.4, "active"),
    ("identifier-too-long", "error", ("oracle", "postgresql"), 0.2, None),
    ("empty-string-is-null", "warning", ("oracle",), 1.0, "note"),
)
DIVERGENCE = "mariadb,mysql | postgresql,sqlite"
NASTY = "wrote 'it''s' \"quoted\" <b>bold</b> & </script><!-- in"


def _synthetic_findings() -> list[dict[str, Any]]:
    """Thousands of findings: six hazards over the tables, a divergence, revision-only ones."""
    rng, findings = random.Random(18), []

    def finding(hazard: str, severity: str, backend: str, table: str | None,
                column: str | None = None, revision: str | None = None) -> None:
        status = rng.choice(("failed", "failed", "reported", "accepted"))
        if severity == "warning" and status == "failed":
            status = "reported"
        findings.append({
            "hazard": hazard, "check": "static", "backend": backend,
            "message": f"{hazard} on {table or revision}: {NASTY}", "dialect": backend,
            "table": table, "column": column, "revision": revision, "before": None,
            "after": None, "details": {}, "hint": f"the fix of {hazard}", "severity": severity,
            "status": status, "accepted_by": None, "reason": None})

    for hazard, severity, backends, share, column in HAZARDS:
        for table in TABLES:
            if rng.random() < share:
                for backend in backends:
                    finding(hazard, severity, backend, table, column)
    for table in TABLES[:25]:
        finding("divergent-ordering", "error", DIVERGENCE, table)
    for n in range(15):
        for backend in BACKENDS:
            finding("downgrade-missing", "warning", backend, None, revision=f"rev{n:02d}")
    return findings


def _place(f: dict[str, Any]) -> str:
    if f["table"]:
        return f"{f['table']}.{f['column']}" if f["column"] else f["table"]
    return f["revision"] or ""


def _digest(findings: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The digest as json_report will write it (for the fallback without `findings`)."""
    entries: dict[str, dict[str, Any]] = {}
    for f in findings:
        e = entries.setdefault(f["hazard"], {
            "hazard": f["hazard"], "severity": f["severity"], "why": f"why {f['hazard']}",
            "fix": f["hint"], "backends": [], "count": 0,
            "statuses": {"failed": 0, "reported": 0, "accepted": 0, "note": 0}, "places": [],
            "tables": [], "example": {"backend": f["backend"], "where": _place(f),
                                      "message": f["message"]}})
        e["count"] += 1
        e["statuses"][f["status"]] += 1
        for key, value in (("backends", f["backend"]), ("places", _place(f)),
                           ("tables", f["table"])):
            if value and value not in e[key]:
                e[key].append(value)
    for e in entries.values():
        e["more"] = max(0, len(e["places"]) - 20)
        e["places"] = e["places"][:20]
    return list(entries.values())


def _synthetic_report() -> dict[str, Any]:
    findings = _synthetic_findings()
    tests = [{"test": f"test_schema.py::test_table[{t}]",
              "results": {b: {"outcome": "failed" if (n + i) % 7 == 0 else "passed",
                              "duration": 0.01} for i, b in enumerate(BACKENDS)}}
             for n, t in enumerate(TABLES)]
    return {
        "schema": "pytest-dbmatrix/report/1", "plugin_version": "0", "created": "2026-12-02",
        "run": {"label": "synthetic", "status": "finished"},
        "backends": {b: {"status": "available", "dialect": b} for b in BACKENDS},
        "totals": {b: {"passed": 250, "failed": 50} for b in BACKENDS},
        "tests": tests, "incompatibilities": [], "lost_backends": {},
        "findings": findings, "digest": _digest(findings), "fail_on": "error",
        "acceptances": [
            {"line": "string-without-length t001.name mysql", "hazard": "string-without-length",
             "where": "t001.name", "backends": ["mysql"], "reason": "legacy", "matched": 1,
             "source": "dbmatrix-accept.txt:1", "stale": False},
            {"line": "datetime-precision gone.<col> *", "hazard": "datetime-precision",
             "where": "gone.<col>", "backends": ["*"], "reason": "table \"gone\" dropped",
             "source": "dbmatrix-accept.txt:2", "matched": 0, "stale": True}],
    }


class _Entries(HTMLParser):
    """The by-hazard entries of a DOM: hazard -> severity, count, statuses, places."""

    def __init__(self) -> None:
        super().__init__()
        self.entries: dict[str, dict[str, Any]] = {}
        self.current: dict[str, Any] | None = None
        self.in_places = False

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        a = dict(attrs)
        if tag == "article" and "hz" in (a.get("class") or "").split():
            self.current = {"severity": a["data-severity"], "count": int(a["data-count"] or 0),
                            "statuses": {}, "places_text": "", "more": None}
            self.entries[a["data-hazard"] or ""] = self.current
        elif self.current is not None and a.get("data-status"):
            self.current["statuses"][a["data-status"]] = int(a["data-n"] or 0)
        elif self.current is not None and a.get("class") == "places":
            self.current["places"] = int(a["data-n"] or 0)
            self.in_places = True
        elif self.current is not None and a.get("class") == "more":
            self.current["more"] = ""

    def handle_endtag(self, tag: str) -> None:
        self.in_places = False if tag == "span" else self.in_places

    def handle_data(self, data: str) -> None:
        if self.current is None:
            return
        if self.in_places:
            self.current["places_text"] += data
        elif self.current["more"] == "":
            self.current["more"] = data


def _entries(dom: str) -> dict[str, dict[str, Any]]:
    parser = _Entries()
    parser.feed(dom)
    return parser.entries


def _expected(findings: list[dict[str, Any]], **want: str) -> dict[str, dict[str, Any]]:
    """What the view must show under filters, computed here independently of the page."""
    out: dict[str, dict[str, Any]] = {}
    for f in findings:
        backends = [b for b in re.split(r"[ ,|]+", f["backend"]) if b]
        if (want.get("severity", f["severity"]) != f["severity"]
                or want.get("hazard", f["hazard"]) != f["hazard"]
                or want.get("table", f["table"]) != f["table"]
                or ("backend" in want and want["backend"] not in backends)):
            continue
        e = out.setdefault(f["hazard"], {"severity": f["severity"], "count": 0,
                                         "statuses": Counter(), "places": set()})
        e["count"] += 1
        e["statuses"][f["status"]] += 1
        e["places"].add(_place(f))
    return {h: {"severity": e["severity"], "count": e["count"], "places": len(e["places"]),
                "statuses": {k: e["statuses"][k] for k in ("failed", "reported", "accepted")}}
            for h, e in out.items()}


def _shown(entries: dict[str, dict[str, Any]]) -> dict[str, dict[str, Any]]:
    return {h: {"severity": e["severity"], "count": e["count"], "places": e["places"],
                "statuses": {k: e["statuses"][k] for k in ("failed", "reported", "accepted")}}
            for h, e in entries.items()}


@pytest.fixture(scope="module")
def synthetic(tmp_path_factory: pytest.TempPathFactory) -> tuple[dict[str, Any], Path]:
    data = _synthetic_report()
    path = html_report.write_data(data, tmp_path_factory.mktemp("hazards") / "report.html")
    return data, path


HAZARD_FILTER = """<script>
(function(){
  var v=%s;
  Object.keys(v).forEach(function(k){var c=document.getElementById('hz-'+k);c.value=v[k];
    c.dispatchEvent(new Event('input'))});
  %s
})();
</script></body>"""


def _hazards_dom(chromium: str, page: Path, tmp_path: Path, click: str = "",
                 **filters: str) -> str:
    """The DOM of the page in the by-hazard view, after setting its filters like a user."""
    name = "-".join(f"{k}-{v}" for k, v in filters.items()) or "all"
    copy = tmp_path / f"hazards-{name}.html"
    script = HAZARD_FILTER % (json.dumps(filters).replace("<", "\\u003c"), click)
    copy.write_text(page.read_text().replace("</body>", script))
    return dump_dom(chromium, copy)


def test_synthetic_report_has_thousands_of_findings() -> None:
    data = _synthetic_report()
    assert 2000 < len(data["findings"]) < 5000
    assert {f["severity"] for f in data["findings"]} == {"error", "warning"}
    assert len({f["hazard"] for f in data["findings"]}) == 8


def test_hazard_page_is_bounded_and_escaped(synthetic: tuple[dict[str, Any], Path]) -> None:
    data, page = synthetic
    html = page.read_text()
    size = len(html.encode())
    print(f"{len(data['findings'])} findings, page {size / 1e6:.2f} MB")
    assert size < 3_000_000
    assert html.count("<article") == 0  # entries are built by the script, not per finding
    assert "</script><!--" not in html and "<b>bold</b>" not in html
    assert "<col>" not in html and "gone.&lt;col&gt;" in html  # the stale acceptance
    assert not re.search(r"""\b(?:src|href|action)\s*=\s*['"](?!#)""", html, re.I)
    assert "<h2>More</h2>" not in html  # findings are not dumped as JSON at the end
    noscript = html[html.index("<noscript>"):html.index("</noscript>")]  # the digest, static
    strings = next(d for d in data["digest"] if d["hazard"] == "string-without-length")
    assert (f"<tr><td>string-without-length</td><td>error</td><td class='num'>"
            f"{strings['count']}</td><td>{strings['statuses']['failed']} failed") in noscript
    assert noscript.count("<tr>") == 1 + len(data["digest"])


def test_hazard_view_renders_every_hazard(chromium: str, synthetic: tuple[dict[str, Any], Path],
                                          tmp_path: Path) -> None:
    data, page = synthetic
    copy = tmp_path / "report.html"
    copy.write_text(page.read_text())
    dom = browse(chromium, copy, "--dump-dom", url=copy.as_uri() + "#hazards").stdout
    assert re.search(r'<section id="view-matrix" role="tabpanel" class="hidden">', dom)
    assert re.search(r'<section id="view-hazards" role="tabpanel"( class="")?>', dom)
    entries = _entries(dom)
    assert _shown(entries) == _expected(data["findings"])
    strings = entries["string-without-length"]
    assert strings["severity"] == "error" and strings["more"] == f"{strings['places'] - 20} more"
    assert strings["places_text"].count(", ") == 19  # capped at 20 places
    assert entries["downgrade-missing"]["places"] == 15 and entries["downgrade-missing"][
        "more"] is None
    assert list(entries)[:4] == sorted(  # errors first, then by count
        (h for h, e in entries.items() if e["severity"] == "error"),
        key=lambda h: -entries[h]["count"])
    n = len(data["findings"])
    assert f"8 hazards, {n} findings shown" in dom
    assert '<article class="hz sev-error"' in dom and '<article class="hz sev-warning"' in dom
    assert "why string-without-length" in dom and "fix: the fix of string-without-length" in dom
    assert "&lt;b&gt;bold&lt;/b&gt; &amp; &lt;/script&gt;&lt;!-- in" in dom  # the example
    assert "<b>bold</b>" not in dom
    assert "Stale acceptances (1)" in dom and "table \"gone\" dropped" in dom
    assert "findings of severity error fail the run" in dom
    assert f"by hazard ({n} findings)" in dom


@pytest.mark.parametrize("filters", [
    {"severity": "warning"}, {"severity": "error"}, {"hazard": "datetime-precision"},
    {"table": "t007"}, {"backend": "postgresql"}, {"backend": "oracle", "severity": "error"},
    {"table": "t003", "backend": "mysql"},
], ids=lambda f: ",".join(f"{k}={v}" for k, v in f.items()))
def test_hazard_filters_change_entries_and_counts(chromium: str, tmp_path: Path,
                                                  synthetic: tuple[dict[str, Any], Path],
                                                  filters: dict[str, str]) -> None:
    data, page = synthetic
    expected = _expected(data["findings"], **filters)
    assert expected and expected != _expected(data["findings"])
    dom = _hazards_dom(chromium, page, tmp_path, **filters)
    assert _shown(_entries(dom)) == expected
    n = sum(e["count"] for e in expected.values())
    assert f"{len(expected)} hazard{'s' if len(expected) > 1 else ''}, {n} finding" in dom


def test_hazard_filter_numbers(chromium: str, tmp_path: Path,
                               synthetic: tuple[dict[str, Any], Path]) -> None:
    """Fixed numbers of the seeded data, so a wrong `_expected` cannot hide a wrong page."""
    page = synthetic[1]
    entries = _entries(_hazards_dom(chromium, page, tmp_path, backend="postgresql"))
    assert set(entries) == {"identifier-too-long", "divergent-ordering", "downgrade-missing"}
    assert entries["divergent-ordering"]["count"] == 25
    assert entries["downgrade-missing"]["count"] == 15
    entries = _entries(_hazards_dom(chromium, page, tmp_path, table="t001"))
    assert all(e["places"] == 1 for e in entries.values())
    assert "downgrade-missing" not in entries  # revision-only: in no table


def test_hazard_places_expand(chromium: str, tmp_path: Path,
                              synthetic: tuple[dict[str, Any], Path]) -> None:
    page = synthetic[1]
    click = "document.querySelector('[data-hazard=\"empty-string-is-null\"] .more').click();"
    entries = _entries(_hazards_dom(chromium, page, tmp_path, click=click))
    assert entries["empty-string-is-null"]["places_text"].count(", ") == 299
    assert entries["empty-string-is-null"]["more"] is None
    assert entries["string-without-length"]["more"] is not None  # the others stay capped


def test_hazard_view_from_the_digest_alone(chromium: str, tmp_path: Path) -> None:
    """A report with a digest and no findings list: the entries, with the digest's counts."""
    data = _synthetic_report()
    findings = data.pop("findings")
    page = html_report.write_data(data, tmp_path / "digest.html")
    entries = _entries(_hazards_dom(chromium, page, tmp_path))
    assert _shown(entries) == _expected(findings)
    entries = _entries(_hazards_dom(chromium, page, tmp_path, severity="warning"))
    assert set(entries) == set(_expected(findings, severity="warning"))
    dom = _hazards_dom(chromium, page, tmp_path, backend="postgresql")
    assert set(_entries(dom)) == set(_expected(findings, backend="postgresql"))
    assert "counts of every table and backend: this report lists no findings" in dom


def test_report_without_hazard_sections_has_no_tabs(tmp_path: Path) -> None:
    data = _synthetic_report()
    for key in ("findings", "digest", "acceptances", "fail_on"):
        data.pop(key)
    html = html_report.write_data(data, tmp_path / "old.html").read_text()
    assert "view-hazards" not in html and "class='tabs'" not in html
    assert "<h2>Matrix</h2>" in html and html.count("<tr data-test=") == 300


def test_hazard_filters_from_the_link(chromium: str, tmp_path: Path,
                                      synthetic: tuple[dict[str, Any], Path]) -> None:
    """#hazards?severity=...&table=... opens the view filtered: a link to share."""
    data, page = synthetic
    url = page.as_uri() + "#hazards?severity=error&table=t007"
    dom = browse(chromium, page, "--dump-dom", url=url).stdout
    assert _shown(_entries(dom)) == _expected(data["findings"], severity="error", table="t007")
