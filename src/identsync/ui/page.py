"""The sync-health page as server-rendered HTML (Jinja2, autoescaped; no build step).

It renders exactly the dict :func:`identsync.ui.health.health_report` returns, so the HTML
and the JSON endpoint can never disagree. The page lives in a sandboxed iframe of Airflow's
UI, which may not navigate the top window; a link into Airflow therefore asks the UI's own
router (same origin) to show the page, and is a plain link when the page is opened alone.
"""

from __future__ import annotations

from typing import Any

from jinja2 import Environment, StrictUndefined
from markupsafe import Markup, escape

TEMPLATE = """<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<title>IDENT -> Bitrix24: sync health</title>
<style>
  body { font: 14px/1.4 system-ui, sans-serif; margin: 1rem 1.5rem; color: #1a202c; }
  h1 { font-size: 1.4rem; margin: 0 0 .25rem; }
  h2 { font-size: 1.2rem; margin: 2rem 0 .5rem; border-bottom: 2px solid #cbd5e0; }
  h3 { font-size: 1rem; margin: 1.25rem 0 .4rem; }
  table { border-collapse: collapse; margin: .25rem 0 .75rem; }
  th, td { border: 1px solid #e2e8f0; padding: .2rem .45rem; text-align: left;
           vertical-align: top; }
  th { background: #f7fafc; font-weight: 600; }
  td.n { text-align: right; font-variant-numeric: tabular-nums; }
  .muted { color: #718096; }
  .bad { color: #c53030; font-weight: 600; }
  .tag { display: inline-block; padding: 0 .35rem; border-radius: .25rem; background: #edf2f7; }
  .dry { background: #fefcbf; }
  details { margin: .3rem 0; }
  summary { cursor: pointer; }
  code { font-size: 12px; }
  .status { display: inline-block; min-width: 4.5rem; padding: 0 .4rem; border-radius: .25rem;
            font-weight: 600; text-align: center; color: #fff; }
  .status-green { background: #2f855a; }
  .status-amber { background: #b7791f; }
  .status-red { background: #c53030; }
  tr.failed td, tr.stale td { background: #fff5f5; }
  ul.reasons { margin: .2rem 0 .5rem; }
  figure.chart { margin: .25rem 0 .75rem; }
  form.requeue { margin: 0 0 .5rem; }
  .message { padding: .4rem .6rem; background: #f0fff4; border: 1px solid #9ae6b4; }
</style>
<script>
// Links into Airflow: let the surrounding Airflow UI (same origin) route to them.
document.addEventListener("click", function (event) {
  var link = event.target.closest && event.target.closest("a[data-airflow]");
  if (!link || event.button !== 0 || event.ctrlKey || event.metaKey || event.shiftKey) return;
  try {
    var ui = window.parent;
    if (ui === window) return;
    ui.history.pushState({}, "", link.getAttribute("href"));
    ui.dispatchEvent(new PopStateEvent("popstate", {state: {}}));
    event.preventDefault();
  } catch (err) {
    // not inside Airflow's UI: an ordinary link
  }
});
</script>
</head>
<body>
<h1>IDENT -> Bitrix24: sync health</h1>
<p class="muted">Times in {{ report.timezone }}. Patients' phones are masked.
 <a href="{{ json_url }}">JSON</a></p>
{% if message %}<p class="message" role="status">{{ message }}</p>{% endif %}
{% if not report.pipelines %}<p>No branch pipeline you may read.</p>{% endif %}
{% if report.pipelines %}
<table class="overview-table">
<tr><th>Branch</th><th>Status</th><th>Last success</th><th>Failed since</th><th>Stale</th>
 <th>Dead records</th></tr>
{% for p in report.pipelines %}{% set h = p.health %}
<tr data-pipeline="{{ p.pipeline }}"><td><a href="#{{ p.pipeline }}">{{ p.branch_id }}:
 {{ p.branch_name }}</a></td>
 <td><span class="status status-{{ h.status }}">{{ h.status }}</span></td>
 <td>{{ h.last_success_ago or "never" }}</td>
 <td class="n {{ 'bad' if h.failed_since_success }}">{{ h.failed_since_success }}</td>
 <td class="n {{ 'bad' if h.stale_runs }}">{{ h.stale_runs }}</td>
 <td class="n {{ 'bad' if h.dead }}">{{ h.dead }}</td></tr>
{% endfor %}
</table>
{% endif %}
{% for p in report.pipelines %}
<section class="pipeline" id="{{ p.pipeline }}" data-pipeline="{{ p.pipeline }}">
<h2>Branch {{ p.branch_id }}: {{ p.branch_name }}
 <a class="muted" href="{{ p.dag_url }}" data-airflow><code>{{ p.pipeline }}</code></a></h2>

{% set h = p.health %}
<p class="health" data-status="{{ h.status }}"><span class="status status-{{ h.status }}"
 >{{ h.status }}</span>
 Last success: <b class="last-success">{{ h.last_success_ago or "never" }}</b>
 {%- if h.last_success_at %} <span class="muted">({{ h.last_success_at | when }})</span>{% endif %}.
 <span class="muted">Schedule <code>{{ h.schedule }}</code>.</span></p>
{% if h.reasons %}<ul class="reasons">{% for reason in h.reasons %}
 <li>{{ reason }}</li>{% endfor %}</ul>{% endif %}

<p class="overview">Open rejections: <b class="n-rejections">{{ p.rejections.total }}</b>
{%- for g in p.rejections.by_reason %}{{ " (" if loop.first else ", " }}<a
 href="#{{ p.pipeline }}-{{ g.reason }}">{{ g.reason }}</a> {{ g.count }}
{{- ")" if loop.last }}{% endfor %}.
 Retry queue: <b class="n-queued">{{ p.queue.queued | length }}</b>.
 Dead: <b class="{{ 'bad ' if p.queue.dead }}n-dead">{{ p.queue.dead | length }}</b>.</p>

<h3>Last {{ p.chart.days | length }} days</h3>
<figure class="chart" data-pipeline="{{ p.pipeline }}">
{{ chart_svg(p.chart, label="Branch " ~ p.branch_id ~ ": " ~ p.branch_name,
             ident="chart-" ~ p.pipeline) }}
<figcaption class="muted">In {{ p.chart.days | length }} days:
 {{ p.chart.totals.synced }} receptions synced, {{ p.chart.totals.rejected }} rejected,
 {{ p.chart.totals.requests }} HTTP requests. Hover a day for its numbers.</figcaption>
</figure>

{% if p.airflow_runs is not none %}
<h3>Runs in Airflow</h3>
{% if p.airflow_runs %}
<table class="airflow-runs">
<tr><th>State</th><th>Run</th><th>Type</th><th>Started</th><th>Ended</th><th>Took</th></tr>
{% for a in p.airflow_runs %}
<tr class="airflow-run {{ a.state }}{{ ' stale' if a.stale }}" data-run-id="{{ a.run_id }}"
 data-state="{{ a.state }}">
 <td class="{{ 'bad' if a.state == 'failed' or a.stale }}">{{ a.state }}
  {%- if a.stale %} (stale: {{ a.running_for }}){% endif %}</td>
 <td><a class="run-link" href="{{ a.run_url }}" data-airflow>{{ a.run_id }}</a>
  {% if a.dry_run %}<span class="tag">dry run</span>{% endif %}</td>
 <td>{{ a.run_type }}</td><td>{{ (a.start_date or a.queued_at) | when }}</td>
 <td>{{ a.end_date | when }}</td>
 <td class="n">{{ "%d s" % a.duration_s if a.duration_s is not none else "-" }}</td></tr>
{% endfor %}
</table>
{% else %}<p class="muted">No runs in Airflow yet.</p>{% endif %}
{% endif %}

<h3>Last recorded runs</h3>
{% if p.runs %}
<table class="runs">
<tr><th>Recorded</th><th>Run</th><th>Window</th><th>Receptions</th>
 <th>Deals created / updated / unchanged / failed</th>
 <th>Contacts created / updated / unchanged / failed</th>
 <th>Comments posted / failed</th><th>Rejected</th><th>HTTP requests</th><th>Log</th></tr>
{% for r in p.runs %}{% set c = r.counts %}
<tr class="run{% if r.dry_run %} dry{% endif %}" data-run-id="{{ r.run_id }}">
 <td>{{ r.recorded_at | when }}</td>
 <td><a class="run-link" href="{{ r.run_url }}" data-airflow>{{ r.run_id }}</a>
  {% if r.dry_run %}<span class="tag">dry run</span>{% endif %}</td>
 <td>{{ r.window.start | when }} .. {{ r.window.end | when }}
  <span class="muted">({{ r.window.source or "-" }})</span></td>
 <td class="n">{{ c.extracted }} extracted, {{ c.records }} synced</td>
 <td class="n deals">{{ c.deals_created }} / {{ c.deals_updated }} / {{ c.deals_unchanged }}
  / <span class="{{ 'bad' if c.deals_failed else '' }}">{{ c.deals_failed }}</span></td>
 <td class="n contacts">{{ c.contacts_created }} / {{ c.contacts_updated }}
  / {{ c.contacts_unchanged }}
  / <span class="{{ 'bad' if c.contacts_failed else '' }}">{{ c.contacts_failed }}</span></td>
 <td class="n">{{ c.comments_would_post if r.dry_run else c.comments_posted }}
  {%- if r.dry_run %} would post{% endif %}
  / <span class="{{ 'bad' if c.comments_failed else '' }}">{{ c.comments_failed }}</span></td>
 <td class="n rejected">{{ c.rejected }}</td>
 <td class="n http">{{ r.http_requests }}</td>
 <td><a class="log-link" href="{{ r.log_url }}" data-airflow>summary log</a></td>
</tr>
{% if r.errors %}<tr><td colspan="10"><details><summary class="bad">{{ r.error_count }}
 refused by the portal</summary><ul>{% for e in r.errors %}
 <li><code>{{ e.ident_id }}</code> {{ e.step }} {{ e.code }}: {{ e.description }}</li>
 {% endfor %}</ul></details></td></tr>{% endif %}
{% endfor %}
</table>
{% else %}<p class="muted">No recorded runs yet.</p>{% endif %}

<h3>Open rejections ({{ p.rejections.total }})</h3>
{% for g in p.rejections.by_reason %}
<details class="reason" id="{{ p.pipeline }}-{{ g.reason }}" data-reason="{{ g.reason }}" open>
<summary><code>{{ g.reason }}</code>: {{ g.count }}</summary>
<table class="rejections">
<tr><th>IDENT id</th><th>Phone</th><th>Detail</th><th>First seen</th><th>Last seen</th>
 <th>Times</th><th>Run</th><th>Log</th></tr>
{% for x in g.records %}
<tr><td><code>{{ x.ident_id or ("reception " ~ x.reception_id) }}</code></td>
 <td class="phone">{{ x.phone or "-" }}</td><td>{{ x.detail }}</td>
 <td>{{ x.first_seen | when }}</td><td>{{ x.last_seen | when }}</td>
 <td class="n">{{ x.times_seen }}</td>
 <td>{% if x.run_url %}<a class="run-link" href="{{ x.run_url }}" data-airflow>run</a>
 {% endif %}</td>
 <td>{% if x.log_url %}<a class="log-link" href="{{ x.log_url }}" data-airflow>transform
 log</a>{% endif %}</td></tr>
{% endfor %}
{% if g.more %}<tr><td colspan="8" class="muted">... and {{ g.more }} more</td></tr>{% endif %}
</table>
</details>
{% else %}<p class="muted">None.</p>{% endfor %}

{% for status, rows in (("queued", p.queue.queued), ("dead", p.queue.dead)) %}
<h3>{{ "Retry queue" if status == "queued" else "Dead records" }} ({{ rows | length }})</h3>
{% if status == "dead" and rows and p.can_requeue and csrf_token %}
<form class="requeue" method="post" action="{{ requeue_url }}">
<input type="hidden" name="pipeline" value="{{ p.pipeline }}">
<input type="hidden" name="csrf_token" value="{{ csrf_token }}">
<button type="submit">Give {{ rows | length }} dead record(s) new tries</button>
<span class="muted">(the next run of the branch tries them again)</span>
</form>
{% endif %}
{% if rows %}
<table class="queue {{ status }}">
<tr><th>IDENT id</th><th>Step</th><th>Reason</th><th>Attempts</th>
 <th>{{ "Next try" if status == "queued" else "Last failure" }}</th><th>Run</th><th>Log</th></tr>
{% for e in rows %}
<tr><td><code>{{ e.ident_id }}</code></td><td>{{ e.step }}</td>
 <td><code>{{ e.code }}</code> {{ e.description }}</td><td class="n">{{ e.attempts }}</td>
 <td>{{ (e.next_attempt_at if status == "queued" else e.last_failed_at) | when }}</td>
 <td>{% if e.run_url %}<a class="run-link" href="{{ e.run_url }}" data-airflow>run</a>
 {% endif %}</td>
 <td>{% if e.log_url %}<a class="log-link" href="{{ e.log_url }}" data-airflow>task
 log</a>{% endif %}</td></tr>
{% endfor %}
</table>
{% else %}<p class="muted">Empty.</p>{% endif %}
{% endfor %}
</section>
{% endfor %}
</body>
</html>
"""


