"""The persistent skip list and phantom records: one SQLite file per state directory.

``<directory>/phantoms.sqlite3`` holds one row per message key (account, repository, folder, uidvalidity, uid)
with the latest verdict and its history. The file is opened in WAL mode with a busy timeout, so offlineimap's
folder and copy threads (one connection, serialized by a lock) and a second process such as the command line
can use it at the same time.

This module holds the queries. The tables, their migrations and the row layout are in ``store_schema``; creating,
opening, migrating and moving aside the file are in ``store_sqlite``. A database written by a newer version is
refused and left untouched. A corrupt file is moved aside (``phantoms.sqlite3.corrupt-<UTC timestamp>``) with
a warning and a new store is started.

Every ``sqlite3`` failure leaves this module as a :class:`StoreError` with a one-line message.
"""

from __future__ import annotations

import logging
import sqlite3
import threading
import time
from datetime import datetime, timedelta
from pathlib import Path
from types import TracebackType
from typing import Any, Callable, TypeVar

from offlineimap_phantomfix.errors import StoreError
from offlineimap_phantomfix.store_schema import (
    COLUMNS,
    KEY_WHERE,
    MIGRATIONS,
    ORDER,
    SCHEMA_VERSION,
    filters,
    key_params,
    record_from_row,
    storable,
    time_text,
    utc,
)
from offlineimap_phantomfix.store_sqlite import (
    BUSY_PAUSE_SECONDS,
    BUSY_RETRIES,
    Corrupt,
    is_busy,
    is_corruption,
    make_directory,
    move_aside,
    one_line,
    open_file,
    transaction,
)
from offlineimap_phantomfix.verdicts import MessageKey, Original, PhantomRecord, Verdict

__all__ = ["MIGRATIONS", "SCHEMA_VERSION", "STORE_FILENAME", "PhantomStore"]

STORE_FILENAME = "phantoms.sqlite3"

