"""Every error carecast raises, in one tree.

```
CarecastError
├── ConfigurationError ── UnknownChannelError
├── PostRejected (nothing was sent)
│   ├── InvalidPost(.problems)
│   ├── LimitExceeded(.field, .limit, .value)
│   ├── ComplianceBlocked(.findings)
│   └── ApprovalRequired(.findings)
├── ChannelError(.channel, .account, .status, .request_id, .retryable, .may_have_been_sent)
│   ├── ChannelConnectionError* ── ChannelTimeout*       (* retryable)
│   ├── AuthenticationError   (expired or revoked token: says how to renew)
│   ├── PermissionDenied
│   ├── PlatformRejected      (400 / 422: the platform refused the content)
│   ├── DuplicatePost         (the platform already has this content)
│   ├── RateLimited*(.retry_after)
│   ├── ChannelServerError*(.retry_after)  (5xx: may have been written, reconcile first)
│   └── OutcomeUnknown*       (sent, no answer: reconcile before any resend)
├── StoreError             (the ledger's database failed; its rows say what to reconcile)
├── ApprovalRefused        (a signature the approval policy does not allow)
├── InputRefused           (a hostile file or URL: special file, over a cap, outside the roots)
├── AuditTampered          (the store disagrees with its keyed audit chain: nothing is acted on)
└── PublishError(.report)
```

Messages say *where* a problem is, never *what* it contains: no tokens, passwords or the
protected health information a check found.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any, Self

from carecast.scrub import hide, hide_headers

if TYPE_CHECKING:
    from carecast.findings import Finding
    from carecast.publish.report import PublishReport

__all__ = [
    "ApprovalRefused",
    "ApprovalRequired",
    "AuditTampered",
    "AuthenticationError",
    "CarecastError",
    "ChannelConnectionError",
    "ChannelError",
    "ChannelServerError",
    "ChannelTimeout",
    "ComplianceBlocked",
    "ConfigurationError",
    "DuplicatePost",
    "InputRefused",
    "InvalidPost",
    "LimitExceeded",
    "OutcomeUnknown",
    "PermissionDenied",
    "PlatformRejected",
    "PostRejected",
    "PublishError",
    "RateLimited",
    "StoreError",
    "UnknownChannelError",
]


class CarecastError(Exception):
    """Base class of every error carecast raises."""


class ConfigurationError(CarecastError):
    """The configuration is missing, unreadable or inconsistent."""


class UnknownChannelError(ConfigurationError):
    """An account names a channel that no installed package provides."""


class PostRejected(CarecastError):
    """The post cannot be sent as it is; nothing was sent."""


class InvalidPost(PostRejected):
    """The post (or the file it came from) does not validate.

    ``problems`` holds ``(field, message)`` pairs, one per fault.
    """

    def __init__(self, message: str, problems: Sequence[tuple[str, str]] = ()) -> None:
        super().__init__(message)
        self.problems = tuple(problems)


class LimitExceeded(PostRejected):
    """A rendered field is over the channel's limit."""

    def __init__(self, message: str, *, field: str, limit: int | str, value: int | str) -> None:
        super().__init__(message)
        self.field = field
        self.limit = limit
        self.value = value


class ComplianceBlocked(PostRejected):
    """A review finding blocked the post."""

    def __init__(self, message: str, findings: Sequence[Finding] = ()) -> None:
        super().__init__(message)
        self.findings = tuple(findings)


class ApprovalRequired(PostRejected):
    """A review finding holds the post until a person approves it."""

    def __init__(self, message: str, findings: Sequence[Finding] = ()) -> None:
        super().__init__(message)
        self.findings = tuple(findings)


