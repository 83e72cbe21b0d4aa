"""Run every benchmark, print one table, write ``results/<name>.json`` and ``results/summary.json``.

Exit status: 0 when every run worked, even if a target was missed (missed targets are listed at the end);
1 when a run was broken (e.g. a PhantomSafeIMAP sync exited non-zero, or a benchmark raised).

Run: ``make bench``, or ``.venv/bin/python benchmarks/run.py [--quick] [--only NAME ...]``.
"""

from __future__ import annotations

import argparse
import importlib.metadata
import os
import platform
import subprocess
import sys
import time
import traceback
from collections.abc import Callable
from datetime import datetime, timezone
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import bench_adopt
import bench_healthy_sync
import bench_phantom_resync
import bench_slow_link
import bench_store
from common import Outcome, table, write_json

BENCHMARKS: dict[str, tuple[str, Callable[[bool], Outcome]]] = {
    "healthy_sync": ("(a)+(d) healthy full sync, Dovecot", bench_healthy_sync.measure),
    "phantom_resync": ("(b) second sync with phantoms, emulator", bench_phantom_resync.measure),
    "store": ("(c) phantom store, 100,000 entries", bench_store.measure),
    "adopt": ("(e) adopt dry run, 100,000-message archive", bench_adopt.measure),
    "slow_link": ("(f) phantoms on a 50 ms link, emulator", bench_slow_link.measure),
}


def machine() -> dict[str, str]:
    try:
        offlineimap = importlib.metadata.version("offlineimap")
    except importlib.metadata.PackageNotFoundError:
        offlineimap = "unknown"
    return {
        "cpus": str(os.cpu_count()), "platform": platform.platform(), "python": platform.python_version(),
        "offlineimap": offlineimap,
    }


def revision() -> str:
    """The git commit the code under test is at (``+changes`` when files outside benchmarks/ differ
    from it), if known."""
    root = Path(__file__).resolve().parents[1]
    try:
        head = subprocess.run(["git", "-C", str(root), "rev-parse", "--short", "HEAD"], capture_output=True,
                              text=True, timeout=10, check=True).stdout.strip()
        dirty = subprocess.run(["git", "-C", str(root), "status", "--porcelain", "--untracked-files=no",
                                "--", ".", ":!benchmarks"],
                               capture_output=True, text=True, timeout=10, check=True).stdout.strip()
    except (OSError, subprocess.SubprocessError):
        return "unknown"
    return head + ("+changes" if dirty else "")


def main() -> int:
    parser = argparse.ArgumentParser(description="Run the offlineimap-phantomfix benchmarks.")
    parser.add_argument("--quick", action="store_true", help="smaller mailboxes and fewer pairs (a smoke run)")
    parser.add_argument("--only", nargs="+", choices=list(BENCHMARKS), help="run only these benchmarks")
    args = parser.parse_args()
    started = time.perf_counter()
    outcomes: list[tuple[str, Outcome, float]] = []
    for name in args.only or list(BENCHMARKS):
        title, measure = BENCHMARKS[name]
        print(f"running {name}: {title} ...", file=sys.stderr, flush=True)
        began = time.perf_counter()
        try:
            outcome = measure(args.quick)
        except Exception:
            outcome = Outcome(name, broken=[f"{name} raised:\n{traceback.format_exc()}"])
        seconds = time.perf_counter() - began
        print(f"  {name} took {seconds:.0f} s", file=sys.stderr, flush=True)
        write_json(name, dict(outcome.payload, broken=outcome.broken, seconds=round(seconds, 1)))
        outcomes.append((title, outcome, seconds))
    total = time.perf_counter() - started

    rows: list[tuple[str, str, str, str]] = []
    for title, outcome, seconds in outcomes:
        rows.append((f"== {title} ({seconds:.0f} s)", "", "", ""))
        rows += outcome.rows or [("(no result: broken run)", "", "", "")]
    print()
    print(table(rows))
    missed = [f"{o.name}: {m}" for _, o, _ in outcomes for m in o.missed]
    broken = [reason for _, o, _ in outcomes for reason in o.broken]
    summary = {
        "date": datetime.now(timezone.utc).isoformat(timespec="seconds"), "quick": args.quick,
        "command": " ".join([Path(sys.executable).name, *sys.argv]), "machine": machine(),
        "revision": revision(),
        "total_seconds": round(total, 1), "missed_targets": missed, "broken": broken,
        "benchmarks": {o.name: dict(o.payload, seconds=round(s, 1)) for _, o, s in outcomes},
    }
    print(f"\nrevision {summary['revision']}; total {total:.0f} s{' (quick run)' if args.quick else ''}; "
          f"json: {write_json('summary', summary)}")
    for item in missed:
        print(f"TARGET MISSED: {item}")
    for reason in broken:
        print(f"BROKEN RUN: {reason}")
    if not missed and not broken:
        print("every target met")
    return 1 if broken else 0


if __name__ == "__main__":
    raise SystemExit(main())
