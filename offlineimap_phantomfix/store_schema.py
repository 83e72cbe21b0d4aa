"""The phantom store's tables, the migrations that build and upgrade them, and how a record becomes a row.

The schema version lives in ``PRAGMA user_version``. :data:`MIGRATIONS` is the list of upgrade steps; step
*n* (1-based) brings a database from version *n - 1* to *n* (``store_file`` runs each in one transaction
together with the version bump). Times are stored as fixed-width UTC text, so text order is time order.
"""

from __future__ import annotations

import re
import sqlite3
from datetime import datetime, timezone
from typing import Any, Callable

from offlineimap_phantomfix import clock
from offlineimap_phantomfix.marks import v2_shown_table
from offlineimap_phantomfix.verdicts import MessageKey, Original, PhantomRecord, Verdict

__all__ = ["COLUMNS", "KEY_WHERE", "MIGRATIONS", "ORDER", "SCHEMA_VERSION", "Migration", "filters", "key_params",
           "record_from_row", "storable", "time_text", "utc"]

Migration = Callable[[sqlite3.Connection], None]

_SURROGATES = re.compile("[\ud800-\udfff]")


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

COLUMNS = (
    "account, repository, folder, uidvalidity, uid, verdict, skipped, purged, reported, attempts, "
    "first_seen, last_seen, server_said, recovered_by, quarantine, original_subject, original_sender, "
    "original_date, size, flags"
)
KEY_WHERE = "account = ? AND repository = ? AND folder = ? AND uidvalidity = ? AND uid = ?"
ORDER = "ORDER BY account, repository, folder, uid, uidvalidity"


# --- values in and out ------------------------------------------------------------------------------------

def utc(value: datetime | None) -> datetime:
    if value is None:
        return clock.now()
    if value.tzinfo is None or value.utcoffset() is None:
        raise ValueError(f"a timezone-aware datetime is needed, got {value!r}")
    return value.astimezone(timezone.utc)


def time_text(value: datetime) -> str:
    # Fixed width, always UTC: text order is time order, which skipped_uids relies on.
    return value.astimezone(timezone.utc).isoformat(timespec="microseconds")


def _parse_time(text: str) -> datetime:
    value = datetime.fromisoformat(text)
    if value.tzinfo is None:
        value = value.replace(tzinfo=timezone.utc)
    return value.astimezone(timezone.utc)


def storable(value: str | None) -> str | None:
    """Text as given, except that lone surrogates (not encodable as UTF-8) become U+FFFD."""
    if value is None:
        return None
    return _SURROGATES.sub("\ufffd", value)


def key_params(key: MessageKey) -> tuple[Any, ...]:
    return (storable(key.account), storable(key.repository), storable(key.folder), int(key.uidvalidity),
            int(key.uid))


def record_from_row(row: sqlite3.Row | tuple[Any, ...]) -> PhantomRecord:
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


def filters(account: str | None, folder: str | None, uid: int | None) -> tuple[str, list[Any]]:
    clauses: list[str] = []
    params: list[Any] = []
    for column, value in (("account", storable(account)), ("folder", storable(folder)), ("uid", uid)):
        if value is not None:
            clauses.append(f"{column} = ?")  # column names are ours; values are parameters
            params.append(value)
    return (" WHERE " + " AND ".join(clauses)) if clauses else "", params
