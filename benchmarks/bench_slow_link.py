"""Phantoms on an emulated slow link: what each new phantom, and each due re-check, costs in round trips.

Three emulators on 127.0.0.1, each answering every command 50 ms late and greeting every new connection
50 ms late (``emulate_slow_link``): one with INBOX of 2,000 messages of which 40 are phantoms of mixed kinds
(``build_mixed_mailbox``, seeded, every kind), one with 40 phantoms of the kinds a set fetch can re-check
(their verdicts are ``empty`` or ``placeholder``: a ``refused`` or ``dropped`` one fails the whole command,
so those are re-checked one by one), one with the same 2,000 messages and no phantom. PhantomSafeIMAP,
``maxconnections = 1``, syncs all three side by side (three offlineimap processes at once):

1. First sync of each. Extra time per phantom, in round trips: (phantom - phantom-free) / 50 ms / 40. From
   the phantom emulator's command log: commands and new connections per phantom, by kind, beyond what a
   healthy message costs (``phantom_costs``).
2. Every record's ``last_seen`` is moved into the past (so ``phantom_retry_after`` has expired for all),
   then one more sync of each, five times over. Extra round trips of the re-check: the median of
   (phantoms - phantom-free) / 50 ms, and the extra commands of the first re-check counted in the logs.

Run: ``.venv/bin/python benchmarks/bench_slow_link.py [--quick]`` (about 4 minutes; quick: 400 messages).
"""

from __future__ import annotations

import argparse
import statistics
import sys
from collections import defaultdict
from concurrent.futures import ThreadPoolExecutor
from contextlib import ExitStack
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from common import ACTIVATION, Outcome, Run, finish, scratch, tail, timed_sync

from offlineimap_phantomfix.testing.harness import OfflineimapSetup, write_offlineimaprc
from offlineimap_phantomfix.testing.roundtrips import emulate_slow_link, make_records_due, phantom_costs
from offlineimap_phantomfix.testing.scenarios import build_mixed_mailbox
from offlineimap_phantomfix.testing.server import EmulatorServer, Fault

MESSAGES = 2_000
PHANTOMS = 40
QUICK_MESSAGES = 400
ROUND_TRIP = 0.05
# Targets (extra commands per new phantom beyond a healthy message's, new connections for a drop).
EXTRA_TARGETS = {"empty": 3, "placeholder": 3, "placeholder_peek": 3, "refused_no": 3, "refused_bad": 3,
                 "vanish": 3, "sequence_only": 4}
DROPPED_CONNECTIONS_TARGET = 2  # the one replacing the connection the server closed, and the ladder's one
RECHECK_TARGET = 3
RECHECKS = 5  # re-check syncs side by side; the time figures are medians (each makes every record due again)
SET_KINDS = (Fault.EMPTY, Fault.PLACEHOLDER, Fault.PLACEHOLDER_PEEK, Fault.SEQUENCE_WRONG)


def side_by_side(setups: dict[str, OfflineimapSetup]) -> dict[str, Run]:
    with ThreadPoolExecutor(len(setups)) as pool:
        futures = {name: pool.submit(timed_sync, setup) for name, setup in setups.items()}
        return {name: future.result() for name, future in futures.items()}


def healthy_baseline(server: EmulatorServer, start: int) -> int:
    """Commands a healthy message costs on this run: the median over every fetched message's window."""
    with server.lock:
        entries = server.log[start:]
    uids = {uid for entry in entries if entry.content for uid in entry.uids}
    costs = phantom_costs(entries, dict.fromkeys(uids))
    return int(statistics.median(cost.commands for cost in costs.values())) if costs else 0


