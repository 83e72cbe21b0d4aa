"""Second sync of a mailbox with phantoms: are they fetched again, and what does the skip list cost?

On the IMAP emulator (127.0.0.1), INBOX holds 5,000 messages of which 50 are phantoms of mixed kinds
(``build_mixed_mailbox``, seeded, so every build is identical). ``vanish`` is left out of the kinds: such a
message is expunged by the server the first time it is fetched, so it is not listed at all on the second
sync (nothing to skip, for stock and PhantomSafeIMAP alike) and would make the phantom mailbox smaller than
the phantom-free one it is timed against.

1. PhantomSafeIMAP: first sync, then the second sync; content fetches of phantom UIDs during the second sync
   are counted from the server's command log (target 0).
2. Stock ``type = IMAP`` on its own emulator and its own fresh Maildir: the same two syncs and the same count.
3. A phantom-free mailbox of the same size (same builder, 0 phantoms) synced once with PhantomSafeIMAP; then
   resyncs of both mailboxes alternate (which goes first alternates too) and the result is the median of
   the per-pair wall time ratios phantom / phantom-free (target <= 1.10). Nothing changes between resyncs,
   so every resync is the same "second sync" again.

``maxconnections = 1`` throughout. Each configuration gets its own emulator instance: fetching a placeholder
message can set \\Seen on the server, and one client's first sync must not change what another one sees.

Run: ``.venv/bin/python benchmarks/bench_phantom_resync.py [--quick] [--pairs N]``.
"""

from __future__ import annotations

import argparse
import statistics
import sys
from collections.abc import Iterable
from contextlib import ExitStack
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from common import ACTIVATION, Outcome, Run, count_messages, finish, median_ratio, scratch, tail, timed_sync

from offlineimap_phantomfix.store import PhantomStore
from offlineimap_phantomfix.testing.harness import OfflineimapSetup, write_offlineimaprc
from offlineimap_phantomfix.testing.scenarios import build_mixed_mailbox
from offlineimap_phantomfix.testing.server import EmulatorServer, Fault

MESSAGES = 5_000
PHANTOMS = 50
QUICK_MESSAGES = 1_000
QUICK_PHANTOMS = 10
PAIRS = 7
QUICK_PAIRS = 5
TARGET_RATIO = 1.10
KINDS = tuple(fault for fault in Fault if fault is not Fault.VANISH)


def phantom_fetches(server: EmulatorServer, start: int, uids: Iterable[int]) -> int:
    """Content fetches (FETCH / UID FETCH asking for message content) naming any of ``uids`` in INBOX, in
    the server's command log from entry ``start`` on."""
    wanted = set(uids)
    with server.lock:
        entries = server.log[start:]
    return sum(1 for e in entries if e.command in ("FETCH", "UID FETCH") and e.content and e.folder == "INBOX"
               and wanted.intersection(e.uids))


def log_length(server: EmulatorServer) -> int:
    with server.lock:
        return len(server.log)


def store_records(setup: OfflineimapSetup) -> int:
    directory = setup.metadata / "phantomfix"
    if not (directory / "phantoms.sqlite3").exists():
        return 0
    with PhantomStore(directory) as store:
        return len(store.records())


def check(outcome: Outcome, what: str, run: Run) -> None:
    if run.returncode != 0 or run.timed_out:
        outcome.broken.append(f"phantom_resync: {what} exited {run.returncode}:\n{tail(run.output)}")


