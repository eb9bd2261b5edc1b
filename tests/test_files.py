"""file_sha256: one read per version of a file, a new version read again."""

from __future__ import annotations

import hashlib
import os
from pathlib import Path

import pytest

from carecast import files
from carecast.files import file_sha256


def test_each_version_of_a_file_is_read_once(tmp_path: Path, monkeypatch) -> None:
    photo = tmp_path / "ward.jpg"
    photo.write_bytes(b"first version")
    opened: list[Path] = []
    real_open = files.open_regular

    def counting_open(path: Path, **kwargs):
        opened.append(path)
        return real_open(path, **kwargs)

    monkeypatch.setattr(files, "open_regular", counting_open)
    first = file_sha256(photo)
    assert first == hashlib.sha256(b"first version").hexdigest()
    assert [file_sha256(photo) for _ in range(50)] == [first] * 50
    assert len(opened) == 1
    photo.write_bytes(b"a second version")
    os.utime(photo, ns=(1, 2))  # a different modification time, as a rewrite gives
    assert file_sha256(photo) == hashlib.sha256(b"a second version").hexdigest()
    assert len(opened) == 2


def test_a_missing_file_raises(tmp_path: Path) -> None:
    with pytest.raises(OSError):
        file_sha256(tmp_path / "gone.jpg")
    assert len(files._MEMO) <= files._MEMO_SIZE