# --- the 30-day chart: inline SVG, no script, every text escaped -----------------------------

_W, _LEFT, _TOP = 640, 56, 18          # width, room for the scale labels, room for the legend
_RECEPTIONS_H, _REQUESTS_H, _GAP = 70, 36, 22
_H = _TOP + _RECEPTIONS_H + _GAP + _REQUESTS_H + 18
COLOURS = {"synced": "#2f855a", "rejected": "#c53030", "requests": "#4a5568"}


def _plural(n: int, word: str) -> str:
    return f"{n} {word}" if n == 1 else f"{n} {word}s"


def chart_svg(chart: dict[str, Any], *, label: str, ident: str) -> Markup:
    """Receptions synced and rejected (stacked bars) and HTTP requests (bars below) per day.

    Each day is a group with its own ``<title>`` (its numbers, as a tooltip and for screen
    readers); the whole chart has a title and a description with the totals.
    """
    days = chart["days"]
    totals = chart["totals"]
    n = max(1, len(days))
    step = (_W - _LEFT) / n
    bar = max(1.0, step - 2)
    top_max = max([d["synced"] + d["rejected"] for d in days] + [1])
    req_max = max([d["requests"] for d in days] + [1])
    req_base = _TOP + _RECEPTIONS_H + _GAP + _REQUESTS_H
    first, last = (days[0]["day"], days[-1]["day"]) if days else ("", "")
    tid, did = f"{ident}-title", f"{ident}-desc"
    out = [
        f'<svg class="chart" xmlns="http://www.w3.org/2000/svg" width="{_W}" height="{_H}" '
        f'viewBox="0 0 {_W} {_H}" role="img" aria-labelledby="{escape(tid)} {escape(did)}">',
        f'<title id="{escape(tid)}">{escape(label)}: receptions synced, rejected and HTTP '
        f'requests per day, {escape(first)} to {escape(last)}</title>',
        f'<desc id="{escape(did)}">In {len(days)} days: {totals["synced"]} receptions synced, '
        f'{totals["rejected"]} rejected, {totals["requests"]} HTTP requests, '
        f'{_plural(totals["runs"], "run")}.</desc>',
        '<g class="legend" font-size="11" aria-hidden="true">'
        f'<rect x="{_LEFT}" y="3" width="10" height="10" fill="{COLOURS["synced"]}"/>'
        f'<text x="{_LEFT + 14}" y="12">synced</text>'
        f'<rect x="{_LEFT + 70}" y="3" width="10" height="10" fill="{COLOURS["rejected"]}"/>'
        f'<text x="{_LEFT + 84}" y="12">rejected</text>'
        f'<rect x="{_LEFT + 150}" y="3" width="10" height="10" fill="{COLOURS["requests"]}"/>'
        f'<text x="{_LEFT + 164}" y="12">HTTP requests</text></g>',
        '<g class="scale" font-size="10" fill="#718096" text-anchor="end" aria-hidden="true">'
        f'<text x="{_LEFT - 4}" y="{_TOP + 9}">{top_max}</text>'
        f'<text x="{_LEFT - 4}" y="{_TOP + _RECEPTIONS_H}">0</text>'
        f'<text x="{_LEFT - 4}" y="{req_base - _REQUESTS_H + 9}">{req_max}</text>'
        f'<text x="{_LEFT - 4}" y="{req_base}">0</text></g>',
        f'<line x1="{_LEFT}" x2="{_W}" y1="{_TOP + _RECEPTIONS_H}" y2="{_TOP + _RECEPTIONS_H}" '
        'stroke="#cbd5e0"/>',
        f'<line x1="{_LEFT}" x2="{_W}" y1="{req_base}" y2="{req_base}" stroke="#cbd5e0"/>',
    ]
    for i, d in enumerate(days):
        # Every coordinate with one decimal: float noise (17.700000000000003) would put long
        # digit runs into the page, which the phone leak checks rightly flag.
        x = f"{_LEFT + i * step + 1:.1f}"
        synced_h = _RECEPTIONS_H * d["synced"] / top_max
        rejected_h = _RECEPTIONS_H * d["rejected"] / top_max
        req_h = _REQUESTS_H * d["requests"] / req_max
        base = _TOP + _RECEPTIONS_H
        text = (f'{d["day"]}: {d["synced"]} synced, {d["rejected"]} rejected, '
                f'{d["requests"]} HTTP requests, {_plural(d["runs"], "run")}')
        out.append(
            f'<g class="day" data-day="{escape(d["day"])}" data-synced="{d["synced"]}" '
            f'data-rejected="{d["rejected"]}" data-requests="{d["requests"]}">'
            f'<title>{escape(text)}</title>'
            # A transparent full-height hit area: an empty day still has its tooltip.
            f'<rect x="{x}" y="{_TOP}" width="{bar:.1f}" height="{req_base - _TOP}" '
            'fill="transparent"/>'
            f'<rect class="synced" x="{x}" y="{base - synced_h:.1f}" width="{bar:.1f}" '
            f'height="{synced_h:.1f}" fill="{COLOURS["synced"]}"/>'
            f'<rect class="rejected" x="{x}" y="{base - synced_h - rejected_h:.1f}" '
            f'width="{bar:.1f}" height="{rejected_h:.1f}" fill="{COLOURS["rejected"]}"/>'
            f'<rect class="requests" x="{x}" y="{req_base - req_h:.1f}" width="{bar:.1f}" '
            f'height="{req_h:.1f}" fill="{COLOURS["requests"]}"/></g>')
    out.append(f'<g font-size="10" fill="#718096" aria-hidden="true">'
               f'<text x="{_LEFT}" y="{_H - 3}">{escape(first)}</text>'
               f'<text x="{_W}" y="{_H - 3}" text-anchor="end">{escape(last)}</text></g>')
    out.append("</svg>")
    return Markup("".join(out))


def when(value: str | None) -> str:
    """An ISO timestamp as people read it: ``2026-11-21 09:05`` (the zone is in the header)."""
    if not value:
        return "-"
    return value[:16].replace("T", " ")


_ENV = Environment(autoescape=True, undefined=StrictUndefined, trim_blocks=True,
                   lstrip_blocks=True)
_ENV.filters["when"] = when
_ENV.globals["chart_svg"] = chart_svg
_TEMPLATE = _ENV.from_string(TEMPLATE)


def render(report: dict[str, Any], *, json_url: str = "health.json",
           csrf_token: str | None = None, requeue_url: str = "health/requeue",
           message: str | None = None) -> str:
    """The report as one HTML page. A branch whose ``can_requeue`` is true gets a button for
    its dead records, posting ``csrf_token`` (no token: no button)."""
    return _TEMPLATE.render(report=report, json_url=json_url, csrf_token=csrf_token,
                            requeue_url=requeue_url, message=message)
