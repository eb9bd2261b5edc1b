"""Outcomes: metric series per post, channel, campaign and brand, for reports and CMS dashboards.

``Collector`` reads the counts on the decay schedule into the store; ``MetricsView`` reads
the series back as typed models (``PostSeries``, ``GroupSeries``, ``Totals``) that a dashboard
can serve as JSON as they are.
"""

from __future__ import annotations

from carecast.metrics.collector import Collector, CollectReport
from carecast.metrics.series import (
    GroupSeries,
    MetricsView,
    PostSeries,
    Reading,
    Totals,
)
from carecast.store.metrics import AccountSample, PostSample

__all__ = [
    "AccountSample",
    "CollectReport",
    "Collector",
    "GroupSeries",
    "MetricsView",
    "PostSample",
    "PostSeries",
    "Reading",
    "Totals",
]
