"""The persistent skip list and phantom records: one SQLite file per state directory.

``<directory>/phantoms.sqlite3`` holds one row per message key (account, repository, folder, uidvalidity, uid)
with the latest verdict and its history. The file is opened in WAL mode with a busy timeout, so offlineimap's
folder and copy threads (one connection, serialized by a lock) and a second process such as the command line
can use it at the same time.

The schema version lives in ``PRAGMA user_version``. :data:`MIGRATIONS` is the list of upgrade steps; step
*n* (1-based) brings a database from version *n - 1* to *n* and runs in one transaction together with the
version bump. A database written by a newer version is refused and left untouched. A corrupt file is moved
aside (``phantoms.sqlite3.corrupt-<UTC timestamp>``) with a warning and a new store is started.

Every ``sqlite3`` failure leaves this module as a :class:`StoreError` with a one-line message.
"""

from __future__ import annotations

import logging
import os
import re
import sqlite3
import threading
import time
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from datetime import datetime, timedelta, timezone
from pathlib import Path
from types import TracebackType
from typing import Any, Callable, TypeVar

from offlineimap_phantomfix import clock
from offlineimap_phantomfix.errors import StoreError
from offlineimap_phantomfix.marks import v2_shown_table
from offlineimap_phantomfix.verdicts import MessageKey, Original, PhantomRecord, Verdict

__all__ = ["MIGRATIONS", "SCHEMA_VERSION", "STORE_FILENAME", "PhantomStore"]

STORE_FILENAME = "phantoms.sqlite3"
BUSY_TIMEOUT_SECONDS = 10.0
# Files SQLite keeps next to the database; they move with it when it is set aside.
_COMPANION_SUFFIXES = ("-wal", "-shm", "-journal")
# If SQLITE_BUSY still comes through (the busy handler is not consulted in a few WAL corner cases, e.g. while
# another process cleans up on close), the whole operation is rolled back and tried again, this many times.
_BUSY_RETRIES = 20
_BUSY_PAUSE_SECONDS = 0.05

# Primary result codes (the low byte of an extended code).
_SQLITE_BUSY = 5
_SQLITE_LOCKED = 6
_SQLITE_CORRUPT = 11
_SQLITE_NOTADB = 26

_T = TypeVar("_T")
Migration = Callable[[sqlite3.Connection], None]
_log = logging.getLogger(__name__)

_SURROGATES = re.compile("[\ud800-\udfff]")


# --- schema -----------------------------------------------------------------------------------------------

def _v1_initial_schema(connection: sqlite3.Connection) -> None:
    connection.execute(
        """
        CREATE TABLE phantoms (
            account          TEXT    NOT NULL,
            repository       TEXT    NOT NULL,
            folder           TEXT    NOT NULL,
            uidvalidity      INTEGER NOT NULL,
            uid              INTEGER NOT NULL,
            verdict          TEXT    NOT NULL,
            skipped          INTEGER NOT NULL DEFAULT 0 CHECK (skipped IN (0, 1)),
            purged           INTEGER NOT NULL DEFAULT 0 CHECK (purged IN (0, 1)),
            reported         INTEGER NOT NULL DEFAULT 0 CHECK (reported IN (0, 1)),
            attempts         INTEGER NOT NULL DEFAULT 1,
            first_seen       TEXT    NOT NULL,
            last_seen        TEXT    NOT NULL,
            server_said      TEXT    NOT NULL DEFAULT '',
            recovered_by     TEXT,
            quarantine       TEXT,
            original_subject TEXT,
            original_sender  TEXT,
            original_date    TEXT,
            size             INTEGER,
            flags            TEXT,
            PRIMARY KEY (account, repository, folder, uidvalidity, uid)
        )
        """
    )


# Append a function here for version 2, 3, ...; never edit or reorder a step that has shipped.
MIGRATIONS: tuple[Migration, ...] = (_v1_initial_schema, v2_shown_table)
SCHEMA_VERSION = len(MIGRATIONS)

_COLUMNS = (
    "account, repository, folder, uidvalidity, uid, verdict, skipped, purged, reported, attempts, "
    "first_seen, last_seen, server_said, recovered_by, quarantine, original_subject, original_sender, "
    "original_date, size, flags"
)
_KEY_WHERE = "account = ? AND repository = ? AND folder = ? AND uidvalidity = ? AND uid = ?"
_ORDER = "ORDER BY account, repository, folder, uid, uidvalidity"


