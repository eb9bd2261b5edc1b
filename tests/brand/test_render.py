"""The report as a rich table and as JSON: platform text is shown as it is, never as markup."""

from __future__ import annotations

import json

from rich.console import Console

from carecast.brand import AccountReport, BrandReport, FieldCheck, Status, report_table

REPORT = BrandReport(brand="r", name="Riverside General", accounts=(
    AccountReport(account="main", channel="x", handle="@rg", checks=(
        FieldCheck(field="name", status=Status.MATCH, live="Riverside General",
                   expected="Riverside General"),
        FieldCheck(field="description", status=Status.DRIFT, live="[bold]Old[/bold] bio",
                   expected="Care.", fix="Care.", note="12% alike", majority=True),
    )),
    AccountReport(account="gone", channel="mastodon", error="Mastodon refused the token"),
))


def test_counts_and_json() -> None:
    assert REPORT.counts() == {"match": 1, "drift": 1, "missing": 0, "error": 1}
    data = json.loads(json.dumps(REPORT.to_dict()))
    assert data["drift"] is True
    assert data["accounts"][0]["checks"][1]["majority"] is True
    assert REPORT.accounts[0].check("website") is None
    assert not BrandReport(brand="r", name="R").drift


def test_table_prints_platform_text_as_is() -> None:
    console = Console(width=200, record=True)
    console.print(report_table(REPORT))
    text = console.export_text()
    assert "[bold]Old[/bold] bio" in text
    assert "majority of the accounts" in text
    assert "Mastodon refused the token" in text
