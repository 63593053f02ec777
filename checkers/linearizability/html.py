"""Serialize views (see ``report.py``) into one self-contained HTML page.

This module owns markup only: every fact it prints comes from the view dicts. The page has
inline CSS and a few lines of inline script, loads nothing from the network, and escapes all
text taken from the history.
"""

from __future__ import annotations

from html import escape
from typing import Any, Iterable

__all__ = ["render_html"]

_CSS = """
body{font:13px/1.4 system-ui,sans-serif;margin:16px;color:#222}
h1{font-size:18px}h2{font-size:16px;margin-top:28px}h3{font-size:14px;margin:18px 0 6px}
.badge{padding:1px 8px;border-radius:9px;color:#fff;font-weight:600}
.ok{background:#2e7d32}.illegal{background:#c62828}.unknown{background:#ef6c00}.skipped{background:#777}
.meta{color:#555}.note{color:#8a5a00}.fail{color:#c62828;font-weight:600}
.timeline{border:1px solid #ddd;padding:4px 0;margin:6px 0;overflow-x:auto}
.row{display:flex;align-items:center;height:22px;width:max-content;min-width:100%}
.client{width:90px;flex:none;text-align:right;padding-right:8px;color:#555;font-family:monospace;
 position:sticky;left:0;background:#fff;z-index:4}
.track{position:relative;flex:1;min-width:600px;height:18px;background:#fafafa}
.op{position:absolute;top:1px;height:16px;min-width:3px;box-sizing:border-box;overflow:hidden;
 white-space:nowrap;font:11px/16px monospace;padding:0 2px;background:#cfe3f7;border:1px solid #6a9bd1;
 border-radius:3px;cursor:default}
.op.open{border-right:3px dashed #6a9bd1;border-radius:3px 0 0 3px}
.op.step{background:#d7f0d8;border-color:#5c9e5f}
.op.blocked{background:#f9c9c9;border-color:#c62828;border-width:2px;z-index:2}
.op.hot{outline:2px solid #222;z-index:3}
table{border-collapse:collapse;margin:4px 0}
td,th{border:1px solid #ddd;padding:2px 6px;text-align:left;vertical-align:top}
td.state{font-family:monospace;color:#333}tr.blocked td{background:#fde8e8}
tbody tr:hover td{background:#eef4fb}
"""

_SCRIPT = """
document.querySelectorAll('[data-op]').forEach(function(row){
  var bar=document.getElementById(row.getAttribute('data-op'));
  if(!bar)return;
  row.addEventListener('mouseenter',function(){bar.classList.add('hot')});
  row.addEventListener('mouseleave',function(){bar.classList.remove('hot')});
});
"""


def render_html(views: Iterable[dict[str, Any]], title: str = "raftsim check") -> str:
    """One page for the views of one or more checked histories."""
    body = "".join(_history(k, view) for k, view in enumerate(views))
    return (f"<!DOCTYPE html><html><head><meta charset='utf-8'><title>{escape(title)}</title>"
            f"<style>{_CSS}</style></head><body><h1>{escape(title)}</h1>{body}"
            f"<script>{_SCRIPT}</script></body></html>\n")


def _history(k: int, view: dict[str, Any]) -> str:
    counts = ", ".join(f"{n} {name}" for name, n in view["counts"].items() if n)
    parts = "".join(_partition(f"h{k}p{j}", part) for j, part in enumerate(view["partitions"]))
    return (f"<h2>{escape(view['title'])} {_badge(view['verdict'])}</h2>"
            f"<p class='meta'>model {escape(view['model'])} · {view['operations']} operations · "
            f"partitions: {escape(counts) or 'none'} · checked in {view['elapsed'] * 1000:.1f} ms</p>"
            f"{parts}{_summary(view['summary'], view['omitted'])}")


def _partition(pid: str, part: dict[str, Any]) -> str:
    html = [f"<h3>partition {escape(part['label'])} {_badge(part['verdict'])} "
            f"<span class='meta'>{part['operations']} operations</span></h3>"]
    if part["reason"]:
        html.append(f"<p class='note'>gave up: {escape(part['reason'])}</p>")
    if part["failure"]:
        html.append(f"<p class='fail'>{escape(part['failure'])}</p>")
    if part["truncated"]:
        html.append(f"<p class='note'>{escape(part['truncated'])}</p>")
    html.append(_timeline(pid, part["timeline"]))
    for n, partial in enumerate(part["partials"]):
        html.append(_partial(pid, n, partial))
    return "".join(html)


