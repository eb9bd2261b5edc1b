"""The report: its figures, the previous period, best times, and its JSON, CSV and HTML."""

from __future__ import annotations

import csv
import html
import io
import json
import re
from datetime import date, timedelta

import pytest
from typer.testing import CliRunner

from carecast.cli import app
from carecast.cli import commands as cli_commands
from carecast.errors import InvalidPost
from carecast.metrics import Collector, MetricsView
from carecast.report import build_report, report_csv, report_html, report_json
from carecast.report.render import CSP

from ._demo import PERIOD, demo


@pytest.fixture(scope="module")
def made(tmp_path_factory):
    pub, clock = demo(tmp_path_factory.mktemp("report"), campaign_name="=HYPERLINK(\"x\")<b>")
    yield pub, clock
    pub.close()


def report_of(made, **kw):
    pub, clock = made
    kw.setdefault("start", PERIOD.date())
    kw.setdefault("end", PERIOD.date() + timedelta(days=28))
    return build_report(MetricsView(Collector(pub).store), pub.config, now=clock.now(), **kw)


def test_totals_compare_with_the_period_before(made) -> None:
    report = report_of(made)
    now, before = report.totals.current, report.totals.previous
    assert (now.posts, before.posts) == (42, 42)  # 14 posts a period on 3 accounts
    assert now.reach > before.reach
    assert now.engagements > before.engagements
    assert report.totals.change("posts") == 0.0
    assert report.totals.change("reach") == round((now.reach - before.reach) / before.reach, 4)
    assert now.engagement_rate == round(now.engagements / now.reach, 6)
    assert report.previous_start == PERIOD.date() - timedelta(days=28)
    # per channel, campaign and brand, each with its own previous figures
    assert {c.key for c in report.brands} == {"riverside", "lakeside"}
    assert sum(c.current.posts for c in report.brands) == 42
    assert {c.key for c in report.campaigns} == {"checkups", "=HYPERLINK(\"x\")<b>"}
    assert [c.key for c in report.channels] == ["fake"]


def test_follower_growth_comes_from_the_daily_series(made) -> None:
    report = report_of(made, brand="riverside")
    # a and b each gained 3 a reading, one reading a day kept: 27 days of growth each
    assert report.totals.current.follower_growth == 2 * 3 * 3 * 27
    assert {p.account for p in report.followers} == {"a", "b"}
    assert report_of(made, brand="riverside", campaign="checkups").totals.current \
        .follower_growth is None  # a campaign has no followers of its own


def test_best_times_are_in_the_brand_time_zone(made) -> None:
    report = report_of(made, brand="riverside")
    assert report.timezone == "America/Chicago"
    assert {c.hour for c in report.best_times} == {9, 18}  # 14:00 and 23:00 UTC in CDT
    before = report_of(made, brand="riverside", start=PERIOD.date() - timedelta(days=28),
                       end=PERIOD.date())
    # 2027-03-14 moved Chicago's clocks on: the same UTC times are 8:00 and 17:00 before it
    assert {c.hour for c in before.best_times} == {8, 9, 17, 18}
    best = report.best_times[0]
    assert best.hour in (17, 18)  # evening posts engage three times as much
    assert best.engagement_rate is not None
    assert best.posts >= 2


def test_the_decay_curve_rises_after_publication(made) -> None:
    decay = report_of(made, start=PERIOD.date() - timedelta(days=28),
                      end=PERIOD.date()).decay["fake"]
    assert list(decay) == [3600, 86400, 604800, 2419200]
    values = list(decay.values())
    assert values == sorted(values)
    assert values[0] < values[-1]


def test_a_period_must_make_sense(made) -> None:
    with pytest.raises(InvalidPost, match="--from: give a day before --to"):
        report_of(made, start=date(2027, 4, 2), end=date(2027, 4, 1))
    with pytest.raises(InvalidPost, match="at most"):
        report_of(made, start=date(2020, 1, 1), end=date(2027, 4, 1))
    with pytest.raises(InvalidPost, match="--brand: 'nope'"):
        report_of(made, brand="nope")