# --- small helpers ----------------------------------------------------------------------------------------

def _utc(value: datetime | None) -> datetime:
    if value is None:
        return clock.now()
    if value.tzinfo is None or value.utcoffset() is None:
        raise ValueError(f"a timezone-aware datetime is needed, got {value!r}")
    return value.astimezone(timezone.utc)


def _time_text(value: datetime) -> str:
    # Fixed width, always UTC: text order is time order, which skipped_uids relies on.
    return value.astimezone(timezone.utc).isoformat(timespec="microseconds")


def _parse_time(text: str) -> datetime:
    value = datetime.fromisoformat(text)
    if value.tzinfo is None:
        value = value.replace(tzinfo=timezone.utc)
    return value.astimezone(timezone.utc)


def _text(value: str | None) -> str | None:
    """Text as given, except that lone surrogates (not encodable as UTF-8) become U+FFFD."""
    if value is None:
        return None
    return _SURROGATES.sub("\ufffd", value)


def _key_params(key: MessageKey) -> tuple[Any, ...]:
    return (_text(key.account), _text(key.repository), _text(key.folder), int(key.uidvalidity), int(key.uid))


def _primary_code(error: sqlite3.Error) -> int | None:
    code = getattr(error, "sqlite_errorcode", None)  # Python 3.11+
    return code & 0xFF if isinstance(code, int) else None


def _is_corruption(error: sqlite3.Error) -> bool:
    code = _primary_code(error)
    if code is not None:
        return code in (_SQLITE_CORRUPT, _SQLITE_NOTADB)
    text = str(error).lower()
    return "not a database" in text or "malformed" in text


def _is_busy(error: sqlite3.Error) -> bool:
    code = _primary_code(error)
    if code is not None:
        return code in (_SQLITE_BUSY, _SQLITE_LOCKED)
    text = str(error).lower()
    return "locked" in text or "busy" in text


def _one_line(text: str, limit: int = 300) -> str:
    line = " ".join(str(text).split())
    return line if len(line) <= limit else line[: limit - 1] + "\u2026"


def _describe_os_error(error: OSError) -> str:
    return error.strerror or str(error)


def _record_from_row(row: sqlite3.Row | tuple[Any, ...]) -> PhantomRecord:
    (account, repository, folder, uidvalidity, uid, verdict, skipped, purged, reported, attempts,
     first_seen, last_seen, server_said, recovered_by, quarantine, subject, sender, date, size, flags) = row
    original = None
    if subject is not None or sender is not None or date is not None:
        original = Original(subject=subject, sender=sender, date=date)
    return PhantomRecord(
        key=MessageKey(account, repository, folder, int(uidvalidity), int(uid)),
        verdict=Verdict(verdict),
        skipped=bool(skipped),
        first_seen=_parse_time(first_seen),
        last_seen=_parse_time(last_seen),
        attempts=int(attempts),
        server_said=server_said,
        recovered_by=recovered_by,
        quarantine=quarantine,
        original=original,
        size=None if size is None else int(size),
        flags=flags,
        purged=bool(purged),
        reported=bool(reported),
    )


def _filters(account: str | None, folder: str | None, uid: int | None) -> tuple[str, list[Any]]:
    clauses: list[str] = []
    params: list[Any] = []
    for column, value in (("account", _text(account)), ("folder", _text(folder)), ("uid", uid)):
        if value is not None:
            clauses.append(f"{column} = ?")  # column names are ours; values are parameters
            params.append(value)
    return (" WHERE " + " AND ".join(clauses)) if clauses else "", params


class _Corrupt(Exception):
    """Internal: the file is not a usable database; carries the reason for the warning."""


# --- the store ----------------------------------------------------------------------------------------------

