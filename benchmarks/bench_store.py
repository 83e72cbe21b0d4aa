"""Store with 100,000 entries: time to load one folder's skip set, and the cost of one skip lookup.

The lookup is measured beside a plain dict lookup in the same run, so the ratio means something on a noisy
machine. Run: ``.venv/bin/python benchmarks/bench_store.py``.
"""

from __future__ import annotations

import sqlite3
import statistics
import sys
import tempfile
import time
import timeit
from datetime import datetime, timedelta, timezone
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from common import Outcome, finish

from offlineimap_phantomfix.store import STORE_FILENAME, PhantomStore
from offlineimap_phantomfix.verdicts import MessageKey, Verdict

ENTRIES = 100_000
FOLDERS = 100  # 1,000 entries a folder


def fill(directory: Path) -> None:
    """Populate through the public API once (to get the real schema), then in bulk through SQLite."""
    now = datetime.now(timezone.utc)
    with PhantomStore(directory) as store:
        store.record(MessageKey("acct", "Remote", "F0", 1, 1), Verdict.EMPTY, skipped=True, now=now)
    connection = sqlite3.connect(directory / STORE_FILENAME)
    template = connection.execute("SELECT * FROM phantoms").fetchone()
    columns = [d[0] for d in connection.execute("SELECT * FROM phantoms").description]
    rows = []
    for n in range(1, ENTRIES):
        row = dict(zip(columns, template))
        row.update(folder=f"F{n % FOLDERS}", uid=n + 1)
        rows.append(tuple(row[c] for c in columns))
    placeholders = ",".join("?" for _ in columns)
    connection.executemany(f"INSERT INTO phantoms VALUES ({placeholders})", rows)
    connection.commit()
    connection.close()


def measure(quick: bool = False) -> Outcome:
    """``quick`` changes nothing here: the whole benchmark takes a couple of seconds."""
    outcome = Outcome("store")
    with tempfile.TemporaryDirectory() as tmp:
        directory = Path(tmp)
        started = time.perf_counter()
        fill(directory)
        fill_seconds = time.perf_counter() - started
        loads = []
        with PhantomStore(directory) as store:
            for _ in range(20):
                started = time.perf_counter()
                skipped = store.skipped_uids("acct", "Remote", "F7", 1, retry_after=timedelta(days=7))
                loads.append(time.perf_counter() - started)
            count = len(skipped)
        if count != ENTRIES // FOLDERS:
            outcome.broken.append(f"store: folder F7 has {count} skipped UIDs, expected {ENTRIES // FOLDERS}")
            return outcome
        probe = next(iter(skipped))
        as_dict = {uid: True for uid in skipped}
        rounds = 1_000_000
        lookup = min(timeit.repeat(lambda: probe in skipped, number=rounds, repeat=5)) / rounds
        baseline = min(timeit.repeat(lambda: probe in as_dict, number=rounds, repeat=5)) / rounds
    load_ms = statistics.median(loads) * 1000
    outcome.payload.update({
        "entries": ENTRIES, "folder_entries": count, "fill_seconds": round(fill_seconds, 3),
        "skip_set_load_ms_median": round(load_ms, 3),
        "lookup_ns": round(lookup * 1e9, 1), "dict_lookup_ns": round(baseline * 1e9, 1),
        "lookup_vs_dict": round(lookup / baseline, 2),
    })
    outcome.info("store entries", f"{ENTRIES:,} ({FOLDERS} folders)")
    outcome.info("skip set of one folder", f"{count:,} UIDs")
    outcome.target("load one folder's skip set (median of 20)", f"{load_ms:.2f} ms", "< 50 ms", load_ms < 50)
    outcome.info("one skip lookup", f"{lookup * 1e9:.0f} ns")
    outcome.target("skip lookup / plain dict lookup", f"{lookup / baseline:.2f}", "<= 2", lookup / baseline <= 2)
    return outcome


def main() -> int:
    return finish(measure())


if __name__ == "__main__":
    raise SystemExit(main())
