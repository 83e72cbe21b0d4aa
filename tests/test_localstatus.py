"""offlineimap's status database: read its UIDs without changing a byte, remove one UID, refuse the unknown."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest

from offlineimap_phantomfix.errors import StoreError
from offlineimap_phantomfix.localstatus import read_uids, remove_uid
from offlineimap_phantomfix.testing.archive import write_status_file


def status_file(path: Path, uids: list[int], *, version: str = "2") -> Path:
    write_status_file(path, uids, version=version)
    return path


def test_read_changes_nothing(tmp_path: Path) -> None:
    path = status_file(tmp_path / "INBOX", [1, 2, 5])
    before = path.read_bytes()
    assert read_uids(path) == {1, 2, 5}
    assert path.read_bytes() == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["INBOX"]


def test_missing_file_is_none_and_is_not_created(tmp_path: Path) -> None:
    assert read_uids(tmp_path / "Sent") is None
    assert not (tmp_path / "Sent").exists()


def test_remove_one_uid(tmp_path: Path) -> None:
    path = status_file(tmp_path / "INBOX", [1, 2, 5])
    assert remove_uid(path, 2) is True
    assert remove_uid(path, 2) is False
    assert read_uids(path) == {1, 5}
    with sqlite3.connect(path) as connection:
        assert connection.execute("SELECT value FROM metadata").fetchall() == [("2",)]


@pytest.mark.parametrize("version", ["3", "0"])
def test_an_unknown_version_is_refused_untouched(tmp_path: Path, version: str) -> None:
    path = status_file(tmp_path / "INBOX", [1], version=version)
    before = path.read_bytes()
    for call in (lambda: read_uids(path), lambda: remove_uid(path, 1)):
        with pytest.raises(StoreError, match=f"db_version {version}"):
            call()
    assert path.read_bytes() == before


def test_garbage_is_one_clear_error(tmp_path: Path) -> None:
    path = tmp_path / "INBOX"
    path.write_bytes(b"not a database at all" * 100)
    with pytest.raises(StoreError, match="cannot be read"):
        read_uids(path)