def _timeline(pid: str, timeline: dict[str, Any]) -> str:
    span = timeline["ticks"] + 1  # one column more for operations that never returned
    width = max(600, 8 * span)  # pixels: wide histories scroll instead of squeezing their bars
    rows = []
    for row in timeline["clients"]:
        bars = "".join(_bar(pid, op, span) for op in row["ops"])
        rows.append(f"<div class='row'><div class='client'>{escape(row['client'])}</div>"
                    f"<div class='track' style='min-width:{width}px'>{bars}</div></div>")
    return f"<div class='timeline'>{''.join(rows)}</div>"


def _bar(pid: str, op: dict[str, Any], span: int) -> str:
    left = (op["start"] + 0.25) / span * 100
    right = 100.0 if op["end"] is None else (op["end"] + 0.75) / span * 100
    classes = "op" + (" open" if op["end"] is None else "") + (" step" if op["step"] else "")
    classes += " blocked" if op["blocked"] else ""
    label = (f"{op['step']}. " if op["step"] else "") + ("✗ " if op["blocked"] else "") + op["text"]
    tip = f"{op['text']}\ncall {op['call']}, return {op['return']}"
    tip += f"\nstep {op['step']} of the longest partial linearization" if op["step"] else ""
    tip += "\ncould not be placed" if op["blocked"] else ""
    return (f"<div class='{classes}' id='{pid}o{op['id']}' title='{escape(tip)}' "
            f"style='left:{left:.3f}%;width:{right - left:.3f}%'>{escape(label)}</div>")


def _partial(pid: str, n: int, partial: dict[str, Any]) -> str:
    rows = []
    if partial["omitted_steps"]:
        rows.append(f"<tr><td colspan='4' class='meta'>… {partial['omitted_steps']} earlier "
                    "steps not shown</td></tr>")
    elif partial["initial"] is not None:
        rows.append(f"<tr><td>0</td><td></td><td class='meta'>initial state</td>"
                    f"<td class='state'>{escape(partial['initial'])}</td></tr>")
    for step in partial["steps"]:
        rows.append(f"<tr data-op='{pid}o{step['op']}'><td>{step['step']}</td>"
                    f"<td>{escape(step['client'])}</td><td>{escape(step['text'])}</td>"
                    f"<td class='state'>{escape(step['state'])}</td></tr>")
    b = partial["blocked"]
    rows.append(f"<tr class='blocked' data-op='{pid}o{b['op']}'><td>✗</td><td>{escape(b['client'])}"
                f"</td><td>{escape(b['text'])} <span class='meta'>(call {escape(b['call'])}, return "
                f"{escape(b['return'])})</span></td><td class='state'>could not be placed in "
                f"{escape(b['state'])}</td></tr>")
    return (f"<p><b>Partial linearization {n + 1}</b> <span class='meta'>({partial['length']} "
            "steps, longest found)</span></p><table><thead><tr><th>step</th><th>client</th>"
            "<th>operation</th><th>state after</th></tr></thead>"
            f"<tbody>{''.join(rows)}</tbody></table>")


def _summary(rows: list[dict[str, Any]], omitted: dict[str, Any]) -> str:
    if not rows:
        return ""
    body = "".join(f"<tr><td>{escape(r['label'])}</td><td>{r['operations']}</td>"
                   f"<td>{_badge(r['verdict'])}</td></tr>" for r in rows)
    more = ""
    if omitted["partitions"]:
        tally = ", ".join(f"{n} {v}" for v, n in omitted["verdicts"].items())
        more = (f"<p class='note'>… and {omitted['partitions']} more partitions "
                f"({omitted['operations']} operations: {escape(tally)}) not listed.</p>")
    return (f"<h3>Other partitions (not drawn)</h3><table><thead><tr><th>partition</th>"
            f"<th>operations</th><th>verdict</th></tr></thead><tbody>{body}</tbody></table>{more}")


_VERDICT_TEXT = {"ok": "linearizable", "illegal": "not linearizable", "unknown": "unknown"}


def _badge(verdict: str) -> str:
    text = _VERDICT_TEXT.get(verdict, verdict)
    return f"<span class='badge {escape(verdict)}'>{escape(text)}</span>"