def measure(quick: bool = False, pairs: int | None = None) -> Outcome:
    outcome = Outcome("phantom_resync")
    total = QUICK_MESSAGES if quick else MESSAGES
    phantoms = QUICK_PHANTOMS if quick else PHANTOMS
    pairs = pairs or (QUICK_PAIRS if quick else PAIRS)
    with ExitStack() as stack:
        servers = {name: stack.enter_context(EmulatorServer()) for name in ("phantom", "stock", "healthy")}
        faults = build_mixed_mailbox(servers["phantom"], total=total, phantoms=phantoms, kinds=KINDS)
        if build_mixed_mailbox(servers["stock"], total=total, phantoms=phantoms, kinds=KINDS) != faults:
            outcome.broken.append("phantom_resync: build_mixed_mailbox is not deterministic")
            return outcome
        build_mixed_mailbox(servers["healthy"], total=total, phantoms=0)
        setups = {
            name: write_offlineimaprc(stack.enter_context(scratch(name)), port=servers[name].port,
                                      repo_type="IMAP" if name == "stock" else "PhantomSafeIMAP",
                                      maxconnections=1, pythonfile_lines=None if name == "stock" else ACTIVATION)
            for name in servers
        }

        # 1. PhantomSafeIMAP: first and second sync of the phantom mailbox.
        first = timed_sync(setups["phantom"])
        check(outcome, "PhantomSafeIMAP first sync (phantoms)", first)
        first_fetches = phantom_fetches(servers["phantom"], 0, faults)
        mark = log_length(servers["phantom"])
        second = timed_sync(setups["phantom"])
        check(outcome, "PhantomSafeIMAP second sync (phantoms)", second)
        second_fetches = phantom_fetches(servers["phantom"], mark, faults)
        recorded = store_records(setups["phantom"])
        if recorded != phantoms:
            outcome.broken.append(f"phantom_resync: the store holds {recorded} records, expected {phantoms}")
        local = count_messages(setups["phantom"].maildir)

        # 2. Stock IMAP, same mailbox, its own server and Maildir; a failing exit is what it does, not a bug.
        stock_first = timed_sync(setups["stock"])
        mark = log_length(servers["stock"])
        stock_second = timed_sync(setups["stock"])
        stock_second_fetches = phantom_fetches(servers["stock"], mark, faults)
        stock_local = count_messages(setups["stock"].maildir)

        # 3. Phantom-free mailbox of the same size: first sync, then alternating resyncs.
        healthy_first = timed_sync(setups["healthy"])
        check(outcome, "PhantomSafeIMAP first sync (phantom-free)", healthy_first)
        if count_messages(setups["healthy"].maildir) != total:
            outcome.broken.append("phantom_resync: the phantom-free first sync did not deliver every message")
        if outcome.broken:
            return outcome
        mark = log_length(servers["phantom"])
        resyncs: list[tuple[Run, Run]] = []
        for index in range(pairs):
            order = ("phantom", "healthy") if index % 2 == 0 else ("healthy", "phantom")
            pair = {name: timed_sync(setups[name]) for name in order}
            for name, run in pair.items():
                check(outcome, f"PhantomSafeIMAP resync ({name})", run)
            if outcome.broken:
                return outcome
            resyncs.append((pair["phantom"], pair["healthy"]))
        later_fetches = phantom_fetches(servers["phantom"], mark, faults)
        for server in servers.values():
            server.raise_errors()

    ratio = median_ratio([(p.seconds, h.seconds) for p, h in resyncs])
    kinds = sorted({fault.value for fault in faults.values()})
    outcome.payload.update({
        "messages": total, "phantoms": phantoms, "kinds": kinds, "quick": quick, "pairs": pairs,
        "maxconnections": 1, "server": "emulator",
        "plugin_first_sync_seconds": round(first.seconds, 3),
        "plugin_first_sync_phantom_content_fetches": first_fetches,
        "plugin_second_sync_seconds": round(second.seconds, 3),
        "plugin_second_sync_phantom_content_fetches": second_fetches,
        "plugin_later_resyncs_phantom_content_fetches": later_fetches,
        "plugin_store_records": recorded, "plugin_local_messages": local,
        "stock_first_sync": {"seconds": round(stock_first.seconds, 3), "returncode": stock_first.returncode},
        "stock_second_sync": {"seconds": round(stock_second.seconds, 3), "returncode": stock_second.returncode},
        "stock_second_sync_phantom_content_fetches": stock_second_fetches, "stock_local_messages": stock_local,
        "phantom_free_first_sync_seconds": round(healthy_first.seconds, 3),
        "resync_phantom_seconds": [round(p.seconds, 3) for p, _ in resyncs],
        "resync_phantom_free_seconds": [round(h.seconds, 3) for _, h in resyncs],
        "resync_ratio_median": round(ratio, 4),
    })
    outcome.info("mailbox (emulator, maxconnections=1)",
                 f"{total:,} msgs, {phantoms} phantoms of {len(kinds)} kinds (no vanish)")
    outcome.info("PhantomSafeIMAP first sync: store records / local msgs", f"{recorded} / {local:,}")
    outcome.target("phantom content fetches, PhantomSafeIMAP 2nd sync", str(second_fetches), "0",
                   second_fetches == 0)
    outcome.info("phantom content fetches, stock IMAP 2nd sync",
                 f"{stock_second_fetches} (exit {stock_second.returncode}, {stock_local:,} msgs local)")
    outcome.target(f"phantom content fetches, {pairs} more PhantomSafeIMAP resyncs", str(later_fetches), "0",
                   later_fetches == 0)
    outcome.info("resync wall time, phantom-free (median)", f"{statistics.median(h.seconds for _, h in resyncs):.2f} s")
    outcome.target(f"resync wall time phantoms / phantom-free (median of {pairs})", f"{ratio:.3f}",
                   f"<= {TARGET_RATIO:.2f}", ratio <= TARGET_RATIO)
    return outcome


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--quick", action="store_true",
                        help=f"{QUICK_MESSAGES:,} messages, {QUICK_PHANTOMS} phantoms, {QUICK_PAIRS} pairs")
    parser.add_argument("--pairs", type=int, default=None, help="number of alternating resync pairs")
    args = parser.parse_args()
    return finish(measure(args.quick, args.pairs))


if __name__ == "__main__":
    raise SystemExit(main())
