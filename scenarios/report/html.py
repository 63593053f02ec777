"""Render report views (plain data from ``views.py`` and ``campaign.py``) as one HTML page.

This module owns markup only, and all of it lives in Jinja2 templates beside it (autoescaped:
every name, message or failure text read from a trace or database is escaped). The data a page
draws from is embedded in a script element (a run's as compressed JSON in base64, see ``pack``;
a campaign's as JSON escaped by Jinja's ``tojson``) and drawn by the page's inline script into
SVG; the page loads nothing from the network.
"""

from __future__ import annotations

import base64
import json
import zlib
from functools import lru_cache
from importlib import resources
from typing import Any

__all__ = ["render_run", "render_campaign", "drawn_data", "pack", "MAX_FAULT_ROWS"]

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


def _scripts(*names: str) -> Any:
    """Our scripts ``names``, inlined one after the other (the first ones define what the
    later ones use)."""
    import markupsafe
    return markupsafe.Markup("\n").join(_asset(name) for name in names)


def _asset(name: str) -> Any:
    """A static script or style sheet of ours, inlined as it is (never built from input)."""
    import markupsafe
    text = resources.files("scenarios.report").joinpath("templates", name).read_text("utf-8")
    return markupsafe.Markup(text)


def _seconds(ms: Any) -> str:
    return "–" if ms is None else f"{float(ms) / 1000:.3f} s"


#: The parts of a run view the page's script draws (the rest is rendered by the template).
DRAWN = ("lanes", "messages", "density", "faults", "shading", "roles", "operations", "focus")


def render_run(view: dict[str, Any]) -> str:
    """The page of one run (``views.run_view``)."""
    return str(_env().get_template("run.html.j2").render(
        view=view, style=_asset("report.css"), script=_scripts("svg.js", "run.js"),
        max_fault_rows=MAX_FAULT_ROWS, packed=pack(drawn_data(view))))


def drawn_data(view: dict[str, Any]) -> dict[str, Any]:
    """What the page's script needs of a run view."""
    data = {key: view[key] for key in DRAWN}
    data.update(window=view["meta"]["window"], end=view["meta"]["end"],
                latency=view["latency"]["points"], throughput=view["throughput"])
    return data


def pack(data: Any) -> str:
    """``data`` as JSON, compressed with zlib and written in base64 (lines of 76 characters),
    for the page's script to unpack (``DecompressionStream('deflate')``): a tenth of the size
    of the JSON, and nothing in it can close the script element. Deterministic: the same data
    gives the same text."""
    text = json.dumps(data, separators=(",", ":"), ensure_ascii=False, allow_nan=False)
    return base64.encodebytes(zlib.compress(text.encode("utf-8"), 6)).decode("ascii")


def render_campaign(view: dict[str, Any]) -> str:
    """The page of one campaign (``campaign.campaign_view``)."""
    return str(_env().get_template("campaign.html.j2").render(
        view=view, style=_asset("report.css"), script=_scripts("svg.js", "campaign.js")))
