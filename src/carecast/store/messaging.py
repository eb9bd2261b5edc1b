"""Text-message consents and per-recipient sends, beside the ledger in the same database.

A number is texted only while it holds a live opt-in (``MessagingConsent``) for the brand.
Every opt-in, revocation and settled send is an event of the ledger's keyed, hash-chained
audit trail, written in the same transaction as the row it records; events name a number by
its keyed reference (``number_ref``), never the number.

Sends are kept per (target key, number): a row is claimed (``sending``) and committed before
the message leaves, and settled (``sent`` with Twilio's message SID, or ``failed``) after.
A row left ``sending`` or ``unknown`` (a crash, a timeout) is looked up on the platform before
that number is texted again, so a fan-out texts each recipient once.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import sqlalchemy as sa

from carecast.consent import MessagingConsent, number_ref
from carecast.store.ledger import Ledger

__all__ = ["Messaging", "SmsResult", "SmsSend"]

metadata = sa.MetaData()
_TS = sa.DateTime(timezone=True)
sms_consents = sa.Table(
    "carecast_sms_consents", metadata,
    sa.Column("number", sa.String(20), primary_key=True),
    sa.Column("brand", sa.String(100), primary_key=True),
    sa.Column("body", sa.Text, nullable=False),
    sa.Column("live", sa.Boolean, nullable=False),
    sa.Column("updated_at", _TS, nullable=False),
)
sms_sends = sa.Table(
    "carecast_sms_sends", metadata,
    sa.Column("key", sa.String(200), primary_key=True),
    sa.Column("number", sa.String(20), primary_key=True),
    sa.Column("account", sa.String(100), nullable=False),
    #: sending | sent | unknown | failed | refused (a permanent refusal for this number)
    sa.Column("state", sa.String(16), nullable=False),
    sa.Column("sid", sa.String(64), nullable=True, index=True),
    #: Twilio's status of the message (queued, sent, delivered, undelivered, failed...).
    sa.Column("status", sa.String(24), nullable=True),
    sa.Column("error_code", sa.Integer, nullable=True),
    sa.Column("claimed_at", _TS, nullable=False),
    sa.Column("updated_at", _TS, nullable=False),
)
#: States after which a number is never texted again for the same key.
FINAL = frozenset({"sent", "refused"})
#: States whose message may be on the platform: looked up before any resend.
UNCERTAIN = frozenset({"sending", "unknown"})
_CHUNK = 500
_bp = sa.bindparam
#: Built once: one ``executemany`` settles a whole batch.
_SETTLE = sms_sends.update().where(
    sms_sends.c.key == _bp("k_key"), sms_sends.c.number == _bp("k_number")).values(
    state=_bp("v_state"), sid=_bp("v_sid"), status=_bp("v_status"),
    error_code=_bp("v_code"), updated_at=_bp("v_at"))


@dataclass(frozen=True)
class SmsSend:
    """One recipient's row of one fan-out."""

    key: str
    number: str
    account: str
    state: str
    sid: str | None
    status: str | None
    error_code: int | None
    claimed_at: datetime

    def __repr__(self) -> str:
        return (f"SmsSend(key={self.key!r}, number='…{self.number[-2:]}', state={self.state!r},"
                f" sid={self.sid!r}, status={self.status!r})")


@dataclass(frozen=True)
class SmsResult:
    """What one send ended in, for ``Messaging.settle``."""

    number: str
    state: str
    sid: str | None = None
    status: str | None = None
    error_code: int | None = None


