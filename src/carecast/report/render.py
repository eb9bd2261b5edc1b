"""A report as JSON, CSV or one self-contained HTML page with its charts drawn in.

The charts are pygal's SVG, inlined in the page: they need no script, no font and no network
when the page is opened, print as they show, and stay sharp at any zoom. The page's Content
Security Policy allows nothing outside it (no script at all, styles and images of its own).
pygal writes a small inline script of chart settings into each SVG for its optional
tooltips; carecast takes it out, and the policy would block it anyway.
"""

from __future__ import annotations

import csv
import io
import json
import re
import sys
from collections.abc import Sequence
from typing import Any

from carecast.report.data import WEEKDAYS, Comparison, MetricsReport
from carecast.templates import environment

__all__ = ["CSP", "report_csv", "report_html", "report_json"]

#: The page's Content Security Policy: nothing is fetched, nothing runs.
CSP = ("default-src 'none'; style-src 'unsafe-inline'; img-src data:; script-src 'none'; "
       "base-uri 'none'; form-action 'none'; frame-ancestors 'none'")
_SCRIPT = re.compile(r"<script\b[^>]*>.*?</script>", re.DOTALL)
_FIELDS = ("reach", "impressions", "engagements", "engagement_rate", "clicks", "follower_growth")
_OFFSET_UNITS = ((86400, "d"), (3600, "h"), (60, "m"))


def report_json(report: MetricsReport) -> str:
    """The report as JSON (the models' own shape, each comparison's changes added)."""
    data = report.model_dump(mode="json")
    for name in ("channels", "campaigns", "brands"):
        for item, comparison in zip(data[name], getattr(report, name), strict=True):
            item["change"] = {f: comparison.change(f) for f in _FIELDS}
    data["totals"]["change"] = {f: report.totals.change(f) for f in _FIELDS}
    return json.dumps(data, indent=2, sort_keys=True)


def report_csv(report: MetricsReport) -> str:
    """One row per post and per channel, campaign and brand, and one for all, with this
    period's counts and the previous period's beside them."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(["level", "key", "account", "channel", "campaign", "published_at", "posts",
                     *_FIELDS, *(f"previous_{f}" for f in _FIELDS)])
    for row in report.posts:
        writer.writerow([_cell(v) for v in (
            "post", row.post_id, row.account, row.channel, row.campaign,
            row.published_at.isoformat(), 1, row.reach, row.impressions, row.engagements,
            row.engagement_rate, row.clicks, None, *([None] * len(_FIELDS)))])
    for comparison in (report.totals, *report.channels, *report.campaigns, *report.brands):
        writer.writerow([_cell(v) for v in (
            comparison.group_by, comparison.key, None, None, None, None,
            comparison.current.posts, *(getattr(comparison.current, f) for f in _FIELDS),
            *(getattr(comparison.previous, f) for f in _FIELDS))])
    return out.getvalue()


def report_html(report: MetricsReport) -> str:
    """The report as one HTML page: tables, and the charts as inline SVG."""
    charts = {
        "channels": _channels_chart(report.channels),
        "followers": _followers_chart(report),
        "decay": _decay_chart(report),
        "times": _times_chart(report),
    }
    return str(environment().get_template("report.html").render(
        report=report, csp=CSP, charts={k: v for k, v in charts.items() if v},
        weekdays=WEEKDAYS, fields=_FIELDS, pct=_pct, offset=offset_label))


def offset_label(seconds: int) -> str:
    """``3600`` as ``+1h``, ``604800`` as ``+7d``."""
    for size, unit in _OFFSET_UNITS:
        if seconds % size == 0:
            return f"+{seconds // size}{unit}"
    return f"+{seconds}s"


# -- charts (pygal) ----------------------------------------------------------------------------


def _pygal() -> Any:
    """pygal, without the ``sys.meta_path`` finder it installs on import for its map
    plugins (carecast draws no maps): the finder has no ``find_spec``, so every later import
    that fails anywhere in the process would warn (an error under ``-W error``)."""
    import pygal

    sys.meta_path[:] = [f for f in sys.meta_path if type(f).__module__ != "pygal"]
    return pygal


def _chart(kind: str, title: str, **options: Any) -> Any:
    pygal = _pygal()
    from pygal.style import Style

    style = Style(background="#ffffff", plot_background="#ffffff", foreground="#1d2733",
                  foreground_strong="#1d2733", foreground_subtle="#5b6773",
                  colors=("#0b4f6c", "#20a39e", "#ef8354", "#6b3fa0", "#c0392b", "#7f8c8d",
                          "#2e86de", "#f4b400"),
                  font_family="system-ui, sans-serif", title_font_size=16,
                  label_font_size=11, legend_font_size=11)
    return getattr(pygal, kind)(title=title, js=[], disable_xml_declaration=True,
                                style=style, width=600, height=330, explicit_size=True,
                                legend_at_bottom=True, print_values=False, **options)


def _svg(chart: Any) -> str:
    return _SCRIPT.sub("", str(chart.render(is_unicode=True)))


def _channels_chart(channels: Sequence[Comparison]) -> str:
    if not channels:
        return ""
    chart = _chart("Bar", "Reach and engagements by channel, this period and the previous one")
    chart.x_labels = [c.key for c in channels]
    chart.add("reach", [c.current.reach for c in channels])
    chart.add("reach before", [c.previous.reach for c in channels])
    chart.add("engagements", [c.current.engagements for c in channels])
    chart.add("engagements before", [c.previous.engagements for c in channels])
    return _svg(chart)


def _followers_chart(report: MetricsReport) -> str:
    days = sorted({p.day for p in report.followers})
    if len(days) < 2:
        return ""
    chart = _chart("Line", "Followers per account", x_label_rotation=30,
                   show_minor_x_labels=False, x_labels_major_count=8)
    chart.x_labels = days
    by_account: dict[str, dict[str, int]] = {}
    for point in report.followers:
        by_account.setdefault(point.account, {})[point.day] = point.followers
    for account, counts in sorted(by_account.items()):
        chart.add(account, [counts.get(day) for day in days])
    return _svg(chart)


def _decay_chart(report: MetricsReport) -> str:
    offsets = sorted({o for by in report.decay.values() for o in by})
    if not offsets:
        return ""
    chart = _chart("Line", "Mean engagements per post after publication, by channel")
    chart.x_labels = [offset_label(o) for o in offsets]
    for channel, by in report.decay.items():
        chart.add(channel, [by.get(o) for o in offsets])
    return _svg(chart)


def _times_chart(report: MetricsReport) -> str:
    if not report.best_times:
        return ""
    hours = sorted({c.hour for c in report.best_times})
    chart = _chart("Dot", f"Mean engagements per post by weekday and hour ({report.timezone})",
                   x_label_rotation=0)
    chart.x_labels = [f"{h:02d}:00" for h in hours]
    cells = {(c.weekday, c.hour): c.mean_engagements for c in report.best_times}
    for day, name in enumerate(WEEKDAYS):
        chart.add(name, [cells.get((day, h)) for h in hours])
    return _svg(chart)


def _pct(value: float | None) -> str:
    return "" if value is None else f"{value * 100:+.1f} %"


def _cell(value: Any) -> Any:
    """A CSV cell; text a spreadsheet would run as a formula is quoted with ``'``."""
    if isinstance(value, str) and value[:1] in ("=", "+", "-", "@", "\t", "\r"):
        return "'" + value
    return "" if value is None else value
