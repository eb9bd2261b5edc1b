"""The settings every built-in check shares: merged per brand, channel and campaign."""

from __future__ import annotations

import pytest

from carecast import Action
from carecast.compliance import advice, policy
from carecast.compliance._settings import CheckConfig
from carecast.errors import ConfigurationError

from ._helpers import codes, config, draft, review

MIRACLE = "A miracle cure for knee pain, guaranteed."


def test_defaults_apply_without_any_table() -> None:
    found = review(policy, draft(MIRACLE))
    assert codes(found) == ["policy.claim:review"] * 3


def test_action_and_actions_the_most_specific_wins() -> None:
    cfg = config({"policy": {"action": "warn", "actions": {"claim": "block"}}})
    assert {f.action for f in review(policy, draft(MIRACLE), cfg)} == {Action.BLOCK}
    cfg = config({"policy": {"action": "warn"}})
    assert {f.action for f in review(policy, draft(MIRACLE), cfg)} == {Action.WARN}
    cfg = config({"policy": {"actions": {"claim": "off"}}})
    assert review(policy, draft(MIRACLE), cfg) == []


def test_brand_channel_and_campaign_tables_merge() -> None:
    cfg = config(
        {"policy": {"enabled": True,
                    "channels": {"blog": {"enabled": False, "disabled_by": "Compliance office"}},
                    "campaigns": {"fundraiser": {"allow": ["miracle cure"]}}}},
        brand_checks={"policy": {"banned": ["miracle cure"]}},
        accounts={"web": "fake"})
    assert codes(review(policy, draft(MIRACLE), cfg)) == ["policy.claim:review"]
    assert review(policy, draft(MIRACLE), cfg, campaign="fundraiser") == []
    assert review(policy, draft(MIRACLE, channel="blog"), cfg) == []


@pytest.mark.parametrize(("table", "key"), [
    ({"action": "maybe"}, "checks.advice.action"),
    ({"actions": {"nonsense": "warn"}}, "checks.advice.actions.nonsense"),
    ({"country": "FR"}, "checks.advice.country"),
    ({"crisis_line": "988"}, "checks.advice.crisis_line"),
    ({"education": True}, "checks.advice.disclaimer"),
    ({"enabled": "sometimes"}, "checks.advice.enabled"),
])
def test_bad_settings_block_naming_the_key(table: dict[str, object], key: str) -> None:
    found = review(advice, draft("Flu shots on Saturday."), config({"advice": table}))
    assert codes(found) == ["advice.settings:block"]
    assert found[0].message.startswith(key), found[0].message
    assert "sometimes" not in found[0].message  # settings errors never quote the value


def test_of_raises_a_configuration_error_for_library_callers() -> None:
    class Mine(CheckConfig):
        NAME = "mine"
        DEFAULTS = {"thing": Action.WARN}

    assert Mine.of({"actions": {"thing": "off"}}).finding("thing", "*", "m") is None
    with pytest.raises(ConfigurationError, match=r"checks\.mine\.colour: unknown setting"):
        Mine.of({"colour": "red"})
