"""State: what each reader of ``report --new`` has been shown, and removing finished records.

Schema version 2 adds the table ``shown``: one row per reader ("consumer", e.g. ``cron`` or ``default``) and
message key, holding the record's state (verdict, skipped, purged) as it was last shown to that reader. A record
is news for a reader until a row with its current state is there, so a later change (a refusal confirmed, a
recovery, a purge) is news again, and two readers never take each other's news. Deleting a record deletes its
rows here too (a trigger), so a message recorded again after ``clear`` is news again.

The functions run through :meth:`PhantomStore.transact`, so they share its lock, busy retries and error
messages; this module does not import the store (the store's schema, ``store_schema``, imports the migration
from here).
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterable, Sequence
from typing import Callable, Protocol, TypeVar

from offlineimap_phantomfix.verdicts import MessageKey, PhantomRecord, Verdict

__all__ = ["DEFAULT_CONSUMER", "delete_finished", "mark_shown", "unshown", "v2_shown_table"]

DEFAULT_CONSUMER = "default"
_T = TypeVar("_T")
_KEY = ("account", "repository", "folder", "uidvalidity", "uid")
_FINISHED = f"(verdict IN ('{Verdict.RECOVERED.value}', '{Verdict.VANISHED.value}') OR purged = 1)"


class _Store(Protocol):
    def transact(self, operation: Callable[[sqlite3.Connection], _T], *, write: bool) -> _T: ...


def v2_shown_table(connection: sqlite3.Connection) -> None:
    """Migration to schema version 2: the ``shown`` table, seeded from version 1's single ``reported`` flag."""
    key_columns = ", ".join(_KEY)
    connection.execute(
        f"""
        CREATE TABLE shown (
            consumer    TEXT    NOT NULL,
            account     TEXT    NOT NULL,
            repository  TEXT    NOT NULL,
            folder      TEXT    NOT NULL,
            uidvalidity INTEGER NOT NULL,
            uid         INTEGER NOT NULL,
            verdict     TEXT    NOT NULL,
            skipped     INTEGER NOT NULL,
            purged      INTEGER NOT NULL,
            PRIMARY KEY (consumer, {key_columns})
        )
        """
    )
    connection.execute(
        f"INSERT INTO shown SELECT ?, {key_columns}, verdict, skipped, purged FROM phantoms WHERE reported = 1",
        (DEFAULT_CONSUMER,),
    )
    same_key = " AND ".join(f"{column} = OLD.{column}" for column in _KEY)
    connection.execute(
        f"CREATE TRIGGER shown_forget AFTER DELETE ON phantoms BEGIN DELETE FROM shown WHERE {same_key}; END"
    )


def _state(record: PhantomRecord) -> tuple[str, int, int]:
    return record.verdict.value, int(record.skipped), int(record.purged)


def _key_params(key: MessageKey) -> tuple[str, str, str, int, int]:
    return key.account, key.repository, key.folder, int(key.uidvalidity), int(key.uid)


def unshown(store: _Store, records: Sequence[PhantomRecord], consumer: str) -> list[PhantomRecord]:
    """The records whose current state ``consumer`` has not been shown yet, in the order given."""

    def select(connection: sqlite3.Connection) -> set[tuple[object, ...]]:
        rows = connection.execute(
            f"SELECT {', '.join(_KEY)}, verdict, skipped, purged FROM shown WHERE consumer = ?", (consumer,))
        return {tuple(row) for row in rows}

    seen = store.transact(select, write=False)
    return [record for record in records if (*_key_params(record.key), *_state(record)) not in seen]


def mark_shown(store: _Store, records: Iterable[PhantomRecord], consumer: str) -> None:
    """Remember that ``consumer`` has been shown these records in these states (one transaction)."""
    rows = [(consumer, *_key_params(record.key), *_state(record)) for record in records]
    if not rows:
        return

    def upsert(connection: sqlite3.Connection) -> None:
        connection.executemany(f"INSERT OR REPLACE INTO shown VALUES ({', '.join('?' * 9)})", rows)

    store.transact(upsert, write=True)


def delete_finished(store: _Store, records: Sequence[PhantomRecord], *, dry_run: bool = False) -> list[PhantomRecord]:
    """Delete those of ``records`` that are still finished (recovered, vanished or purged) when the
    transaction runs; a record a running sync has just turned into a phantom again stays. Returns the deleted."""
    where = " AND ".join(f"{column} = ?" for column in _KEY)

    def delete(connection: sqlite3.Connection) -> list[PhantomRecord]:
        gone = []
        for record in records:
            params = _key_params(record.key)
            if dry_run:
                hit = connection.execute(f"SELECT 1 FROM phantoms WHERE {where} AND {_FINISHED}", params).fetchone()
                if hit is not None:
                    gone.append(record)
            elif connection.execute(f"DELETE FROM phantoms WHERE {where} AND {_FINISHED}", params).rowcount:
                gone.append(record)
        return gone

    return store.transact(delete, write=not dry_run)
