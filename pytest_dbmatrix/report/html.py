"""The HTML report (--dbmatrix-html): one self-contained page built from the JSON report's data.

Inline CSS and JS only, no fetches. The matrix is rendered server-side (readable without JS);
the script only filters rows by outcome and search text and hides backend columns. A report with
findings also gets a "by hazard" view beside the matrix: the findings travel as compact JSON and
the script groups them per hazard under the view's filters (thousands of findings, dozens of
entries: no DOM per finding).
"""

from __future__ import annotations

import json
import re
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
HAZARD_KEYS = {"findings", "digest", "acceptances", "fail_on"}
"""The sections the by-hazard view renders (not dumped under "More": thousands of findings)."""
PLACES_SHOWN = 20
"""Places listed per hazard before "N more" (as the digest's `places`)."""

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
.tabs{display:flex;gap:4px;margin:24px 0 0;border-bottom:1px solid var(--line)}
.tabs button{font:inherit;font-size:1rem;padding:6px 14px;border:1px solid var(--line);
border-bottom:0;border-radius:6px 6px 0 0;background:#f0f3f6;cursor:pointer}
.tabs button[aria-selected=true]{background:#fff;font-weight:600}
.hz{background:#fff;border:1px solid var(--line);border-left:6px solid #9a6700;border-radius:6px;
margin:8px 0;padding:6px 10px;font-size:.9rem}
.hz.sev-error{border-left-color:#b00020}
.hz h3{margin:0 0 4px;font-size:1rem;overflow-wrap:anywhere}
.sev{font-size:.75rem;border-radius:4px;padding:1px 6px;margin-right:6px;font-weight:700;
text-transform:uppercase;background:#fff3c4;color:#6b4a00}
.sev-error .sev{background:#b00020;color:#fff}
.hz dl{margin:4px 0;display:grid;grid-template-columns:auto 1fr;gap:2px 8px}
.hz dt{color:var(--muted)}.hz dd{margin:0;overflow-wrap:anywhere}
.st{margin-right:8px}.st-failed{color:#b00020;font-weight:600}
.more{font:inherit;font-size:.8rem;margin-left:6px;cursor:pointer}
.why{font-style:italic}
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

HAZARD_JS = """
(function(){
var data=JSON.parse(document.getElementById('hazard-data').textContent);
var S=data.s,info=data.info,digest=data.digest,CAP=data.cap,expanded=Object.create(null);
function $(id){return document.getElementById(id)}
function tokens(b){return b.split(/[ ,|]+/).filter(Boolean)}
var findings=data.f.map(function(r){return {hazard:S[r[0]],severity:S[r[1]],backend:S[r[2]],
 table:S[r[3]],status:S[r[4]],message:S[r[5]],where:S[r[6]],backends:tokens(S[r[2]])}});
var known=Object.create(null);
[].slice.call(document.querySelectorAll('#hz-tables option')).forEach(function(o){
 known[o.value.toLowerCase()]=1});
var sev=$('hz-severity'),haz=$('hz-hazard'),tab=$('hz-table'),be=$('hz-backend');
function el(tag,cls,text){var e=document.createElement(tag);if(cls)e.className=cls;
 if(text!=null)e.textContent=String(text);return e}
function tableTest(){
 // a known table name matches exactly (t1 is not t10); anything else is a substring
 var q=tab.value.trim().toLowerCase();if(!q)return function(){return true};
 if(known[q])return function(t){return !!t&&t.toLowerCase()===q};
 return function(t){return !!t&&t.toLowerCase().indexOf(q)>=0}}
function entry(hazard){var i=info[hazard]||{};return {hazard:hazard,severity:'warning',
 count:0,statuses:{failed:0,reported:0,accepted:0,note:0},backends:[],places:[],more:0,
 seen:Object.create(null),example:null,why:i.why||'',fix:i.fix||''}}
function add(list,seen,value){if(value&&!(value in seen)){seen[value]=1;list.push(value)}}
function fromFindings(f){
 var by=Object.create(null),out=[],okTable=tableTest(),bseen=Object.create(null);
 findings.forEach(function(x){
  if((f.severity&&x.severity!==f.severity)||(f.hazard&&x.hazard!==f.hazard)||
     (f.backend&&x.backends.indexOf(f.backend)<0)||!okTable(x.table))return;
  var e=by[x.hazard];if(!e){e=by[x.hazard]=entry(x.hazard);bseen[x.hazard]=Object.create(null);
   out.push(e)}
  e.count++;e.statuses[x.status]=(e.statuses[x.status]||0)+1;
  if(x.severity==='error')e.severity='error';
  x.backends.forEach(function(b){add(e.backends,bseen[x.hazard],b)});
  add(e.places,e.seen,x.where);
  if(!e.example||(e.example.status!=='failed'&&x.status==='failed'))e.example=x});
 return out}
function fromDigest(f){
 // no findings list: the digest's entries, kept or dropped whole (counts cannot be split)
 var okTable=tableTest();
 return digest.filter(function(d){return (!f.severity||d.severity===f.severity)&&
  (!f.hazard||d.hazard===f.hazard)&&
  (!f.backend||tokens((d.backends||[]).join(' ')).indexOf(f.backend)>=0)&&
  (!tab.value.trim()||(d.tables||[]).some(okTable))}).map(function(d){
  var places=(d.places||[]).filter(function(p){return okTable(p.split('.')[0])||!tab.value.trim()});
  return {hazard:d.hazard,severity:d.severity,count:d.count,statuses:d.statuses||{},
   backends:d.backends||[],places:places,more:tab.value.trim()?0:(d.more||0),
   example:d.example,why:d.why||'',fix:d.fix||''}})}
function row(dl,term,content){dl.appendChild(el('dt',null,term));
 var dd=el('dd');if(typeof content==='string')dd.textContent=content;else dd.appendChild(content);
 dl.appendChild(dd);return dd}
function render(e){
 var box=el('article','hz sev-'+e.severity);box.dataset.hazard=e.hazard;
 box.dataset.severity=e.severity;box.dataset.count=e.count;
 var h=el('h3');h.appendChild(el('span','sev',e.severity));h.appendChild(el('b',null,e.hazard));
 h.appendChild(el('span','muted',' '+e.count+' finding'+(e.count===1?'':'s')));box.appendChild(h);
 if(e.why)box.appendChild(el('div','why',e.why));
 var dl=el('dl');box.appendChild(dl);
 row(dl,'backends',e.backends.join(', ')||'-');
 var st=el('span');['failed','reported','accepted','note'].forEach(function(k){
  var n=e.statuses[k]||0;if(k==='note'&&!n)return;
  var s=el('span','st st-'+k,n+' '+k);s.dataset.status=k;s.dataset.n=n;st.appendChild(s)});
 row(dl,'status',st);
 var total=e.places.length+(e.more||0),open=expanded[e.hazard],shown=open?e.places:
  e.places.slice(0,CAP),hidden=total-shown.length;
 var pl=el('span','places',shown.join(', ')||'-');pl.dataset.n=total;
 var dd=row(dl,'places ('+total+')',pl);
 if(hidden>0&&shown.length<e.places.length){var b=el('button','more',hidden+' more');
  b.type='button';b.addEventListener('click',function(){expanded[e.hazard]=1;apply()});
  dd.appendChild(b)}
 else if(hidden>0)dd.appendChild(el('span','muted',' and '+hidden+' more'));
 if(e.example){var x=e.example;row(dl,'example',x.backend+(x.where?' at '+x.where:'')+': '+
  x.message).className='example'}
 if(e.fix)box.appendChild(el('div','hint','fix: '+e.fix));
 return box}
function order(a,b){return (a.severity==='error'?0:1)-(b.severity==='error'?0:1)||
 b.count-a.count||(a.hazard<b.hazard?-1:a.hazard>b.hazard?1:0)}
function apply(){
 var f={severity:sev.value,hazard:haz.value,backend:be.value};
 var entries=(findings.length?fromFindings(f):fromDigest(f)).sort(order),list=$('hz-list');
 list.textContent='';var n=0;
 entries.forEach(function(e){list.appendChild(render(e));n+=e.count});
 if(!entries.length)list.appendChild(el('p','muted','No findings match these filters.'));
 $('hz-shown').textContent=entries.length+' hazard'+(entries.length===1?'':'s')+', '+n+
  ' finding'+(n===1?'':'s')+' shown'+(!findings.length&&(tab.value.trim()||be.value)?
  ' (counts of every table and backend: this report lists no findings)':'')}
var tabs=[].slice.call(document.querySelectorAll('.tabs button'));
function view(name){tabs.forEach(function(t){var on=t.dataset.view===name;
 t.setAttribute('aria-selected',on?'true':'false');$('view-'+t.dataset.view).classList.toggle(
 'hidden',!on)})}
tabs.forEach(function(t){t.addEventListener('click',function(){view(t.dataset.view);
 history.replaceState(null,'',t.dataset.view==='hazards'?'#hazards':'#')})});
// #hazards opens the view; #hazards?severity=error&table=t1 also sets its filters (a link)
var hash=location.hash.slice(1),q=hash.indexOf('?');
if((q<0?hash:hash.slice(0,q))==='hazards'){
 new URLSearchParams(q<0?'':hash.slice(q+1)).forEach(function(v,k){
  var c=$('hz-'+k);if(c)c.value=v});view('hazards')}else view('matrix');
[sev,haz,tab,be].forEach(function(c){c.addEventListener('input',apply)});
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


def _place(finding: dict[str, Any]) -> str:
    """A finding's place as the digest names it: table.column, table, or revision."""
    table, column = finding.get("table"), finding.get("column")
    if table:
        return f"{table}.{column}" if column else str(table)
    return str(finding.get("revision") or "")


def _tokens(backend: str) -> list[str]:
    """The backends a finding names: a divergence names both sides ("a,b | c")."""
    return [b for b in re.split(r"[ ,|]+", backend) if b]


def _hazard_data(findings: list[dict[str, Any]], digest: list[dict[str, Any]]) -> str:
    """The view's data as JSON safe inside <script>: every string once in `s` and a finding as
    a row of indexes into it (thousands of findings repeat hazards, backends, tables, messages).
    """
    strings: dict[str, int] = {}

    def index(value: Any) -> int:
        return strings.setdefault("" if value is None else str(value), len(strings))

    rows = [[index(f.get(k)) for k in ("hazard", "severity", "backend", "table", "status",
                                       "message")] + [index(_place(f))] for f in findings]
    info: dict[str, dict[str, str]] = {}
    for d in digest:
        info[d["hazard"]] = {"why": d.get("why") or "", "fix": d.get("fix") or ""}
    for f in findings:
        info.setdefault(f["hazard"], {"why": "", "fix": f.get("hint") or ""})
    text = json.dumps({"s": list(strings), "f": rows, "info": info, "cap": PLACES_SHOWN,
                       "digest": [] if findings else digest}, separators=(",", ":"))
    return text.replace("<", "\\u003c").replace(">", "\\u003e").replace("&", "\\u0026")


def _options(values: list[str]) -> str:
    return "".join(f"<option value='{_e(v)}'>{_e(v)}</option>" for v in values)


def _hazard_controls(findings: list[dict[str, Any]], digest: list[dict[str, Any]]) -> str:
    """Severity, hazard, table and backend filters; choices from every finding (or entry)."""
    items = findings or digest
    hazards = sorted({str(i["hazard"]) for i in items})
    tables = sorted({str(f["table"]) for f in findings if f.get("table")}
                    | {str(t) for d in digest for t in d.get("tables") or ()})
    backends = dict.fromkeys(b for f in findings for b in _tokens(str(f.get("backend") or "")))
    backends.update(dict.fromkeys(b for d in digest for n in d.get("backends") or ()
                                   for b in _tokens(str(n))))
    any_ = "<option value=''>all</option>"
    return (f"<div class='controls'><label>severity <select id='hz-severity'>{any_}"
            f"{_options(['error', 'warning'])}</select></label><label>hazard <select "
            f"id='hz-hazard'>{any_}{_options(hazards)}</select></label><label>table <input "
            f"type='search' id='hz-table' list='hz-tables' placeholder='any table'></label>"
            f"<datalist id='hz-tables'>{_options(tables)}</datalist><label>backend <select "
            f"id='hz-backend'>{any_}{_options(list(backends))}</select></label>"
            f"<span id='hz-shown' class='muted'></span></div>")


def _stale(acceptances: list[dict[str, Any]]) -> str:
    """Acceptances that matched nothing: they would silently accept a future finding."""
    stale = [a for a in acceptances if a.get("stale")]
    if not stale:
        return ""
    rows = "".join(
        f"<tr><td>{_e(a.get('line'))}</td><td>{_e(a.get('hazard'))}</td><td>{_e(a.get('where'))}"
        f"</td><td>{_e(', '.join(a.get('backends') or ()))}</td><td>{_e(a.get('reason'))}</td>"
        f"<td>{_e(a.get('source'))}</td></tr>" for a in stale)
    return (f"<h3>Stale acceptances ({len(stale)})</h3><p class='muted'>accepted but matched "
            f"no finding of this run: remove them, or they accept a future one unseen</p>"
            f"<div class='scroll'><table id='stale'><tr><th>line</th><th>hazard</th><th>where"
            f"</th><th>backends</th><th>reason</th><th>source</th></tr>{rows}</table></div>")


def _has_hazards(data: dict[str, Any]) -> bool:
    """Reports of older versions, and runs without findings, have no by-hazard view."""
    return any(data.get(k) for k in ("findings", "digest", "acceptances"))


def _noscript(digest: list[dict[str, Any]]) -> str:
    """Without JavaScript (a mail client, a CI artifact viewer) the digest as a plain table."""
    def statuses(entry: dict[str, Any]) -> str:
        return ", ".join(f"{n} {k}" for k, n in (entry.get("statuses") or {}).items() if n)

    rows = "".join(
        f"<tr><td>{_e(d.get('hazard'))}</td><td>{_e(d.get('severity'))}</td><td class='num'>"
        f"{_e(d.get('count'))}</td><td>{_e(statuses(d))}</td><td>"
        f"{_e(', '.join(d.get('backends') or ()))}</td><td>{_e(d.get('fix'))}</td></tr>"
        for d in digest)
    if not rows:
        return "<noscript><p>the by-hazard view needs JavaScript</p></noscript>"
    return (f"<noscript><p>the filters need JavaScript</p><table id='digest'><tr><th>hazard"
            f"</th><th>severity</th><th>findings</th><th>status</th><th>backends</th><th>fix"
            f"</th></tr>{rows}</table></noscript>")


def _hazard_view(data: dict[str, Any]) -> str:
    findings = data.get("findings") or []
    digest = data.get("digest") or []
    acceptances = data.get("acceptances") or []
    fail_on = data.get("fail_on")
    fails = (f"<p class='muted'>findings of severity {_e(fail_on)}"
             f"{' or error' if fail_on == 'warning' else ''} fail the run; accepted ones do "
             f"not</p>" if fail_on else "")
    return (f"<section id='view-hazards' role='tabpanel'><h2>By hazard</h2>{fails}"
            f"{_hazard_controls(findings, digest)}<div id='hz-list'>{_noscript(digest)}</div>"
            f"{_stale(acceptances)}"
            f"<script type='application/json' id='hazard-data'>"
            f"{_hazard_data(findings, digest)}</script></section>")


def _views(data: dict[str, Any], backends: list[str], anchors: dict[str, str]) -> str:
    """The matrix, and beside it (two tabs) the by-hazard view when there are findings."""
    matrix = f"<h2>Matrix</h2>{_controls(backends)}{_matrix(data, backends, anchors)}"
    if not _has_hazards(data):
        return matrix
    count = len(data.get("findings") or ()) or sum(d.get("count", 0) for d in
                                                   data.get("digest") or ())
    return (f"<nav class='tabs' role='tablist'><button type='button' role='tab' data-view="
            f"'matrix' aria-selected='true'>matrix</button><button type='button' role='tab' "
            f"data-view='hazards' aria-selected='false'>by hazard ({count} findings)</button>"
            f"</nav><section id='view-matrix' role='tabpanel'>{matrix}</section>"
            f"{_hazard_view(data)}")


def _sections(data: dict[str, Any]) -> str:
    extra = {k: v for k, v in data.items() if k not in KNOWN_KEYS | HAZARD_KEYS}
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
        f"{_views(data, backends, anchors)}"
        f"<h2 id='incompatibilities'>Incompatibilities ({n_inc})</h2>"
        f"{_baseline(data)}{_lost(data)}{_incompatibilities(data, backends, anchors)}"
        f"<h2>Backends</h2><div class='cards'>{cards}</div>"
        + (f"<h2>More</h2>{extra}" if extra else "")
        + f"<script>{JS}</script>"
        + (f"<script>{HAZARD_JS}</script>" if _has_hazards(data) else "")
        + "</body></html>\n"
    )


def write_data(data: dict[str, Any], path: str | Path, secrets: tuple[str, ...] = ()) -> Path:
    """The page of report data, passwords masked."""
    target = Path(path)
    target.parent.mkdir(parents=True, exist_ok=True)
    target.write_text(scrub(render(data), secrets), encoding="utf-8")
    return target


def write(state: MatrixState, path: str) -> Path:
    return write_data(json_report.build(state), path, state.settings.secrets)


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
