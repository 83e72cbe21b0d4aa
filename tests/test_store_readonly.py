"""store_readonly: read a store without writing a byte, whatever state it is in."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from offlineimap_phantomfix.errors import StoreError
from offlineimap_phantomfix.store import STORE_FILENAME, PhantomStore
from offlineimap_phantomfix.store_readonly import open_readonly
from offlineimap_phantomfix.verdicts import MessageKey, Verdict

KEY = MessageKey("A", "ARemote", "INBOX", 1, 5)


def _files(directory: Path) -> dict[str, bytes]:
    return {path.name: path.read_bytes() for path in sorted(directory.iterdir())}


def test_reads_records_and_creates_no_companion_files(tmp_path: Path) -> None:
    with PhantomStore(tmp_path) as store:
        store.record(KEY, Verdict.EMPTY, skipped=True)
    before = _files(tmp_path)
    with open_readonly(tmp_path) as store:
        assert [r.key for r in store.records()] == [KEY]
        assert store.check() == "ok"
        with pytest.raises(StoreError, match="read-only"):
            store.mark_purged(KEY)
        with pytest.raises(StoreError, match="read-only"):
            store.clear()
        assert [r.key for r in store.clear(dry_run=True)] == [KEY]
    assert _files(tmp_path) == before


def test_sees_what_a_running_writer_has_not_checkpointed(tmp_path: Path) -> None:
    with PhantomStore(tmp_path) as writer:
        writer.record(KEY, Verdict.EMPTY, skipped=True)
        assert Path(f"{tmp_path / STORE_FILENAME}-wal").exists()
        with open_readonly(tmp_path) as reader:
            assert [r.key for r in reader.records()] == [KEY]


def test_an_empty_file_reads_as_an_empty_store_and_stays_empty(tmp_path: Path) -> None:
    (tmp_path / STORE_FILENAME).write_bytes(b"")
    with open_readonly(tmp_path) as store:
        assert store.records() == []
    assert _files(tmp_path) == {STORE_FILENAME: b""}


def test_a_damaged_file_is_reported_with_its_repair_and_left_in_place(tmp_path: Path) -> None:
    (tmp_path / STORE_FILENAME).write_bytes(b"not a database " * 200)
    before = _files(tmp_path)
    with pytest.raises(StoreError) as raised:
        open_readonly(tmp_path)
    assert "is damaged (file is not a database)" in str(raised.value)
    assert "'offlineimap-phantomfix clear --all', moves it aside" in str(raised.value)
    assert _files(tmp_path) == before


def test_no_store_is_an_error_and_creates_nothing(tmp_path: Path) -> None:
    with pytest.raises(StoreError, match="there is no phantom store"):
        open_readonly(tmp_path / "missing")
    assert not (tmp_path / "missing").exists()


@pytest.mark.skipif(os.geteuid() == 0, reason="root writes everywhere; the e2e tier uses chattr for root")
def test_a_store_in_a_read_only_directory(tmp_path: Path) -> None:
    with PhantomStore(tmp_path / "s") as store:
        store.record(KEY, Verdict.EMPTY, skipped=True)
    (tmp_path / "s").chmod(0o555)
    try:
        with open_readonly(tmp_path / "s") as store:
            assert len(store.records()) == 1
    finally:
        (tmp_path / "s").chmod(0o700)
