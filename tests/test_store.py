"""store.py: the SQLite skip list and records."""

from __future__ import annotations

import os
import sqlite3
import stat
import subprocess
import sys
import textwrap
import threading
import time
from collections.abc import Iterator
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest

from offlineimap_phantomfix import store as store_module
from offlineimap_phantomfix.errors import StoreError
from offlineimap_phantomfix.store import SCHEMA_VERSION, STORE_FILENAME, PhantomStore
from offlineimap_phantomfix.verdicts import MessageKey, Original, Verdict

PROJECT_ROOT = Path(__file__).resolve().parent.parent
T0 = datetime(2024, 3, 1, 12, 0, 0, tzinfo=timezone.utc)


def key(uid: int = 15541, *, account: str = "work", repository: str = "remote", folder: str = "INBOX",
        uidvalidity: int = 1000) -> MessageKey:
    return MessageKey(account, repository, folder, uidvalidity, uid)


@pytest.fixture
def state_dir(tmp_path: Path) -> Path:
    return tmp_path / "metadata" / "phantomfix"


@pytest.fixture
def store(state_dir: Path) -> Iterator[PhantomStore]:
    with PhantomStore(state_dir) as opened:
        yield opened


def raw_connection(path: Path) -> sqlite3.Connection:
    return sqlite3.connect(str(path), timeout=10, isolation_level=None)


# --- record / get -------------------------------------------------------------------------------------------

def test_round_trip_with_original_and_every_field(store: PhantomStore) -> None:
    original = Original(subject="Quarterly numbers", sender="Boss <boss@example.com>", date=None)
    returned = store.record(
        key(), Verdict.PLACEHOLDER, skipped=True, server_said="OK FETCH completed.",
        quarantine="/q/new/1.phantom", original=original, size=4711, flags="\\Seen \\Flagged", now=T0,
    )
    fetched = store.get(key())
    assert fetched == returned
    assert fetched is not None
    assert fetched.key == key()
    assert fetched.verdict is Verdict.PLACEHOLDER
    assert fetched.skipped is True
    assert fetched.first_seen == fetched.last_seen == T0
    assert fetched.first_seen.tzinfo is not None and fetched.first_seen.utcoffset() == timedelta(0)
    assert fetched.attempts == 1
    assert fetched.server_said == "OK FETCH completed."
    assert fetched.recovered_by is None
    assert fetched.quarantine == "/q/new/1.phantom"
    assert fetched.original == original
    assert fetched.size == 4711
    assert fetched.flags == "\\Seen \\Flagged"
    assert fetched.purged is False and fetched.reported is False


def test_round_trip_with_none_fields_and_default_now(store: PhantomStore) -> None:
    before = datetime.now(timezone.utc)
    store.record(key(7), Verdict.RECOVERED, skipped=False, recovered_by="sequence")
    fetched = store.get(key(7))
    assert fetched is not None
    assert fetched.server_said == ""
    assert fetched.recovered_by == "sequence"
    assert fetched.quarantine is None and fetched.original is None
    assert fetched.size is None and fetched.flags is None
    assert before <= fetched.first_seen <= datetime.now(timezone.utc)
    assert store.get(key(8)) is None
    assert store.get(key(7, uidvalidity=1001)) is None


def test_times_given_in_another_zone_come_back_as_the_same_instant_in_utc(store: PhantomStore) -> None:
    cest = timezone(timedelta(hours=2))
    record = store.record(key(), Verdict.EMPTY, skipped=True, now=datetime(2024, 3, 1, 14, 0, tzinfo=cest))
    assert record.first_seen == T0
    assert record.first_seen.tzinfo == timezone.utc


def test_naive_now_is_refused(store: PhantomStore) -> None:
    with pytest.raises(ValueError, match="timezone-aware"):
        store.record(key(), Verdict.EMPTY, skipped=True, now=datetime(2024, 1, 1))