def measure(quick: bool = False) -> Outcome:
    outcome = Outcome("slow_link")
    total = QUICK_MESSAGES if quick else MESSAGES
    with ExitStack() as stack:
        servers = {name: stack.enter_context(EmulatorServer()) for name in ("phantom", "set", "healthy")}
        faults = build_mixed_mailbox(servers["phantom"], total=total, phantoms=PHANTOMS)
        build_mixed_mailbox(servers["set"], total=total, phantoms=PHANTOMS, kinds=SET_KINDS)
        build_mixed_mailbox(servers["healthy"], total=total, phantoms=0)
        for server in servers.values():
            emulate_slow_link(server, round_trip=ROUND_TRIP)
        setups = {name: write_offlineimaprc(stack.enter_context(scratch(name)), port=servers[name].port,
                                            repo_type="PhantomSafeIMAP", maxconnections=1,
                                            pythonfile_lines=ACTIVATION) for name in servers}
        first = side_by_side(setups)
        marks = {name: len(server.commands()) for name, server in servers.items()}
        for name, run in first.items():
            if run.returncode != 0 or run.timed_out:
                outcome.broken.append(f"slow_link: first sync ({name}) exited {run.returncode}:\n{tail(run.output)}")
        if outcome.broken:
            return outcome
        baseline = healthy_baseline(servers["healthy"], 0)
        costs = phantom_costs(servers["phantom"].commands()[:marks["phantom"]], faults)
        rechecks: list[dict[str, Run]] = []
        for repeat in range(RECHECKS):
            recorded = make_records_due(setups["phantom"].metadata)
            make_records_due(setups["set"].metadata)
            rechecks.append(side_by_side(setups))
            for name, run in rechecks[-1].items():
                if run.returncode != 0 or run.timed_out:
                    outcome.broken.append(f"slow_link: re-check sync ({name}) exited {run.returncode}:\n"
                                          f"{tail(run.output)}")
            if repeat == 0:
                recheck_commands = {name: len(server.commands()) - marks[name] for name, server in servers.items()}
        for server in servers.values():
            server.raise_errors()

    by_kind: dict[str, list[tuple[int, int]]] = defaultdict(list)
    for uid, fault in faults.items():
        cost = costs.get(uid)
        if cost is not None:
            by_kind[fault.value].append((cost.commands - baseline, cost.new_connections))
    first_extra = (first["phantom"].seconds - first["healthy"].seconds) / ROUND_TRIP / PHANTOMS
    recheck_extra = {name: statistics.median((runs[name].seconds - runs["healthy"].seconds) / ROUND_TRIP
                                             for runs in rechecks) for name in ("phantom", "set")}
    second = {name: statistics.median(runs[name].seconds for runs in rechecks) for name in rechecks[0]}
    recheck_extra_commands = {name: recheck_commands[name] - recheck_commands["healthy"]
                              for name in ("phantom", "set")}
    outcome.payload.update({
        "messages": total, "phantoms": PHANTOMS, "round_trip_seconds": ROUND_TRIP, "maxconnections": 1,
        "records": recorded, "healthy_commands_per_message": baseline,
        "first_sync_seconds": {name: round(run.seconds, 2) for name, run in first.items()},
        "first_sync_extra_round_trips_per_phantom": round(first_extra, 2),
        "recheck_sync_seconds": {name: [round(runs[name].seconds, 2) for runs in rechecks] for name in second},
        "recheck_extra_round_trips": {name: round(value, 1) for name, value in recheck_extra.items()},
        "recheck_extra_commands": recheck_extra_commands,
        "per_kind": {kind: {"count": len(values), "extra_commands": statistics.median(v[0] for v in values),
                            "new_connections": statistics.median(v[1] for v in values)}
                     for kind, values in sorted(by_kind.items())},
    })
    outcome.info("mailbox (emulator, 50 ms per round trip and per connection)",
                 f"{total:,} msgs, {PHANTOMS} phantoms ({recorded} records)")
    outcome.info("first sync: mixed phantoms / phantom-free",
                 f"{first['phantom'].seconds:.1f} s / {first['healthy'].seconds:.1f} s")
    outcome.info("first sync: extra round trips per phantom (time)", f"{first_extra:.1f}")
    outcome.info("healthy message: commands (NOOP + fetch)", str(baseline))
    for kind, values in sorted(by_kind.items()):
        extra = statistics.median(v[0] for v in values)
        connections = statistics.median(v[1] for v in values)
        text = f"{extra:g} extra commands, {connections:g} new connections (median of {len(values)})"
        name = f"new phantom '{kind}'"
        if kind == Fault.DROPPED.value:
            outcome.target(name, text, f"<= {DROPPED_CONNECTIONS_TARGET} new connections",
                           connections <= DROPPED_CONNECTIONS_TARGET)
        elif kind in EXTRA_TARGETS:
            outcome.target(name, text, f"<= {EXTRA_TARGETS[kind]} extra", extra <= EXTRA_TARGETS[kind])
        else:
            outcome.info(name, text)
    outcome.info(f"re-check sync (median of {RECHECKS}): mixed / set kinds / phantom-free",
                 f"{second['phantom']:.1f} s / {second['set']:.1f} s / {second['healthy']:.1f} s")
    outcome.info("re-check of 40 due phantoms, mixed kinds: extra round trips (time) / commands (log)",
                 f"{recheck_extra['phantom']:.1f} / {recheck_extra_commands['phantom']}")
    # The time also holds local work (40 store writes): the round trips are the commands.
    outcome.info("re-check of 40 due phantoms, set kinds: extra round trips (time)", f"{recheck_extra['set']:.1f}")
    outcome.target("re-check of 40 due phantoms, set kinds: extra commands = round trips (log)",
                   str(recheck_extra_commands["set"]), f"<= {RECHECK_TARGET}",
                   recheck_extra_commands["set"] <= RECHECK_TARGET)
    return outcome


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--quick", action="store_true", help=f"{QUICK_MESSAGES} messages")
    args = parser.parse_args()
    return finish(measure(args.quick))


if __name__ == "__main__":
    raise SystemExit(main())
