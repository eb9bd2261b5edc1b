"""The publishing pipeline: review gate, retry policy, publisher and reports.

Each name loads on first use (module ``__getattr__``), so importing one light module of the
package (``carecast.publish.report`` for ``carecast status``) does not load the publisher.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from carecast.lazy import lazy_getattr as _lazy_getattr

if TYPE_CHECKING:
    from carecast.publish.gate import GateResult, apply_findings
    from carecast.publish.publisher import PendingApproval, Preview, Publisher, TargetPreview
    from carecast.publish.report import Outcome, PublishReport
    from carecast.publish.retry import RetryPolicy

_LAZY = {
    "GateResult": "carecast.publish.gate",
    "apply_findings": "carecast.publish.gate",
    "PendingApproval": "carecast.publish.publisher",
    "Preview": "carecast.publish.publisher",
    "Publisher": "carecast.publish.publisher",
    "TargetPreview": "carecast.publish.publisher",
    "Outcome": "carecast.publish.report",
    "PublishReport": "carecast.publish.report",
    "RetryPolicy": "carecast.publish.retry",
}


__getattr__ = _lazy_getattr(__name__, _LAZY)


__all__ = [
    "GateResult",
    "Outcome",
    "PendingApproval",
    "Preview",
    "PublishReport",
    "Publisher",
    "RetryPolicy",
    "TargetPreview",
    "apply_findings",
]
