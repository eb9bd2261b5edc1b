"""Brand consistency: audit every profile against the brand, sync where the API allows.

``audit`` reads every account's profile and compares it, field by field, with the brand's
``[brands.NAME]`` table; ``BrandReport`` holds the result; ``plan`` and ``apply`` turn its
fixes into profile updates. The post voice check is the ``carecast.brand.voice`` plugin.
"""

from carecast.brand.audit import DEFAULT_CONCURRENCY, audit, cache_folder
from carecast.brand.avatar import AvatarCache
from carecast.brand.render import report_html, report_table, sync_table
from carecast.brand.report import AccountReport, BrandReport, FieldCheck, Status
from carecast.brand.sync import AccountSync, apply, plan

__all__ = [
    "DEFAULT_CONCURRENCY",
    "AccountReport",
    "AccountSync",
    "AvatarCache",
    "BrandReport",
    "FieldCheck",
    "Status",
    "apply",
    "audit",
    "cache_folder",
    "plan",
    "report_html",
    "report_table",
    "sync_table",
]
