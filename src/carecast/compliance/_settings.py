"""The settings every built-in check shares, read from its merged ``[checks.NAME]`` table.

A check subclasses ``CheckConfig`` with its own keys and the default action of each kind of
finding it makes. Every check takes ``enabled``, ``action`` (the action of all its findings)
and ``actions`` (one kind's action, or ``"off"`` to silence that kind); the most specific
wins. ``read`` gives a hook its settings, or what to return instead: nothing when the check
is off, a BLOCK finding naming ``checks.NAME.KEY`` when the table is wrong (never a crash).

A table is validated once: the settings of a table already seen are taken from a cache keyed
by its content (every draft of every post reads the same few tables; validating each time
cost more than some checks).
"""

from __future__ import annotations

import re
import threading
from collections.abc import Hashable, Iterator, Mapping
from functools import lru_cache
from typing import TYPE_CHECKING, Annotated, Any, ClassVar, Literal, Self, TypeGuard

from pydantic import BaseModel, ConfigDict, PlainValidator, ValidationError, model_validator

from carecast.compliance.clauses import fold
from carecast.errors import ConfigurationError
from carecast.findings import Action, Finding, Span

if TYPE_CHECKING:
    from carecast.config import CheckSettings
    from carecast.post import Draft

__all__ = ["CheckConfig", "Choice", "draft_texts", "has_phrase", "held", "may_hold",
           "misconfigured", "phrase_matches", "phrase_pattern"]

_CHOICES = ("block", "review", "warn", "info", "off")


def _choice(value: Any) -> Action | Literal["off"]:
    if value == "off":
        return "off"
    if not isinstance(value, str) or value not in _CHOICES:
        raise ValueError(f"give one of {', '.join(repr(c) for c in _CHOICES)}")
    return Action(value)


#: What ``action`` and ``actions.KIND`` take: an action (not ``redact``: a setting has no
#: spans to redact), or ``"off"`` for no finding.
Choice = Annotated[Action | Literal["off"], PlainValidator(_choice)]


