"""offlineimap's status database: read its UIDs without changing a byte, remove one UID, refuse the unknown."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest

from offlineimap_phantomfix.errors import StoreError
from offlineimap_phantomfix.localstatus import read_uids, remove_uid


def status_file(path: Path, uids: list[int], *, version: str = "2") -> Path:
    # The layout offlineimap 8.0's LocalStatusSQLiteFolder creates (and Debian's offlineimap3 alike).
    with sqlite3.connect(path) as connection:
        connection.executescript(
            "CREATE TABLE metadata (key VARCHAR(50) PRIMARY KEY, value VARCHAR(128));"
            "CREATE TABLE status (id INTEGER PRIMARY KEY, flags VARCHAR(50), mtime INTEGER, labels VARCHAR(256));")
        connection.execute("INSERT INTO metadata VALUES ('db_version', ?)", (version,))
        connection.executemany("INSERT INTO status VALUES (?, 'S', 0, '')", [(uid,) for uid in uids])
    connection.close()
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
