"""localcopy.py: finding offlineimap's synced copy of a server UID in a Maildir tree."""

from __future__ import annotations

import hashlib
from pathlib import Path

import pytest

from offlineimap_phantomfix.localcopy import canonical_folder, find_synced_copy


def _md5(name: str) -> str:
    return hashlib.md5(name.encode("utf-8")).hexdigest()


def _file(root: Path, folder_dir: str, name: str, sub: str = "cur") -> Path:
    for part in ("cur", "new", "tmp"):
        (root / folder_dir / part).mkdir(parents=True, exist_ok=True)
    path = root / folder_dir / sub / name
    path.write_bytes(b"Subject: x\r\n\r\nbody\r\n")
    return path


@pytest.mark.parametrize("infosep", [":", "!"])
def test_finds_the_file_of_that_uid_and_folder(tmp_path: Path, infosep: str) -> None:
    wanted = _file(tmp_path, "INBOX", f"1700000000_0.1.host,U=15,FMD5={_md5('INBOX')}{infosep}2,S")
    _file(tmp_path, "INBOX", f"1700000000_1.1.host,U=150,FMD5={_md5('INBOX')}:2,")
    assert find_synced_copy(tmp_path, "INBOX", 15) == wanted
    assert find_synced_copy(tmp_path, "Inbox", 15) == wanted
    assert find_synced_copy(tmp_path, "INBOX", 1) is None


def test_another_folders_digest_or_tmp_does_not_count(tmp_path: Path) -> None:
    _file(tmp_path, "Archive", f"1_0.1.host,U=7,FMD5={_md5('Archive')}:2,")
    _file(tmp_path, "INBOX", f"1_0.1.host,U=7,FMD5={_md5('INBOX')}:2,", sub="tmp")
    assert find_synced_copy(tmp_path, "INBOX", 7) is None


def test_nested_folder_with_either_separator(tmp_path: Path) -> None:
    wanted = _file(tmp_path, "Lists.python", f"1_0.1.host,U=3,FMD5={_md5('Lists.python')}:2,")
    assert find_synced_copy(tmp_path, "Lists/python", 3) == wanted
    assert find_synced_copy(tmp_path / "missing", "Lists/python", 3) is None


def test_canonical_folder() -> None:
    assert [canonical_folder(n) for n in ("inbox", "InBox", "INBOX", "Inbox/Sub", "Archive")] == \
        ["INBOX", "INBOX", "INBOX", "Inbox/Sub", "Archive"]
