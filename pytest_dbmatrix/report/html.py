"""The HTML report (--dbmatrix-html): one self-contained page built from the JSON report's data.

Inline CSS and JS only, no fetches. The matrix is rendered server-side (readable without JS);
the script only filters rows by outcome and search text and hides backend columns.
"""

from __future__ import annotations

import json
from html import escape
from pathlib import Path
from typing import Any

import pytest

from pytest_dbmatrix.redact import scrub
from pytest_dbmatrix.report import json_report
from pytest_dbmatrix.run_state import MatrixState

SYMBOLS = {"passed": "pass", "failed": "FAIL", "error": "ERROR", "skipped": "skip",
           "xfailed": "xfail", "xpassed": "XPASS", "missing": "MISSING"}
OUTCOMES = tuple(SYMBOLS)
KNOWN_KEYS = {"schema", "plugin_version", "created", "run", "backends", "totals", "tests",
              "incompatibilities", "lost_backends", "merged_from", "baseline"}

CSS = """
:root{--pass:#c8e6c9;--fail:#ffcdd2;--skip:#eeeeee;--xfail:#fff3c4;--xpass:#ffd8a8;
--ink:#1f2328;--muted:#57606a;--line:#d0d7de;font-family:system-ui,-apple-system,"Segoe UI",
Roboto,sans-serif;color:var(--ink)}
body{margin:0;padding:16px;background:#fafbfc;line-height:1.4}
h1{font-size:1.4rem;margin:0 0 4px}h2{font-size:1.15rem;margin:24px 0 8px}
.muted{color:var(--muted);font-size:.9rem}
.cards{display:grid;grid-template-columns:repeat(auto-fill,minmax(260px,1fr));gap:12px}
.card{background:#fff;border:1px solid var(--line);border-radius:8px;padding:10px 12px}
.card h3{margin:0 0 4px;font-size:1rem}.card dl{margin:4px 0;display:grid;
grid-template-columns:auto 1fr;gap:2px 8px;font-size:.85rem}.card dt{color:var(--muted)}
.card dd{margin:0;overflow-wrap:anywhere}
.unavailable{border-color:#c62828}
.lost{background:var(--fail);border-radius:6px;padding:6px 10px}
.controls{display:flex;flex-wrap:wrap;gap:8px 16px;align-items:center;margin:8px 0}
.controls input[type=search]{padding:6px;min-width:200px;flex:1 1 200px;max-width:420px}
.controls label{font-size:.9rem;white-space:nowrap}
.scroll{overflow-x:auto;border:1px solid var(--line);border-radius:8px;background:#fff}
table{border-collapse:collapse;width:100%}
th,td{border-bottom:1px solid var(--line);padding:4px 8px;text-align:left;font-size:.85rem;
vertical-align:top}
#matrix th,#backends th{position:sticky;top:0;background:#f0f3f6}\nheader .scroll{margin-top:8px}
#matrix td.test,#matrix th.test{position:sticky;left:0;background:#fff;min-width:12rem;
max-width:40vw;overflow-wrap:anywhere;z-index:1}
#matrix th.test{background:#f0f3f6;z-index:2}
td.cell{text-align:center;white-space:nowrap;font-weight:600}
.num{white-space:nowrap}
td.cell a{color:inherit}
.o-passed{background:var(--pass)}.o-failed,.o-error{background:var(--fail);color:#8b0000}
.o-skipped{background:var(--skip)}.o-xfailed{background:var(--xfail)}
.o-xpassed{background:var(--xpass)}.o-none{background:#fff;color:var(--muted)}
.o-missing{background:repeating-linear-gradient(45deg,#fff,#fff 4px,#eee 4px,#eee 8px)}
.group{font-size:.75rem;border-radius:4px;padding:1px 5px;margin-left:6px}
.g-new{background:#c62828;color:#fff}.g-still{background:#eeeeee}.g-fixed{background:#c8e6c9}
.v-ok{color:#1b5e20}.v-warn{color:#9a6700;font-weight:600}.v-block{color:#b00020;
font-weight:700}.v-info{color:var(--muted)}
details.inc{background:#fff;border:1px solid var(--line);border-left:4px solid #c62828;
border-radius:6px;margin:8px 0;padding:6px 10px}
details.inc summary{cursor:pointer;font-weight:600;overflow-wrap:anywhere}
details.inc .fails{font-weight:400;color:var(--muted)}
pre{white-space:pre-wrap;overflow-wrap:anywhere;background:#f6f8fa;padding:6px;
border-radius:4px;font-size:.8rem;margin:4px 0}
.hint{background:#e7f3ff;border-radius:4px;padding:4px 6px}
.hidden{display:none}
@media (max-width:640px){body{padding:8px}h1{font-size:1.15rem}
th,td{padding:3px 5px;font-size:.78rem}#matrix td.test,#matrix th.test{min-width:8rem;
max-width:45vw}.controls input[type=search]{min-width:0;width:100%}}
"""