class Messaging:
    """Messaging consents and SMS sends in ``ledger``'s database, audited in its chain."""

    def __init__(self, ledger: Ledger) -> None:
        self.ledger = ledger
        self.clock = ledger.clock
        if not ledger.readonly:
            metadata.create_all(ledger.engine)

    def __repr__(self) -> str:
        return f"<Messaging {self.ledger!r}>"

    def ref(self, number: str) -> str:
        """The number's reference in audit events and messages."""
        return number_ref(self.ledger.export_key(), number)

    # -- consents ----------------------------------------------------------------------------

    def opt_in(self, consents: MessagingConsent | Iterable[MessagingConsent]) -> int:
        """Record opt-ins (a number already opted in to the brand is renewed); how many."""
        items = [consents] if isinstance(consents, MessagingConsent) else list(consents)
        now = self.clock.now()
        with self.ledger._write() as conn:
            for start in range(0, len(items), _CHUNK):
                chunk = items[start:start + _CHUNK]
                keys = [(c.number, c.brand) for c in chunk]
                conn.execute(sms_consents.delete().where(
                    sa.tuple_(sms_consents.c.number, sms_consents.c.brand).in_(keys)))
                conn.execute(sms_consents.insert(), [
                    {"number": c.number, "brand": c.brand, "body": c.model_dump_json(),
                     "live": c.live, "updated_at": now} for c in chunk])
                for c in chunk:
                    self.ledger._append(conn, "", "", "sms_opt_in", {
                        "number": self.ref(c.number), "brand": c.brand, "how": c.how,
                        "given_at": c.given_at.isoformat()})
        return len(items)

    def opt_out(self, number: str, *, how: str, brand: str | None = None) -> list[str]:
        """Revoke the number's live opt-ins (to ``brand``, or to every brand); the brands
        revoked. Every later send to the number is refused."""
        now = self.clock.now()
        revoked: list[str] = []
        with self.ledger._write() as conn:
            query = sa.select(sms_consents.c.body).where(
                sms_consents.c.number == number, sms_consents.c.live.is_(True))
            if brand is not None:
                query = query.where(sms_consents.c.brand == brand)
            for (body,) in conn.execute(query).all():
                consent = MessagingConsent.model_validate_json(body).model_copy(
                    update={"revoked_at": now, "revoked_how": how[:200]})
                conn.execute(sms_consents.update().where(
                    sms_consents.c.number == number, sms_consents.c.brand == consent.brand
                ).values(body=consent.model_dump_json(), live=False, updated_at=now))
                self.ledger._append(conn, "", "", "sms_opt_out", {
                    "number": self.ref(number), "brand": consent.brand, "how": how[:200]})
                revoked.append(consent.brand)
        return revoked

    def consent(self, number: str, brand: str) -> MessagingConsent | None:
        """The number's consent record for ``brand``, live or revoked, or None."""
        with self.ledger._tx() as conn:
            body = conn.execute(sa.select(sms_consents.c.body).where(
                sms_consents.c.number == number, sms_consents.c.brand == brand)).scalar()
        return MessagingConsent.model_validate_json(body) if body is not None else None

    def live(self, brand: str) -> list[MessagingConsent]:
        """Every number with a live opt-in to ``brand``, by number."""
        with self.ledger._tx() as conn:
            rows = conn.execute(sa.select(sms_consents.c.body).where(
                sms_consents.c.brand == brand, sms_consents.c.live.is_(True))
                .order_by(sms_consents.c.number)).all()
        return [MessagingConsent.model_validate_json(r[0]) for r in rows]

    # -- sends -------------------------------------------------------------------------------

    def sends(self, key: str) -> dict[str, SmsSend]:
        """The rows of fan-out ``key`` by number."""
        with self.ledger._tx() as conn:
            rows = conn.execute(sa.select(sms_sends).where(sms_sends.c.key == key)).all()
        return {r.number: _send(r) for r in rows}

    def claim(self, key: str, account: str, brand: str, numbers: Sequence[str]) -> list[str]:
        """Claim ``numbers`` for fan-out ``key`` (``sending``, committed before any text
        leaves): the numbers claimed, those still opted in to ``brand`` at this moment and
        without a final row. An uncertain row is not claimed here: reconcile it first."""
        now = self.clock.now()
        claimed: list[str] = []
        with self.ledger._write() as conn:
            for start in range(0, len(numbers), _CHUNK):
                chunk = list(numbers[start:start + _CHUNK])
                opted = {r[0] for r in conn.execute(sa.select(sms_consents.c.number).where(
                    sms_consents.c.brand == brand, sms_consents.c.live.is_(True),
                    sms_consents.c.number.in_(chunk)))}
                held = {r.number: r.state for r in conn.execute(
                    sa.select(sms_sends.c.number, sms_sends.c.state).where(
                        sms_sends.c.key == key, sms_sends.c.number.in_(chunk)))}
                fresh = [n for n in chunk if n in opted and n not in held]
                again = [n for n in chunk if n in opted and held.get(n) == "failed"]
                if fresh:
                    conn.execute(sms_sends.insert(), [
                        {"key": key, "number": n, "account": account, "state": "sending",
                         "claimed_at": now, "updated_at": now} for n in fresh])
                if again:
                    conn.execute(sms_sends.update().where(
                        sms_sends.c.key == key, sms_sends.c.number.in_(again)).values(
                        state="sending", claimed_at=now, updated_at=now))
                claimed += fresh + again
        return claimed

    def settle(self, key: str, outcomes: Sequence[SmsResult]) -> None:
        """Record what each send ended in; each message sent is an audit event."""
        if not outcomes:
            return
        now = self.clock.now()
        with self.ledger._write() as conn:
            conn.execute(_SETTLE, [
                {"k_key": key, "k_number": o.number, "v_state": o.state, "v_sid": o.sid,
                 "v_status": o.status, "v_code": o.error_code, "v_at": now}
                for o in outcomes])
            sent = [o for o in outcomes if o.state in FINAL]
            if sent:
                self.ledger._append(conn, "", "", "sms_sent", {
                    "key": key, "messages": [
                        {"number": self.ref(o.number), "state": o.state, "sid": o.sid,
                         "code": o.error_code} for o in sent]})

    def record_status(self, sid: str, status: str, error_code: int | None) -> SmsSend | None:
        """A status callback: the message's receipt status (None if no send has ``sid``).
        A status never goes back (a late 'sent' after 'delivered' is ignored)."""
        now = self.clock.now()
        with self.ledger._write() as conn:
            row = conn.execute(sa.select(sms_sends).where(sms_sends.c.sid == sid)).first()
            if row is None:
                return None
            if _RANK.get(status, 0) < _RANK.get(row.status or "", 0):
                return _send(row)
            conn.execute(sms_sends.update().where(
                sms_sends.c.key == row.key, sms_sends.c.number == row.number).values(
                status=status, error_code=error_code, updated_at=now))
            self.ledger._append(conn, "", "", "sms_status", {
                "sid": sid, "status": status, "code": error_code})
            updated = conn.execute(sa.select(sms_sends).where(
                sms_sends.c.key == row.key, sms_sends.c.number == row.number)).one()
        return _send(updated)

    def count(self, key: str) -> dict[str, int]:
        """Rows of fan-out ``key`` per state."""
        with self.ledger._tx() as conn:
            rows = conn.execute(sa.select(sms_sends.c.state, sa.func.count())
                                .where(sms_sends.c.key == key)
                                .group_by(sms_sends.c.state)).all()
        return {str(s): int(n) for s, n in rows}


#: Twilio's statuses in the order a message moves through them.
_RANK = {"accepted": 1, "scheduled": 1, "queued": 2, "sending": 3, "sent": 4,
         "failed": 5, "undelivered": 5, "delivered": 6, "read": 7}


def _send(row: Any) -> SmsSend:
    return SmsSend(row.key, row.number, row.account, row.state, row.sid, row.status,
                   row.error_code, row.claimed_at)