class ChannelError(CarecastError):
    """A channel's platform refused or failed a request."""

    #: A retry may succeed (the class's default; a constructor argument overrides it).
    retryable: bool = False
    #: After this error the request may have reached the platform, so a resend must first
    #: look the post up (``Channel.lookup``) to avoid a double post.
    may_have_been_sent: bool = False
    #: The message already says what a person does next (``carecast retry ...``), so the
    #: publisher adds no hint of its own to an unknown outcome.
    next_step_given: bool = False
    #: Not a failure: the target waits, pending with this error as its reason, for a later
    #: run (SMS quiet hours).
    deferred: bool = False

    def __init__(
        self,
        message: str,
        *,
        channel: str = "",
        account: str = "",
        status: int | None = None,
        request_id: str | None = None,
        headers: Mapping[str, str] | None = None,
        code: str | None = None,
        retryable: bool | None = None,
        may_have_been_sent: bool | None = None,
        next_step_given: bool | None = None,
    ) -> None:
        # Built here, the one place every channel error passes: a platform's text that echoes
        # a token or a header is scrubbed before anything keeps or shows it.
        super().__init__(hide(message))
        self.channel = channel
        self.account = account
        self.status = status
        self.request_id = hide(request_id) if request_id else request_id
        self.headers: dict[str, str] = hide_headers(headers or {})
        self.code = hide(code) if code else code
        # Given here or left to the class's default: an error is built whole, never amended.
        if retryable is not None:
            self.retryable = retryable
        if may_have_been_sent is not None:
            self.may_have_been_sent = may_have_been_sent
        if next_step_given is not None:
            self.next_step_given = next_step_given

    def __str__(self) -> str:
        text = super().__str__()
        where = self.account or self.channel
        bits = [f"[{where}] {text}" if where else text]
        if self.status is not None:
            bits.append(f"(HTTP {self.status})")
        if self.request_id:
            bits.append(f"(request id {self.request_id})")
        return " ".join(bits)

    def __repr__(self) -> str:
        return (
            f"{type(self).__name__}({super().__str__()!r}, channel={self.channel!r}, "
            f"account={self.account!r}, status={self.status!r}, request_id={self.request_id!r})"
        )

    def __reduce__(self) -> tuple[Any, ...]:
        return (_rebuild, (type(self), self.__dict__, self.args))

    def replace(self, **changes: Any) -> Self:
        """A new error like this one but for ``changes`` (``may_have_been_sent=True``...),
        for a caller that knows more than the call that failed; this one is left as it is."""
        unknown = set(changes) - set(self.__dict__) - {"retryable", "may_have_been_sent",
                                                       "next_step_given"}
        if unknown:
            raise TypeError(f"{type(self).__name__} has no field {sorted(unknown)[0]!r}")
        state = {**self.__dict__, **changes}
        return _rebuild(type(self), state, self.args)  # type: ignore[no-any-return]


def _rebuild(cls: type[ChannelError], state: dict[str, Any], args: tuple[Any, ...]) -> Any:
    error = cls.__new__(cls)
    Exception.__init__(error, *args)
    error.__dict__.update(state)
    return error


class ChannelConnectionError(ChannelError):
    """The platform could not be reached; the request was not sent."""

    retryable = True


class ChannelTimeout(ChannelConnectionError):
    """Connecting to the platform timed out; the request was not sent."""


class AuthenticationError(ChannelError):
    """The credentials were refused: renew the token as the message says."""


class PermissionDenied(ChannelError):
    """The credentials are valid but lack the permission for this action."""


class PlatformRejected(ChannelError):
    """The platform refused the content (HTTP 400 / 422)."""


class DuplicatePost(ChannelError):
    """The platform already holds this content."""


class RateLimited(ChannelError):
    """Too many requests; ``retry_after`` seconds until the platform accepts more."""

    retryable = True

    def __init__(self, message: str, *, retry_after: float | None = None, **kw: Any) -> None:
        super().__init__(message, **kw)
        self.retry_after = retry_after


class ChannelServerError(ChannelError):
    """The platform failed (5xx); it may have stored the post before failing."""

    retryable = True
    may_have_been_sent = True

    def __init__(self, message: str, *, retry_after: float | None = None, **kw: Any) -> None:
        super().__init__(message, **kw)
        self.retry_after = retry_after


class OutcomeUnknown(ChannelError):
    """The request was sent but no answer came; reconcile before any resend."""

    retryable = True
    may_have_been_sent = True


class StoreError(CarecastError):
    """The ledger's database failed; nothing is lost, its rows say what to reconcile."""


class ApprovalRefused(CarecastError):
    """A signature the approval policy does not allow.

    Self-approval, a person not listed for the step, a second signature by the same person,
    or a deadline already passed.
    """


class InputRefused(CarecastError):
    """A hostile file or URL, refused before it is read; the message names the setting.

    A special file, a file over a cap, media outside the media roots, or a private address.
    """


class PublishError(CarecastError):
    """Raised by ``PublishReport.raise_for_failures()``; ``report`` holds every outcome."""

    def __init__(self, message: str, report: PublishReport) -> None:
        super().__init__(message)
        self.report = report


class AuditTampered(CarecastError):
    """The store disagrees with its keyed audit chain or signed checkpoint.

    A row carecast would act on (an approval, a consent, the chain's head) has no matching
    event in the chain, so nothing is acted on; ``carecast audit verify`` lists the problems.
    """