JS = """
(function(){
var rows=[].slice.call(document.querySelectorAll('#matrix tbody tr'));
var search=document.getElementById('search'),outcome=document.getElementById('outcome');
var boxes=[].slice.call(document.querySelectorAll('input[data-backend]'));
function shown(){var on={};boxes.forEach(function(b){on[b.dataset.backend]=b.checked});return on}
function apply(){
 var q=search.value.trim().toLowerCase(),o=outcome.value,on=shown(),count=0;
 document.querySelectorAll('[data-col]').forEach(function(c){
  c.classList.toggle('hidden',!on[c.dataset.col])});
 rows.forEach(function(r){
  var outs=[].slice.call(r.querySelectorAll('td.cell')).filter(function(c){
   return on[c.dataset.col]}).map(function(c){return c.dataset.outcome});
  var ok=!q||r.dataset.test.indexOf(q)>=0;
  if(o==='differing')ok=ok&&new Set(outs).size>1;
  else if(o==='incompatible')ok=ok&&r.dataset.incompatible==='1';
  else if(o==='failing')ok=ok&&outs.some(function(x){return x==='failed'||x==='error'});
  else if(o!=='all')ok=ok&&outs.indexOf(o)>=0;
  r.classList.toggle('hidden',!ok);if(ok)count++});
 document.getElementById('shown').textContent=count+' of '+rows.length+' tests shown';
 document.querySelectorAll('details.inc').forEach(function(d){
  d.classList.toggle('hidden',!!q&&d.dataset.test.indexOf(q)<0)});
}
[search,outcome].concat(boxes).forEach(function(e){e.addEventListener('input',apply)});
apply();
})();
"""


def _e(value: Any) -> str:
    return escape("" if value is None else str(value))


def _shown(value: Any) -> str:
    if isinstance(value, bool):
        return "yes" if value else "no"
    return "-" if value is None else str(value)


def _durations(data: dict[str, Any]) -> dict[str, float]:
    """Seconds spent per backend, summed over the matrix cells of `data`."""
    spent: dict[str, float] = {}
    for row in data["tests"]:
        for backend, cell in row["results"].items():
            spent[backend] = spent.get(backend, 0.0) + float(cell.get("duration") or 0)
    return spent


def _backend_names(data: dict[str, Any]) -> list[str]:
    names = dict.fromkeys(data["backends"])
    for row in data["tests"]:
        names.update(dict.fromkeys(row["results"]))
    return list(names)


def _environment(env: dict[str, dict[str, Any]]) -> str:
    if not env:
        return ""
    rows = "".join(
        f"<tr><td>{_e(f.get('label'))}</td><td class='v-{_e(f.get('verdict'))}'>"
        f"{_e(_shown(f.get('value')))}</td><td>{_e(f.get('detail'))}"
        + (f"<div class='hint'>fix: {_e(f['hint'])}</div>" if f.get("hint") and
           f.get("verdict") in ("warn", "block") else "") + "</td></tr>"
        for f in env.values())
    problems = sum(f.get("verdict") in ("warn", "block") for f in env.values())
    return (f"<details><summary>environment ({problems} to note)</summary><table>"
            f"<tr><th>fact</th><th>value</th><th>detail</th></tr>{rows}</table></details>")


