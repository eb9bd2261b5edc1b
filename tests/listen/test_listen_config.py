"""``[listen]`` in carecast.toml: defaults, per-brand retention, and errors that name the
field."""

from __future__ import annotations

from pathlib import Path

import pytest

from carecast.config import Config
from carecast.errors import ConfigurationError


def test_defaults_and_a_brands_own_retention(tmp_path: Path) -> None:
    config = Config.from_dict({"listen": {"brands": {"lakeside": {"retention_days": 30}}}},
                              root=tmp_path)
    assert config.listen.retention("riverside") == 90
    assert config.listen.retention("lakeside") == 30
    assert config.listen.x_monthly_reads == 0  # X search is off until a budget is set
    assert config.listen.spikes.cooldown == 6 * 3600


@pytest.mark.parametrize(("listen", "field"), [
    ({"queries": {"Bad Name": {"terms": ["x"]}}}, "listen.queries"),
    ({"queries": {"brand": {"terms": []}}}, "listen.queries.brand.terms"),
    ({"queries": {"brand": {"terms": ["  "]}}}, "listen.queries.brand.terms"),
    ({"queries": {"brand": {"terms": ["x"], "kind": "rumour"}}}, "listen.queries.brand.kind"),
    ({"x_monthly_reads": -1}, "listen.x_monthly_reads"),
    ({"retention_days": 0}, "listen.retention_days"),
    ({"spikes": {"sensitivity": 0.5}}, "listen.spikes.sensitivity"),
    ({"colour": "red"}, "listen.colour"),
])
def test_a_bad_setting_names_its_field(tmp_path: Path, listen: dict[str, object],
                                       field: str) -> None:
    with pytest.raises(ConfigurationError, match=field.replace(".", r"\.")):
        Config.from_dict({"listen": listen}, root=tmp_path)
