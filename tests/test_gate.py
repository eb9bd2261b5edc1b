"""The gate applies findings: BLOCK, REVIEW, REDACT (with spans), WARN and INFO."""

from __future__ import annotations

from carecast import Action, Finding, Post, Span
from carecast.post import Draft, Media, Part
from carecast.publish.gate import apply_findings


def _f(action: Action, field: str = "*", spans=(), code: str = "t.x") -> Finding:
    return Finding(action=action, code=code, message="at a place", field=field, spans=spans)


def _draft(text: str) -> Draft:
    return Draft(post_id="p", account="a", channel="c", parts=(
        Part(text=text, length=len(text), media=(Media(source="a.jpg", alt_text="Jane Roe"),)),
        Part(text="second", length=6),
    ))


def test_block_and_review_are_reported() -> None:
    result = apply_findings(Post(text="x"), [_f(Action.WARN), _f(Action.BLOCK)])
    assert result.blocked
    assert not result.needs_review
    assert [f.action for f in result.findings] == [Action.BLOCK, Action.WARN]  # strongest first
    held = apply_findings(Post(text="x"), [_f(Action.REVIEW), _f(Action.INFO)])
    assert held.needs_review
    assert not held.blocked


def test_redact_rewrites_post_text_spans_right_to_left() -> None:
    post = Post(text="Call 555-0100 or 555-0199 today")
    result = apply_findings(post, [_f(Action.REDACT, "text", [
        {"start": 5, "end": 13}, {"start": 17, "end": 25, "replacement": "[phone]"}])])
    assert result.item.text == "Call [redacted] or [phone] today"
    assert not result.blocked
    assert post.text == "Call 555-0100 or 555-0199 today"  # the original is untouched


def test_redact_draft_part_recounts_length() -> None:
    draft = _draft("Patient Jane Roe is home")
    result = apply_findings(draft, [_f(Action.REDACT, "parts[0].text", [{"start": 8, "end": 16}])],
                            count=len)
    part = result.item.parts[0]
    assert part.text == "Patient [redacted] is home"
    assert part.length == len(part.text)
    assert result.item.parts[1].text == "second"


def test_redact_nested_alt_text() -> None:
    result = apply_findings(_draft("x"), [_f(Action.REDACT, "parts[0].media[0].alt_text",
                                             [{"start": 0, "end": 8}])])
    assert result.item.parts[0].media[0].alt_text == "[redacted]"


def test_redaction_that_does_not_fit_blocks() -> None:
    past_end = apply_findings(Post(text="short"), [_f(Action.REDACT, "text",
                                                       [{"start": 2, "end": 50}])])
    assert past_end.blocked
    assert past_end.findings[0].code == "review.bad_redaction"
    overlap = apply_findings(Post(text="0123456789"), [_f(Action.REDACT, "text", [
        {"start": 0, "end": 5}, {"start": 3, "end": 7}])])
    assert not overlap.blocked  # overlapping spans are joined: the union is redacted
    assert overlap.item.text == "[redacted]789"
    missing_field = apply_findings(Post(text="x"), [_f(Action.REDACT, "parts[3].text",
                                                      [{"start": 0, "end": 1}])])
    assert missing_field.blocked


def test_redactions_of_several_checks_use_the_text_as_reviewed() -> None:
    """Two checks, two spans in one field: the second is not shifted by the first, and
    overlapping spans are joined."""
    post = Post(text="Call 555-0100 or write to jo@example.org today")
    phone = Finding(action=Action.REDACT, code="phi.phone", field="text", message="text at 5",
                    spans=(Span(start=5, end=13),))
    email = Finding(action=Action.REDACT, code="phi.email", field="text", message="text at 26",
                    spans=(Span(start=26, end=40),))
    overlap = Finding(action=Action.REDACT, code="x.other", field="text", message="text at 9",
                      spans=(Span(start=9, end=16),))
    assert apply_findings(post, [phone, email]).item.text == \
        "Call [redacted] or write to [redacted] today"
    assert apply_findings(post, [phone, overlap]).item.text == \
        "Call [redacted] write to jo@example.org today"
