"""Every local file a channel sends is read through confine.py (issue 13): checked and opened
at once, so a folder swapped for a symlink after the check is refused; brand-sync avatars
follow the media rules too."""

from __future__ import annotations

import os
from datetime import UTC, datetime
from pathlib import Path

import pytest
import responses

from carecast import InputRefused
from carecast.channels.mastodon import MastodonChannel, MastodonOptions
from carecast.channels.media import media_file
from carecast.channels.x import XChannel, XOptions
from carecast.confine import MediaRules
from carecast.errors import PlatformRejected
from carecast.post import Media, ProfileChanges
from carecast.testing import FrozenClock

NOW = datetime(2026, 11, 21, 12, 0, tzinfo=UTC)
PNG = b"\x89PNG\r\n\x1a\n" + bytes(64)
SECRET = b"-----BEGIN PRIVATE KEY----- outside the media roots"


@pytest.fixture
def tree(tmp_path: Path) -> tuple[Path, Path]:
    """A media root with photos/pic.png, and a folder outside it with the same layout."""
    root, outside = tmp_path / "media", tmp_path / "outside"
    (root / "photos").mkdir(parents=True)
    (outside / "photos").mkdir(parents=True)
    (root / "photos" / "pic.png").write_bytes(PNG)
    (outside / "photos" / "pic.png").write_bytes(SECRET)
    return root, outside


def swap_after_check(monkeypatch: pytest.MonkeyPatch, folder: Path, target: Path) -> None:
    """Between the check and the open, replace ``folder`` with a symlink to ``target``."""
    import carecast.confine as confine

    checked = confine._checked

    def racing(*args, **kw):
        found = checked(*args, **kw)
        folder.rename(folder.with_name(folder.name + ".moved"))
        folder.symlink_to(target, target_is_directory=True)
        return found

    monkeypatch.setattr(confine, "_checked", racing)


def test_a_confined_file_is_read(tree) -> None:
    root, _ = tree
    assert MediaRules(roots=(root,)).read(root / "photos" / "pic.png") == PNG


def test_a_folder_swapped_for_a_symlink_after_the_check_is_refused(tree, monkeypatch) -> None:
    root, outside = tree
    swap_after_check(monkeypatch, root / "photos", outside / "photos")
    with pytest.raises(InputRefused, match="changed between its check and its read"):
        MediaRules(roots=(root,)).read(root / "photos" / "pic.png")


def test_a_swap_during_a_channel_upload_sends_nothing(tree, monkeypatch) -> None:
    root, outside = tree
    swap_after_check(monkeypatch, root / "photos", outside / "photos")
    item = Media(source="photos/pic.png", alt_text="The new entrance")
    with pytest.raises(PlatformRejected, match="changed between its check") as info, \
            media_file(item, root=root, channel="mastodon", account="m",
                       rules=MediaRules(roots=(root,))) as (handle, _):
        handle.read()
    assert SECRET.decode() not in str(info.value)


def test_a_file_swapped_for_another_inside_the_roots_is_refused(tree, monkeypatch) -> None:
    """Same path, other file (replaced by rename after the check): not what was checked."""
    import carecast.confine as confine

    root, _ = tree
    other = root / "photos" / "other.png"
    other.write_bytes(PNG + b"other")
    checked = confine._checked

    def racing(*args, **kw):
        found = checked(*args, **kw)
        os.replace(other, root / "photos" / "pic.png")
        return found

    monkeypatch.setattr(confine, "_checked", racing)
    with pytest.raises(InputRefused, match="changed between"):
        MediaRules(roots=(root,)).read(root / "photos" / "pic.png")


# -- brand-sync avatars ----------------------------------------------------------------------

MASTODON = "https://social.example.org"


def mastodon(root: Path) -> MastodonChannel:
    channel = MastodonChannel("m", MastodonOptions(api_base_url=MASTODON,
                                                   access_token="t" * 32),
                              root=root, clock=FrozenClock(NOW))
    channel.media_rules = MediaRules(roots=(root,), max_bytes={"image": 1024})
    return channel


def x_channel(root: Path) -> XChannel:
    channel = XChannel("x", XOptions(consumer_key="ck", consumer_secret="cs",
                                     access_token="1-at", access_token_secret="ats"),
                       root=root, clock=FrozenClock(NOW))
    channel.media_rules = MediaRules(roots=(root,), max_bytes={"image": 1024})
    return channel


@pytest.mark.parametrize("make", [mastodon, x_channel], ids=["mastodon", "x"])
@pytest.mark.parametrize(("avatar", "why"), [
    ("../outside/photos/pic.png", "outside the media roots"),
    ("/dev/zero", "outside the media roots"),
    ("big.png", "over the cap of 1024 bytes"),
    ("fifo.png", "a FIFO"),
], ids=["outside", "device", "over-cap", "fifo"])
@responses.activate
def test_an_avatar_outside_the_media_rules_is_never_uploaded(tree, make, avatar, why) -> None:
    root, _ = tree
    (root / "big.png").write_bytes(PNG + bytes(2048))
    os.mkfifo(root / "fifo.png")
    with pytest.raises(PlatformRejected, match=why) as info:
        make(root).update_profile(ProfileChanges(avatar=Path(avatar)))
    assert "nothing was changed" in str(info.value)
    assert len(responses.calls) == 0


@responses.activate
def test_an_avatar_inside_the_roots_is_uploaded(tree) -> None:
    root, _ = tree
    responses.patch(f"{MASTODON}/api/v1/accounts/update_credentials", json={"id": "1"})
    mastodon(root).update_profile(ProfileChanges(avatar=Path("photos/pic.png")))
    assert PNG in responses.calls[-1].request.body
