"""Cap charts as inline SVG, drawn by matplotlib's SVG backend (the `report` extra).

Why matplotlib: it draws dates, step lines and annotations well, writes plain SVG with no
script, and can be made byte-for-byte deterministic (`svg.hashsalt`, no date metadata),
which the checked-in example report relies on. Decimals become floats only here, for
drawing; every figure a reader sees as text stays exact.
"""

from __future__ import annotations

import io
import re
from datetime import date, timedelta
from importlib import import_module
from typing import Any

from compliance.errors import ReportDependencyError
from compliance.io.evidence import CapSeries
from compliance.report import Series
from compliance.units import for_people, format_amount

__all__ = ["ReportDependencyError", "cap_chart", "require_matplotlib"]

# Beyond this many events a chart shows end-of-day totals, then fewer: the shape is the
# same and the SVG stays small enough to open whatever the number of events.
MAX_POINTS = 400

INSTALL_HINT = "pip install 'compliance[report]'"


def require_matplotlib() -> Any:
    """The matplotlib module, or a one-line error saying what to install."""
    try:
        import matplotlib
    except ImportError:
        raise ReportDependencyError(
            f"--format html draws its charts with matplotlib, which is not installed: "
            f"{INSTALL_HINT}"
        ) from None
    return matplotlib


def _thinned(series: Series, unit: str, keep: set[str]) -> list[tuple[date, float]]:
    """At most about `MAX_POINTS` points that draw the same line: the last of each day
    (it carries the day's total), then, past that, the last of each of `MAX_POINTS`
    stretches; the events in `keep` (the crossings) always stay."""
    dates, events, running = series.dates, series.events, series.running_in(unit)
    n = len(dates)
    chosen = list(range(n))
    if n > MAX_POINTS:
        chosen = [i for i in chosen if i + 1 == n or dates[i + 1] != dates[i] or events[i] in keep]
    if len(chosen) > MAX_POINTS:
        step = len(chosen) / MAX_POINTS
        ends = {min(len(chosen) - 1, int(step * (k + 1)) - 1) for k in range(MAX_POINTS)}
        chosen = [i for k, i in enumerate(chosen) if k in ends or events[i] in keep]
    return [(dates[i], float(running[i])) for i in chosen]