def _card(name: str, info: dict[str, Any], totals: dict[str, int], seconds: float) -> str:
    fields = [("server", info.get("server")), ("dialect", info.get("dialect")),
              ("driver", info.get("driver")), ("provider", info.get("provider")),
              ("from", info.get("source")), ("URL", info.get("url")),
              ("database", info.get("database")), ("note", info.get("dialect_note")),
              ("reason", info.get("reason"))]
    counts = ", ".join(f"{n} {o}" for o, n in sorted(totals.items())) or "no tests"
    items = "".join(f"<dt>{_e(k)}</dt><dd>{_e(v)}</dd>" for k, v in fields if v)
    items += f"<dt>results</dt><dd>{_e(counts)}</dd><dt>time</dt><dd>{seconds:.2f} s</dd>"
    status = info.get("status", "not run")
    extra = " unavailable" if status == "unavailable" else ""
    return (f"<div class='card{extra}' id='backend-{_e(name)}'><h3>{_e(name)} "
            f"<span class='muted'>{_e(status)}</span></h3><dl>{items}</dl>"
            f"{_environment(info.get('environment') or {})}</div>")


def _controls(backends: list[str]) -> str:
    options = ["all", "differing", "incompatible", "failing", *OUTCOMES]
    select = "".join(f"<option value='{o}'>{o}</option>" for o in options)
    boxes = "".join(f"<label><input type='checkbox' checked data-backend='{_e(b)}'> "
                    f"{_e(b)}</label>" for b in backends)
    return (f"<div class='controls'><input type='search' id='search' placeholder='search tests'"
            f" aria-label='search tests'><label>outcome <select id='outcome'>{select}</select>"
            f"</label>{boxes}<span id='shown' class='muted'></span></div>")


def _matrix(data: dict[str, Any], backends: list[str], anchors: dict[str, str]) -> str:
    head = "".join(f"<th data-col='{_e(b)}'>{_e(b)}</th>" for b in backends)
    body = []
    for row in data["tests"]:
        test, results = row["test"], row["results"]
        cells = []
        for b in backends:
            cell = results.get(b)
            outcome = cell["outcome"] if cell else "none"
            label = SYMBOLS.get(outcome, "-")
            title = f"{b}: {outcome}"
            if cell:
                title += f", {cell.get('duration', 0):.3f} s"
                line = (cell.get("error") or {}).get("line") or cell.get("reason")
                title += f"\n{line}" if line else ""
            if test in anchors and outcome in ("failed", "error"):
                label = f"<a href='#{anchors[test]}'>{label}</a>"
            cells.append(f"<td class='cell o-{_e(outcome)}' data-col='{_e(b)}' "
                         f"data-outcome='{_e(outcome)}' title='{_e(title)}'>{label}</td>")
        body.append(f"<tr data-test='{_e(test.lower())}' data-incompatible="
                    f"'{1 if test in anchors else 0}'><td class='test'>{_e(test)}</td>"
                    f"{''.join(cells)}</tr>")
    return (f"<div class='scroll'><table id='matrix'><thead><tr><th class='test'>test</th>"
            f"{head}</tr></thead><tbody>{''.join(body)}</tbody></table></div>")


def _failure(backend: str, failure: dict[str, Any]) -> str:
    error = failure.get("error") or {}
    parts = [f"<h4>{_e(backend)} <span class='muted'>[{_e(failure.get('dialect'))}] "
             f"{_e(failure.get('outcome'))}</span></h4>",
             f"<pre class='error'>{_e(error.get('line') or failure.get('outcome'))}</pre>"]
    facts = [("exception", error.get("exception")), ("driver error", error.get("dbapi_error")),
             ("code", error.get("code")), ("hazard", failure.get("hazard"))]
    shown = ", ".join(f"{k} {v}" for k, v in facts if v)
    if shown:
        parts.append(f"<div class='muted'>{_e(shown)}</div>")
    for key in ("sql", "statement"):
        if error.get(key):
            parts.append(f"<div>SQL</div><pre class='sql'>{_e(error[key])}</pre>")
    for key in ("values", "value", "data"):
        if key in error or key in failure:
            value = error.get(key, failure.get(key))
            parts.append(f"<div>{key}</div><pre>{_e(json.dumps(value, default=str))}</pre>")
    if failure.get("hint"):
        parts.append(f"<div class='hint'>fix: {_e(failure['hint'])}</div>")
    return "".join(parts)