def test_json_and_csv(made) -> None:
    report = report_of(made)
    data = json.loads(report_json(report))
    assert data["totals"]["current"]["posts"] == 42
    assert data["totals"]["change"]["reach"] == report.totals.change("reach")
    assert data["channels"][0]["change"]["reach"] == report.channels[0].change("reach")
    rows = list(csv.DictReader(io.StringIO(report_csv(report))))
    assert sum(r["level"] == "post" for r in rows) == 42
    total = next(r for r in rows if r["level"] == "all")
    assert int(total["reach"]) == report.totals.current.reach
    assert int(total["previous_reach"]) == report.totals.previous.reach
    # a campaign name a spreadsheet would run as a formula is quoted
    assert any(r["key"] == "'=HYPERLINK(\"x\")<b>" for r in rows if r["level"] == "campaign")
    assert not any(v.startswith("=") for r in rows for v in r.values() if v)


def test_the_page_is_self_contained_and_escaped(made) -> None:
    page = report_html(report_of(made))
    assert f'content="{CSP}"' in html.unescape(page)
    assert "script-src 'none'" in CSP
    assert "default-src 'none'" in CSP
    assert page.count("<svg") == 4
    assert "<script" not in page  # pygal's settings script is taken out
    assert not re.search(r"(?:src|href)=\"(?:https?:)?//", page)
    assert "<b>" not in page.replace("<body>", "")  # the campaign name is text, not markup
    assert "=HYPERLINK(&#34;x&#34;)&lt;b&gt;" in page


def test_the_cli_writes_every_format(made, tmp_path, monkeypatch) -> None:
    pub, _clock = made
    monkeypatch.setattr(cli_commands, "open_publisher", lambda _config: pub)
    monkeypatch.setattr(cli_commands, "_config", lambda _ctx: pub.config)
    monkeypatch.setattr(pub, "close", lambda: None)
    runner = CliRunner()
    period = ["--from", PERIOD.date().isoformat(),
              "--to", (PERIOD.date() + timedelta(days=28)).isoformat()]
    done = runner.invoke(app, ["report", *period, "--json"])
    assert done.exit_code == 0, done.output
    assert json.loads(done.stdout)["totals"]["current"]["posts"] == 42
    done = runner.invoke(app, ["report", *period, "--brand", "lakeside", "--csv"])
    assert done.exit_code == 0, done.output
    assert done.stdout.startswith("level,key,account")
    page = tmp_path / "r.html"
    done = runner.invoke(app, ["report", *period, "--html", str(page)])
    assert done.exit_code == 0, done.output
    assert page.read_text(encoding="utf-8").count("<svg") == 4
    done = runner.invoke(app, ["report", "--json", "--csv"])
    assert done.exit_code == 2
    assert "give one of --html FILE, --csv or --json" in done.output
    done = runner.invoke(app, ["report", "--from", "March", "--json"])
    assert done.exit_code == 2
    assert "--from: give a day such as 2027-03-01" in done.output
    done = runner.invoke(app, ["metrics", "show", "post-30", "--json"])
    assert done.exit_code == 0, done.output
    assert {s["account"] for s in json.loads(done.stdout)} == {"a", "b", "c"}
    done = runner.invoke(app, ["metrics", "collect", "--json"])
    assert done.exit_code == 0, done.output
    assert json.loads(done.stdout)["written"] == 0  # everything due was read already


def test_drawing_charts_leaves_no_import_finder_behind(made) -> None:
    """pygal adds a legacy ``sys.meta_path`` finder on import; it would turn every later
    failed import in the process into an ImportWarning."""
    import importlib
    import sys

    report_html(report_of(made))
    assert not [f for f in sys.meta_path if type(f).__module__ == "pygal"]
    with pytest.raises(ModuleNotFoundError):
        importlib.import_module("carecast_no_such_module_after_pygal")
