"""Fixtures for the Dovecot tier: one throw-away Dovecot per session, emptied before each test.

When Dovecot is missing or does not start, the tier is skipped with the reason, except under ``CI=true``,
where the run fails with it instead (a CI job that silently skips its real-server tier proves nothing).
"""

from __future__ import annotations

import itertools
import os
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any, Protocol

import pytest

from offlineimap_phantomfix.testing.dovecot import DovecotError, DovecotServer, dovecot_available
from offlineimap_phantomfix.testing.harness import ACTIVATION_LINES, OfflineimapSetup, write_offlineimaprc

PHANTOMSAFE_HOOK = list(ACTIVATION_LINES)


def _unavailable(reason: str) -> None:
    message = f"Dovecot tier not runnable: {reason}"
    if os.environ.get("CI", "").strip().lower() == "true":
        pytest.fail(message, pytrace=False)
    pytest.skip(message)


@pytest.fixture(scope="session")
def dovecot() -> Iterator[DovecotServer]:
    """The session's Dovecot (started once). Use it through tests in this directory: an autouse fixture
    empties the user's mailboxes and restores the default options before each test."""
    reason = dovecot_available()
    if reason is not None:
        _unavailable(reason)
    started = time.monotonic()
    server: DovecotServer | None = None
    try:
        server = DovecotServer()
        server.start()
    except (DovecotError, OSError, subprocess.SubprocessError) as exc:
        if server is not None:
            server.stop()
        _unavailable(f"starting Dovecot failed: {exc}")
    assert server is not None
    print(f"\n[dovecot] {server} started in {time.monotonic() - started:.2f}s")
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture(autouse=True)
def _dovecot_clean(dovecot: DovecotServer) -> None:
    dovecot.reset()


class SetupFactory(Protocol):
    def __call__(self, name: str, **kwargs: Any) -> OfflineimapSetup: ...


@pytest.fixture
def offlineimap_for_dovecot(dovecot: DovecotServer, tmp_path: Path) -> SetupFactory:
    """``factory(name, phantomsafe=False, **write_offlineimaprc kwargs)``: an offlineimaprc in
    ``tmp_path/<name>`` for the Dovecot user; ``phantomsafe=True`` selects ``PhantomSafeIMAP`` through a
    ``pythonfile`` (stock offlineimap, no wrapper)."""
    counter = itertools.count(1)

    def factory(name: str, *, phantomsafe: bool = False, **kwargs: Any) -> OfflineimapSetup:
        kwargs.setdefault("port", dovecot.port)
        kwargs.setdefault("user", dovecot.user)
        kwargs.setdefault("password", dovecot.password)
        if phantomsafe:
            kwargs.setdefault("repo_type", "PhantomSafeIMAP")
            kwargs.setdefault("pythonfile_lines", PHANTOMSAFE_HOOK)
        return write_offlineimaprc(tmp_path / f"{next(counter):02d}-{name}", **kwargs)

    return factory
