"""The HTML report of a real mixed run, opened in headless Chromium (DOM and screenshots)."""

from __future__ import annotations

import os
import re
import shutil
import struct
import subprocess
import sys
import tempfile
import zlib
from pathlib import Path

import pytest

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


def browse(chromium: str, page: Path, *args: str) -> subprocess.CompletedProcess[str]:
    with tempfile.TemporaryDirectory() as profile:
        return subprocess.run([chromium, *CHROMIUM_FLAGS, f"--user-data-dir={profile}", *args,
                               page.as_uri()], capture_output=True, text=True, timeout=180,
                              check=True)


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
