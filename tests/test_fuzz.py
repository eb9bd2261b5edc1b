"""Fuzzers over every file and dict entry point: posts, configs and audit exports.

Each example must end under a deadline with a result or a carecast (or pydantic validation)
error, never another exception, and a refused post must leave no store behind. The default
run is short; ``CARECAST_FUZZ=large`` runs many more examples.
"""

from __future__ import annotations

import json
import os
import tempfile
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from pydantic import ValidationError
from typer.testing import CliRunner

from carecast import CarecastError, Config, ConfigurationError, InvalidPost, Post, load_config
from carecast.cli import app
from carecast.post import load_post, post_from_dict
from carecast.settings import Settings

ALLOWED = (CarecastError, ValidationError)
LARGE = os.environ.get("CARECAST_FUZZ") == "large"
FUZZ = settings(max_examples=2000 if LARGE else 25, deadline=timedelta(seconds=5),
                suppress_health_check=[HealthCheck.function_scoped_fixture,
                                       HealthCheck.too_slow, HealthCheck.data_too_large])
FEW = settings(FUZZ, max_examples=300 if LARGE else 5)

SUFFIXES = (".yaml", ".yml", ".json", ".toml")


def nested(depth: int, kind: str) -> Any:
    value: Any = "x"
    for _ in range(depth):
        value = {"k": value} if kind == "dict" else [value]
    return value


#: Text that parsers find hard: deep nesting, aliases, odd bytes, huge numbers.
hostile_text = st.one_of(
    st.binary(max_size=300).map(lambda b: b.decode("latin-1")),
    st.text(max_size=200),
    st.integers(1, 3000).map(lambda n: "[" * n + "]" * n),
    st.integers(1, 3000).map(lambda n: '{"a":' * n + "1" + "}" * n),
    st.integers(1, 400).map(lambda n: "a:\n" + "".join("  " * i + "- \n" for i in range(n))),
    st.just("a: &a [x, x]\nb: &b [*a, *a]\nc: [*b, *b]\ntext: hi\n"),
    st.just("text: !!python/object/apply:os.system ['true']\n"),
    st.just('text = "hi"\n' + "[a]\n" * 50),
    st.just('{"text": 1e999999}'),
    st.just('{"text": "' + "9" * 5000 + '"}'),
    st.integers(1, 300).map(lambda n: json.dumps(
        {"text": "hi", "overrides": {"x": {"options": {"o": nested(n, "dict")}}}})),
    st.integers(1, 300).map(lambda n: json.dumps(
        {"text": "hi", "overrides": {"x": {"options": {"o": nested(n, "list")}}}})),
)

json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=20),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=10), inner,
                                                                 max_size=4),
    max_leaves=25)
deep_values = st.builds(nested, st.integers(0, 400), st.sampled_from(["dict", "list"]))


def _answer(fn: Any) -> Any:
    try:
        return fn()
    except ALLOWED as exc:
        return exc


def _reads_back(post: Post) -> None:
    """A post that validates can be stored and read back as it was."""
    assert Post.model_validate_json(post.model_dump_json()) == post


# -- posts -----------------------------------------------------------------------------------

@FUZZ
@given(text=hostile_text, suffix=st.sampled_from(SUFFIXES))
def test_a_post_file_gives_a_post_or_invalid_post(text: str, suffix: str) -> None:
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / f"post{suffix}"
        path.write_bytes(text.encode("utf-8", "surrogatepass"))
        result = _answer(lambda: load_post(path))
    assert isinstance(result, Post | InvalidPost), repr(result)
    if isinstance(result, Post):
        _reads_back(result)


@FUZZ
@given(data=st.dictionaries(st.sampled_from(sorted(Post.model_fields)), json_values | deep_values,
                            max_size=5),
       options=json_values | deep_values)
def test_a_post_dict_gives_a_post_or_invalid_post(data: dict[str, Any], options: Any) -> None:
    data = {"text": "hi", **data, "overrides": {"x": {"options": {"o": options}}}}
    result = _answer(lambda: post_from_dict(data))
    assert isinstance(result, Post | InvalidPost), repr(result)
    if isinstance(result, Post):
        _reads_back(result)


@pytest.mark.parametrize("special", ["/dev/zero", "/dev/urandom", "fifo"])
@pytest.mark.parametrize("suffix", [".yaml", ".json"])
def test_special_post_files_are_refused(tmp_path: Path, special: str, suffix: str) -> None:
    path = tmp_path / f"post{suffix}"
    if special == "fifo":
        os.mkfifo(path)
    else:
        path.symlink_to(special)
    with pytest.raises(InvalidPost, match=r"a FIFO|a character device"):
        load_post(path)


# -- configuration ---------------------------------------------------------------------------

@FUZZ
@given(text=hostile_text)
def test_a_config_file_gives_a_config_or_configuration_error(text: str) -> None:
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "carecast.toml"
        path.write_bytes(text.encode("utf-8", "surrogatepass"))
        result = _answer(lambda: load_config(path, settings=Settings()))
    assert isinstance(result, Config | ConfigurationError), repr(result)


sections = st.sampled_from(["store", "publish", "brands", "accounts", "checks", "approvals",
                            "media", "other"])


@FUZZ
@given(data=st.dictionaries(sections, json_values | deep_values, max_size=4),
       media=st.dictionaries(st.sampled_from(["roots", "allow_hosts", "max_bytes", "max_pixels",
                                              "hard_links", "bogus"]), json_values, max_size=4))
def test_a_config_dict_gives_a_config_or_configuration_error(
        data: dict[str, Any], media: dict[str, Any]) -> None:
    result = _answer(lambda: Config.from_dict({**data, "media": media}, environ={}))
    assert isinstance(result, Config | ConfigurationError), repr(result)
    if isinstance(result, Config):
        result.media_rules()


# -- audit exports and the CLI: a refusal stores nothing ---------------------------------------

export_lines = st.lists(
    st.one_of(hostile_text, st.dictionaries(
        st.sampled_from(["seq", "at", "kind", "post_id", "account", "data", "prev", "hash"]),
        json_values, max_size=8).map(json.dumps)), max_size=4).map("\n".join)


@FEW
@given(text=export_lines)
def test_audit_verify_file_never_crashes(text: str) -> None:
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "export.jsonl"
        path.write_bytes(text.encode("utf-8", "surrogatepass"))
        result = CliRunner().invoke(app, ["audit", "verify", "--file", str(path)],
                                    env={"CARECAST_CONFIG": str(Path(folder) / "none.toml")})
    assert result.exception is None or isinstance(result.exception, SystemExit), \
        repr(result.exception)
    assert result.exit_code in (0, 1, 2)


@FEW
@given(text=hostile_text, suffix=st.sampled_from(SUFFIXES))
def test_cli_publish_of_a_refused_post_stores_nothing(text: str, suffix: str) -> None:
    with tempfile.TemporaryDirectory() as folder:
        root = Path(folder)
        (root / "carecast.toml").write_text(
            '[store]\nurl = "sqlite:///state.db"\n[accounts.out]\nchannel = "outbox"\n'
            'path = "outbox.jsonl"\n')
        post = root / f"post{suffix}"
        post.write_bytes(text.encode("utf-8", "surrogatepass"))
        result = CliRunner().invoke(app, ["--config", str(root / "carecast.toml"), "publish",
                                          str(post)])
        assert result.exception is None or isinstance(result.exception, SystemExit), \
            repr(result.exception)
        if result.exit_code == 2:  # refused: not a post, so nothing was stored or sent
            assert not (root / "state.db").exists()
            assert not (root / "outbox.jsonl").exists()
