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
from importlib import import_module
from typing import TYPE_CHECKING, Any

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

if TYPE_CHECKING:
    from carecast.channels import Channel, ChannelOptions
    from carecast.config import AccountConfig, BrandConfig, Config, load_config
    from carecast.consent import Consent
    from carecast.findings import Action, Finding, Span
    from carecast.hookspecs import hookimpl
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
        Receipt,
        load_post,
        post_from_dict,
    )
    from carecast.publish import Outcome, Preview, Publisher, PublishReport, RetryPolicy
    from carecast.records import State
    from carecast.store import Ledger

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
    "Consent": "carecast.consent",
    "Ledger": "carecast.store",
    "Outcome": "carecast.publish",
    "Preview": "carecast.publish",
    "PublishReport": "carecast.publish",
    "Publisher": "carecast.publish",
    "RetryPolicy": "carecast.publish",
    "State": "carecast.records",
    "hookimpl": "carecast.hookspecs",
}


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        value = getattr(import_module(_LAZY[name]), name)
        globals()[name] = value
        return value
    raise AttributeError(f"module 'carecast' has no attribute {name!r}")


__all__ = [
    "AccountConfig",
    "Action",
    "ApprovalRefused",
    "ApprovalRequired",
    "AuditTampered",
    "AuthenticationError",
    "BrandConfig",
    "CarecastError",
    "Channel",
    "ChannelConnectionError",
    "ChannelError",
    "ChannelOptions",
    "ChannelOverride",
    "ChannelServerError",
    "ChannelTimeout",
    "ComplianceBlocked",
    "Config",
    "ConfigurationError",
    "Consent",
    "Draft",
    "DuplicatePost",
    "Finding",
    "InputRefused",
    "InvalidPost",
    "Ledger",
    "LimitExceeded",
    "Media",
    "MediaKind",
    "Mention",
    "Metrics",
    "Outcome",
    "OutcomeUnknown",
    "Part",
    "PermissionDenied",
    "PlatformRejected",
    "Post",
    "PostRejected",
    "Preview",
    "Profile",
    "PublishError",
    "PublishReport",
    "Publisher",
    "RateLimited",
    "Receipt",
    "RetryPolicy",
    "Span",
    "State",
    "StoreError",
    "UnknownChannelError",
    "__version__",
    "hookimpl",
    "load_config",
    "load_post",
    "post_from_dict",
]
