"""The publishing pipeline: review gate, retry policy, publisher and reports."""

from carecast.publish.gate import GateResult, apply_findings
from carecast.publish.publisher import PendingApproval, Preview, Publisher, TargetPreview
from carecast.publish.report import Outcome, PublishReport
from carecast.publish.retry import RetryPolicy

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
