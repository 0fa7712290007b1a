"""The run timeline: one self-contained HTML file (no server, no network) a person looks at.

On one time axis: a row per service (its start-up, then each fault until its
heal), a row of tests (span and outcome), and the exchanges as marks on
caller-to-callee lanes. Clicking a test lists its exchanges; clicking an
exchange shows it in full; clicking a service shows its log lines. The data
is JSON inside the page; the page draws itself with a few lines of script.
"""

from __future__ import annotations

import html
import json
from dataclasses import asdict, dataclass, field
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:  # not at run time: loading the timeline's types must not load the engine's client
    from pytest_microstack._exchanges.records import Exchange


@dataclass(frozen=True)
class CallSpan:
    """One test's call: when it ran and how it ended."""

    nodeid: str
    start: float
    stop: float
    outcome: str


@dataclass(frozen=True)
class ServiceSpan:
    """A stretch of a service's life: starting, or a fault (down, frozen, slow, cut off) until healed."""

    service: str
    state: str
    start: float
    stop: float


@dataclass
class Timeline:
    """Everything one run (or one xdist worker) shows."""

    title: str
    services: list[str]
    tests: list[CallSpan] = field(default_factory=list)
    spans: list[ServiceSpan] = field(default_factory=list)
    exchanges: list[Exchange] = field(default_factory=list)
    logs: dict[str, list[str]] = field(default_factory=dict)

    def data(self) -> dict[str, Any]:
        return {
            "title": self.title,
            "services": self.services,
            "tests": [asdict(test) for test in self.tests],
            "spans": [asdict(span) for span in self.spans],
            "exchanges": [asdict(exchange) | {"line": exchange.line()} for exchange in self.exchanges],
            "logs": self.logs,
        }


FAULT_STATES = {"down": "down", "crash": "down", "hang": "frozen", "slow": "slow", "partition": "cut off"}

_STYLE = """
body{font:13px system-ui,sans-serif;margin:0;color:#222}
header{padding:8px 12px;background:#f4f4f4;border-bottom:1px solid #ddd}
#chart{position:relative;margin:8px 12px 8px 200px}
.row{position:relative;height:22px;border-bottom:1px solid #eee}
.label{position:absolute;left:-190px;width:180px;overflow:hidden;white-space:nowrap;text-overflow:ellipsis;cursor:pointer}
.bar{position:absolute;top:3px;height:16px;border-radius:2px;min-width:2px;cursor:pointer}
.mark{position:absolute;top:2px;width:3px;height:18px;cursor:pointer}
.passed{background:#7cc47c}.failed{background:#e05a5a}.skipped{background:#bbb}
.starting{background:#9fc5e8}.down{background:#e05a5a}.frozen{background:#8e7cc3}
.slow{background:#f6b26b}.cut{background:#c27ba0}
.ok{background:#3c78d8}.bad{background:#cc0000}.double{background:#e69138}
#details{margin:8px 12px;padding:8px;border:1px solid #ddd;white-space:pre-wrap;
  font-family:monospace;min-height:3em}
"""

_SCRIPT = """
(function(){
  var data = JSON.parse(document.getElementById('timeline-data').textContent);
  var chart = document.getElementById('chart'), details = document.getElementById('details');
  var times = [];
  data.tests.forEach(function(t){times.push(t.start, t.stop);});
  data.spans.forEach(function(s){times.push(s.start, s.stop);});
  data.exchanges.forEach(function(e){times.push(e.start, e.start + e.duration_ms / 1000);});
  if (!times.length) { times = [0, 1]; }
  var t0 = Math.min.apply(null, times), t1 = Math.max.apply(null, times);
  var width = Math.max(chart.clientWidth || 800, 400), scale = width / Math.max(t1 - t0, 0.001);
  function x(t){ return ((t - t0) * scale) + 'px'; }
  function row(kind, name){
    var r = document.createElement('div'); r.className = 'row'; r.setAttribute('data-' + kind, name);
    var l = document.createElement('div'); l.className = 'label'; l.textContent = name; r.appendChild(l);
    chart.appendChild(r); return r;
  }
  function bar(r, cls, start, stop, title, onclick){
    var b = document.createElement('div'); b.className = 'bar ' + cls; b.title = title;
    b.style.left = x(start); b.style.width = Math.max((stop - start) * scale, 2) + 'px';
    b.addEventListener('click', onclick); r.appendChild(b); return b;
  }
  function show(text){ details.textContent = text; }
  data.services.forEach(function(service){
    var r = row('service', service);
    r.querySelector('.label').addEventListener('click', function(){
      show(service + ' log\\n' + (data.logs[service] || []).join('\\n'));
    });
    data.spans.filter(function(s){return s.service === service;}).forEach(function(s){
      bar(r, s.state.split(' ')[0], s.start, s.stop, s.state, function(){
        show(service + ': ' + s.state + ' for ' + (s.stop - s.start).toFixed(2) + ' s');
      });
    });
  });
  var tests = row('lane', 'tests');
  data.tests.forEach(function(t){
    var b = bar(tests, t.outcome, t.start, t.stop, t.nodeid + ' ' + t.outcome, function(){
      var own = data.exchanges.filter(function(e){return e.start >= t.start && e.start <= t.stop;});
      var lines = own.map(function(e){return e.line;}).join('\\n') || '(no exchanges)';
      show(t.nodeid + '  ' + t.outcome + '\\n\\n' + lines);
    });
    b.setAttribute('data-test', t.nodeid); b.setAttribute('data-outcome', t.outcome);
  });
  var lanes = {};
  data.exchanges.forEach(function(e){
    var name = e.caller + ' \\u2192 ' + e.service;
    if (!lanes[name]) { lanes[name] = row('lane', name); }
    var m = document.createElement('div');
    m.className = 'mark ' + (e.double ? 'double' : (e.error || (e.status || 0) >= 500 ? 'bad' : 'ok'));
    m.style.left = x(e.start); m.title = e.line;
    m.addEventListener('click', function(){ show(JSON.stringify(e, null, 2)); });
    lanes[name].appendChild(m);
  });
  document.body.setAttribute('data-drawn', 'yes');
  if (location.hash === '#click-first-failed') {
    var failed = chart.querySelector('[data-outcome="failed"]');
    if (failed) { failed.dispatchEvent(new MouseEvent('click', {bubbles: true})); }
  }
})();
"""


def render(timeline: Timeline) -> str:
    """The page: style, data and script inline, so it opens from disk with no network."""
    payload = json.dumps(timeline.data(), sort_keys=True).replace("</", "<\\/")
    title = html.escape(timeline.title)
    return (
        "<!DOCTYPE html>\n<html lang='en'><head><meta charset='utf-8'>"
        "<meta http-equiv='Content-Security-Policy' content=\"default-src 'none'; "
        "style-src 'unsafe-inline'; script-src 'unsafe-inline'\">"
        f"<title>{title}</title><style>{_STYLE}</style></head><body>"
        f"<header><b>{title}</b> · {len(timeline.tests)} tests · {len(timeline.exchanges)} exchanges · "
        "click a test, a mark or a service</header>"
        "<div id='chart'></div><div id='details'></div><div id='errors'></div>"
        "<script>window.onerror=function(m){document.getElementById('errors').textContent+=m+'\\n';};</script>"
        f"<script type='application/json' id='timeline-data'>{payload}</script>"
        f"<script>{_SCRIPT}</script></body></html>\n"
    )
