"""Channel discovery through the carecast.channels entry-point group."""

from __future__ import annotations

from importlib.metadata import EntryPoint

import pytest

from carecast import ConfigurationError, UnknownChannelError
from carecast.channels import registry
from carecast.channels.webhook import WebhookChannel
from carecast.config import AccountConfig
from carecast.testing import FakeChannel


@pytest.fixture
def entry_points(monkeypatch):
    def install(*eps: EntryPoint) -> None:
        registry._entry_points.cache_clear()
        registry._load.cache_clear()
        monkeypatch.setattr(registry, "entry_points", lambda group: list(eps))

    yield install
    registry._entry_points.cache_clear()
    registry._load.cache_clear()


def _ep(name: str, value: str) -> EntryPoint:
    return EntryPoint(name=name, value=value, group=registry.GROUP)


def test_builtins_register_through_the_entry_point_group() -> None:
    assert {"blog", "outbox", "webhook"} <= set(registry.channel_names())
    assert registry.get_channel_class("webhook") is WebhookChannel


def test_two_packages_with_one_name_is_a_configuration_error(entry_points) -> None:
    entry_points(_ep("webhook", "carecast.channels.webhook:WebhookChannel"),
                 _ep("webhook", "other_pkg.hooks:Webhook"))
    with pytest.raises(ConfigurationError, match="two installed packages register"):
        registry.channel_names()


def test_the_same_entry_point_twice_is_fine(entry_points) -> None:
    ep = _ep("webhook", "carecast.channels.webhook:WebhookChannel")
    entry_points(ep, ep)
    assert registry.channel_names() == ["webhook"]


def test_broken_and_misnamed_plugins_are_explained(entry_points) -> None:
    entry_points(_ep("ghost", "no_such_module_xyz:Channel"),
                 _ep("wrongname", "carecast.channels.webhook:WebhookChannel"),
                 _ep("notachannel", "carecast.errors:CarecastError"))
    with pytest.raises(ConfigurationError, match="cannot be imported"):
        registry.get_channel_class("ghost")
    with pytest.raises(ConfigurationError, match="names must match"):
        registry.get_channel_class("wrongname")
    with pytest.raises(ConfigurationError, match="not a carecast Channel"):
        registry.get_channel_class("notachannel")


def test_unknown_channel_lists_what_is_installed() -> None:
    with pytest.raises(UnknownChannelError, match=r"another package.*installed: .*webhook") as e:
        registry.get_channel_class("tiktok")
    assert "carecast[" not in str(e.value)  # no carecast extra adds a channel


def test_a_misspelt_channel_names_the_one_meant() -> None:
    with pytest.raises(UnknownChannelError, match=r"did you mean 'outbox'\?") as e:
        registry.get_channel_class("outbx")
    assert "carecast[outbx]" not in str(e.value)


def test_extra_classes_and_conflicts() -> None:
    assert registry.get_channel_class("fake", {"fake": FakeChannel}) is FakeChannel
    with pytest.raises(ConfigurationError, match="already installed"):
        registry.get_channel_class("webhook", {"webhook": FakeChannel})


def test_build_channel_validates_options() -> None:
    account = AccountConfig(name="intranet", channel="webhook", options={"urll": "https://x"})
    with pytest.raises(ConfigurationError) as info:
        registry.build_channel(account)
    message = str(info.value)
    assert "accounts.intranet.urll: unknown option" in message
    assert "accounts.intranet.url: required" in message
    assert "CARECAST_ACCOUNTS__INTRANET__URL" in message
