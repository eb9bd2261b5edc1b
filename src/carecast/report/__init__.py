"""Metrics reports: per post, channel, campaign and brand, compared with the period before,
as JSON, CSV or a self-contained HTML page with charts (``carecast report``)."""

from __future__ import annotations

from carecast.report.data import (
    Comparison,
    FollowerPoint,
    MetricsReport,
    PostRow,
    TimeCell,
    build_report,
)
from carecast.report.render import report_csv, report_html, report_json

__all__ = [
    "Comparison",
    "FollowerPoint",
    "MetricsReport",
    "PostRow",
    "TimeCell",
    "build_report",
    "report_csv",
    "report_html",
    "report_json",
]
