"""Shared pieces of the benchmarks: timed offlineimap runs with their peak memory, and JSON output."""

from __future__ import annotations

import json
import os
import statistics
import subprocess
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from offlineimap_phantomfix.testing.harness import OfflineimapSetup, offlineimap_command

ACTIVATION = ["import offlineimap_phantomfix", "offlineimap_phantomfix.install()"]
RESULTS = Path(__file__).resolve().parent / "results"


@dataclass
class Run:
    seconds: float
    max_rss_kib: int
    returncode: int


def timed_sync(setup: OfflineimapSetup, *extra: str, command: Sequence[str] | None = None) -> Run:
    """Run offlineimap once; wall time and the child's own peak RSS (os.wait4, not the whole tree)."""
    argv = [*(command or offlineimap_command()), "-c", str(setup.config), "-o", "-u", "quiet", *extra]
    env = dict(os.environ, HOME=str(setup.workdir))
    started = time.perf_counter()
    process = subprocess.Popen(argv, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    assert process.stderr is not None
    process.stderr.read()
    _, status, usage = os.wait4(process.pid, 0)
    seconds = time.perf_counter() - started
    process.returncode = os.waitstatus_to_exitcode(status)
    return Run(seconds, int(usage.ru_maxrss), process.returncode)


def median_ratio(pairs: Sequence[tuple[float, float]]) -> float:
    """Median of per-pair ratios (candidate / baseline): robust to a noisy machine."""
    return statistics.median(candidate / baseline for candidate, baseline in pairs)


def write_json(name: str, payload: dict[str, Any]) -> Path:
    RESULTS.mkdir(parents=True, exist_ok=True)
    target = RESULTS / f"{name}.json"
    target.write_text(json.dumps(payload, indent=2, sort_keys=True) + "\n", encoding="utf-8")
    return target


def table(rows: Sequence[tuple[str, str, str, str]]) -> str:
    header = ("measure", "value", "target", "ok")
    widths = [max(len(str(row[i])) for row in (header, *rows)) for i in range(4)]
    lines = ["  ".join(str(cell).ljust(widths[i]) for i, cell in enumerate(row)) for row in (header, *rows)]
    lines.insert(1, "  ".join("-" * w for w in widths))
    return "\n".join(lines)