def test_second_record_counts_attempts_keeps_first_seen_and_keeps_known_values(store: PhantomStore) -> None:
    first = store.record(key(), Verdict.EMPTY, skipped=True, server_said="first words",
                         quarantine="/q/new/a", original=Original(subject="S"), size=10, flags="\\Seen",
                         now=T0)
    assert first.attempts == 1
    later = T0 + timedelta(hours=5)
    second = store.record(key(), Verdict.REFUSED, skipped=False, server_said="NO cannot convert",
                          recovered_by="examine", now=later)
    assert second.attempts == 2
    assert second.first_seen == T0
    assert second.last_seen == later
    assert second.verdict is Verdict.REFUSED
    assert second.skipped is False
    assert second.server_said == "NO cannot convert"
    assert second.recovered_by == "examine"
    # not given this time: the earlier values stay
    assert second.quarantine == "/q/new/a"
    assert second.original == Original(subject="S")
    assert second.size == 10 and second.flags == "\\Seen"
    third = store.record(key(), Verdict.REFUSED, skipped=True, quarantine="/q/new/b",
                         original=Original(sender="x@y"), size=11, flags="", now=later + timedelta(1))
    assert third.attempts == 3
    assert third.recovered_by is None  # always replaced, None included
    assert third.server_said == ""
    assert (third.quarantine, third.original, third.size, third.flags) == (
        "/q/new/b", Original(sender="x@y"), 11, "")
    assert store.get(key()) == third


def test_an_empty_original_is_no_original(store: PhantomStore) -> None:
    store.record(key(), Verdict.EMPTY, skipped=True, original=Original(subject="kept"), now=T0)
    record = store.record(key(), Verdict.EMPTY, skipped=True, original=Original(), now=T0)
    assert record.original == Original(subject="kept")
    store.record(key(2), Verdict.EMPTY, skipped=True, original=Original(), now=T0)
    second = store.get(key(2))
    assert second is not None and second.original is None


# --- skipped_uids ----------------------------------------------------------------------------------------

def test_skipped_uids_belong_to_one_uidvalidity(store: PhantomStore) -> None:
    store.record(key(1), Verdict.EMPTY, skipped=True, now=T0)
    store.record(key(2), Verdict.REFUSED, skipped=True, now=T0)
    store.record(key(3), Verdict.VANISHED, skipped=False, now=T0)
    store.record(key(4, uidvalidity=2000), Verdict.EMPTY, skipped=True, now=T0)
    store.record(key(5, folder="Sent"), Verdict.EMPTY, skipped=True, now=T0)
    store.record(key(6, repository="other"), Verdict.EMPTY, skipped=True, now=T0)
    store.record(key(7, account="home"), Verdict.EMPTY, skipped=True, now=T0)
    assert store.skipped_uids("work", "remote", "INBOX", 1000, retry_after=None, now=T0) == {1, 2}
    # UIDVALIDITY changed: the old rows are inert, only rows of the new value count
    assert store.skipped_uids("work", "remote", "INBOX", 2000, retry_after=None, now=T0) == {4}
    assert store.skipped_uids("work", "remote", "INBOX", 3000, retry_after=None, now=T0) == frozenset()


def test_retry_after_expires_skips_none_never(store: PhantomStore) -> None:
    store.record(key(1), Verdict.EMPTY, skipped=True, now=T0)
    store.record(key(2), Verdict.EMPTY, skipped=True, now=T0 + timedelta(days=3))
    week = timedelta(days=7)

    def skipped(at: datetime, retry_after: timedelta | None = week) -> frozenset[int]:
        return store.skipped_uids("work", "remote", "INBOX", 1000, retry_after=retry_after, now=at)

    assert skipped(T0 + timedelta(days=6, hours=23)) == {1, 2}
    assert skipped(T0 + week) == {2}  # last_seen + retry_after must be after now
    assert skipped(T0 + timedelta(days=10, seconds=1)) == frozenset()
    assert skipped(T0 + timedelta(days=10000), retry_after=None) == {1, 2}
    assert skipped(T0 + timedelta(days=1), retry_after=timedelta.max) == {1, 2}
    # seen again: last_seen moves, the skip is fresh again
    store.record(key(1), Verdict.EMPTY, skipped=True, now=T0 + timedelta(days=20))
    assert skipped(T0 + timedelta(days=21)) == {1}


def test_retry_after_default_now_is_the_current_time(store: PhantomStore) -> None:
    store.record(key(1), Verdict.EMPTY, skipped=True)
    store.record(key(2), Verdict.EMPTY, skipped=True, now=datetime.now(timezone.utc) - timedelta(days=30))
    assert store.skipped_uids("work", "remote", "INBOX", 1000, retry_after=timedelta(days=7)) == {1}


