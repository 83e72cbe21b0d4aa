"""What each phantom cost, read from the emulator's command log: commands and new connections per phantom.

A phantom's window opens at the first content fetch naming its UID and closes at the next content fetch of
another message (or a SELECT/EXAMINE of another folder). Every command logged inside the window, on any
connection, is charged to that phantom; a connection whose first command falls inside it is a new connection
the phantom opened. Meaningful with ``maxconnections = 1``, where offlineimap copies one message at a time.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from .server import EmulatorServer, LogEntry, canonical_folder

__all__ = ["PhantomCost", "emulate_slow_link", "make_records_due", "phantom_costs"]

_LONG_AGO = "2000-01-01T00:00:00.000000+00:00"


@dataclass
class PhantomCost:
    """Commands charged to one phantom (its own failing plain fetch included) and the connections it opened."""

    commands: int = 0
    new_connections: int = 0
    names: list[str] = field(default_factory=list)  # the commands, in order


def emulate_slow_link(server: EmulatorServer, *, round_trip: float, connect: float | None = None) -> None:
    """Delay every command's response by ``round_trip`` seconds and every greeting by ``connect`` (default:
    the same): one emulated round trip per command, one more per new connection."""
    server.round_trip_delay = round_trip
    server.connect_delay = round_trip if connect is None else connect


def phantom_costs(entries: Sequence[LogEntry], phantoms: Mapping[int, object], *,
                  folder: str = "INBOX") -> dict[int, PhantomCost]:
    """The cost of each phantom UID in ``phantoms`` that was fetched at all in ``entries``."""
    key = canonical_folder(folder)
    costs: dict[int, PhantomCost] = {}
    seen_connections: set[int] = set()
    current: int | None = None
    for entry in entries:
        if entry.command in ("SELECT", "EXAMINE") and entry.folder != key:
            current = None
        elif entry.command in ("FETCH", "UID FETCH") and entry.content and entry.folder == key and entry.uids:
            uids = set(entry.uids)
            if current not in uids:
                named = [uid for uid in entry.uids if uid in phantoms]
                current = named[0] if len(uids) == 1 and named else None
        new = entry.connection not in seen_connections
        seen_connections.add(entry.connection)
        if current is None:
            continue
        cost = costs.setdefault(current, PhantomCost())
        cost.commands += 1
        cost.names.append(entry.command)
        if new:
            cost.new_connections += 1
    return costs


def make_records_due(metadata: Path) -> int:
    """Move every phantom record's ``last_seen`` under ``metadata`` far into the past, so that any
    ``phantom_retry_after`` has expired for all of them; returns how many records there are."""
    with sqlite3.connect(Path(metadata) / "phantomfix" / "phantoms.sqlite3") as db:
        db.execute("UPDATE phantoms SET last_seen = ?", (_LONG_AGO,))
        return int(db.execute("SELECT count(*) FROM phantoms").fetchone()[0])
