"""Healthy full sync from a real (throw-away) Dovecot: PhantomSafeIMAP against stock ``type = IMAP``.

One Dovecot on 127.0.0.1 is populated once with 5,000 messages in INBOX. Every timed run starts from a fresh
local Maildir and fresh metadata, so each one is a complete first sync. Runs come in pairs (stock and
PhantomSafeIMAP back to back, alternating which goes first); the result is the median of the per-pair wall
time ratios, plus the median per-pair difference in peak RSS of the offlineimap process. ``maxconnections =
1`` for stability: one IMAP connection makes a run a single sequence of commands, so thread scheduling on a
2-core machine does not add noise. One untimed stock sync first warms Dovecot's index and cache files.

With ``--commands`` (not part of ``run.py``) it also syncs once more with each type under ``-d imap`` and
prints how many of each IMAP command the client sent: where the time goes when the ratio looks high.

Run: ``.venv/bin/python benchmarks/bench_healthy_sync.py [--quick] [--pairs N] [--commands]``.
"""

from __future__ import annotations

import argparse
import collections
import re
import statistics
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from common import ACTIVATION, Outcome, Run, count_messages, finish, median_ratio, scratch, tail, timed_sync

from offlineimap_phantomfix.testing.dovecot import DovecotServer, dovecot_available
from offlineimap_phantomfix.testing.harness import write_offlineimaprc
from offlineimap_phantomfix.testing.messages import make_message, make_multipart_message

MESSAGES = 5_000
QUICK_MESSAGES = 1_000
PAIRS = 9
QUICK_PAIRS = 3
TARGET_RATIO = 1.03
KINDS = ("IMAP", "PhantomSafeIMAP")


def mailbox(total: int) -> list[bytes]:
    """Plain messages, every 7th multipart (as the emulator scenarios do)."""
    return [make_multipart_message(n) if n % 7 == 0 else make_message(n) for n in range(1, total + 1)]


def flags_of(index: int) -> str:
    """A third unread (they land in new/), some flagged or answered."""
    return ("S" if index % 3 else "") + ("F" if index % 5 == 0 else "") + ("R" if index % 11 == 0 else "")


def one_sync(server: DovecotServer, kind: str, expected: int, outcome: Outcome) -> Run:
    """A full first sync into a fresh Maildir + metadata; anything short of a complete, clean sync is broken."""
    with scratch(kind) as workdir:
        plugin = kind == "PhantomSafeIMAP"
        setup = write_offlineimaprc(workdir, port=server.port, repo_type=kind, maxconnections=1,
                                    pythonfile_lines=ACTIVATION if plugin else None)
        run = timed_sync(setup)
        got = count_messages(setup.maildir)
        state = (setup.metadata / "phantomfix").is_dir()
    if run.returncode != 0 or run.timed_out:
        outcome.broken.append(f"healthy_sync: {kind} exited {run.returncode}:\n{tail(run.output)}")
    elif got != expected:
        outcome.broken.append(f"healthy_sync: {kind} synced {got} of {expected} messages:\n{tail(run.output)}")
    elif state != plugin:
        outcome.broken.append(f"healthy_sync: {kind}: PhantomSafeIMAP {'inactive' if plugin else 'active'}")
    return run


_SENT = re.compile(r"writer > b'[A-Z]+\d+ ((?:UID )?[A-Z]+)")


def command_counts(total: int) -> dict[str, collections.Counter[str]]:
    """One more full sync per type with ``-d imap``: how many of each IMAP command the client sent."""
    counts: dict[str, collections.Counter[str]] = {}
    server = DovecotServer()
    server.start()
    try:
        server.populate("INBOX", mailbox(total), flags=flags_of)
        for kind in KINDS:
            with scratch(kind) as workdir:
                setup = write_offlineimaprc(workdir, port=server.port, repo_type=kind, maxconnections=1,
                                            pythonfile_lines=ACTIVATION if kind == "PhantomSafeIMAP" else None)
                log = workdir / "imap.log"
                run = timed_sync(setup, "-d", "imap", "-l", str(log))
                if run.returncode != 0:
                    raise RuntimeError(f"{kind} exited {run.returncode}:\n{tail(run.output)}")
                with log.open(encoding="utf-8", errors="replace") as handle:
                    counts[kind] = collections.Counter(m.group(1) for line in handle if (m := _SENT.search(line)))
    finally:
        server.stop()
    return counts