class CheckConfig(BaseModel):
    """Base of a check's settings; subclasses set ``NAME`` and ``DEFAULTS`` (kind -> action)."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    NAME: ClassVar[str] = ""
    DEFAULTS: ClassVar[Mapping[str, Action]] = {}

    enabled: bool = True
    #: Who turned the check off, and why: required with ``enabled = false``, and recorded
    #: in the audit trail of every post reviewed without it.
    disabled_by: str | None = None
    reason: str | None = None
    action: Choice | None = None
    actions: dict[str, Choice] = {}

    @model_validator(mode="after")
    def _known_kinds(self) -> Self:
        if not self.enabled and not (self.disabled_by or "").strip():
            raise ValueError("disabled_by: say who turned the check off (a name or role; it "
                             "is recorded in the audit trail), with reason = \"...\"")
        unknown = sorted(set(self.actions) - set(self.DEFAULTS))
        if unknown:
            raise ValueError(f"actions.{unknown[0]}: no such kind of finding; the kinds are "
                             f"{', '.join(sorted(self.DEFAULTS))}")
        return self

    @classmethod
    def of(cls, settings: CheckSettings | Mapping[str, Any] | None) -> Self:
        """The settings for one post or draft; raises ``ConfigurationError`` naming the key.

        With a ``CheckSettings`` (the reviewer keeps one per brand, channel and campaign), once
        for it: every later draft and post takes the model the first one got."""
        if settings is None or _is_mapping(settings):
            return cls._of_table(settings or {})
        # Not a Mapping (``_is_mapping`` is the isinstance test, which mypy cannot follow).
        return settings.once(  # type: ignore[union-attr]
            cls, lambda: cls._of_table(settings.get(cls.NAME)))  # type: ignore[arg-type]

    @classmethod
    def _of_table(cls, table: Mapping[str, Any]) -> Self:
        try:
            key: Hashable = (cls, _frozen(table))
        except TypeError:  # a value that cannot be a key: validate it every time
            return cls._validated(table)
        found = _VALIDATED.get(key)
        if found is None:
            found = cls._validated(table)
            with _LOCK:
                if len(_VALIDATED) >= _KEEP:
                    _VALIDATED.clear()
                _VALIDATED[key] = found
        return found  # type: ignore[return-value]

    @classmethod
    def _validated(cls, table: Mapping[str, Any]) -> Self:
        problem: str | None = None
        try:
            return cls.model_validate(dict(table))
        except ValidationError as exc:
            problem = "; ".join(_describe(cls.NAME, err) for err in exc.errors())
        # Raised outside the except: pydantic's error quotes the input values.
        raise ConfigurationError(problem)

    @classmethod
    def read(cls, settings: CheckSettings | Mapping[str, Any] | None) -> Self | list[Finding]:
        """For a hook: the settings, or what the hook returns instead: ``[]`` when the check
        is off, a BLOCK naming the bad key when the table is wrong."""
        try:
            cfg = cls.of(settings)
        except ConfigurationError as exc:
            return [misconfigured(cls.NAME, exc)]
        return cfg if cfg.enabled else []

    def finding(self, kind: str, field: str, message: str, *,
                choice: Action | Literal["off"] | None = None,
                spans: tuple[Span, ...] = (), confidence: float | None = None
                ) -> Finding | None:
        """A finding ``NAME.kind`` with its configured action, or None when the kind is off.

        ``choice``, when given, wins over the settings (a check's own stricter rule).
        """
        chosen = choice or self.actions.get(kind) or self.action or self.DEFAULTS[kind]
        if chosen == "off":
            return None
        return Finding(action=Action(chosen), code=f"{self.NAME}.{kind}", field=field,
                       message=message[:500], spans=spans, confidence=confidence)


_MAPPINGS: dict[type, bool] = {}


def _is_mapping(value: object) -> TypeGuard[Mapping[str, Any]]:
    """``isinstance(value, Mapping)``, kept per type (every check of every draft asks it of
    the same ``CheckSettings``; the ABC's own test costs more)."""
    kind = type(value)
    known = _MAPPINGS.get(kind)
    if known is None:
        known = _MAPPINGS[kind] = isinstance(value, Mapping)
    return known


_VALIDATED: dict[Hashable, CheckConfig] = {}
_KEEP = 1024
_LOCK = threading.Lock()


def _frozen(value: Any) -> Hashable:
    """A key equal for equal settings values, their types included (``1`` is not ``True``);
    raises ``TypeError`` for a value that cannot be one."""
    if isinstance(value, Mapping):
        return ("map", tuple(sorted((_frozen(k), _frozen(v)) for k, v in value.items())))
    if isinstance(value, (list, tuple)):
        return (type(value).__name__, tuple(_frozen(v) for v in value))
    if isinstance(value, (str, int, float, bool)) or value is None:
        return (type(value).__name__, value)
    raise TypeError(type(value).__name__)


def misconfigured(name: str, exc: ConfigurationError) -> Finding:
    """The BLOCK a check returns when its settings are wrong: the post waits for a fix."""
    return Finding(action=Action.BLOCK, code=f"{name}.settings", message=str(exc)[:500])


def _describe(name: str, err: Any) -> str:
    loc = ".".join(str(p) for p in err["loc"])
    msg = str(err["msg"]).removeprefix("Value error, ")
    if not loc:  # a model validator's message starts with the key it is about
        loc, _, msg = msg.partition(": ") if re.match(r"[\w.]+: ", msg) else ("", "", msg)
    where = f"checks.{name}.{loc}" if loc else f"checks.{name}"
    if err["type"] == "extra_forbidden":
        msg = "unknown setting; check its spelling"
    return f"{where}: {msg}"


def draft_texts(draft: Draft) -> Iterator[tuple[str, str]]:
    """``(field, text)`` for the title and every part's text of a draft, in order."""
    if draft.title:
        yield "title", draft.title
    for i, part in enumerate(draft.parts):
        yield f"parts[{i}].text", part.text


@lru_cache(maxsize=4096)
def phrase_pattern(phrase: str) -> re.Pattern[str]:
    """``phrase`` as whole words, ignoring case; spaces and hyphens match each other.

    Compiled once per phrase: every draft of a fan-out checks the same phrases."""
    words = [re.escape(w) for w in re.split(r"[\s\-]+", phrase.strip()) if w]
    start = r"(?<!\w)" if phrase.strip()[:1].isalnum() else ""
    end = r"(?!\w)" if phrase.strip()[-1:].isalnum() else ""
    return re.compile(start + r"[\s\-]+".join(words) + end, re.IGNORECASE)


def has_phrase(text: str, phrase: str, *, low: str | None = None) -> bool:
    """Whether ``text`` holds ``phrase`` (see ``phrase_pattern``); an empty phrase is held.
    ``low``, when given, is ``fold(text)``."""
    if not phrase.strip():
        return True
    if not may_hold(text, _needle(phrase), low=low):
        return False
    return phrase_pattern(phrase).search(text) is not None


def phrase_matches(text: str, phrase: str, *, low: str | None = None
                   ) -> Iterator[re.Match[str]]:
    """Each match of ``phrase`` in ``text`` (see ``phrase_pattern``), none at once when the
    text cannot hold it (see ``may_hold``). ``low``, when given, is ``fold(text)``."""
    if may_hold(text, _needle(phrase), low=low):
        yield from phrase_pattern(phrase).finditer(text)


def may_hold(text: str, needles: tuple[str, ...], *, low: str | None = None) -> bool:
    """Whether ``text`` may match a pattern that ignores case and holds one of ``needles``
    (lower-case ASCII) in every match: False only for a text holding none of them, a test
    far cheaper than the pattern (ignoring case is only A-Z against a-z there, unless the
    text holds one of the four other letters that fold to ASCII: see ``fold``). ``low``,
    when given, is ``fold(text)``, computed once."""
    if not needles:
        return True
    low = fold(text) if low is None else low
    return low is None or any(map(low.__contains__, needles))  # map: cheaper than a generator


def held(needles: tuple[str, ...], low: str | None) -> tuple[str, ...]:
    """Those of ``needles`` (lower-case ASCII, as for ``may_hold``) that a text holds, given
    ``low``, its ``fold``: all of them when ``low`` is None. A part of the text (a clause,
    quotes straightened) holds none of the others, so ``may_hold`` on a part can be given
    these alone (a needle holding a quote, which straightening may make, is always kept)."""
    if low is None:
        return needles
    return tuple([n for n in needles if n in low or "'" in n or '"' in n])


@lru_cache(maxsize=4096)
def _needle(phrase: str) -> tuple[str, ...]:
    """The longest ASCII word of ``phrase`` as its pattern holds it, lower case: every match
    holds each word, and the longest is the likeliest to be missing ("partnership", not the
    "in" of "in partnership with")."""
    words = [w for w in re.split(r"[\s\-]+", phrase.strip()) if w and w.isascii()]
    return (max(words, key=len).lower(),) if words else ()
