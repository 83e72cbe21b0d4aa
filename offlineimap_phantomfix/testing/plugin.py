"""pytest plugin: an emulator started once per session and reset before each test.

Enable with ``pytest_plugins = ["offlineimap_phantomfix.testing.plugin"]`` in a conftest.py.

Fixtures:

- ``emulator_session``: the session-wide :class:`EmulatorServer` (started once, stopped at the end).
- ``emulator``: the same server, reset (empty INBOX, no log, no errors) before each test; after the test,
  any exception raised inside a connection handler is re-raised so the test fails.
- ``offlineimap_setup_factory``: ``factory(**kwargs) -> OfflineimapSetup`` writing an offlineimaprc in a
  fresh directory under ``tmp_path`` for the emulator's port (kwargs go to :func:`write_offlineimaprc`).
"""

from __future__ import annotations

import itertools
from collections.abc import Iterator
from pathlib import Path
from typing import Any, Protocol

import pytest

from .harness import OfflineimapSetup, write_offlineimaprc
from .server import EmulatorServer


class OfflineimapSetupFactory(Protocol):
    def __call__(self, **kwargs: Any) -> OfflineimapSetup: ...


@pytest.fixture(scope="session")
def emulator_session() -> Iterator[EmulatorServer]:
    server = EmulatorServer().start()
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture
def emulator(emulator_session: EmulatorServer) -> Iterator[EmulatorServer]:
    emulator_session.reset()
    yield emulator_session
    errors = list(emulator_session.errors)
    emulator_session.reset()
    if errors:
        raise errors[0]


@pytest.fixture
def offlineimap_setup_factory(emulator: EmulatorServer, tmp_path: Path) -> OfflineimapSetupFactory:
    counter = itertools.count(1)

    def factory(**kwargs: Any) -> OfflineimapSetup:
        kwargs.setdefault("port", emulator.port)
        kwargs.setdefault("user", emulator.user)
        kwargs.setdefault("password", emulator.password)
        workdir = tmp_path / f"offlineimap-{next(counter)}"
        return write_offlineimaprc(workdir, **kwargs)

    return factory
