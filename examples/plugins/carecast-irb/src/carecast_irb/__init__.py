"""IRB disclaimer: a post that recruits people for research carries its IRB statement.

An example carecast compliance plugin. A post recruits when it speaks of a study, trial or
research and asks people to take part (enrol, volunteer, participate, sign up, be eligible, be
compensated). Such a post must say that an Institutional Review Board approved the study
(``IRB`` near "approved" or a protocol number, or the statement configured for the brand);
without it the post waits for a reviewer (``REVIEW``). Settings, merged per brand, channel and
campaign like the built-in checks'::

    [checks.irb]
    statement = "Approved by the Mercy IRB"   # accepted besides the generic IRB wording
    action = "block"                          # every finding of the check, or per kind:
    actions.missing = "review"
"""

from __future__ import annotations

import re
from typing import ClassVar

import carecast
from carecast.compliance import CheckConfig
from carecast.config import CheckSettings

__all__ = ["IrbSettings", "carecast_review_post", "recruits"]

_STUDY = re.compile(r"\b(stud(y|ies)|(clinical )?trials?|research)\b", re.IGNORECASE)
_ASK = re.compile(r"\b(enrol+(ing|ment|s|ed)?|volunteers?|participa(te|nts?|tion)|sign(ing)? up|"
                  r"eligible|recruit(ing|ment)?|join (our|the|a)|compensat(ed|ion)|"
                  r"take part)\b", re.IGNORECASE)
_STATEMENT = re.compile(r"\bIRB\b[^.\n]{0,60}\b(approv\w*|protocol|#\s*\d)|"
                        r"\b(approv\w*|reviewed) by\b[^.\n]{0,60}\b(IRB|institutional review "
                        r"board)\b", re.IGNORECASE)


class IrbSettings(CheckConfig):
    """``[checks.irb]``: the brand's own wording of the IRB statement."""

    NAME: ClassVar[str] = "irb"
    DEFAULTS: ClassVar[dict[str, carecast.Action]] = {"missing": carecast.Action.REVIEW}

    statement: str | None = None


def recruits(text: str) -> int | None:
    """Where the text asks people to take part in research (None if it does not)."""
    study, ask = _STUDY.search(text), _ASK.search(text)
    return min(study.start(), ask.start()) if study and ask else None


@carecast.hookimpl
def carecast_review_post(post: carecast.Post, settings: CheckSettings
                         ) -> list[carecast.Finding]:
    """REVIEW a recruiting post that carries no IRB statement."""
    cfg = IrbSettings.read(settings)
    if not isinstance(cfg, IrbSettings):  # off: [], or a BLOCK naming the bad setting
        return cfg
    places = [("text", post.text), ("title", post.title or "")]
    places += [(f"thread[{i}]", part) for i, part in enumerate(post.thread)]
    whole = "\n".join(text for _, text in places)
    if _STATEMENT.search(whole) or (cfg.statement and cfg.statement.casefold()
                                    in whole.casefold()):
        return []
    for field, text in places:
        at = recruits(text)
        if at is not None:
            finding = cfg.finding("missing", field, (
                f"{field} at {at}: recruits for research without the IRB statement; add "
                "that the study is IRB-approved (with its protocol number)"))
            return [finding] if finding is not None else []
    return []
