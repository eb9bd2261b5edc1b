"""carecast: publish one healthcare story to every channel, safely.

```python
import carecast

publisher = carecast.Publisher.from_config_file("carecast.toml")
report = publisher.publish(carecast.load_post("post.yaml"))
report.raise_for_failures()
```

Everything but the errors loads on first use (module ``__getattr__``): the models, the
configuration, the store, the publisher and the platform SDKs, so ``import carecast`` stays
fast and a command that needs little imports little.
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING

from carecast.errors import (
    ApprovalRefused,
    ApprovalRequired,
    AuditTampered,
    AuthenticationError,
    CarecastError,
    ChannelConnectionError,
    ChannelError,
    ChannelServerError,
    ChannelTimeout,
    ComplianceBlocked,
    ConfigurationError,
    DuplicatePost,
    InputRefused,
    InvalidPost,
    LimitExceeded,
    OutcomeUnknown,
    PermissionDenied,
    PlatformRejected,
    PostRejected,
    PublishError,
    RateLimited,
    StoreError,
    UnknownChannelError,
)
from carecast.lazy import lazy_getattr as _lazy_getattr

if TYPE_CHECKING:
    from carecast.channels import Channel, ChannelOptions
    from carecast.channels.base import Override, UploadSessions
    from carecast.clock import Clock
    from carecast.config import (
        AccountConfig,
        ApprovalConfig,
        ApprovalStep,
        AuditConfig,
        BrandConfig,
        ChannelLimits,
        CheckSettings,
        Config,
        MediaConfig,
        PublishConfig,
        ReplyRules,
        StoreConfig,
        VoiceRules,
        load_config,
    )
    from carecast.confine import MediaRules
    from carecast.consent import Consent, MessagingConsent
    from carecast.findings import Action, Finding, Span
    from carecast.hookspecs import hookimpl
    from carecast.plan import Cadence, Campaign, Plan, PlanEntry, PlanIssue
    from carecast.post import (
        ChannelOverride,
        Draft,
        Media,
        MediaKind,
        Mention,
        Metrics,
        Part,
        Post,
        Profile,
        ProfileChanges,
        Receipt,
        Repeat,
        load_post,
        post_from_dict,
    )
    from carecast.preview_page import preview_html
    from carecast.publish import (
        Outcome,
        PendingApproval,
        Preview,
        Publisher,
        PublishReport,
        RetryPolicy,
        TargetPreview,
    )
    from carecast.publish.loop import Takedown
    from carecast.publish.planner import PlanStep
    from carecast.records import Attempt, Decision, ErrorInfo, Freeze, Records, State, StoredPost
    from carecast.replies import Replies, ReplyPreview
    from carecast.schedule import Slot
    from carecast.settings import Settings
    from carecast.store import AuditEvent, AuditReport, Failure, Ledger
    from carecast.store.messaging import Messaging, SmsResult, SmsSend

__version__ = "0.1.0"

logging.getLogger("carecast").addHandler(logging.NullHandler())

_LAZY = {
    "AccountConfig": "carecast.config",
    "BrandConfig": "carecast.config",
    "Config": "carecast.config",
    "load_config": "carecast.config",
    "Action": "carecast.findings",
    "Finding": "carecast.findings",
    "Span": "carecast.findings",
    "ChannelOverride": "carecast.post",
    "Draft": "carecast.post",
    "Media": "carecast.post",
    "MediaKind": "carecast.post",
    "Mention": "carecast.post",
    "Metrics": "carecast.post",
    "Part": "carecast.post",
    "Post": "carecast.post",
    "Profile": "carecast.post",
    "Receipt": "carecast.post",
    "load_post": "carecast.post",
    "post_from_dict": "carecast.post",
    "Channel": "carecast.channels",
    "ChannelOptions": "carecast.channels",
    "Override": "carecast.channels.base",
    "UploadSessions": "carecast.channels.base",
    "Consent": "carecast.consent",
    "Ledger": "carecast.store",
    "Outcome": "carecast.publish",
    "Preview": "carecast.publish",
    "PublishReport": "carecast.publish",
    "Publisher": "carecast.publish",
    "RetryPolicy": "carecast.publish",
    "State": "carecast.records",
    "Clock": "carecast.clock",
    "ApprovalConfig": "carecast.config",
    "AuditConfig": "carecast.config",
    "CheckSettings": "carecast.config",
    "MediaConfig": "carecast.config",
    "PublishConfig": "carecast.config",
    "StoreConfig": "carecast.config",
    "VoiceRules": "carecast.config",
    "ReplyRules": "carecast.config",
    "Replies": "carecast.replies",
    "ReplyPreview": "carecast.replies",
    "MediaRules": "carecast.confine",
    "Plan": "carecast.plan",
    "PlanIssue": "carecast.plan",
    "ProfileChanges": "carecast.post",
    "Repeat": "carecast.post",
    "PendingApproval": "carecast.publish",
    "PlanStep": "carecast.publish.planner",
    "TargetPreview": "carecast.publish",
    "Takedown": "carecast.publish.loop",
    "Attempt": "carecast.records",
    "Decision": "carecast.records",
    "ErrorInfo": "carecast.records",
    "Freeze": "carecast.records",
    "Records": "carecast.records",
    "StoredPost": "carecast.records",
    "Slot": "carecast.schedule",
    "AuditEvent": "carecast.store",
    "AuditReport": "carecast.store",
    "Failure": "carecast.store",
    "Settings": "carecast.settings",
    "ApprovalStep": "carecast.config",
    "ChannelLimits": "carecast.config",
    "Cadence": "carecast.plan",
    "Campaign": "carecast.plan",
    "PlanEntry": "carecast.plan",
    "hookimpl": "carecast.hookspecs",
    "preview_html": "carecast.preview_page",
    "MessagingConsent": "carecast.consent",
    "Messaging": "carecast.store.messaging",
    "SmsResult": "carecast.store.messaging",
    "SmsSend": "carecast.store.messaging",
}


__getattr__ = _lazy_getattr(__name__, _LAZY)


__all__ = [
    "AccountConfig",
    "Action",
    "ApprovalConfig",
    "ApprovalRefused",
    "ApprovalRequired",
    "ApprovalStep",
    "Attempt",
    "AuditConfig",
    "AuditEvent",
    "AuditReport",
    "AuditTampered",
    "AuthenticationError",
    "BrandConfig",
    "Cadence",
    "Campaign",
    "CarecastError",
    "Channel",
    "ChannelConnectionError",
    "ChannelError",
    "ChannelLimits",
    "ChannelOptions",
    "ChannelOverride",
    "ChannelServerError",
    "ChannelTimeout",
    "CheckSettings",
    "Clock",
    "ComplianceBlocked",
    "Config",
    "ConfigurationError",
    "Consent",
    "Decision",
    "Draft",
    "DuplicatePost",
    "ErrorInfo",
    "Failure",
    "Finding",
    "Freeze",
    "InputRefused",
    "InvalidPost",
    "Ledger",
    "LimitExceeded",
    "Media",
    "MediaConfig",
    "MediaKind",
    "MediaRules",
    "Mention",
    "Messaging",
    "MessagingConsent",
    "Metrics",
    "Outcome",
    "OutcomeUnknown",
    "Override",
    "Part",
    "PendingApproval",
    "PermissionDenied",
    "Plan",
    "PlanEntry",
    "PlanIssue",
    "PlanStep",
    "PlatformRejected",
    "Post",
    "PostRejected",
    "Preview",
    "Profile",
    "ProfileChanges",
    "PublishConfig",
    "PublishError",
    "PublishReport",
    "Publisher",
    "RateLimited",
    "Receipt",
    "Records",
    "Repeat",
    "Replies",
    "ReplyPreview",
    "ReplyRules",
    "RetryPolicy",
    "Settings",
    "Slot",
    "SmsResult",
    "SmsSend",
    "Span",
    "State",
    "StoreConfig",
    "StoreError",
    "StoredPost",
    "Takedown",
    "TargetPreview",
    "UnknownChannelError",
    "UploadSessions",
    "VoiceRules",
    "__version__",
    "hookimpl",
    "load_config",
    "load_post",
    "post_from_dict",
    "preview_html",
]
