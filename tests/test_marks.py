"""marks.py: per-reader "already shown" marks (schema version 2) and removing finished records."""

from __future__ import annotations

import sqlite3
from datetime import datetime, timezone
from pathlib import Path

import pytest

from offlineimap_phantomfix import store as store_module
from offlineimap_phantomfix.marks import DEFAULT_CONSUMER, delete_finished, mark_shown, unshown
from offlineimap_phantomfix.store import STORE_FILENAME, PhantomStore
from offlineimap_phantomfix.verdicts import MessageKey, Verdict

T0 = datetime(2026, 11, 1, 9, 30, tzinfo=timezone.utc)


def key(uid: int, account: str = "Work") -> MessageKey:
    return MessageKey(account, f"{account}Remote", "INBOX", 14, uid)


def test_a_version_1_store_keeps_what_its_single_reader_was_shown(tmp_path: Path,
                                                                  monkeypatch: pytest.MonkeyPatch) -> None:
    with monkeypatch.context() as patch:
        patch.setattr(store_module, "SCHEMA_VERSION", 1)
        patch.setattr(store_module, "MIGRATIONS", store_module.MIGRATIONS[:1])
        with PhantomStore(tmp_path) as old:
            for uid in (1, 2, 3):
                old.record(key(uid), Verdict.EMPTY, skipped=True, now=T0)
    version_1 = sqlite3.connect(tmp_path / STORE_FILENAME)  # what 0.1.0's `report --new` wrote: one flag
    try:
        with version_1:
            version_1.execute("UPDATE phantoms SET reported = 1 WHERE uid IN (1, 2)")
    finally:
        version_1.close()
    with PhantomStore(tmp_path) as upgraded:
        records = upgraded.records()
        assert [r.key.uid for r in unshown(upgraded, records, DEFAULT_CONSUMER)] == [3]
        assert [r.key.uid for r in unshown(upgraded, records, "cron")] == [1, 2, 3]  # a new reader: all news
    connection = sqlite3.connect(tmp_path / STORE_FILENAME)
    try:
        assert connection.execute("PRAGMA user_version").fetchone()[0] == 2
    finally:
        connection.close()


def test_marks_are_per_reader_and_per_state(tmp_path: Path) -> None:
    with PhantomStore(tmp_path) as store:
        store.record(key(1), Verdict.REFUSED, skipped=False, now=T0)
        store.record(key(2, "Home"), Verdict.EMPTY, skipped=True, now=T0)
        mark_shown(store, store.records(account="Work"), "cron")
        assert [r.key.account for r in unshown(store, store.records(), "cron")] == ["Home"]
        assert len(unshown(store, store.records(), "mutt")) == 2
        store.record(key(1), Verdict.REFUSED, skipped=True)  # the refusal confirmed: skipped now
        assert [r.key.uid for r in unshown(store, store.records(account="Work"), "cron")] == [1]


def test_a_cleared_record_recorded_again_is_news_again(tmp_path: Path) -> None:
    with PhantomStore(tmp_path) as store:
        store.record(key(1), Verdict.EMPTY, skipped=True, now=T0)
        mark_shown(store, store.records(), "cron")
        store.clear(account="Work")
        store.record(key(1), Verdict.EMPTY, skipped=True, now=T0)
        assert len(unshown(store, store.records(), "cron")) == 1


def test_delete_finished_leaves_a_record_that_turned_phantom_again(tmp_path: Path) -> None:
    with PhantomStore(tmp_path) as store:
        store.record(key(1), Verdict.RECOVERED, skipped=False, now=T0)
        store.record(key(2), Verdict.VANISHED, skipped=False, now=T0)
        store.record(key(3), Verdict.EMPTY, skipped=True, now=T0)
        store.mark_purged(key(3))
        store.record(key(4), Verdict.EMPTY, skipped=True, now=T0)
        finished = [r for r in store.records() if r.key.uid != 4]
        store.record(key(2), Verdict.EMPTY, skipped=True)  # a sync meanwhile: listed again, not delivered
        assert [r.key.uid for r in delete_finished(store, finished, dry_run=True)] == [1, 3]
        assert len(store.records()) == 4
        assert [r.key.uid for r in delete_finished(store, finished)] == [1, 3]
        assert [r.key.uid for r in store.records()] == [2, 4]