def test_purged_rows_are_not_skipped_until_seen_again(store: PhantomStore) -> None:
    store.record(key(1), Verdict.EMPTY, skipped=True, now=T0)
    store.record(key(2), Verdict.EMPTY, skipped=True, now=T0)
    store.mark_purged(key(1))
    store.mark_purged(key(99))  # unknown: nothing happens
    assert store.skipped_uids("work", "remote", "INBOX", 1000, retry_after=None, now=T0) == {2}
    purged = store.get(key(1))
    assert purged is not None and purged.purged is True and purged.skipped is False
    assert store.get(key(99)) is None
    again = store.record(key(1), Verdict.EMPTY, skipped=True, now=T0)
    assert again.purged is False
    assert store.skipped_uids("work", "remote", "INBOX", 1000, retry_after=None, now=T0) == {1, 2}


# --- records / clear ---------------------------------------------------------------------------------

@pytest.fixture
def populated(store: PhantomStore) -> PhantomStore:
    for k in [key(30), key(4, folder="Sent"), key(10), key(2, account="home"), key(10, uidvalidity=5),
              key(1, repository="zz"), key(10, account="home", folder="Sent"), key(200)]:
        store.record(k, Verdict.EMPTY, skipped=True, now=T0)
    return store


def test_records_are_sorted_and_filtered(populated: PhantomStore) -> None:
    everything = populated.records()
    keys = [r.key for r in everything]
    assert keys == sorted(keys, key=lambda k: (k.account, k.repository, k.folder, k.uid, k.uidvalidity))
    assert [k.uid for k in keys if k.account == "work" and k.repository == "remote" and k.folder == "INBOX"] \
        == [10, 10, 30, 200]  # numeric, not text, order
    assert {r.key.account for r in populated.records(account="home")} == {"home"}
    assert len(populated.records(account="home")) == 2
    assert [r.key.uid for r in populated.records(account="work", folder="Sent")] == [4]
    assert [r.key.account for r in populated.records(folder="Sent")] == ["home", "work"]
    assert {r.key.uidvalidity for r in populated.records(account="work", folder="INBOX", uid=10)} == {5, 1000}
    assert populated.records(account="nobody") == []


@pytest.mark.parametrize(
    ("scope", "deleted"),
    [
        ({}, 8),
        ({"account": "home"}, 2),
        ({"account": "work", "folder": "INBOX"}, 5),
        ({"account": "work", "folder": "INBOX", "uid": 10}, 2),
        ({"account": "work", "folder": "Junk"}, 0),
    ],
)
def test_clear_scopes(populated: PhantomStore, scope: dict[str, object], deleted: int) -> None:
    before = populated.records()
    would = populated.clear(**scope, dry_run=True)  # type: ignore[arg-type]
    assert len(would) == deleted
    assert populated.records() == before  # the dry run deleted nothing
    gone = populated.clear(**scope)  # type: ignore[arg-type]
    assert gone == would
    remaining = populated.records()
    assert len(remaining) == len(before) - deleted
    assert not {r.key for r in gone} & {r.key for r in remaining}
    for record in gone:
        for name, value in scope.items():
            assert getattr(record.key, name) == value


def test_clear_refuses_a_folder_without_account_and_a_uid_without_folder(populated: PhantomStore) -> None:
    with pytest.raises(ValueError):
        populated.clear(folder="INBOX")
    with pytest.raises(ValueError):
        populated.clear(account="work", uid=10)
    assert len(populated.records()) == 8


def test_cleared_uid_is_no_longer_skipped(populated: PhantomStore) -> None:
    populated.clear(account="work", folder="INBOX", uid=30)
    assert populated.skipped_uids("work", "remote", "INBOX", 1000, retry_after=None, now=T0) == {10, 200}


# --- the file --------------------------------------------------------------------------------------------

def test_permissions_of_directories_and_files(tmp_path: Path) -> None:
    directory = tmp_path / "new" / "nested" / "phantomfix"
    with PhantomStore(directory) as opened:
        opened.record(key(), Verdict.EMPTY, skipped=True)
        for path in (tmp_path / "new", tmp_path / "new" / "nested", directory):
            assert stat.S_IMODE(path.stat().st_mode) == 0o700, path
        assert opened.path == directory / STORE_FILENAME
        for name in (STORE_FILENAME, STORE_FILENAME + "-wal", STORE_FILENAME + "-shm"):
            assert stat.S_IMODE((directory / name).stat().st_mode) == 0o600, name