def measure(quick: bool = False, pairs: int | None = None) -> Outcome:
    outcome = Outcome("healthy_sync")
    reason = dovecot_available()
    if reason is not None:
        outcome.broken.append(f"healthy_sync: no Dovecot: {reason}")
        return outcome
    total = QUICK_MESSAGES if quick else MESSAGES
    pairs = pairs or (QUICK_PAIRS if quick else PAIRS)
    server = DovecotServer()
    server.start()
    try:
        server.populate("INBOX", mailbox(total), flags=flags_of)
        one_sync(server, "IMAP", total, outcome)  # warm-up, untimed
        runs: list[dict[str, Run]] = []
        for index in range(pairs):
            if outcome.broken:
                return outcome
            order = KINDS if index % 2 == 0 else KINDS[::-1]
            pair = {kind: one_sync(server, kind, total, outcome) for kind in order}
            runs.append(pair)
            print(f"  healthy_sync pair {index + 1}/{pairs} ({order[0]} first): "
                  f"stock {pair['IMAP'].seconds:.2f}s, plugin {pair['PhantomSafeIMAP'].seconds:.2f}s",
                  file=sys.stderr)
    finally:
        server.stop()
    if outcome.broken:
        return outcome
    stock = [r["IMAP"] for r in runs]
    plugin = [r["PhantomSafeIMAP"] for r in runs]
    ratio = median_ratio([(p.seconds, s.seconds) for p, s in zip(plugin, stock)])
    cpu_ratio = median_ratio([(p.cpu_seconds, s.cpu_seconds) for p, s in zip(plugin, stock)])
    rss_delta = statistics.median(p.max_rss_kib - s.max_rss_kib for p, s in zip(plugin, stock))
    outcome.payload.update({
        "messages": total, "pairs": pairs, "quick": quick, "maxconnections": 1, "server": "dovecot",
        "stock_seconds": [round(r.seconds, 3) for r in stock],
        "plugin_seconds": [round(r.seconds, 3) for r in plugin],
        "stock_cpu_seconds": [round(r.cpu_seconds, 3) for r in stock],
        "plugin_cpu_seconds": [round(r.cpu_seconds, 3) for r in plugin],
        "stock_max_rss_kib": [r.max_rss_kib for r in stock],
        "plugin_max_rss_kib": [r.max_rss_kib for r in plugin],
        "wall_ratio_median": round(ratio, 4), "cpu_ratio_median": round(cpu_ratio, 4),
        "max_rss_delta_kib_median": rss_delta,
    })
    outcome.info("healthy full sync, messages (Dovecot, maxconnections=1)", f"{total:,}")
    outcome.info("stock IMAP wall time, median", f"{statistics.median(r.seconds for r in stock):.2f} s")
    outcome.info("PhantomSafeIMAP wall time, median", f"{statistics.median(r.seconds for r in plugin):.2f} s")
    outcome.target(f"wall time PhantomSafeIMAP / stock (median of {pairs} pairs)", f"{ratio:.3f}",
                   f"<= {TARGET_RATIO}", ratio <= TARGET_RATIO)
    outcome.info("CPU time of offlineimap, PhantomSafeIMAP / stock (median)", f"{cpu_ratio:.3f}")
    cpu_delta = statistics.median(p.cpu_seconds - s.cpu_seconds for p, s in zip(plugin, stock))
    outcome.payload["cpu_delta_seconds_median"] = round(cpu_delta, 3)
    outcome.info("CPU time PhantomSafeIMAP - stock (median of pairs)", f"{cpu_delta:+.2f} s")
    outcome.info("peak RSS, stock (median)", f"{statistics.median(r.max_rss_kib for r in stock) / 1024:.1f} MiB")
    outcome.info("peak RSS PhantomSafeIMAP - stock (median of pairs)", f"{rss_delta / 1024:+.1f} MiB")
    return outcome


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--quick", action="store_true", help=f"{QUICK_MESSAGES:,} messages, {QUICK_PAIRS} pairs")
    parser.add_argument("--pairs", type=int, default=None, help="number of stock/plugin pairs")
    parser.add_argument("--commands", action="store_true", help="also count the IMAP commands of each type")
    args = parser.parse_args()
    outcome = measure(args.quick, args.pairs)
    if args.commands and not outcome.broken:
        counts = command_counts(QUICK_MESSAGES if args.quick else MESSAGES)
        outcome.payload["imap_commands"] = {kind: dict(counter) for kind, counter in counts.items()}
        for name in sorted(set().union(*counts.values())):
            outcome.info(f"IMAP {name} commands sent, stock / PhantomSafeIMAP",
                         f"{counts['IMAP'][name]} / {counts['PhantomSafeIMAP'][name]}")
    return finish(outcome)


if __name__ == "__main__":
    raise SystemExit(main())
