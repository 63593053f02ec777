"""Render report views (plain data from ``views.py`` and ``campaign.py``) as one HTML page.

This module owns markup only, and all of it lives in Jinja2 templates beside it (autoescaped:
every name, message or failure text read from a trace or database is escaped). The data a page
draws from is embedded as JSON (escaped for a script element by Jinja's ``tojson``) and drawn
by the page's inline script into SVG; the page loads nothing from the network.
"""

from __future__ import annotations

from functools import lru_cache
from importlib import resources
from typing import Any

__all__ = ["render_run", "render_campaign", "MAX_FAULT_ROWS"]

#: Rows of a run report's fault table (a run whose faults flap has thousands of periods).
MAX_FAULT_ROWS = 300


@lru_cache(maxsize=1)
def _env() -> Any:
    import jinja2
    env = jinja2.Environment(loader=jinja2.PackageLoader("scenarios.report", "templates"),
                             autoescape=True, undefined=jinja2.StrictUndefined,
                             trim_blocks=True, lstrip_blocks=True)
    # compact JSON: the embedded data is most of a big run's page
    env.policies["json.dumps_kwargs"] = {"sort_keys": False, "separators": (",", ":"),
                                         "ensure_ascii": False}
    env.filters["seconds"] = _seconds
    return env


def _asset(name: str) -> Any:
    """A static script or style sheet of ours, inlined as it is (never built from input)."""
    import markupsafe
    text = resources.files("scenarios.report").joinpath("templates", name).read_text("utf-8")
    return markupsafe.Markup(text)


def _seconds(ms: Any) -> str:
    return "–" if ms is None else f"{float(ms) / 1000:.3f} s"


def render_run(view: dict[str, Any]) -> str:
    """The page of one run (``views.run_view``)."""
    return str(_env().get_template("run.html.j2").render(
        view=view, style=_asset("report.css"), script=_asset("run.js"),
        max_fault_rows=MAX_FAULT_ROWS))


def render_campaign(view: dict[str, Any]) -> str:
    """The page of one campaign (``campaign.campaign_view``)."""
    return str(_env().get_template("campaign.html.j2").render(
        view=view, style=_asset("report.css"), script=_asset("campaign.js")))
