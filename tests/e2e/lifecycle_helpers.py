"""Shared steps of the life-cycle end-to-end tests: the helper command in-process, the state paths."""

from __future__ import annotations

import contextlib
import io
from pathlib import Path

from offlineimap_phantomfix import cli
from offlineimap_phantomfix.testing.harness import OfflineimapSetup


def helper(setup: OfflineimapSetup, *argv: str) -> tuple[int, str, str]:
    """``offlineimap-phantomfix -c <config> *argv`` in this process: (status, stdout, stderr)."""
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        status = cli.main(["-c", str(setup.config), *argv])
    return status, out.getvalue(), err.getvalue()


def state(setup: OfflineimapSetup) -> Path:
    return setup.metadata / "phantomfix"
