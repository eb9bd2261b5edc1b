"""The patient-consent registry: media showing a person go out only under a valid consent."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from pydantic import ValidationError

from carecast import Consent, InvalidPost, Post
from carecast.records import State
from carecast.testing import FrozenClock, fake_config

NOW = datetime(2026, 11, 21, 12, 0, tzinfo=UTC)


@pytest.fixture
def root(tmp_path: Path) -> Path:
    from PIL import Image

    Image.new("RGB", (32, 24), (90, 120, 200)).save(tmp_path / "ward-tour.jpg")
    Image.new("RGB", (32, 24), (200, 120, 90)).save(tmp_path / "other.jpg")
    return tmp_path


@pytest.fixture
def publisher(fake_publisher, root: Path):
    return fake_publisher(config=fake_config(["fb", "ig"], root=root), clock=FrozenClock(NOW))


def consent(**kw) -> Consent:
    values = {"id": "C-2026-014", "initials": "J.D.", "channels": ["fake"],
              "media": ["ward-tour.jpg"], "expires": NOW + timedelta(days=90)}
    values.update(kw)
    return Consent(**values)


def photo_post(**media) -> Post:
    item = {"source": "ward-tour.jpg", "alt_text": "A nurse with a patient on the ward",
            "consent": "C-2026-014"}
    item.update(media)
    return Post(text="Meet the team of our cardiac unit.", media=[item], targets=["fb"])


def blocked_codes(report) -> list[str]:
    return sorted({f.code for o in report.outcomes for f in o.findings if f.check == "consent"
                   if f.action == "block"})


def test_a_valid_consent_lets_the_photo_out(publisher) -> None:
    publisher.ledger.add_consent(consent())
    report = publisher.publish(photo_post())
    assert report.ok, report.outcomes
    assert publisher.platform.sends


@pytest.mark.parametrize(("setup", "post", "code"), [
    (None, photo_post(), "consent.unknown"),
    (consent(expires=NOW - timedelta(seconds=1)), photo_post(), "consent.expired"),
    (consent(channels=["instagram"]), photo_post(), "consent.scope"),
    (consent(media=["other.jpg"]), photo_post(), "consent.scope"),
    (None, photo_post(consent=None, people=True), "consent.missing"),
], ids=["missing", "expired", "other-channel", "other-media", "person-without-consent"])
def test_an_invalid_consent_blocks_the_media(publisher, setup, post, code) -> None:
    if setup is not None:
        publisher.ledger.add_consent(setup)
    report = publisher.publish(post)
    assert not report.ok
    assert report.outcomes[0].state == State.BLOCKED
    assert blocked_codes(report) == [code]
    assert publisher.platform.sends == []
    assert publisher.ledger.get_post(post.id) == post  # kept, and it says why
    row = publisher.ledger.attempt(post.id, "fb")
    assert row.state == State.BLOCKED
    assert [f.code for f in row.findings if f.check == "consent"] == [code]


def test_revocation_blocks_later_posts(publisher) -> None:
    publisher.ledger.add_consent(consent())
    assert publisher.publish(photo_post()).ok
    publisher.ledger.revoke_consent("C-2026-014", by="privacy office")
    later = photo_post(alt_text="The same nurse and patient, a week later")
    report = publisher.publish(later)
    assert blocked_codes(report) == ["consent.revoked"]
    assert len(publisher.platform.sends) == 1  # only the post before the revocation


def test_a_consent_can_cover_a_file_by_its_digest(publisher, root: Path) -> None:
    import hashlib

    digest = hashlib.sha256((root / "ward-tour.jpg").read_bytes()).hexdigest()
    publisher.ledger.add_consent(consent(media=[f"sha256:{digest}"], channels=["fb"]))
    assert publisher.publish(photo_post()).ok
    from PIL import Image

    Image.new("RGB", (32, 24), (10, 200, 10)).save(root / "ward-tour.jpg")  # same name
    report = publisher.publish(photo_post(alt_text="Changed photo"))
    assert blocked_codes(report) == ["consent.scope"]


def test_initials_only() -> None:
    assert consent(initials="J. D.").initials == "JD"
    with pytest.raises(ValidationError, match="initials only"):
        consent(initials="John Doe")
    with pytest.raises(ValidationError, match="timezone"):
        consent(expires=datetime(2027, 1, 1))


def test_a_consent_is_never_edited_in_place(publisher) -> None:
    publisher.ledger.add_consent(consent())
    with pytest.raises(InvalidPost, match="already recorded"):
        publisher.ledger.add_consent(consent(channels=["*"]))
    assert publisher.ledger.consent("C-2026-014").channels == ("fake",)
    kinds = [e.kind for e in publisher.ledger.audit_events("")]
    assert kinds == ["consent"]
    assert publisher.ledger.verify_audit() == []


def test_the_registry_holds_no_name(publisher) -> None:
    publisher.ledger.add_consent(consent())
    publisher.ledger.revoke_consent("C-2026-014")
    with publisher.ledger.engine.connect() as conn:
        dump = "\n".join(str(row) for table in ("carecast_consents", "carecast_audit")
                         for row in conn.exec_driver_sql(f"SELECT * FROM {table}"))
    assert "JD" in dump
    assert "John" not in dump