_T = TypeVar("_T")
_log = logging.getLogger(__name__)


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
        make_directory(self.directory)
        try:
            self._connection = open_file(self.path, MIGRATIONS)
        except Corrupt as corrupt:
            moved = move_aside(self.path)
            self._warn(f"the phantom store {self.path} was damaged ({corrupt}); moved it to {moved} "
                       f"and started a new one")
            try:
                self._connection = open_file(self.path, MIGRATIONS)
            except Corrupt as again:
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
                    raise StoreError(f"phantom store {self.path}: {one_line(str(error))}") from None

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
        ``recovered_by``; ``quarantine``, ``original``, ``size`` and ``flags`` change only when a new value is
        given (an empty :class:`Original` counts as none). Seeing the message again clears ``purged``.
        ``first_seen`` (when earlier than now) is a new row's first sighting known from elsewhere, e.g. the
        quarantine item kept from before a ``clear``.
        """
        moment = utc(now)
        stamp = time_text(moment)
        first = time_text(min(moment, utc(first_seen))) if first_seen is not None else stamp
        verdict = Verdict(verdict)
        if original is not None and original.is_empty():
            original = None
        subject = sender = date = None
        if original is not None:
            subject, sender, date = storable(original.subject), storable(original.sender), storable(original.date)
        params = key_params(key)

        def upsert(connection: sqlite3.Connection) -> PhantomRecord:
            exists = connection.execute(f"SELECT 1 FROM phantoms WHERE {KEY_WHERE}", params).fetchone()
            if exists is None:
                connection.execute(
                    f"INSERT INTO phantoms ({COLUMNS}) "
                    "VALUES (?, ?, ?, ?, ?, ?, ?, 0, 0, 1, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                    (*params, verdict.value, int(bool(skipped)), first, stamp, storable(server_said) or "",
                     storable(recovered_by), storable(quarantine), subject, sender, date, size, storable(flags)),
                )
            else:
                connection.execute(
                    "UPDATE phantoms SET attempts = attempts + 1, last_seen = ?, "
                    "verdict = ?, skipped = ?, "
                    "purged = 0, server_said = ?, recovered_by = ?, "
                    "quarantine = COALESCE(?, quarantine), size = COALESCE(?, size), "
                    "flags = COALESCE(?, flags), "
                    "original_subject = CASE WHEN ? THEN ? ELSE original_subject END, "
                    "original_sender = CASE WHEN ? THEN ? ELSE original_sender END, "
                    "original_date = CASE WHEN ? THEN ? ELSE original_date END "
                    f"WHERE {KEY_WHERE}",
                    (stamp, verdict.value, int(bool(skipped)), storable(server_said) or "",
                     storable(recovered_by),
                     storable(quarantine), size, storable(flags),
                     original is not None, subject, original is not None, sender, original is not None, date,
                     *params),
                )
            row = connection.execute(f"SELECT {COLUMNS} FROM phantoms WHERE {KEY_WHERE}", params).fetchone()
            return record_from_row(row)

        return self._run(upsert, write=True)

    def get(self, key: MessageKey) -> PhantomRecord | None:
        """The row for ``key``, or None."""
        params = key_params(key)

        def select(connection: sqlite3.Connection) -> PhantomRecord | None:
            row = connection.execute(f"SELECT {COLUMNS} FROM phantoms WHERE {KEY_WHERE}", params).fetchone()
            return None if row is None else record_from_row(row)

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
        params: list[Any] = [storable(account), storable(repository), storable(folder), int(uidvalidity)]
        current = utc(now)
        if retry_after is not None:
            try:
                threshold = current - retry_after
            except OverflowError:  # a retry interval longer than recorded history: nothing is due yet
                threshold = None
            if threshold is not None:
                sql += " AND last_seen > ?"
                params.append(time_text(threshold))

        def select(connection: sqlite3.Connection) -> frozenset[int]:
            return frozenset(int(uid) for (uid,) in connection.execute(sql, params))

        return self._run(select, write=False)

    def records(
        self, *, account: str | None = None, folder: str | None = None, uid: int | None = None
    ) -> list[PhantomRecord]:
        """Rows matching every filter given, ordered by account, repository, folder, uid."""
        where, params = filters(account, folder, uid)

        def select(connection: sqlite3.Connection) -> list[PhantomRecord]:
            rows = connection.execute(f"SELECT {COLUMNS} FROM phantoms{where} {ORDER}", params)
            return [record_from_row(row) for row in rows]

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
        where, params = filters(account, folder, uid)

        def delete(connection: sqlite3.Connection) -> list[PhantomRecord]:
            rows = connection.execute(f"SELECT {COLUMNS} FROM phantoms{where} {ORDER}", params)
            gone = [record_from_row(row) for row in rows]
            if not dry_run and gone:
                connection.execute(f"DELETE FROM phantoms{where}", params)
            return gone

        return self._run(delete, write=not dry_run)

    def mark_purged(self, key: MessageKey) -> None:
        """The message was deleted on the server: ``purged = 1``, ``skipped = 0`` (unknown key: no-op)."""
        params = key_params(key)

        def update(connection: sqlite3.Connection) -> None:
            connection.execute(f"UPDATE phantoms SET purged = 1, skipped = 0 WHERE {KEY_WHERE}", params)

        self._run(update, write=True)

    def check(self) -> str:
        """``"ok"``, or what ``PRAGMA integrity_check`` found (one line), for ``doctor``."""

        def integrity(connection: sqlite3.Connection) -> str:
            try:
                problems = [str(row[0]) for row in connection.execute("PRAGMA integrity_check")]
            except sqlite3.DatabaseError as error:
                if is_corruption(error):
                    return one_line(str(error))
                raise
            if problems == ["ok"]:
                return "ok"
            return one_line("; ".join(problems), limit=1000) or "integrity_check returned nothing"

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
                    with transaction(connection, write=write):
                        return operation(connection)
                except sqlite3.Error as error:
                    if is_busy(error) and attempt < BUSY_RETRIES:
                        attempt += 1
                        time.sleep(BUSY_PAUSE_SECONDS)
                        continue
                    raise StoreError(f"phantom store {self.path}: {one_line(str(error))}") from None
                except (ValueError, UnicodeError) as error:  # an unknown verdict or a bad time in a row
                    raise StoreError(f"phantom store {self.path} holds an unreadable row: "
                                     f"{one_line(str(error))}") from None
