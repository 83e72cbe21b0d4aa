"""``adopt`` (dry run) over a 100,000-message archive with 100 substitute notices (target < 20 s on 2 cores).

A synthetic archive (offlineimap's file names, status databases and saved UIDVALIDITYs, 10 folders) is
written to a scratch directory; the IMAP emulator on 127.0.0.1 answers the one LIST adopt sends. The command
runs as a user runs it, in a subprocess: ``offlineimap-phantomfix -c <config> adopt``. Three runs; the median
is the figure (the first run also shows a cold start of the Python imports).

Run: ``.venv/bin/python benchmarks/bench_adopt.py [--quick]``.
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from common import Outcome, finish, scratch, tail

from offlineimap_phantomfix.testing.archive import generate_archive
from offlineimap_phantomfix.testing.harness import offlineimap_env
from offlineimap_phantomfix.testing.server import EmulatorServer

MESSAGES = 100_000
NOTICES = 100
FOLDERS = [f"Folder{n}" for n in range(10)]
RUNS = 3
TARGET_SECONDS = 20.0


def measure(quick: bool = False) -> Outcome:
    messages, notices = (10_000, 10) if quick else (MESSAGES, NOTICES)
    outcome = Outcome("adopt")
    with scratch("adopt") as workdir, EmulatorServer() as server:
        for name in FOLDERS:
            server.add_folder(name)
        started = time.perf_counter()
        archive = generate_archive(workdir, port=server.port, folders=FOLDERS, messages=messages, notices=notices)
        generate_seconds = time.perf_counter() - started
        argv = [sys.executable, "-m", "offlineimap_phantomfix", "-c", str(archive.setup.config), "adopt"]
        times: list[float] = []
        for _ in range(RUNS):
            started = time.perf_counter()
            run = subprocess.run(argv, capture_output=True, text=True, env=offlineimap_env(archive.setup),
                                 timeout=600, check=False)
            times.append(time.perf_counter() - started)
            listed = sum(1 for line in run.stdout.splitlines() if line.startswith("notice: "))
            if run.returncode != 0 or listed != len(archive.notices):
                outcome.broken.append(f"adopt exited {run.returncode} listing {listed} of {len(archive.notices)} "
                                      f"notices:\n{tail(run.stdout + run.stderr)}")
                return outcome
    median = statistics.median(times)
    outcome.payload.update({
        "messages": archive.messages, "notices": len(archive.notices), "folders": len(FOLDERS),
        "generate_seconds": round(generate_seconds, 1), "seconds": [round(t, 2) for t in times],
        "median_seconds": round(median, 2), "per_message_us": round(median / archive.messages * 1e6, 1),
    })
    outcome.info("archive", f"{archive.messages:,} messages, {len(archive.notices)} notices, {len(FOLDERS)} folders")
    outcome.info("per message", f"{median / archive.messages * 1e6:.0f} us")
    outcome.target(f"adopt dry run (median of {RUNS})", f"{median:.1f} s", f"< {TARGET_SECONDS:.0f} s",
                   median < TARGET_SECONDS)
    return outcome


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="10,000 messages, 10 notices")
    return finish(measure(parser.parse_args().quick))


if __name__ == "__main__":
    raise SystemExit(main())
