"""localcopy.py: finding offlineimap's synced copy of a server UID in one Maildir folder."""

from __future__ import annotations

import hashlib
from pathlib import Path

import pytest

from offlineimap_phantomfix.localcopy import canonical_folder, find_synced_copy


def _md5(name: str) -> str:
    return hashlib.md5(name.encode("utf-8")).hexdigest()


def _file(folder: Path, name: str, sub: str = "cur") -> Path:
    for part in ("cur", "new", "tmp"):
        (folder / part).mkdir(parents=True, exist_ok=True)
    path = folder / sub / name
    path.write_bytes(b"Subject: x\r\n\r\nbody\r\n")
    return path


@pytest.mark.parametrize(("infosep", "sub"), [(":", "cur"), ("!", "cur"), (":", "new")])
def test_finds_the_file_of_that_uid_and_digest(tmp_path: Path, infosep: str, sub: str) -> None:
    inbox = tmp_path / "INBOX"
    wanted = _file(inbox, f"1700000000_0.1.host,U=15,FMD5={_md5('INBOX')}{infosep}2,S", sub)
    _file(inbox, f"1700000000_1.1.host,U=150,FMD5={_md5('INBOX')}:2,")
    assert find_synced_copy(inbox, _md5("INBOX"), 15) == wanted
    assert find_synced_copy(inbox, _md5("INBOX"), 1) is None
    assert find_synced_copy(inbox, _md5("Posteingang"), 15) is None


def test_another_digest_tmp_or_a_subfolder_does_not_count(tmp_path: Path) -> None:
    folder = tmp_path / "Lists"
    _file(folder, f"1_0.1.host,U=7,FMD5={_md5('Archive')}:2,")  # a file moved in from another folder
    _file(folder, f"1_1.1.host,U=7,FMD5={_md5('Lists')}:2,", sub="tmp")
    _file(folder / "python", f"1_2.1.host,U=7,FMD5={_md5('Lists')}:2,")  # nested Maildir folder (sep = /)
    _file(folder, "1_3.1.host:2,S")  # no UID: a new local message
    assert find_synced_copy(folder, _md5("Lists"), 7) is None
    assert find_synced_copy(tmp_path / "missing", _md5("Lists"), 7) is None


def test_the_first_uid_of_the_name_counts_as_offlineimap_reads_it(tmp_path: Path) -> None:
    folder = tmp_path / "INBOX"
    wanted = _file(folder, f"1_0.1.host,FMD5={_md5('INBOX')},U=9,U=4:2,")
    assert find_synced_copy(folder, _md5("INBOX"), 9) == wanted
    assert find_synced_copy(folder, _md5("INBOX"), 4) is None


def test_canonical_folder() -> None:
    assert [canonical_folder(n) for n in ("inbox", "InBox", "INBOX", "Inbox/Sub", "Archive")] == \
        ["INBOX", "INBOX", "INBOX", "Inbox/Sub", "Archive"]
