"""Shared pieces of the benchmarks: timed offlineimap runs with their peak memory, results and JSON output."""

from __future__ import annotations

import json
import os
import statistics
import subprocess
import tempfile
import threading
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from offlineimap_phantomfix.testing.harness import ACTIVATION_LINES, OfflineimapSetup, offlineimap_command

ACTIVATION = list(ACTIVATION_LINES)
RESULTS = Path(__file__).resolve().parent / "results"
SOURCE_ROOT = Path(__file__).resolve().parents[1]
SYNC_TIMEOUT = 600.0  # seconds; a run that takes longer is killed and counts as broken


@dataclass
class Run:
    """One offlineimap run: wall time, the child's own peak RSS and CPU time (os.wait4), exit status."""

    seconds: float
    max_rss_kib: int
    returncode: int
    cpu_seconds: float = 0.0
    output: str = ""
    timed_out: bool = False


def timed_sync(setup: OfflineimapSetup, *extra: str, command: Sequence[str] | None = None,
               ui: str = "quiet", timeout: float = SYNC_TIMEOUT) -> Run:
    """Run offlineimap once with HOME=workdir; wall time and the child's own peak RSS (os.wait4, not the
    whole tree). stdout is discarded, stderr kept (``-u quiet`` prints errors only). Killed after
    ``timeout`` seconds."""
    argv = [*(command or offlineimap_command()), "-c", str(setup.config), "-o", "-u", ui, *extra]
    env = dict(os.environ, HOME=str(setup.workdir), LC_ALL="C.UTF-8")
    env.pop("XDG_CONFIG_HOME", None)
    # The pythonfile imports this copy of the package even if the installed one were elsewhere.
    paths = [p for p in env.get("PYTHONPATH", "").split(os.pathsep) if p and p != str(SOURCE_ROOT)]
    env["PYTHONPATH"] = os.pathsep.join([str(SOURCE_ROOT), *paths])
    started = time.perf_counter()
    process = subprocess.Popen(argv, env=env, cwd=str(setup.workdir), stdin=subprocess.DEVNULL,
                               stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    assert process.stderr is not None
    timer = threading.Timer(timeout, process.kill)
    timer.start()
    try:
        output = process.stderr.read().decode("utf-8", errors="replace")
        _, status, usage = os.wait4(process.pid, 0)
    finally:
        timer.cancel()
    seconds = time.perf_counter() - started
    process.returncode = os.waitstatus_to_exitcode(status)
    return Run(seconds, int(usage.ru_maxrss), process.returncode, usage.ru_utime + usage.ru_stime, output,
               timed_out=seconds >= timeout)


def median_ratio(pairs: Sequence[tuple[float, float]]) -> float:
    """Median of per-pair ratios (candidate / baseline): robust to a noisy machine."""
    return statistics.median(candidate / baseline for candidate, baseline in pairs)


def fast_temp_base() -> str | None:
    """``/dev/shm`` when writable (a tmpfs: local Maildir writes cost no disk I/O noise), else the default."""
    shm = "/dev/shm"
    return shm if os.path.isdir(shm) and os.access(shm, os.W_OK | os.X_OK) else None


@contextmanager
def scratch(prefix: str) -> Iterator[Path]:
    """A temporary directory on the fast temp base, removed afterwards."""
    with tempfile.TemporaryDirectory(prefix=f"bench-{prefix}-", dir=fast_temp_base()) as tmp:
        yield Path(tmp)


def count_messages(maildir: Path) -> int:
    """Message files in every cur/ and new/ below ``maildir``."""
    total = 0
    for directory, _subdirs, files in os.walk(maildir):
        if os.path.basename(directory) in ("cur", "new"):
            total += sum(1 for name in files if not name.startswith("."))
    return total


def tail(text: str, lines: int = 15) -> str:
    return "\n".join(text.strip().splitlines()[-lines:])


@dataclass
class Outcome:
    """What one benchmark measured: table rows, the JSON payload, and why the run is broken (if it is)."""

    name: str
    rows: list[tuple[str, str, str, str]] = field(default_factory=list)
    payload: dict[str, Any] = field(default_factory=dict)
    broken: list[str] = field(default_factory=list)

    def info(self, measure: str, value: str) -> None:
        self.rows.append((measure, value, "", ""))

    def target(self, measure: str, value: str, target: str, met: bool) -> None:
        self.rows.append((measure, value, target, "yes" if met else "MISSED"))
        self.payload.setdefault("targets", {})[measure] = {"value": value, "target": target, "met": met}

    @property
    def missed(self) -> list[str]:
        return [row[0] for row in self.rows if row[3] == "MISSED"]


def write_json(name: str, payload: dict[str, Any]) -> Path:
    RESULTS.mkdir(parents=True, exist_ok=True)
    target = RESULTS / f"{name}.json"
    target.write_text(json.dumps(payload, indent=2, sort_keys=True) + "\n", encoding="utf-8")
    return target


def table(rows: Sequence[tuple[str, str, str, str]]) -> str:
    header = ("measure", "value", "target", "ok")
    widths = [max(len(str(row[i])) for row in (header, *rows)) for i in range(4)]
    lines = ["  ".join(str(cell).ljust(widths[i]) for i, cell in enumerate(row)).rstrip() for row in (header, *rows)]
    lines.insert(1, "  ".join("-" * w for w in widths))
    return "\n".join(lines)


def finish(outcome: Outcome) -> int:
    """Standalone ending of a bench script: print the table, write the JSON; 1 only for a broken run."""
    print(table(outcome.rows))
    payload = dict(outcome.payload, broken=outcome.broken)
    print(f"json: {write_json(outcome.name, payload)}")
    for measure in outcome.missed:
        print(f"TARGET MISSED: {measure}")
    for reason in outcome.broken:
        print(f"BROKEN RUN: {reason}")
    return 1 if outcome.broken else 0