def test_an_existing_world_readable_store_is_tightened(state_dir: Path) -> None:
    PhantomStore(state_dir).close()
    (state_dir / STORE_FILENAME).chmod(0o644)
    with PhantomStore(state_dir):
        assert stat.S_IMODE((state_dir / STORE_FILENAME).stat().st_mode) == 0o600


def test_wal_mode_and_schema_version(store: PhantomStore) -> None:
    connection = raw_connection(store.path)
    try:
        assert connection.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
        assert connection.execute("PRAGMA user_version").fetchone()[0] == SCHEMA_VERSION == 2
        columns = [row[1] for row in connection.execute("PRAGMA table_info(phantoms)")]
        primary = [row[1] for row in sorted(connection.execute("PRAGMA table_info(phantoms)"),
                                            key=lambda row: row[5]) if row[5]]
    finally:
        connection.close()
    assert "verdict" in columns and "last_seen" in columns
    assert primary == ["account", "repository", "folder", "uidvalidity", "uid"]


def test_reopening_keeps_the_data(state_dir: Path) -> None:
    with PhantomStore(state_dir) as first:
        first.record(key(), Verdict.DROPPED, skipped=True, now=T0)
    with PhantomStore(state_dir) as second:
        record = second.get(key())
    assert record is not None and record.verdict is Verdict.DROPPED


def test_newer_schema_is_refused_and_left_alone(state_dir: Path) -> None:
    PhantomStore(state_dir).close()
    path = state_dir / STORE_FILENAME
    connection = raw_connection(path)
    connection.execute("PRAGMA journal_mode = DELETE")
    connection.execute(f"PRAGMA user_version = {SCHEMA_VERSION + 1}")
    connection.close()
    before = path.read_bytes()
    warnings: list[str] = []
    with pytest.raises(StoreError) as caught:
        PhantomStore(state_dir, warn=warnings.append)
    message = str(caught.value)
    assert "\n" not in message
    assert f"schema version {SCHEMA_VERSION + 1}" in message and str(path) in message
    assert path.read_bytes() == before
    assert warnings == []
    assert sorted(p.name for p in state_dir.iterdir()) == [STORE_FILENAME]


