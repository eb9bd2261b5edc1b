"""SMS is not a secure channel: any text the PHI scanner flags, however unsure, is never texted.

The PHI guard weighs a finding by its context (a name in a role, a date of an event) and may
only warn on a public channel; a text message lands on a phone's lock screen and in a
carrier's logs, so for the ``sms`` channel every span ``phi.scan`` finds is a BLOCK, naming
where it is and never quoting it. The brand's own details and ``checks.phi.allow`` are not
flagged.
"""

from __future__ import annotations

from datetime import datetime

from carecast.config import AccountConfig, CheckSettings
from carecast.errors import ConfigurationError
from carecast.findings import Action, Finding
from carecast.hookspecs import hookimpl
from carecast.post import Draft, Post
from carecast.records import Records

__all__ = ["SMS", "carecast_review_draft"]

#: The channel this check applies to.
SMS = "sms"


@hookimpl
def carecast_review_draft(post: Post, draft: Draft, account: AccountConfig,
                          settings: CheckSettings, records: Records,
                          now: datetime) -> list[Finding]:
    """SMS is not a secure channel: any text the PHI scanner flags, however unsure, blocks
    the message (the brand's own details and allowed terms excepted)."""
    if account.channel != SMS or not settings.enabled(SMS):
        return []
    from carecast.compliance import phi
    from carecast.compliance.phi_guard import PhiSettings, allowed_terms

    brand = settings.config.brands.get(account.brand) if account.brand else None
    try:
        allow = allowed_terms(brand, PhiSettings.of(settings))
    except ConfigurationError:
        allow = ()
    findings: list[Finding] = []
    for index, part in enumerate(draft.parts):
        field = f"parts[{index}].text"
        for span in phi.scan(part.text, allow):
            findings.append(Finding(
                action=Action.BLOCK, code=f"sms.phi.{span.category.lower()}", field=field,
                check="sms",
                message=f"{field} at {span.start}-{span.end}: the PHI scanner flags this "
                        f"({span.category}, confidence {span.confidence:.2f}) and SMS is not "
                        "a secure channel, so it is never texted; remove it (or list a public "
                        "term in checks.phi.allow)"))
    return findings