def _values(results: dict[str, Any], backends: list[str]) -> str:
    """Every backend's outcome of the test, with time and reason or error line."""
    rows = []
    for b in backends:
        cell = results.get(b)
        if not cell:
            continue
        said = (cell.get("error") or {}).get("line") or cell.get("reason") or ""
        rows.append(f"<tr><td>{_e(b)}</td><td class='o-{_e(cell['outcome'])}'>"
                    f"{_e(cell['outcome'])}</td><td>{float(cell.get('duration') or 0):.3f} s"
                    f"</td><td>{_e(said)}</td></tr>")
    return ("<table class='values'><tr><th>backend</th><th>outcome</th><th>time</th>"
            f"<th>error / reason</th></tr>{''.join(rows)}</table>")


def _incompatibilities(data: dict[str, Any], backends: list[str],
                       anchors: dict[str, str]) -> str:
    results = {row["test"]: row["results"] for row in data["tests"]}
    items: list[str] = []
    for inc in data["incompatibilities"]:
        test = inc["test"]
        failures = "".join(_failure(b, f) for b, f in inc["failed_on"].items())
        group = inc.get("baseline")
        badge = (f"<span class='group g-{'new' if group == 'new' else 'still'}'>{_e(group)}"
                 f"</span>" if group else "")
        items.append(
            f"<details class='inc' id='{anchors[test]}' data-test='{_e(test.lower())}'"
            f"{' open' if not items else ''}>"
            f"<summary>{_e(test)}{badge} <span class='fails'>passes on "
            f"{_e(', '.join(inc['passed_on']))}; fails on "
            f"{_e(', '.join(inc['failed_on']))}</span></summary>{failures}"
            f"<h4>per backend</h4>{_values(results.get(test, {}), backends)}</details>")
    return "".join(items) or "<p>No incompatibilities: every test has the same outcome on "\
                             "every backend where it passed.</p>"


def _lost(data: dict[str, Any]) -> str:
    """A warning per backend lost mid-session (reports of older versions have none)."""
    return "".join(
        f"<p class='lost'><b>{_e(backend)} was lost mid-session</b> at {_e(lost['first'])}: "
        f"{_e(lost['error'].get('line'))}; {lost['tests']} test(s) from there on could not run "
        f"on it (not counted as incompatibilities).</p>"
        for backend, lost in data.get("lost_backends", {}).items())


def _baseline(data: dict[str, Any]) -> str:
    """The baseline groups of a merge with --baseline: counts and the fixed ones."""
    section = data.get("baseline")
    if not section:
        return ""
    fixed = "".join(f"<li>{_e(i['test'])} <span class='muted'>(failed on "
                    f"{_e(', '.join(i['failed_on']))})</span></li>" for i in section["fixed"])
    return (f"<p id='baseline'>Against the baseline {_e(section['file'])}: "
            f"<span class='group g-new'>{len(section['new'])} new</span>"
            f"<span class='group g-still'>{len(section['still_present'])} still present</span>"
            f"<span class='group g-fixed'>{len(section['fixed'])} fixed</span></p>"
            + (f"<h3>Fixed</h3><ul class='fixed'>{fixed}</ul>" if fixed else ""))


def _origin(data: dict[str, Any]) -> str:
    """Who made the report: the run's label and end, or the reports a merge joined."""
    run = data.get("run") or {}
    text = ""
    if run.get("label"):
        text = f"; run {_e(run['label'])}, {_e(run.get('status'))}"
        if run.get("reason"):
            text += f" ({_e(run['reason'])})"
    sources = data.get("merged_from")
    if not sources:
        return f"<div class='muted'>{text.lstrip('; ')}</div>" if text else ""
    rows = "".join(
        f"<tr><td>{_e(m['label'])}</td><td>{_e(m['file'])}</td><td>{_e(m['status'])}"
        f"{': ' + _e(m['reason']) if m.get('reason') else ''}</td>"
        f"<td>{_e(', '.join(m['columns']))}</td><td class='num'>{m['tests']}</td></tr>"
        for m in sources)
    return (f"<details><summary>merged from {len(sources)} reports</summary><table "
            f"id='merged'><tr><th>label</th><th>file</th><th>status</th><th>columns</th>"
            f"<th>tests</th></tr>{rows}</table></details>")


