"""Live round trips against the real platforms: publish, look up, read back, delete.

They run only with real credentials: point ``CARECAST_LIVE_CONFIG`` at a ``carecast.toml``
whose accounts are test accounts on the platforms (secrets from the environment or
``CARECAST_SECRETS_FILE``, as usual). Each channel with an account there gets one short test
post, deleted at once. Without that variable, as in CI, every test here is skipped.

    CARECAST_LIVE_CONFIG=~/carecast-live.toml python -m pytest -m credentials
"""

from __future__ import annotations

import os
import time
from pathlib import Path

import pytest

from carecast import Post, load_config
from carecast.channels import channel_names
from carecast.publish.publisher import idempotency_key
from carecast.testing import unique_marker

pytestmark = pytest.mark.credentials
LIVE = os.environ.get("CARECAST_LIVE_CONFIG")
NEEDS_MEDIA = {"instagram", "youtube"}  # they refuse a text-only post


def live_account(channel: str) -> str:
    if not LIVE:
        pytest.skip("no CARECAST_LIVE_CONFIG: live platform tests need real credentials")
    config = load_config(Path(LIVE).expanduser())
    names = [a.name for a in config.accounts.values() if a.channel == channel and a.enabled]
    if not names:
        pytest.skip(f"{LIVE} has no {channel} account")
    return names[0]


@pytest.mark.parametrize("channel", [n for n in channel_names() if n not in NEEDS_MEDIA])
def test_publish_lookup_profile_delete(channel: str) -> None:
    from carecast.publish import Publisher

    account = live_account(channel)
    assert LIVE is not None
    with Publisher.from_config_file(Path(LIVE).expanduser()) as publisher:
        instance = publisher.channel(account)
        marker = unique_marker()
        post = Post(text=f"carecast live test {marker}: please ignore, deleted at once.",
                    title=f"carecast live test {marker}")
        draft = instance.render(post)
        key = idempotency_key(post.id, account)
        receipt = instance.publish(draft, key)
        try:
            assert receipt.remote_id
            if instance.can_lookup:
                found = None
                for _ in range(5):  # some platforms list a new post after a moment
                    found = instance.lookup(key, draft)
                    if found is not None:
                        break
                    time.sleep(2)
                assert found is not None
                assert found.remote_id == receipt.remote_id
            profile = instance.fetch_profile()
            assert profile.channel == channel
        finally:
            instance.delete(receipt)