class PhantomStore:
    """The skip list and phantom records in ``<directory>/phantoms.sqlite3``.

    Safe to share between threads (one connection, serialized by a lock) and to use while another process
    opens the same file. Raises :class:`StoreError` when the store cannot be opened, read or written.
    """

    def __init__(self, directory: Path, *, warn: Callable[[str], None] | None = None,
                 readonly_connection: sqlite3.Connection | None = None) -> None:
        """With ``readonly_connection`` (see :func:`store_readonly.open_readonly`) nothing is opened or created
        here and every write raises StoreError."""
        self.directory = Path(directory)
        self.path = self.directory / STORE_FILENAME
        self.readonly = readonly_connection is not None
        self._warn: Callable[[str], None] = warn if warn is not None else _log.warning
        self._lock = threading.RLock()
        self._connection: sqlite3.Connection | None = readonly_connection
        if readonly_connection is not None:
            return
        self._make_directory()
        try:
            self._connection = self._open()
        except _Corrupt as corrupt:
            moved = self._move_aside()
            self._warn(f"the phantom store {self.path} was damaged ({corrupt}); moved it to {moved} "
                       f"and started a new one")
            try:
                self._connection = self._open()
            except _Corrupt as again:
                raise StoreError(f"cannot start a new phantom store {self.path}: {again}") from None

    # --- lifecycle --------------------------------------------------------------------------------------
    def close(self) -> None:
        """Close the connection (idempotent). Later calls raise :class:`StoreError`."""
        with self._lock:
            connection, self._connection = self._connection, None
            if connection is not None:
                try:
                    connection.close()
                except sqlite3.Error as error:
                    raise StoreError(f"phantom store {self.path}: {_one_line(str(error))}") from None

    def __enter__(self) -> PhantomStore:
        return self

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 traceback: TracebackType | None) -> None:
        self.close()

    def __repr__(self) -> str:
        return f"PhantomStore({str(self.path)!r})"

    # --- public operations ------------------------------------------------------------------------------
    def record(
        self,
        key: MessageKey,
        verdict: Verdict,
        *,
        skipped: bool,
        server_said: str = "",
        recovered_by: str | None = None,
        quarantine: str | None = None,
        original: Original | None = None,
        size: int | None = None,
        flags: str | None = None,
        now: datetime | None = None,
        first_seen: datetime | None = None,
    ) -> PhantomRecord:
        """Insert or update the row for ``key`` and return it as stored.

        A new row starts with ``attempts == 1`` and ``first_seen == last_seen == now``. An existing row gets
        ``attempts + 1``, ``last_seen = now``, the new verdict, ``skipped``, ``server_said`` and
        ``recovered_by`` (a changed verdict clears ``reported``, schema version 1's single reader mark);
        ``quarantine``, ``original``, ``size`` and ``flags`` change only when a new value is
        given (an empty :class:`Original` counts as none). Seeing the message again clears ``purged``.
        ``first_seen`` (when earlier than now) is a new row's first sighting known from elsewhere, e.g. the
        quarantine item kept from before a ``clear``.
        """
        moment = _utc(now)
        stamp = _time_text(moment)
        first = _time_text(min(moment, _utc(first_seen))) if first_seen is not None else stamp
        verdict = Verdict(verdict)
        if original is not None and original.is_empty():
            original = None
        subject = sender = date = None
        if original is not None:
            subject, sender, date = _text(original.subject), _text(original.sender), _text(original.date)
        params = _key_params(key)

        def upsert(connection: sqlite3.Connection) -> PhantomRecord:
            exists = connection.execute(f"SELECT 1 FROM phantoms WHERE {_KEY_WHERE}", params).fetchone()
            if exists is None:
                connection.execute(
                    f"INSERT INTO phantoms ({_COLUMNS}) "
                    "VALUES (?, ?, ?, ?, ?, ?, ?, 0, 0, 1, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                    (*params, verdict.value, int(bool(skipped)), first, stamp, _text(server_said) or "",
                     _text(recovered_by), _text(quarantine), subject, sender, date, size, _text(flags)),
                )
            else:
                connection.execute(
                    "UPDATE phantoms SET attempts = attempts + 1, last_seen = ?, "
                    "reported = CASE WHEN verdict = ? THEN reported ELSE 0 END, verdict = ?, skipped = ?, "
                    "purged = 0, server_said = ?, recovered_by = ?, "
                    "quarantine = COALESCE(?, quarantine), size = COALESCE(?, size), "
                    "flags = COALESCE(?, flags), "
                    "original_subject = CASE WHEN ? THEN ? ELSE original_subject END, "
                    "original_sender = CASE WHEN ? THEN ? ELSE original_sender END, "
                    "original_date = CASE WHEN ? THEN ? ELSE original_date END "
                    f"WHERE {_KEY_WHERE}",
                    (stamp, verdict.value, verdict.value, int(bool(skipped)), _text(server_said) or "",
                     _text(recovered_by),
                     _text(quarantine), size, _text(flags),
                     original is not None, subject, original is not None, sender, original is not None, date,
                     *params),
                )
            row = connection.execute(f"SELECT {_COLUMNS} FROM phantoms WHERE {_KEY_WHERE}", params).fetchone()
            return _record_from_row(row)

        return self._run(upsert, write=True)

    def get(self, key: MessageKey) -> PhantomRecord | None:
        """The row for ``key``, or None."""
        params = _key_params(key)

        def select(connection: sqlite3.Connection) -> PhantomRecord | None:
            row = connection.execute(f"SELECT {_COLUMNS} FROM phantoms WHERE {_KEY_WHERE}", params).fetchone()
            return None if row is None else _record_from_row(row)

        return self._run(select, write=False)

    def skipped_uids(
        self,
        account: str,
        repository: str,
        folder: str,
        uidvalidity: int,
        *,
        retry_after: timedelta | None,
        now: datetime | None = None,
    ) -> frozenset[int]:
        """UIDs not to fetch in this folder under this UIDVALIDITY.

        Rows that are skipped and not purged, and whose ``last_seen + retry_after`` is still after ``now``;
        ``retry_after=None`` means never retry. Rows of any other UIDVALIDITY never count.
        """
        sql = ("SELECT uid FROM phantoms WHERE account = ? AND repository = ? AND folder = ? "
               "AND uidvalidity = ? AND skipped = 1 AND purged = 0")
        params: list[Any] = [_text(account), _text(repository), _text(folder), int(uidvalidity)]
        current = _utc(now)
        if retry_after is not None:
            try:
                threshold = current - retry_after
            except OverflowError:  # a retry interval longer than recorded history: nothing is due yet
                threshold = None
            if threshold is not None:
                sql += " AND last_seen > ?"
                params.append(_time_text(threshold))

        def select(connection: sqlite3.Connection) -> frozenset[int]:
            return frozenset(int(uid) for (uid,) in connection.execute(sql, params))

        return self._run(select, write=False)

    def records(
        self, *, account: str | None = None, folder: str | None = None, uid: int | None = None
    ) -> list[PhantomRecord]:
        """Rows matching every filter given, ordered by account, repository, folder, uid."""
        where, params = _filters(account, folder, uid)

        def select(connection: sqlite3.Connection) -> list[PhantomRecord]:
            rows = connection.execute(f"SELECT {_COLUMNS} FROM phantoms{where} {_ORDER}", params)
            return [_record_from_row(row) for row in rows]

        return self._run(select, write=False)

    def clear(
        self,
        *,
        account: str | None = None,
        folder: str | None = None,
        uid: int | None = None,
        dry_run: bool = False,
    ) -> list[PhantomRecord]:
        """Delete every row (no account), an account's, a folder's or one UID's, in one transaction.

        Returns what was deleted, or with ``dry_run`` what would be, deleting nothing. ``folder`` needs
        ``account`` and ``uid`` needs ``folder`` (ValueError otherwise). A UID is cleared under every
        repository and UIDVALIDITY of that account and folder.
        """
        if folder is not None and account is None:
            raise ValueError("clearing a folder needs its account")
        if uid is not None and folder is None:
            raise ValueError("clearing a UID needs its folder")
        where, params = _filters(account, folder, uid)

        def delete(connection: sqlite3.Connection) -> list[PhantomRecord]:
            rows = connection.execute(f"SELECT {_COLUMNS} FROM phantoms{where} {_ORDER}", params)
            gone = [_record_from_row(row) for row in rows]
            if not dry_run and gone:
                connection.execute(f"DELETE FROM phantoms{where}", params)
            return gone

        return self._run(delete, write=not dry_run)

    def mark_reported(self, keys: Iterable[MessageKey]) -> None:
        """Set ``reported`` on these rows (unknown keys are ignored), in one transaction."""
        batch = [_key_params(key) for key in keys]
        if not batch:
            return

        def update(connection: sqlite3.Connection) -> None:
            connection.executemany(f"UPDATE phantoms SET reported = 1 WHERE {_KEY_WHERE}", batch)

        self._run(update, write=True)

    def mark_purged(self, key: MessageKey) -> None:
        """The message was deleted on the server: ``purged = 1``, ``skipped = 0`` (unknown key: no-op)."""
        params = _key_params(key)

        def update(connection: sqlite3.Connection) -> None:
            connection.execute(f"UPDATE phantoms SET purged = 1, skipped = 0 WHERE {_KEY_WHERE}", params)

        self._run(update, write=True)

    def check(self) -> str:
        """``"ok"``, or what ``PRAGMA integrity_check`` found (one line), for ``doctor``."""

        def integrity(connection: sqlite3.Connection) -> str:
            try:
                problems = [str(row[0]) for row in connection.execute("PRAGMA integrity_check")]
            except sqlite3.DatabaseError as error:
                if _is_corruption(error):
                    return _one_line(str(error))
                raise
            if problems == ["ok"]:
                return "ok"
            return _one_line("; ".join(problems), limit=1000) or "integrity_check returned nothing"

        return self._run(integrity, write=False)

    def transact(self, operation: Callable[[sqlite3.Connection], _T], *, write: bool) -> _T:
        """Run ``operation`` on the connection like this class's own queries (used by ``marks``)."""
        return self._run(operation, write=write)

    # --- running statements -----------------------------------------------------------------------------
    def _run(self, operation: Callable[[sqlite3.Connection], _T], *, write: bool) -> _T:
        """Run ``operation`` under the lock, in a write transaction when ``write``; retried when busy."""
        if write and self.readonly:
            raise StoreError(f"the phantom store {self.path} was opened read-only")
        with self._lock:
            connection = self._connection
            if connection is None:
                raise StoreError(f"the phantom store {self.path} is closed")
            attempt = 0
            while True:
                try:
                    with self._transaction(connection, write=write):
                        return operation(connection)
                except sqlite3.Error as error:
                    if _is_busy(error) and attempt < _BUSY_RETRIES:
                        attempt += 1
                        time.sleep(_BUSY_PAUSE_SECONDS)
                        continue
                    raise StoreError(f"phantom store {self.path}: {_one_line(str(error))}") from None
                except (ValueError, UnicodeError) as error:  # an unknown verdict or a bad time in a row
                    raise StoreError(f"phantom store {self.path} holds an unreadable row: "
                                     f"{_one_line(str(error))}") from None

    @staticmethod
    @contextmanager
    def _transaction(connection: sqlite3.Connection, *, write: bool) -> Iterator[None]:
        # Read-only operations are single statements and need no explicit transaction (autocommit);
        # writes take the write lock up front (BEGIN IMMEDIATE) so a read never has to upgrade to a write,
        # which is the case where SQLite gives up with SQLITE_BUSY without waiting.
        if not write:
            yield
            return
        connection.execute("BEGIN IMMEDIATE")
        try:
            yield
            connection.execute("COMMIT")
        except BaseException:
            if connection.in_transaction:
                try:
                    connection.execute("ROLLBACK")
                except sqlite3.Error:
                    pass
            raise

    # --- opening --------------------------------------------------------------------------------------
    def _make_directory(self) -> None:
        """Create the directory and missing parents with mode 0700; existing ones are left as they are."""
        missing: list[Path] = []
        candidate = self.directory
        try:
            while not candidate.exists() and not candidate.is_symlink():
                missing.append(candidate)
                if candidate.parent == candidate:
                    break
                candidate = candidate.parent
            for directory in reversed(missing):
                try:
                    os.mkdir(directory, 0o700)
                except FileExistsError:
                    continue  # created meanwhile by another thread or process
                os.chmod(directory, 0o700)  # in case the umask took more than group and other bits
            if not self.directory.is_dir():
                raise StoreError(f"cannot use {self.directory} for the phantom store: not a directory")
        except OSError as error:
            raise StoreError(f"cannot create the phantom store directory {self.directory}: "
                             f"{_describe_os_error(error)}") from None

    def _create_file(self) -> None:
        """Create the database file with mode 0600 (SQLite gives its -wal and -shm files the same mode)."""
        try:
            descriptor = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o600)
        except OSError as error:
            raise StoreError(f"cannot open the phantom store {self.path}: "
                             f"{_describe_os_error(error)}") from None
        try:
            if os.fstat(descriptor).st_mode & 0o077:
                os.fchmod(descriptor, 0o600)
        except OSError:
            pass  # not ours to change (another user's file); SQLite will say whether it can use it
        finally:
            os.close(descriptor)

    def _tighten_companions(self) -> None:
        for suffix in _COMPANION_SUFFIXES:
            companion = Path(f"{self.path}{suffix}")
            try:
                if companion.stat().st_mode & 0o077:
                    os.chmod(companion, 0o600)
            except OSError:
                pass

    def _open(self) -> sqlite3.Connection:
        """Open, check and migrate the file. Raises _Corrupt for a damaged file, StoreError otherwise."""
        self._create_file()
        try:
            connection = sqlite3.connect(
                str(self.path), timeout=BUSY_TIMEOUT_SECONDS, isolation_level=None, check_same_thread=False
            )
        except sqlite3.Error as error:
            raise StoreError(f"cannot open the phantom store {self.path}: {_one_line(str(error))}") from None
        try:
            self._prepare(connection)
        except BaseException as error:
            connection.close()
            if isinstance(error, sqlite3.DatabaseError) and _is_corruption(error):
                raise _Corrupt(_one_line(str(error))) from None
            if isinstance(error, sqlite3.Error):
                raise StoreError(f"cannot open the phantom store {self.path}: "
                                 f"{_one_line(str(error))}") from None
            raise
        self._tighten_companions()
        return connection

    def _prepare(self, connection: sqlite3.Connection) -> None:
        connection.execute(f"PRAGMA busy_timeout = {int(BUSY_TIMEOUT_SECONDS * 1000)}")
        # Read the version first: a newer file must not be touched (switching to WAL writes its header).
        version = int(connection.execute("PRAGMA user_version").fetchone()[0])
        if version > SCHEMA_VERSION or version < 0:
            raise StoreError(
                f"the phantom store {self.path} has schema version {version}, but this "
                f"offlineimap-phantomfix knows only up to version {SCHEMA_VERSION}; upgrade "
                f"offlineimap-phantomfix or move the file away"
            )
        problems = [str(row[0]) for row in connection.execute("PRAGMA quick_check")]
        if problems != ["ok"]:
            raise _Corrupt(_one_line("; ".join(problems)) or "quick_check returned nothing")
        mode = str(connection.execute("PRAGMA journal_mode").fetchone()[0]).lower()
        if mode != "wal":
            mode = str(connection.execute("PRAGMA journal_mode = WAL").fetchone()[0]).lower()
            if mode != "wal":
                raise StoreError(f"the phantom store {self.path} cannot use WAL mode (got {mode!r})")
        connection.execute("PRAGMA synchronous = NORMAL")
        connection.execute("PRAGMA foreign_keys = ON")
        self._migrate(connection)

    def _migrate(self, connection: sqlite3.Connection) -> None:
        """Apply every step past the file's version, each in its own transaction with its version bump."""
        steps = MIGRATIONS
        for target, step in enumerate(steps, start=1):
            attempt = 0
            while True:
                try:
                    with self._transaction(connection, write=True):
                        # Re-read inside the write lock: another process may have migrated meanwhile.
                        current = int(connection.execute("PRAGMA user_version").fetchone()[0])
                        if current < target:
                            step(connection)
                            connection.execute(f"PRAGMA user_version = {int(target)}")
                    break
                except sqlite3.OperationalError as error:
                    if _is_busy(error) and attempt < _BUSY_RETRIES:
                        attempt += 1
                        time.sleep(_BUSY_PAUSE_SECONDS)
                        continue
                    raise

    def _move_aside(self) -> Path:
        """Rename the damaged file (and its companions) to ``<name>.corrupt-<UTC timestamp>``."""
        stamp = datetime.now(timezone.utc).strftime("%Y%m%dT%H%M%SZ")
        target = self.path.with_name(f"{STORE_FILENAME}.corrupt-{stamp}")
        number = 1
        while target.exists():
            target = self.path.with_name(f"{STORE_FILENAME}.corrupt-{stamp}-{number}")
            number += 1
        try:
            os.replace(self.path, target)
            for suffix in _COMPANION_SUFFIXES:
                companion = Path(f"{self.path}{suffix}")
                if companion.exists():
                    os.replace(companion, Path(f"{target}{suffix}"))
        except OSError as error:
            raise StoreError(f"the phantom store {self.path} is damaged and cannot be moved aside: "
                             f"{_describe_os_error(error)}") from None
        return target