def test_migrations_run_in_order_each_in_one_transaction(state_dir: Path,
                                                          monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(store_module, "SCHEMA_VERSION", 1)
    monkeypatch.setattr(store_module, "MIGRATIONS", store_module.MIGRATIONS[:1])
    with PhantomStore(state_dir) as first:
        first.record(key(), Verdict.EMPTY, skipped=True, now=T0)

    def v2_adds_a_column(connection: sqlite3.Connection) -> None:
        connection.execute("ALTER TABLE phantoms ADD COLUMN note TEXT")

    def v3_fails_halfway(connection: sqlite3.Connection) -> None:
        connection.execute("CREATE TABLE half_done (x)")
        connection.execute("THIS IS NOT SQL")

    monkeypatch.setattr(store_module, "SCHEMA_VERSION", 3)
    monkeypatch.setattr(store_module, "MIGRATIONS", (*store_module.MIGRATIONS, v2_adds_a_column,
                                                     v3_fails_halfway))
    with pytest.raises(StoreError, match="syntax error"):
        PhantomStore(state_dir)
    connection = raw_connection(state_dir / STORE_FILENAME)
    try:
        assert connection.execute("PRAGMA user_version").fetchone()[0] == 2
        assert "note" in [row[1] for row in connection.execute("PRAGMA table_info(phantoms)")]
        tables = {row[0] for row in connection.execute("SELECT name FROM sqlite_master WHERE type='table'")}
    finally:
        connection.close()
    assert "half_done" not in tables  # step 3 was rolled back as a whole
    monkeypatch.setattr(store_module, "SCHEMA_VERSION", 2)
    monkeypatch.setattr(store_module, "MIGRATIONS", store_module.MIGRATIONS[:2])
    with PhantomStore(state_dir) as upgraded:
        assert upgraded.get(key()) is not None


def _assert_moved_aside(state_dir: Path, warnings: list[str], reopened: PhantomStore) -> None:
    moved = sorted(state_dir.glob(STORE_FILENAME + ".corrupt-*"))
    assert len(moved) == 1
    assert moved[0].name.startswith(f"{STORE_FILENAME}.corrupt-20")
    assert len(warnings) == 1 and "\n" not in warnings[0]
    assert str(moved[0]) in warnings[0]
    # the new store works
    reopened.record(key(), Verdict.EMPTY, skipped=True, now=T0)
    assert reopened.skipped_uids("work", "remote", "INBOX", 1000, retry_after=None, now=T0) == {key().uid}
    assert reopened.check() == "ok"


def test_garbage_file_is_moved_aside_with_a_warning(state_dir: Path) -> None:
    state_dir.mkdir(parents=True)
    garbage = b"this is not an sqlite database\x00\xff" * 300
    (state_dir / STORE_FILENAME).write_bytes(garbage)
    (state_dir / (STORE_FILENAME + "-wal")).write_bytes(b"junk wal")
    warnings: list[str] = []
    with PhantomStore(state_dir, warn=warnings.append) as reopened:
        _assert_moved_aside(state_dir, warnings, reopened)
        moved = next(state_dir.glob(STORE_FILENAME + ".corrupt-*"))
        assert moved.read_bytes() == garbage
        # SQLite drops a WAL without valid frames when the failed connection closes (a valid one is
        # checkpointed into the file that is moved); either way the junk never reaches the new store.
        wal = state_dir / (STORE_FILENAME + "-wal")
        assert not wal.exists() or b"junk wal" not in wal.read_bytes()


def test_truncated_database_is_moved_aside_with_a_warning(state_dir: Path) -> None:
    with PhantomStore(state_dir) as original:
        for uid in range(300):
            original.record(key(uid), Verdict.REFUSED, skipped=True, server_said="NO " + "x" * 200, now=T0)
    path = state_dir / STORE_FILENAME
    data = path.read_bytes()
    assert len(data) > 8 * 4096
    path.write_bytes(data[: len(data) // 2])
    warnings: list[str] = []
    with PhantomStore(state_dir, warn=warnings.append) as reopened:
        assert reopened.records() == []
        _assert_moved_aside(state_dir, warnings, reopened)


def test_default_warning_goes_to_logging(state_dir: Path, caplog: pytest.LogCaptureFixture) -> None:
    state_dir.mkdir(parents=True)
    (state_dir / STORE_FILENAME).write_bytes(b"garbage" * 100)
    with PhantomStore(state_dir):
        pass
    assert any(".corrupt-" in message for message in caplog.messages)


def test_directory_that_is_a_file_is_a_store_error(tmp_path: Path) -> None:
    blocker = tmp_path / "phantomfix"
    blocker.write_text("not a directory")
    for directory in (blocker, blocker / "below"):
        with pytest.raises(StoreError) as caught:
            PhantomStore(directory)
        assert "\n" not in str(caught.value) and str(directory) in str(caught.value)
    assert blocker.read_text() == "not a directory"


def test_store_file_that_is_a_directory_is_a_store_error(state_dir: Path) -> None:
    (state_dir / STORE_FILENAME).mkdir(parents=True)
    with pytest.raises(StoreError, match=STORE_FILENAME):
        PhantomStore(state_dir)


@pytest.mark.skipif(os.geteuid() == 0, reason="root reads every directory")
def test_unreadable_directory_is_a_store_error(state_dir: Path) -> None:
    state_dir.mkdir(parents=True)
    state_dir.chmod(0)
    try:
        with pytest.raises(StoreError):
            PhantomStore(state_dir)
    finally:
        state_dir.chmod(0o700)


def test_sqlite_errors_after_opening_become_store_errors(store: PhantomStore) -> None:
    connection = raw_connection(store.path)
    connection.execute("DROP TABLE phantoms")
    connection.close()
    with pytest.raises(StoreError, match="no such table") as caught:
        store.record(key(), Verdict.EMPTY, skipped=True)
    assert caught.value.__cause__ is None
    with pytest.raises(StoreError):
        store.records()
    store.close()
    store.close()
    with pytest.raises(StoreError, match="closed"):
        store.get(key())


def test_an_unknown_verdict_in_a_row_is_a_store_error(store: PhantomStore) -> None:
    store.record(key(), Verdict.EMPTY, skipped=True, now=T0)
    connection = raw_connection(store.path)
    connection.execute("UPDATE phantoms SET verdict = 'from-the-future'")
    connection.close()
    with pytest.raises(StoreError, match="unreadable row"):
        store.records()


# --- concurrency --------------------------------------------------------------------------------------------

def test_eight_threads_recording_at_once(store: PhantomStore) -> None:
    errors: list[BaseException] = []
    start = threading.Barrier(8)

    def worker(number: int) -> None:
        try:
            start.wait()
            for uid in range(200):
                k = key(uid, folder=f"folder-{number}")
                store.record(k, Verdict.EMPTY, skipped=True, now=T0)
                if uid % 50 == 0:
                    store.skipped_uids("work", "remote", f"folder-{number}", 1000, retry_after=None, now=T0)
                    store.get(k)
        except BaseException as error:  # collected and re-raised in the test thread
            errors.append(error)

    threads = [threading.Thread(target=worker, args=(n,)) for n in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert errors == []
    records = store.records()
    assert len(records) == 1600
    assert {r.attempts for r in records} == {1}
    for number in range(8):
        uids = store.skipped_uids("work", "remote", f"folder-{number}", 1000, retry_after=None, now=T0)
        assert uids == frozenset(range(200))


CLEARING_CHILD = textwrap.dedent(
    """
    import sys, time
    from pathlib import Path
    sys.path.insert(0, sys.argv[1])
    from offlineimap_phantomfix.store import PhantomStore

    directory, stop = Path(sys.argv[2]), Path(sys.argv[3])
    clears = 0
    print("ready", flush=True)
    while not stop.exists():
        with PhantomStore(directory) as store:   # opening and closing races the writer too
            for _ in range(5):
                store.clear(account="work")
                store.records(account="work")
                clears += 1
    print(clears, flush=True)
    """
)


def test_a_second_process_clearing_while_this_one_writes(store: PhantomStore, tmp_path: Path) -> None:
    stop = tmp_path / "stop"
    child = subprocess.Popen(
        [sys.executable, "-c", CLEARING_CHILD, str(PROJECT_ROOT), str(store.path.parent), str(stop)],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )
    try:
        assert child.stdout is not None
        assert child.stdout.readline().strip() == "ready"
        deadline = time.monotonic() + 1.5
        uid = 0
        while time.monotonic() < deadline:
            store.record(key(uid), Verdict.EMPTY, skipped=True, now=T0)
            store.skipped_uids("work", "remote", "INBOX", 1000, retry_after=None, now=T0)
            uid += 1
    finally:
        stop.touch()
        out, err = child.communicate(timeout=30)
    assert child.returncode == 0, err
    assert "locked" not in err
    assert int(out.strip()) > 0
    assert uid > 50
    # both sides still agree on a consistent store
    store.record(key(10**6), Verdict.EMPTY, skipped=True, now=T0)
    assert key(10**6).uid in store.skipped_uids("work", "remote", "INBOX", 1000, retry_after=None, now=T0)
    assert len(store.records()) <= uid + 1


# --- hostile text ------------------------------------------------------------------------------------------

HOSTILE = [
    "'; DROP TABLE phantoms; --",
    'say "hello" \\ it\'s',
    "Robert'); DELETE FROM phantoms WHERE ('1'='1",
    "\x1b[31mred\x1b[0m \x07 bell \r\n crlf \t tab \x7f del \x9b csi",
    "\u202eevil.txt \u2028 sep ünïcødé 漢字 \U0001f47b",
    "%s %d {0} ?1 :name @x $y",
    "",
]


@pytest.mark.parametrize("text", HOSTILE)
def test_hostile_strings_round_trip_unchanged(store: PhantomStore, text: str) -> None:
    k = MessageKey(text or "a", text + "repo", "INBOX/" + text, 7, 42)
    original = Original(subject=text, sender=text + "<x@y>", date=text)
    store.record(k, Verdict.PLACEHOLDER, skipped=True, server_said=text, recovered_by=text,
                 quarantine=text, original=original, flags=text, now=T0)
    fetched = store.get(k)
    assert fetched is not None
    assert fetched.key == k
    assert (fetched.server_said, fetched.recovered_by, fetched.quarantine, fetched.flags) == (
        text, text, text, text)
    assert fetched.original == (original if not original.is_empty() else None)
    assert [r.key for r in store.records(account=k.account, folder=k.folder, uid=42)] == [k]
    assert store.skipped_uids(k.account, k.repository, k.folder, 7, retry_after=None, now=T0) == {42}
    assert store.clear(account=k.account, folder=k.folder, uid=42, dry_run=True)[0].key == k
    assert len(store.records()) == 1  # nothing was dropped or deleted by the text


def test_lone_surrogates_are_stored_as_replacement_characters(store: PhantomStore) -> None:
    record = store.record(key(), Verdict.UNPARSEABLE, skipped=True, server_said="bad \udcff byte", now=T0)
    assert record.server_said == "bad \ufffd byte"