def _sections(data: dict[str, Any]) -> str:
    extra = {k: v for k, v in data.items() if k not in KNOWN_KEYS}
    return "".join(
        f"<details><summary>{_e(k)}</summary><pre>{_e(json.dumps(v, indent=2, default=str))}"
        f"</pre></details>" for k, v in extra.items())


def _summary(data: dict[str, Any], backends: list[str], spent: dict[str, float]) -> str:
    """The header table: server version, provider, results and time of each backend."""
    rows = []
    for b in backends:
        info = data["backends"].get(b, {})
        totals = data["totals"].get(b, {})
        counts = ", ".join(f"{n} {o}" for o, n in sorted(totals.items())) or "no tests"
        server = info.get("server") or info.get("reason") or info.get("status") or "not run"
        rows.append(f"<tr><td><a href='#backend-{_e(b)}'>{_e(b)}</a></td><td>{_e(server)}</td>"
                    f"<td>{_e(info.get('provider') or '-')}</td><td>{_e(counts)}</td>"
                    f"<td class='num'>{spent.get(b, 0.0):.2f} s</td></tr>")
    return ("<div class='scroll'><table id='backends'><thead><tr><th>backend</th><th>server</th>"
            "<th>provider</th><th>results</th><th>time</th></tr></thead>"
            f"<tbody>{''.join(rows)}</tbody></table></div>")


def render(data: dict[str, Any]) -> str:
    """The whole page for the data of `json_report.build`."""
    backends = _backend_names(data)
    anchors = {inc["test"]: f"inc-{n}" for n, inc in enumerate(data["incompatibilities"], 1)}
    spent = _durations(data)
    cards = "".join(_card(b, data["backends"].get(b, {}), data["totals"].get(b, {}),
                          spent.get(b, 0.0)) for b in backends)
    n_inc = len(data["incompatibilities"])
    extra = _sections(data)
    return (
        "<!DOCTYPE html><html lang='en'><head><meta charset='utf-8'>"
        "<meta name='viewport' content='width=device-width, initial-scale=1'>"
        f"<title>dbmatrix report: {n_inc} incompatibilities</title><style>{CSS}</style>"
        "</head><body><header><h1>pytest-dbmatrix report</h1>"
        f"<div class='muted'>{len(data['tests'])} tests on {len(backends)} backends, "
        f"<a href='#incompatibilities'>{n_inc} incompatibilities</a>; created "
        f"{_e(data['created'])} by pytest-dbmatrix {_e(data['plugin_version'])}</div>"
        f"{_origin(data)}{_summary(data, backends, spent)}</header>"
        f"<h2>Matrix</h2>{_controls(backends)}{_matrix(data, backends, anchors)}"
        f"<h2 id='incompatibilities'>Incompatibilities ({n_inc})</h2>"
        f"{_baseline(data)}{_lost(data)}{_incompatibilities(data, backends, anchors)}"
        f"<h2>Backends</h2><div class='cards'>{cards}</div>"
        + (f"<h2>More</h2>{extra}" if extra else "")
        + f"<script>{JS}</script></body></html>\n"
    )


def write(state: MatrixState, path: str) -> Path:
    target = Path(path)
    target.parent.mkdir(parents=True, exist_ok=True)
    page = render(json_report.build(state))
    target.write_text(scrub(page, state.settings.secrets), encoding="utf-8")
    return target


class HtmlReport:
    """Writes the page once per run, on the controller (not on xdist workers)."""

    def __init__(self, state: MatrixState) -> None:
        self.state = state

    @pytest.hookimpl(trylast=True)
    def pytest_sessionfinish(self, session: pytest.Session) -> None:
        path = self.state.settings.html.value
        if path and not self.state.is_worker:
            write(self.state, path)

    @pytest.hookimpl(trylast=True)
    def pytest_terminal_summary(self, terminalreporter: Any) -> None:
        path = self.state.settings.html.value
        if path and not self.state.is_worker and self.state.matrix.tests:
            terminalreporter.write_line(f"dbmatrix HTML report: {path}")


def plugin(state: MatrixState) -> HtmlReport:
    return HtmlReport(state)
