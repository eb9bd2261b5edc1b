"""carecast.toml loading, secrets from the environment and a secrets file."""

from __future__ import annotations

import pytest

from carecast import ConfigurationError
from carecast.config import Config, load_config
from carecast.settings import Settings

BASE = """
[store]
url = "sqlite:///data/carecast.db"

[brands.stmarys]
name = "St Mary's Hospital"

[accounts.intranet]
channel = "webhook"
brand = "stmarys"
url = "https://intranet.example.org/hook"
"""


def test_load_config_resolves_relative_store_path(tmp_path) -> None:
    path = tmp_path / "carecast.toml"
    path.write_text(BASE)
    config = load_config(path, settings=Settings(_env_file=None))
    assert config.root == tmp_path
    assert config.store_url() == f"sqlite:///{tmp_path}/data/carecast.db"
    account = config.accounts["intranet"]
    assert account.channel == "webhook"
    assert account.options == {"url": "https://intranet.example.org/hook"}
    assert config.default_brand() == "stmarys"


def test_env_secret_overrides_file_and_secrets_file(tmp_path) -> None:
    secrets = {"accounts": {"intranet": {"secret": "from-file", "url": "https://s.example"}}}
    config = Config.from_dict(
        _toml(BASE), root=tmp_path, secrets=secrets,
        environ={"CARECAST_ACCOUNTS__INTRANET__SECRET": "from-env"},
    )
    options = config.accounts["intranet"].options
    assert options["secret"] == "from-env"
    assert options["url"] == "https://s.example"


def test_account_names_with_dashes_map_to_underscores(tmp_path) -> None:
    data = {"accounts": {"x-main": {"channel": "webhook"}}}
    config = Config.from_dict(data, environ={"CARECAST_ACCOUNTS__X_MAIN__URL": "https://h"})
    assert config.accounts["x-main"].options["url"] == "https://h"


def test_env_for_unknown_account_is_an_error() -> None:
    with pytest.raises(ConfigurationError, match="names no account"):
        Config.from_dict(_toml(BASE), environ={"CARECAST_ACCOUNTS__NOPE__URL": "x"})


def test_options_never_in_repr() -> None:
    config = Config.from_dict(_toml(BASE), environ={
        "CARECAST_ACCOUNTS__INTRANET__SECRET": "hunter2-secret"})
    assert "hunter2-secret" not in repr(config)
    assert "hunter2-secret" not in repr(config.accounts["intranet"])


@pytest.mark.parametrize(("data", "message"), [
    ({"stores": {}}, "unknown section 'stores'"),
    ({"accounts": {"Bad Name": {"channel": "blog"}}}, "accounts.Bad Name.name"),
    ({"accounts": {"a": {"brand": "zz", "channel": "blog"}}}, "accounts.a.brand names 'zz'"),
    ({"accounts": {"a": {}}}, "accounts.a.channel"),
    ({"publish": {"concurrency": 0}}, "publish.concurrency"),
    ({"publish": {"concurency": 3}}, "publish.concurency: unknown setting"),
])
def test_bad_config_names_the_field(data, message: str) -> None:
    with pytest.raises(ConfigurationError, match=message.replace(".", r"\.")):
        Config.from_dict(data, environ={})


def test_missing_and_broken_files(tmp_path) -> None:
    with pytest.raises(ConfigurationError, match="no such file"):
        load_config(tmp_path / "nope.toml", settings=Settings(_env_file=None))
    bad = tmp_path / "bad.toml"
    bad.write_text("[store\n")
    with pytest.raises(ConfigurationError, match="not valid TOML"):
        load_config(bad, settings=Settings(_env_file=None))


def test_broken_secrets_file_does_not_echo_its_contents(tmp_path) -> None:
    path = tmp_path / "carecast.toml"
    path.write_text(BASE)
    secrets = tmp_path / "secrets.toml"
    secrets.write_text('[accounts.intranet]\nsecret = "s3cr3t-value\n')
    with pytest.raises(ConfigurationError) as info:
        load_config(path, settings=Settings(secrets_file=secrets))
    assert "s3cr3t" not in str(info.value)


def test_settings_store_url_override(tmp_path, monkeypatch) -> None:
    path = tmp_path / "carecast.toml"
    path.write_text(BASE)
    monkeypatch.setenv("CARECAST_STORE_URL", "sqlite:///:memory:")
    assert load_config(path).store_url() == "sqlite:///:memory:"


def _toml(text: str) -> dict:
    import tomllib

    return tomllib.loads(text)