def cap_chart(series: CapSeries, chart_id: str) -> str:
    """An `<svg>` element: running total over time against the limit and thresholds,
    each threshold crossing and the breach marked. Ids inside are prefixed `chart_id`."""
    mpl = require_matplotlib()
    from matplotlib.figure import Figure
    from matplotlib.ticker import FuncFormatter

    limit = series.limit
    unit = series.unit
    marked = [f for f in series.findings if f.measure is not None and f.measure.unit == unit]
    points = _thinned(series.points, unit, {f.trigger for f in marked})
    with mpl.rc_context(
        {
            "svg.hashsalt": chart_id,  # stable ids: the same report gives the same bytes
            "svg.fonttype": "none",  # text as <text>: small, selectable, searchable
            "text.parse_math": False,  # a `$` in a shipment id is text, not TeX
            "font.family": "sans-serif",
            "font.size": 9,
            "axes.spines.top": False,
            "axes.spines.right": False,
        }
    ):
        fig = Figure(figsize=(7.5, 3.3))
        # Fixed margins rather than bbox_inches="tight", which draws the figure twice.
        fig.subplots_adjust(left=0.12, right=0.95, top=0.96, bottom=0.22)
        # Any: matplotlib's stubs take no `date`s, though its date converter does.
        ax: Any = fig.add_subplot()
        mdates: Any = import_module("matplotlib.dates")
        xs = [d for d, _ in points]
        ys = [y for _, y in points]
        # A total starts at zero on the period's (window's) first day and holds to its last.
        sx = [series.start, *xs, max(series.end, xs[-1])]
        sy = [0.0, *ys, ys[-1]]
        label = (
            "running total" if series.rolling_days is None else f"{series.rolling_days}-day total"
        )
        ax.step(sx, sy, where="post", color="#1f4e79", linewidth=1.8, label=label)
        ax.plot(xs, ys, "o", color="#1f4e79", markersize=3)
        ax.axhline(
            float(limit), color="#b00020", linewidth=1.5, label=f"limit {for_people(limit)} {unit}"
        )
        for k, fraction in enumerate(series.thresholds):
            level = limit * fraction
            ax.axhline(
                float(level),
                color="#9a6700",
                linewidth=0.9,
                linestyle="--",
                label="notice thresholds" if k == 0 else None,
            )
            ax.annotate(
                f"{format_amount(fraction * 100)}%",
                (1.0, float(level)),
                xycoords=("axes fraction", "data"),
                xytext=(2, 0),
                textcoords="offset points",
                va="center",
                fontsize=8,
                color="#9a6700",
            )
        top = max(float(limit), max(ys))
        for f in marked:
            if f.measure is None:
                continue
            y = float(f.measure.running)
            if f.kind == "cap_exceeded":
                ax.plot(
                    [f.date],
                    [y],
                    marker="X",
                    color="#b00020",
                    markersize=11,
                    linestyle="none",
                    label=f"limit crossed: {f.trigger}",
                    zorder=5,  # above the notice marker a breach often shares
                )
                # The label goes on the side with room: left of a late crossing, right
                # of an early one, so it stays inside the plot.
                early = (f.date - series.start).days * 2 < (series.end - series.start).days
                ax.annotate(
                    f"{f.trigger}\n{f.date.isoformat()}",
                    (f.date, y),
                    xytext=(10 if early else -10, 8),
                    textcoords="offset points",
                    ha="left" if early else "right",
                    fontsize=8,
                    color="#b00020",
                    fontweight="bold",
                )
            else:
                ax.plot(
                    [f.date],
                    [y],
                    marker="D",
                    color="#9a6700",
                    markersize=5,
                    linestyle="none",
                )
        ax.set_ylim(0, top * 1.15)
        left = series.start - timedelta(days=1)
        right = max(series.end, xs[-1])
        if right <= left:
            right = left + timedelta(days=1)
        ax.set_xlim(left, right)
        ax.yaxis.set_major_formatter(FuncFormatter(lambda v, _: f"{v:,.0f}"))
        ax.set_ylabel(unit)
        ax.grid(axis="y", color="#dddddd", linewidth=0.6)
        locator = mdates.AutoDateLocator(minticks=4, maxticks=12)
        ax.xaxis.set_major_locator(locator)
        ax.xaxis.set_major_formatter(mdates.ConciseDateFormatter(locator))
        # Below the plot: inside it would hide the limit line, where the story is.
        ax.legend(
            loc="upper center", bbox_to_anchor=(0.5, -0.12), ncol=4, fontsize=8, frameon=False
        )
        buf = io.StringIO()
        fig.savefig(buf, format="svg", metadata={"Date": None, "Creator": None})
    return _inline(buf.getvalue(), chart_id)


_PROLOGUE = re.compile(r"\A.*?(?=<svg\b)", re.S)
_SIZE = re.compile(r'(<svg\b[^>]*?)\s(?:width|height)="[^"]*"')
_ID = re.compile(r'\bid="([^"]+)"')
_REF = re.compile(r'(url\(#|href="#)([^")]+)')


def _inline(svg: str, prefix: str) -> str:
    """The `<svg>` element alone, scalable by CSS, with ids unique within the page."""
    svg = _PROLOGUE.sub("", svg, count=1)
    svg = _SIZE.sub(r"\1", svg, count=1)
    svg = _SIZE.sub(r"\1", svg, count=1)
    svg = svg.replace("<svg ", f'<svg class="chart" role="img" data-chart="{prefix}" ', 1)
    svg = _ID.sub(lambda m: f'id="{prefix}-{m.group(1)}"', svg)
    return _REF.sub(lambda m: f"{m.group(1)}{prefix}-{m.group(2)}", svg).strip()
